//! Target `catalog_csv`: a catalog file as `sentra-term catalog import` and
//! `sentra-sync catalog import` read it ([`parse`]).

use std::collections::HashSet;

use sentra_ledger::catalog_csv::{MAX_FIELD, parse};
use sentra_ledger::validate::{MAX_AMOUNT, MAX_QUANTITY_MILLI};

const FILE: &str = "fuzz.csv";

pub fn catalog_csv(data: &[u8]) {
    let categories = ["standard".to_owned(), "exempt".to_owned()];
    // The lines of the input as an editor counts them: ended by LF, CR LF
    // or a lone CR (the CSV reader ends records at each of them too).
    let lines = data
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && data.get(i + 1) != Some(&b'\n')))
        .count() as u64
        + 1;
    let rows = match parse(FILE, data, &categories) {
        Ok(rows) => rows,
        Err(e) => {
            assert!(
                (1..=lines).contains(&e.line),
                "error names line {} of a {lines}-line file: {e}",
                e.line
            );
            assert_eq!(e.file, FILE);
            assert!(e.to_string().contains(&format!("line {}:", e.line)));
            return;
        }
    };
    assert!(!rows.is_empty(), "a file without products was accepted");
    let mut skus = HashSet::new();
    let mut barcodes = HashSet::new();
    let mut last_line = 1;
    for r in &rows {
        assert!(
            r.line > last_line && r.line <= lines,
            "row on line {}",
            r.line
        );
        last_line = r.line;
        assert!(skus.insert(r.sku.as_str()), "sku {} twice", r.sku);
        assert!(!r.sku.is_empty() && !r.sku.chars().any(char::is_whitespace));
        assert!(!r.name.is_empty());
        for code in &r.barcodes {
            assert!(barcodes.insert(code.as_str()), "barcode {code} twice");
            assert!(code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        }
        for text in [&r.sku, &r.name, &r.tax_category] {
            assert!(text.len() <= MAX_FIELD && !text.chars().any(char::is_control));
        }
        assert!((0..=MAX_AMOUNT).contains(&r.price));
        assert!(categories.contains(&r.tax_category));
        if let Some(s) = r.stock_milli {
            assert!(s.abs() <= MAX_QUANTITY_MILLI);
        }
    }
    stock_texts(data, &rows);
}

/// Every accepted stock is written as documented: an optional `-`, digits,
/// and up to 3 decimals after a dot.
fn stock_texts(data: &[u8], rows: &[sentra_ledger::catalog_csv::CatalogRow]) {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let Some(column) = csv
        .headers()
        .ok()
        .and_then(|h| h.iter().position(|name| name.eq_ignore_ascii_case("stock")))
    else {
        panic!("accepted without a stock column");
    };
    // Accepted means every record is a row, in order.
    let records: Vec<csv::StringRecord> = csv
        .records()
        .collect::<Result<_, _>>()
        .expect("the parser accepted every record");
    assert_eq!(records.len(), rows.len());
    for (record, row) in records.iter().zip(rows) {
        let text = record.get(column).unwrap_or("");
        if text.is_empty() {
            continue;
        }
        let number = text.strip_prefix('-').unwrap_or(text);
        let (units, decimals) = number.split_once('.').unwrap_or((number, "0"));
        assert!(
            !units.is_empty()
                && units.bytes().all(|b| b.is_ascii_digit())
                && (1..=3).contains(&decimals.len())
                && decimals.bytes().all(|b| b.is_ascii_digit()),
            "stock {text:?} on line {} was accepted",
            row.line
        );
    }
}
