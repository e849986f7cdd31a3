//! The proxy against a real TCP echo server.

use std::time::Duration;

use sentra_chaos_proxy::{Mode, Proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(msg).await?;
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).await?;
    Ok(got)
}

#[tokio::test]
async fn forwards_pauses_cuts_and_restores() {
    let proxy = Proxy::start(echo_server().await).await.expect("proxy");
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
    assert_eq!(
        round_trip(&mut s, b"sale 1").await.expect("echo"),
        b"sale 1"
    );

    // Paused: the bytes are held, then delivered on resume.
    proxy.set_mode(Mode::Pause);
    s.write_all(b"sale 2").await.expect("write");
    let mut got = [0u8; 6];
    let waited = tokio::time::timeout(Duration::from_millis(300), s.read_exact(&mut got)).await;
    assert!(waited.is_err(), "bytes passed while paused");
    proxy.set_mode(Mode::Forward);
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut got))
        .await
        .expect("delivered after resume")
        .expect("read");
    assert_eq!(&got, b"sale 2");

    // Cut: the open connection closes, new ones are closed at once.
    proxy.set_mode(Mode::Cut);
    let mut one = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut one))
        .await
        .expect("closed promptly");
    assert!(matches!(n, Ok(0) | Err(_)), "connection still open: {n:?}");
    let mut s2 = TcpStream::connect(proxy.addr()).await.expect("accepts");
    let r = tokio::time::timeout(Duration::from_secs(5), round_trip(&mut s2, b"x"))
        .await
        .expect("answered promptly");
    assert!(r.is_err(), "a cut link carried bytes");

    // Restored.
    proxy.set_mode(Mode::Forward);
    let mut s3 = TcpStream::connect(proxy.addr()).await.expect("connect");
    assert_eq!(
        round_trip(&mut s3, b"sale 3").await.expect("echo"),
        b"sale 3"
    );
}

#[tokio::test]
async fn tampers_once_with_a_same_length_pattern() {
    let proxy = Proxy::start(echo_server().await).await.expect("proxy");
    assert!(proxy.tamper_once(b"ab", b"abc").is_err());
    proxy
        .tamper_once(b"\"total\":5000", b"\"total\":9000")
        .expect("tamper");
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
    let got = round_trip(&mut s, b"{\"total\":5000}").await.expect("echo");
    assert_eq!(got, b"{\"total\":9000}");
    assert!(proxy.tampered());
    // Only once.
    let got = round_trip(&mut s, b"{\"total\":5000}").await.expect("echo");
    assert_eq!(got, b"{\"total\":5000}");
}

#[tokio::test]
async fn delays_each_chunk() {
    let proxy = Proxy::start(echo_server().await).await.expect("proxy");
    proxy.set_delay(Duration::from_millis(150));
    let mut s = TcpStream::connect(proxy.addr()).await.expect("connect");
    let started = std::time::Instant::now();
    round_trip(&mut s, b"slow").await.expect("echo");
    // Both directions are delayed.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}
