//! One sync round: push the outbox, learn how far the cloud holds it, pull
//! master data — through the relay when one is set and answering, else
//! straight to the cloud.
//!
//! No database transaction is ever open across a network call: a batch is
//! read, the connection released, the request sent, and the answer written
//! in a short transaction of its own. A round cancelled at any await point
//! (the loop being stopped) leaves the database consistent.

use std::collections::HashSet;

use sentra_protocol::Entry;
use sentra_protocol::payload::MasterDataRefused;
use sentra_protocol::wire::{
    ConflictNotice, MAX_BODY_BYTES, MAX_PULL_LIMIT, MAX_PUSH_ENTRIES, PushRequest, RefusalReason,
    UplinkState,
};
use serde::Serialize;
use zeroize::Zeroizing;

use super::client::{CallError, Upstream};
use super::state::{self, Acks, EntryStates};
use super::{SyncError, UpstreamKind, pull};
use crate::Terminal;
use crate::error::Result;
use crate::journal;

/// Knobs of a round.
#[derive(Clone, Debug)]
pub struct RoundOptions {
    /// Entries per push request (at most `MAX_PUSH_ENTRIES`).
    pub push_batch: usize,
    /// Changes per pull page (at most `MAX_PULL_LIMIT`).
    pub pull_limit: u32,
    /// How long a relay may hold `GET /v1/head` waiting for the cloud to
    /// hold our tip.
    pub head_wait_ms: u64,
    /// A relay holds our entries but the cloud's ack has not moved for this
    /// long: push straight to the cloud as well (duplicates are harmless).
    pub relay_stall_ms: u64,
}

/// The default of [`RoundOptions::relay_stall_ms`]: four background rounds.
pub const DEFAULT_RELAY_STALL_MS: u64 = 120_000;

impl Default for RoundOptions {
    fn default() -> Self {
        RoundOptions {
            push_batch: 500,
            pull_limit: 500,
            head_wait_ms: 3000,
            relay_stall_ms: DEFAULT_RELAY_STALL_MS,
        }
    }
}

/// How a round went, for people and the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything the upstream would take was exchanged.
    Ok,
    /// The relay did not answer (or does not know us yet); the cloud took
    /// the round directly.
    RelayUnreachable,
    /// The relay holds our entries but cannot reach the cloud itself (the
    /// branch's internet line is down).
    UplinkDown,
    /// No relay answered and the cloud could not be reached.
    CloudUnreachable,
    /// The cloud (or the relay on its behalf) refused, and retrying the
    /// same request will not help: `error_code` says why.
    CloudRefusing,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::RelayUnreachable => "relay_unreachable",
            Outcome::UplinkDown => "uplink_down",
            Outcome::CloudUnreachable => "cloud_unreachable",
            Outcome::CloudRefusing => "cloud_refusing",
        }
    }

    /// Whether the round moved data to an upstream that keeps it safe (the
    /// background loop waits its normal interval rather than backing off).
    pub fn delivered(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::RelayUnreachable)
    }
}

/// An entry an upstream refused during the round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoundRefusal {
    pub upstream: UpstreamKind,
    pub seq: u64,
    pub reason: String,
    pub detail: String,
}

