//! Golden tests: the canonical encoding, hash, signature and JSON form of one
//! entry of each kind, frozen in `tests/golden/`.
//!
//! Any change to the encoding fails these tests. If the change is intended
//! (a new `ENTRY_FORMAT_VERSION`, never a silent change of format 1),
//! regenerate the files with
//!
//! ```sh
//! SENTRA_BLESS=1 cargo test -p sentra-protocol --test golden
//! ```
//!
//! and review the diff of `crates/protocol/tests/golden/` before committing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use sentra_protocol::payload::*;
use sentra_protocol::{Entry, EntryKind, EntryPayload, Hash, Hlc, UnsignedEntry};
use uuid::Uuid;

/// The fixed test key. Test-only: it signs nothing but these fixtures.
const TEST_SEED: [u8; 32] = [7u8; 32];
const BRANCH: &str = "JKT01";
const DEVICE: Uuid = Uuid::from_u128(0x0192_f3a0_7c00_7abc_8def_0000_0000_0002);
const SHIFT: Uuid = Uuid::from_u128(0x0192_f3a0_7c00_7abc_8def_0000_0000_0005);
const SALE_ENTRY: Uuid = Uuid::from_u128(0x0192_f3a0_7c00_7abc_8def_0000_0000_0100);
const PREV_HASH: &str = "5d0c4a1ba9e6b4f8a1d2c3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5a6b7c8";

fn key() -> SigningKey {
    SigningKey::from_bytes(&TEST_SEED)
}

fn entry<P: EntryPayload>(n: u64, payload: &P) -> Entry {
    UnsignedEntry::with_payload(
        Uuid::from_u128(0x0192_f3a0_7c00_7abc_8def_0000_0000_1000 + u128::from(n)),
        BRANCH,
        DEVICE,
        100 + n,
        Hlc::new(
            1_730_440_800_000 + n * 60_000,
            u32::try_from(n % 3).unwrap(),
        ),
        payload,
        Hash::from_hex(PREV_HASH).unwrap(),
    )
    .unwrap()
    .sign(&key())
    .unwrap()
}

fn sale_completed() -> Entry {
    // Tax included in prices (PPN 11 %); rice is exempt; a 10 % line
    // discount on water; paid by QRIS and cash, change from cash.
    entry(
        1,
        &SaleCompleted {
            receipt_no: "JKT01-T02-000123".into(),
            shift_id: SHIFT,
            currency: "IDR".into(),
            tax_mode: "inclusive".into(),
            lines: vec![
                SaleLine {
                    line_no: 1,
                    sku: "IDM-GRG-85".into(),
                    name: "Indomie Goreng 85 g".into(),
                    quantity_milli: 5_000,
                    unit_price: 3_500,
                    tax_category: "standard".into(),
                    tax_rate: "11".into(),
                    discount: None,
                    gross: 17_500,
                    line_discount: 0,
                    cart_discount_share: 0,
                    net: 17_500,
                    tax: 1_734,
                    total: 17_500,
                },
                SaleLine {
                    line_no: 2,
                    sku: "BRS-PW-KG".into(),
                    name: "Beras Pandan Wangi (kg)".into(),
                    quantity_milli: 1_250,
                    unit_price: 14_000,
                    tax_category: "exempt".into(),
                    tax_rate: "0".into(),
                    discount: None,
                    gross: 17_500,
                    line_discount: 0,
                    cart_discount_share: 0,
                    net: 17_500,
                    tax: 0,
                    total: 17_500,
                },
                SaleLine {
                    line_no: 3,
                    sku: "AQA-600".into(),
                    name: "Aqua 600 ml".into(),
                    quantity_milli: 2_000,
                    unit_price: 4_000,
                    tax_category: "standard".into(),
                    tax_rate: "11".into(),
                    discount: Some(DiscountSpec::Percent {
                        percent: "10".into(),
                    }),
                    gross: 8_000,
                    line_discount: 800,
                    cart_discount_share: 0,
                    net: 7_200,
                    tax: 714,
                    total: 7_200,
                },
            ],
            cart_discount: None,
            gross: 43_000,
            discounts: 800,
            tax: 2_448,
            total: 42_200,
            tenders: vec![
                TenderRecord {
                    method: "qris".into(),
                    amount: 20_000,
                    reference: Some("QR-8F3K2M".into()),
                },
                TenderRecord {
                    method: "cash".into(),
                    amount: 25_000,
                    reference: None,
                },
            ],
            paid: 45_000,
            change: 2_800,
            cashier: Some("Siti".into()),
            discount_approved_by: None,
        },
    )
}

