//! The catalog CSV, as the terminal (`sentra-term catalog import`) and the
//! cloud (`sentra-sync catalog import`) read it: parsed and validated whole
//! before anything is written, so a bad file changes nothing, and every
//! refusal names the line.
//!
//! Columns (a header row names them, in any order; more columns are
//! ignored): `sku`, `barcode` (several separated by `|`), `name`, `price`
//! (whole rupiah), `tax_category`, `stock` (up to 3 decimals; empty leaves
//! stock as it is).

use std::collections::HashMap;
use std::io::Read;

use sentra_domain::Quantity;

/// The columns the header must name.
pub const COLUMNS: [&str; 6] = ["sku", "barcode", "name", "price", "tax_category", "stock"];
/// The longest field, in bytes.
pub const MAX_FIELD: usize = 200;

/// One validated row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogRow {
    /// The line of the file the row is on (the header is line 1).
    pub line: u64,
    pub sku: String,
    pub barcodes: Vec<String>,
    pub name: String,
    /// Minor units (whole rupiah), not negative.
    pub price: i64,
    pub tax_category: String,
    /// Thousandths of a unit; `None` when the column is empty.
    pub stock_milli: Option<i64>,
    /// Optional column `category` (retail category); `None` when absent or empty.
    pub category: Option<String>,
    /// Optional column `unit`: `Some(true)` for `weighed`, `Some(false)` for
    /// `unit`, `None` when absent or empty.
    pub weighed: Option<bool>,
}

/// Why a catalog file was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("catalog file {file}, line {line}: {detail}")]
pub struct CatalogCsvError {
    pub file: String,
    /// 1 for the header (or the file as a whole); 0 when the file could not
    /// be read at all.
    pub line: u64,
    pub detail: String,
}

/// Parses and validates a whole catalog CSV. `file_name` only names the file
/// in errors; `known_tax_categories` are the categories a row may use. The
/// first bad line is the error.
pub fn parse(
    file_name: &str,
    reader: impl Read,
    known_tax_categories: &[String],
) -> Result<Vec<CatalogRow>, CatalogCsvError> {
    parse_all(file_name, reader, known_tax_categories).map_err(|mut errors| errors.swap_remove(0))
}

