//! The server's background jobs (the orphan sweep, the summaries' fold):
//! each runs on a timer until shutdown. Every server behind the balancer
//! runs the same timers; [`spawn_singleton`] makes one of them do the work
//! of a tick, whichever gets the job's lock first.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Runs `job` every `every` (the first time at once) until `stop` turns
/// true. A run that is late delays the next rather than bunching them; a
/// failing run is the job's to log, and the next one still comes.
pub fn spawn_every<F, Fut>(
    every: Duration,
    mut stop: watch::Receiver<bool>,
    mut job: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => job().await,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
            }
        }
    })
}

/// As [`spawn_every`], but a tick does the work only on the server that
/// gets the job's PostgreSQL advisory lock (`pg_try_advisory_lock` on a
/// connection of its own, released when the work is done — or by
/// PostgreSQL when that server dies); the others skip that tick. No leader
/// to elect or hand over: any server may run the next one. Each tick is
/// counted in `sentra_background_job_runs{job, outcome}`.
pub fn spawn_singleton<F, Fut>(
    job_name: &'static str,
    pool: sqlx::PgPool,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    every: Duration,
    stop: watch::Receiver<bool>,
    mut job: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    spawn_every(every, stop, move || {
        let pool = pool.clone();
        let metrics = metrics.clone();
        let work = job();
        async move {
            let outcome = match run_locked(job_name, &pool, work).await {
                Ok(true) => "ran",
                Ok(false) => "skipped",
                Err(e) => {
                    tracing::warn!(job = job_name, error = %e, "background job: no lock");
                    "skipped"
                }
            };
            metrics
                .job_runs
                .get_or_create(&crate::metrics::JobLabel {
                    job: job_name.to_owned(),
                    outcome: outcome.to_owned(),
                })
                .inc();
        }
    })
}

/// The advisory lock key of a job: a hash of its name, in the same space
/// an operator can take by hand (`SELECT pg_advisory_lock(hashtextextended('sentra.job.NAME', 0))`).
pub fn job_lock_key(job_name: &str) -> String {
    format!("sentra.job.{job_name}")
}

/// Runs `work` if this server takes the job's lock; `Ok(false)` if another
/// holds it.
async fn run_locked(
    job_name: &str,
    pool: &sqlx::PgPool,
    work: impl Future<Output = ()>,
) -> Result<bool, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let key = job_lock_key(job_name);
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
        .bind(&key)
        .fetch_one(&mut *conn)
        .await?;
    if !got {
        return Ok(false);
    }
    work.await;
    let released =
        sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
            .bind(&key)
            .fetch_one(&mut *conn)
            .await;
    if !matches!(released, Ok(true)) {
        // Never hand back a connection that may still hold the lock.
        let _ = conn.detach();
    }
    Ok(true)
}