/// What one round did.
#[derive(Clone, Debug, Serialize)]
pub struct RoundReport {
    pub outcome: Outcome,
    /// For `cloud_refusing`: the refusal's code (`device_revoked`, `fork`,
    /// …); for the unreachable outcomes: what failed.
    pub error_code: Option<String>,
    /// A sentence for people when the outcome is not `ok`.
    pub message: Option<String>,
    /// The upstream that took the round.
    pub upstream: Option<UpstreamKind>,
    /// Why the relay was passed over, when it was.
    pub relay_error: Option<String>,
    /// The relay's link to the cloud, as the relay reported it.
    pub uplink: Option<UplinkState>,
    /// Entries newly stored upstream, and resent ones it already held.
    pub stored: u64,
    pub duplicates: u64,
    pub refused: Vec<RoundRefusal>,
    pub quarantined: u64,
    /// Conflicts the cloud raised on our entries (for review at head office).
    pub conflicts: Vec<ConflictNotice>,
    /// Pulled changes applied, and unreadable ones skipped.
    pub pulled: u64,
    pub skipped_changes: u64,
    /// Master data refused because it was not as the cloud signed it
    /// (altered on the way): what, and from which upstream.
    pub master_data_refused: Option<String>,
    /// Stock levels received from the cloud (`GET /v1/stock`).
    pub stock_levels: u64,
    /// Why no stock levels came this round, when they did not (the round's
    /// outcome does not depend on them: the till keeps the ones it has).
    pub stock_problem: Option<String>,
    /// Products whose price changed because a price came into force.
    pub prices_refreshed: u64,
    /// Master data changed: a host holding another `Terminal` connection
    /// should call `reload_settings`.
    pub settings_changed: bool,
    pub tip_seq: u64,
    pub relay_acked_seq: u64,
    pub cloud_acked_seq: u64,
    pub entries: EntryStates,
    pub started_at_ms: u64,
    pub duration_ms: u64,
    /// The cloud asked to be left alone this long (`429 busy` with
    /// `Retry-After`): the background loop waits at least this much.
    pub retry_after_ms: Option<u64>,
}

/// How a leg (all the calls to one upstream) ended, short of a database
/// error.
enum Leg {
    Done {
        uplink: Option<UplinkState>,
        /// The relay has parked this device: the cloud refuses it.
        parked: Option<String>,
        /// A pulled page was not as the cloud signed it: nothing of it was
        /// applied.
        forged: Option<String>,
    },
    /// An entry was refused for a reason resending will not cure.
    Stopped {
        reason: String,
        detail: String,
    },
    Failed(CallError),
}

/// Resending these does not help within a round; they need a person, an
/// update or a later round.
fn is_permanent(reason: RefusalReason) -> bool {
    !matches!(
        reason,
        RefusalReason::Gap | RefusalReason::BrokenLink | RefusalReason::AfterRefused
    )
}

/// A JSON push body of at most `MAX_BODY_BYTES`: halve the batch until it
/// fits (a few very large sales can outgrow the limit before the count does).
fn push_body(mut entries: Vec<Entry>, now_ms: u64) -> Result<Vec<u8>> {
    loop {
        let request = PushRequest {
            sent_at_ms: Some(now_ms),
            entries,
        };
        let body = serde_json::to_vec(&request).map_err(|e| SyncError::Client(e.to_string()))?;
        if body.len() <= MAX_BODY_BYTES || request.entries.len() <= 1 {
            return Ok(body);
        }
        entries = request.entries;
        let keep = entries.len() / 2;
        entries.truncate(keep);
    }
}

