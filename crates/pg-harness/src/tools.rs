//! Finding the PostgreSQL binaries, running them, and running them as the
//! server user when we are root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::HarnessError;

/// Where Debian/Ubuntu install PostgreSQL 15; the last place we look.
const DEFAULT_BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

/// The user the server runs as when we are root.
pub(crate) const SERVER_USER: &str = "postgres";

/// The directory holding `initdb`, `pg_ctl`, `postgres`, `pg_isready` and `psql`.
pub(crate) fn bin_dir() -> Result<&'static Path, HarnessError> {
    static BIN_DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN_DIR.get_or_init(find_bin_dir) {
        Ok(dir) => Ok(dir),
        Err(message) => Err(HarnessError::BinariesNotFound(message.clone())),
    }
}

fn find_bin_dir() -> Result<PathBuf, String> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("SENTRA_PG_BIN").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "SENTRA_PG_BIN={} has no initdb/pg_ctl",
                dir.display()
            ))
        };
    }
    let mut tried = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server(&dir) {
            return Ok(dir);
        }
        tried.push(format!("{} (from pg_config --bindir)", dir.display()));
    } else {
        tried.push("pg_config (not runnable)".to_owned());
    }
    let dir = PathBuf::from(DEFAULT_BIN_DIR);
    if has_server(&dir) {
        return Ok(dir);
    }
    tried.push(DEFAULT_BIN_DIR.to_owned());
    // Debian and Ubuntu install each major version under its own directory:
    // take the newest one present (e.g. 16 on Ubuntu 24.04).
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|d| {
            let v = d.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, d.path().join("bin")))
        })
        .filter(|(_, bin)| has_server(bin))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Ok(dir);
    }
    tried.push("/usr/lib/postgresql/*/bin".to_owned());
    Err(format!(
        "no initdb/pg_ctl in {}; set SENTRA_PG_BIN to PostgreSQL's bin directory",
        tried.join(", ")
    ))
}

/// A client tool (`psql`, `pg_isready`): from the bin directory when there is
/// one, else from `PATH` (enough for `DATABASE_URL` mode).
pub(crate) fn client_tool(name: &str) -> PathBuf {
    match bin_dir() {
        Ok(dir) if dir.join(name).is_file() => dir.join(name),
        _ => PathBuf::from(name),
    }
}

/// True when we run as root, so server processes must switch user.
pub(crate) fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The words that prefix a server command so it runs as [`SERVER_USER`] when
/// we are root (`setpriv` execs in place, so signals reach the real process).
pub(crate) fn run_as_server_user() -> Vec<String> {
    if running_as_root() {
        [
            "setpriv",
            &format!("--reuid={SERVER_USER}"),
            &format!("--regid={SERVER_USER}"),
            "--init-groups",
            "--",
        ]
        .map(str::to_owned)
        .to_vec()
    } else {
        Vec::new()
    }
}

/// A command that runs `program` as the server user.
pub(crate) fn server_command(program: &Path) -> Command {
    let mut prefix = run_as_server_user().into_iter();
    match prefix.next() {
        Some(first) => {
            let mut cmd = Command::new(first);
            cmd.args(prefix).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// Numeric uid and gid of [`SERVER_USER`], via `id`.
pub(crate) fn server_user_ids() -> Result<(u32, u32), HarnessError> {
    let id = |flag: &str| -> Result<u32, HarnessError> {
        let out = run(Command::new("id").args([flag, SERVER_USER]))?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .parse()
            .map_err(|_| HarnessError::CommandFailed {
                command: format!("id {flag} {SERVER_USER}"),
                status: "unparsable output".to_owned(),
                stderr: text.into_owned(),
            })
    };
    Ok((id("-u")?, id("-g")?))
}

/// Runs a command to completion; a non-zero exit becomes an error that names
/// the command and carries its stderr.
pub(crate) fn run(cmd: &mut Command) -> Result<Output, HarnessError> {
    let out = cmd.output().map_err(|source| HarnessError::Spawn {
        command: describe(cmd),
        source,
    })?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(HarnessError::CommandFailed {
            command: describe(cmd),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_owned(),
        })
    }
}

/// A command line for error messages, with URL passwords masked.
pub(crate) fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|arg| redact(&arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub(crate) fn redact(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_owned();
    };
    let rest = &text[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &text[..scheme_end + 3],
            &authority[..colon],
            &text[scheme_end + 3 + at..]
        ),
        _ => text.to_owned(),
    }
}

/// Runs one SQL command with `psql` against `url` and returns its output,
/// unaligned and without headers (`psql -X -A -t -v ON_ERROR_STOP=1`).
///
/// `sql` is sent as one query string, so several statements in it run in one
/// transaction, and `CREATE DATABASE` must be sent alone.
pub fn psql(url: &str, sql: &str) -> Result<String, HarnessError> {
    let mut cmd = Command::new(client_tool("psql"));
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .arg(format!("--dbname={url}"))
        .arg("-c")
        .arg(sql);
    if std::env::var_os("PGCONNECT_TIMEOUT").is_none() {
        cmd.env("PGCONNECT_TIMEOUT", "10");
    }
    let out = run(&mut cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}

/// The last `lines` lines of a file, or a note saying why there are none.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_masked_in_urls() {
        assert_eq!(
            redact("--dbname=postgres://app:s3cret@db:5432/x?sslmode=require"),
            "--dbname=postgres://app:***@db:5432/x?sslmode=require"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5/x"),
            "postgres://postgres@127.0.0.1:5/x"
        );
        assert_eq!(redact("postgres:///x?host=/run"), "postgres:///x?host=/run");
        assert_eq!(redact("select 1"), "select 1");
    }
}
