//! End-to-end harness: the real `sentra-sync` and `sentra-term` binaries as
//! child processes, a throwaway PostgreSQL, terminals in temp dirs.
//!
//! The binaries are not built by `cargo test -p sentra-e2e`; build them
//! first with `cargo build --workspace --bins` (they are looked up next to
//! the test executable, in `$CARGO_TARGET_DIR/debug/`).
//!
//! Servers listen on port 0 and print `listening on http://ADDR`; the
//! harness reads that line and then waits for `/health`. Nothing here
//! sleeps a fixed time to wait for readiness. Every child is killed when its
//! handle is dropped, also when a test panics.

pub mod app;
pub mod balancer;
pub mod office;
pub mod soak;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
pub use sentra_chaos_proxy::Mode;
use serde_json::Value;

/// How long a server may take to print its address and answer `/health`.
const STARTUP: Duration = Duration::from_secs(60);

/// The directory holding the workspace binaries.
pub fn bin_dir() -> Result<PathBuf> {
    // Benchmarks may time binaries of another profile.
    if let Some(dir) = std::env::var_os("SENTRA_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().context("cannot locate the test executable")?;
    for dir in exe.ancestors().skip(1) {
        if dir.join(exe_name("sentra-term")).is_file()
            || dir.join(exe_name("sentra-sync")).is_file()
        {
            return Ok(dir.to_owned());
        }
    }
    bail!(
        "the sentra-sync and sentra-term binaries were not found next to {}: run `cargo build --workspace --bins` first (with the same CARGO_TARGET_DIR)",
        exe.display()
    )
}

fn exe_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// The path of one workspace binary, with a clear error when it is missing.
pub fn binary(name: &str) -> Result<PathBuf> {
    let path = bin_dir()?.join(exe_name(name));
    ensure!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    Ok(path)
}

/// `tests/`, this package's directory: where cargo says it is when it runs
/// the test, else where it was when this was compiled. Clones share one build
/// dir (`scripts/env.sh`), so a library built in another clone must not send
/// a test to that clone's files.
pub fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The catalog CSV shared with the terminal's own tests.
pub fn catalog_csv() -> PathBuf {
    package_dir().join("../crates/terminal/tests/catalog.csv")
}

/// Send SIGKILL: the process gets no chance to clean up (crash tests).
pub fn sigkill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Send SIGTERM and wait up to `grace` for a clean exit, then SIGKILL.
pub fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let pid = rustix::process::Pid::from_child(child);
    if rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_err() {
        sigkill(child);
        return None;
    }
    let deadline = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                sigkill(child);
                return None;
            }
        }
    }
}