impl Terminal {
    /// One sync round. Network trouble is an outcome in the report, not an
    /// error; errors are local (database) or "not enrolled".
    pub async fn sync_round(&mut self, options: &RoundOptions) -> Result<RoundReport> {
        let started = self.ctx.clock.now_ms();
        let stored = state::load(&self.conn)?;
        let (Some(server), Some(credential)) = (stored.server_url.clone(), stored.credential)
        else {
            return Err(SyncError::NotEnrolled.into());
        };
        let branch = self.ctx.author.branch.clone();
        let prices_refreshed = pull::refresh_due_prices(&mut self.conn, &branch, started)?;
        let http = super::client::http_client().map_err(SyncError::Client)?;
        let mut report = RoundReport {
            outcome: Outcome::Ok,
            error_code: None,
            message: None,
            upstream: None,
            relay_error: None,
            uplink: None,
            stored: 0,
            duplicates: 0,
            refused: Vec::new(),
            quarantined: 0,
            conflicts: Vec::new(),
            pulled: 0,
            skipped_changes: 0,
            master_data_refused: None,
            stock_levels: 0,
            stock_problem: None,
            prices_refreshed,
            settings_changed: false,
            tip_seq: 0,
            relay_acked_seq: 0,
            cloud_acked_seq: 0,
            entries: EntryStates::default(),
            started_at_ms: started,
            duration_ms: 0,
            retry_after_ms: None,
        };
        let options = RoundOptions {
            push_batch: options.push_batch.clamp(1, MAX_PUSH_ENTRIES),
            pull_limit: options.pull_limit.clamp(1, MAX_PULL_LIMIT),
            head_wait_ms: options.head_wait_ms,
            relay_stall_ms: options.relay_stall_ms,
        };

        // Enrolled before master data was signed: ask the cloud itself
        // (never the relay) for its key and a relay credential.
        let mut relay_credential = stored.relay_credential.clone();
        if stored.master_key.is_none() || (stored.relay_url.is_some() && relay_credential.is_none())
        {
            // Unreachable now: the legs below say so; asked again next round.
            if let Ok(t) = super::client::trust(&http, &server, credential.as_str()).await {
                match sentra_protocol::master::parse_key(&t.master_key) {
                    Ok(key) => {
                        state::store_trust(
                            &self.conn,
                            &hex::encode(key.to_bytes()),
                            t.relay_credential.as_deref(),
                        )?;
                        relay_credential =
                            t.relay_credential.map(Zeroizing::new).or(relay_credential);
                    }
                    Err(e) => {
                        report.master_data_refused =
                            Some(format!("the cloud's master-data key is unusable: {e}"));
                    }
                }
            }
        }

        let mut relay_failed = false;
        let mut bypass = false;
        let mut done = false;
        if let Some(relay_url) = stored.relay_url.clone() {
            let leg = match relay_credential {
                Some(relay_credential) => {
                    let relay = Upstream::new(
                        UpstreamKind::Relay,
                        relay_url,
                        relay_credential,
                        http.clone(),
                    );
                    self.leg(&relay, &options, &mut report).await?
                }
                None => Leg::Failed(CallError::Unreachable(
                    "this terminal has no relay credential yet (the cloud gives one when it \
                     next answers)"
                        .into(),
                )),
            };
            match leg {
                Leg::Done {
                    uplink,
                    parked,
                    forged,
                } => {
                    report.upstream = Some(UpstreamKind::Relay);
                    report.uplink = uplink;
                    // The relay answered: the cloud is behind the same
                    // internet line, so a relay with its uplink down is not
                    // bypassed (unless it has not moved our entries on for
                    // `relay_stall_ms`, below).
                    if uplink == Some(UplinkState::Down) {
                        report.outcome = Outcome::UplinkDown;
                        report.error_code = Some("uplink_down".into());
                        report.message = Some(
                            "the branch relay holds this terminal's entries but cannot reach the cloud (internet line down?)".into(),
                        );
                    }
                    done = true;
                    // Go round the relay when it cannot get our entries to
                    // the cloud: it parked us (the cloud refuses us — hear
                    // why first hand), the cloud refuses the relay itself,
                    // or the cloud's ack has not moved for a while.
                    let st = state::load(&self.conn)?;
                    let tip = journal::tip(&self.conn, self.ctx.author.device_id)?.seq;
                    let now = self.ctx.clock.now_ms();
                    let stalled = st.cloud_acked_seq < tip
                        && st
                            .cloud_progress_at_ms
                            .is_some_and(|t| now.saturating_sub(t) >= options.relay_stall_ms);
                    let why = if let Some(f) = &forged {
                        Some(format!(
                            "the relay served master data the cloud did not sign ({f}); \
                             nothing of it was applied"
                        ))
                    } else if let Some(p) = &parked {
                        Some(format!("the relay parked this terminal: {p}"))
                    } else if uplink == Some(UplinkState::Refusing) {
                        Some("the cloud refuses the branch relay".to_owned())
                    } else if stalled {
                        Some(format!(
                            "the relay has not moved this terminal's entries to the cloud for {} s",
                            options.relay_stall_ms / 1000
                        ))
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        report.relay_error = Some(why);
                        bypass = true;
                        done = false;
                    }
                }
                Leg::Stopped { reason, detail } => {
                    relay_failed = true;
                    report.relay_error =
                        Some(format!("relay refused an entry: {reason}: {detail}"));
                }
                Leg::Failed(e) => {
                    relay_failed = true;
                    let why = if e.relay_unreachable() {
                        "relay unreachable"
                    } else {
                        "relay refused"
                    };
                    report.relay_error = Some(format!("{why}: {}", e.message()));
                }
            }
        }
        if !done {
            let cloud = Upstream::new(UpstreamKind::Cloud, server, credential, http);
            match self.leg(&cloud, &options, &mut report).await? {
                // Going round a relay that answered, and the cloud does not
                // answer either: the relay's outcome stands.
                Leg::Failed(e) if bypass && e.retryable() => {
                    report.relay_error = Some(format!(
                        "{}; the cloud did not answer directly either: {}",
                        report.relay_error.clone().unwrap_or_default(),
                        e.message()
                    ));
                }
                Leg::Done { .. } => {
                    report.upstream = Some(UpstreamKind::Cloud);
                    if bypass {
                        report.outcome = Outcome::Ok;
                        report.error_code = None;
                        report.message = report.relay_error.clone();
                    }
                    if relay_failed {
                        report.outcome = Outcome::RelayUnreachable;
                        report.error_code = Some("relay_unreachable".into());
                        report.message = report.relay_error.clone();
                    }
                }
                Leg::Stopped { reason, detail } => {
                    report.outcome = Outcome::CloudRefusing;
                    report.message = Some(format!(
                        "the cloud refused entries: {reason}: {detail}; they are kept on this terminal and need attention"
                    ));
                    report.error_code = Some(reason);
                }
                Leg::Failed(e) if e.retryable() => {
                    report.outcome = Outcome::CloudUnreachable;
                    report.error_code = Some(e.code());
                    report.retry_after_ms = e
                        .retry_after()
                        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                    // No answer at all, or an answer that says "try later"
                    // (a 503, a proxy's 502): both are retried, but only the
                    // first is "unreachable".
                    report.message = Some(match &e {
                        CallError::Unreachable(_) => {
                            format!("the cloud could not be reached: {}", e.message())
                        }
                        _ => format!(
                            "the cloud answered but could not take the entries now (it will be retried): {}",
                            e.message()
                        ),
                    });
                }
                Leg::Failed(e) => {
                    report.outcome = Outcome::CloudRefusing;
                    report.error_code = Some(e.code());
                    report.message = Some(format!("the cloud refused: {}", e.message()));
                }
            }
        }
        if report.settings_changed {
            self.reload_settings()?;
        }

        let now = self.ctx.clock.now_ms();
        let after = state::load(&self.conn)?;
        let tip = journal::tip(&self.conn, self.ctx.author.device_id)?.seq;
        report.tip_seq = tip;
        report.relay_acked_seq = after.relay_acked_seq;
        report.cloud_acked_seq = after.cloud_acked_seq;
        report.entries = EntryStates::count(tip, after.relay_acked_seq, after.cloud_acked_seq);
        report.duration_ms = now.saturating_sub(started);
        let error = match report.outcome {
            Outcome::Ok => None,
            other => Some((
                other.code(),
                report.message.as_deref().unwrap_or(other.code()),
            )),
        };
        state::record_round(
            &self.conn,
            report.outcome.code(),
            report.upstream.filter(|_| report.outcome.delivered()),
            error,
            now,
        )?;
        Ok(report)
    }

