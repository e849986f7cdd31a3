//! Receipts and their proof: `GET /office/receipts` (search by receipt
//! number, branch, till, date, amount, SKU), `GET /office/receipts/{branch}/{entry}`
//! (lines, tenders, voids and refunds against it, and each journal entry with
//! seq, hashes, signature and a verified / not verified badge computed from
//! the stored row and the device's public key), and
//! `GET /office/devices/{device}/verify?from=&to=` (a stretch of a chain).

use axum::extract::{Path, State};
use axum::http::Uri;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use maud::{Markup, html};
use sentra_protocol::{ChainPoint, Hash};
use sqlx::{Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use crate::Office;
use crate::audit::date_inputs;
use crate::auth::Session;
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Lang, Nav};
use crate::verify::{self, EntryCheck, JournalRow};

/// Rows a search shows.
const PAGE: i64 = 100;

/// branch, entry, receipt, till, occurred, cashier, total, voided, refunded.
type HitRow = (
    String,
    Uuid,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<String>,
    i64,
    bool,
    bool,
);

pub async fn search(State(office): State<Office>, s: Session, uri: Uri) -> Result<Markup> {
    let l = s.lang;
    let q = Form::query(&uri)?;
    let receipt = q.text("receipt").map(|r| r.to_uppercase());
    let branch = match q.text("branch") {
        Some(code) => Some(s.branch(code).cloned().ok_or(OfficeError::NotFound)?),
        None => None,
    };
    let till = q
        .text("till")
        .map(|t| {
            Uuid::parse_str(t).map_err(|_| OfficeError::BadInput(format!("not a till: {t:?}")))
        })
        .transpose()?;
    let amount = q.text("amount").map(scope::parse_rupiah).transpose()?;
    let sku = q.text("sku").map(str::to_owned);
    if sku.as_ref().is_some_and(|s| s.len() > 64) {
        return Err(OfficeError::BadInput(
            "an SKU is at most 64 characters".into(),
        ));
    }
    if receipt.as_ref().is_some_and(|r| r.len() > 64) {
        return Err(OfficeError::BadInput(
            "a receipt number is at most 64 characters".into(),
        ));
    }
    let tz = branch
        .as_ref()
        .or(s.branches.first())
        .map_or(chrono_tz::Tz::UTC, |b| b.tz);
    let today = Utc::now().with_timezone(&tz).date_naive();
    let mut from = q.text("from").map(scope::parse_date).transpose()?;
    let to = q.text("to").map(scope::parse_date).transpose()?;
    // Without a receipt number, the last seven days unless a period is given.
    if receipt.is_none() && from.is_none() {
        from = Some(to.unwrap_or(today) - Duration::days(6));
    }
    let mut tx = scope::read(&office, &s).await?;
    let tills: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT d.device_id, b.code, d.name FROM devices d JOIN branches b USING (branch_id)
         WHERE d.kind = 'terminal' ORDER BY b.code, d.name",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT b.code, s.entry_id, s.receipt_no, d.name, s.occurred_at, s.cashier, s.total,
                s.voided_by IS NOT NULL,
                EXISTS (SELECT 1 FROM refunds r WHERE r.branch_id = s.branch_id AND r.sale_entry_id = s.entry_id)
         FROM sales s JOIN branches b ON b.branch_id = s.branch_id
         LEFT JOIN devices d ON d.device_id = s.device_id WHERE true",
    );
    if let Some(r) = &receipt {
        qb.push(" AND s.receipt_no = ").push_bind(r.clone());
    }
    if let Some(b) = &branch {
        qb.push(" AND s.branch_id = ").push_bind(b.id);
    }
    if let Some(t) = till {
        qb.push(" AND s.device_id = ").push_bind(t);
    }
    if let Some(f) = from {
        qb.push(" AND s.business_date >= ").push_bind(f);
    }
    if let Some(t) = to {
        qb.push(" AND s.business_date <= ").push_bind(t);
    }
    if let Some(a) = amount {
        qb.push(" AND s.total = ").push_bind(a);
    }
    if let Some(k) = &sku {
        qb.push(
            " AND EXISTS (SELECT 1 FROM sale_lines l WHERE l.branch_id = s.branch_id
               AND l.sale_entry_id = s.entry_id AND l.sku = ",
        )
        .push_bind(k.clone())
        .push(")");
    }
    qb.push(" ORDER BY s.occurred_at DESC LIMIT ")
        .push_bind(PAGE + 1);
    let mut hits: Vec<HitRow> = qb.build_query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    let more = hits.len() as i64 > PAGE;
    hits.truncate(PAGE as usize);
    let tz_of = |code: &str| s.branch(code).map_or(chrono_tz::Tz::UTC, |b| b.tz);
    let body = html! {
        form.filters method="get" action="/office/receipts" {
            label { (l.t("No. struk", "Receipt no.")) input type="search" name="receipt" value=(receipt.clone().unwrap_or_default()); }
            label { (l.t("Cabang", "Branch"))
                select name="branch" {
                    option value="" { (l.t("semua", "all")) }
                    @for b in &s.branches { option value=(b.code) selected[branch.as_ref().is_some_and(|x| x.code == b.code)] { (b.code) } }
                }
            }
            label { (l.t("Mesin kasir", "Till"))
                select name="till" {
                    option value="" { (l.t("semua", "all")) }
                    @for t in &tills { option value=(t.0) selected[till == Some(t.0)] { (t.1) " · " (t.2) } }
                }
            }
            (date_inputs(l, from, to))
            label { (l.t("Jumlah (Rp)", "Amount (Rp)")) input type="text" inputmode="numeric" name="amount" value=(q.text("amount").unwrap_or("")); }
            label { "SKU" input type="text" name="sku" value=(sku.clone().unwrap_or_default()); }
            button type="submit" { (l.t("Cari", "Search")) }
        }
        div.scroll {
            table #receipts {
                thead { tr {
                    th { (l.t("No. struk", "Receipt no.")) } th { (l.t("Cabang", "Branch")) } th { (l.t("Mesin kasir", "Till")) }
                    th { (l.t("Waktu", "When")) } th { (l.t("Kasir", "Cashier")) } th.num { (l.t("Total", "Total")) } th { "" }
                } }
                tbody {
                    @for h in &hits {
                        tr data-receipt=(h.2) {
                            td { a href={ "/office/receipts/" (h.0) "/" (h.1) } { (h.2) } }
                            td { (h.0) } td { (h.3.clone().unwrap_or_default()) }
                            td { (ui::datetime(l, h.4, tz_of(&h.0))) } td { (h.5.clone().unwrap_or_default()) }
                            td.num { (ui::rp(h.6)) }
                            td {
                                @if h.7 { span.badge.bad { (l.t("dibatalkan", "voided")) } }
                                @if h.8 { " " span.badge.warn { (l.t("ada retur", "refunded")) } }
                            }
                        }
                    }
                    @if hits.is_empty() { tr { td colspan="7" { (l.t("Tidak ada struk yang cocok.", "No receipts match.")) } } }
                }
            }
        }
        @if more { p.muted { (l.t("Menampilkan 100 terbaru; persempit pencarian untuk melihat yang lain.", "Showing the latest 100; narrow the search to see others.")) } }
    };
    Ok(ui::page(
        &s,
        Nav::Receipts,
        l.t("Struk", "Receipts"),
        "/office/receipts",
        body,
    ))
}

