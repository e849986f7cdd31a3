//! A throwaway PostgreSQL cluster: `initdb` into a temporary directory, a server
//! on a free port of 127.0.0.1, and a supervisor that tears both down when the
//! owning process goes away, however it goes.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use crate::HarnessError;
use crate::tools::{self, client_tool, run, server_command, tail};

/// How long the server gets to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts at starting the server when the chosen port was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

/// Lines of server log quoted in start errors.
const LOG_TAIL_LINES: usize = 40;

/// RAM-backed directory for fast clusters.
const RAM_DIR: &str = "/dev/shm";

/// Free space `/dev/shm` needs before a fast cluster goes there (Docker's
/// default is 64 MiB, too small).
const RAM_DIR_MIN_FREE: u64 = 1 << 30;

/// Settings file we (re)write before each start; included from postgresql.conf.
const HARNESS_CONF: &str = "sentra_harness.conf";

/// The supervisor, run as `sh -c SCRIPT sentra-pg-supervisor ROOT DATA LOG PG_CTL [RUN-AS...]`.
///
/// Its stdin is a pipe from the owning process, which never writes to it: the
/// pipe reaches end-of-file exactly when the owner has exited, for whatever
/// reason. The shell then stops the server and removes ROOT. It ignores the
/// signals a terminal or a test runner sends (and runs in its own process group)
/// so that nothing but the owner's exit triggers the teardown.
///
/// Its stdout carries one line for the owner: `ready` or `failed`. On `failed`
/// the directory is left for the owner, who reports the log and removes it.
const SUPERVISOR_SCRIPT: &str = r#"
set -u
trap '' INT TERM HUP PIPE
root=$1 data=$2 log=$3 pg_ctl=$4
shift 4
exec 2>>"$root/supervisor.log"
if "$@" "$pg_ctl" start -w -t 30 -D "$data" -l "$log" >&2 </dev/null; then
  echo ready
else
  "$@" "$pg_ctl" stop -m immediate -D "$data" >&2 </dev/null
  echo failed
  exit 1
fi
while read -r line; do :; done
if ! "$@" "$pg_ctl" stop -m immediate -w -t 30 -D "$data" >&2 </dev/null; then
  pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) && [ -n "$pid" ] && kill -KILL "$pid"
fi
rm -rf "$root"
"#;

/// How a [`Cluster`] is configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterOptions {
    /// Trade durability for speed: `fsync=off`, `synchronous_commit=off`,
    /// `full_page_writes=off`, and the directory in RAM (`/dev/shm`, when it
    /// has 1 GiB free). Off by default, so benchmarks measure real
    /// durability on a real disk; on for [`Cluster::shared`].
    pub fast: bool,
    /// Archive every WAL segment into [`Cluster::archive_dir`]
    /// (`archive_mode = on`), as point-in-time recovery needs. Off by
    /// default.
    pub archive: bool,
}

impl ClusterOptions {
    /// What [`Cluster::shared`] uses: `fast`, unless `SENTRA_PG_FAST` is `0`,
    /// `false` or `no`.
    pub fn for_tests() -> Self {
        let durable = std::env::var("SENTRA_PG_FAST")
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "false" | "no"))
            .unwrap_or(false);
        Self {
            fast: !durable,
            archive: false,
        }
    }
}

/// A running PostgreSQL server in a temporary directory, reachable at
/// `127.0.0.1:port()` as superuser `postgres` without a password.
///
/// Dropping it stops the server and removes the directory. If the process
/// exits without dropping it (a `static`, a panic, `exit`, SIGKILL), the
/// supervisor does the same as soon as the process is gone.
#[derive(Debug)]
pub struct Cluster {
    port: u16,
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    options: ClusterOptions,
    /// The supervisor's lifeline; closing it tears the cluster down.
    lifeline: Option<ChildStdin>,
    supervisor: Child,
}

impl Cluster {
    /// Starts a cluster with default (durable) options.
    pub fn start() -> Result<Cluster, HarnessError> {
        Self::start_with(ClusterOptions::default())
    }

