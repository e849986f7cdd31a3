//! Branch settings that terminals pull (entity `branch_settings`) and print:
//! what a receipt serving as a *faktur pajak eceran* carries (seller's legal
//! name, store name, address, NPWP, header and footer lines), the time zone,
//! the tax mode, the discount level that needs a supervisor's PIN and the
//! tenders the branch takes. `GET /office/settings` lists the branches;
//! `GET|POST /office/branches/{code}/settings` shows and changes one (admins
//! and the branch's managers; the others read).

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::{Value, json};

use sentra_domain::ppn::{format_npwp, parse_npwp};
use sentra_domain::scale_label::ScaleRule;

use crate::Office;
use crate::audit;
use crate::auth::Session;
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Nav};

/// Tenders a branch may take (the tills' payment methods).
pub const TENDERS: [&str; 4] = ["cash", "card", "qris", "voucher"];
/// Time zones offered: Indonesia's three.
pub const ZONES: [(&str, &str); 3] = [
    ("Asia/Jakarta", "WIB (Asia/Jakarta)"),
    ("Asia/Makassar", "WITA (Asia/Makassar)"),
    ("Asia/Jayapura", "WIT (Asia/Jayapura)"),
];

/// The settings of one branch, as stored.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Settings {
    pub legal_name: Option<String>,
    pub store_name: Option<String>,
    pub address: Option<String>,
    pub npwp: Option<String>,
    pub receipt_header: Option<String>,
    pub receipt_footer: Option<String>,
    pub timezone: String,
    pub tax_mode: String,
    pub supervisor_discount_pct: Option<String>,
    pub tenders: Vec<String>,
    /// `id` or `en`: the language the tills print receipts in.
    pub receipt_language: String,
    /// How the branch's scale labels are read; `None`: the default rule.
    pub scale_labels: Option<Vec<ScaleRule>>,
}

type SettingsRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    Vec<String>,
    String,
    Option<sqlx::types::Json<Vec<ScaleRule>>>,
);

async fn load(tx: &mut sqlx::PgConnection, branch_id: i32) -> Result<Settings> {
    let r: Option<SettingsRow> = sqlx::query_as(
        "SELECT legal_name, store_name, address, npwp, receipt_header, receipt_footer,
                timezone, tax_mode, supervisor_discount_pct, tenders,
                receipt_language, scale_labels
         FROM branches WHERE branch_id = $1",
    )
    .bind(branch_id)
    .fetch_optional(&mut *tx)
    .await?;
    let r = r.ok_or(OfficeError::NotFound)?;
    Ok(Settings {
        legal_name: r.0,
        store_name: r.1,
        address: r.2,
        npwp: r.3,
        receipt_header: r.4,
        receipt_footer: r.5,
        timezone: r.6,
        tax_mode: r.7,
        supervisor_discount_pct: r.8,
        tenders: r.9,
        receipt_language: r.10,
        scale_labels: r.11.map(|j| j.0),
    })
}

/// Optional text: empty is `None`; lines kept (receipt header and footer),
/// other control characters refused.
fn text(form: &Form, name: &str, max: usize, lines: bool) -> Result<Option<String>> {
    let Some(v) = form.text(name) else {
        return Ok(None);
    };
    let v = v.replace("\r\n", "\n");
    if v.len() > max || v.chars().any(|c| c.is_control() && !(lines && c == '\n')) {
        return Err(OfficeError::BadInput(format!(
            "{name} must be at most {max} bytes of plain text"
        )));
    }
    Ok(Some(v))
}

