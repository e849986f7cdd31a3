//! "Journal entry format": the document's example, the entry vectors
//! (`docs/vectors/entries/`, one per kind, a chain of one till), and the
//! kinds' fields as the document's table lists them.

use anyhow::{Context, Result, ensure};
use sentra_conformance as enc;
use serde_json::{Value, json};

use sentra_e2e::Cloud;

use crate::doc;
use crate::vectors::{self, Chain, Vector, push, shift_id};

/// The document's golden `shift_opened`: the encoder built from the words
/// makes the bytes, hash and signature the document prints.
#[test]
fn the_documents_example_entry_is_what_the_encoder_makes() -> Result<()> {
    let text = doc::protocol();
    let section = doc::section(&text, "### Example (golden `shift_opened`)")?;
    let entry: Value = serde_json::from_str(&doc::code_block(section, "```json")?)?;
    let listed = doc::code_block(section, "```text")?;
    let want_hex: String = listed
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .collect();

    let canonical = enc::canonical_bytes(&entry)?;
    assert_eq!(hex(&canonical), want_hex, "canonical bytes");
    let mut sealed = entry.clone();
    let hash = enc::seal(&mut sealed, [7; 32])?;
    assert_eq!(hash, entry["hash"].as_str().context("hash")?);
    assert_eq!(sealed["signature"], entry["signature"]);
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub const SHIFT: u64 = 1;

/// till_a's chain: one entry of every kind, every optional field present
/// (but `unverified`, which `conflicts/unverified_return` shows), figures
/// that add up and a close the cloud recomputes to the rupiah.
pub fn every_kind() -> Vec<Value> {
    let s = shift_id(SHIFT);
    let mut c = Chain::new("till_a");
    let mut out = vec![c.next("shift_opened", vectors::shift_opened(&s))];
    let sale_a = json!({
        "receipt_no": "JKT01-T01-000001", "shift_id": s, "currency": "IDR",
        "tax_mode": "inclusive",
        "lines": [
            {"line_no": 1, "sku": "IDM-GRG-85", "name": "Indomie Goreng 85 g",
             "quantity_milli": 5000, "unit_price": 3500, "tax_category": "standard",
             "tax_rate": "12", "gross": 17500, "line_discount": 0,
             "cart_discount_share": 700, "net": 16800, "tax": 1664, "total": 16800},
            {"line_no": 2, "sku": "AQA-600", "name": "Aqua 600 ml",
             "quantity_milli": 2000, "unit_price": 4000, "tax_category": "standard",
             "tax_rate": "12", "discount": {"type": "percent", "percent": "10"},
             "gross": 8000, "line_discount": 800, "cart_discount_share": 300,
             "net": 6900, "tax": 683, "total": 6900}],
        "cart_discount": {"type": "amount", "amount": 1000},
        "gross": 25500, "discounts": 1800, "tax": 2347, "total": 23700,
        "tenders": [{"method": "qris", "amount": 10000, "reference": "QR-8F3K2M"},
                    {"method": "cash", "amount": 20000}],
        "paid": 30000, "change": 6300, "cashier": "Siti", "discount_approved_by": "Budi"});
    out.push(c.next("sale_completed", sale_a));
    let sale_a_id = c.id(2);
    out.push(c.next(
        "sale_completed",
        vectors::sale("JKT01-T01-000002", &s, &[("TEH-BTL", 1000, 5000)]),
    ));
    let sale_b_id = c.id(3);
    out.push(c.next(
        "sale_voided",
        json!({"receipt_no": "JKT01-T01-000002", "sale_entry_id": sale_b_id,
               "shift_id": s, "total": 5000, "reason": "wrong item"}),
    ));
    out.push(c.next(
        "refund_issued",
        json!({"refund_no": "JKT01-T01-R00001", "receipt_no": "JKT01-T01-000001",
               "sale_entry_id": sale_a_id, "shift_id": s,
               "lines": [{"line_no": 1, "sku": "IDM-GRG-85", "quantity_milli": 1000,
                          "amount": 3360, "tax": 332}],
               "total": 3360, "tax": 332, "method": "cash", "reason": "damaged"}),
    ));
    out.push(c.next(
        "cash_moved",
        json!({"shift_id": s, "direction": "out", "amount": 50000, "reason": "bank deposit"}),
    ));
    out.push(c.next(
        "drawer_opened",
        json!({"shift_id": s, "reason": "change for a note", "cashier": "Siti"}),
    ));
    out.push(c.next(
        "stock_counted",
        json!({"sku": "AQA-600", "counted_milli": 24000, "previous_milli": 22000}),
    ));
    out.push(c.next(
        "pin_locked_out",
        json!({"user_id": "0192f3a0-7c00-7abc-8def-600000000001", "failures": 5,
               "locked_for_ms": 30000}),
    ));
    out.push(c.next(
        "master_data_refused",
        json!({"upstream": "relay", "entity": "price", "key": "17", "problem": "bad_signature"}),
    ));
    out.push(c.next(
        "clock_stepped_back",
        json!({"behind_ms": 300000, "clock_ms": vectors::BASE_MS + 9 * 60_000 - 300_000}),
    ));
    out.push(c.next(
        "shift_closed",
        json!({"shift_id": s, "opening_float": 500000,
               "totals": {"sales_count": 2, "gross": 25500, "discounts": 1800, "tax": 2015,
                          "sales_total": 23700, "refunds_count": 1, "refunds_total": 3360,
                          "voids_count": 1, "voids_total": 5000,
                          "payments": {"cash": 10340, "qris": 10000},
                          "cash_in": 0, "cash_out": 50000, "no_sales": 1},
               "expected_cash": 460340, "counted_cash": 460000, "variance": -340,
               "counted_denominations": [{"value": 100000, "count": 4},
                                         {"value": 50000, "count": 1},
                                         {"value": 10000, "count": 1}]}),
    ));
    out
}

/// Each entry of [`every_kind`] as a vector file: the entry, its payload's
/// canonical JSON, its canonical bytes, hash and signature, and the key.
#[test]
fn every_kind_s_entry_vector_is_what_the_encoder_makes() -> Result<()> {
    let bless = std::env::var_os("SENTRA_BLESS").is_some();
    let mut done = Vec::new();
    for e in every_kind() {
        let kind = e["kind"].as_str().context("kind")?;
        // The first of each kind (the second sale is there to be voided).
        if done.contains(&kind.to_owned()) {
            continue;
        }
        done.push(kind.to_owned());
        let canonical = enc::canonical_bytes(&e)?;
        let made = json!({
            "about": format!("A `{kind}` entry of till_a (seed 07 × 32), seq {} of its chain \
                              (entries/chain.json pushes them all).", e["seq"]),
            "seed": hex(&[7; 32]),
            "public_key": enc::public_key_hex([7; 32]),
            "entry": e,
            "payload_canonical": enc::canonical_json(&e["payload"])?,
            "canonical_hex": hex(&canonical),
            "hash": e["hash"],
            "signature": e["signature"],
        });
        let file = vectors::vectors_dir().join(format!("entries/{kind}.json"));
        if bless {
            std::fs::create_dir_all(file.parent().context("dir")?)?;
            std::fs::write(&file, serde_json::to_string_pretty(&made)? + "\n")?;
            continue;
        }
        let stored: Value = serde_json::from_str(
            &std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?,
        )?;
        ensure!(
            stored == made,
            "{}: not what the document's encoder makes",
            file.display()
        );
    }
    Ok(())
}

/// The whole chain pushed once: every entry stored, none quarantined or
/// refused, no conflict (the close matches what the cloud recomputes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_every_kind_is_stored_and_applied() -> Result<()> {
    Vector::new(
        "entries/chain",
        &[],
        "till_a pushes one entry of every kind (entries/<kind>.json) in one batch: all \
         stored, none refused or quarantined, no conflict; pushed again, all duplicates.",
    )
    .enrolled(&["till_a"])
    .step(push("till_a", &every_kind()))
    .step(push("till_a", &every_kind()))
    .verify()
    .await
}