/// [`parse`], naming every bad line (in file order) rather than the first:
/// what head office sees before it applies an upload. Never an empty error
/// list.
pub fn parse_all(
    file_name: &str,
    mut reader: impl Read,
    known_tax_categories: &[String],
) -> Result<Vec<CatalogRow>, Vec<CatalogCsvError>> {
    let bad = |line: u64, detail: String| CatalogCsvError {
        file: file_name.to_owned(),
        line,
        detail,
    };
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| vec![bad(0, format!("cannot read the file: {e}"))])?;
    let lines = Lines::of(&bytes);
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes.as_slice());
    let headers = csv
        .headers()
        .map_err(|e| vec![bad(1, e.to_string())])?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect::<Vec<_>>();
    let mut index = [0usize; 6];
    for (i, column) in COLUMNS.iter().enumerate() {
        index[i] = headers.iter().position(|h| h == column).ok_or_else(|| {
            vec![bad(
                1,
                format!(
                    "missing column {column:?}; the header must name {}",
                    COLUMNS.join(", ")
                ),
            )]
        })?;
    }
    let category_at = headers.iter().position(|h| h == "category");
    let unit_at = headers.iter().position(|h| h == "unit");
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut seen_sku: HashMap<String, u64> = HashMap::new();
    let mut seen_barcode: HashMap<String, u64> = HashMap::new();
    for record in csv.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.at(p));
                errors.push(bad(line, e.to_string()));
                // The reader cannot go on past a broken record.
                break;
            }
        };
        let line = record.position().map_or(0, |p| lines.at(p));
        match row(
            &record,
            line,
            &index,
            category_at,
            unit_at,
            &mut seen_sku,
            &mut seen_barcode,
            known_tax_categories,
        ) {
            Ok(r) => rows.push(r),
            Err(detail) => errors.push(bad(line, detail)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if rows.is_empty() {
        return Err(vec![bad(1, "no products in the file".into())]);
    }
    Ok(rows)
}

/// One record checked; the error is the detail for its line.
#[allow(clippy::too_many_arguments)]
fn row(
    record: &csv::StringRecord,
    line: u64,
    index: &[usize; 6],
    category_at: Option<usize>,
    unit_at: Option<usize>,
    seen_sku: &mut HashMap<String, u64>,
    seen_barcode: &mut HashMap<String, u64>,
    known_tax_categories: &[String],
) -> Result<CatalogRow, String> {
    let bad = |_line: u64, detail: String| detail;
    {
        let field = |i: usize| record.get(index[i]).unwrap_or("");
        for (i, column) in COLUMNS.iter().enumerate() {
            if field(i).len() > MAX_FIELD {
                return Err(bad(
                    line,
                    format!("{column} is longer than {MAX_FIELD} bytes"),
                ));
            }
            // A NUL or other control character would reach a receipt, a
            // signed entry and the cloud's jsonb: refuse it here, by name.
            if let Some(c) = field(i).chars().find(|c| c.is_control()) {
                return Err(bad(
                    line,
                    format!(
                        "{column} contains a control character (U+{:04X})",
                        u32::from(c)
                    ),
                ));
            }
        }
        let sku = field(0).to_owned();
        if sku.is_empty() || sku.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad(
                line,
                format!("sku {sku:?} must be non-empty with no spaces"),
            ));
        }
        if let Some(first) = seen_sku.insert(sku.clone(), line) {
            return Err(bad(
                line,
                format!("sku {sku} already appears on line {first}"),
            ));
        }
        let mut barcodes = Vec::new();
        for code in field(1).split('|').map(str::trim).filter(|c| !c.is_empty()) {
            if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(bad(
                    line,
                    format!("barcode {code:?} must be letters and digits"),
                ));
            }
            if let Some(first) = seen_barcode.insert(code.to_owned(), line) {
                return Err(bad(
                    line,
                    format!("barcode {code} already appears on line {first}"),
                ));
            }
            barcodes.push(code.to_owned());
        }
        let name = field(2).to_owned();
        if name.is_empty() {
            return Err(bad(line, "name is empty".into()));
        }
        let price: i64 = field(3).parse().map_err(|_| {
            bad(
                line,
                format!("price {:?} must be a whole number of rupiah", field(3)),
            )
        })?;
        if price < 0 {
            return Err(bad(line, format!("price {price} is negative")));
        }
        if price > crate::validate::MAX_AMOUNT {
            return Err(bad(
                line,
                format!("price {price} is over {}", crate::validate::MAX_AMOUNT),
            ));
        }
        let tax_category = field(4).to_owned();
        if !known_tax_categories.contains(&tax_category) {
            return Err(bad(
                line,
                format!(
                    "tax category {tax_category:?} is unknown (known: {})",
                    known_tax_categories.join(", ")
                ),
            ));
        }
        let stock_milli = match field(5) {
            "" => None,
            text => {
                let (negative, digits) = match text.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, text),
                };
                let q: Quantity = digits
                    .parse()
                    .map_err(|e| bad(line, format!("stock: {e}")))?;
                if q.milli() > crate::validate::MAX_QUANTITY_MILLI {
                    return Err(bad(
                        line,
                        format!(
                            "stock {text} is over {} units",
                            crate::validate::MAX_QUANTITY_MILLI / 1000
                        ),
                    ));
                }
                Some(if negative { -q.milli() } else { q.milli() })
            }
        };
        let optional = |at: Option<usize>| {
            at.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let category = match optional(category_at) {
            None => None,
            Some(c) if c.len() > 64 || c.chars().any(char::is_control) => {
                return Err(bad(
                    line,
                    format!("category {c:?} must be at most 64 bytes"),
                ));
            }
            Some(c) => Some(c.to_owned()),
        };
        let weighed = match optional(unit_at).map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("unit") => Some(false),
            Some("weighed") => Some(true),
            Some(other) => {
                return Err(bad(line, format!("unit {other:?} must be unit or weighed")));
            }
        };
        Ok(CatalogRow {
            line,
            sku,
            barcodes,
            name,
            price,
            tax_category,
            stock_milli,
            category,
            weighed,
        })
    }
}