/// The settings a form asks for, checked.
pub fn from_form(form: &Form) -> Result<Settings> {
    let npwp = match form.text("npwp") {
        None => None,
        Some(v) => Some(parse_npwp(v).map_err(OfficeError::BadInput)?),
    };
    let timezone = form.text("timezone").unwrap_or("Asia/Jakarta").to_owned();
    if !ZONES.iter().any(|(z, _)| *z == timezone) {
        return Err(OfficeError::BadInput(format!(
            "time zone {timezone:?} must be one of Asia/Jakarta, Asia/Makassar, Asia/Jayapura"
        )));
    }
    let tax_mode = match form.get("tax_mode") {
        Some("exclusive") => "exclusive",
        Some("inclusive") | None => "inclusive",
        Some(other) => {
            return Err(OfficeError::BadInput(format!(
                "tax mode {other:?} must be inclusive or exclusive"
            )));
        }
    };
    let pct = match form.text("supervisor_discount_pct") {
        None => None,
        Some(p) => {
            let ok = p
                .parse::<f64>()
                .ok()
                .is_some_and(|v| (0.0..=100.0).contains(&v))
                && p.len() <= 6
                && p.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && p.split('.')
                    .nth(1)
                    .is_none_or(|d| d.len() <= 2 && !d.is_empty());
            if !ok {
                return Err(OfficeError::BadInput(format!(
                    "supervisor discount level {p:?} must be a percent from 0 to 100 (e.g. 10 or 12.5)"
                )));
            }
            Some(p.to_owned())
        }
    };
    let tenders: Vec<String> = TENDERS
        .iter()
        .filter(|t| form.all("tenders").any(|v| v == **t))
        .map(|t| (*t).to_owned())
        .collect();
    if tenders.is_empty() {
        return Err(OfficeError::BadInput(
            "a branch takes at least one tender".into(),
        ));
    }
    let receipt_language = match form.get("receipt_language") {
        Some("en") => "en",
        Some("id") | None => "id",
        Some(other) => {
            return Err(OfficeError::BadInput(format!(
                "receipt language {other:?} must be id or en"
            )));
        }
    };
    let scale_labels = match form.text("scale_labels") {
        None => None,
        Some(v) => {
            let rules = v
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(ScaleRule::parse_line)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(OfficeError::BadInput)?;
            if rules.len() > 10 {
                return Err(OfficeError::BadInput(
                    "at most ten scale rules, one per prefix".into(),
                ));
            }
            if let Some(dup) = rules
                .iter()
                .enumerate()
                .find(|(i, r)| rules[..*i].iter().any(|o| o.prefix == r.prefix))
            {
                return Err(OfficeError::BadInput(format!(
                    "scale prefix {} is given twice",
                    dup.1.prefix
                )));
            }
            Some(rules)
        }
    };
    Ok(Settings {
        receipt_language: receipt_language.to_owned(),
        scale_labels,
        legal_name: text(form, "legal_name", 200, false)?,
        store_name: text(form, "store_name", 200, false)?,
        address: text(form, "address", 500, true)?,
        npwp,
        receipt_header: text(form, "receipt_header", 500, true)?,
        receipt_footer: text(form, "receipt_footer", 500, true)?,
        timezone,
        tax_mode: tax_mode.to_owned(),
        supervisor_discount_pct: pct,
        tenders,
    })
}

/// `GET /office/settings`.
pub async fn list(State(office): State<Office>, s: Session) -> Result<Markup> {
    let l = s.lang;
    let mut tx = scope::read(&office, &s).await?;
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT code, name, legal_name, npwp, sentra_rfc3339(settings_updated_at)
             FROM branches ORDER BY code",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let body = html! {
        table #branches {
            thead { tr { th { (l.t("Cabang", "Branch")) } th { (l.t("Nama badan usaha", "Legal name")) } th { "NPWP" } th { (l.t("Diubah", "Changed")) } th {} } }
            tbody {
                @for r in &rows {
                    tr {
                        td { (r.0) " — " (r.1) }
                        td { (r.2.as_deref().unwrap_or("—")) }
                        td.mono { (r.3.as_deref().map_or("—".into(), format_npwp)) }
                        td { (r.4.as_deref().unwrap_or("—")) }
                        td { a href={ "/office/branches/" (r.0) "/settings" } { (l.t("Buka", "Open")) } }
                    }
                }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Settings,
        l.t("Pengaturan cabang", "Branch settings"),
        "/office/settings",
        body,
    ))
}

