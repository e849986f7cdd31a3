//! The sync client's choice of upstream and its ack bookkeeping, against
//! small fake upstreams (a relay and a cloud speaking just enough of the
//! wire): relay first, the cloud when the relay is unreachable, never the
//! cloud when the relay reports its uplink down, rewinding to a replaced
//! relay's ack, and the background loop's backoff and stop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use sentra_domain::{Money, PaymentMethod, Quantity, Tender};
use sentra_keystore::KeyStoreKind;
use sentra_terminal::sync::{
    LoopEvent, LoopOptions, Outcome, RoundOptions, SyncLoop, UpstreamKind,
};
use sentra_terminal::{InitOptions, ItemRequest, SaleRequest, Terminal};
use serde_json::{Value, json};

const CATALOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/catalog.csv");

/// What a fake upstream holds and how it behaves.
#[derive(Default)]
struct Fake {
    relay: bool,
    device: String,
    held: u64,
    /// A relay: whether the cloud takes what it forwards.
    forwards: bool,
    uplink_down: bool,
    /// Refuse (413, as a reverse proxy would) pushes of more entries.
    max_entries: usize,
    /// Every request: method, path, and the seqs of a push.
    log: Vec<String>,
    pushed: Vec<u64>,
}

fn respond(stream: &mut TcpStream, status: &str, body: &Value) {
    let body = body.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nsentra-protocol: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn handle(mut stream: TcpStream, fake: &Mutex<Fake>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut length = 0usize;
    let mut bearer = String::new();
    let mut versioned = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if let Some(v) = lower.trim().strip_prefix("authorization: bearer ") {
            bearer = v.to_owned();
        }
        versioned |= lower.trim() == "sentra-protocol: 1";
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let mut f = fake.lock().unwrap();
    f.log.push(target.clone());
    // The cloud credential never goes to the relay, nor the relay's to the
    // cloud.
    let authorised = bearer
        == if f.relay {
            "relay-credential"
        } else {
            "secret-credential"
        };
    if !authorised || !versioned {
        respond(
            &mut stream,
            "401 Unauthorized",
            &json!({"error": "unauthorized", "message": "no", "retryable": false}),
        );
        return;
    }
    let path = target.split('?').next().unwrap_or("");
    let answer = match path {
        "/v1/push" => {
            let req: Value = serde_json::from_slice(&body).unwrap();
            if f.max_entries > 0 && req["entries"].as_array().unwrap().len() > f.max_entries {
                drop(f);
                let _ = write!(
                    stream,
                    "HTTP/1.1 413 Request Entity Too Large\r\ncontent-type: text/html\r\ncontent-length: 9\r\nconnection: close\r\n\r\ntoo large"
                );
                return;
            }
            let mut refused = Vec::new();
            let mut stored = 0;
            for e in req["entries"].as_array().unwrap() {
                let seq = e["seq"].as_u64().unwrap();
                f.pushed.push(seq);
                if seq == f.held + 1 && refused.is_empty() {
                    f.held = seq;
                    stored += 1;
                } else if seq > f.held {
                    let reason = if refused.is_empty() {
                        "gap"
                    } else {
                        "after_refused"
                    };
                    refused.push(json!({"device_id": f.device, "seq": seq, "reason": reason,
                                        "detail": "fake"}));
                }
            }
            let mut ack = json!({"device_id": f.device, "acked_seq": f.held});
            if !refused.is_empty() {
                ack["expected_seq"] = json!(f.held + 1);
            }
            if f.relay {
                ack["cloud_acked_seq"] = json!(if f.forwards { f.held } else { 0 });
            }
            json!({"acks": [ack], "stored": stored, "duplicates": 0, "refused": refused,
                   "quarantined": [], "conflicts": []})
        }
        "/v1/head" => {
            let mut head = json!({"device_id": f.device, "acked_seq": f.held});
            if f.relay {
                head["cloud_acked_seq"] = json!(if f.forwards { f.held } else { 0 });
                head["uplink"] = json!(if f.uplink_down { "down" } else { "up" });
            }
            head
        }
        "/v1/pull" => {
            let cursor = if f.relay { "relay.1" } else { "cloud.1" };
            // Signed by the cloud's master-data key (seed [1; 32]), as
            // the real cloud does; the relay passes it on unchanged.
            let mut change = sentra_protocol::wire::Change {
                entity: "tax".into(),
                key: "luxury".into(),
                data: json!({"category": "luxury", "rate": "20"}),
                deleted: false,
                scope: None,
                version: 1,
                signature: String::new(),
            };
            sentra_protocol::master::sign_change(&mut change, &cloud_key()).unwrap();
            json!({"changes": [change], "next_cursor": cursor, "more": false})
        }
        _ => {
            respond(
                &mut stream,
                "404 Not Found",
                &json!({"error": "not_found", "message": "no", "retryable": false}),
            );
            return;
        }
    };
    respond(&mut stream, "200 OK", &answer);
}

/// Serve `fake` on a free port; its base URL.
fn serve(fake: Arc<Mutex<Fake>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            handle(stream, &fake);
        }
    });
    url
}