    /// Push, head, pull against one upstream. `Err` only for local errors.
    async fn leg(
        &mut self,
        up: &Upstream,
        options: &RoundOptions,
        report: &mut RoundReport,
    ) -> Result<Leg> {
        let device = self.ctx.author.device_id;
        let kind = up.kind;

        // The cloud's head first: if it was restored to an earlier point, we
        // learn it here and resend what it lost in this same round.
        if kind == UpstreamKind::Cloud {
            let head = match up.head(0, 0).await {
                Ok(h) => h,
                Err(e) => return Ok(Leg::Failed(e)),
            };
            let now = self.ctx.clock.now_ms();
            state::record_answer(
                &mut self.conn,
                kind,
                Acks {
                    held: head.acked_seq,
                    cloud_at_least: None,
                },
                &[],
                now,
            )?;
        }

        // Push the outbox from what this upstream already holds.
        let mut next = state::load(&self.conn)?.acked(kind) + 1;
        let mut batch_size = options.push_batch;
        let mut tried = HashSet::new();
        loop {
            let tip = journal::tip(&self.conn, device)?.seq;
            // `tried`: an answer that sends us back where we already were
            // would loop for ever; stop and leave it to the next round.
            if next > tip || !tried.insert((next, batch_size)) {
                break;
            }
            let batch = journal::read_after(&self.conn, device, next - 1, batch_size)?;
            if batch.is_empty() {
                break;
            }
            let now = self.ctx.clock.now_ms();
            let body = push_body(batch, now)?;
            let resp = match up.push(body).await {
                Ok(r) => r,
                // A reverse proxy in front of the upstream may take smaller
                // bodies than the protocol allows: halve the batch and retry.
                Err(CallError::Refused { status: 413, .. }) if batch_size > 1 => {
                    batch_size /= 2;
                    continue;
                }
                Err(e) => return Ok(Leg::Failed(e)),
            };
            let Some(ack) = resp.acks.iter().find(|a| a.device_id == device) else {
                return Ok(Leg::Failed(CallError::BadResponse(
                    "the push answer has no acknowledgement for this device".into(),
                )));
            };
            let own: Vec<_> = resp
                .refused
                .iter()
                .filter(|r| r.device_id == device)
                .cloned()
                .collect();
            let acks = match kind {
                UpstreamKind::Relay => Acks {
                    held: ack.acked_seq,
                    cloud_at_least: ack.cloud_acked_seq,
                },
                UpstreamKind::Cloud => Acks {
                    held: ack.acked_seq,
                    cloud_at_least: None,
                },
            };
            state::record_answer(&mut self.conn, kind, acks, &own, self.ctx.clock.now_ms())?;
            report.stored += resp.stored;
            report.duplicates += resp.duplicates;
            report.quarantined += resp.quarantined.len() as u64;
            report.conflicts.extend(resp.conflicts);
            report.refused.extend(own.iter().map(|r| RoundRefusal {
                upstream: kind,
                seq: r.seq,
                reason: r.reason.code().to_owned(),
                detail: r.detail.clone(),
            }));
            if let Some(r) = own.iter().find(|r| is_permanent(r.reason)) {
                return Ok(Leg::Stopped {
                    reason: r.reason.code().to_owned(),
                    detail: format!("seq {}: {}", r.seq, r.detail),
                });
            }
            next = ack.expected_seq.unwrap_or(ack.acked_seq + 1);
        }

        // How far the cloud holds us, as the relay knows it (waiting a
        // little for the relay to forward what we just gave it).
        let mut uplink = None;
        let mut parked = None;
        if kind == UpstreamKind::Relay {
            let tip = journal::tip(&self.conn, device)?.seq;
            let head = match up.head(tip, options.head_wait_ms).await {
                Ok(h) => h,
                Err(e) => return Ok(Leg::Failed(e)),
            };
            state::record_answer(
                &mut self.conn,
                kind,
                Acks {
                    held: head.acked_seq,
                    cloud_at_least: head.cloud_acked_seq,
                },
                &[],
                self.ctx.clock.now_ms(),
            )?;
            state::set_relay_parked(&self.conn, head.parked.as_deref())?;
            uplink = head.uplink;
            parked = head.parked;
        }

        // Pull master data, page by page, each page with its cursor.
        let branch = self.ctx.author.branch.clone();
        let stored = state::load(&self.conn)?;
        let Some(cloud_key) = stored
            .master_key
            .as_deref()
            .and_then(|k| sentra_protocol::master::parse_key(k).ok())
        else {
            // Nothing pulled can be checked yet: keep what we have.
            report.master_data_refused.get_or_insert_with(|| {
                "no master-data key from the cloud yet: nothing pulled".to_owned()
            });
            return Ok(Leg::Done {
                uplink,
                parked,
                forged: None,
            });
        };
        let mut cursor = stored.cursor(kind).to_owned();
        let mut restarted = false;
        loop {
            let page = match up.pull(&cursor, options.pull_limit).await {
                Ok(p) => p,
                // The upstream no longer knows our cursor (restored, or a
                // different relay): start over; applying is idempotent.
                Err(CallError::Refused { status: 400, body })
                    if body.error == "malformed_request" && !cursor.is_empty() && !restarted =>
                {
                    restarted = true;
                    state::reset_cursor(&self.conn, kind)?;
                    cursor.clear();
                    continue;
                }
                Err(e) => return Ok(Leg::Failed(e)),
            };
            let effect = pull::apply_page(
                &mut self.conn,
                kind,
                &branch,
                &cloud_key,
                &page,
                self.ctx.clock.now_ms(),
            )?;
            if let Some(problem) = effect.refused {
                let message = format!("{} served {problem}", kind.as_str());
                let new = state::record_master_alert(
                    &self.conn,
                    kind,
                    &message,
                    self.ctx.clock.now_ms(),
                )?;
                // Head office hears of it once per alert, through the journal.
                if new {
                    let (entity, key) = problem.change();
                    self.journal_master_data_refused(MasterDataRefused {
                        upstream: kind.as_str().to_owned(),
                        entity: entity.to_owned(),
                        key: key.to_owned(),
                        problem: problem.code().to_owned(),
                    })?;
                }
                report.master_data_refused = Some(message.clone());
                return Ok(Leg::Done {
                    uplink,
                    parked,
                    forged: Some(problem.to_string()),
                });
            }
            report.pulled += effect.applied;
            report.skipped_changes += effect.skipped;
            report.settings_changed |= effect.applied > 0;
            let progressed = page.next_cursor != cursor;
            cursor = page.next_cursor;
            if !page.more || !progressed {
                break;
            }
        }
        state::clear_master_alert(&self.conn, kind)?;
        self.pull_stock(up, &cloud_key, report).await?;
        Ok(Leg::Done {
            uplink,
            parked,
            forged: None,
        })
    }
}

