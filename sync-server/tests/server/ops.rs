//! The `sentra-sync` binary as operators and scripts use it: admin commands,
//! `serve` as a separate process (health, metrics, JSON logs with request
//! ids) and a graceful shutdown that finishes the batch in flight.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Device, sale};
use ed25519_dalek::SigningKey;
use sentra_protocol::payload::ShiftOpened;
use sentra_protocol::wire::{PROTOCOL_HEADER, PushResponse};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_sentra-sync");

fn admin(url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("run sentra-sync");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn database() -> sentra_pg_harness::TestDatabase {
    tokio::task::spawn_blocking(|| sentra_pg_harness::database_for_test("ops"))
        .await
        .expect("join")
        .expect("database")
}

#[tokio::test]
async fn admin_commands_print_what_scripts_need() {
    let db = database().await;
    let url = db.url.clone();
    let (ok, out, err) = admin(
        &url,
        &[
            "branch",
            "create",
            "JKT01",
            "--name",
            "Jakarta Kemang",
            "--timezone",
            "Asia/Jakarta",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("JKT01"), "{out}");
    // A bad time zone is refused in one line.
    let (ok, _, err) = admin(
        &url,
        &[
            "branch",
            "create",
            "BDG01",
            "--name",
            "Bandung",
            "--timezone",
            "Mars/Olympus",
        ],
    );
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("unknown time zone"), "{err}");

    // enroll-code prints the code alone.
    let (ok, out, err) = admin(
        &url,
        &["enroll-code", "--branch", "JKT01", "--kind", "relay"],
    );
    assert!(ok, "{err}");
    let code = out.trim();
    assert_eq!(out.lines().count(), 1);
    assert_eq!(code.len(), 14, "{out:?}");
    let (ok, _, err) = admin(&url, &["enroll-code", "--branch", "NOPE"]);
    assert!(!ok);
    assert!(err.contains("branch NOPE not found"), "{err}");

    // ledger --json has the documented shape, amounts as integers.
    let (ok, out, err) = admin(&url, &["ledger", "--branch", "JKT01", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("ledger json");
    for key in ["sales_count", "gross", "discounts", "refunds", "tax", "net"] {
        assert!(v[key].is_i64(), "{key} in {v}");
    }
    assert_eq!(v["branch"], "JKT01");
    assert!(v["payments"]["cash"].is_i64(), "{v}");
    let (ok, out, _) = admin(&url, &["device", "list", "--json"]);
    assert!(ok);
    assert_eq!(out.trim(), "[]");
}

struct Child {
    child: std::process::Child,
    url: String,
    logs: std::sync::mpsc::Receiver<String>,
}

/// Starts `sentra-sync serve` as its own process on a free port and waits
/// for the address it prints.
fn serve(db_url: &str) -> Child {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", db_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read address");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let stderr = child.stderr.take().expect("stderr");
    let (tx, logs) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    Child { child, url, logs }
}

async fn enroll(http: &reqwest::Client, url: &str, db_url: &str, seed: u8) -> Device {
    let (ok, out, err) = admin(db_url, &["enroll-code", "--branch", "JKT01"]);
    assert!(ok, "{err}");
    let key = SigningKey::from_bytes(&[seed; 32]);
    let device_id = Uuid::now_v7();
    let r: serde_json::Value = http
        .post(format!("{url}/v1/enroll"))
        .header(PROTOCOL_HEADER, "1")
        .json(&serde_json::json!({
            "code": out.trim(), "name": "till", "device_id": device_id,
            "public_key": hex::encode(key.verifying_key().as_bytes()),
        }))
        .send()
        .await
        .expect("enroll")
        .json()
        .await
        .expect("json");
    let mut d = Device::unenrolled("JKT01", seed);
    d.key = key;
    d.device_id = device_id;
    d.credential = r["credential"].as_str().expect("credential").to_owned();
    d
}

#[tokio::test]
async fn serve_process_health_metrics_logs_and_graceful_shutdown() {
    let db = database().await;
    let (ok, _, err) = admin(
        &db.url,
        &[
            "branch",
            "create",
            "JKT01",
            "--name",
            "Jakarta",
            "--timezone",
            "Asia/Jakarta",
        ],
    );
    assert!(ok, "{err}");
    let mut server = serve(&db.url);
    let http = reqwest::Client::new();
    let health: serde_json::Value = http
        .get(format!("{}/health", server.url))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");

    let mut t = enroll(&http, &server.url, &db.url, 9).await;
    let shift = Uuid::now_v7();
    let mut entries = vec![t.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 0,
        cashier: None,
    })];
    for i in 0..200 {
        entries.push(t.entry(&sale(&format!("R-{i}"), shift, &[("A", 1000, 1000)])));
    }

    // Hold the device-heads table so the push waits inside its transaction.
    let pool = sentra_sync::db::connect(&db.url, 2).await.expect("pool");
    let mut blocker = pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE device_heads IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .expect("lock");
    let push_url = format!("{}/v1/push", server.url);
    let cred = t.credential.clone();
    let body = serde_json::json!({ "entries": entries }).to_string();
    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .post(push_url)
            .header(PROTOCOL_HEADER, "1")
            .header("content-type", "application/json")
            .bearer_auth(cred)
            .body(body)
            .send()
            .await
    });
    // Wait until the push is waiting on the lock.
    let mut waiting = false;
    for _ in 0..200 {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .fetch_one(&pool)
        .await
        .expect("activity");
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(waiting, "the push never reached the database");

    // SIGTERM while the batch is in flight.
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.child.try_wait().expect("try_wait").is_none(),
        "the server exited with a batch in flight"
    );
    blocker.commit().await.expect("release");

    let resp = in_flight.await.expect("join").expect("push answered");
    assert_eq!(resp.status().as_u16(), 200);
    let request_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned();
    let r: PushResponse = resp.json().await.expect("push response");
    assert_eq!(r.stored, 201);
    assert_eq!(r.acks[0].acked_seq, 201);
    let exit = server.child.wait().expect("wait");
    assert!(exit.success(), "serve exited with {exit}");
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM journal")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(held, 201);

    // JSON log lines carry the request id of the push.
    let logs: Vec<String> = server.logs.try_iter().collect();
    let push_line = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "push ingested")
        .unwrap_or_else(|| panic!("no push log line in {logs:#?}"));
    assert_eq!(push_line["span"]["request_id"], request_id, "{push_line}");
}

