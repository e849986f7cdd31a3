//! Receiving a push: the one validation path of the cloud and the branch
//! relay.
//!
//! Both ends receive the same `PushRequest` and must agree on what a genuine,
//! well-placed entry is, so the checks live here once and the storage sits
//! behind [`ReceiveStore`]: the cloud's PostgreSQL ([`crate::ingest`]) and
//! the relay's SQLCipher journal ([`crate::relay::store`]). One test suite
//! (`tests/server/receive_store.rs`) runs against both.
//!
//! 1. Group the entries by device, in seq order.
//! 2. Who may push which device's entries ([`check::may_push`]).
//! 3. Each entry's branch, format, hash, signature and size
//!    ([`check::verify_entry`]), on a blocking thread (the crypto is CPU).
//! 4. The store places each device's entries against its chain tip
//!    ([`check::place`]) and keeps the accepted ones, in one durable
//!    transaction ([`ReceiveStore::commit`]).

pub mod check;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use sentra_protocol::Entry;
use sentra_protocol::wire::{PushRequest, PushResponse, RefusalReason, RefusedEntry};
use uuid::Uuid;

use crate::error::ApiError;
pub use check::{DeviceRecord, Sender};

/// One device's part of a batch after the checks that need no store lock.
pub struct DeviceBatch {
    pub device_id: Uuid,
    /// Sorted by seq.
    pub entries: Vec<Entry>,
    /// Per entry: its canonical payload JSON, or why it is refused.
    pub verified: Vec<Result<String, (RefusalReason, String)>>,
}

/// When the batch arrived, and the sender's clock when it sent it.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    pub received_ms: u64,
    pub sent_at_ms: Option<u64>,
}

/// Where received entries are kept.
pub trait ReceiveStore: Send + Sync {
    /// The named devices, as this store knows them (absent: unknown).
    fn devices(
        &self,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<HashMap<Uuid, DeviceRecord>, ApiError>> + Send;

    /// In one durable transaction: per device (in device-id order), place
    /// the entries against the chain tip with [`check::place`], keep the
    /// accepted ones and move the tip. Returns the acks (one per batch, in
    /// the order given), counts, and the refusals `place` made.
    fn commit(
        &self,
        sender: &Sender,
        batches: Vec<DeviceBatch>,
        arrival: Arrival,
    ) -> impl Future<Output = Result<PushResponse, ApiError>> + Send;
}

/// Checks a push and hands what survives to the store.
pub async fn receive<S: ReceiveStore>(
    store: &S,
    sender: &Sender,
    req: PushRequest,
    arrival: Arrival,
) -> Result<PushResponse, ApiError> {
    let mut by_device: BTreeMap<Uuid, Vec<Entry>> = BTreeMap::new();
    for e in req.entries {
        by_device.entry(e.device_id).or_default().push(e);
    }
    for list in by_device.values_mut() {
        list.sort_by_key(|e| e.seq);
    }
    let ids: Vec<Uuid> = by_device.keys().copied().collect();
    let devices = store.devices(&ids).await?;

    let mut refused = Vec::new();
    let mut batches = Vec::new();
    for (device_id, entries) in by_device {
        let device = devices.get(&device_id);
        match (check::may_push(sender, device_id, device), device) {
            (Ok(()), Some(d)) => batches.push((d.public_key, device_id, entries)),
            (Err((reason, detail)), _) => {
                refused.extend(entries.iter().map(|e| RefusedEntry {
                    device_id,
                    seq: e.seq,
                    reason,
                    detail: detail.clone(),
                }));
            }
            // may_push refuses an unknown device; nothing to place.
            (Ok(()), None) => {}
        }
    }
    let sender2 = sender.clone();
    let batches: Vec<DeviceBatch> = tokio::task::spawn_blocking(move || {
        batches
            .into_iter()
            .map(|(key, device_id, entries)| {
                let verified = entries
                    .iter()
                    .map(|e| check::verify_entry(&sender2, e, &key))
                    .collect();
                DeviceBatch {
                    device_id,
                    entries,
                    verified,
                }
            })
            .collect()
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verification task failed: {e}")))?;

    let mut resp = store.commit(sender, batches, arrival).await?;
    resp.refused.extend(refused);
    resp.refused.sort_by_key(|r| (r.device_id, r.seq));
    resp.acks.sort_by_key(|a| a.device_id);
    Ok(resp)
}
