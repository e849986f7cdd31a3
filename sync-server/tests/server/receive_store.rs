//! One test suite, two stores: the cloud's PostgreSQL ([`CloudStore`]) and
//! the relay's SQLCipher journal ([`RelayStore`]) must receive a push the
//! same way — what is genuine, what is a replay, what is refused and why.
//! Every case below runs against both.
#![allow(clippy::unwrap_used)]

use crate::common;

use std::sync::Arc;

use common::{Device, Server, default_rules};
use ed25519_dalek::SigningKey;
use sentra_keystore::DbKey;
use sentra_protocol::wire::{DeviceKind, PushRequest, PushResponse, RefusalReason, RelayDevice};
use sentra_protocol::{Entry, EntryKind};
use sentra_sync::ingest::CloudStore;
use sentra_sync::metrics::Metrics;
use sentra_sync::receive::{Arrival, ReceiveStore, Sender, receive};
use sentra_sync::relay::store::RelayStore;
use serde_json::json;

const BRANCH: &str = "JKT01";
const OTHER: &str = "BDG01";

/// A store under test, with the means to register devices in it.
trait Fixture {
    type Store: ReceiveStore;
    fn store(&self) -> &Self::Store;
    /// Registers a device of `branch` as this store would know it.
    async fn device(&mut self, branch: &str, kind: DeviceKind, seed: u8) -> Device;
    async fn revoke(&mut self, device: &Device);
    /// Drops and reopens the store (a restart).
    async fn reopen(&mut self);
}

/// The cloud store of branch `BRANCH`, on the test server's database.
struct CloudHandle {
    server: Server,
    store: CloudStore,
}

impl CloudHandle {
    async fn new() -> CloudHandle {
        let server = Server::start().await;
        let branch_id = server.branch(BRANCH).await;
        server.branch(OTHER).await;
        let store = CloudStore::new(
            server.pool.clone(),
            Arc::new(Metrics::new()),
            default_rules().skew_tolerance,
            branch_id,
            "Asia/Jakarta".parse().unwrap(),
        );
        CloudHandle { server, store }
    }
}

impl Fixture for CloudHandle {
    type Store = CloudStore;
    fn store(&self) -> &Self::Store {
        &self.store
    }
    async fn device(&mut self, branch: &str, kind: DeviceKind, seed: u8) -> Device {
        self.server.enroll(branch, kind, seed).await
    }
    async fn revoke(&mut self, device: &Device) {
        sqlx::query("UPDATE devices SET revoked_at = now() WHERE device_id = $1")
            .bind(device.device_id)
            .execute(&self.server.pool)
            .await
            .unwrap();
    }
    async fn reopen(&mut self) {
        // The store is stateless over its pool: a new one sees the same data.
        self.store = CloudStore::new(
            self.store.pool.clone(),
            self.store.metrics.clone(),
            self.store.skew_tolerance,
            self.store.branch_id,
            self.store.tz,
        );
    }
}

struct Relay {
    dir: tempfile::TempDir,
    key: DbKey,
    store: RelayStore,
    devices: Vec<RelayDevice>,
}

impl Relay {
    fn open(dir: &std::path::Path, key: &DbKey, create: bool) -> RelayStore {
        let path = dir.join("relay.db");
        let mut conn = if create {
            sentra_journal_store::db::create_new(&path, key).unwrap()
        } else {
            sentra_journal_store::db::open_existing(&path, key)
                .map_err(|e| format!("{e:?}"))
                .unwrap()
        };
        sentra_journal_store::db::prepare(&mut conn).unwrap();
        RelayStore::new(conn, BRANCH)
    }

    fn new() -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let key = DbKey::generate().unwrap();
        let store = Relay::open(dir.path(), &key, true);
        Relay {
            dir,
            key,
            store,
            devices: Vec::new(),
        }
    }
}

impl Fixture for Relay {
    type Store = RelayStore;
    fn store(&self) -> &Self::Store {
        &self.store
    }
    async fn device(&mut self, branch: &str, kind: DeviceKind, seed: u8) -> Device {
        let d = Device::unenrolled(branch, seed);
        // The relay knows only its own branch's devices.
        if branch == BRANCH {
            self.devices.push(RelayDevice {
                device_id: d.device_id,
                kind,
                name: format!("device {seed}"),
                public_key: hex::encode(d.key.verifying_key().as_bytes()),
                credential_sha256: hex::encode([seed; 32]),
                revoked: false,
            });
            self.store
                .replace_devices(self.devices.clone())
                .await
                .unwrap();
        }
        d
    }
    async fn revoke(&mut self, device: &Device) {
        for d in &mut self.devices {
            if d.device_id == device.device_id {
                d.revoked = true;
            }
        }
        self.store
            .replace_devices(self.devices.clone())
            .await
            .unwrap();
    }
    async fn reopen(&mut self) {
        // Replacing the store drops its connection (its only owner).
        self.store = Relay::open(self.dir.path(), &self.key, false);
    }
}

