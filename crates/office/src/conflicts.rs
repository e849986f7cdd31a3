//! The conflict queue: `GET /office/conflicts` (filter by kind, branch,
//! device, date and status; each conflict in words a finance clerk reads)
//! and `POST /office/conflicts/decide` (resolve or dismiss one or many, with
//! a required comment). A decision never edits a ledger figure: it records
//! who decided what, and the audit log keeps it.

use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, html};
use serde_json::Value;
use uuid::Uuid;

use crate::Office;
use crate::audit::{self, date_inputs};
use crate::auth::Session;
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Lang, Nav};

/// Every kind the catalogue raises (docs/sync-protocol.md, "Conflicts").
pub const KINDS: [&str; 11] = [
    "oversold",
    "stale_price",
    "over_refund",
    "orphan_reference",
    "voucher_double_spend",
    "clock_skew",
    "shift_mismatch",
    "fork",
    "foreign_shift",
    "void_not_allowed",
    "unverified_return",
];

pub fn kind_label(l: Lang, kind: &str) -> &'static str {
    match kind {
        "oversold" => l.t("Stok minus", "Oversold"),
        "stale_price" => l.t("Harga tidak berlaku", "Stale price"),
        "over_refund" => l.t("Retur berlebih", "Over-refund"),
        "orphan_reference" => l.t("Struk asal belum ada", "Orphan reference"),
        "voucher_double_spend" => l.t("Voucher dipakai ganda", "Voucher double spend"),
        "clock_skew" => l.t("Jam perangkat meleset", "Clock skew"),
        "shift_mismatch" => l.t("Tutup shift tidak cocok", "Shift mismatch"),
        "fork" => l.t("Rantai bercabang (fork)", "Fork"),
        "foreign_shift" => l.t("Shift mesin lain", "Foreign shift"),
        "void_not_allowed" => l.t("Pembatalan ditolak", "Void not allowed"),
        "unverified_return" => l.t("Retur tanpa struk asal", "Return without the original"),
        _ => l.t("Lainnya", "Other"),
    }
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "?".into(),
        Some(other) => other.to_string(),
    }
}

