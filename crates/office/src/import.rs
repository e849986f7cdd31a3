//! Catalog import from the page (admins): `GET /office/catalog/import`
//! (the form), `POST /office/catalog/import` (upload: checked whole, every
//! bad line named; a good file is kept and previewed — what is new, what
//! changes, what stays) and `POST /office/catalog/import/{id}/apply` (the
//! previewed file applied in one transaction, one audit record per changed
//! product or price with old and new values).
//!
//! The file is the catalog CSV every Sentra tool reads
//! (`sentra_ledger::catalog_csv`), with two optional columns, `category` and
//! `unit` (`unit` or `weighed`). Its `stock` column is ignored here: stock
//! levels come from counts at the till (or `sentra-sync catalog import
//! --branch`). Set-based SQL, so 100,000 products apply in a few round trips.

use std::collections::HashMap;

use axum::extract::{Multipart, Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use sentra_ledger::catalog_csv::{self, CatalogRow};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Office;
use crate::audit;
use crate::auth::Session;
use crate::error::{OfficeError, Result};
use crate::form::Form;
use crate::scope;
use crate::ui::{self, Nav};

/// The largest file taken (a 100,000-product catalog is about 7 MiB).
pub const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;
/// Changes listed in the preview (all are counted).
const PREVIEW_ROWS: usize = 500;

fn admin_only(s: &Session) -> Result<()> {
    if s.role.manages_catalog() {
        Ok(())
    } else {
        Err(OfficeError::Forbidden("Only an admin imports the catalog."))
    }
}

/// `GET /office/catalog/import`.
pub async fn form(s: Session, uri: Uri) -> Result<Markup> {
    admin_only(&s)?;
    let q = Form::query(&uri)?;
    let l = s.lang;
    let body = html! {
        @if let Some(n) = q.text("applied") {
            p.ok #done { (l.t("Impor diterapkan:", "Import applied:")) " " (n) " " (l.t("perubahan. Kasir menerimanya pada sinkronisasi berikutnya.", "changes. Tills receive them at their next sync.")) }
        }
        p { (l.t(
            "Berkas CSV dengan kolom sku, barcode (beberapa dipisah |), name, price (rupiah, termasuk PPN), tax_category, stock; opsional category dan unit (unit atau weighed). Berkas diperiksa utuh: satu baris salah, tidak ada yang diterapkan. Kolom stock diabaikan di sini.",
            "A CSV file with columns sku, barcode (several separated by |), name, price (rupiah, PPN included), tax_category, stock; optionally category and unit (unit or weighed). The file is checked whole: one bad line and nothing is applied. The stock column is ignored here.")) }
        form.stack #upload method="post" action="/office/catalog/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(s.csrf);
            label { (l.t("Berkas CSV", "CSV file")) input type="file" name="file" accept=".csv,text/csv" required; }
            button { (l.t("Periksa berkas", "Check the file")) }
        }
    };
    Ok(ui::page(
        &s,
        Nav::Catalog,
        l.t("Impor katalog", "Catalog import"),
        "/office/catalog/import",
        body,
    ))
}

/// What applying a file would do to one product.
#[derive(Debug)]
struct Change {
    sku: String,
    name: String,
    old: Option<Value>,
    new: Value,
    product_changes: bool,
    old_price: Option<i64>,
    price: i64,
}

impl Change {
    fn price_changes(&self) -> bool {
        self.old_price != Some(self.price)
    }
}

type Existing = (String, Value);