/// The journal row of `(device, seq)` with the device's key, verified.
async fn proof(
    tx: &mut Transaction<'static, Postgres>,
    branch_code: &str,
    branch_id: i32,
    device: Uuid,
    seq: i64,
) -> Result<Option<(JournalRow, EntryCheck, String)>> {
    let row: Option<JournalRow> = sqlx::query_as(
        "SELECT seq, entry_id, format, kind, hlc_wall_ms, hlc_counter, prev_hash, hash, signature,
                payload, raw_entry, quarantine_reason
         FROM journal WHERE branch_id = $1 AND device_id = $2 AND seq = $3",
    )
    .bind(branch_id)
    .bind(device)
    .bind(seq)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let key: Option<(Vec<u8>, String)> =
        sqlx::query_as("SELECT public_key, name FROM devices WHERE device_id = $1")
            .bind(device)
            .fetch_optional(&mut **tx)
            .await?;
    let (check, name) = match key {
        Some((k, name)) => (verify::check_entry(branch_code, device, &k, &row), name),
        None => (
            EntryCheck::NotVerified("the device's public key is not on record".into()),
            device.to_string(),
        ),
    };
    Ok(Some((row, check, name)))
}

fn proof_block(
    l: Lang,
    title: &str,
    device: Uuid,
    p: &Option<(JournalRow, EntryCheck, String)>,
) -> Markup {
    html! {
        div.proof {
            h3 { (title) }
            @match p {
                None => p.error { (l.t("Entri jurnal tidak ditemukan.", "The journal entry is not on record.")) },
                Some((row, check, name)) => {
                    @if check.is_verified() {
                        p { span.badge.ok data-verified="true" { "✔ " (l.t("terverifikasi", "verified")) } " "
                            span.muted { (l.t("hash dihitung ulang dari data tersimpan dan tanda tangan Ed25519 perangkat cocok", "hash recomputed from the stored data; the device's Ed25519 signature matches")) } }
                    } @else {
                        p { span.badge.bad data-verified="false" { "✘ " (l.t("tidak terverifikasi", "not verified")) } " "
                            span.error { @if let EntryCheck::NotVerified(why) = check { (explain(l, why)) " " small.muted { "(" (why) ")" } } } }
                    }
                    dl.entry {
                        dt { (l.t("Perangkat", "Device")) } dd { (name) " " code { (device) } }
                        dt { "seq" } dd.seq { (row.seq) " " a href={ "/office/devices/" (device) "/verify?from=1&to=" (row.seq) } { (l.t("periksa rantai sampai sini", "verify the chain up to here")) } }
                        dt { (l.t("Jenis", "Kind")) } dd { code { (row.kind) } }
                        dt { "entry id" } dd { code { (row.entry_id) } }
                        dt { "hash" } dd { code.hex { (hex::encode(&row.hash)) } }
                        dt { (l.t("hash sebelumnya", "previous hash")) } dd { code.hex { (hex::encode(&row.prev_hash)) } }
                        dt { (l.t("tanda tangan", "signature")) } dd { code.hex { (hex::encode(&row.signature)) } }
                        @if let Some(q) = &row.quarantine_reason { dt { (l.t("karantina", "quarantine")) } dd.error { (q) } }
                    }
                }
            }
        }
    }
}

