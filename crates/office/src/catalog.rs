//! The catalog: products searched and paged (`GET /office/catalog`), one
//! product with its prices (`GET /office/catalog/item/{sku}`), its details
//! changed (`POST …/item/{sku}`, admins) and a price set now or ahead of
//! time, chain-wide (admins) or for one branch (`POST …/item/{sku}/price`,
//! admins and the branch's managers).
//!
//! Prices are history, as `sentra-sync price set` writes them: a change adds
//! a row in force from its time; terminals pull every row and switch at that
//! time, offline too. Every write runs under row-level security and leaves
//! an audit record with the old and new values.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use maud::{Markup, html};
use serde_json::json;

use crate::Office;
use crate::audit;
use crate::auth::Session;
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Lang, Nav};

/// Products per page.
const PAGE: i64 = 50;
/// Chain-wide times are typed and shown in head office's zone.
pub const CHAIN_TZ: Tz = chrono_tz::Asia::Jakarta;

/// `%foo%`-safe: the user's text matched literally by LIKE.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

type ListRow = (
    String,
    String,
    Vec<String>,
    Option<String>,
    String,
    String,
    bool,
    Option<i64>,
);

/// `GET /office/catalog?q=&page=`.
pub async fn list(State(office): State<Office>, s: Session, uri: Uri) -> Result<Markup> {
    let q = Form::query(&uri)?;
    let l = s.lang;
    let text = q.text("q").unwrap_or("").to_owned();
    if text.len() > 100 {
        return Err(OfficeError::BadInput(
            "search text is at most 100 characters".into(),
        ));
    }
    let page: i64 = match q.text("page") {
        None => 1,
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| (1..=100_000).contains(p))
            .ok_or_else(|| OfficeError::BadInput(format!("not a page number: {p:?}")))?,
    };
    let mut tx = scope::read(&office, &s).await?;
    const MATCH: &str =
        "($1 = '' OR p.sku ILIKE $2 OR lower(p.name) LIKE $3 OR $1 = ANY (p.barcodes))";
    let prefix = format!("{}%", like_escape(&text));
    let inside = format!("%{}%", like_escape(&text.to_lowercase()));
    // The page in SKU order (the primary key's order, so a deep page is an
    // index walk), its prices only for the 50 rows shown; the count apart.
    let rows: Vec<ListRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT p.sku, p.name, p.barcodes, p.category, p.tax_category, p.unit, p.active,
                (SELECT r.price FROM prices r
                 WHERE r.sku = p.sku AND r.branch_id IS NULL AND r.effective_from <= now()
                 ORDER BY r.effective_from DESC, r.price_id DESC LIMIT 1)
         FROM products p
         WHERE {MATCH}
         ORDER BY p.sku
         LIMIT $4 OFFSET $5"
    )))
    .bind(&text)
    .bind(&prefix)
    .bind(&inside)
    .bind(PAGE)
    .bind((page - 1) * PAGE)
    .fetch_all(&mut *tx)
    .await?;
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM products p WHERE {MATCH}"
    )))
    .bind(&text)
    .bind(&prefix)
    .bind(&inside)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let pages = (total + PAGE - 1) / PAGE;
    let link = |p: i64| format!("/office/catalog?q={}&page={p}", ui::url_encode(&text));
    let body = html! {
        form.filters method="get" action="/office/catalog" {
            label { (l.t("Cari SKU, barcode atau nama", "Search SKU, barcode or name"))
                input type="search" name="q" value=(text) autofocus; }
            button { (l.t("Cari", "Search")) }
            @if s.role.manages_catalog() {
                a.button href="/office/catalog/import" { (l.t("Impor CSV", "Import CSV")) }
            }
        }
        p.muted #count { (ui::count(total)) " " (l.t("produk", "products"))
            @if pages > 1 { " · " (l.t("halaman", "page")) " " (page) " / " (pages) } }
        table #products {
            thead { tr {
                th { "SKU" } th { (l.t("Nama", "Name")) } th { "Barcode" }
                th { (l.t("Kategori", "Category")) } th { (l.t("Kelas pajak", "Tax class")) }
                th { (l.t("Satuan", "Unit")) } th.num { (l.t("Harga (seluruh cabang)", "Price (chain)")) }
                th { (l.t("Status", "Status")) }
            } }
            tbody {
                @for r in &rows {
                    tr {
                        td { a href={ "/office/catalog/item/" (ui::url_encode(&r.0)) } { (r.0) } }
                        td { (r.1) }
                        td.mono { (r.2.join(" ")) }
                        td { (r.3.as_deref().unwrap_or("—")) }
                        td { (r.4) }
                        td { (unit_label(l, &r.5)) }
                        td.num { (r.7.map_or("—".into(), ui::rp)) }
                        td { @if r.6 { (l.t("dijual", "on sale")) } @else { span.bad { (l.t("nonaktif", "inactive")) } } }
                    }
                }
                @if rows.is_empty() { tr { td colspan="8" { (l.t("Tidak ada produk yang cocok.", "No matching products.")) } } }
            }
        }
        nav.pager {
            @if page > 1 { a href=(link(page - 1)) { "← " (l.t("Sebelumnya", "Previous")) } }
            @if page < pages { a href=(link(page + 1)) { (l.t("Berikutnya", "Next")) " →" } }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Catalog,
        l.t("Katalog", "Catalog"),
        "/office/catalog",
        body,
    ))
}