/// `GET /office/branches/{code}/settings`.
pub async fn page(
    State(office): State<Office>,
    s: Session,
    Path(code): Path<String>,
    uri: Uri,
) -> Result<Markup> {
    let q = Form::query(&uri)?;
    let l = s.lang;
    let b = s.branch(&code).ok_or(OfficeError::NotFound)?.clone();
    let mut tx = scope::read(&office, &s).await?;
    let v = load(&mut tx, b.id).await?;
    tx.commit().await?;
    let edit = s.role.manages_branches();
    let body = html! {
        @if q.text("done").is_some() {
            p.ok #done { (l.t("Pengaturan disimpan. Kasir menerimanya pada sinkronisasi berikutnya.", "Settings saved. Tills receive them at their next sync.")) }
        }
        p.muted { (l.t("Struk yang dicetak kasir berfungsi sebagai faktur pajak eceran: nama dan alamat penjual, NPWP, barang, harga, potongan, PPN termasuk, nomor dan tanggal.",
                       "The receipt the till prints serves as a faktur pajak eceran: seller's name and address, NPWP, goods, price, discount, PPN included, number and date.")) }
        form.stack #settings method="post" action={ "/office/branches/" (b.code) "/settings" } {
            input type="hidden" name="csrf" value=(s.csrf);
            fieldset disabled[!edit] {
                label { (l.t("Nama badan usaha (penjual)", "Legal name (seller)")) input name="legal_name" value=(v.legal_name.clone().unwrap_or_default()) maxlength="200"; }
                label { (l.t("Nama toko", "Store name")) input name="store_name" value=(v.store_name.clone().unwrap_or_default()) maxlength="200" placeholder=(b.name); }
                label { (l.t("Alamat", "Address")) textarea name="address" rows="3" maxlength="500" { (v.address.clone().unwrap_or_default()) } }
                label { "NPWP" input name="npwp" value=(v.npwp.as_deref().map(format_npwp).unwrap_or_default()) placeholder="01.234.567.8-901.000"; }
                label { (l.t("Baris kepala struk", "Receipt header lines")) textarea name="receipt_header" rows="2" maxlength="500" { (v.receipt_header.clone().unwrap_or_default()) } }
                label { (l.t("Baris kaki struk", "Receipt footer lines")) textarea name="receipt_footer" rows="2" maxlength="500" { (v.receipt_footer.clone().unwrap_or_default()) } }
                label { (l.t("Bahasa struk", "Receipt language"))
                    select name="receipt_language" {
                        option value="id" selected[v.receipt_language == "id"] { "Bahasa Indonesia" }
                        option value="en" selected[v.receipt_language == "en"] { "English" }
                    } }
                label { (l.t("Label timbangan (per baris: awalan, digit kode barang, weight atau price)", "Scale labels (one per line: prefix, item code digits, weight or price)"))
                    textarea name="scale_labels" rows="2" maxlength="300" placeholder="20 5 weight" {
                        (v.scale_labels.as_ref().map(|r| r.iter().map(ScaleRule::to_line).collect::<Vec<_>>().join("\n")).unwrap_or_default())
                    } }
                label { (l.t("Zona waktu", "Time zone"))
                    select name="timezone" { @for (z, label) in ZONES { option value=(z) selected[v.timezone == z] { (label) } } } }
                label { (l.t("Harga di rak", "Shelf prices"))
                    select name="tax_mode" {
                        option value="inclusive" selected[v.tax_mode == "inclusive"] { (l.t("termasuk PPN", "include PPN")) }
                        option value="exclusive" selected[v.tax_mode == "exclusive"] { (l.t("belum termasuk PPN", "exclude PPN")) }
                    } }
                label { (l.t("Diskon di atas (%) perlu PIN supervisor", "Discounts above (%) need a supervisor PIN"))
                    input name="supervisor_discount_pct" value=(v.supervisor_discount_pct.clone().unwrap_or_default()) inputmode="decimal" placeholder="10"; }
                fieldset.inline {
                    legend { (l.t("Pembayaran yang diterima", "Tenders accepted")) }
                    @for t in TENDERS {
                        label.check { input type="checkbox" name="tenders" value=(t) checked[v.tenders.iter().any(|x| x == t)]; (t) }
                    }
                }
                @if edit { button { (l.t("Simpan pengaturan", "Save settings")) } }
            }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Settings,
        &format!("{} {}", l.t("Pengaturan", "Settings"), b.code),
        &format!("/office/branches/{}/settings", b.code),
        body,
    ))
}