fn sender(d: &Device, kind: DeviceKind) -> Sender {
    Sender {
        device_id: d.device_id,
        kind,
        branch_code: BRANCH.into(),
    }
}

fn note(d: &mut Device, n: i64) -> Entry {
    d.raw(EntryKind::Other("note".into()), json!({ "n": n }))
}

async fn push<F: Fixture>(f: &F, from: &Sender, entries: &[Entry]) -> PushResponse {
    let arrival = Arrival {
        received_ms: common::now_ms(),
        sent_at_ms: None,
    };
    let req = PushRequest {
        sent_at_ms: None,
        entries: entries.to_vec(),
    };
    receive(f.store(), from, req, arrival).await.unwrap()
}

fn reasons(r: &PushResponse) -> Vec<(u64, RefusalReason)> {
    r.refused.iter().map(|x| (x.seq, x.reason)).collect()
}

fn acked(r: &PushResponse, d: &Device) -> u64 {
    r.acks
        .iter()
        .find(|a| a.device_id == d.device_id)
        .map_or(0, |a| a.acked_seq)
}

// ------------------------------------------------------------------ cases

async fn new_entries_are_stored_and_a_replay_is_a_duplicate<F: Fixture>(mut f: F) {
    let mut t = f.device(BRANCH, DeviceKind::Terminal, 1).await;
    let batch: Vec<Entry> = (1..=5).map(|n| note(&mut t, n)).collect();
    let s = sender(&t, DeviceKind::Terminal);
    let r = push(&f, &s, &batch).await;
    assert_eq!((r.stored, r.duplicates), (5, 0), "{r:?}");
    assert_eq!(acked(&r, &t), 5);
    // Out of order and repeated: the same five, nothing new.
    let mut shuffled = batch.clone();
    shuffled.reverse();
    let r = push(&f, &s, &shuffled).await;
    assert_eq!((r.stored, r.duplicates), (0, 5), "{r:?}");
    assert_eq!(acked(&r, &t), 5);
    // What is held survives a restart.
    f.reopen().await;
    let more = note(&mut t, 6);
    let r = push(&f, &s, &[batch[4].clone(), more]).await;
    assert_eq!((r.stored, r.duplicates), (1, 1), "{r:?}");
    assert_eq!(acked(&r, &t), 6);
}

async fn a_gap_is_refused_with_the_expected_seq<F: Fixture>(mut f: F) {
    let mut t = f.device(BRANCH, DeviceKind::Terminal, 1).await;
    let batch: Vec<Entry> = (1..=4).map(|n| note(&mut t, n)).collect();
    let s = sender(&t, DeviceKind::Terminal);
    push(&f, &s, &batch[..1]).await;
    let r = push(&f, &s, &batch[2..]).await;
    assert_eq!(
        reasons(&r),
        vec![(3, RefusalReason::Gap), (4, RefusalReason::AfterRefused)]
    );
    assert_eq!(r.stored, 0);
    assert_eq!(r.acks[0].acked_seq, 1);
    assert_eq!(r.acks[0].expected_seq, Some(2));
    let r = push(&f, &s, &batch[1..]).await;
    assert_eq!((r.stored, acked(&r, &t)), (3, 4), "{r:?}");
}

async fn an_altered_entry_is_refused_and_the_genuine_copy_then_accepted<F: Fixture>(mut f: F) {
    let mut t = f.device(BRANCH, DeviceKind::Terminal, 1).await;
    let batch: Vec<Entry> = (1..=3).map(|n| note(&mut t, n)).collect();
    let s = sender(&t, DeviceKind::Terminal);
    let mut altered = batch.clone();
    altered[1].payload = json!({ "n": 999 });
    let r = push(&f, &s, &altered).await;
    assert_eq!(
        reasons(&r),
        vec![
            (2, RefusalReason::HashMismatch),
            (3, RefusalReason::AfterRefused)
        ]
    );
    assert_eq!((r.stored, acked(&r, &t)), (1, 1));
    let r = push(&f, &s, &batch).await;
    assert_eq!((r.stored, r.duplicates, acked(&r, &t)), (2, 1, 3), "{r:?}");
}

