//! The harness against a real PostgreSQL: databases, templates, and teardown
//! when the owning process dies.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sentra_pg_harness::{
    Cluster, ClusterOptions, HarnessError, database_for_test_from_template, psql, template_database,
};

/// Set in a re-executed copy of this test binary to say what the child does.
const CHILD_ENV: &str = "SENTRA_PG_HARNESS_CHILD";
const CHILD_TEST: &str = "child_process_owning_a_cluster";

type TestResult = Result<(), HarnessError>;

#[test]
fn two_databases_are_independent() -> TestResult {
    let cluster = Cluster::shared()?;
    let a = cluster.unique_database_name("indep_a");
    let b = cluster.unique_database_name("indep_b");
    let url_a = cluster.create_database(&a, None)?;
    let url_b = cluster.create_database(&b, None)?;
    assert_eq!(
        url_a,
        format!("postgres://postgres@127.0.0.1:{}/{a}", cluster.port())
    );

    psql(
        &url_a,
        "CREATE TABLE only_in_a (id int); INSERT INTO only_in_a VALUES (1), (2)",
    )?;
    psql(&url_b, "CREATE TABLE only_in_b (id int)")?;

    assert_eq!(psql(&url_a, "SELECT count(*) FROM only_in_a")?, "2");
    assert_eq!(
        psql(&url_a, "SELECT to_regclass('only_in_b') IS NULL")?,
        "t"
    );
    assert_eq!(
        psql(&url_b, "SELECT to_regclass('only_in_a') IS NULL")?,
        "t"
    );
    assert_eq!(psql(&url_b, "SELECT current_database()")?, b);
    Ok(())
}

#[test]
fn copies_of_a_template_have_its_tables_and_rows() -> TestResult {
    let mut setups = 0;
    let template = template_database("harness_tpl_test", |url| {
        setups += 1;
        psql(
            url,
            "CREATE TABLE migrated (v text); INSERT INTO migrated VALUES ('seed')",
        )
        .map(drop)
        .map_err(|e| e.to_string())
    })?;
    // Cached per process and prefix: the second call does not run setup.
    let again = template_database("harness_tpl_test", |_| Err("setup ran twice".to_owned()))?;
    assert_eq!((setups, &again), (1, &template));

    let one = database_for_test_from_template("tpl_copy", &template)?;
    let two = database_for_test_from_template("tpl_copy", &template)?;
    assert_ne!(one.name, two.name);
    assert_eq!(psql(&one.url, "SELECT v FROM migrated")?, "seed");
    psql(&one.url, "INSERT INTO migrated VALUES ('only in one')")?;
    assert_eq!(psql(&two.url, "SELECT count(*) FROM migrated")?, "1");

    // The template itself refuses connections, so a stray session cannot
    // break the next copy.
    let err = psql(&Cluster::shared()?.url_for(&template), "SELECT 1");
    assert!(err.is_err(), "connected to the template: {err:?}");
    Ok(())
}

#[test]
fn a_failed_template_setup_is_reported_and_not_cached() -> TestResult {
    let err = template_database("harness_tpl_fail", |_| Err("migration 3 failed".to_owned()));
    match err {
        Err(HarnessError::TemplateSetup { message, .. }) => {
            assert_eq!(message, "migration 3 failed")
        }
        other => panic!("expected TemplateSetup, got {other:?}"),
    }
    let name = template_database("harness_tpl_fail", |_| Ok(()))?;
    assert!(name.starts_with("harness_tpl_fail_tpl_"), "{name}");
    Ok(())
}

#[test]
fn psql_errors_name_the_command_and_carry_stderr() -> TestResult {
    let cluster = Cluster::shared()?;
    let err = psql(&cluster.admin_url(), "SELECT * FROM no_such_table").expect_err("must fail");
    let text = err.to_string();
    assert!(text.contains("psql"), "{text}");
    assert!(text.contains("no_such_table"), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    Ok(())
}

#[test]
fn durable_by_default_fast_on_request_and_drop_tears_down() -> TestResult {
    let started = Instant::now();
    let durable = Cluster::start()?;
    eprintln!("durable cluster ready in {:?}", started.elapsed());
    let started = Instant::now();
    let fast = Cluster::start_with(ClusterOptions {
        fast: true,
        ..ClusterOptions::default()
    })?;
    eprintln!("fast cluster ready in {:?}", started.elapsed());

    let show = |c: &Cluster, setting: &str| psql(&c.admin_url(), &format!("SHOW {setting}"));
    for (setting, want) in [
        ("fsync", "on"),
        ("synchronous_commit", "on"),
        ("full_page_writes", "on"),
        ("max_connections", "200"),
        ("shared_buffers", "256MB"),
        ("listen_addresses", "127.0.0.1"),
        ("server_encoding", "UTF8"),
        ("lc_collate", "C"),
    ] {
        assert_eq!(show(&durable, setting)?, want, "{setting}");
    }
    for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
        assert_eq!(show(&fast, setting)?, "off", "{setting}");
    }
    assert_ne!(durable.port(), fast.port());
    eprintln!(
        "durable cluster in {}, fast in {}",
        durable.root_dir().display(),
        fast.root_dir().display()
    );
    if std::env::var_os("SENTRA_PG_TMPDIR").is_none() {
        assert!(durable.root_dir().starts_with(std::env::temp_dir()));
    }

    let (port, root) = (durable.port(), durable.root_dir().to_owned());
    assert!(durable.data_dir().join("PG_VERSION").is_file());
    drop(durable);
    // Drop waits for the teardown: nothing to poll for.
    assert!(!accepts(port), "port {port} still open after drop");
    assert!(!root.exists(), "{} still exists after drop", root.display());
    Ok(())
}