/// Line numbers as an editor shows them. The CSV reader counts LF only, and
/// a record's position is where the reader began looking for it: after CR LF
/// that is on the line before, and blank lines before a record count as
/// its own. Here a line ends at LF, CR LF or a lone CR, and a record is on
/// the line of its first byte.
struct Lines<'a> {
    bytes: &'a [u8],
    /// Where each line after the first starts.
    starts: Vec<u64>,
}

impl<'a> Lines<'a> {
    fn of(bytes: &'a [u8]) -> Self {
        let starts = bytes
            .iter()
            .enumerate()
            .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
            .map(|(i, _)| i as u64 + 1)
            .collect();
        Lines { bytes, starts }
    }

    /// The line of the record the reader reports at `position`.
    fn at(&self, position: &csv::Position) -> u64 {
        let first = self
            .bytes
            .iter()
            .skip(position.byte() as usize)
            .position(|&b| b != b'\n' && b != b'\r')
            .map_or(self.bytes.len() as u64, |n| position.byte() + n as u64);
        1 + self.starts.partition_point(|&s| s <= first) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats() -> Vec<String> {
        vec!["standard".to_owned(), "exempt".to_owned()]
    }

    fn error_of(csv: &str) -> String {
        parse("c.csv", csv.as_bytes(), &cats())
            .expect_err("the file is bad")
            .to_string()
    }

    #[test]
    fn errors_name_the_file_and_line() {
        assert_eq!(
            error_of(
                "sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5000,standard,10\nA2,222,Kopi,abc,standard,1\n"
            ),
            "catalog file c.csv, line 3: price \"abc\" must be a whole number of rupiah"
        );
        let e = error_of("sku,barcode,name,price,tax_category\nA1,111,Teh,5000,standard\n");
        assert!(e.contains("line 1: missing column \"stock\""), "{e}");
        let e = error_of("sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5000,luxury,1\n");
        assert!(
            e.contains("line 2: tax category \"luxury\" is unknown"),
            "{e}"
        );
        let e = error_of(
            "sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5000,standard,1\nA2,111,Kopi,5000,standard,1\n",
        );
        assert!(
            e.contains("line 3: barcode 111 already appears on line 2"),
            "{e}"
        );
        let e = error_of(
            "sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5000,standard,1\nA1,112,Kopi,5000,standard,1\n",
        );
        assert!(
            e.contains("line 3: sku A1 already appears on line 2"),
            "{e}"
        );
        let e = error_of("sku,barcode,name,price,tax_category,stock\nA1,111,Teh,-5,standard,1\n");
        assert!(e.contains("line 2: price -5 is negative"), "{e}");
        let e =
            error_of("sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5,standard,1.2345\n");
        assert!(e.contains("line 2: stock: invalid quantity"), "{e}");
        let e = error_of("sku,barcode,name,price,tax_category,stock\nA1,111,,5,standard,1\n");
        assert!(e.contains("line 2: name is empty"), "{e}");
        let e = error_of("sku,barcode,name,price,tax_category,stock\nA 1,111,Teh,5,standard,1\n");
        assert!(e.contains("line 2: sku \"A 1\""), "{e}");
        let e = error_of("sku,barcode,name,price,tax_category,stock\nA1,11 1,Teh,5,standard,1\n");
        assert!(e.contains("line 2: barcode \"11 1\""), "{e}");
        let e = error_of("sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5,standard\n");
        assert!(e.contains("line 2:"), "{e}");
        let e = error_of("sku,barcode,name,price,tax_category,stock\n");
        assert!(e.contains("line 1: no products"), "{e}");
    }

    #[test]
    fn control_characters_are_refused_with_the_line_and_column_named() {
        let e = error_of(
            "sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5000,standard,1\nA2,112,Kopi\0Susu,5000,standard,1\n",
        );
        assert!(
            e.contains("line 3: name contains a control character (U+0000)"),
            "{e}"
        );
        let e = error_of(
            "sku,barcode,name,price,tax_category,stock\nA1,111,Teh\u{1b}[31m,5000,standard,1\n",
        );
        assert!(
            e.contains("line 2: name contains a control character"),
            "{e}"
        );
        let e = error_of(
            "sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5000,standard,2000000\n",
        );
        assert!(e.contains("line 2: stock 2000000 is over"), "{e}");
    }

    /// Found by the fuzz smoke (`catalog_csv`): the CSV reader counts only
    /// LF and places a record that follows CR LF on the line before, so a
    /// file saved on Windows named every row one line too early (its first
    /// product on the header's line 1), and a CR-only file named line 1
    /// for every row.
    #[test]
    fn lines_are_named_right_whatever_ends_them() {
        for end in ["\n", "\r\n", "\r"] {
            let csv = [
                "sku,barcode,name,price,tax_category,stock",
                "A1,111,Teh,5000,standard,1",
                "",
                "A2,112,Kopi,5000,standard,1",
                "A3,113,Gula,5000,standard,1",
                "",
            ]
            .join(end);
            let rows = parse("c.csv", csv.as_bytes(), &cats()).expect("valid");
            let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, [2, 4, 5], "lines ended by {end:?}");
            let e = error_of(&csv.replace("A3,113", "A1,113"));
            assert!(
                e.contains("line 5: sku A1 already appears on line 2"),
                "lines ended by {end:?}: {e}"
            );
            // A quoted field over two lines: the record starts on line 4.
            let e = error_of(&csv.replace("Kopi", &format!("\"Kopi{end}Susu\"")));
            assert!(
                e.contains("line 4: name contains a control character"),
                "lines ended by {end:?}: {e}"
            );
        }
    }