async fn an_entry_signed_with_another_key_is_refused<F: Fixture>(mut f: F) {
    let mut t = f.device(BRANCH, DeviceKind::Terminal, 1).await;
    let mut forger = t.clone();
    forger.key = SigningKey::from_bytes(&[99; 32]);
    let forged = note(&mut forger, 1);
    let s = sender(&t, DeviceKind::Terminal);
    let r = push(&f, &s, &[forged]).await;
    assert_eq!(reasons(&r), vec![(1, RefusalReason::BadSignature)]);
    assert_eq!(r.stored, 0);
    let genuine = note(&mut t, 1);
    let r = push(&f, &s, &[genuine]).await;
    assert_eq!((r.stored, acked(&r, &t)), (1, 1));
}

async fn a_terminal_pushes_only_its_own_entries_a_relay_any_of_its_branch<F: Fixture>(mut f: F) {
    let mut a = f.device(BRANCH, DeviceKind::Terminal, 1).await;
    let b = f.device(BRANCH, DeviceKind::Terminal, 2).await;
    let relay = f.device(BRANCH, DeviceKind::Relay, 3).await;
    let e = note(&mut a, 1);
    let r = push(
        &f,
        &sender(&b, DeviceKind::Terminal),
        std::slice::from_ref(&e),
    )
    .await;
    assert_eq!(reasons(&r), vec![(1, RefusalReason::NotOwnEntry)]);
    let r = push(&f, &sender(&relay, DeviceKind::Relay), &[e]).await;
    assert_eq!((r.stored, acked(&r, &a)), (1, 1), "{r:?}");
}

async fn a_device_of_another_branch_is_refused<F: Fixture>(mut f: F) {
    let relay = f.device(BRANCH, DeviceKind::Relay, 3).await;
    let mut foreign = f.device(OTHER, DeviceKind::Terminal, 4).await;
    let e = note(&mut foreign, 1);
    let r = push(&f, &sender(&relay, DeviceKind::Relay), &[e]).await;
    assert_eq!(r.stored, 0);
    let (seq, reason) = reasons(&r)[0];
    assert_eq!(seq, 1);
    // The cloud knows the device and names its branch; a relay knows only
    // its own branch's devices.
    assert!(
        matches!(
            reason,
            RefusalReason::WrongBranch | RefusalReason::UnknownDevice
        ),
        "{reason:?}"
    );
}

async fn a_revoked_device_is_refused<F: Fixture>(mut f: F) {
    let mut t = f.device(BRANCH, DeviceKind::Terminal, 1).await;
    let relay = f.device(BRANCH, DeviceKind::Relay, 3).await;
    f.revoke(&t).await;
    let e = note(&mut t, 1);
    let r = push(&f, &sender(&relay, DeviceKind::Relay), &[e]).await;
    assert_eq!(reasons(&r), vec![(1, RefusalReason::DeviceRevoked)]);
}

async fn a_different_genuine_entry_at_a_held_seq_is_a_fork<F: Fixture>(mut f: F) {
    let mut t = f.device(BRANCH, DeviceKind::Terminal, 1).await;
    let mut twin = t.clone();
    let s = sender(&t, DeviceKind::Terminal);
    let first = note(&mut t, 1);
    push(&f, &s, &[first]).await;
    let other = note(&mut twin, 2);
    let r = push(&f, &s, &[other]).await;
    assert_eq!(reasons(&r), vec![(1, RefusalReason::Fork)]);
    assert_eq!((r.stored, r.duplicates, acked(&r, &t)), (0, 0, 1));
}

async fn an_unknown_device_is_refused<F: Fixture>(mut f: F) {
    let relay = f.device(BRANCH, DeviceKind::Relay, 3).await;
    let mut stranger = Device::unenrolled(BRANCH, 7);
    let e = note(&mut stranger, 1);
    let r = push(&f, &sender(&relay, DeviceKind::Relay), &[e]).await;
    assert_eq!(reasons(&r), vec![(1, RefusalReason::UnknownDevice)]);
}

macro_rules! both_stores {
    ($($case:ident),* $(,)?) => {
        mod cloud {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::CloudHandle::new().await).await;
                }
            )*
        }
        mod relay {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Relay::new()).await;
                }
            )*
        }
    };
}

both_stores!(
    new_entries_are_stored_and_a_replay_is_a_duplicate,
    a_gap_is_refused_with_the_expected_seq,
    an_altered_entry_is_refused_and_the_genuine_copy_then_accepted,
    an_entry_signed_with_another_key_is_refused,
    a_terminal_pushes_only_its_own_entries_a_relay_any_of_its_branch,
    a_device_of_another_branch_is_refused,
    a_revoked_device_is_refused,
    a_different_genuine_entry_at_a_held_seq_is_a_fork,
    an_unknown_device_is_refused,
);