fn unit_label(l: Lang, unit: &str) -> &'static str {
    if unit == "weighed" {
        l.t("ditimbang", "weighed")
    } else {
        l.t("satuan", "each")
    }
}

type ProductRow = (
    String,
    Vec<String>,
    Option<String>,
    String,
    String,
    bool,
    DateTime<Utc>,
);
type PriceRow = (
    i64,
    Option<String>,
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
);

/// `GET /office/catalog/item/{sku}`.
pub async fn item(
    State(office): State<Office>,
    s: Session,
    Path(sku): Path<String>,
    uri: Uri,
) -> Result<Markup> {
    let q = Form::query(&uri)?;
    let l = s.lang;
    let mut tx = scope::read(&office, &s).await?;
    let product: Option<ProductRow> = sqlx::query_as(
        "SELECT name, barcodes, category, tax_category, unit, active, updated_at
         FROM products WHERE sku = $1",
    )
    .bind(&sku)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(p) = product else {
        return Err(OfficeError::NotFound);
    };
    // Every row RLS lets this user see: chain-wide and their branches'.
    let prices: Vec<PriceRow> = sqlx::query_as(
        "SELECT r.price_id, b.code, r.price, r.effective_from, r.created_at, b.timezone
         FROM prices r LEFT JOIN branches b ON b.branch_id = r.branch_id
         WHERE r.sku = $1
         ORDER BY r.effective_from DESC, r.price_id DESC
         LIMIT 500",
    )
    .bind(&sku)
    .fetch_all(&mut *tx)
    .await?;
    let classes: Vec<(String, String)> =
        sqlx::query_as("SELECT category, rate FROM tax_rates ORDER BY category")
            .fetch_all(&mut *tx)
            .await?;
    tx.commit().await?;
    let now = Utc::now();
    // The row in force now for each scope: the first at or before now.
    let mut in_force: Vec<i64> = Vec::new();
    let mut seen: Vec<Option<&str>> = Vec::new();
    for r in prices.iter().filter(|r| r.3 <= now) {
        if !seen.contains(&r.1.as_deref()) {
            seen.push(r.1.as_deref());
            in_force.push(r.0);
        }
    }
    let branches: Vec<&crate::BranchRef> = if s.role.manages_branches() {
        s.branches.iter().collect()
    } else {
        Vec::new()
    };
    let editable = s.role.manages_catalog();
    let body = html! {
        @if let Some(done) = q.text("done") {
            p.ok #done { (match done {
                "price" => l.t("Harga disimpan. Kasir menerimanya pada sinkronisasi berikutnya.", "Price saved. Tills receive it at their next sync."),
                _ => l.t("Produk disimpan.", "Product saved."),
            }) }
        }
        section.cols {
            div {
                h2 { (l.t("Produk", "Product")) }
                @if editable {
                    form.stack #product method="post" action={ "/office/catalog/item/" (ui::url_encode(&sku)) } {
                        input type="hidden" name="csrf" value=(s.csrf);
                        label { (l.t("Nama", "Name")) input name="name" value=(p.0) required maxlength="200"; }
                        label { (l.t("Barcode (pisahkan dengan spasi)", "Barcodes (space-separated)"))
                            input name="barcodes" value=(p.1.join(" ")); }
                        label { (l.t("Kategori", "Category")) input name="category" value=(p.2.clone().unwrap_or_default()) maxlength="64"; }
                        label { (l.t("Kelas pajak", "Tax class"))
                            select name="tax_category" {
                                @for (c, rate) in &classes {
                                    option value=(c) selected[*c == p.3] { (c) " (" (rate) "%)" }
                                }
                            }
                        }
                        label { (l.t("Satuan", "Unit"))
                            select name="unit" {
                                option value="unit" selected[p.4 == "unit"] { (unit_label(l, "unit")) }
                                option value="weighed" selected[p.4 == "weighed"] { (unit_label(l, "weighed")) }
                            }
                        }
                        label.check { input type="checkbox" name="active" value="1" checked[p.5]; (l.t("Dijual", "On sale")) }
                        button { (l.t("Simpan produk", "Save product")) }
                    }
                } @else {
                    dl {
                        dt { "SKU" } dd { (sku) }
                        dt { (l.t("Nama", "Name")) } dd { (p.0) }
                        dt { "Barcode" } dd.mono { (p.1.join(" ")) }
                        dt { (l.t("Kategori", "Category")) } dd { (p.2.as_deref().unwrap_or("—")) }
                        dt { (l.t("Kelas pajak", "Tax class")) } dd { (p.3) }
                        dt { (l.t("Satuan", "Unit")) } dd { (unit_label(l, &p.4)) }
                    }
                }
            }
            @if editable || !branches.is_empty() {
                div {
                    h2 { (l.t("Ubah harga", "Change the price")) }
                    form.stack #price method="post" action={ "/office/catalog/item/" (ui::url_encode(&sku)) "/price" } {
                        input type="hidden" name="csrf" value=(s.csrf);
                        label { (l.t("Harga (Rp, termasuk PPN)", "Price (Rp, PPN included)"))
                            input name="price" inputmode="numeric" required; }
                        label { (l.t("Berlaku untuk", "Applies to"))
                            select name="scope" {
                                @if editable { option value="chain" { (l.t("Seluruh cabang", "Every branch")) } }
                                @for b in &branches {
                                    option value=(b.code) { (b.code) " — " (b.name) " (" (l.t("harga cabang", "branch price")) ")" }
                                }
                            }
                        }
                        label { (l.t("Mulai berlaku (kosong = sekarang; waktu cabang, WIB untuk seluruh cabang)", "Effective from (empty = now; the branch's time, WIB for every branch)"))
                            input type="datetime-local" name="effective_from" step="1"; }
                        button { (l.t("Simpan harga", "Save price")) }
                    }
                }
            }
        }
        h2 { (l.t("Riwayat harga", "Price history")) }
        table #prices {
            thead { tr {
                th { (l.t("Berlaku untuk", "Applies to")) } th.num { (l.t("Harga", "Price")) }
                th { (l.t("Mulai berlaku", "Effective from")) } th { (l.t("Dibuat", "Set at")) }
                th { (l.t("Status", "Status")) }
            } }
            tbody {
                @for r in &prices {
                    @let tz = r.5.as_deref().map_or(CHAIN_TZ, ui::tz);
                    tr {
                        td { (r.1.as_deref().unwrap_or(l.t("seluruh cabang", "every branch"))) }
                        td.num { (ui::rp(r.2)) }
                        td { (ui::datetime(l, r.3, tz)) }
                        td { (ui::datetime(l, r.4, tz)) }
                        td {
                            @if r.3 > now { span.warn { (l.t("terjadwal", "scheduled")) } }
                            @else if in_force.contains(&r.0) { span.ok { (l.t("berlaku", "in force")) } }
                            @else { span.muted { (l.t("digantikan", "superseded")) } }
                        }
                    }
                }
                @if prices.is_empty() { tr { td colspan="5" { (l.t("Belum ada harga: produk ini belum dijual di kasir.", "No price yet: tills do not sell this product.")) } } }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Catalog,
        &format!("{sku} — {}", p.0),
        &format!("/office/catalog/item/{}", ui::url_encode(&sku)),
        body,
    ))
}