fn sale_voided() -> Entry {
    entry(
        2,
        &SaleVoided {
            receipt_no: "JKT01-T02-000123".into(),
            sale_entry_id: SALE_ENTRY,
            shift_id: SHIFT,
            total: 42_200,
            reason: Some("customer changed mind; approved by supervisor".into()),
        },
    )
}

fn refund_issued() -> Entry {
    entry(
        3,
        &RefundIssued {
            refund_no: "JKT01-T02-R000007".into(),
            receipt_no: "JKT01-T01-000981".into(),
            sale_entry_id: Some(SALE_ENTRY),
            shift_id: SHIFT,
            lines: vec![RefundLine {
                line_no: 1,
                sku: "IDM-GRG-85".into(),
                quantity_milli: 2_000,
                amount: 7_000,
                tax: 694,
            }],
            total: 7_000,
            tax: 694,
            method: "cash".into(),
            reason: Some("kemasan rusak \"damaged\"".into()),
            unverified: false,
        },
    )
}

fn shift_opened() -> Entry {
    entry(
        4,
        &ShiftOpened {
            shift_id: SHIFT,
            opening_float: 500_000,
            cashier: Some("Siti".into()),
        },
    )
}

fn shift_closed() -> Entry {
    entry(
        5,
        &ShiftClosed {
            shift_id: SHIFT,
            opening_float: 500_000,
            totals: ShiftTotals {
                sales_count: 42,
                gross: 3_150_000,
                discounts: 45_000,
                tax: 301_632,
                sales_total: 3_105_000,
                refunds_count: 1,
                refunds_total: 7_000,
                voids_count: 1,
                voids_total: 42_200,
                payments: BTreeMap::from([
                    ("card".to_owned(), 300_000),
                    ("cash".to_owned(), 1_892_200),
                    ("qris".to_owned(), 905_800),
                ]),
                cash_in: 0,
                cash_out: 150_000,
                no_sales: 0,
            },
            expected_cash: 2_242_200,
            counted_cash: 2_240_000,
            variance: -2_200,
            counted_denominations: Vec::new(),
        },
    )
}

fn cash_moved() -> Entry {
    entry(
        6,
        &CashMoved {
            shift_id: SHIFT,
            direction: CashDirection::Out,
            amount: 150_000,
            reason: Some("petty cash: galon air".into()),
        },
    )
}

fn stock_counted() -> Entry {
    entry(
        7,
        &StockCounted {
            sku: "IDM-GRG-85".into(),
            counted_milli: 118_000,
            previous_milli: 120_000,
        },
    )
}

fn pin_locked_out() -> Entry {
    entry(
        8,
        &PinLockedOut {
            user_id: Some("0192f3a0-7c00-7abc-8def-00000000beef".into()),
            failures: 5,
            locked_for_ms: 30_000,
        },
    )
}

fn clock_stepped_back() -> Entry {
    entry(
        9,
        &ClockSteppedBack {
            behind_ms: 7_200_000,
            clock_ms: 1_730_434_000_000,
        },
    )
}

fn master_data_refused() -> Entry {
    entry(
        10,
        &MasterDataRefused {
            upstream: "relay".into(),
            entity: "price".into(),
            key: "17".into(),
            problem: "bad_signature".into(),
        },
    )
}

fn drawer_opened() -> Entry {
    entry(
        11,
        &DrawerOpened {
            shift_id: SHIFT,
            reason: "Tukar uang".into(),
            cashier: Some("Siti".into()),
        },
    )
}