fn i(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn milli(m: i64) -> String {
    if m % 1000 == 0 {
        (m / 1000).to_string()
    } else {
        format!("{},{:03}", m / 1000, (m % 1000).abs())
    }
}

/// What a conflict means, in words. `name` and `qty_milli` come from the
/// product and the sale line where the kind names them.
pub fn describe(
    l: Lang,
    kind: &str,
    d: &Value,
    name: Option<&str>,
    qty_milli: Option<i64>,
) -> String {
    let item = name.map_or_else(|| s(d, "sku"), str::to_owned);
    match kind {
        "stale_price" => match l {
            Lang::Id => format!(
                "Terjual {} × {} seharga {}; harga yang berlaku {} (struk {}).",
                qty_milli.map_or("?".into(), milli), item, ui::rp(i(d, "charged")), ui::rp(i(d, "in_force")), s(d, "receipt_no")
            ),
            Lang::En => format!(
                "Sold {} × {} at {}; the price in force was {} (receipt {}).",
                qty_milli.map_or("?".into(), milli), item, ui::rp(i(d, "charged")), ui::rp(i(d, "in_force")), s(d, "receipt_no")
            ),
        },
        "oversold" => match l {
            Lang::Id => format!(
                "Terjual {} × {} (struk {}) padahal stok {}; stok menjadi {} pada {}.",
                milli(i(d, "sold_milli")), item, s(d, "receipt_no"), milli(i(d, "on_hand_before_milli")), milli(i(d, "on_hand_after_milli")), s(d, "business_date")
            ),
            Lang::En => format!(
                "Sold {} × {} (receipt {}) with {} in stock; stock went to {} on {}.",
                milli(i(d, "sold_milli")), item, s(d, "receipt_no"), milli(i(d, "on_hand_before_milli")), milli(i(d, "on_hand_after_milli")), s(d, "business_date")
            ),
        },
        "over_refund" => {
            let o = d.get("over").cloned().unwrap_or(Value::Null);
            match l {
                Lang::Id => format!(
                    "Retur struk {} melebihi yang terjual: baris {} terjual {}, sudah diretur {}, diminta {}.",
                    s(d, "receipt_no"), s(&o, "line"), milli(i(&o, "sold")), milli(i(&o, "earlier")), milli(i(&o, "asked"))
                ),
                Lang::En => format!(
                    "Refunds of receipt {} exceed what was sold: line {} sold {}, refunded before {}, this refund asked {}.",
                    s(d, "receipt_no"), s(&o, "line"), milli(i(&o, "sold")), milli(i(&o, "earlier")), milli(i(&o, "asked"))
                ),
            }
        }
        "orphan_reference" => match l {
            Lang::Id => format!("{} menyebut struk {} yang belum diterima cloud (menunggu sejak {}).", s(d, "entry_kind"), s(d, "receipt_no"), s(d, "parked_since")),
            Lang::En => format!("A {} names receipt {}, which the cloud has not received (waiting since {}).", s(d, "entry_kind"), s(d, "receipt_no"), s(d, "parked_since")),
        },
        "voucher_double_spend" => match l {
            Lang::Id => format!("Voucher {} dipakai lebih dari sekali ({} kali).", s(d, "code"), d.get("redemptions").and_then(Value::as_array).map_or(0, Vec::len)),
            Lang::En => format!("Voucher {} was redeemed more than once ({} times).", s(d, "code"), d.get("redemptions").and_then(Value::as_array).map_or(0, Vec::len)),
        },
        "clock_skew" => {
            let mins = i(d, "skew_ms") as f64 / 60_000.0;
            match l {
                Lang::Id => format!("Jam perangkat meleset {mins:.1} menit; waktu entri seq {}–{} dikoreksi.", s(d, "first_seq"), s(d, "last_seq")),
                Lang::En => format!("The device's clock was off by {mins:.1} minutes; the times of entries seq {}–{} were corrected.", s(d, "first_seq"), s(d, "last_seq")),
            }
        }
        "shift_mismatch" => {
            let diffs: Vec<String> = d
                .get("differences")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|x| format!("{}: {} ≠ {}", s(x, "figure"), s(x, "reported"), s(x, "recomputed")))
                        .collect()
                })
                .unwrap_or_default();
            match l {
                Lang::Id => format!("Tutup shift dari mesin kasir berbeda dengan hitungan ulang cloud — {}.", diffs.join("; ")),
                Lang::En => format!("The till's shift close differs from the cloud's recount — {}.", diffs.join("; ")),
            }
        }
        "fork" => l.t(
            "Dua entri berbeda bertanda tangan sah untuk seq yang sama: perangkat ditandai dan perlu ditinjau.",
            "Two different, genuinely signed entries for the same seq: the device is flagged for review.",
        ).into(),
        "foreign_shift" => match l {
            Lang::Id => format!("{} menyebut shift yang dibuka mesin kasir lain; dicatat tanpa mengubah shift itu.", s(d, "entry_kind")),
            Lang::En => format!("A {} names a shift another till opened; kept without touching that shift.", s(d, "entry_kind")),
        },
        "void_not_allowed" => match l {
            Lang::Id => format!("Pembatalan struk {} ditolak ({}); penjualan tetap dihitung.", s(d, "receipt_no"), s(d, "reason")),
            Lang::En => format!("A void of receipt {} was refused ({}); the sale still counts.", s(d, "receipt_no"), s(d, "reason")),
        },
        "unverified_return" => match l {
            Lang::Id => format!(
                "Retur {} sebesar {} atas struk {} tanpa data penjualan asal (kasir offline), disetujui supervisor: {}. Periksa terhadap penjualannya.",
                s(d, "refund_no"), ui::rp(i(d, "total")), s(d, "receipt_no"), s(d, "reason")
            ),
            Lang::En => format!(
                "Refund {} of {} for receipt {} made without the original sale (till offline), approved by a supervisor: {}. Check it against the sale.",
                s(d, "refund_no"), ui::rp(i(d, "total")), s(d, "receipt_no"), s(d, "reason")
            ),
        },
        _ => d.to_string(),
    }
}

