//! Per-test databases and migrated templates, on the server named by
//! `DATABASE_URL` or on the process's shared [`Cluster`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::tools::psql;
use crate::{Cluster, HarnessError};

/// Longest prefix kept in generated names (PostgreSQL's limit is 63 bytes).
const MAX_PREFIX: usize = 24;

/// A database made for one test. `url` connects to it.
///
/// On a server given by `DATABASE_URL` the database is dropped when this value
/// is dropped (best effort, `WITH (FORCE)`); on the harness's own cluster it is
/// left in place, since the whole cluster is thrown away.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    pub name: String,
    /// Where to send `DROP DATABASE` on drop; `None` on the harness's cluster.
    drop_via: Option<String>,
}

impl TestDatabase {
    /// A database that already exists at `url` (made by the caller, e.g. on
    /// a cluster of its own); dropping this value leaves it in place.
    pub fn existing(url: String, name: String) -> TestDatabase {
        TestDatabase {
            url,
            name,
            drop_via: None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(admin_url) = &self.drop_via {
            let _ = psql(
                admin_url,
                &format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quote_ident(&self.name)
                ),
            );
        }
    }
}

/// A fresh, empty database for one test: on `DATABASE_URL`'s server when that
/// variable is set (it needs the `CREATEDB` privilege), else on
/// [`Cluster::shared`].
pub fn database_for_test(prefix: &str) -> Result<TestDatabase, HarnessError> {
    new_database(prefix, None)
}

/// A fresh database for one test, copied from `template` (a name returned by
/// [`template_database`]).
pub fn database_for_test_from_template(
    prefix: &str,
    template: &str,
) -> Result<TestDatabase, HarnessError> {
    new_database(prefix, Some(template))
}

fn new_database(prefix: &str, template: Option<&str>) -> Result<TestDatabase, HarnessError> {
    let server = Server::current()?;
    let name = unique_database_name(prefix);
    create_database_at(&server.admin_url(), &name, template)?;
    Ok(TestDatabase {
        url: server.url_for(&name),
        drop_via: match server {
            Server::External { admin_url } => Some(admin_url),
            Server::Cluster(_) => None,
        },
        name,
    })
}

/// Builds a template database once per process and prefix, on the same server
/// as [`database_for_test`], and returns its name.
///
/// `setup` receives the template's URL and migrates it; it must close its
/// connections before returning (any left are terminated). Afterwards the
/// template refuses connections, so copies never fail on a stray session.
/// A failed setup is not cached: the next call tries again.
///
/// On a `DATABASE_URL` server the template is left behind when the process
/// exits (nothing runs at exit); its name starts with `{prefix}_tpl_`.
pub fn template_database(
    prefix: &str,
    setup: impl FnOnce(&str) -> Result<(), String>,
) -> Result<String, HarnessError> {
    static TEMPLATES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    // Held across the setup, so one prefix is never built twice concurrently.
    let mut templates = TEMPLATES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(name) = templates.get(prefix) {
        return Ok(name.clone());
    }
    let server = Server::current()?;
    let admin_url = server.admin_url();
    let mut short_prefix = sanitize_prefix(prefix);
    short_prefix.truncate(MAX_PREFIX - "_tpl".len());
    let name = format!("{short_prefix}_tpl_{}", unique_suffix());
    create_database_at(&admin_url, &name, None)?;
    if let Err(message) = setup(&server.url_for(&name)) {
        let _ = psql(
            &admin_url,
            &format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&name)
            ),
        );
        return Err(HarnessError::TemplateSetup {
            template: name,
            message,
        });
    }
    psql(
        &admin_url,
        &format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
            quote_ident(&name)
        ),
    )?;
    psql(
        &admin_url,
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}'"
        ),
    )?;
    templates.insert(prefix.to_owned(), name.clone());
    Ok(name)
}