/// A GET `/health` over plain HTTP/1.0; true on a 200.
pub fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(format!("GET /health HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
}

/// A server child process (`serve` or `relay`) that printed its address.
pub struct Service {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Service {
    /// Start `command` (stdout piped, stderr to `log`), read its
    /// `listening on http://ADDR` line, then wait for `/health`.
    pub fn start(mut command: Command, log: PathBuf) -> Result<Service> {
        let stderr =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        // Keeps draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.trim().strip_prefix("listening on http://") {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let mut service = Service {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let addr = match rx.recv_timeout(STARTUP) {
            Ok(a) => a,
            Err(_) => bail!(
                "the server never printed its address; log:\n{}",
                service.log_text()
            ),
        };
        service.addr = addr
            .parse()
            .with_context(|| format!("bad address {addr:?} printed by the server"))?;
        let deadline = Instant::now() + STARTUP;
        while !healthy(service.addr) {
            if let Some(child) = service.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!("the server exited ({status}); log:\n{}", service.log_text());
            }
            if Instant::now() > deadline {
                bail!(
                    "the server never became healthy; log:\n{}",
                    service.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(service)
    }

    /// No process yet (a placeholder until the first start).
    fn none() -> Service {
        Service {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: PathBuf::new(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The body of a plain GET (HTTP/1.0, no credential), e.g. `/health`.
    pub fn get(&self, path: &str) -> Result<String> {
        let mut s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).as_bytes())?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        let (_, body) = answer
            .split_once("\r\n\r\n")
            .context("an HTTP answer without a body")?;
        Ok(body.to_owned())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Graceful stop (SIGTERM), as an operator would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, Duration::from_secs(15));
        }
    }

    /// A crash: SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            sigkill(&mut child);
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run a command to completion with a time limit.
pub fn run_with_timeout(mut command: Command, limit: Duration) -> Result<Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let mut stdout = child.stdout.take().context("no stdout")?;
    let mut stderr = child.stderr.take().context("no stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            sigkill(&mut child);
            bail!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Output {
        status,
        stdout: out_reader.join().map_err(|_| anyhow!("stdout reader"))?,
        stderr: err_reader.join().map_err(|_| anyhow!("stderr reader"))?,
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The cloud: a test database and `sentra-sync serve` on it.
pub struct Cloud {
    pub db: sentra_pg_harness::TestDatabase,
    pub server: Service,
    dir: tempfile::TempDir,
    restarts: u32,
    extra: Vec<String>,
    /// Extra environment of every server process (kept for restarts).
    env: Vec<(String, String)>,
}

impl Cloud {
    /// A fresh database (on `DATABASE_URL`'s server, or the harness's own
    /// throwaway cluster) and a server on a free port.
    pub fn start() -> Result<Cloud> {
        Self::start_with(&[])
    }

    /// As [`Cloud::start`], with extra `sentra-sync serve` arguments (kept
    /// for restarts).
    pub fn start_with(extra: &[&str]) -> Result<Cloud> {
        let db = sentra_pg_harness::database_for_test("e2e")
            .map_err(|e| anyhow!("test database: {e}"))?;
        Self::on_database(db, extra)
    }

    /// As [`Cloud::start_with`], on a database the caller made (e.g. behind
    /// a balancer in front of a primary and its standby).
    pub fn on_database(db: sentra_pg_harness::TestDatabase, extra: &[&str]) -> Result<Cloud> {
        Self::on_database_with_env(db, extra, &[])
    }

    /// As [`Cloud::on_database`], the server processes with extra
    /// environment variables (e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn on_database_with_env(
        db: sentra_pg_harness::TestDatabase,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Cloud> {
        let dir = tempfile::tempdir()?;
        let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let server = Self::serve(&db.url, "127.0.0.1:0", dir.path(), 0, &extra, &env)?;
        Ok(Cloud {
            db,
            server,
            dir,
            restarts: 0,
            extra,
            env,
        })
    }

    /// A fresh database, the server processes with extra environment.
    pub fn start_with_env(env: &[(&str, &str)]) -> Result<Cloud> {
        let db = sentra_pg_harness::database_for_test("e2e")
            .map_err(|e| anyhow!("test database: {e}"))?;
        Self::on_database_with_env(db, &[], env)
    }

    /// One more `sentra-sync serve` on the same database, on a port of its
    /// own (servers share nothing but the database).
    pub fn serve_another(&mut self) -> Result<Service> {
        self.restarts += 1;
        Self::serve(
            &self.db.url,
            "127.0.0.1:0",
            self.dir.path(),
            self.restarts,
            &self.extra,
            &self.env,
        )
    }

    /// Point the cloud at another database (a restored one): the server
    /// restarts on the same address, as an operator does after a restore.
    pub fn switch_database(&mut self, db: sentra_pg_harness::TestDatabase) -> Result<()> {
        self.server.stop();
        self.db = db;
        self.restart()
    }

    fn serve(
        db_url: &str,
        listen: &str,
        dir: &Path,
        n: u32,
        extra: &[String],
        env: &[(String, String)],
    ) -> Result<Service> {
        let mut cmd = Command::new(binary("sentra-sync")?);
        cmd.args(["serve", "--database-url", db_url, "--listen", listen])
            .args(["--log-format", "text"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)));
        Service::start(cmd, dir.join(format!("serve-{n}.log")))
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Stop the server (the database stays).
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Start the server again on the same address, so enrolled terminals
    /// find it where they left it.
    pub fn restart(&mut self) -> Result<()> {
        self.server.stop();
        self.restarts += 1;
        let listen = self.server.addr.to_string();
        self.server = Self::serve(
            &self.db.url,
            &listen,
            self.dir.path(),
            self.restarts,
            &self.extra,
            &self.env,
        )?;
        Ok(())
    }

    /// Run an admin command (`sentra-sync --database-url … ARGS`); its
    /// stdout, or an error with its stderr.
    pub fn admin(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(binary("sentra-sync")?);
        cmd.arg("--database-url").arg(&self.db.url).args(args);
        let out = run_with_timeout(cmd, Duration::from_secs(60))?;
        ensure!(
            out.status.success(),
            "sentra-sync {} failed ({}): {}",
            args.join(" "),
            out.status,
            text(&out.stderr)
        );
        Ok(text(&out.stdout))
    }

    pub fn branch_create(&self, code: &str) -> Result<()> {
        self.admin(&[
            "branch",
            "create",
            code,
            "--name",
            &format!("Branch {code}"),
            "--timezone",
            "Asia/Jakarta",
        ])?;
        Ok(())
    }

    /// A one-time code (`--kind terminal` or `relay`).
    pub fn enroll_code(&self, branch: &str, kind: &str) -> Result<String> {
        let out = self.admin(&["enroll-code", "--branch", branch, "--kind", kind])?;
        Ok(out.trim().to_owned())
    }

    pub fn catalog_import(&self, file: &Path, branch: Option<&str>) -> Result<()> {
        let file = file.to_str().context("catalog path is not UTF-8")?;
        let mut args = vec!["catalog", "import", file];
        if let Some(b) = branch {
            args.extend(["--branch", b]);
        }
        self.admin(&args)?;
        Ok(())
    }

    pub fn price_set(&self, sku: &str, price: i64, branch: Option<&str>) -> Result<()> {
        let price = price.to_string();
        let mut args = vec!["price", "set", sku, &price];
        if let Some(b) = branch {
            args.extend(["--branch", b]);
        }
        self.admin(&args)?;
        Ok(())
    }

    /// `sentra-sync ledger --branch B --json`.
    pub fn ledger(&self, branch: &str) -> Result<Value> {
        let out = self.admin(&["ledger", "--branch", branch, "--json"])?;
        serde_json::from_str(&out).with_context(|| format!("ledger JSON: {out}"))
    }

    /// The branch's ledger (`sentra-sync ledger`) equals the Z reports'
    /// sum, net and count, to the rupiah.
    pub fn ensure_ledger_equals(&self, branch: &str, z_net: i64, z_count: i64) -> Result<()> {
        let ledger = self.ledger(branch)?;
        let net = ledger["net"].as_i64().context("ledger: net")?;
        let count = ledger["sales_count"]
            .as_i64()
            .context("ledger: sales_count")?;
        ensure!(
            (net, count) == (z_net, z_count),
            "ledger net {net} over {count} sales, Z reports {z_net} over {z_count}: {ledger}"
        );
        Ok(())
    }

    /// One SQL statement through psql; unaligned rows, `|` between columns.
    pub fn sql(&self, sql: &str) -> Result<String> {
        sentra_pg_harness::psql(&self.db.url, sql).map_err(|e| anyhow!("psql: {e}"))
    }

    /// A single number from SQL.
    pub fn count(&self, sql: &str) -> Result<i64> {
        let out = self.sql(sql)?;
        out.trim()
            .parse()
            .with_context(|| format!("{sql} answered {out:?}"))
    }
}

/// A branch relay (`sentra-sync relay`): the contract of the relay being
/// built alongside — `--data-dir`, `--upstream`, `--listen`, optional
/// `--enroll-code`, `--key-file`; prints `listening on http://ADDR` and
/// answers `/health`.
pub struct Relay {
    pub server: Service,
    pub data_dir: PathBuf,
    pub key_file: PathBuf,
    pub upstream: String,
    extra: Vec<String>,
    /// Extra environment of the relay process (kept for restarts).
    env: Vec<(String, String)>,
    restarts: u32,
    _root: tempfile::TempDir,
}

impl Relay {
    pub fn start(upstream: &str, enroll_code: Option<&str>) -> Result<Relay> {
        Self::start_with(upstream, enroll_code, &[])
    }

    /// As [`Relay::start`], with extra `sentra-sync relay` arguments (kept
    /// for restarts).
    pub fn start_with(upstream: &str, enroll_code: Option<&str>, extra: &[&str]) -> Result<Relay> {
        Self::start_prepared(upstream, enroll_code, extra, |_| Ok(()))
    }

    /// As [`Relay::start_with`], calling `prepare` with the (not yet
    /// existing) data dir before the relay starts (e.g. to mount a small
    /// file system there).
    pub fn start_prepared(
        upstream: &str,
        enroll_code: Option<&str>,
        extra: &[&str],
        prepare: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Relay> {
        Self::start_full(upstream, enroll_code, extra, &[], prepare)
    }

    /// As [`Relay::start`], the relay process with extra environment
    /// variables (e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn start_with_env(
        upstream: &str,
        enroll_code: Option<&str>,
        env: &[(&str, &str)],
    ) -> Result<Relay> {
        Self::start_full(upstream, enroll_code, &[], env, |_| Ok(()))
    }

    fn start_full(
        upstream: &str,
        enroll_code: Option<&str>,
        extra: &[&str],
        env: &[(&str, &str)],
        prepare: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Relay> {
        let root = tempfile::tempdir()?;
        let data_dir = root.path().join("relay");
        let key_file = root.path().join("keys").join("relay.key");
        let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        // The service is started by `restart`, which needs the files in place.
        let mut relay = Relay {
            server: Service::none(),
            data_dir,
            key_file,
            upstream: upstream.to_owned(),
            extra,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            restarts: 0,
            _root: root,
        };
        prepare(&relay.data_dir)?;
        relay.server = relay.spawn("127.0.0.1:0", enroll_code, 0)?;
        Ok(relay)
    }

    /// `sentra-sync relay` on this data dir and key, listening on `listen`.
    fn spawn(&self, listen: &str, enroll_code: Option<&str>, n: u32) -> Result<Service> {
        let mut cmd = Command::new(binary("sentra-sync")?);
        cmd.arg("relay")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--upstream", &self.upstream, "--listen", listen])
            .args(["--key-store", "file", "--key-file"])
            .arg(&self.key_file)
            .args(["--log-format", "text"])
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(code) = enroll_code {
            cmd.args(["--enroll-code", code]);
        }
        cmd.args(&self.extra);
        Service::start(cmd, self._root.path().join(format!("relay-{n}.log")))
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Start it again on the same address and data (after `stop`/`kill`).
    pub fn restart(&mut self) -> Result<()> {
        self.server.stop();
        let listen = self.server.addr.to_string();
        self.restarts += 1;
        self.server = self.spawn(&listen, None, self.restarts)?;
        Ok(())
    }
}

/// A link that can be broken on purpose: a `sentra_chaos_proxy::Proxy`
/// with the runtime it runs on (these tests are otherwise synchronous).
pub struct Link {
    proxy: Option<sentra_chaos_proxy::Proxy>,
    rt: tokio::runtime::Runtime,
}

impl Link {
    /// A proxy on a free port forwarding to `upstream` (`http://ADDR`).
    pub fn to(upstream: &str) -> Result<Link> {
        let addr: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .with_context(|| format!("{upstream} is not http://ADDR"))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let proxy = rt.block_on(sentra_chaos_proxy::Proxy::start(addr))?;
        Ok(Link {
            proxy: Some(proxy),
            rt,
        })
    }

    pub fn url(&self) -> String {
        self.proxy.as_ref().map(|p| p.url()).unwrap_or_default()
    }

    pub fn set_mode(&self, mode: sentra_chaos_proxy::Mode) {
        if let Some(p) = &self.proxy {
            p.set_mode(mode);
        }
    }

    /// Pause the link for `duration`, then forward again by itself.
    pub fn pause_for(&self, duration: Duration) {
        let _guard = self.rt.enter();
        if let Some(p) = &self.proxy {
            p.pause_for(duration);
        }
    }

    /// Delay every chunk passing the link (a slow uplink).
    pub fn set_delay(&self, delay: Duration) {
        if let Some(p) = &self.proxy {
            p.set_delay(delay);
        }
    }

    /// Replace the first `pattern` sent through the link with `replacement`
    /// (same length): an entry altered on the way.
    pub fn tamper_once(&self, pattern: &[u8], replacement: &[u8]) -> Result<()> {
        let p = self.proxy.as_ref().context("the link is gone")?;
        p.tamper_once(pattern, replacement).map_err(|e| anyhow!(e))
    }

    /// Replace the first `pattern` coming back through the link (same
    /// length): what an upstream serves, altered on the way.
    pub fn tamper_response_once(&self, pattern: &[u8], replacement: &[u8]) -> Result<()> {
        let p = self.proxy.as_ref().context("the link is gone")?;
        p.tamper_response_once(pattern, replacement)
            .map_err(|e| anyhow!(e))
    }

    /// Whether the pending tamper has happened.
    pub fn tampered(&self) -> bool {
        self.proxy.as_ref().is_some_and(|p| p.tampered())
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // The proxy's tasks belong to the runtime: drop it inside it.
        let _guard = self.rt.enter();
        self.proxy.take();
    }
}

/// A terminal in a temp dir, its key in a key file outside the data dir.
pub struct Till {
    pub data_dir: PathBuf,
    pub key_file: PathBuf,
    /// Extra environment of every `sentra-term` run (e.g. libfaketime's).
    env: std::sync::Mutex<Vec<(String, String)>>,
    _root: tempfile::TempDir,
}

/// A long-running `sentra-term` (e.g. `sync --watch`), killed on drop.
pub struct Background {
    child: Option<Child>,
    /// Where its stdout goes.
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Background {
    /// SIGTERM, then wait up to `grace` (SIGKILL after that); the exit status.
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        terminate(&mut child, grace)
    }

    /// SIGKILL, as a crash or a pulled plug would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            sigkill(&mut child);
        }
    }

    /// Whether it has exited by itself (its exit code, when it has one).
    pub fn exited(&mut self) -> Option<Option<i32>> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.code()),
            _ => None,
        }
    }

    pub fn stdout_text(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            sigkill(&mut child);
        }
    }
}

/// The result of one `sentra-term` run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as JSON (for `--json` runs).
    pub fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.stdout)
            .with_context(|| format!("not JSON: {}\nstderr: {}", self.stdout, self.stderr))
    }
}