/// branch, conflict, kind, device name, device, seq, details, raised,
/// resolved, resolution, decision, decided by, product name, line qty.
type Row = (
    String,
    Uuid,
    String,
    Option<String>,
    Uuid,
    i64,
    Value,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

pub async fn page(
    State(office): State<Office>,
    s: Session,
    OriginalUri(uri): OriginalUri,
) -> Result<Markup> {
    let l = s.lang;
    let q = Form::query(&uri)?;
    let kind = q.text("kind").map(str::to_owned);
    if let Some(k) = &kind
        && !KINDS.contains(&k.as_str())
    {
        return Err(OfficeError::BadInput(format!("no conflict kind {k:?}")));
    }
    let branch = match q.text("branch") {
        Some(code) => Some(s.branch(code).cloned().ok_or(OfficeError::NotFound)?),
        None => None,
    };
    let device = q
        .text("device")
        .map(|t| {
            Uuid::parse_str(t).map_err(|_| OfficeError::BadInput(format!("not a device: {t:?}")))
        })
        .transpose()?;
    let status = q.text("status").unwrap_or("open").to_owned();
    if !["open", "decided", "all"].contains(&status.as_str()) {
        return Err(OfficeError::BadInput(
            "status is open, decided or all".into(),
        ));
    }
    let from: Option<NaiveDate> = q.text("from").map(scope::parse_date).transpose()?;
    let to: Option<NaiveDate> = q.text("to").map(scope::parse_date).transpose()?;
    let mut tx = scope::read(&office, &s).await?;
    let devices: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT d.device_id, b.code, d.name FROM devices d JOIN branches b USING (branch_id) ORDER BY b.code, d.name",
    )
    .fetch_all(&mut *tx)
    .await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT b.code, c.conflict_id, c.kind, d.name, c.device_id, c.seq, c.details, c.raised_at,
                c.resolved_at, c.resolution, c.decision, u.email, p.name, sl.quantity_milli
         FROM conflicts c
         JOIN branches b ON b.branch_id = c.branch_id
         LEFT JOIN devices d ON d.device_id = c.device_id
         LEFT JOIN office_users u ON u.user_id = c.resolved_by
         LEFT JOIN products p ON p.sku = c.details ->> 'sku'
         LEFT JOIN sale_lines sl ON c.kind = 'stale_price' AND sl.branch_id = c.branch_id
              AND sl.sale_entry_id = c.entry_id
              AND sl.line_no = CASE WHEN c.details ->> 'line_no' ~ '^[0-9]{1,9}$'
                                    THEN (c.details ->> 'line_no')::int END
         WHERE ($1::text IS NULL OR c.kind = $1)
           AND ($2::int IS NULL OR c.branch_id = $2)
           AND ($3::uuid IS NULL OR c.device_id = $3)
           AND ($4::date IS NULL OR c.raised_at >= $4::date)
           AND ($5::date IS NULL OR c.raised_at < $5::date + 1)
           AND ($6 = 'all' OR ($6 = 'open') = (c.resolved_at IS NULL))
         ORDER BY c.raised_at DESC, c.conflict_id LIMIT 500",
    )
    .bind(&kind)
    .bind(branch.as_ref().map(|b| b.id))
    .bind(device)
    .bind(from)
    .bind(to)
    .bind(&status)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let done = q.text("done");
    let can_decide = s.role.decides_conflicts();
    let tz_of = |code: &str| s.branch(code).map_or(chrono_tz::Tz::UTC, |b| b.tz);
    let back = uri
        .path_and_query()
        .map_or("/office/conflicts".into(), |p| p.to_string());
    let body = html! {
        @if let Some(n) = done { p.notice role="status" { (n) " " (l.t("konflik diputuskan.", "conflicts decided.")) } }
        form.filters method="get" action="/office/conflicts" {
            label { (l.t("Jenis", "Kind"))
                select name="kind" {
                    option value="" { (l.t("semua", "all")) }
                    @for k in KINDS { option value=(k) selected[kind.as_deref() == Some(k)] { (kind_label(l, k)) } }
                }
            }
            label { (l.t("Cabang", "Branch"))
                select name="branch" {
                    option value="" { (l.t("semua", "all")) }
                    @for b in &s.branches { option value=(b.code) selected[branch.as_ref().is_some_and(|x| x.code == b.code)] { (b.code) } }
                }
            }
            label { (l.t("Perangkat", "Device"))
                select name="device" {
                    option value="" { (l.t("semua", "all")) }
                    @for d in &devices { option value=(d.0) selected[device == Some(d.0)] { (d.1) " · " (d.2) } }
                }
            }
            (date_inputs(l, from, to))
            label { (l.t("Status", "Status"))
                select name="status" {
                    option value="open" selected[status == "open"] { (l.t("terbuka", "open")) }
                    option value="decided" selected[status == "decided"] { (l.t("sudah diputuskan", "decided")) }
                    option value="all" selected[status == "all"] { (l.t("semua", "all")) }
                }
            }
            button type="submit" { (l.t("Saring", "Filter")) }
        }
        form #decide method="post" action="/office/conflicts/decide" {
            input type="hidden" name="csrf" value=(s.csrf);
            input type="hidden" name="back" value=(back);
            div.scroll { table #conflicts {
                thead { tr {
                    th { @if can_decide { input type="checkbox" id="select-all" title=(l.t("pilih semua", "select all")); } }
                    th { (l.t("Jenis", "Kind")) } th { (l.t("Cabang", "Branch")) } th { (l.t("Perangkat", "Device")) }
                    th { (l.t("Muncul", "Raised")) } th { (l.t("Apa yang terjadi", "What happened")) } th { (l.t("Keputusan", "Decision")) }
                } }
                tbody {
                    @for r in &rows {
                        tr data-kind=(r.2) data-conflict=(r.1) {
                            td { @if can_decide && r.8.is_none() { input type="checkbox" name="id" value={ (r.0) ":" (r.1) }; } }
                            td { (kind_label(l, &r.2)) br; small.muted { code { (r.2) } } }
                            td { (r.0) }
                            td { (r.3.clone().unwrap_or_else(|| r.4.to_string())) " " small.muted { "seq " (r.5) } }
                            td { (ui::datetime(l, r.7, tz_of(&r.0))) }
                            td.what { (describe(l, &r.2, &r.6, r.12.as_deref(), r.13)) details { summary { (l.t("rincian", "details")) } code.json { (r.6.to_string()) } } }
                            td {
                                @match (&r.8, &r.10) {
                                    (None, _) => span.badge.warn { (l.t("terbuka", "open")) },
                                    (Some(at), Some(dec)) => {
                                        span.badge.ok { (if dec == "resolved" { l.t("diselesaikan", "resolved") } else { l.t("diabaikan", "dismissed") }) }
                                        " " small { (r.11.clone().unwrap_or_default()) " · " (ui::datetime(l, *at, tz_of(&r.0))) }
                                        br; q { (r.9.clone().unwrap_or_default()) }
                                    },
                                    (Some(_), None) => { span.badge.ok { (l.t("selesai otomatis", "closed automatically")) } " " small { (r.9.clone().unwrap_or_default()) } },
                                }
                            }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="7" { (l.t("Tidak ada konflik.", "No conflicts.")) } } }
                }
            } }
            @if can_decide && rows.iter().any(|r| r.8.is_none()) {
                fieldset.decide {
                    legend { (l.t("Putuskan yang dipilih", "Decide the selected")) }
                    label { (l.t("Komentar (wajib)", "Comment (required)")) textarea name="comment" required maxlength="1000" rows="2" {} }
                    button.primary name="decision" value="resolved" { (l.t("Selesaikan", "Resolve")) }
                    button name="decision" value="dismissed" { (l.t("Abaikan", "Dismiss")) }
                    p.muted { (l.t("Keputusan tidak mengubah angka buku besar; hanya dicatat siapa memutuskan apa.", "A decision never edits a ledger figure: it records who decided what.")) }
                }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Conflicts,
        l.t("Konflik", "Conflicts"),
        "/office/conflicts",
        body,
    ))
}

