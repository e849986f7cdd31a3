//! "Pull": every entity of the document's table is pulled with exactly the
//! `data` fields the table lists, and every change verifies under the
//! enrollment's `master_key` as "Master data is signed by the cloud" says
//! (the tag `sentra.master` and this package's canonical JSON).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, ensure};
use sentra_conformance as enc;
use sentra_e2e::Cloud;
use serde_json::{Value, json};

use crate::doc;
use crate::vectors::{enroll, settle};

/// `entity` → the `data` fields the document's table lists.
fn documented_entities() -> Result<BTreeMap<String, BTreeSet<String>>> {
    let text = doc::protocol();
    let rows = doc::table(&text, "| `entity` | `key` | `data` fields |")?;
    let mut out = BTreeMap::new();
    for row in rows {
        let entity = doc::names(&row[0]).into_iter().next().context("entity")?;
        let fields = doc::names(&doc::outside_parentheses(&row[2]));
        out.insert(entity, fields.into_iter().collect());
    }
    Ok(out)
}

// protocol: entity product
// protocol: entity price
// protocol: entity user
// protocol: entity tax
// protocol: entity branch_settings
// protocol: entity device
// protocol: limit max_pull_limit
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entity_is_pulled_with_its_documented_fields_and_signed() -> Result<()> {
    let documented = documented_entities()?;
    ensure!(documented.len() >= 6, "the entity table: {documented:?}");
    let cloud = tokio::task::block_in_place(Cloud::start)?;
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("catalog.csv");
    std::fs::write(
        &csv,
        "sku,barcode,name,price,tax_category,stock\nTEH-BTL,8990000000028,Teh Botol,5000,standard,10\n",
    )?;
    tokio::task::block_in_place(|| -> Result<()> {
        cloud.branch_create("JKT01")?;
        cloud.catalog_import(&csv, Some("JKT01"))?;
        cloud.price_set("TEH-BTL", 5500, Some("JKT01"))?;
        cloud.admin(&[
            "user", "add", "--name", "Siti", "--pin", "1234", "--branch", "JKT01",
        ])?;
        Ok(())
    })?;
    let till = enroll(&cloud, &http, "till_a").await?;
    let credential = till["credential"].as_str().context("credential")?;
    let master = till["master_key"].as_str().context("master_key")?;

    let pull = |query: &'static str| {
        http.get(format!("{}/v1/pull{query}", cloud.url()))
            .header("sentra-protocol", "1")
            .bearer_auth(credential)
            .send()
    };
    let answer = pull("?limit=1001").await?;
    ensure!(
        answer.status() == 400,
        "a limit over 1000: {}",
        answer.status()
    );
    // A change is handed out once every transaction older than it has ended,
    // on the whole PostgreSQL server ("The cursor…"): another test's open
    // transaction delays it (never loses it), so pull from the start until
    // every entity is there.
    let changes = settle(async || {
        let page: Value = pull("?limit=1000").await?.json().await?;
        let changes = page["changes"].as_array().context("changes")?.clone();
        let entities: BTreeSet<&str> = changes
            .iter()
            .filter_map(|c| c["entity"].as_str())
            .collect();
        let all = documented.keys().all(|e| entities.contains(e.as_str()));
        Ok((changes, all))
    })
    .await?;

    let mut seen = BTreeSet::new();
    for c in &changes {
        let keys: BTreeSet<&str> = c
            .as_object()
            .context("change")?
            .keys()
            .map(String::as_str)
            .collect();
        ensure!(
            keys == BTreeSet::from([
                "entity",
                "key",
                "data",
                "deleted",
                "scope",
                "version",
                "signature"
            ]),
            "a change's fields: {keys:?}"
        );
        let signed = json!({"data": c["data"], "deleted": c["deleted"], "entity": c["entity"],
                            "key": c["key"], "scope": c["scope"], "version": c["version"]});
        let signature = c["signature"].as_str().context("signature")?;
        enc::verify_cloud_signature(master, b"sentra.master", &signed, signature)
            .map_err(|e| anyhow::anyhow!("change {c}: {e}"))?;

        let entity = c["entity"].as_str().context("entity")?;
        let fields = documented
            .get(entity)
            .with_context(|| format!("entity {entity} is not in the document's table"))?;
        if let Some(data) = c["data"].as_object() {
            let got: BTreeSet<String> = data.keys().cloned().collect();
            ensure!(
                &got == fields,
                "{entity}: pulled fields {got:?}, the document lists {fields:?}"
            );
            seen.insert(entity.to_owned());
        }
    }
    let missing: Vec<&String> = documented.keys().filter(|e| !seen.contains(*e)).collect();
    ensure!(
        missing.is_empty(),
        "entities the pull never gave: {missing:?}; the changes: {changes:?}"
    );
    Ok(())
}