impl Till {
    /// `sentra-term init --branch B --device D --key-store file --key-file K`.
    pub fn init(branch: &str, device: &str) -> Result<Till> {
        let root = tempfile::tempdir()?;
        let till = Till {
            data_dir: root.path().join("data"),
            key_file: root.path().join("keys").join("db.key"),
            env: std::sync::Mutex::new(Vec::new()),
            _root: root,
        };
        let key_file = till.key_file.to_str().context("key path")?.to_owned();
        till.ok(&[
            "init",
            "--branch",
            branch,
            "--device",
            device,
            "--key-store",
            "file",
            "--key-file",
            &key_file,
        ])?;
        Ok(till)
    }

    /// Initialised, the shared catalog imported, a shift open.
    pub fn ready(branch: &str, device: &str) -> Result<Till> {
        let till = Till::init(branch, device)?;
        let csv = catalog_csv();
        till.ok(&["catalog", "import", csv.to_str().context("catalog path")?])?;
        till.ok(&["shift", "open", "--float", "500000"])?;
        Ok(till)
    }

    fn command(&self, args: &[&str]) -> Result<Command> {
        let mut cmd = Command::new(binary("sentra-term")?);
        cmd.arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .env_remove("SENTRA_DATA_DIR")
            .env_remove("SENTRA_KEY_STORE")
            .env_remove("SENTRA_KEY_FILE");
        if let Ok(env) = self.env.lock() {
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
        }
        Ok(cmd)
    }