/// A row of the document's table of kinds: its key (`kind`, or a nested
/// part such as `sale_completed.lines[]`), required fields, optional fields.
type KindRow = (String, Vec<String>, Vec<String>);

fn documented_kinds() -> Result<Vec<KindRow>> {
    let text = doc::protocol();
    let rows = doc::table(&text, "| kind | fields (`?`: optional) |")?;
    let mut out = Vec::new();
    for row in rows {
        let key = doc::names(&row[0]).into_iter().next().context("kind")?;
        let (mut required, mut optional) = (Vec::new(), Vec::new());
        for f in doc::names(&row[1]) {
            match f.strip_suffix('?') {
                Some(o) => optional.push(o.to_owned()),
                None => required.push(f),
            }
        }
        out.push((key, required, optional));
    }
    Ok(out)
}

/// The object a row's key names in a payload: `kind` itself, `kind.part`
/// or the first element of `kind.part[]`.
fn part<'a>(payload: &'a Value, key: &str) -> Option<&'a Value> {
    match key.split_once('.') {
        None => Some(payload),
        Some((_, path)) => match path.strip_suffix("[]") {
            Some(array) => payload.get(array)?.get(0),
            None => payload.get(path),
        },
    }
}

fn part_mut<'a>(payload: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    match key.split_once('.') {
        None => Some(payload),
        Some((_, path)) => match path.strip_suffix("[]") {
            Some(array) => payload.get_mut(array)?.get_mut(0),
            None => payload.get_mut(path),
        },
    }
}

