//! HAProxy, the real load balancer, as a child process: in front of several
//! `sentra-sync serve` (HTTP, health-checked on `/health`), or in front of a
//! PostgreSQL primary and its standby (TCP; the standby takes the
//! connections once the primary stops answering).

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How often HAProxy checks a backend; two failed checks take it out.
const CHECK_INTERVAL_MS: u32 = 300;

/// What the balancer fronts.
pub enum Backends {
    /// Sync servers, round robin, each checked with `GET /health`. A request
    /// is re-sent to another server only when it could not be delivered at
    /// all (connection refused), never once a server may have read it.
    Http(Vec<SocketAddr>),
    /// A PostgreSQL primary and its standby: every connection goes to the
    /// primary while it answers, to the standby once it does not.
    Postgres {
        primary: SocketAddr,
        standby: SocketAddr,
    },
}

/// A running `haproxy -db` on a free port of 127.0.0.1; killed on drop.
pub struct Balancer {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Balancer {
    pub fn start(backends: &Backends) -> Result<Balancer> {
        let dir = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let config = config(addr, backends);
        let config_path = dir.path().join("haproxy.cfg");
        std::fs::write(&config_path, config)?;
        let log = dir.path().join("haproxy.log");
        let child = Command::new(haproxy())
            .arg("-db")
            .arg("-f")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log)?))
            .stderr(Stdio::from(std::fs::File::create(
                dir.path().join("haproxy.err"),
            )?))
            .spawn()
            .context("starting haproxy (Debian package `haproxy`)")?;
        let mut balancer = Balancer {
            child,
            addr,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = balancer.child.try_wait() {
                bail!("haproxy exited ({status}): {}", balancer.errors());
            }
            if Instant::now() > deadline {
                bail!("haproxy never listened on {addr}: {}", balancer.errors());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(balancer)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn errors(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("haproxy.err")).unwrap_or_default()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn haproxy() -> PathBuf {
    ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("haproxy"))
}

/// The configuration: the same shape `docs/operations.md` shows.
fn config(addr: SocketAddr, backends: &Backends) -> String {
    let mut c = String::from(
        "global\n  maxconn 4096\n\
         defaults\n  timeout connect 2s\n  timeout client 120s\n  timeout server 120s\n",
    );
    match backends {
        Backends::Http(servers) => {
            let _ = write!(
                c,
                "frontend sync\n  mode http\n  bind {addr}\n  default_backend servers\n\
                 backend servers\n  mode http\n  balance roundrobin\n\
                 \x20 option httpchk GET /health\n  http-check expect status 200\n\
                 \x20 retries 3\n  option redispatch\n\
                 \x20 default-server inter {CHECK_INTERVAL_MS}ms fall 2 rise 1\n"
            );
            for (i, s) in servers.iter().enumerate() {
                let _ = writeln!(c, "  server sync{} {s} check", i + 1);
            }
        }
        Backends::Postgres { primary, standby } => {
            let _ = write!(
                c,
                "listen postgres\n  mode tcp\n  bind {addr}\n\
                 \x20 default-server inter {CHECK_INTERVAL_MS}ms fall 2 rise 1 \
                 on-marked-down shutdown-sessions\n\
                 \x20 server primary {primary} check\n\
                 \x20 server standby {standby} check backup\n"
            );
        }
    }
    c
}