    /// Set (replace) the extra environment of every later run.
    pub fn set_env(&self, vars: &[(&str, &str)]) {
        if let Ok(mut env) = self.env.lock() {
            *env = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
        }
    }

    /// Start a long-running command (stdout and stderr to files).
    pub fn spawn(&self, args: &[&str]) -> Result<Background> {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = self._root.path();
        let stdout = dir.join(format!("bg-{n}.out"));
        let stderr = dir.join(format!("bg-{n}.err"));
        let child = self
            .command(args)?
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&stdout)?))
            .stderr(Stdio::from(std::fs::File::create(&stderr)?))
            .spawn()
            .context("starting sentra-term")?;
        Ok(Background {
            child: Some(child),
            stdout,
            stderr,
        })
    }

    /// Poll `status --json` until `done` holds (a condition, not a fixed
    /// sleep); the last status, or an error after `limit`.
    pub fn wait_for_status(&self, limit: Duration, done: impl Fn(&Value) -> bool) -> Result<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let status = self.status()?;
            if done(&status) {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("status never reached the expected state within {limit:?}: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn run(&self, args: &[&str]) -> Result<Run> {
        let cmd = self.command(args)?;
        let out = run_with_timeout(cmd, Duration::from_secs(120))?;
        Ok(Run {
            code: out.status.code(),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
        })
    }

    /// Run and require exit 0; stdout.
    pub fn ok(&self, args: &[&str]) -> Result<String> {
        let r = self.run(args)?;
        ensure!(
            r.code == Some(0),
            "sentra-term {} exited {:?}: {}{}",
            args.join(" "),
            r.code,
            r.stderr,
            r.stdout
        );
        Ok(r.stdout)
    }

    /// Run with `--json`, require exit 0, parse stdout.
    pub fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all)?;
        serde_json::from_str(&out).with_context(|| format!("not JSON: {out}"))
    }

    pub fn enroll(&self, server: &str, code: &str, relay: Option<&str>) -> Result<Value> {
        let mut args = vec!["enroll", "--server", server, "--code", code];
        if let Some(r) = relay {
            args.extend(["--relay", r]);
        }
        self.json(&args)
    }

    /// `sell --item … --pay …`; the sale JSON.
    pub fn sell(&self, items: &[&str], tenders: &[&str]) -> Result<Value> {
        let mut args = vec!["sell"];
        for i in items {
            args.extend(["--item", i]);
        }
        for t in tenders {
            args.extend(["--pay", t]);
        }
        self.json(&args)
    }

    /// `shift close --counted N`; the Z report JSON.
    pub fn close_shift(&self, counted: i64) -> Result<Value> {
        self.json(&["shift", "close", "--counted", &counted.to_string()])
    }

    /// One `sync --json` round: exit code and the round report (when one
    /// was printed).
    pub fn sync(&self) -> Result<(Option<i32>, Option<Value>, Run)> {
        let r = self.run(&["--json", "sync", "--wait-ms", "3000"])?;
        let report = serde_json::from_str(&r.stdout).ok();
        Ok((r.code, report, r))
    }

    /// As [`Till::sync`], with extra `sync` arguments.
    pub fn run_sync(&self, extra: &[&str]) -> Result<(Option<i32>, Option<Value>, Run)> {
        let mut args = vec!["--json", "sync", "--wait-ms", "3000"];
        args.extend_from_slice(extra);
        let r = self.run(&args)?;
        let report = serde_json::from_str(&r.stdout).ok();
        Ok((r.code, report, r))
    }

    pub fn status(&self) -> Result<Value> {
        self.json(&["status"])
    }

    /// `sync` rounds until one exits with `want` (0: all in the cloud, 3:
    /// some only on the relay, 4: some only here) — the relay forwards on
    /// its own schedule; that round's report, or an error after `limit`.
    pub fn sync_until(&self, want: i32, limit: Duration) -> Result<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let (code, report, run) = self.sync()?;
            if code == Some(want) {
                return report.context("no round report");
            }
            if Instant::now() > deadline {
                bail!("sync never exited {want} within {limit:?}; last: {run:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
