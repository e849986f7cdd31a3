//! The receipt as a *faktur pajak eceran*, frozen for 58 mm and 80 mm paper:
//! the printer's bytes are decoded the way the printer reads them and
//! compared with `tests/golden/*.txt`, one line per printed line with its
//! style (`T` bold double-height title, `C` centered, `B` bold, `.` normal).
//! A change to the layout shows up as a diff here; regenerate on purpose
//! with `UPDATE_GOLDEN=1 cargo test -p sentra-terminal --test receipt_golden`.

use std::path::PathBuf;

use sentra_printer::decode;
use sentra_protocol::payload::{SaleCompleted, SaleLine, TenderRecord};
use sentra_terminal::pos::branch::BranchProfile;
use sentra_terminal::pos::receipt::{refund_doc, render, sale_doc};
use sentra_terminal::pos::settings::{Paper, PosSettings};
use uuid::Uuid;

fn line(no: u32, sku: &str, name: &str, qty: i64, unit: i64, discount: i64) -> SaleLine {
    let gross = unit * qty / 1000;
    let net = gross - discount;
    // PPN 11 % effective (12 % on a DPP of 11/12), contained in the price.
    let tax = (net * 11 + 55) / 111;
    SaleLine {
        line_no: no,
        sku: sku.into(),
        name: name.into(),
        quantity_milli: qty,
        unit_price: unit,
        tax_category: "standard".into(),
        tax_rate: "11".into(),
        discount: None,
        gross,
        line_discount: discount,
        cart_discount_share: 0,
        net,
        tax,
        total: net,
    }
}

fn sale() -> SaleCompleted {
    let lines = vec![
        line(1, "IND1", "Indomie Goreng 85g", 2000, 3_500, 0),
        line(2, "RICE5", "Beras Pandan Wangi", 450, 14_500, 0),
        line(3, "TEH1", "Teh Botol Sosro 450ml", 3000, 6_000, 1_800),
    ];
    let gross = lines.iter().map(|l| l.gross).sum();
    let discounts = lines.iter().map(|l| l.line_discount).sum();
    let tax = lines.iter().map(|l| l.tax).sum();
    let total: i64 = lines.iter().map(|l| l.total).sum();
    SaleCompleted {
        receipt_no: "JKT01-T01-000042".into(),
        shift_id: Uuid::nil(),
        currency: "IDR".into(),
        tax_mode: "inclusive".into(),
        lines,
        cart_discount: None,
        gross,
        discounts,
        tax,
        total,
        tenders: vec![
            TenderRecord {
                method: "qris".into(),
                amount: 10_000,
                reference: Some("QR8812".into()),
            },
            TenderRecord {
                method: "cash".into(),
                amount: 50_000,
                reference: None,
            },
        ],
        paid: 60_000,
        change: 60_000 - total,
        cashier: Some("Sari".into()),
        discount_approved_by: None,
    }
}

fn branch(language: &str) -> BranchProfile {
    let pulled = serde_json::json!({
        "branch": "JKT01", "name": "Jakarta Satu", "timezone": "Asia/Jakarta",
        "currency": "IDR", "tax_mode": "inclusive", "receipt_header": "Jakarta Satu",
        "legal_name": "PT Sentra Ritel Nusantara", "store_name": "Sentra Kemang",
        "address": "Jl. Kemang Raya No. 10\nJakarta Selatan 12730",
        "npwp": "012345678901000",
        "receipt_footer": "Terima kasih\nBarang yang sudah dibeli dapat ditukar dalam 7 hari dengan struk ini",
        "receipt_language": language, "tenders": ["cash", "qris"]
    });
    BranchProfile::new(Some(&pulled), &PosSettings::default(), "JKT01", "T01")
}

/// 2026-12-07 14:03 in Jakarta (UTC+7).
const SOLD_AT_MS: i64 = 1_796_626_980_000;

fn styled(bytes: &[u8]) -> String {
    let d = decode(bytes).expect("the bytes decode");
    let mut out = String::new();
    for (text, style) in d.lines.iter().zip(&d.styles) {
        let tag = match (style.double_height, style.bold, style.centered) {
            (true, _, _) => 'T',
            (false, true, _) => 'B',
            (false, false, true) => 'C',
            _ => '.',
        };
        out.push_str(&format!("{tag} {text}\n"));
    }
    out.push_str(&format!(
        "-- drawer kicks {}, cuts {}\n",
        d.drawer_kicks, d.cuts
    ));
    out
}

fn check(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).expect("write the golden file");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1 once", path.display()));
    assert_eq!(got, want, "{name} changed; the new receipt:\n{got}");
}

#[test]
fn the_sale_receipt_is_frozen_for_58_and_80_mm() {
    for (paper, columns, file) in [
        (Paper::Mm58, 32, "sale-58mm.txt"),
        (Paper::Mm80, 48, "sale-80mm.txt"),
    ] {
        let (bytes, preview) =
            render(&sale_doc(&sale(), SOLD_AT_MS, &branch("id"), false), paper).expect("renders");
        assert!(preview.iter().all(|l| l.chars().count() <= columns));
        check(file, &styled(&bytes));
    }
}

#[test]
fn a_reprint_is_marked_as_a_copy_and_opens_no_drawer() {
    let (bytes, _) = render(
        &sale_doc(&sale(), SOLD_AT_MS, &branch("id"), true),
        Paper::Mm58,
    )
    .expect("renders");
    check("sale-58mm-copy.txt", &styled(&bytes));
}

#[test]
fn the_receipt_language_follows_the_branch() {
    let (bytes, _) = render(
        &sale_doc(&sale(), SOLD_AT_MS, &branch("en"), false),
        Paper::Mm80,
    )
    .expect("renders");
    check("sale-80mm-en.txt", &styled(&bytes));
}

#[test]
fn the_refund_note_names_the_seller_too() {
    let refund = sentra_protocol::payload::RefundIssued {
        refund_no: "JKT01-T01-R000003".into(),
        receipt_no: "JKT01-T01-000042".into(),
        sale_entry_id: Some(Uuid::nil()),
        shift_id: Uuid::nil(),
        lines: vec![sentra_protocol::payload::RefundLine {
            line_no: 1,
            sku: "IND1".into(),
            quantity_milli: 1000,
            amount: 3_500,
            tax: 347,
        }],
        total: 3_500,
        tax: 347,
        method: "cash".into(),
        reason: Some("rusak".into()),
        unverified: false,
    };
    let names = |sku: &str| match sku {
        "IND1" => "Indomie Goreng 85g".to_owned(),
        other => other.to_owned(),
    };
    let (bytes, _) = render(
        &refund_doc(&refund, &names, SOLD_AT_MS, &branch("id")),
        Paper::Mm58,
    )
    .expect("renders");
    check("refund-58mm.txt", &styled(&bytes));
}
