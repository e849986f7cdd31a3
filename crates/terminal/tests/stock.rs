//! Stock on hand as the till shows it (`sentra_terminal::stock`): the
//! cloud's level plus this till's own movements after the tip the cloud
//! counted, a count of its own setting the level, and the till's own catalog
//! stock when the cloud has no figure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Till;
use sentra_protocol::wire::{DeviceTip, StockLevel, StockPage};
use sentra_terminal::Terminal;
use sentra_terminal::stock::on_hand;

fn page(levels: &[(&str, i64, bool)], device: uuid::Uuid, tip: u64, cursor: &str) -> StockPage {
    StockPage {
        branch: "JKT01".into(),
        levels: levels
            .iter()
            .map(|(sku, milli, tracked)| StockLevel {
                sku: (*sku).into(),
                on_hand_milli: *milli,
                tracked: *tracked,
            })
            .collect(),
        device_tips: vec![DeviceTip {
            device_id: device,
            seq: tip,
        }],
        next_cursor: cursor.into(),
        more: false,
        signature: String::new(),
    }
}

#[test]
fn the_clouds_level_plus_own_moves_after_its_tip_and_own_counts_win() {
    let till = Till::named("T01");
    till.ok(&["catalog", "import", common::CATALOG]);
    till.ok(&["shift", "open", "--float", "100000"]); // seq 1
    till.ok(&["sell", "--item", "IND-GRGx5", "--pay", "cash:20000"]); // seq 2
    till.ok(&["refund", "JKT01-T01-000001", "--item", "IND-GRG"]); // seq 3
    let mut t = Terminal::open(&till.data_dir).unwrap();
    let device = t.device_id();
    // No cloud figure yet: the till's own catalog stock, moved by its sales.
    assert_eq!(on_hand(t.connection(), "IND-GRG").unwrap(), Some(236_000));

    // The cloud counted the sale (tip 2) but not the refund: 300 + 1.
    let p = page(
        &[("IND-GRG", 300_000, true), ("AQUA600", -5_000, false)],
        device,
        2,
        "s1.9",
    );
    assert_eq!(t.apply_stock_page(&p).unwrap(), 2);
    assert_eq!(on_hand(t.connection(), "IND-GRG").unwrap(), Some(301_000));
    // Untracked in the cloud: the till's own figure stands.
    assert_eq!(on_hand(t.connection(), "AQUA600").unwrap(), Some(120_000));
    assert_eq!(
        sentra_terminal::stock::cursor(t.connection()).unwrap(),
        "s1.9"
    );
    drop(t);

    // A count of its own after the cloud's tip sets the level; sales after
    // it move it.
    till.ok(&["stock", "count", "IND-GRG", "--counted", "50"]); // seq 4
    till.ok(&["sell", "--item", "IND-GRGx2", "--pay", "cash:7000"]); // seq 5
    let mut t = Terminal::open(&till.data_dir).unwrap();
    assert_eq!(on_hand(t.connection(), "IND-GRG").unwrap(), Some(48_000));

    // The cloud has it all now (tip 5): its level alone.
    let p = page(&[("IND-GRG", 47_000, true)], device, 5, "s1.12");
    t.apply_stock_page(&p).unwrap();
    assert_eq!(on_hand(t.connection(), "IND-GRG").unwrap(), Some(47_000));

    drop(t);

    // A void moves the stock back.
    till.ok(&["void", "JKT01-T01-000002"]); // seq 6
    let t = Terminal::open(&till.data_dir).unwrap();
    assert_eq!(on_hand(t.connection(), "IND-GRG").unwrap(), Some(49_000));

    // stock_moves is a projection: a rebuild from the journal matches it.
    let check = sentra_terminal::projection::check(t.connection(), device).unwrap();
    assert!(check.differences.is_empty(), "{:?}", check.differences);
    assert!(check.tables_compared.iter().any(|n| n == "stock_moves"));

    // And the migration's copy of the entries already in the journal (a
    // till upgraded with sales, a refund, a count and a void) is the same.
    let migration = include_str!("../../../migrations/terminal/0014_stock_on_hand.sql");
    let backfill = &migration[migration.find("INSERT INTO stock_moves").unwrap()..];
    t.connection()
        .execute("DELETE FROM stock_moves", [])
        .unwrap();
    t.connection().execute_batch(backfill).unwrap();
    let check = sentra_terminal::projection::check(t.connection(), device).unwrap();
    assert!(check.differences.is_empty(), "{:?}", check.differences);
}

/// docs/sync-protocol.md, "Stock levels": "up to 100 pages a round".
#[test]
fn the_protocol_document_states_the_pages_per_round() {
    let doc = include_str!("../../../docs/sync-protocol.md");
    let rule = format!(
        "up to\n  {} pages a round",
        sentra_terminal::stock::MAX_STOCK_PAGES_PER_ROUND
    );
    assert!(doc.contains(&rule), "the document says {rule:?}");
}
