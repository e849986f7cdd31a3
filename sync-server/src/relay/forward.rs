//! Forwarding to the cloud, and keeping the caches fresh.
//!
//! The forwarder sends what the cloud does not hold yet — per device in seq
//! order, up to `forward_batch` entries a request — and records the cloud's
//! acks. It runs when new entries arrive and on a timer; after a failure it
//! backs off exponentially with full jitter (so a shop full of relays does
//! not hammer a recovering cloud in step), capped at [`MAX_BACKOFF`]. A
//! crash between the cloud's commit and the relay's record of the ack only
//! means the batch is sent again: the cloud counts the copies as duplicates.

use std::sync::Arc;
use std::time::Duration;

use sentra_protocol::wire::PushRequest;
use tokio::sync::watch;

use super::Relay;

/// The longest pause between attempts while the cloud is unreachable.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// With nothing to send, look again this often anyway.
const IDLE_POLL: Duration = Duration::from_secs(2);

/// A uniformly random duration in `[0, cap]` ("full jitter").
pub fn jitter(cap: Duration) -> Duration {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return cap;
    }
    let frac = (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64;
    cap.mul_f64(frac)
}

/// The next backoff cap after a failure.
pub fn next_backoff(current: Duration) -> Duration {
    (current * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF)
}

/// Forwards until `stop` turns true.
pub async fn run(relay: Arc<Relay>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Duration::ZERO;
    loop {
        if *stop.borrow() {
            return;
        }
        match forward_once(&relay).await {
            Ok(0) => {
                backoff = Duration::ZERO;
                tokio::select! {
                    _ = relay.new_entries.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = stop.changed() => return,
                }
            }
            Ok(_) => backoff = Duration::ZERO,
            Err(asked) => {
                backoff = next_backoff(backoff);
                let mut pause = jitter(backoff).max(Duration::from_millis(50));
                // The cloud said when to come back (429 busy): not before,
                // and spread over as long again so the branch's relays
                // do not return together.
                if let Some(asked) = asked {
                    pause = pause.max(asked + jitter(asked));
                }
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// Sends one batch. `Ok(n)`: n entries were sent (0: nothing to send);
/// `Err(retry_after)`: back off, at least as long as the cloud asked.
async fn forward_once(relay: &Relay) -> Result<usize, Option<Duration>> {
    let now = crate::ingest::now_ms();
    let entries = match relay.store.unforwarded(relay.forward_batch, now).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "relay: cannot read entries to forward");
            return Err(None);
        }
    };
    if entries.is_empty() {
        relay.metrics.pending.set(0);
        return Ok(0);
    }
    let n = entries.len();
    let req = PushRequest {
        sent_at_ms: None,
        entries,
    };
    let started = std::time::Instant::now();
    // One span per forward, with the request id the cloud logs it under.
    let request_id = uuid::Uuid::now_v7().to_string();
    let span = tracing::info_span!("relay.forward", entries = n, request_id = %request_id);
    let pushed =
        tracing::Instrument::instrument(relay.upstream.push(&req, &request_id), span).await;
    match pushed {
        Ok(resp) => {
            relay.uplink(true);
            relay
                .metrics
                .forward_seconds
                .observe(started.elapsed().as_secs_f64());
            relay
                .metrics
                .forwarded
                .inc_by(resp.stored + resp.duplicates);
            relay.cloud_refusing(false);
            let refused = resp.refused.len();
            for r in &resp.refused {
                tracing::warn!(device = %r.device_id, seq = r.seq, reason = r.reason.code(), detail = %r.detail, "relay: the cloud refused an entry");
                relay.metrics.forward_refused.inc();
            }
            let progressed = resp.stored + resp.duplicates > 0;
            match relay
                .store
                .record_cloud_acks(resp.acks, resp.refused, now)
                .await
            {
                Ok(parked) => {
                    for (device, reason) in &parked {
                        tracing::warn!(device = %device, %reason, "relay: device parked; the others go on");
                    }
                    if !parked.is_empty() {
                        // Parking changed what the next batch holds.
                        relay.refresh_parked_metric().await;
                        if !progressed {
                            return Ok(n);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "relay: cannot record the cloud's acks");
                    return Err(None);
                }
            }
            relay.acks_changed.send_modify(|v| *v += 1);
            if let Ok(p) = relay.store.pending().await {
                relay.metrics.pending.set(p as i64);
            }
            tracing::info!(
                sent = n,
                stored = resp.stored,
                duplicates = resp.duplicates,
                refused,
                "relay: forwarded"
            );
            // Refused and nothing taken (a gap the next batch resends from,
            // say): back off instead of spinning. Anything taken: go on.
            if refused > 0 && !progressed {
                Err(None)
            } else {
                Ok(n)
            }
        }
        Err(e) => {
            if e.is_link_down() {
                relay.uplink(false);
            }
            // The cloud answers but refuses the relay itself (revoked, or a
            // credential it no longer knows): say so, so terminals go round.
            relay.cloud_refusing(e.refuses_caller());
            relay.metrics.forward_failures.inc();
            tracing::info!(error = %e, "relay: forwarding failed; will retry");
            Err(e.retry_after())
        }
    }
}

/// Refreshes the pull cache and the device list on a timer (the first
/// refresh is made by `start`, before the relay listens).
pub async fn refresh_loop(relay: Arc<Relay>, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let _ = relay.refresh_devices_now().await;
        let _ = relay.refresh_pull(Duration::ZERO).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_below_it() {
        let mut b = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..10 {
            b = next_backoff(b);
            seen.push(b);
        }
        assert_eq!(seen[0], FIRST_BACKOFF);
        assert_eq!(seen[1], FIRST_BACKOFF * 2);
        assert_eq!(*seen.last().unwrap_or(&Duration::ZERO), MAX_BACKOFF);
        for _ in 0..1000 {
            let j = jitter(MAX_BACKOFF);
            assert!(j <= MAX_BACKOFF);
        }
        // Not constant: 1000 draws cover more than one value.
        let draws: std::collections::BTreeSet<_> = (0..100).map(|_| jitter(MAX_BACKOFF)).collect();
        assert!(draws.len() > 50);
    }
}
