//! Devices of the caller's branches (`GET /office/devices`): kind, name,
//! enrolled, last seen, chain tip, flags. Admins and the branch's managers
//! make a one-time enrollment code (`POST /office/devices/enroll-code`,
//! shown once as text and as a QR code; only its hash is kept), revoke a
//! device with a reason (`POST /office/devices/{id}/revoke`: its credential
//! and every entry it signs are refused from then on, also through a relay;
//! entries already held stay) and clear a flag after review (`POST
//! /office/devices/{id}/readmit`).

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::json;
use uuid::Uuid;

use crate::Office;
use crate::audit;
use crate::auth::Session;
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Nav};

/// How long a code made in the page stays usable unless a shorter time is
/// chosen.
pub const DEFAULT_CODE_HOURS: i64 = 24;

type DeviceRow = (
    Uuid,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<i64>,
    Option<DateTime<Utc>>,
    String,
);

fn may_manage(s: &Session) -> Result<()> {
    if s.role.manages_branches() {
        Ok(())
    } else {
        Err(OfficeError::Forbidden(
            "Only admins and the branch's managers manage its devices.",
        ))
    }
}

/// `GET /office/devices?branch=`.
pub async fn page(State(office): State<Office>, s: Session, uri: Uri) -> Result<Markup> {
    let q = Form::query(&uri)?;
    let l = s.lang;
    let only = match q.text("branch") {
        None => None,
        Some(code) => Some(s.branch(code).ok_or(OfficeError::NotFound)?.id),
    };
    let mut tx = scope::read(&office, &s).await?;
    let rows: Vec<DeviceRow> = sqlx::query_as(
        "SELECT d.device_id, b.code, d.kind, d.name, d.enrolled_at, d.revoked_at, d.revoke_reason,
                d.flagged_at, d.flag_reason, h.seq, a.last_seen_at, b.timezone
         FROM devices d JOIN branches b USING (branch_id)
         LEFT JOIN device_heads h ON h.branch_id = d.branch_id AND h.device_id = d.device_id
         LEFT JOIN device_activity a ON a.device_id = d.device_id
         WHERE $1::integer IS NULL OR d.branch_id = $1
         ORDER BY b.code, d.kind DESC, d.enrolled_at",
    )
    .bind(only)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let manage = s.role.manages_branches();
    let body = html! {
        @if let Some(done) = q.text("done") {
            p.ok #done { (match done {
                "revoked" => l.t("Perangkat dicabut: kiriman berikutnya ditolak.", "Device revoked: its next push is refused."),
                _ => l.t("Tanda perangkat dihapus setelah ditinjau.", "Device flag cleared after review."),
            }) }
        }
        @if manage {
            form.filters #enroll method="post" action="/office/devices/enroll-code" {
                input type="hidden" name="csrf" value=(s.csrf);
                label { (l.t("Cabang", "Branch"))
                    select name="branch" { @for b in &s.branches { option value=(b.code) { (b.code) " — " (b.name) } } } }
                label { (l.t("Jenis", "Kind"))
                    select name="kind" {
                        option value="terminal" { (l.t("kasir", "till")) }
                        option value="relay" { (l.t("relay cabang", "branch relay")) }
                    } }
                label { (l.t("Berlaku (jam)", "Valid (hours)")) input name="hours" value=(DEFAULT_CODE_HOURS) inputmode="numeric" size="4"; }
                button { (l.t("Buat kode pendaftaran", "Make an enrollment code")) }
            }
        }
        table #devices {
            thead { tr {
                th { (l.t("Cabang", "Branch")) } th { (l.t("Jenis", "Kind")) } th { (l.t("Nama", "Name")) }
                th { (l.t("Terdaftar", "Enrolled")) } th { (l.t("Terakhir terlihat", "Last seen")) }
                th.num { (l.t("Ujung rantai", "Chain tip")) } th { (l.t("Status", "Status")) }
                @if manage { th { (l.t("Tindakan", "Actions")) } }
            } }
            tbody {
                @for r in &rows {
                    @let tz = ui::tz(&r.11);
                    tr data-device=(r.0) {
                        td { (r.1) }
                        td { (if r.2 == "relay" { l.t("relay", "relay") } else { l.t("kasir", "till") }) }
                        td { (r.3) br; small.mono title=(r.0) { (ui::short_hex(&r.0.to_string())) } }
                        td { (ui::datetime(l, r.4, tz)) }
                        td { (r.10.map_or("—".into(), |t| ui::datetime(l, t, tz))) }
                        td.num { a href={ "/office/devices/" (r.0) "/verify" } { (r.9.unwrap_or(0)) } }
                        td {
                            @if let Some(at) = r.5 {
                                span.bad { (l.t("dicabut", "revoked")) } " " (ui::datetime(l, at, tz))
                                @if let Some(why) = &r.6 { br; small { (why) } }
                            } @else if r.7.is_some() {
                                span.warn { (l.t("ditandai", "flagged")) } br; small { (r.8.as_deref().unwrap_or("")) }
                            } @else { span.ok { (l.t("aktif", "active")) } }
                        }
                        @if manage {
                            td {
                                @if r.5.is_none() {
                                    form.inline method="post" action={ "/office/devices/" (r.0) "/revoke" } {
                                        input type="hidden" name="csrf" value=(s.csrf);
                                        input name="reason" required maxlength="500" placeholder=(l.t("alasan pencabutan", "reason for revoking"));
                                        button.danger { (l.t("Cabut", "Revoke")) }
                                    }
                                }
                                @if r.7.is_some() && r.5.is_none() {
                                    form.inline method="post" action={ "/office/devices/" (r.0) "/readmit" } {
                                        input type="hidden" name="csrf" value=(s.csrf);
                                        input name="note" required maxlength="500" placeholder=(l.t("hasil peninjauan", "review note"));
                                        button { (l.t("Terima kembali", "Re-admit")) }
                                    }
                                }
                            }
                        }
                    }
                }
                @if rows.is_empty() { tr { td colspan="8" { (l.t("Belum ada perangkat.", "No devices yet.")) } } }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Devices,
        l.t("Perangkat", "Devices"),
        "/office/devices",
        body,
    ))
}