/// Compares `rows` with the products and chain prices in force.
async fn plan(tx: &mut sqlx::PgConnection, rows: &[CatalogRow]) -> Result<Vec<Change>> {
    let skus: Vec<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
    let existing: Vec<Existing> = sqlx::query_as(
        "SELECT sku, jsonb_build_object('name', name, 'barcodes', barcodes, 'category', category,
                                        'tax_category', tax_category, 'unit', unit, 'active', active)
         FROM products WHERE sku = ANY ($1)",
    )
    .bind(&skus)
    .fetch_all(&mut *tx)
    .await?;
    let existing: HashMap<String, Value> = existing.into_iter().collect();
    let prices: Vec<(String, i64)> = sqlx::query_as(
        "SELECT DISTINCT ON (sku) sku, price FROM prices
         WHERE sku = ANY ($1) AND branch_id IS NULL AND effective_from <= now()
         ORDER BY sku, effective_from DESC, price_id DESC",
    )
    .bind(&skus)
    .fetch_all(&mut *tx)
    .await?;
    let prices: HashMap<String, i64> = prices.into_iter().collect();
    Ok(rows
        .iter()
        .map(|r| {
            let old = existing.get(&r.sku).cloned();
            let keep = |k: &str| old.as_ref().and_then(|o| o.get(k)).cloned();
            let new = json!({
                "name": r.name, "barcodes": r.barcodes,
                "category": r.category.clone().map(Value::from).or_else(|| keep("category")).unwrap_or(Value::Null),
                "tax_category": r.tax_category,
                "unit": match r.weighed { Some(true) => Value::from("weighed"), Some(false) => Value::from("unit"),
                                          None => keep("unit").unwrap_or_else(|| Value::from("unit")) },
                "active": true,
            });
            Change {
                sku: r.sku.clone(),
                name: r.name.clone(),
                product_changes: old.as_ref() != Some(&new),
                old,
                new,
                old_price: prices.get(&r.sku).copied(),
                price: r.price,
            }
        })
        .collect())
}

/// Barcodes of the file that products not in the file already carry.
async fn barcode_clashes(
    tx: &mut sqlx::PgConnection,
    rows: &[CatalogRow],
) -> Result<Vec<(u64, String, String)>> {
    let mut codes = Vec::new();
    let mut skus = Vec::new();
    for r in rows {
        for c in &r.barcodes {
            codes.push(c.as_str());
            skus.push(r.sku.as_str());
        }
    }
    // Hash joins both ways: a barcode of the file held by a product that
    // the file does not list (a product the file lists may hand its
    // barcode over).
    let clashes: Vec<(String, String, String)> = sqlx::query_as(
        "WITH f AS (SELECT code, sku FROM unnest($1::text[], $2::text[]) AS f(code, sku))
         SELECT f.code, f.sku, held.sku
         FROM f
         JOIN (SELECT p.sku, u.code FROM products p CROSS JOIN LATERAL unnest(p.barcodes) AS u(code)) held
           ON held.code = f.code AND held.sku <> f.sku
         WHERE NOT (held.sku = ANY ($3))
         ORDER BY f.sku LIMIT 100",
    )
    .bind(&codes)
    .bind(&skus)
    .bind(rows.iter().map(|r| r.sku.as_str()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    let line_of: HashMap<&str, u64> = rows.iter().map(|r| (r.sku.as_str(), r.line)).collect();
    Ok(clashes
        .into_iter()
        .map(|(code, sku, other)| {
            let line = line_of.get(sku.as_str()).copied().unwrap_or(0);
            (line, code, other)
        })
        .collect())
}

async fn tax_classes(tx: &mut sqlx::PgConnection) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT category FROM tax_rates ORDER BY category")
            .fetch_all(&mut *tx)
            .await?,
    )
}