/// Parent side of the teardown tests: re-run this binary as a child that
/// starts a cluster and then dies without running destructors.
fn cluster_outlives_its_owner_by_at_most(mode: &str, limit: Duration) {
    let out = Command::new(std::env::current_exe().expect("current_exe"))
        .args([
            "--exact",
            CHILD_TEST,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .output()
        .expect("running the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("CLUSTER ").map(|(_, rest)| rest))
        .unwrap_or_else(|| {
            panic!(
                "child ({mode}) printed no cluster: {}\nstdout:\n{stdout}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let (port, root) = line.split_once(' ').expect("CLUSTER <port> <root>");
    let port: u16 = port.parse().expect("port");
    let root = Path::new(root);

    let deadline = Instant::now() + limit;
    while accepts(port) || root.exists() {
        assert!(
            Instant::now() < deadline,
            "child ({mode}) exited ({}) but after {limit:?} port {port} open: {}, {} exists: {}",
            out.status,
            accepts(port),
            root.display(),
            root.exists()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn supervisor_tears_down_when_the_owner_exits_without_destructors() {
    cluster_outlives_its_owner_by_at_most("exit", Duration::from_secs(30));
}

#[test]
fn supervisor_tears_down_when_the_owner_is_killed() {
    cluster_outlives_its_owner_by_at_most("kill", Duration::from_secs(30));
}

#[test]
fn database_url_mode_creates_and_drops_databases_on_that_server() -> TestResult {
    let server = Cluster::start_with(ClusterOptions {
        fast: true,
        ..ClusterOptions::default()
    })?;
    let out = Command::new(std::env::current_exe().expect("current_exe"))
        .args([
            "--exact",
            CHILD_TEST,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "external")
        .env("DATABASE_URL", server.admin_url())
        .output()
        .expect("running the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("EXTERNAL ").map(|(_, rest)| rest))
        .expect("child printed its databases");
    let (test_db, template) = line.split_once(' ').expect("EXTERNAL <db> <template>");

    let exists = |name: &str| {
        psql(
            &server.admin_url(),
            &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
        )
    };
    assert_eq!(exists(test_db)?, "0", "TestDatabase was not dropped");
    assert_eq!(exists(template)?, "1", "the template is expected to stay");
    Ok(())
}

/// Child side; does nothing unless run by one of the tests above.
#[test]
#[ignore = "run by the teardown tests in a child process"]
fn child_process_owning_a_cluster() -> TestResult {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return Ok(());
    };
    match mode.as_str() {
        "exit" | "kill" => {
            let cluster = Cluster::start_with(ClusterOptions {
                fast: true,
                ..ClusterOptions::default()
            })?;
            println!(
                "CLUSTER {} {}",
                cluster.port(),
                cluster.root_dir().display()
            );
            if mode == "exit" {
                std::process::exit(0); // no destructors run
            }
            let _ = Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            unreachable!("SIGKILL did not arrive");
        }
        "external" => {
            let template = template_database("ext", |url| {
                psql(url, "CREATE TABLE t (x int)")
                    .map(drop)
                    .map_err(|e| e.to_string())
            })?;
            let db = database_for_test_from_template("ext", &template)?;
            assert!(db.url.ends_with(&format!("/{}", db.name)), "{}", db.url);
            assert_eq!(psql(&db.url, "SELECT count(*) FROM t")?, "0");
            let plain = sentra_pg_harness::database_for_test("ext_plain")?;
            assert_eq!(psql(&plain.url, "SELECT to_regclass('t') IS NULL")?, "t");
            println!("EXTERNAL {} {template}", db.name);
            Ok(())
        }
        other => panic!("unknown {CHILD_ENV}={other}"),
    }
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// What the cloud's failover and restore tests rely on: a standby follows
/// its primary and takes over when promoted; a cluster restored from a
/// base backup holds what was committed before the backup and nothing
/// after it, and accepts writes.
#[test]
fn a_standby_takes_over_and_a_backup_restores_to_its_moment() -> TestResult {
    let options = ClusterOptions {
        archive: true,
        ..ClusterOptions::default()
    };
    let primary = Cluster::start_with(options)?;
    let url = primary.url_for("postgres");
    psql(&url, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)")?;

    let backups = tempfile::tempdir().map_err(|e| HarnessError::Io {
        context: "backup dir".into(),
        source: e,
    })?;
    let backup = backups.path().join("base");
    primary.base_backup(&backup)?;
    psql(&url, "INSERT INTO t VALUES (2)")?;

    let standby = Cluster::standby_of(&primary)?;
    let standby_url = standby.url_for("postgres");
    psql(&url, "INSERT INTO t VALUES (3)")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while psql(&standby_url, "SELECT count(*) FROM t")? != "3" {
        assert!(Instant::now() < deadline, "the standby never caught up");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(psql(&standby_url, "SELECT pg_is_in_recovery()")?, "t");

    primary.kill()?;
    standby.promote()?;
    assert_eq!(psql(&standby_url, "SELECT pg_is_in_recovery()")?, "f");
    psql(&standby_url, "INSERT INTO t VALUES (4)")?;
    assert_eq!(
        psql(
            &standby_url,
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM t"
        )?,
        "1,2,3,4"
    );

    let archive = primary.archive_dir().expect("the primary archives");
    let restored = Cluster::restore_from(&backup, &archive, options)?;
    let restored_url = restored.url_for("postgres");
    assert_eq!(
        psql(
            &restored_url,
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM t"
        )?,
        "1"
    );
    assert_eq!(psql(&restored_url, "SELECT pg_is_in_recovery()")?, "f");
    psql(&restored_url, "INSERT INTO t VALUES (5)")?;
    Ok(())
}