/// Why an entry does not verify, in the reader's words.
fn explain(l: Lang, why: &str) -> &'static str {
    if why.contains("hash mismatch") {
        l.t(
            "Isi entri yang tersimpan tidak cocok dengan hash yang ditandatangani: data telah diubah setelah diterima.",
            "The stored content does not match its signed hash: the data was changed after it was received.",
        )
    } else if why.contains("signature") {
        l.t(
            "Tanda tangan tidak cocok dengan kunci perangkat.",
            "The signature does not match the device's key.",
        )
    } else if why.contains("link") || why.contains("missing") {
        l.t(
            "Rantai terputus: entri hilang, tertukar atau disisipkan.",
            "The chain is broken: an entry is missing, swapped or inserted.",
        )
    } else {
        l.t(
            "Entri tidak dapat diperiksa.",
            "The entry cannot be checked.",
        )
    }
}

/// Quantity in thousandths as a cashier writes it: `2`, `0,250`.
fn qty(milli: i64) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        let sign = if milli < 0 { "-" } else { "" };
        format!("{sign}{},{:03}", milli.abs() / 1000, milli.abs() % 1000)
    }
}

/// receipt, device, seq, shift, occurred, date, cashier, gross, discounts,
/// tax, total, paid, change, voided_by.
type SaleRow = (
    String,
    Uuid,
    i64,
    Uuid,
    DateTime<Utc>,
    NaiveDate,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<Uuid>,
);

/// line, sku, name, quantity, unit price, line discount, cart share, tax, total.
type LineRow = (i32, String, String, i64, i64, i64, i64, i64, i64);
/// device, seq, refund no, occurred, total, method, status, over_refund.
type RefundRow = (Uuid, i64, String, DateTime<Utc>, i64, String, String, bool);