/// A URL nothing listens on (connection refused at once).
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// A terminal with a shift and two sales (tip seq 3), "enrolled" with the
/// given upstreams.
fn till(root: &Path, server: &str, relay: Option<&str>) -> Terminal {
    let data_dir = root.join("data");
    let (mut t, _) = Terminal::init(
        &data_dir,
        &InitOptions {
            branch: "JKT01".into(),
            device_name: "T01".into(),
            key_store: Some(KeyStoreKind::File),
            key_file: Some(root.join("keys").join("db.key")),
            ..InitOptions::default()
        },
    )
    .unwrap();
    t.import_catalog(Path::new(CATALOG)).unwrap();
    t.open_shift(100_000, None).unwrap();
    for _ in 0..2 {
        t.sell(&SaleRequest {
            items: vec![ItemRequest {
                code: "TEH-BTL".into(),
                quantity: Quantity::ONE,
                discount: None,
            }],
            cart_discount: None,
            tenders: vec![Tender {
                method: PaymentMethod::Cash,
                amount: Money::idr(10_000),
                reference: None,
            }],
            cashier: None,
            discount_approved_by: None,
        })
        .unwrap();
    }
    // What enrollment stores, without a cloud to enroll with.
    t.connection()
        .execute(
            "UPDATE sync_state SET server_url = ?1, relay_url = ?2,
                 credential = 'secret-credential', relay_credential = 'relay-credential',
                 master_key = ?4, enrolled_device_id = ?3, enrolled_branch = 'JKT01'",
            rusqlite::params![
                server,
                relay,
                t.device_id().to_string(),
                hex::encode(cloud_key().verifying_key().to_bytes())
            ],
        )
        .unwrap();
    t
}

/// The fake cloud's master-data key.
fn cloud_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[1; 32])
}

fn fake(relay: bool, device: &Terminal) -> Arc<Mutex<Fake>> {
    Arc::new(Mutex::new(Fake {
        relay,
        device: device.device_id().to_string(),
        ..Fake::default()
    }))
}