#[tokio::test]
async fn metrics_count_entries_refusals_conflicts_and_devices() {
    let s = common::Server::start().await;
    s.branch("JKT01").await;
    let mut t = s
        .enroll("JKT01", sentra_protocol::wire::DeviceKind::Terminal, 1)
        .await;
    let shift = Uuid::now_v7();
    let open = t.entry(&ShiftOpened {
        shift_id: shift,
        opening_float: 0,
        cashier: None,
    });
    let s1 = t.entry(&sale("R-1", shift, &[("A", 1000, 1000)]));
    let (status, _) = s.push(&t.credential, &[open.clone(), s1], None).await;
    assert_eq!(status, 200);
    let (status, _) = s.push(&t.credential, &[open], None).await; // a replay
    assert_eq!(status, 200);
    let (status, _) = s.post("/v1/push", Some("bogus"), "{}".into()).await;
    assert_eq!(status, 401);
    let text = s.metrics_text().await;
    for needle in [
        "sentra_entries_ingested_total{kind=\"sale_completed\"} 1",
        "sentra_entries_ingested_total{kind=\"shift_opened\"} 1",
        "sentra_entries_duplicate_total 1",
        "sentra_refusals_total{reason=\"unauthorized\"} 1",
        "sentra_push_batch_seconds_count 2",
        &format!(
            "sentra_device_last_seen_seconds{{device_id=\"{}\",branch=\"JKT01\"}}",
            t.device_id
        ),
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    s.stop().await;
}
