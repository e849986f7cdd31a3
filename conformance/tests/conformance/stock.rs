//! "Stock levels": a page of `GET /v1/stock` is signed by the cloud's
//! master-data key over the tag `sentra.stock` and the canonical JSON of the
//! page without its signature, and holds the level the ledger has.

use anyhow::{Context, Result, ensure};
use sentra_conformance as enc;
use sentra_e2e::Cloud;
use serde_json::{Value, json};

use crate::vectors::{Chain, enroll, sale, settle, shift_id, shift_opened};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_page_is_signed_over_its_canonical_json_and_counts_the_sales() -> Result<()> {
    let cloud = tokio::task::block_in_place(Cloud::start)?;
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("catalog.csv");
    std::fs::write(
        &csv,
        "sku,barcode,name,price,tax_category,stock\nRICE5,8990000000011,Beras 5 kg,72000,standard,20\n",
    )?;
    tokio::task::block_in_place(|| -> Result<()> {
        cloud.branch_create("JKT01")?;
        cloud.catalog_import(&csv, Some("JKT01"))
    })?;
    let http = reqwest::Client::new();
    let till = enroll(&cloud, &http, "till_a").await?;
    let credential = till["credential"].as_str().context("credential")?;
    let mut c = Chain::new("till_a");
    let s = shift_id(1);
    let entries = vec![
        c.next("shift_opened", shift_opened(&s)),
        c.next(
            "sale_completed",
            sale("JKT01-T01-000001", &s, &[("RICE5", 2000, 72000)]),
        ),
    ];
    let pushed: Value = http
        .post(format!("{}/v1/push", cloud.url()))
        .header("sentra-protocol", "1")
        .bearer_auth(credential)
        .json(&json!({"entries": entries}))
        .send()
        .await?
        .json()
        .await?;
    ensure!(pushed["stored"] == 2, "{pushed}");

    // A level is handed out once every transaction older than its write has
    // ended, on the whole PostgreSQL server: another test's open transaction
    // delays it (never loses it), so ask from the start until it is there.
    let mut page = settle(async || {
        let page: Value = http
            .get(format!("{}/v1/stock", cloud.url()))
            .header("sentra-protocol", "1")
            .bearer_auth(credential)
            .send()
            .await?
            .json()
            .await?;
        let there = page["levels"] != json!([]);
        Ok((page, there))
    })
    .await?;
    let signature = page
        .as_object_mut()
        .and_then(|p| p.remove("signature"))
        .context("signature")?;
    let master = till["master_key"].as_str().context("master_key")?;
    let signature = signature.as_str().context("signature")?;
    enc::verify_cloud_signature(master, b"sentra.stock", &page, signature)
        .map_err(|e| anyhow::anyhow!("the stock page: {e}"))?;
    ensure!(page["branch"] == "JKT01", "{page}");
    ensure!(
        page["levels"] == json!([{"sku": "RICE5", "on_hand_milli": 18000, "tracked": true}]),
        "20 imported, 2 sold: {page}"
    );
    ensure!(
        page["device_tips"] == json!([{"device_id": c.device.id, "seq": 2}]),
        "{page}"
    );
    Ok(())
}
