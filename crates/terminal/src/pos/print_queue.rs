//! The print queue: every receipt and report goes into the encrypted store
//! first and is sent to the printer from a background thread. A job is
//! marked printed only after the printer took every byte; a printer that is
//! off or out of paper leaves the job pending, retried on its own and by the
//! cashier, and never holds up a sale.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::Terminal;
use crate::error::Result;

/// One document for the printer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PrintJob {
    #[ts(type = "number")]
    pub job_id: i64,
    /// Receipt number or report name.
    pub document: String,
    /// `receipt`, `reprint`, `refund`, `report`.
    pub kind: String,
    /// `pending` or `printed`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    #[ts(type = "number")]
    pub created_at_ms: i64,
    #[ts(type = "number | null")]
    pub printed_at_ms: Option<i64>,
}

pub fn enqueue(
    conn: &Connection,
    document: &str,
    kind: &str,
    bytes: &[u8],
    now_ms: i64,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO print_jobs (document, kind, bytes, status, created_at_ms)
         VALUES (?1, ?2, ?3, 'pending', ?4)",
        params![document, kind, bytes, now_ms],
    )?;
    Ok(conn.last_insert_rowid())
}

const JOB_COLUMNS: &str =
    "job_id, document, kind, status, attempts, last_error, created_at_ms, printed_at_ms";

fn job_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<PrintJob> {
    Ok(PrintJob {
        job_id: r.get(0)?,
        document: r.get(1)?,
        kind: r.get(2)?,
        status: r.get(3)?,
        attempts: r.get(4)?,
        last_error: r.get(5)?,
        created_at_ms: r.get(6)?,
        printed_at_ms: r.get(7)?,
    })
}

/// Pending jobs, oldest first, then the last few printed ones.
pub fn list(conn: &Connection, printed_limit: u32) -> Result<Vec<PrintJob>> {
    let mut out: Vec<PrintJob> = {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM print_jobs WHERE status = 'pending' ORDER BY job_id"
        ))?;
        stmt.query_map([], job_of)?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM print_jobs WHERE status = 'printed'
         ORDER BY job_id DESC LIMIT ?1"
    ))?;
    let printed = stmt.query_map([printed_limit], job_of)?;
    for job in printed {
        out.push(job?);
    }
    Ok(out)
}

pub fn pending_count(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row(
        "SELECT count(*) FROM print_jobs WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )?)
}

/// The oldest pending job and its bytes.
fn next_pending(conn: &Connection) -> Result<Option<(i64, Vec<u8>)>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT job_id, bytes FROM print_jobs WHERE status = 'pending' ORDER BY job_id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

fn mark_printed(conn: &Connection, job_id: i64, now_ms: i64) -> Result<()> {
    conn.execute(
        "UPDATE print_jobs SET status = 'printed', attempts = attempts + 1, last_error = NULL,
                printed_at_ms = ?2 WHERE job_id = ?1",
        params![job_id, now_ms],
    )?;
    Ok(())
}

fn mark_failed(conn: &Connection, job_id: i64, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE print_jobs SET attempts = attempts + 1, last_error = ?2 WHERE job_id = ?1",
        params![job_id, error],
    )?;
    Ok(())
}

/// What the print thread reports after each attempt.
#[derive(Clone, Debug)]
pub enum PrintEvent {
    Printed { job_id: i64 },
    Failed { job_id: i64, error: String },
}

/// The background printer thread. Dropping it stops it.
pub struct PrintWorker {
    wake: mpsc::Sender<()>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// First wait after a failed attempt; doubles up to `RETRY_CAP`.
const RETRY_BASE: Duration = Duration::from_secs(2);
const RETRY_CAP: Duration = Duration::from_secs(30);
/// How long the printer gets to accept a document.
const SEND_TIMEOUT: Duration = Duration::from_secs(3);

impl PrintWorker {
    /// Start the thread. It opens its own connection with `open` and reads
    /// the printer address from the settings before every attempt (so a
    /// changed setting takes effect at once); `on_event` is called on the
    /// thread after every attempt.
    pub fn spawn<O, F>(mut open: O, mut on_event: F) -> std::io::Result<PrintWorker>
    where
        O: FnMut() -> Result<Terminal> + Send + 'static,
        F: FnMut(PrintEvent) + Send + 'static,
    {
        let (wake, woken) = mpsc::channel::<()>();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sentra-print".into())
            .spawn(move || {
                let mut terminal: Option<Terminal> = None;
                let mut wait = RETRY_BASE;
                loop {
                    if stopping.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut failed = false;
                    if terminal.is_none() {
                        terminal = open().ok();
                    }
                    let printer = terminal
                        .as_ref()
                        .and_then(|t| super::settings::load(t.connection()).ok())
                        .and_then(|s| s.printer);
                    if let (Some(t), Some(addr)) = (terminal.as_ref(), printer) {
                        // Oldest first: a receipt never overtakes an older one.
                        while let Ok(Some((job_id, bytes))) = next_pending(t.connection()) {
                            if stopping.load(Ordering::Relaxed) {
                                return;
                            }
                            match sentra_printer::send(&addr, &bytes, SEND_TIMEOUT) {
                                Ok(()) => {
                                    let now = chrono::Utc::now().timestamp_millis();
                                    if mark_printed(t.connection(), job_id, now).is_err() {
                                        failed = true;
                                        break;
                                    }
                                    on_event(PrintEvent::Printed { job_id });
                                }
                                Err(e) => {
                                    let error = e.to_string();
                                    let _ = mark_failed(t.connection(), job_id, &error);
                                    on_event(PrintEvent::Failed { job_id, error });
                                    failed = true;
                                    break;
                                }
                            }
                        }
                    }
                    let timeout = if failed {
                        let w = wait;
                        wait = (wait * 2).min(RETRY_CAP);
                        w
                    } else {
                        wait = RETRY_BASE;
                        RETRY_CAP
                    };
                    match woken.recv_timeout(timeout) {
                        Ok(()) => {
                            wait = RETRY_BASE;
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })?;
        Ok(PrintWorker {
            wake,
            stop,
            thread: Some(thread),
        })
    }

    /// Try the queue now (after a new job, or the cashier's "retry").
    pub fn kick(&self) {
        let _ = self.wake.send(());
    }
}

impl Drop for PrintWorker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.wake.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