/// `POST /office/branches/{code}/settings`.
pub async fn save(
    State(office): State<Office>,
    s: Session,
    Path(code): Path<String>,
    form: Form,
) -> Result<Response> {
    s.check_csrf(&form)?;
    if !s.role.manages_branches() {
        return Err(OfficeError::Forbidden(
            "Only admins and the branch's managers change its settings.",
        ));
    }
    let b = s.branch(&code).ok_or(OfficeError::NotFound)?.clone();
    let new = from_form(&form)?;
    let mut tx = scope::write(&office, &s).await?;
    let old = load(&mut tx, b.id).await?;
    if old != new {
        let done = sqlx::query(
            "UPDATE branches SET legal_name = $2, store_name = $3, address = $4, npwp = $5,
                 receipt_header = $6, receipt_footer = $7, timezone = $8, tax_mode = $9,
                 supervisor_discount_pct = $10, tenders = $11, receipt_language = $12,
                 scale_labels = $13, settings_updated_at = now()
             WHERE branch_id = $1",
        )
        .bind(b.id)
        .bind(&new.legal_name)
        .bind(&new.store_name)
        .bind(&new.address)
        .bind(&new.npwp)
        .bind(&new.receipt_header)
        .bind(&new.receipt_footer)
        .bind(&new.timezone)
        .bind(&new.tax_mode)
        .bind(&new.supervisor_discount_pct)
        .bind(&new.tenders)
        .bind(&new.receipt_language)
        .bind(new.scale_labels.clone().map(sqlx::types::Json))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(OfficeError::NotFound);
        }
        audit::append(
            &mut *tx,
            &audit::Record {
                branch_id: Some(b.id),
                target: Some(format!("branch settings {}", b.code)),
                old_value: Some(serde_json::to_value(&old).unwrap_or(Value::Null)),
                new_value: Some(serde_json::to_value(&new).unwrap_or(json!(null))),
                ..audit::Record::by(&s, "branch_settings")
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/office/branches/{}/settings?done=1", b.code)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_needs_a_tender_and_a_known_zone() {
        let f = Form::parse(
            b"timezone=Asia%2FJakarta&tenders=cash&tenders=qris&supervisor_discount_pct=12.5",
        );
        let v = from_form(&f).expect("valid");
        assert_eq!(v.tenders, ["cash", "qris"]);
        assert_eq!(
            (v.receipt_language.as_str(), &v.scale_labels),
            ("id", &None)
        );
        let scales = from_form(&Form::parse(
            b"timezone=Asia%2FJakarta&tenders=cash&receipt_language=en&scale_labels=20+5+weight%0D%0A22+4+price",
        ))
        .expect("valid");
        assert_eq!(scales.receipt_language, "en");
        assert_eq!(
            scales
                .scale_labels
                .as_ref()
                .map(|r| r.iter().map(ScaleRule::to_line).collect::<Vec<_>>()),
            Some(vec!["20 5 weight".to_owned(), "22 4 price".to_owned()])
        );
        for bad in [
            &b"timezone=Asia%2FJakarta&tenders=cash&receipt_language=fr"[..],
            b"timezone=Asia%2FJakarta&tenders=cash&scale_labels=19+5+weight",
            b"timezone=Asia%2FJakarta&tenders=cash&scale_labels=20+5+weight%0A20+4+price",
        ] {
            assert!(from_form(&Form::parse(bad)).is_err());
        }
        assert!(from_form(&Form::parse(b"timezone=Asia%2FJakarta")).is_err());
        assert!(from_form(&Form::parse(b"timezone=Europe%2FParis&tenders=cash")).is_err());
        assert!(
            from_form(&Form::parse(
                b"timezone=Asia%2FJakarta&tenders=cash&supervisor_discount_pct=101"
            ))
            .is_err()
        );
    }
}