pub async fn receipt(
    State(office): State<Office>,
    s: Session,
    Path((code, entry_id)): Path<(String, String)>,
) -> Result<Markup> {
    let l = s.lang;
    let branch = s.branch(&code).cloned().ok_or(OfficeError::NotFound)?;
    let entry_id = Uuid::parse_str(&entry_id).map_err(|_| OfficeError::NotFound)?;
    let mut tx = scope::read(&office, &s).await?;
    let sale: Option<SaleRow> = sqlx::query_as(
        "SELECT receipt_no, device_id, seq, shift_id, occurred_at, business_date, cashier, gross,
                discounts, tax, total, paid, change, voided_by
         FROM sales WHERE branch_id = $1 AND entry_id = $2",
    )
    .bind(branch.id)
    .bind(entry_id)
    .fetch_optional(&mut *tx)
    .await?;
    let sale = sale.ok_or(OfficeError::NotFound)?;
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT line_no, sku, name, quantity_milli, unit_price, line_discount, cart_discount_share, tax, total
         FROM sale_lines WHERE branch_id = $1 AND sale_entry_id = $2 ORDER BY line_no",
    )
    .bind(branch.id)
    .bind(entry_id)
    .fetch_all(&mut *tx)
    .await?;
    let payments: Vec<(String, i64, Option<String>)> = sqlx::query_as(
        "SELECT method, amount, reference FROM sale_payments
         WHERE branch_id = $1 AND sale_entry_id = $2 ORDER BY tender_no",
    )
    .bind(branch.id)
    .bind(entry_id)
    .fetch_all(&mut *tx)
    .await?;
    let voids: Vec<(Uuid, i64, DateTime<Utc>, String, i64)> = sqlx::query_as(
        "SELECT device_id, seq, occurred_at, status, total FROM voids
         WHERE branch_id = $1 AND sale_entry_id = $2 ORDER BY occurred_at",
    )
    .bind(branch.id)
    .bind(entry_id)
    .fetch_all(&mut *tx)
    .await?;
    let refunds: Vec<RefundRow> = sqlx::query_as(
        "SELECT device_id, seq, refund_no, occurred_at, total, method, status, over_refund FROM refunds
         WHERE branch_id = $1 AND (sale_entry_id = $2 OR (sale_entry_id IS NULL AND receipt_no = $3))
         ORDER BY occurred_at",
    )
    .bind(branch.id)
    .bind(entry_id)
    .bind(&sale.0)
    .fetch_all(&mut *tx)
    .await?;
    let sale_proof = proof(&mut tx, &branch.code, branch.id, sale.1, sale.2).await?;
    let mut void_proofs = Vec::new();
    for v in &voids {
        void_proofs.push(proof(&mut tx, &branch.code, branch.id, v.0, v.1).await?);
    }
    let mut refund_proofs = Vec::new();
    for r in &refunds {
        refund_proofs.push(proof(&mut tx, &branch.code, branch.id, r.0, r.1).await?);
    }
    tx.commit().await?;
    let till = sale_proof.as_ref().map(|p| p.2.clone()).unwrap_or_default();
    let title = format!("{} {}", l.t("Struk", "Receipt"), sale.0);
    let body = html! {
        div.receipt-head {
            dl {
                dt { (l.t("Cabang", "Branch")) } dd { (branch.code) " — " (branch.name) }
                dt { (l.t("Mesin kasir", "Till")) } dd { (till) }
                dt { (l.t("Kasir", "Cashier")) } dd { (sale.6.clone().unwrap_or_default()) }
                dt { (l.t("Waktu", "When")) } dd { (ui::datetime(l, sale.4, branch.tz)) }
                dt { (l.t("Tanggal buku", "Business date")) } dd { (ui::date(l, sale.5)) }
                dt { (l.t("Status", "Status")) } dd {
                    @if sale.13.is_some() { span.badge.bad { (l.t("dibatalkan", "voided")) } }
                    @else { span.badge.ok { (l.t("berlaku", "stands")) } }
                }
            }
        }
        h2 { (l.t("Barang", "Lines")) }
        div.scroll { table #lines {
            thead { tr { th { "#" } th { "SKU" } th { (l.t("Nama", "Name")) } th.num { (l.t("Jml", "Qty")) } th.num { (l.t("Harga", "Price")) } th.num { (l.t("Diskon", "Discount")) } th.num { (l.t("PPN", "Tax")) } th.num { (l.t("Total", "Total")) } } }
            tbody { @for ln in &lines { tr {
                td { (ln.0) } td { code { (ln.1) } } td { (ln.2) } td.num { (qty(ln.3)) } td.num { (ui::rp(ln.4)) }
                td.num { (ui::rp(ln.5 + ln.6)) } td.num { (ui::rp(ln.7)) } td.num { (ui::rp(ln.8)) }
            } } }
            tfoot {
                tr { th colspan="7" { (l.t("Bruto", "Gross")) } th.num { (ui::rp(sale.7)) } }
                tr { th colspan="7" { (l.t("Diskon", "Discounts")) } th.num { (ui::rp(sale.8)) } }
                tr { th colspan="7" { (l.t("PPN (termasuk)", "Tax (included)")) } th.num { (ui::rp(sale.9)) } }
                tr { th colspan="7" { (l.t("Total", "Total")) } th.num data-figure="total" { (ui::rp(sale.10)) } }
            }
        } }
        h2 { (l.t("Pembayaran", "Tenders")) }
        div.scroll { table #tenders {
            thead { tr { th { (l.t("Cara", "Method")) } th.num { (l.t("Jumlah", "Amount")) } th { (l.t("Referensi", "Reference")) } } }
            tbody {
                @for p in &payments { tr { td { (method(l, &p.0)) } td.num { (ui::rp(p.1)) } td { (p.2.clone().unwrap_or_default()) } } }
                tr { td { (l.t("Kembalian", "Change")) } td.num { (ui::rp(sale.12)) } td {} }
            }
        } }
        @if !voids.is_empty() || !refunds.is_empty() {
            h2 { (l.t("Pembatalan dan retur", "Voids and refunds")) }
            div.scroll { table #against {
                thead { tr { th { (l.t("Jenis", "What")) } th { (l.t("Waktu", "When")) } th.num { (l.t("Jumlah", "Amount")) } th { (l.t("Status", "Status")) } } }
                tbody {
                    @for v in &voids { tr { td { (l.t("Pembatalan", "Void")) } td { (ui::datetime(l, v.2, branch.tz)) } td.num { (ui::rp(v.4)) } td { (v.3) } } }
                    @for r in &refunds { tr { td { (l.t("Retur", "Refund")) " " (r.2) } td { (ui::datetime(l, r.3, branch.tz)) } td.num { (ui::rp(r.4)) " " (method(l, &r.5)) } td { (r.6) @if r.7 { " " span.badge.bad { "over_refund" } } } } }
                }
            } }
        }
        h2 { (l.t("Bukti: entri jurnal bertanda tangan", "Proof: the signed journal entries")) }
        (proof_block(l, l.t("Penjualan", "Sale"), sale.1, &sale_proof))
        @for (v, p) in voids.iter().zip(&void_proofs) { (proof_block(l, l.t("Pembatalan", "Void"), v.0, p)) }
        @for (r, p) in refunds.iter().zip(&refund_proofs) { (proof_block(l, l.t("Retur", "Refund"), r.0, p)) }
    };
    Ok(ui::page(
        &s,
        Nav::Receipts,
        &title,
        "/office/receipts",
        body,
    ))
}

