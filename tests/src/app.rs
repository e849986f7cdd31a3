//! Driving the real cashier app (`sentra-pos`) in tests: a private X
//! display (Xvfb), `tauri-driver` in front of Debian's WebKitWebDriver, a
//! WebDriver session on the app's window, and a fake receipt printer (a TCP
//! listener that keeps every job's bytes).

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::{binary, terminate};

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_for_port(port: u16, limit: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listened on port {port} within {limit:?}")
}

/// A private X server, so the app's window needs no desktop.
pub struct Display {
    pub number: u32,
    child: Child,
}

impl Display {
    /// A new Xvfb on a display number that Xvfb itself chose free and
    /// reported when ready (`-displayfd`). Picking a number by looking for
    /// free lock files raced between tests started together: two took the
    /// same number, one Xvfb failed to start, and the test that "owned" the
    /// survivor killed it under the other's app.
    pub fn start() -> Result<Display> {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1"])
            .args(["-screen", "0", "1366x768x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting Xvfb (install the xvfb package)")?;
        let mut stdout = child.stdout.take().context("Xvfb stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let mut byte = [0u8; 1];
            while let Ok(1) = stdout.read(&mut byte) {
                if byte[0] == b'\n' {
                    break;
                }
                text.push(char::from(byte[0]));
            }
            let _ = tx.send(text);
        });
        let number = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(text) => text.trim().parse::<u32>().ok(),
            Err(_) => None,
        };
        let Some(number) = number else {
            terminate(&mut child, Duration::from_secs(1));
            bail!("Xvfb did not report a display within 10 s");
        };
        Ok(Display { number, child })
    }

    /// Whether this display's Xvfb is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(2));
    }
}

/// `tauri-driver`: from `TAURI_DRIVER`, else `~/.cache/sentra-pos/tools`
/// (scripts/install-tauri-driver.sh), else `PATH`.
pub fn tauri_driver_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cached = home.join(".cache/sentra-pos/tools/bin/tauri-driver");
    if cached.exists() {
        cached
    } else {
        PathBuf::from("tauri-driver")
    }
}

/// Options of one app launch.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    pub data_dir: PathBuf,
    /// `host:port` of the receipt printer (`SENTRA_PRINTER`).
    pub printer: Option<String>,
}

/// The app, launched by `tauri-driver`, with a WebDriver session on it.
pub struct App {
    pub client: Client,
    driver: Child,
    _display: Display,
    /// When the session was requested (just before the process started).
    pub launched_at: Instant,
}