/// Every kind the document lists has an entry vector, each entry vector
/// holds every required field of its kind and no field the document does
/// not list.
#[test]
fn every_kind_vector_holds_the_documented_fields() -> Result<()> {
    let kinds = documented_kinds()?;
    let entries = every_kind();
    for (key, required, optional) in &kinds {
        let kind = key.split('.').next().unwrap_or(key);
        let e = entries
            .iter()
            .find(|e| e["kind"] == kind)
            .with_context(|| format!("no entry vector of {kind}"))?;
        let obj = part(&e["payload"], key)
            .and_then(Value::as_object)
            .with_context(|| format!("{key}: not in the vector's payload"))?;
        for f in required {
            ensure!(obj.contains_key(f), "{key}: the vector lacks required {f}");
        }
        for f in obj.keys() {
            ensure!(
                required.contains(f) || optional.contains(f),
                "{key}: the vector holds {f}, which the document does not list"
            );
        }
    }
    for e in &entries {
        ensure!(
            kinds.iter().any(|(k, _, _)| e["kind"] == k.as_str()),
            "the document's table lacks the kind {}",
            e["kind"]
        );
    }
    Ok(())
}

// protocol: kind sale_completed
// protocol: kind sale_completed.lines[]
// protocol: kind sale_completed.tenders[]
// protocol: kind sale_voided
// protocol: kind refund_issued
// protocol: kind refund_issued.lines[]
// protocol: kind shift_opened
// protocol: kind shift_closed
// protocol: kind shift_closed.totals
// protocol: kind shift_closed.counted_denominations[]
// protocol: kind cash_moved
// protocol: kind drawer_opened
// protocol: kind stock_counted
// protocol: kind clock_stepped_back
// protocol: kind master_data_refused
// protocol: kind pin_locked_out
/// For every field of the table, an entry of its kind without it (as
/// till_b's, one batch): the cloud quarantines exactly those that lack a
/// required field (`invalid_payload`) and takes those that lack an
/// optional one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_field_left_out_is_quarantined_and_an_optional_one_is_not() -> Result<()> {
    let kinds = documented_kinds()?;
    let entries = every_kind();
    let mut c = Chain::new("till_b");
    let mut batch = vec![c.next("shift_opened", vectors::shift_opened(&shift_id(2)))];
    let mut want_quarantined = Vec::new();
    let mut tried = Vec::new();
    for (key, required, optional) in &kinds {
        let kind = key.split('.').next().unwrap_or(key);
        let Some(e) = entries.iter().find(|e| e["kind"] == kind) else {
            continue;
        };
        for (f, is_required) in required
            .iter()
            .map(|f| (f, true))
            .chain(optional.iter().map(|f| (f, false)))
        {
            let mut payload = e["payload"].clone();
            let Some(obj) = part_mut(&mut payload, key).and_then(Value::as_object_mut) else {
                continue;
            };
            if obj.remove(f).is_none() {
                continue; // an optional field the vector leaves out
            }
            let entry = c.next(kind, payload);
            if is_required {
                want_quarantined.push(entry["seq"].as_u64().context("seq")?);
            }
            tried.push(format!("{key} without {f} (seq {})", entry["seq"]));
            batch.push(entry);
        }
    }
    let cloud = tokio::task::block_in_place(|| -> Result<Cloud> {
        let cloud = Cloud::start()?;
        cloud.branch_create("JKT01")?;
        Ok(cloud)
    })?;
    let http = reqwest::Client::new();
    let till = vectors::enroll(&cloud, &http, "till_b").await?;
    let answer: Value = http
        .post(format!("{}/v1/push", cloud.url()))
        .header("sentra-protocol", "1")
        .bearer_auth(till["credential"].as_str().context("credential")?)
        .json(&json!({"entries": batch}))
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        answer["stored"] == json!(batch.len()),
        "every entry is stored: {answer}"
    );
    let mut got = Vec::new();
    for q in answer["quarantined"].as_array().context("quarantined")? {
        let reason = q["reason"].as_str().context("reason")?;
        ensure!(reason.starts_with("invalid_payload:"), "{q}");
        got.push(q["seq"].as_u64().context("seq")?);
    }
    ensure!(
        got == want_quarantined,
        "quarantined seqs {got:?}, required fields left out at {want_quarantined:?}; tried:\n{}",
        tried.join("\n")
    );
    Ok(())
}