/// The QR code of `text` as an `<img>` source (CSP allows `data:` images).
pub fn qr_data_url(text: &str) -> Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| OfficeError::Internal(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// `POST /office/devices/enroll-code` (`branch`, `kind`, `hours`).
pub async fn enroll_code(State(office): State<Office>, s: Session, form: Form) -> Result<Response> {
    s.check_csrf(&form)?;
    may_manage(&s)?;
    let l = s.lang;
    let b = s
        .branch(form.get("branch").unwrap_or(""))
        .ok_or(OfficeError::Forbidden(
            "You may not enroll devices for that branch.",
        ))?
        .clone();
    let kind = match form.get("kind") {
        Some("relay") => "relay",
        Some("terminal") | None => "terminal",
        Some(other) => {
            return Err(OfficeError::BadInput(format!(
                "kind {other:?} must be terminal or relay"
            )));
        }
    };
    let hours: i64 = match form.text("hours") {
        None => DEFAULT_CODE_HOURS,
        Some(h) => h
            .parse()
            .ok()
            .filter(|h| (1..=168).contains(h))
            .ok_or_else(|| OfficeError::BadInput(format!("hours {h:?} must be from 1 to 168")))?,
    };
    let mut random = [0u8; 12];
    getrandom::fill(&mut random)
        .map_err(|e| OfficeError::Internal(format!("no randomness: {e}")))?;
    let code = sentra_protocol::enroll_code::from_random(random);
    let mut tx = scope::write(&office, &s).await?;
    let expires: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO enroll_codes (code_hash, branch_id, kind, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(hours => $4))
         RETURNING expires_at",
    )
    .bind(&sentra_protocol::enroll_code::hash(&code)[..])
    .bind(b.id)
    .bind(kind)
    .bind(i32::try_from(hours).unwrap_or(24))
    .fetch_one(&mut *tx)
    .await?;
    // Never the code itself: the log is read by more people than the code's
    // recipient.
    audit::append(
        &mut *tx,
        &audit::Record {
            branch_id: Some(b.id),
            target: Some(format!("enrollment code {} {kind}", b.code)),
            new_value: Some(json!({"branch": b.code, "kind": kind, "expires_at": expires})),
            ..audit::Record::by(&s, "enroll_code_created")
        },
    )
    .await?;
    tx.commit().await?;
    let qr = qr_data_url(&code)?;
    let body = html! {
        p { (l.t("Kode sekali pakai untuk", "One-time code for")) " " strong { (b.code) " — " (b.name) } " ("
            (if kind == "relay" { l.t("relay cabang", "branch relay") } else { l.t("kasir", "till") }) ")." }
        p.code #code { (code) }
        img #qr src=(qr) alt=(code) width="240" height="240";
        p { (l.t("Berlaku sampai", "Valid until")) " " (ui::datetime(l, expires, b.tz)) ". "
            (l.t("Kode ini hanya ditampilkan sekali; huruf besar/kecil, spasi, tanda hubung (boleh dilewati), O/0 dan I/L/1 dimaafkan saat diketik.",
                 "This code is shown only once; case, spaces, hyphens (or none), O/0 and I/L/1 are forgiven when typed.")) }
        p.mono { "sentra-term enroll --server URL --code " (code) }
        p { a href="/office/devices" { (l.t("Kembali ke perangkat", "Back to devices")) } }
    };
    Ok(ui::page(
        &s,
        Nav::Devices,
        l.t("Kode pendaftaran", "Enrollment code"),
        "/office/devices",
        body,
    )
    .into_response())
}