fn quick() -> RoundOptions {
    RoundOptions {
        head_wait_ms: 0,
        ..RoundOptions::default()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_relay_with_its_uplink_down_holds_the_entries_and_the_cloud_is_not_tried() {
    let root = tempfile::tempdir().unwrap();
    let cloud_url = dead_url();
    let mut t = till(root.path(), &cloud_url, None);
    let relay = fake(true, &t);
    relay.lock().unwrap().uplink_down = true;
    let cloud = fake(false, &t);
    let cloud_url = serve(cloud.clone());
    t.connection()
        .execute("UPDATE sync_state SET server_url = ?1", [&cloud_url])
        .unwrap();
    t.set_relay(Some(&serve(relay.clone()))).unwrap();

    let r = t.sync_round(&quick()).await.unwrap();
    assert_eq!(r.outcome, Outcome::UplinkDown, "{r:?}");
    assert_eq!(r.upstream, Some(UpstreamKind::Relay));
    assert_eq!(r.tip_seq, 3);
    assert_eq!(
        (r.entries.cloud, r.entries.relay_only, r.entries.local),
        (0, 3, 0)
    );
    assert!(
        cloud.lock().unwrap().log.is_empty(),
        "the cloud was not tried"
    );
    let status = t.sync_status().unwrap();
    assert_eq!(status.last_outcome.as_deref(), Some("uplink_down"));
    let shown = serde_json::to_string(&status).unwrap() + &format!("{status:?}");
    assert!(
        !shown.contains("secret-credential"),
        "status never shows the credential"
    );
    assert_eq!(status.last_error.unwrap().kind, "uplink_down");
    // The relay's pull cursor is its own.
    let (relay_cursor, cloud_cursor): (String, String) = t
        .connection()
        .query_row(
            "SELECT relay_pull_cursor, cloud_pull_cursor FROM sync_state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (relay_cursor.as_str(), cloud_cursor.as_str()),
        ("relay.1", "")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_relay_that_forwards_leaves_every_entry_held_by_the_cloud() {
    let root = tempfile::tempdir().unwrap();
    let mut t = till(root.path(), &dead_url(), None);
    let relay = fake(true, &t);
    relay.lock().unwrap().forwards = true;
    t.set_relay(Some(&serve(relay.clone()))).unwrap();
    let r = t.sync_round(&quick()).await.unwrap();
    assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    assert_eq!((r.relay_acked_seq, r.cloud_acked_seq), (3, 3));
    assert_eq!(r.entries.cloud, 3);
    // The pulled tax rate is usable at once (settings reloaded).
    assert!(t.tax_config().rates.contains_key("luxury"));
    let log = relay.lock().unwrap().log.clone();
    assert!(log[0].starts_with("/v1/push"), "{log:?}");
    assert!(
        log[1].starts_with("/v1/head?wait_for=3&wait_ms=0"),
        "{log:?}"
    );
    assert!(log[2].starts_with("/v1/pull"), "{log:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_relay_is_passed_over_for_the_cloud() {
    let root = tempfile::tempdir().unwrap();
    let mut t = till(root.path(), &dead_url(), Some(&dead_url()));
    let cloud = fake(false, &t);
    let cloud_url = serve(cloud.clone());
    t.connection()
        .execute("UPDATE sync_state SET server_url = ?1", [&cloud_url])
        .unwrap();
    let started = Instant::now();
    let r = t.sync_round(&quick()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(r.outcome, Outcome::RelayUnreachable, "{r:?}");
    assert_eq!(r.upstream, Some(UpstreamKind::Cloud));
    assert!(r.relay_error.is_some());
    assert_eq!((r.entries.cloud, r.entries.local), (3, 0));
    assert_eq!(cloud.lock().unwrap().pushed, vec![1, 2, 3]);
    let status = t.sync_status().unwrap();
    assert_eq!(status.last_upstream.as_deref(), Some("cloud"));
    assert!(status.last_success_ms.is_some());
}

#[tokio::test(flavor = "current_thread")]
async fn a_replaced_relay_is_refilled_from_the_ack_it_gives() {
    let root = tempfile::tempdir().unwrap();
    let mut t = till(root.path(), &dead_url(), None);
    let relay = fake(true, &t);
    relay.lock().unwrap().forwards = true;
    t.set_relay(Some(&serve(relay.clone()))).unwrap();
    // We believe the relay holds seq 1 and 2; the relay was replaced by an
    // empty one.
    t.connection()
        .execute("UPDATE sync_state SET relay_acked_seq = 2", [])
        .unwrap();
    let r = t.sync_round(&quick()).await.unwrap();
    assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    assert_eq!(r.relay_acked_seq, 3);
    // Seq 3 was refused as a gap, then everything resent from seq 1.
    assert_eq!(relay.lock().unwrap().pushed, vec![3, 1, 2, 3]);
    assert!(r.refused.iter().any(|x| x.reason == "gap"));
    // Once acknowledged, the refusal is no longer listed.
    assert!(t.sync_status().unwrap().refusals.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_cloud_down_is_an_outcome_not_an_error_and_not_enrolled_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let mut t = till(root.path(), &dead_url(), None);
    let r = t.sync_round(&quick()).await.unwrap();
    assert_eq!(r.outcome, Outcome::CloudUnreachable);
    assert_eq!(r.entries.local, 3);
    t.connection()
        .execute("UPDATE sync_state SET credential = NULL", [])
        .unwrap();
    let e = t.sync_round(&quick()).await.unwrap_err();
    assert!(e.to_string().contains("not enrolled"), "{e}");
}

#[test]
fn the_loop_backs_off_after_failures_recovers_and_stops_promptly() {
    let root = tempfile::tempdir().unwrap();
    let t = till(root.path(), &dead_url(), None);
    let cloud = fake(false, &t);
    let data_dir = t.data_dir().to_owned();
    drop(t);

    let (tx, rx) = mpsc::channel();
    let options = LoopOptions {
        round: quick(),
        interval: Duration::from_millis(50),
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(80),
    };
    let dir = data_dir.clone();
    let sync = SyncLoop::spawn(
        move || Terminal::open(&dir),
        options,
        move |event| {
            let _ = tx.send(event);
        },
    )
    .unwrap();
    let next = || match rx.recv_timeout(Duration::from_secs(30)).unwrap() {
        LoopEvent::Round { report, next_in } => (report.outcome, next_in),
        LoopEvent::Failed { error, .. } => panic!("round failed: {error}"),
    };
    // The cloud is down: rounds keep coming, each wait within the backoff
    // ceiling (20, 40, 80, 80 ms).
    for ceiling in [20, 40, 80, 80] {
        let (outcome, wait) = next();
        assert_eq!(outcome, Outcome::CloudUnreachable);
        assert!(
            wait <= Duration::from_millis(ceiling),
            "{wait:?} > {ceiling} ms"
        );
    }
    // The cloud comes back (same address): the loop recovers by itself and
    // goes back to its normal interval.
    {
        let t = Terminal::open(&data_dir).unwrap();
        let url = serve(cloud.clone());
        t.connection()
            .execute("UPDATE sync_state SET server_url = ?1", [&url])
            .unwrap();
    }
    let recovered = (0..50).find_map(|_| {
        let (outcome, wait) = next();
        (outcome == Outcome::Ok).then_some(wait)
    });
    assert_eq!(recovered, Some(Duration::from_millis(50)));
    assert_eq!(cloud.lock().unwrap().pushed, vec![1, 2, 3]);
    sync.sync_now();
    let started = Instant::now();
    sync.stop();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "current_thread")]
async fn a_proxy_that_takes_smaller_bodies_gets_smaller_batches() {
    let root = tempfile::tempdir().unwrap();
    let mut t = till(root.path(), &dead_url(), None);
    let cloud = fake(false, &t);
    cloud.lock().unwrap().max_entries = 1;
    let url = serve(cloud.clone());
    t.connection()
        .execute("UPDATE sync_state SET server_url = ?1", [&url])
        .unwrap();
    let r = t.sync_round(&quick()).await.unwrap();
    assert_eq!(r.outcome, Outcome::Ok, "{r:?}");
    assert_eq!(r.entries.cloud, 3);
    assert_eq!(cloud.lock().unwrap().pushed, vec![1, 2, 3]);
}