    /// Found by the fuzz smoke (`catalog_csv`): every leading `-` was
    /// stripped, so `--5` was read as -5.
    #[test]
    fn a_stock_with_more_than_one_sign_is_refused() {
        for stock in ["--5", "---0", "-+1", "+1"] {
            let e = error_of(&format!(
                "sku,barcode,name,price,tax_category,stock\nA1,111,Teh,5000,standard,{stock}\n"
            ));
            assert!(
                e.contains("line 2: stock: invalid quantity"),
                "{stock}: {e}"
            );
        }
    }

    #[test]
    fn weighed_stock_several_barcodes_and_any_column_order() {
        let csv = "name,SKU,barcode,price,tax_category,stock,note\nBeras 5kg,BER5,899|898,72000,exempt,12.5,x\nKantong,X,,500,standard,,\nSusu,S1, 777 ,9000,standard,-2,\n";
        let rows = parse("c.csv", csv.as_bytes(), &cats()).expect("valid");
        assert_eq!(
            rows[0],
            CatalogRow {
                line: 2,
                sku: "BER5".into(),
                barcodes: vec!["899".into(), "898".into()],
                name: "Beras 5kg".into(),
                price: 72_000,
                tax_category: "exempt".into(),
                stock_milli: Some(12_500),
                category: None,
                weighed: None,
            }
        );
        assert_eq!(rows[1].stock_milli, None);
        assert!(rows[1].barcodes.is_empty());
        assert_eq!(rows[2].barcodes, vec!["777"]);
        assert_eq!(rows[2].stock_milli, Some(-2_000));
        assert_eq!(rows[2].line, 4);
    }

    #[test]
    fn every_bad_line_is_named_not_only_the_first() {
        let csv = "sku,barcode,name,price,tax_category,stock,category,unit\n\
                   A,1,Apel,1000,standard,,Buah,weighed\n\
                   B,2,Bad price,abc,standard,,,\n\
                   C,3,Ok,500,standard,,,unit\n\
                   D,4,,700,standard,,,\n\
                   E,5,Bad unit,700,standard,,,litre\n";
        let errors = parse_all("c.csv", csv.as_bytes(), &cats()).expect_err("bad lines");
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 5, 6], "{errors:?}");
        assert!(errors[2].detail.contains("litre"), "{}", errors[2]);
        // `parse` reports the first of them.
        let first = parse("c.csv", csv.as_bytes(), &cats()).expect_err("bad");
        assert_eq!(first.line, 3);
        let good = "sku,barcode,name,price,tax_category,stock,category,unit\nA,1,Apel,1000,standard,,Buah,weighed\n";
        let rows = parse("c.csv", good.as_bytes(), &cats()).expect("valid");
        assert_eq!(rows[0].category.as_deref(), Some("Buah"));
        assert_eq!(rows[0].weighed, Some(true));
    }
}
