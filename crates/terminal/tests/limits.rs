//! The cloud's limits, enforced at the till before an entry is signed: a big
//! basket goes through, one over the limit is refused with a clear error and
//! nothing is written, and control characters never reach the journal from
//! any input (`docs/sync-protocol.md`, "Limits").
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Till;
use sentra_ledger::validate::MAX_LINES;

/// A till with `n` products `P00000…`, a shift open.
fn till_with_products(n: usize) -> Till {
    let till = Till::new();
    let mut csv = String::from("sku,barcode,name,price,tax_category,stock\n");
    for i in 0..n {
        csv.push_str(&format!(
            "P{i:05},{},Produk grosir nomor {i} kemasan besar,{},standard,100\n",
            8_990_000_000_000u64 + i as u64,
            1000 + i
        ));
    }
    let path = till.root.path().join("big.csv");
    std::fs::write(&path, csv).unwrap();
    till.ok(&["catalog", "import", path.to_str().unwrap()]);
    till.ok(&["shift", "open", "--float", "500000"]);
    till
}

fn sell_args(skus: impl Iterator<Item = String>, pay: &str) -> Vec<String> {
    let mut args = vec!["sell".to_owned()];
    for s in skus {
        args.push("--item".into());
        args.push(s);
    }
    args.push("--pay".into());
    args.push(pay.into());
    args
}

#[test]
fn a_thousand_line_sale_is_recorded() {
    let till = till_with_products(1000);
    let total: usize = (0..1000).map(|i| 1000 + i).sum();
    let args = sell_args(
        (0..1000).map(|i| format!("P{i:05}")),
        &format!("cash:{total}"),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    till.ok(&refs);
    let journal = till.export();
    let sale = journal.last().unwrap();
    assert_eq!(sale["kind"], "sale_completed");
    assert_eq!(sale["payload"]["lines"].as_array().unwrap().len(), 1000);
    till.ok(&["journal", "verify"]);
}

#[test]
fn a_sale_over_the_line_limit_is_refused_before_it_is_signed() {
    let till = till_with_products(MAX_LINES + 1);
    let before = till.export();
    let total: usize = (0..=MAX_LINES).map(|i| 1000 + i).sum();
    let args = sell_args(
        (0..=MAX_LINES).map(|i| format!("P{i:05}")),
        &format!("cash:{total}"),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = till.fails(&refs);
    assert!(err.contains("not recorded"), "{err}");
    assert!(
        err.contains(&format!("more than {MAX_LINES} lines")),
        "{err}"
    );
    assert_eq!(till.export(), before, "nothing written");
}

/// "Text fields 200 bytes": a cashier's name of 300 bytes never opens a
/// shift (the cloud would quarantine it `text_too_long`); one of 200 bytes does.
#[test]
fn a_text_over_200_bytes_is_refused_before_it_is_signed() {
    let till = Till::new();
    let before = till.export();
    let err = till.fails(&[
        "shift",
        "open",
        "--float",
        "500000",
        "--cashier",
        &"S".repeat(300),
    ]);
    assert!(err.contains("not recorded"), "{err}");
    assert!(
        err.contains("300 bytes") && err.contains("at most 200"),
        "{err}"
    );
    assert_eq!(till.export(), before, "nothing written");
    till.ok(&[
        "shift",
        "open",
        "--float",
        "500000",
        "--cashier",
        &"é".repeat(100),
    ]);
    let opened = till.export();
    assert_eq!(
        opened.last().unwrap()["payload"]["cashier"],
        "é".repeat(100)
    );
}

#[test]
fn control_characters_from_the_command_line_never_reach_the_journal() {
    let till = Till::ready();
    let before = till.export();
    let err = till.fails(&["cash", "in", "10000", "--reason", "float\u{1b}[2J top-up"]);
    assert!(err.contains("control character"), "{err}");
    let err = till.fails(&["cash", "out", "10000", "--reason", "bank\u{7}"]);
    assert!(err.contains("control character"), "{err}");
    assert_eq!(till.export(), before, "nothing written");
    // Ordinary non-ASCII text is fine.
    till.ok(&["cash", "in", "10000", "--reason", "tambahan modal — pagi ✓"]);
}

#[test]
fn a_nul_in_the_catalog_is_refused_at_import_with_the_line_named() {
    let till = Till::ready();
    // Not `nul.csv`: Windows reserves NUL, with any extension, for its null device.
    let path = till.root.path().join("catalog-with-a-nul.csv");
    std::fs::write(
        &path,
        "sku,barcode,name,price,tax_category,stock\nKOPI1,123456,Kopi Hitam,5000,standard,1\nKOPI2,123457,Kopi\0Susu,6000,standard,1\n",
    )
    .unwrap();
    let err = till.fails(&["catalog", "import", path.to_str().unwrap()]);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("control character (U+0000)"), "{err}");
    let err = till.fails(&["catalog", "show", "KOPI1"]);
    assert!(!err.is_empty(), "the import was all or nothing");
}