fn all() -> Vec<Entry> {
    vec![
        sale_completed(),
        sale_voided(),
        refund_issued(),
        shift_opened(),
        shift_closed(),
        cash_moved(),
        stock_counted(),
        pin_locked_out(),
        clock_stepped_back(),
        master_data_refused(),
        drawer_opened(),
    ]
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn blessing() -> bool {
    std::env::var_os("SENTRA_BLESS").is_some_and(|v| v != "0")
}

/// Compares `actual` with the checked-in file, or writes it when blessing.
fn golden(name: &str, actual: &str) {
    let path = dir().join(name);
    if blessing() {
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; regenerate with SENTRA_BLESS=1 cargo test -p sentra-protocol --test golden",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from the golden file; the entry encoding changed.\n\
         expected: {expected}\n  actual: {actual}\n\
         If this is intended, bump ENTRY_FORMAT_VERSION and re-bless \
         (SENTRA_BLESS=1 cargo test -p sentra-protocol --test golden)."
    );
}

#[test]
fn one_golden_entry_per_known_kind() {
    let kinds: Vec<EntryKind> = all().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, EntryKind::KNOWN.to_vec());
}

#[test]
fn canonical_encoding_hash_and_signature_are_frozen() {
    let vk = key().verifying_key();
    for e in all() {
        let kind = e.kind.as_str().to_owned();
        let bytes = e.canonical_bytes().unwrap();
        golden(
            &format!("{kind}.canonical.hex"),
            &format!("{}\n", hex::encode(&bytes)),
        );
        golden(&format!("{kind}.hash"), &format!("{}\n", e.hash));
        golden(&format!("{kind}.sig"), &format!("{}\n", e.signature));
        // The hash is SHA-256 of exactly those bytes, and the entry verifies.
        assert_eq!(Hash::digest(&bytes), e.hash);
        e.verify(&vk).unwrap();
    }
}

#[test]
fn json_form_is_frozen() {
    let vk = key().verifying_key();
    for e in all() {
        let kind = e.kind.as_str();
        let path = dir().join(format!("{kind}.json"));
        let actual = serde_json::to_value(&e).unwrap();
        if blessing() {
            let text = serde_json::to_string_pretty(&actual).unwrap();
            std::fs::write(&path, format!("{text}\n")).unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|err| {
            panic!(
                "{}: {err}; regenerate with SENTRA_BLESS=1 cargo test -p sentra-protocol --test golden",
                path.display()
            )
        });
        // Compared as JSON values, so the test does not depend on whether
        // serde_json preserves key order in this build.
        let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(expected, actual, "{kind}.json differs from the golden file");
        // The checked-in JSON reads back into the same entry, which verifies.
        let parsed: Entry = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, e);
        parsed.verify(&vk).unwrap();
    }
}

#[test]
fn typed_payloads_read_back() {
    let e = sale_completed();
    let sale: SaleCompleted = e.payload_as().unwrap();
    assert_eq!(sale.lines.len(), 3);
    assert_eq!(sale.paid - sale.change, sale.total);
    let closed: ShiftClosed = shift_closed().payload_as().unwrap();
    assert_eq!(closed.counted_cash - closed.expected_cash, closed.variance);
}

/// The annotated example in docs/sync-protocol.md is the golden
/// `shift_opened` encoding, field by field.
#[test]
fn docs_example_matches_golden() {
    if blessing() {
        return;
    }
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/sync-protocol.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let marker = "<!-- golden: shift_opened.canonical.hex -->";
    let start = doc.find(marker).expect("docs example marker") + marker.len();
    let block = &doc[start..];
    let open = block.find("```").unwrap();
    let block = &block[open + 3..];
    let block = &block[block.find('\n').unwrap() + 1..];
    let block = &block[..block.find("```").unwrap()];
    let hex_text: String = block
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .collect();
    let golden = hex::encode(shift_opened().canonical_bytes().unwrap());
    assert_eq!(hex_text, golden, "docs/sync-protocol.md example is stale");
}