/// A database name unique across processes and time:
/// `{prefix}_{pid}_{time}_{counter}`, with the prefix lowercased, reduced to
/// `[a-z0-9_]` and cut to 24 characters.
pub fn unique_database_name(prefix: &str) -> String {
    format!("{}_{}", sanitize_prefix(prefix), unique_suffix())
}

/// `{pid}_{time}_{counter}`: distinct across processes, runs and calls.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() % (1 << 48))
        .unwrap_or(0);
    format!("{}_{nanos:x}_{n}", std::process::id())
}

fn sanitize_prefix(prefix: &str) -> String {
    let mut out: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(MAX_PREFIX)
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        out.insert(0, 't');
        out.truncate(MAX_PREFIX);
    }
    out
}

/// `CREATE DATABASE name [TEMPLATE template]` through `psql` on `admin_url`.
pub(crate) fn create_database_at(
    admin_url: &str,
    name: &str,
    template: Option<&str>,
) -> Result<(), HarnessError> {
    validate_name(name)?;
    let mut sql = format!("CREATE DATABASE {}", quote_ident(name));
    if let Some(template) = template {
        validate_name(template)?;
        sql.push_str(&format!(" TEMPLATE {}", quote_ident(template)));
    }
    psql(admin_url, &sql).map(drop)
}

fn validate_name(name: &str) -> Result<(), HarnessError> {
    let ok = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(HarnessError::InvalidName(name.to_owned()))
    }
}

/// Names are validated, so quoting only has to preserve case and `-`.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The server test databases live on.
enum Server {
    /// `DATABASE_URL`, used as given for administration.
    External {
        admin_url: String,
    },
    Cluster(&'static Cluster),
}

impl Server {
    fn current() -> Result<Server, HarnessError> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(Server::External { admin_url: url }),
            _ => Cluster::shared().map(Server::Cluster),
        }
    }

    fn admin_url(&self) -> String {
        match self {
            Server::External { admin_url } => admin_url.clone(),
            Server::Cluster(cluster) => cluster.admin_url(),
        }
    }

    fn url_for(&self, db: &str) -> String {
        match self {
            Server::External { admin_url } => with_database(admin_url, db),
            Server::Cluster(cluster) => cluster.url_for(db),
        }
    }
}

/// `url` with its database (the path) replaced by `db`; query parameters kept.
fn with_database(url: &str, db: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let query_start = url[after_scheme..]
        .find('?')
        .map_or(url.len(), |i| after_scheme + i);
    let path_start = url[after_scheme..query_start]
        .find('/')
        .map_or(query_start, |i| after_scheme + i);
    format!("{}/{db}{}", &url[..path_start], &url[query_start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_in_urls() {
        let cases = [
            ("postgres://u:p@h:5432/app", "postgres://u:p@h:5432/t1"),
            ("postgres://u@h", "postgres://u@h/t1"),
            ("postgres://u@h/", "postgres://u@h/t1"),
            (
                "postgresql://u@h:1/app?sslmode=require",
                "postgresql://u@h:1/t1?sslmode=require",
            ),
            (
                "postgres://u@h?sslmode=disable",
                "postgres://u@h/t1?sslmode=disable",
            ),
            (
                "postgres:///app?host=/run/pg",
                "postgres:///t1?host=/run/pg",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(with_database(url, "t1"), want, "{url}");
        }
    }

    #[test]
    fn generated_names_are_valid_and_distinct() {
        let a = unique_database_name("Sync Tests: push/pull, with a very long prefix indeed");
        let b = unique_database_name("Sync Tests: push/pull, with a very long prefix indeed");
        assert_ne!(a, b);
        for name in [
            &a,
            &b,
            &unique_database_name(""),
            &unique_database_name("9lives"),
        ] {
            validate_name(name).expect(name);
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
        }
        assert!(a.starts_with("sync_tests__push_pull__w_"), "{a}");
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", "a;b", "x\"y", "über", &"a".repeat(64)] {
            assert!(
                matches!(validate_name(bad), Err(HarnessError::InvalidName(_))),
                "{bad}"
            );
        }
    }
}