impl Terminal {
    /// The branch's stock levels changed since the stored cursor, page by
    /// page, each verified as the cloud's and stored with its cursor. Stock
    /// is for showing, never for money: a failure is noted in the report
    /// and leaves the round's outcome alone.
    async fn pull_stock(
        &mut self,
        up: &Upstream,
        cloud_key: &ed25519_dalek::VerifyingKey,
        report: &mut RoundReport,
    ) -> Result<()> {
        let branch = self.ctx.author.branch.clone();
        let device = self.ctx.author.device_id;
        let mut cursor = crate::stock::cursor(&self.conn)?;
        let mut restarted = false;
        for _ in 0..crate::stock::MAX_STOCK_PAGES_PER_ROUND {
            let page = match up.stock(&cursor).await {
                Ok(p) => p,
                Err(CallError::Refused { status: 400, body })
                    if body.error == "malformed_request" && !cursor.is_empty() && !restarted =>
                {
                    restarted = true;
                    crate::stock::reset_cursor(&self.conn)?;
                    cursor.clear();
                    continue;
                }
                Err(e) => {
                    report.stock_problem = Some(format!(
                        "no stock levels from the {}: {}",
                        up.kind.as_str(),
                        e.message()
                    ));
                    return Ok(());
                }
            };
            if let Err(why) = sentra_protocol::master::verify_stock_page(&page, cloud_key, &branch)
            {
                report.stock_problem = Some(format!("{} served {why}", up.kind.as_str()));
                return Ok(());
            }
            let now = self.ctx.clock.now_ms();
            report.stock_levels += crate::stock::apply_page(&mut self.conn, &page, device, now)?;
            let progressed = page.next_cursor != cursor;
            cursor = page.next_cursor;
            if !page.more || !progressed {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_resendable_refusals_keep_a_leg_going() {
        assert!(!is_permanent(RefusalReason::Gap));
        assert!(!is_permanent(RefusalReason::BrokenLink));
        assert!(!is_permanent(RefusalReason::AfterRefused));
        assert!(is_permanent(RefusalReason::Fork));
        assert!(is_permanent(RefusalReason::DeviceRevoked));
        assert!(is_permanent(RefusalReason::BadSignature));
    }
}
