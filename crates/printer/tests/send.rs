//! The TCP edge against real sockets on loopback: port 0, no sleeps.

use std::io::Read;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sentra_printer::{PrintError, TextDoc, Width, decode, encode_text, send};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn delivers_exactly_the_bytes() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    let (tx, rx) = mpsc::channel();
    let printer = thread::spawn(move || -> std::io::Result<()> {
        let (mut conn, _) = listener.accept()?;
        let mut got = Vec::new();
        // Ends because `send` shuts down its side.
        conn.read_to_end(&mut got)?;
        let _ = tx.send(got);
        Ok(())
    });

    let doc = TextDoc {
        lines: vec!["X REPORT".into(), "TOTAL  Rp 37.500".into()],
        open_drawer: true,
    };
    let bytes = encode_text(&doc, Width::Mm58);
    send(&addr, &bytes, Duration::from_secs(3))?;

    let got = rx.recv_timeout(WAIT)?;
    assert_eq!(got, bytes);
    let out = decode(&got)?;
    assert_eq!(out.lines, ["X REPORT", "TOTAL  Rp 37.500"]);
    assert_eq!((out.cuts, out.drawer_kicks), (1, 1));
    printer.join().map_err(|_| "printer thread panicked")??;
    Ok(())
}

#[test]
fn closed_port_is_refused_quickly() -> TestResult {
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.to_string()
    };
    let started = Instant::now();
    let err = send(&addr, b"hello\n", Duration::from_secs(5))
        .err()
        .ok_or("send to a closed port succeeded")?;
    assert!(
        matches!(err, PrintError::Refused { .. }),
        "expected refused, got {err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let message = err.to_string();
    assert!(
        message.contains(&addr) && message.contains("connection refused"),
        "{message}"
    );
    assert!(err.retryable());
    Ok(())
}

#[test]
fn a_printer_that_stops_reading_times_out_instead_of_hanging() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let printer = thread::spawn(move || -> std::io::Result<()> {
        // Accept, never read, and keep the connection open until released:
        // a printer whose buffer is full (paper out, cover open).
        let (conn, _) = listener.accept()?;
        let _ = release_rx.recv_timeout(WAIT);
        drop(conn);
        Ok(())
    });

    // Far more than loopback socket buffers hold on either side.
    let payload = vec![b'x'; 32 * 1024 * 1024];
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let result = send(&addr, &payload, timeout);
    let elapsed = started.elapsed();
    let _ = release_tx.send(());
    printer.join().map_err(|_| "printer thread panicked")??;

    match result {
        Err(PrintError::WriteTimeout { sent, total, .. }) => {
            assert!(sent < total, "{sent} of {total}");
            assert_eq!(total, payload.len());
        }
        other => return Err(format!("expected a write timeout, got {other:?}").into()),
    }
    assert!(elapsed >= timeout, "gave up early: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    Ok(())
}

#[test]
fn a_printer_that_hangs_up_is_a_broken_connection() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    let printer = thread::spawn(move || -> std::io::Result<()> {
        // Close with unread data: the peer's kernel answers with a reset.
        let (mut conn, _) = listener.accept()?;
        let mut first = [0u8; 1];
        conn.read_exact(&mut first)?;
        Ok(())
    });
    let payload = vec![b'x'; 32 * 1024 * 1024];
    let result = send(&addr, &payload, Duration::from_secs(5));
    printer.join().map_err(|_| "printer thread panicked")??;
    match result {
        Err(e @ PrintError::Write { .. }) => {
            assert!(e.to_string().contains("broke while printing"), "{e}");
            Ok(())
        }
        other => Err(format!("expected a broken connection, got {other:?}").into()),
    }
}

#[test]
fn invalid_addresses_fail_before_connecting() {
    for addr in ["", "10.0.0.5", "10.0.0.5:abc", "printer:0"] {
        match send(addr, b"x", Duration::from_secs(1)) {
            Err(e @ PrintError::InvalidAddress { .. }) => {
                assert!(e.to_string().contains("is not host:port"), "{e}");
                assert!(!e.retryable());
            }
            other => panic!("{addr:?}: expected an invalid address, got {other:?}"),
        }
    }
    assert!(matches!(
        send("127.0.0.1:9100", b"x", Duration::ZERO),
        Err(PrintError::ZeroTimeout)
    ));
}

#[test]
fn unknown_host_is_a_resolve_error() {
    // `.invalid` is reserved (RFC 2606) and never resolves.
    match send("printer.invalid:9100", b"x", Duration::from_secs(3)) {
        Err(e @ PrintError::Resolve { .. }) => {
            assert!(e.to_string().contains("could not be found"), "{e}");
        }
        other => panic!("expected a resolve error, got {other:?}"),
    }
}