/// `POST /office/catalog/import` (multipart: `csrf`, `file`).
pub async fn upload(
    State(office): State<Office>,
    s: Session,
    mut multipart: Multipart,
) -> Result<Response> {
    admin_only(&s)?;
    let l = s.lang;
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| OfficeError::BadInput(format!("upload: {e}")))?
    {
        match field.name() {
            Some("csrf") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| OfficeError::BadInput(format!("upload: {e}")))?;
            }
            Some("file") => {
                let name = field
                    .file_name()
                    .unwrap_or("catalog.csv")
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect::<String>();
                let bytes = field.bytes().await.map_err(|e| {
                    OfficeError::BadInput(format!(
                        "upload: {e} (files up to {} MiB)",
                        MAX_FILE_BYTES / 1024 / 1024
                    ))
                })?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    s.check_csrf(&Form(vec![("csrf".into(), csrf)]))?;
    let Some((file_name, body)) = file else {
        return Err(OfficeError::BadInput("choose a CSV file".into()));
    };
    let mut tx = scope::write(&office, &s).await?;
    let classes = tax_classes(&mut tx).await?;
    let mut errors: Vec<(u64, String)> = Vec::new();
    let mut changes = Vec::new();
    match catalog_csv::parse_all(&file_name, body.as_slice(), &classes) {
        Err(bad) => errors.extend(bad.into_iter().map(|e| (e.line, e.detail))),
        Ok(rows) => {
            for (line, code, other) in barcode_clashes(&mut tx, &rows).await? {
                errors.push((
                    line,
                    format!("barcode {code} already belongs to product {other}"),
                ));
            }
            if errors.is_empty() {
                changes = plan(&mut tx, &rows).await?;
            }
        }
    }
    let import_id = Uuid::now_v7();
    if errors.is_empty() {
        sqlx::query(
            "INSERT INTO office_imports (import_id, user_id, file_name, body) VALUES ($1, $2, $3, $4)",
        )
        .bind(import_id)
        .bind(s.user_id)
        .bind(&file_name)
        .bind(&body)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let new = changes.iter().filter(|c| c.old.is_none()).count();
    let changed = changes
        .iter()
        .filter(|c| c.old.is_some() && (c.product_changes || c.price_changes()))
        .count();
    let same = changes.len() - new - changed;
    let listed: Vec<&Change> = changes
        .iter()
        .filter(|c| c.product_changes || c.price_changes())
        .take(PREVIEW_ROWS)
        .collect();
    let body = html! {
        p { (l.t("Berkas", "File")) ": " strong { (file_name) } }
        @if !errors.is_empty() {
            div.error #errors {
                p { strong { (l.t("Berkas ditolak: tidak ada yang diterapkan.", "File refused: nothing was applied.")) } " "
                    (errors.len()) " " (l.t("baris salah:", "bad lines:")) }
                ul {
                    @for (line, detail) in &errors {
                        li { (l.t("baris", "line")) " " (line) ": " (detail) }
                    }
                }
            }
            p { a href="/office/catalog/import" { (l.t("Unggah berkas yang sudah diperbaiki", "Upload a corrected file")) } }
        } @else {
            p #summary { (new) " " (l.t("produk baru", "new products")) " · " (changed) " " (l.t("berubah", "changed")) " · " (same) " " (l.t("tetap", "unchanged")) }
            table #preview {
                thead { tr { th { "SKU" } th { (l.t("Nama", "Name")) } th { (l.t("Perubahan", "Change")) } th.num { (l.t("Harga lama", "Old price")) } th.num { (l.t("Harga baru", "New price")) } } }
                tbody {
                    @for c in &listed {
                        tr {
                            td { (c.sku) } td { (c.name) }
                            td { @if c.old.is_none() { (l.t("baru", "new")) } @else {
                                (changed_fields(c).join(", ")) } }
                            td.num { (c.old_price.map_or("—".into(), ui::rp)) }
                            td.num { (ui::rp(c.price)) }
                        }
                    }
                }
            }
            @if changes.len() > listed.len() && listed.len() == PREVIEW_ROWS { p.muted { (l.t("Hanya 500 perubahan pertama yang ditampilkan.", "Only the first 500 changes are shown.")) } }
            form method="post" action={ "/office/catalog/import/" (import_id) "/apply" } {
                input type="hidden" name="csrf" value=(s.csrf);
                button #apply { (l.t("Terapkan impor", "Apply the import")) }
                " " a href="/office/catalog/import" { (l.t("Batal", "Cancel")) }
            }
        }
    };
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        ui::page(
            &s,
            Nav::Catalog,
            l.t("Pratinjau impor", "Import preview"),
            "/office/catalog/import",
            body,
        ),
    )
        .into_response())
}

fn changed_fields(c: &Change) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(old) = &c.old {
        for k in [
            "name",
            "barcodes",
            "category",
            "tax_category",
            "unit",
            "active",
        ] {
            if old.get(k) != c.new.get(k) {
                out.push(k.to_owned());
            }
        }
    }
    if c.price_changes() {
        out.push("price".into());
    }
    out
}