impl App {
    pub async fn launch(launch: &Launch) -> Result<App> {
        let display = Display::start()?;
        let port = free_port()?;
        let native_port = free_port()?;
        let mut cmd = Command::new(tauri_driver_path());
        cmd.args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .env("DISPLAY", display.name())
            .env_remove("WAYLAND_DISPLAY")
            // No accessibility bus or GPU on a test box.
            .env("NO_AT_BRIDGE", "1")
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env_remove("SENTRA_DATA_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so the WebKitWebDriver and app it starts
        // go with it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        match &launch.printer {
            Some(p) => cmd.env("SENTRA_PRINTER", p),
            None => cmd.env_remove("SENTRA_PRINTER"),
        };
        let mut driver = cmd
            .spawn()
            .context("starting tauri-driver (scripts/install-tauri-driver.sh installs it)")?;
        // Both ports: tauri-driver listens at once, but passes the session
        // request on to the WebKitWebDriver it started, which on a busy
        // machine may not listen yet (the request then fails outright:
        // "webdriver server did not respond … SendRequest").
        for p in [port, native_port] {
            if let Err(e) = wait_for_port(p, Duration::from_secs(20)) {
                terminate(&mut driver, Duration::from_secs(1));
                return Err(e);
            }
        }
        let app = binary("sentra-pos")?;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            json!({
                "application": app,
                "args": ["--data-dir", launch.data_dir],
            }),
        );
        caps.insert("browserName".into(), json!("wry"));
        // Two crypto providers are linked; choose one (an error only means
        // another test already did).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let launched_at = Instant::now();
        let client = ClientBuilder::rustls()
            .context("WebDriver client")?
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                // A driver that already exited never held its port: the
                // answer came from another process's (ports are picked
                // free, then bound by the driver: a race with a parallel run).
                let ours = match driver.try_wait() {
                    Ok(Some(status)) => format!("tauri-driver had exited ({status})"),
                    _ => "tauri-driver was running".to_owned(),
                };
                terminate(&mut driver, Duration::from_secs(1));
                bail!("no WebDriver session on the app ({ours}): {e}");
            }
        };
        Ok(App {
            client,
            driver,
            _display: display,
            launched_at,
        })
    }

    /// The X display the app runs on (`:N`), for X-level checks such as
    /// which window has the keyboard focus.
    pub fn display_name(&self) -> String {
        self._display.name()
    }

    fn by_id(testid: &str) -> String {
        format!("[data-testid=\"{testid}\"]")
    }

    /// The element with `data-testid`, waiting up to 10 s for it.
    pub async fn el(&self, testid: &str) -> Result<Element> {
        self.el_within(testid, Duration::from_secs(10)).await
    }

    pub async fn el_within(&self, testid: &str, limit: Duration) -> Result<Element> {
        let css = Self::by_id(testid);
        self.client
            .wait()
            .at_most(limit)
            .every(Duration::from_millis(20))
            .for_element(Locator::Css(&css))
            .await
            .with_context(|| format!("no element {css} within {limit:?}"))
    }

    pub async fn all(&self, testid: &str) -> Result<Vec<Element>> {
        Ok(self
            .client
            .find_all(Locator::Css(&Self::by_id(testid)))
            .await?)
    }

    pub async fn exists(&self, testid: &str) -> Result<bool> {
        Ok(!self.all(testid).await?.is_empty())
    }

    pub async fn click(&self, testid: &str) -> Result<()> {
        self.el(testid).await?.click().await?;
        Ok(())
    }

    /// Type into an element, as a keyboard (or a wedge scanner) would.
    pub async fn type_into(&self, testid: &str, text: &str) -> Result<()> {
        self.el(testid).await?.send_keys(text).await?;
        Ok(())
    }

    /// Replace an input's content.
    pub async fn fill(&self, testid: &str, text: &str) -> Result<()> {
        let e = self.el(testid).await?;
        e.clear().await?;
        e.send_keys(text).await?;
        Ok(())
    }

    pub async fn text(&self, testid: &str) -> Result<String> {
        Ok(self.el(testid).await?.text().await?)
    }

    /// Wait until `cond` holds for the page (a JS expression), up to `limit`.
    pub async fn wait_js(&self, expr: &str, limit: Duration) -> Result<Value> {
        let start = Instant::now();
        loop {
            let v = self
                .client
                .execute(&format!("return ({expr});"), vec![])
                .await?;
            if !(v.is_null() || v == json!(false)) {
                return Ok(v);
            }
            if start.elapsed() > limit {
                bail!("{expr} did not hold within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn count(&self, testid: &str) -> Result<usize> {
        let v = self
            .client
            .execute(
                &format!(
                    "return document.querySelectorAll('{}').length;",
                    Self::by_id(testid).replace('\'', "\\'")
                ),
                vec![],
            )
            .await?;
        Ok(v.as_u64().unwrap_or(0) as usize)
    }

    /// Wait until `count(testid) == n`.
    pub async fn wait_count(&self, testid: &str, n: usize, limit: Duration) -> Result<()> {
        let css = Self::by_id(testid).replace('\'', "\\'");
        self.wait_js(
            &format!("document.querySelectorAll('{css}').length === {n}"),
            limit,
        )
        .await
        .map(|_| ())
    }

    /// The UI's performance record (`window.__sentraPerf`).
    pub async fn perf(&self) -> Result<Value> {
        Ok(self
            .client
            .execute("return window.__sentraPerf || null;", vec![])
            .await?)
    }

    /// The app's process id (tauri-driver → WebKitWebDriver → app).
    pub fn app_pid(&self) -> Option<u32> {
        let out = Command::new("pgrep")
            .args(["-n", "-x", "sentra-pos"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    pub async fn quit(self) -> Result<()> {
        let r = self.client.clone().close().await;
        r.map_err(Into::into)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // The driver, WebKitWebDriver and the app, also when a test fails.
        let group = rustix::process::Pid::from_child(&self.driver);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
        terminate(&mut self.driver, Duration::from_secs(3));
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
}

/// Resident memory of a process, in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// A KiB figure of `/proc/<pid>/status`: `VmRSS`, `RssAnon` (heaps: what a
/// leak grows), `RssFile` (library pages read in as code runs: grows while
/// new paths warm up, then stops).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A receipt printer on a TCP port: keeps the bytes of every connection.
pub struct FakePrinter {
    pub addr: SocketAddr,
    jobs: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl FakePrinter {
    pub fn start() -> Result<FakePrinter> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let jobs = Arc::new(Mutex::new(Vec::new()));
        let sink = jobs.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let mut bytes = Vec::new();
                    if conn.read_to_end(&mut bytes).is_ok()
                        && !bytes.is_empty()
                        && let Ok(mut jobs) = sink.lock()
                    {
                        jobs.push(bytes);
                    }
                });
            }
        });
        Ok(FakePrinter { addr, jobs })
    }

    pub fn jobs(&self) -> Vec<Vec<u8>> {
        self.jobs.lock().map(|j| j.clone()).unwrap_or_default()
    }

    /// Wait until at least `n` jobs arrived.
    pub fn wait_jobs(&self, n: usize, limit: Duration) -> Result<Vec<Vec<u8>>> {
        let start = Instant::now();
        loop {
            let jobs = self.jobs();
            if jobs.len() >= n {
                return Ok(jobs);
            }
            if start.elapsed() > limit {
                bail!(
                    "the printer got {} jobs, expected {n}, within {limit:?}",
                    jobs.len()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Resident memory of a process and all its descendants (the app and its
/// WebKit web and network processes), in KiB.
pub fn tree_rss_kib(root: u32) -> Option<u64> {
    Some(tree_rss_by_process(root)?.iter().map(|(_, _, k)| k).sum())
}

/// The same tree, one row per process: its name (`/proc/<pid>/comm`), pid
/// and resident KiB — so a bench can say which process grows.
pub fn tree_rss_by_process(root: u32) -> Option<Vec<(String, u32, u64)>> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The parent pid is the second field after the parenthesised name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    Some(
        tree.iter()
            .filter_map(|p| {
                let name = std::fs::read_to_string(format!("/proc/{p}/comm")).ok()?;
                Some((format!("{}[{p}]", name.trim()), *p, rss_kib(*p)?))
            })
            .collect(),
    )
}
