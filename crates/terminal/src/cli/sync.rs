//! `enroll`, `set-relay`, `sync` and `status`.
//!
//! `sync` exits 0 when every entry is held by the cloud, 3 when some are
//! held only by the relay (none only here), 4 when some are still only on
//! this terminal, 1 on errors (not enrolled, database trouble).

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use sentra_terminal::Terminal;
use sentra_terminal::sync::{
    EntryStates, LoopEvent, LoopOptions, RoundOptions, RoundReport, SyncLoop, SyncStatus,
};

use super::output::Out;

macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)?
    };
}

#[derive(Subcommand)]
pub enum SyncCommand {
    /// Enroll this terminal with the cloud using a one-time code.
    Enroll {
        /// The cloud sync server, e.g. https://sync.example.com.
        #[arg(long)]
        server: String,
        /// The code printed by `sentra-sync enroll-code --branch BRANCH`.
        #[arg(long)]
        code: String,
        /// The branch relay to sync through, e.g. http://10.0.0.5:8181.
        #[arg(long)]
        relay: Option<String>,
        /// The name head office sees (default: the device name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Set or change the branch relay, or `--none` to sync straight to the cloud.
    SetRelay {
        #[arg(required_unless_present = "none", conflicts_with = "none")]
        url: Option<String>,
        #[arg(long)]
        none: bool,
    },
    /// One sync round (push, then pull). Exit 0: all entries in the cloud;
    /// 3: some only on the relay; 4: some only on this terminal.
    Sync(SyncArgs),
    /// Delivery state of the journal, upstreams and the last sync.
    Status,
}

#[derive(Args)]
pub struct SyncArgs {
    /// How long the relay may wait for the cloud to take our entries.
    #[arg(long, default_value_t = 3000)]
    wait_ms: u64,
    /// Entries per push request.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Push straight to the cloud too when the relay holds our entries but
    /// the cloud's ack has not moved for this long.
    #[arg(long, default_value_t = sentra_terminal::sync::DEFAULT_RELAY_STALL_MS)]
    relay_stall_ms: u64,
    /// Keep syncing on a timer until SIGINT/SIGTERM.
    #[arg(long)]
    watch: bool,
    /// With --watch: between successful rounds.
    #[arg(long, default_value_t = 30_000)]
    interval_ms: u64,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The exit status for a journal in these states.
fn exit_for(entries: &EntryStates) -> ExitCode {
    if entries.local > 0 {
        ExitCode::from(4)
    } else if entries.relay_only > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn run(command: &SyncCommand, data_dir: &Path, out: &Out) -> Result<ExitCode> {
    match command {
        SyncCommand::Enroll {
            server,
            code,
            relay,
            name,
        } => {
            let mut t = Terminal::open(data_dir)?;
            let report =
                runtime()?.block_on(t.enroll(server, code, relay.as_deref(), name.as_deref()))?;
            if out.json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                outln!(
                    "enrolled device {} in branch {} with {}",
                    report.device_id,
                    report.branch,
                    report.server_url
                );
                if let Some(relay) = &report.relay_url {
                    outln!("syncing through the relay {relay}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SyncCommand::SetRelay { url, none } => {
            let mut t = Terminal::open(data_dir)?;
            let url = if *none { None } else { url.as_deref() };
            let relay = t.set_relay(url)?;
            if out.json {
                outln!("{}", serde_json::json!({ "relay_url": relay }));
            } else {
                match relay {
                    Some(r) => outln!("relay set to {r}"),
                    None => outln!("no relay: syncing straight to the cloud"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SyncCommand::Sync(args) => {
            let options = RoundOptions {
                push_batch: args.batch,
                head_wait_ms: args.wait_ms,
                relay_stall_ms: args.relay_stall_ms,
                ..RoundOptions::default()
            };
            if args.watch {
                return watch(data_dir, options, args.interval_ms, out);
            }
            let mut t = Terminal::open(data_dir)?;
            let report = runtime()?.block_on(t.sync_round(&options))?;
            print_report(out, &report, true)?;
            Ok(exit_for(&report.entries))
        }
        SyncCommand::Status => {
            let status = Terminal::open(data_dir)?.sync_status()?;
            print_status(out, &status)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn watch(data_dir: &Path, round: RoundOptions, interval_ms: u64, out: &Out) -> Result<ExitCode> {
    let dir = data_dir.to_owned();
    let json = out.json;
    let options = LoopOptions {
        round,
        interval: Duration::from_millis(interval_ms.max(100)),
        ..LoopOptions::default()
    };
    let handle = SyncLoop::spawn(
        move || Terminal::open(&dir),
        options,
        move |event| {
            let printed = match &event {
                LoopEvent::Round { report, .. } => print_report(&Out { json }, report, false),
                LoopEvent::Failed { error, next_in } => {
                    eprintln!(
                        "sync failed: {error}; retrying in {} ms",
                        next_in.as_millis()
                    );
                    Ok(())
                }
            };
            if let Err(e) = printed {
                eprintln!("cannot print the sync report: {e}");
            }
        },
    )
    .context("cannot start the sync loop")?;
    runtime()?.block_on(shutdown_signal());
    handle.stop();
    let status = Terminal::open(data_dir)?.sync_status()?;
    Ok(exit_for(&status.entries))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn time(ms: Option<u64>) -> String {
    ms.and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
        .map_or_else(|| "never".to_owned(), |t| t.to_rfc3339())
}

fn print_report(out: &Out, r: &RoundReport, pretty: bool) -> Result<()> {
    if out.json {
        let text = if pretty {
            serde_json::to_string_pretty(r)?
        } else {
            serde_json::to_string(r)?
        };
        outln!("{text}");
        return Ok(());
    }
    let via = r.upstream.map_or("no upstream", |u| u.as_str());
    outln!(
        "sync {} via {via}: {} entries stored upstream ({} already held), {} changes pulled",
        r.outcome.code(),
        r.stored,
        r.duplicates,
        r.pulled
    );
    if let Some(m) = &r.message {
        outln!("  {m}");
    }
    if let Some(e) = &r.relay_error
        && r.message.as_deref() != Some(e.as_str())
    {
        outln!("  {e}");
    }
    if let Some(m) = &r.master_data_refused {
        outln!("  ALERT master data refused, old values kept: {m}");
    }
    for c in &r.conflicts {
        outln!("  conflict raised: {} (seq {})", c.kind, c.seq);
    }
    for x in &r.refused {
        outln!(
            "  refused by {}: seq {} {}: {}",
            x.upstream.as_str(),
            x.seq,
            x.reason,
            x.detail
        );
    }
    print_states(&r.entries, r.tip_seq)?;
    Ok(())
}

fn print_states(e: &EntryStates, tip: u64) -> Result<()> {
    outln!(
        "  entries: {} in the cloud, {} on the relay only, {} only here (tip seq {tip})",
        e.cloud,
        e.relay_only,
        e.local
    );
    Ok(())
}

fn print_status(out: &Out, s: &SyncStatus) -> Result<()> {
    if out.json {
        outln!("{}", serde_json::to_string_pretty(s)?);
        return Ok(());
    }
    if s.enrolled {
        outln!(
            "enrolled     yes, device {} in branch {}",
            s.device_id,
            s.branch
        );
    } else {
        outln!("enrolled     no (run `sentra-term enroll --server URL --code CODE`)");
    }
    outln!("cloud        {}", s.server_url.as_deref().unwrap_or("-"));
    outln!("relay        {}", s.relay_url.as_deref().unwrap_or("none"));
    outln!(
        "acks         relay {}, cloud {} (tip seq {})",
        s.relay_acked_seq,
        s.cloud_acked_seq,
        s.tip_seq
    );
    print_states(&s.entries, s.tip_seq)?;
    match (&s.last_round_ms, &s.last_outcome) {
        (Some(at), Some(outcome)) => outln!("last sync    {} ({outcome})", time(Some(*at))),
        _ => outln!("last sync    never"),
    }
    outln!(
        "last success {}{}",
        time(s.last_success_ms),
        s.last_upstream
            .as_deref()
            .map(|u| format!(" via {u}"))
            .unwrap_or_default()
    );
    if let Some(p) = &s.relay_parked {
        outln!("relay parked this terminal (the cloud refuses it): {p}");
    }
    if let Some(a) = &s.master_data_alert {
        outln!(
            "ALERT        master data from the {} refused at {}, old values kept: {}",
            a.upstream,
            time(Some(a.at_ms)),
            a.message
        );
    }
    if let Some(e) = &s.last_error {
        outln!(
            "last error   {} at {}: {}",
            e.kind,
            time(Some(e.at_ms)),
            e.message
        );
    }
    for r in &s.refusals {
        outln!(
            "refused      by {}: seq {} {}: {}",
            r.upstream,
            r.seq,
            r.reason,
            r.detail
        );
    }
    Ok(())
}