    /// Starts a cluster: `initdb`, a free port, the server, and waits until it
    /// accepts connections (at most 30 s).
    pub fn start_with(options: ClusterOptions) -> Result<Cluster, HarnessError> {
        let bin = tools::bin_dir()?;
        let dir = Layout::new(options)?;
        run(server_command(&bin.join("initdb"))
            .arg("-D")
            .arg(&dir.data_dir)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync", "--no-instructions"])
            .current_dir(&dir.root))?;
        let conf = dir.data_dir.join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| writeln!(f, "\ninclude '{HARNESS_CONF}'"))
            .map_err(io_error(format!("appending to {}", conf.display())))?;
        Self::launch(dir, options, Recovery::None)
    }

    /// A streaming-replication standby of `primary`: `pg_basebackup -R`
    /// from it (a hot standby that follows it), on a port of its own.
    pub fn standby_of(primary: &Cluster) -> Result<Cluster, HarnessError> {
        let options = ClusterOptions {
            archive: false,
            ..primary.options
        };
        let dir = Layout::new(options)?;
        primary.base_backup_into(&dir.data_dir, true)?;
        Self::launch(dir, options, Recovery::None)
    }

    /// A new cluster restored from `backup` (a [`Cluster::base_backup`]) as
    /// a restore drill does it: archive recovery with `restore_command`
    /// reading `archive`, stopping as soon as the backup is consistent
    /// (`recovery_target = 'immediate'`), then promoted — a new timeline,
    /// and nothing written after the backup ended.
    pub fn restore_from(
        backup: &Path,
        archive: &Path,
        options: ClusterOptions,
    ) -> Result<Cluster, HarnessError> {
        let dir = Layout::new(options)?;
        run(server_command(Path::new("cp"))
            .arg("-a")
            .arg(backup)
            .arg(&dir.data_dir))?;
        let cluster = Self::launch(dir, options, Recovery::Immediate(archive.to_path_buf()))?;
        // It accepts (read-only) connections while it still replays; it is
        // restored once the promotion at the end of recovery is done.
        let deadline = Instant::now() + START_TIMEOUT;
        while tools::psql(&cluster.admin_url(), "SELECT pg_is_in_recovery()")?.trim() != "f" {
            if Instant::now() > deadline {
                return Err(HarnessError::StartFailed {
                    reason: format!("still in recovery after {START_TIMEOUT:?}"),
                    log_tail: tail(&cluster.log_path, LOG_TAIL_LINES),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(cluster)
    }

    /// Takes a base backup (`pg_basebackup -X stream -c fast`, its WAL
    /// included) into `dest`, a directory that must not exist yet.
    pub fn base_backup(&self, dest: &Path) -> Result<(), HarnessError> {
        self.base_backup_into(dest, false)
    }

    fn base_backup_into(&self, dest: &Path, standby: bool) -> Result<(), HarnessError> {
        let bin = tools::bin_dir()?;
        if let Some(parent) = dest.parent()
            && tools::running_as_root()
        {
            let (uid, gid) = tools::server_user_ids()?;
            std::os::unix::fs::chown(parent, Some(uid), Some(gid))
                .map_err(io_error(format!("chown {} to postgres", parent.display())))?;
        }
        let port = self.port.to_string();
        let mut cmd = server_command(&bin.join("pg_basebackup"));
        cmd.arg("-D")
            .arg(dest)
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
            .args(["-X", "stream", "-c", "fast", "--no-sync"]);
        if standby {
            cmd.arg("-R");
        }
        run(&mut cmd)?;
        Ok(())
    }

    /// Where archived WAL goes, when the cluster archives
    /// ([`ClusterOptions::archive`]).
    pub fn archive_dir(&self) -> Option<PathBuf> {
        self.options.archive.then(|| self.root.join("archive"))
    }

    /// Kills the postmaster with SIGKILL, as a crash of the database host
    /// would (its backends notice and exit), and waits until the port no
    /// longer answers. The directory stays until the cluster is dropped.
    pub fn kill(&self) -> Result<(), HarnessError> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let pid = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
            .ok_or_else(|| HarnessError::Io {
                context: format!("reading {}", pid_file.display()),
                source: std::io::Error::other("no postmaster pid"),
            })?;
        run(Command::new("kill").args(["-KILL", &pid.to_string()]))?;
        let deadline = Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            if Instant::now() > deadline {
                return Err(HarnessError::StartFailed {
                    reason: format!("port {} still answers after SIGKILL", self.port),
                    log_tail: tail(&self.log_path, LOG_TAIL_LINES),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Promotes a standby to primary (`pg_ctl promote -w`).
    pub fn promote(&self) -> Result<(), HarnessError> {
        let bin = tools::bin_dir()?;
        run(server_command(&bin.join("pg_ctl"))
            .args(["promote", "-w", "-t", "30", "-D"])
            .arg(&self.data_dir))?;
        Ok(())
    }

    /// Starts the server on a prepared data directory (fresh from initdb, a
    /// base backup, or a backup to restore) and waits until it accepts
    /// connections.
    fn launch(
        dir: Layout,
        options: ClusterOptions,
        recovery: Recovery,
    ) -> Result<Cluster, HarnessError> {
        let bin = tools::bin_dir()?;
        let Layout {
            tempdir,
            root,
            data_dir,
            socket_dir,
            log_path,
            server_ids,
        } = dir;
        if options.archive {
            make_server_dir(&root.join("archive"), server_ids)?;
        }
        if let Recovery::Immediate(_) = &recovery {
            let signal = data_dir.join("recovery.signal");
            fs::write(&signal, "").map_err(io_error(format!("writing {}", signal.display())))?;
            chown_to_server(&signal, server_ids)?;
        }

        let deadline = Instant::now() + START_TIMEOUT;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            let settings = Settings {
                root: &root,
                socket_dir: &socket_dir,
                port,
                options,
                recovery: &recovery,
            };
            write_settings(&data_dir, &settings, server_ids)?;
            let log_len_before = fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
            let mut supervisor =
                spawn_supervisor(&root, &data_dir, &log_path, &bin.join("pg_ctl"))?;
            let lifeline = supervisor.stdin.take();
            let status = wait_for_status_line(
                supervisor.stdout.take(),
                START_TIMEOUT + Duration::from_secs(10),
            );
            match status.as_deref().map(str::trim) {
                Some("ready") => {
                    // The supervisor owns the directory from here on.
                    let _ = tempdir.keep();
                    let cluster = Cluster {
                        port,
                        root,
                        data_dir,
                        socket_dir,
                        log_path,
                        options,
                        lifeline,
                        supervisor,
                    };
                    cluster.wait_until_accepting(deadline)?;
                    return Ok(cluster);
                }
                Some(_) => {
                    // `failed`: the supervisor has exited and left the directory to us.
                    let _ = supervisor.wait();
                    let new_log = log_since(&log_path, log_len_before);
                    let port_taken = new_log.contains("could not bind")
                        || new_log.contains("could not create any TCP/IP sockets");
                    if port_taken && attempt < PORT_ATTEMPTS {
                        continue;
                    }
                    return Err(HarnessError::StartFailed {
                        reason: format!(
                            "pg_ctl start failed (port {port}, data {})",
                            data_dir.display()
                        ),
                        log_tail: start_log_tail(&root, &log_path),
                    });
                }
                None => {
                    let log_tail = start_log_tail(&root, &log_path);
                    // Closing the lifeline makes the supervisor stop whatever
                    // comes up once pg_ctl gives up (its own -t 30).
                    drop(lifeline);
                    let _ = supervisor.wait();
                    return Err(HarnessError::StartFailed {
                        reason: format!("no answer from the supervisor within {START_TIMEOUT:?}"),
                        log_tail,
                    });
                }
            }
        }
    }

    /// One cluster for the whole test process, started on first use with
    /// [`ClusterOptions::for_tests`] (fast). It is never dropped; the supervisor
    /// removes it when the process exits. A failed start is remembered and
    /// reported to every later caller.
    pub fn shared() -> Result<&'static Cluster, HarnessError> {
        static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                Cluster::start_with(ClusterOptions::for_tests()).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| HarnessError::SharedUnavailable(e.clone()))
    }

    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding everything (data, socket, logs); it is
    /// removed when the cluster goes away.
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// The data directory (`PGDATA`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The Unix-socket directory.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The server log.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The options it was started with.
    pub fn options(&self) -> ClusterOptions {
        self.options
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn admin_url(&self) -> String {
        self.url_for("postgres")
    }

    /// `postgres://postgres@127.0.0.1:PORT/<db>`.
    pub fn url_for(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A database name unique across processes and time; see [`crate::unique_database_name`].
    pub fn unique_database_name(&self, prefix: &str) -> String {
        crate::unique_database_name(prefix)
    }

    /// `CREATE DATABASE name [TEMPLATE template]`; returns the new database's URL.
    pub fn create_database(
        &self,
        name: &str,
        template: Option<&str>,
    ) -> Result<String, HarnessError> {
        crate::database::create_database_at(&self.admin_url(), name, template)?;
        Ok(self.url_for(name))
    }

    /// Polls `pg_isready` over TCP until the server accepts connections.
    fn wait_until_accepting(&self, deadline: Instant) -> Result<(), HarnessError> {
        let port = self.port.to_string();
        loop {
            let status = Command::new(client_tool("pg_isready"))
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                ])
                .args(["-t", "2"])
                .status()
                .map_err(|source| HarnessError::Spawn {
                    command: "pg_isready".to_owned(),
                    source,
                })?;
            if status.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::StartFailed {
                    reason: format!(
                        "pg_isready on 127.0.0.1:{port} still fails ({status}) after {START_TIMEOUT:?}"
                    ),
                    log_tail: start_log_tail(&self.root, &self.log_path),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cluster {
    /// Closes the lifeline and waits while the supervisor stops the server
    /// (immediate mode) and removes the directory.
    fn drop(&mut self) {
        drop(self.lifeline.take());
        let _ = self.supervisor.wait();
        if self.root.exists() {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

fn spawn_supervisor(
    root: &Path,
    data: &Path,
    log: &Path,
    pg_ctl: &Path,
) -> Result<Child, HarnessError> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(SUPERVISOR_SCRIPT)
        .arg("sentra-pg-supervisor")
        .args([root, data, log, pg_ctl])
        .args(tools::run_as_server_user())
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // Out of the test's process group: a signal to the group must not
        // take the supervisor down before it has cleaned up.
        .process_group(0);
    cmd.spawn().map_err(|source| HarnessError::Spawn {
        command: "sh -c <supervisor script>".to_owned(),
        source,
    })
}

/// The supervisor's first stdout line, or `None` if it did not come in time.
fn wait_for_status_line(
    stdout: Option<std::process::ChildStdout>,
    timeout: Duration,
) -> Option<String> {
    let stdout = stdout?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(timeout).ok()
}

/// Where the cluster's directory goes: `SENTRA_PG_TMPDIR` when set; for a
/// fast cluster `/dev/shm` when it has [`RAM_DIR_MIN_FREE`] free (initdb is
/// about 3 times and CREATE DATABASE about 10 times faster there than on a
/// disk, even with fsync off); else the system's temporary directory.
fn parent_dir(options: ClusterOptions) -> PathBuf {
    if let Some(dir) = std::env::var_os("SENTRA_PG_TMPDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let ram = Path::new(RAM_DIR);
    let ram_free = rustix::fs::statvfs(ram)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .unwrap_or(0);
    if options.fast && ram_free >= RAM_DIR_MIN_FREE {
        ram.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A TCP port that was free a moment ago (bind port 0, read it, release it).
fn free_port() -> Result<u16, HarnessError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(io_error("binding 127.0.0.1:0 to find a free port"))
}

/// A cluster's directory before its server starts: `root` holds `data`,
/// `sock` and the log.
struct Layout {
    tempdir: tempfile::TempDir,
    root: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    server_ids: Option<(u32, u32)>,
}

impl Layout {
    fn new(options: ClusterOptions) -> Result<Layout, HarnessError> {
        let server_ids = if tools::running_as_root() {
            Some(tools::server_user_ids()?)
        } else {
            None
        };
        let parent = parent_dir(options);
        let tempdir = tempfile::Builder::new()
            .prefix("sentra-pg-")
            .tempdir_in(&parent)
            .map_err(io_error(format!(
                "creating a temporary directory for PostgreSQL in {}",
                parent.display()
            )))?;
        let root = tempdir.path().to_path_buf();
        chown_to_server(&root, server_ids)?;
        let socket_dir = root.join("sock");
        make_server_dir(&socket_dir, server_ids)?;
        Ok(Layout {
            data_dir: root.join("data"),
            log_path: root.join("server.log"),
            socket_dir,
            root,
            tempdir,
            server_ids,
        })
    }
}

/// How the server starts on its data directory.
enum Recovery {
    /// As it is (fresh, after a crash, or a standby following its primary).
    None,
    /// Archive recovery from this WAL archive up to the end of the backup,
    /// then promoted.
    Immediate(PathBuf),
}

struct Settings<'a> {
    root: &'a Path,
    socket_dir: &'a Path,
    port: u16,
    options: ClusterOptions,
    recovery: &'a Recovery,
}

/// A path inside a single-quoted setting value.
fn quoted(path: &Path) -> String {
    path.to_string_lossy().replace('\'', "''")
}

fn write_settings(
    data_dir: &Path,
    s: &Settings<'_>,
    server_ids: Option<(u32, u32)>,
) -> Result<(), HarnessError> {
    let socket_dir = quoted(s.socket_dir);
    let port = s.port;
    let mut settings = format!(
        "# Written by sentra-pg-harness before each start.\n\
         port = {port}\n\
         listen_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{socket_dir}'\n\
         max_connections = 200\n\
         shared_buffers = '256MB'\n"
    );
    if s.options.fast {
        settings.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
    }
    if s.options.archive {
        let archive = quoted(&s.root.join("archive"));
        settings.push_str(&format!(
            "archive_mode = on\n\
             archive_command = 'test ! -f ''{archive}/%f'' && cp %p ''{archive}/%f'''\n"
        ));
    }
    if let Recovery::Immediate(archive) = s.recovery {
        let archive = quoted(archive);
        settings.push_str(&format!(
            "restore_command = 'cp ''{archive}/%f'' %p'\n\
             recovery_target = 'immediate'\n\
             recovery_target_action = 'promote'\n"
        ));
    }
    let path = data_dir.join(HARNESS_CONF);
    fs::write(&path, settings).map_err(io_error(format!("writing {}", path.display())))?;
    chown_to_server(&path, server_ids)
}

fn make_server_dir(path: &Path, server_ids: Option<(u32, u32)>) -> Result<(), HarnessError> {
    fs::create_dir_all(path).map_err(io_error(format!("creating {}", path.display())))?;
    chown_to_server(path, server_ids)
}

fn chown_to_server(path: &Path, server_ids: Option<(u32, u32)>) -> Result<(), HarnessError> {
    if let Some((uid, gid)) = server_ids {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(io_error(format!("chown {} to postgres", path.display())))?;
    }
    Ok(())
}

fn log_since(path: &Path, offset: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn start_log_tail(root: &Path, log_path: &Path) -> String {
    let supervisor = tail(&root.join("supervisor.log"), 10);
    format!(
        "{}\n--- pg_ctl output ---\n{supervisor}",
        tail(log_path, LOG_TAIL_LINES)
    )
}

fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let context = context.into();
    move |source| HarnessError::Io { context, source }
}
