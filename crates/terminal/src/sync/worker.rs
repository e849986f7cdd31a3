//! The background sync loop for a long-running host (the desktop app, or
//! `sentra-term sync --watch`): a round on a timer, a round on request
//! (after a sale), exponential backoff with full jitter after failures, and
//! a report of every round to the host.
//!
//! The loop runs on its own thread with its own `Terminal` connection (WAL
//! lets it read and write while the till sells on another connection) and a
//! single-threaded async runtime; a `Terminal` never crosses threads.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::backoff::Backoff;
use super::round::{RoundOptions, RoundReport};
use crate::Terminal;
use crate::error::Result;

/// Knobs of the loop.
#[derive(Clone, Debug)]
pub struct LoopOptions {
    pub round: RoundOptions,
    /// Between rounds that went well.
    pub interval: Duration,
    /// First wait after a failure; doubles per failure in a row, up to `cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl Default for LoopOptions {
    fn default() -> Self {
        LoopOptions {
            round: RoundOptions::default(),
            interval: Duration::from_secs(30),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
        }
    }
}

/// What the loop reports after each round.
#[derive(Clone, Debug)]
pub enum LoopEvent {
    /// A round ran (whatever its outcome); `next_in` is the wait before the
    /// next one.
    Round {
        report: Box<RoundReport>,
        next_in: Duration,
    },
    /// The round could not run (database trouble, not enrolled); the loop
    /// keeps trying after `next_in`.
    Failed { error: String, next_in: Duration },
}

/// A running loop. Dropping it stops it.
pub struct SyncLoop {
    stop: watch::Sender<bool>,
    now: Arc<Notify>,
    thread: Option<JoinHandle<()>>,
}

impl SyncLoop {
    /// Start the loop. `open` opens the loop's own connection (called again
    /// after a failure, so a transient open error is retried too);
    /// `on_event` is called on the loop's thread after every round.
    pub fn spawn<O, F>(open: O, options: LoopOptions, on_event: F) -> std::io::Result<SyncLoop>
    where
        O: FnMut() -> Result<Terminal> + Send + 'static,
        F: FnMut(LoopEvent) + Send + 'static,
    {
        let (stop, stop_rx) = watch::channel(false);
        let now = Arc::new(Notify::new());
        let now_rx = now.clone();
        let thread = std::thread::Builder::new()
            .name("sentra-sync".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let mut on_event = on_event;
                        on_event(LoopEvent::Failed {
                            error: format!("cannot start the sync runtime: {e}"),
                            next_in: Duration::ZERO,
                        });
                        return;
                    }
                };
                rt.block_on(run(open, options, on_event, stop_rx, now_rx));
            })?;
        Ok(SyncLoop {
            stop,
            now,
            thread: Some(thread),
        })
    }

    /// Run a round as soon as the current wait allows (e.g. after a sale).
    pub fn sync_now(&self) {
        self.now.notify_one();
    }

    /// Stop: a round in flight is abandoned at its next network wait (the
    /// database is consistent between any two awaits), then the thread ends.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SyncLoop {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn run<O, F>(
    mut open: O,
    options: LoopOptions,
    mut on_event: F,
    mut stop: watch::Receiver<bool>,
    now: Arc<Notify>,
) where
    O: FnMut() -> Result<Terminal>,
    F: FnMut(LoopEvent),
{
    let mut backoff = Backoff::new(options.backoff_base, options.backoff_cap);
    let mut terminal: Option<Terminal> = None;
    loop {
        let result = match terminal.as_mut() {
            Some(t) => Ok(t),
            None => open().map(|t| terminal.insert(t)),
        };
        let outcome = match result {
            Ok(t) => {
                tokio::select! {
                    r = t.sync_round(&options.round) => r,
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
            Err(e) => Err(e),
        };
        let event = match outcome {
            Ok(report) => {
                let next_in = if report.outcome.delivered() {
                    backoff.reset();
                    options.interval
                } else {
                    let drawn = backoff.next_delay();
                    match report.retry_after_ms {
                        Some(ms) => {
                            drawn.max(super::backoff::after_retry_after(Duration::from_millis(ms)))
                        }
                        None => drawn,
                    }
                };
                LoopEvent::Round {
                    report: Box::new(report),
                    next_in,
                }
            }
            Err(e) => {
                // A fresh connection next time, in case this one is broken.
                terminal = None;
                LoopEvent::Failed {
                    error: e.to_string(),
                    next_in: backoff.next_delay(),
                }
            }
        };
        let wait = match &event {
            LoopEvent::Round { next_in, .. } | LoopEvent::Failed { next_in, .. } => *next_in,
        };
        on_event(event);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = now.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
