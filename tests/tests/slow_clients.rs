//! Slow and idle clients cannot exhaust the cloud or the relay: with 1,000
//! connections held open and silent, a real terminal's push still completes
//! at once, and the server closes the idle ones itself (header read
//! timeout). Build the binaries first: `cargo build --workspace --bins`.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use sentra_e2e::{Cloud, Relay, Till};

const IDLE: usize = 1000;
/// The servers' header read timeout in these tests.
const HEADER_TIMEOUT_SECS: u64 = 2;

/// `IDLE` connections that send nothing.
fn hold_idle(addr: SocketAddr) -> Result<Vec<TcpStream>> {
    (0..IDLE)
        .map(|i| {
            TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .with_context(|| format!("idle connection {i}"))
        })
        .collect()
}

/// Every idle connection was closed by the server (EOF or reset) within
/// `limit`.
fn all_closed_by_server(conns: Vec<TcpStream>, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    for (i, mut c) in conns.into_iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        c.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        let mut buf = [0u8; 64];
        match c.read(&mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => anyhow::bail!("idle connection {i} still open after {limit:?}: {e}"),
        }
    }
    Ok(())
}

/// A keep-alive connection that made one request and then went quiet.
fn quiet_after_one_request(addr: SocketAddr) -> Result<TcpStream> {
    use std::io::Write;
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    c.write_all(format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    c.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = [0u8; 12];
    c.read_exact(&mut head)?;
    ensure!(
        head.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    let mut rest = [0u8; 4096];
    // The rest of the answer (one read is enough on loopback).
    let _ = c.read(&mut rest)?;
    Ok(c)
}

fn timed_sync(till: &Till) -> Result<Duration> {
    let started = Instant::now();
    let (code, report, run) = till.sync()?;
    let took = started.elapsed();
    ensure!(code == Some(0), "sync did not finish: {run:?} {report:?}");
    Ok(took)
}

#[test]
fn a_thousand_idle_connections_neither_block_a_push_nor_stay_open() -> Result<()> {
    let timeout = HEADER_TIMEOUT_SECS.to_string();
    let limits = ["--header-read-timeout-secs", timeout.as_str()];
    let cloud = Cloud::start_with(&limits)?;
    cloud.branch_create("JKT01")?;
    cloud.catalog_import(&sentra_e2e::catalog_csv(), None)?;
    let mut relay_args = vec!["--refresh-secs", "1"];
    relay_args.extend_from_slice(&limits);
    let relay = Relay::start_with(
        &cloud.url(),
        Some(&cloud.enroll_code("JKT01", "relay")?),
        &relay_args,
    )?;
    let till = Till::ready("JKT01", "T01")?;
    till.enroll(&cloud.url(), &cloud.enroll_code("JKT01", "terminal")?, None)?;
    till.sell(&["AQUA600"], &["cash:4000"])?;
    timed_sync(&till)?; // warm: enrolled, catalog pulled

    // The cloud, straight.
    let mut idle = hold_idle(cloud.server.addr)?;
    idle.push(quiet_after_one_request(cloud.server.addr)?);
    till.sell(&["TEH-BTL"], &["cash:6000"])?;
    let took = timed_sync(&till)?;
    println!("push to the cloud with {IDLE} idle connections open: {took:?}");
    ensure!(took < Duration::from_secs(1), "push took {took:?}");
    all_closed_by_server(idle, Duration::from_secs(HEADER_TIMEOUT_SECS * 5))?;

    // The relay, the same way.
    till.ok(&["set-relay", &relay.url()])?;
    timed_sync(&till)?;
    let mut idle = hold_idle(relay.server.addr)?;
    idle.push(quiet_after_one_request(relay.server.addr)?);
    till.sell(&["AQUA600"], &["cash:4000"])?;
    let took = timed_sync(&till)?;
    println!("push through the relay with {IDLE} idle connections open: {took:?}");
    ensure!(took < Duration::from_secs(1), "push took {took:?}");
    all_closed_by_server(idle, Duration::from_secs(HEADER_TIMEOUT_SECS * 5))?;
    ensure!(cloud.count("SELECT count(*) FROM sales")? == 3);
    Ok(())
}
