//! A TCP proxy for fault-injection tests: put it between two processes (a
//! terminal and its relay, a relay and the cloud) and break the link on
//! purpose, at any moment, without touching either side.
//!
//! * [`Mode::Forward`]: bytes flow (optionally each chunk after a delay).
//! * [`Mode::Pause`]: connections stay open but nothing is forwarded until
//!   the mode changes (a stalled uplink); new connections wait too.
//! * [`Mode::Cut`]: every open connection is closed and new ones are closed
//!   as soon as they are accepted (an uplink that is down).
//!
//! [`Proxy::tamper_once`] replaces the first occurrence of a byte pattern in
//! the client → upstream direction with another of the same length, e.g. to
//! flip one byte of a pushed entry; [`Proxy::tamper_response_once`] does the
//! same upstream → client (a relay or a LAN peer altering what it serves).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Forward,
    Pause,
    Cut,
}

#[derive(Clone, Debug)]
struct State {
    mode: Mode,
    delay: Duration,
}

type Tamper = Arc<Mutex<Option<(Vec<u8>, Vec<u8>)>>>;

/// A running proxy; it stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<watch::Sender<State>>,
    tamper: Tamper,
    tamper_back: Tamper,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (state, _) = watch::channel(State {
            mode: Mode::Forward,
            delay: Duration::ZERO,
        });
        let tamper: Tamper = Arc::new(Mutex::new(None));
        let tamper_back: Tamper = Arc::new(Mutex::new(None));
        let rx = state.subscribe();
        let t = tamper.clone();
        let tb = tamper_back.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let rx = rx.clone();
                let t = t.clone();
                let tb = tb.clone();
                tokio::spawn(async move {
                    let _ = serve(client, upstream, rx, t, tb).await;
                });
            }
        });
        Ok(Proxy {
            addr,
            state: Arc::new(state),
            tamper,
            tamper_back,
            task,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.send_modify(|s| s.mode = mode);
    }

    /// Pause the link for `duration`, then forward again (unless its mode
    /// was changed meanwhile): a stall that clears by itself. Call from
    /// within the proxy's tokio runtime.
    pub fn pause_for(&self, duration: Duration) {
        self.set_mode(Mode::Pause);
        let state = self.state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            state.send_modify(|s| {
                if s.mode == Mode::Pause {
                    s.mode = Mode::Forward;
                }
            });
        });
    }

    pub fn mode(&self) -> Mode {
        self.state.borrow().mode
    }

    /// Each forwarded chunk waits this long first.
    pub fn set_delay(&self, delay: Duration) {
        self.state.send_modify(|s| s.delay = delay);
    }

    /// Replaces the first `pattern` seen from a client with `replacement`
    /// (same length, so framing such as Content-Length still holds).
    pub fn tamper_once(&self, pattern: &[u8], replacement: &[u8]) -> Result<(), &'static str> {
        arm(&self.tamper, pattern, replacement)
    }

    /// As [`Proxy::tamper_once`], on what the upstream sends back.
    pub fn tamper_response_once(
        &self,
        pattern: &[u8],
        replacement: &[u8],
    ) -> Result<(), &'static str> {
        arm(&self.tamper_back, pattern, replacement)
    }

    /// Whether the pending tampers (both directions) have been applied.
    pub fn tampered(&self) -> bool {
        [&self.tamper, &self.tamper_back]
            .iter()
            .all(|t| t.lock().map(|t| t.is_none()).unwrap_or(false))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set_mode(Mode::Cut);
        self.task.abort();
    }
}

fn arm(tamper: &Tamper, pattern: &[u8], replacement: &[u8]) -> Result<(), &'static str> {
    if pattern.is_empty() || pattern.len() != replacement.len() {
        return Err("pattern and replacement must be non-empty and of the same length");
    }
    let mut t = tamper.lock().map_err(|_| "tamper lock poisoned")?;
    *t = Some((pattern.to_vec(), replacement.to_vec()));
    Ok(())
}

/// Waits while paused; returns false when the link is cut.
async fn may_pass(rx: &mut watch::Receiver<State>) -> bool {
    loop {
        let mode = rx.borrow().mode;
        match mode {
            Mode::Forward => return true,
            Mode::Cut => return false,
            Mode::Pause => {
                if rx.changed().await.is_err() {
                    return false;
                }
            }
        }
    }
}

async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    mut rx: watch::Receiver<State>,
    tamper: Tamper,
    tamper_back: Tamper,
) -> std::io::Result<()> {
    if !may_pass(&mut rx).await {
        return Ok(()); // dropped: the client sees the connection close
    }
    let server = TcpStream::connect(upstream).await?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pump(cr, sw, rx.clone(), Some(tamper));
    let down = pump(sr, cw, rx.clone(), Some(tamper_back));
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {},
        _ = async {
            loop {
                if rx.borrow().mode == Mode::Cut || rx.changed().await.is_err() {
                    break;
                }
            }
        } => {},
    }
    Ok(())
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut rx: watch::Receiver<State>,
    tamper: Option<Tamper>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !may_pass(&mut rx).await {
            break;
        }
        let delay = rx.borrow().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let chunk = &mut buf[..n];
        if let Some(t) = &tamper
            && let Ok(mut pending) = t.lock()
            && let Some((pattern, replacement)) = pending.as_ref()
            && let Some(at) = chunk
                .windows(pattern.len())
                .position(|w| w == pattern.as_slice())
        {
            chunk[at..at + replacement.len()].copy_from_slice(replacement);
            *pending = None;
        }
        if to.write_all(chunk).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