fn method(l: Lang, m: &str) -> String {
    match m {
        "cash" => l.t("Tunai", "Cash").into(),
        "card" => l.t("Kartu", "Card").into(),
        "qris" => "QRIS".into(),
        "voucher" => "Voucher".into(),
        other => other.into(),
    }
}

/// Entries one chain check may cover.
const MAX_CHAIN_CHECK: i64 = 100_000;

pub async fn verify_chain_page(
    State(office): State<Office>,
    s: Session,
    Path(device): Path<String>,
    uri: Uri,
) -> Result<Markup> {
    let l = s.lang;
    let device = Uuid::parse_str(&device).map_err(|_| OfficeError::NotFound)?;
    let q = Form::query(&uri)?;
    let mut tx = scope::read(&office, &s).await?;
    // Under row-level security a device of another branch is not found.
    let dev: Option<(i32, String, String, Vec<u8>, i64)> = sqlx::query_as(
        "SELECT d.branch_id, b.code, d.name, d.public_key, COALESCE(h.seq, 0)
         FROM devices d JOIN branches b ON b.branch_id = d.branch_id
         LEFT JOIN device_heads h ON h.branch_id = d.branch_id AND h.device_id = d.device_id
         WHERE d.device_id = $1",
    )
    .bind(device)
    .fetch_optional(&mut *tx)
    .await?;
    let (branch_id, code, name, key, tip) = dev.ok_or(OfficeError::NotFound)?;
    let parse_seq = |k: &str| -> Result<Option<i64>> {
        q.text(k)
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| OfficeError::BadInput(format!("{k}: not a seq: {v:?}")))
            })
            .transpose()
    };
    let from = parse_seq("from")?.unwrap_or(1);
    let to = parse_seq("to")?.unwrap_or(tip).min(tip.max(from));
    if to - from + 1 > MAX_CHAIN_CHECK {
        return Err(OfficeError::BadInput(format!(
            "check at most {MAX_CHAIN_CHECK} entries at a time"
        )));
    }
    let rows: Vec<JournalRow> = sqlx::query_as(
        "SELECT seq, entry_id, format, kind, hlc_wall_ms, hlc_counter, prev_hash, hash, signature,
                payload, raw_entry, quarantine_reason
         FROM journal WHERE branch_id = $1 AND device_id = $2 AND seq BETWEEN $3 AND $4 ORDER BY seq",
    )
    .bind(branch_id)
    .bind(device)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    let before: Option<Vec<u8>> = if from > 1 {
        sqlx::query_scalar(
            "SELECT hash FROM journal WHERE branch_id = $1 AND device_id = $2 AND seq = $3",
        )
        .bind(branch_id)
        .bind(device)
        .bind(from - 1)
        .fetch_optional(&mut *tx)
        .await?
    } else {
        Some(Hash::ZERO.0.to_vec())
    };
    tx.commit().await?;
    let check = match before.and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()) {
        Some(b) if !rows.is_empty() => verify::check_chain(
            &code,
            device,
            &key,
            ChainPoint {
                seq: (from - 1) as u64,
                hash: Hash(b),
            },
            &rows,
        ),
        Some(_) => EntryCheck::NotVerified(
            l.t(
                "tidak ada entri pada rentang ini",
                "no entries in this range",
            )
            .into(),
        ),
        None => EntryCheck::NotVerified(format!(
            "seq {}: {}",
            from - 1,
            l.t(
                "entri sebelum rentang tidak ada",
                "the entry before the range is missing"
            )
        )),
    };
    let title = format!("{} {}", l.t("Periksa rantai", "Verify chain"), name);
    let body = html! {
        form.filters method="get" action={ "/office/devices/" (device) "/verify" } {
            label { (l.t("Dari seq", "From seq")) input type="number" min="1" name="from" value=(from); }
            label { (l.t("Sampai seq", "To seq")) input type="number" min="1" name="to" value=(to); }
            button type="submit" { (l.t("Periksa", "Verify")) }
        }
        p { (code) " · " code { (device) } " · " (l.t("ujung rantai di cloud", "chain tip in the cloud")) ": " (tip) }
        @if check.is_verified() {
            p.result { span.badge.ok data-verified="true" { "✔ " (l.t("terverifikasi", "verified")) } " "
                (rows.len()) " " (l.t("entri", "entries")) ", seq " (from) "–" (to) ": "
                (l.t("setiap hash dihitung ulang, setiap tanda tangan cocok, setiap entri menunjuk yang sebelumnya", "every hash recomputes, every signature matches, every entry links to the one before")) }
        } @else {
            p.result { span.badge.bad data-verified="false" { "✘ " (l.t("tidak terverifikasi", "not verified")) } " "
                span.error { @if let EntryCheck::NotVerified(why) = &check { (explain(l, why)) " " small.muted { "(" (why) ")" } } } }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Receipts,
        &title,
        "/office/receipts",
        body,
    ))
}