/// `POST /office/catalog/import/{id}/apply`.
pub async fn apply(
    State(office): State<Office>,
    s: Session,
    Path(import_id): Path<Uuid>,
    form: Form,
) -> Result<Response> {
    s.check_csrf(&form)?;
    admin_only(&s)?;
    let mut tx = scope::write(&office, &s).await?;
    let row: Option<(String, Vec<u8>, bool)> = sqlx::query_as(
        "SELECT file_name, body, applied_at IS NOT NULL FROM office_imports
         WHERE import_id = $1 AND user_id = $2 FOR UPDATE",
    )
    .bind(import_id)
    .bind(s.user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((file_name, body, applied)) = row else {
        return Err(OfficeError::NotFound);
    };
    if applied {
        return Err(OfficeError::BadInput(
            "this import was applied already".into(),
        ));
    }
    let classes = tax_classes(&mut tx).await?;
    let rows = catalog_csv::parse_all(&file_name, body.as_slice(), &classes).map_err(|e| {
        OfficeError::BadInput(format!(
            "the file no longer checks: {}",
            e.first().map(ToString::to_string).unwrap_or_default()
        ))
    })?;
    if let Some((line, code, other)) = barcode_clashes(&mut tx, &rows).await?.first() {
        return Err(OfficeError::BadInput(format!(
            "line {line}: barcode {code} already belongs to product {other}"
        )));
    }
    let changes = plan(&mut tx, &rows).await?;
    let products: Vec<&Change> = changes.iter().filter(|c| c.product_changes).collect();
    let col = |k: &str| -> Vec<Option<String>> {
        products
            .iter()
            .map(|c| c.new.get(k).and_then(Value::as_str).map(str::to_owned))
            .collect()
    };
    let barcodes: Vec<String> = products
        .iter()
        .map(|c| {
            c.new
                .get("barcodes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .unwrap_or_default()
        })
        .collect();
    sqlx::query(
        "INSERT INTO products (sku, name, barcodes, category, tax_category, unit, active)
         SELECT sku, name, CASE WHEN codes = '' THEN '{}'::text[] ELSE string_to_array(codes, '|') END,
                category, tax_category, unit, true
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
              AS f(sku, name, codes, category, tax_category, unit)
         ON CONFLICT (sku) DO UPDATE
             SET name = excluded.name, barcodes = excluded.barcodes, category = excluded.category,
                 tax_category = excluded.tax_category, unit = excluded.unit, active = true,
                 updated_at = now()",
    )
    .bind(products.iter().map(|c| c.sku.clone()).collect::<Vec<_>>())
    .bind(col("name"))
    .bind(&barcodes)
    .bind(col("category"))
    .bind(col("tax_category"))
    .bind(col("unit"))
    .execute(&mut *tx)
    .await?;
    let priced: Vec<&Change> = changes.iter().filter(|c| c.price_changes()).collect();
    sqlx::query(
        "INSERT INTO prices (sku, branch_id, price, effective_from)
         SELECT sku, NULL, price, now() FROM unnest($1::text[], $2::bigint[]) AS f(sku, price)",
    )
    .bind(priced.iter().map(|c| c.sku.clone()).collect::<Vec<_>>())
    .bind(priced.iter().map(|c| c.price).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    // One audit record per product that changed: its old and new values.
    let mut targets = Vec::new();
    let mut olds = Vec::new();
    let mut news = Vec::new();
    for c in changes
        .iter()
        .filter(|c| c.product_changes || c.price_changes())
    {
        targets.push(format!("product {}", c.sku));
        let mut old = c.old.clone().unwrap_or(Value::Null);
        if let (Value::Object(m), Some(p)) = (&mut old, c.old_price) {
            m.insert("price".into(), p.into());
        }
        olds.push(old);
        let mut new = c.new.clone();
        if let Value::Object(m) = &mut new {
            m.insert("price".into(), c.price.into());
        }
        news.push(new);
    }
    let n = targets.len();
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor_email, address, action, target, old_value, new_value)
         SELECT $1, $2, $3, 'catalog_import', t, NULLIF(o, 'null'::jsonb), n
         FROM unnest($4::text[], $5::jsonb[], $6::jsonb[]) AS f(t, o, n)",
    )
    .bind(s.user_id)
    .bind(&s.email)
    .bind(&s.address)
    .bind(&targets)
    .bind(&olds)
    .bind(&news)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut *tx,
        &audit::Record {
            target: Some(format!("catalog file {file_name}")),
            new_value: Some(json!({
                "import_id": import_id, "rows": rows.len(), "products_changed": products.len(),
                "prices_added": priced.len(),
            })),
            ..audit::Record::by(&s, "catalog_import_applied")
        },
    )
    .await?;
    sqlx::query("UPDATE office_imports SET applied_at = now() WHERE import_id = $1")
        .bind(import_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/office/catalog/import?applied={n}")).into_response())
}