/// A time typed in a `datetime-local` field (`2026-12-06T14:30` or with
/// seconds), read in `tz`.
pub fn parse_local_time(s: &str, tz: Tz) -> Result<DateTime<Utc>> {
    let s = s.trim();
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| OfficeError::BadInput(format!("not a date and time: {s:?}")))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| OfficeError::BadInput(format!("{s} does not exist in {tz}")))
}

/// `POST /office/catalog/item/{sku}/price`.
pub async fn set_price(
    State(office): State<Office>,
    s: Session,
    Path(sku): Path<String>,
    form: Form,
) -> Result<Response> {
    s.check_csrf(&form)?;
    let price = scope::parse_rupiah(form.get("price").unwrap_or(""))?;
    if price > sentra_ledger::validate::MAX_AMOUNT {
        return Err(OfficeError::BadInput(format!(
            "a price is at most {}",
            ui::rp(sentra_ledger::validate::MAX_AMOUNT)
        )));
    }
    let (branch, tz) = match form.text("scope") {
        None | Some("chain") => {
            if !s.role.manages_catalog() {
                return Err(OfficeError::Forbidden(
                    "Only an admin sets prices for every branch.",
                ));
            }
            (None, CHAIN_TZ)
        }
        Some(code) => {
            if !s.role.manages_branches() {
                return Err(OfficeError::Forbidden(
                    "Only admins and branch managers set prices.",
                ));
            }
            let b = s.branch(code).ok_or(OfficeError::Forbidden(
                "You may not set prices for that branch.",
            ))?;
            (Some(b.clone()), b.tz)
        }
    };
    let now = Utc::now();
    let effective = match form.text("effective_from") {
        None => now,
        Some(t) => parse_local_time(t, tz)?,
    };
    // A price back in time would re-price sales already rung up: refuse it
    // (a minute's grace for a slow form).
    if effective < now - chrono::Duration::seconds(60) {
        return Err(OfficeError::BadInput(
            "a price cannot start in the past; leave the time empty for now (harga tidak bisa berlaku mundur)".into(),
        ));
    }
    let mut tx = scope::write(&office, &s).await?;
    let known: Option<bool> = sqlx::query_scalar("SELECT true FROM products WHERE sku = $1")
        .bind(&sku)
        .fetch_optional(&mut *tx)
        .await?;
    if known.is_none() {
        return Err(OfficeError::NotFound);
    }
    let branch_id = branch.as_ref().map(|b| b.id);
    let before: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT price, effective_from FROM prices
         WHERE sku = $1 AND branch_id IS NOT DISTINCT FROM $2 AND effective_from <= $3
         ORDER BY effective_from DESC, price_id DESC LIMIT 1",
    )
    .bind(&sku)
    .bind(branch_id)
    .bind(effective)
    .fetch_optional(&mut *tx)
    .await?;
    let price_id: i64 = sqlx::query_scalar(
        "INSERT INTO prices (sku, branch_id, price, effective_from) VALUES ($1, $2, $3, $4)
         RETURNING price_id",
    )
    .bind(&sku)
    .bind(branch_id)
    .bind(price)
    .bind(effective)
    .fetch_one(&mut *tx)
    .await?;
    let scope_name = branch.as_ref().map_or("chain", |b| b.code.as_str());
    audit::append(
        &mut *tx,
        &audit::Record {
            branch_id,
            target: Some(format!("price {sku} @ {scope_name}")),
            old_value: before.map(|(p, from)| json!({"price": p, "effective_from": from})),
            new_value: Some(json!({
                "price_id": price_id, "sku": sku, "branch": branch.as_ref().map(|b| &b.code),
                "price": price, "effective_from": effective,
            })),
            ..audit::Record::by(&s, "price_set")
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!(
        "/office/catalog/item/{}?done=price",
        ui::url_encode(&sku)
    ))
    .into_response())
}