/// Longest comment kept.
const MAX_COMMENT: usize = 1000;
/// Most conflicts one bulk decision takes.
const MAX_BULK: usize = 1000;

pub async fn decide(State(office): State<Office>, s: Session, form: Form) -> Result<Response> {
    s.check_csrf(&form)?;
    if !s.role.decides_conflicts() {
        return Err(OfficeError::Forbidden(
            "Only finance and admins decide conflicts.",
        ));
    }
    let decision = match form.get("decision") {
        Some("resolved") => "resolved",
        Some("dismissed") => "dismissed",
        _ => {
            return Err(OfficeError::BadInput(
                "decision is resolved or dismissed".into(),
            ));
        }
    };
    let comment = form.text("comment").unwrap_or("").to_owned();
    if comment.is_empty() {
        return Err(OfficeError::BadInput(
            "a comment is required: say why (Komentar wajib diisi)".into(),
        ));
    }
    if comment.chars().count() > MAX_COMMENT
        || comment
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(OfficeError::BadInput(format!(
            "the comment must be plain text of at most {MAX_COMMENT} characters"
        )));
    }
    let mut ids = Vec::new();
    for v in form.all("id") {
        let (code, id) = v
            .split_once(':')
            .ok_or_else(|| OfficeError::BadInput(format!("not a conflict: {v:?}")))?;
        let branch = s.branch(code).ok_or(OfficeError::NotFound)?;
        let id = Uuid::parse_str(id)
            .map_err(|_| OfficeError::BadInput(format!("not a conflict: {v:?}")))?;
        ids.push((branch.id, code.to_owned(), id));
    }
    if ids.is_empty() {
        return Err(OfficeError::BadInput("select at least one conflict".into()));
    }
    if ids.len() > MAX_BULK {
        return Err(OfficeError::BadInput(format!(
            "at most {MAX_BULK} conflicts at once"
        )));
    }
    let mut tx = scope::write(&office, &s).await?;
    let mut decided = 0;
    for (branch_id, code, id) in &ids {
        let row: Option<(String, Value)> = sqlx::query_as(
            "UPDATE conflicts SET resolved_at = now(), decision = $3, resolution = $4, resolved_by = $5
             WHERE branch_id = $1 AND conflict_id = $2 AND resolved_at IS NULL
             RETURNING kind, details",
        )
        .bind(branch_id)
        .bind(id)
        .bind(decision)
        .bind(&comment)
        .bind(s.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((kind, details)) = row else { continue };
        decided += 1;
        audit::append(
            &mut *tx,
            &audit::Record {
                branch_id: Some(*branch_id),
                target: Some(format!("conflict {code}:{id} ({kind})")),
                old_value: Some(serde_json::json!({"status": "open", "details": details})),
                new_value: Some(serde_json::json!({"decision": decision, "comment": comment})),
                ..audit::Record::by(&s, &format!("conflict_{decision}"))
            },
        )
        .await?;
    }
    tx.commit().await?;
    let back = form
        .get("back")
        .filter(|b| b.starts_with("/office/conflicts") && !b.contains("://"))
        .unwrap_or("/office/conflicts");
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{back}{sep}done={decided}")).into_response())
}