type DeviceState = (
    i32,
    String,
    String,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<String>,
);

async fn device(tx: &mut sqlx::PgConnection, id: Uuid) -> Result<DeviceState> {
    sqlx::query_as(
        "SELECT branch_id, name, kind, revoked_at, flagged_at, flag_reason FROM devices
         WHERE device_id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(OfficeError::NotFound)
}

/// `POST /office/devices/{id}/revoke` (`reason`).
pub async fn revoke(
    State(office): State<Office>,
    s: Session,
    Path(id): Path<Uuid>,
    form: Form,
) -> Result<Response> {
    s.check_csrf(&form)?;
    may_manage(&s)?;
    let why = form.reason("reason")?;
    let mut tx = scope::write(&office, &s).await?;
    // RLS: another branch's device is not found.
    let d = device(&mut tx, id).await?;
    if d.3.is_none() {
        sqlx::query(
            "UPDATE devices SET revoked_at = now(), revoke_reason = $2 WHERE device_id = $1",
        )
        .bind(id)
        .bind(&why)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut *tx,
            &audit::Record {
                branch_id: Some(d.0),
                target: Some(format!("device {id} ({} {})", d.2, d.1)),
                old_value: Some(json!({"revoked": false})),
                new_value: Some(json!({"revoked": true, "reason": why})),
                ..audit::Record::by(&s, "device_revoked")
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to("/office/devices?done=revoked").into_response())
}

/// `POST /office/devices/{id}/readmit` (`note`).
pub async fn readmit(
    State(office): State<Office>,
    s: Session,
    Path(id): Path<Uuid>,
    form: Form,
) -> Result<Response> {
    s.check_csrf(&form)?;
    may_manage(&s)?;
    let note = form.reason("note")?;
    let mut tx = scope::write(&office, &s).await?;
    let d = device(&mut tx, id).await?;
    if d.3.is_some() {
        return Err(OfficeError::BadInput(
            "a revoked device cannot be re-admitted; enroll it again with a new code".into(),
        ));
    }
    if let Some(flagged_at) = d.4 {
        sqlx::query(
            "UPDATE devices SET flagged_at = NULL, flag_reason = NULL, reviewed_at = now(),
                                review_note = $2
             WHERE device_id = $1",
        )
        .bind(id)
        .bind(&note)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut *tx,
            &audit::Record {
                branch_id: Some(d.0),
                target: Some(format!("device {id} ({} {})", d.2, d.1)),
                old_value: Some(json!({"flagged_at": flagged_at, "flag_reason": d.5})),
                new_value: Some(json!({"flagged": false, "review_note": note})),
                ..audit::Record::by(&s, "device_readmitted")
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to("/office/devices?done=readmitted").into_response())
}