/// The barcodes typed in a field: separated by spaces, commas or `|`;
/// letters, digits and `-` only (as the catalog CSV).
pub fn parse_barcodes(s: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for code in s
        .split(|c: char| c.is_whitespace() || c == ',' || c == '|')
        .filter(|c| !c.is_empty())
    {
        if code.len() > 64 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(OfficeError::BadInput(format!(
                "barcode {code:?} must be letters and digits"
            )));
        }
        if !out.iter().any(|c| c == code) {
            out.push(code.to_owned());
        }
    }
    Ok(out)
}

fn plain_text(what: &str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(OfficeError::BadInput(format!(
            "{what} must be 1 to {max} bytes of plain text"
        )));
    }
    Ok(v.to_owned())
}

/// `POST /office/catalog/item/{sku}` (admins).
pub async fn save_product(
    State(office): State<Office>,
    s: Session,
    Path(sku): Path<String>,
    form: Form,
) -> Result<Response> {
    s.check_csrf(&form)?;
    if !s.role.manages_catalog() {
        return Err(OfficeError::Forbidden("Only an admin changes products."));
    }
    let name = plain_text("name", form.get("name").unwrap_or(""), 200)?;
    let barcodes = parse_barcodes(form.get("barcodes").unwrap_or(""))?;
    let category = match form.text("category") {
        None => None,
        Some(c) => Some(plain_text("category", c, 64)?),
    };
    let tax_category = form.text("tax_category").unwrap_or("").to_owned();
    let unit = match form.get("unit") {
        Some("weighed") => "weighed",
        Some("unit") | None => "unit",
        Some(other) => {
            return Err(OfficeError::BadInput(format!(
                "unit {other:?} must be unit or weighed"
            )));
        }
    };
    let active = form.get("active") == Some("1");
    let mut tx = scope::write(&office, &s).await?;
    let known: Option<bool> = sqlx::query_scalar("SELECT true FROM tax_rates WHERE category = $1")
        .bind(&tax_category)
        .fetch_optional(&mut *tx)
        .await?;
    if known.is_none() {
        return Err(OfficeError::BadInput(format!(
            "tax class {tax_category:?} is unknown"
        )));
    }
    let clash: Option<(String, String)> = sqlx::query_as(
        "SELECT u.barcode, p.sku FROM products p CROSS JOIN LATERAL unnest(p.barcodes) AS u(barcode)
         WHERE u.barcode = ANY ($1) AND p.sku <> $2 LIMIT 1",
    )
    .bind(&barcodes)
    .bind(&sku)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((code, other)) = clash {
        return Err(OfficeError::BadInput(format!(
            "barcode {code} already belongs to product {other}"
        )));
    }
    let old: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT jsonb_build_object('name', name, 'barcodes', barcodes, 'category', category,
                                   'tax_category', tax_category, 'unit', unit, 'active', active)
         FROM products WHERE sku = $1",
    )
    .bind(&sku)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(old) = old else {
        return Err(OfficeError::NotFound);
    };
    let new = json!({"name": name, "barcodes": barcodes, "category": category,
                     "tax_category": tax_category, "unit": unit, "active": active});
    if old != new {
        sqlx::query(
            "UPDATE products SET name = $2, barcodes = $3, category = $4, tax_category = $5,
                                 unit = $6, active = $7, updated_at = now()
             WHERE sku = $1",
        )
        .bind(&sku)
        .bind(&name)
        .bind(&barcodes)
        .bind(&category)
        .bind(&tax_category)
        .bind(unit)
        .bind(active)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut *tx,
            &audit::Record {
                target: Some(format!("product {sku}")),
                old_value: Some(old),
                new_value: Some(new),
                ..audit::Record::by(&s, "product_update")
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!(
        "/office/catalog/item/{}?done=product",
        ui::url_encode(&sku)
    ))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_the_branch_zone() {
        let t = parse_local_time("2026-12-06T07:00", chrono_tz::Asia::Makassar).expect("time");
        assert_eq!(t.to_rfc3339(), "2026-12-05T23:00:00+00:00");
        let t = parse_local_time("2026-12-06T07:00:30", CHAIN_TZ).expect("time");
        assert_eq!(t.to_rfc3339(), "2026-12-06T00:00:30+00:00");
        assert!(parse_local_time("06/12/2026 07:00", CHAIN_TZ).is_err());
    }

    #[test]
    fn barcodes_as_typed() {
        assert_eq!(
            parse_barcodes("899 898,897|899").ok(),
            Some(vec!["899".into(), "898".into(), "897".into()])
        );
        assert!(parse_barcodes("89 9' OR 1=1").is_err());
        assert!(like_escape("50%_\\").contains("\\%"));
    }
}
