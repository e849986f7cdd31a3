//! Receipts and reports as documents for the printer, and the on-screen
//! preview: the preview is the printed bytes decoded again, so what the
//! cashier sees is exactly what the printer gets.

use chrono::TimeZone;
use sentra_domain::Money;
use sentra_printer::{ReceiptDoc, ReceiptItem, TextDoc, Width};
use sentra_protocol::payload::{RefundIssued, SaleCompleted};

use super::settings::{Paper, PosSettings};
use crate::error::{Result, TerminalError};

/// Labels in the till's language.
struct Words {
    receipt: &'static str,
    refund: &'static str,
    cashier: &'static str,
    date: &'static str,
    subtotal: &'static str,
    discount: &'static str,
    tax_incl: &'static str,
    tax: &'static str,
    total: &'static str,
    change: &'static str,
    copy: &'static str,
    for_receipt: &'static str,
    paid_back: &'static str,
}

fn words(language: &str) -> Words {
    if language == "en" {
        Words {
            receipt: "Receipt",
            refund: "Refund",
            cashier: "Cashier",
            date: "Date",
            subtotal: "Subtotal",
            discount: "Discount",
            tax_incl: "incl. VAT",
            tax: "VAT",
            total: "TOTAL",
            change: "Change",
            copy: "COPY",
            for_receipt: "For receipt",
            paid_back: "Paid back",
        }
    } else {
        Words {
            receipt: "Struk",
            refund: "Retur",
            cashier: "Kasir",
            date: "Tanggal",
            subtotal: "Subtotal",
            discount: "Diskon",
            tax_incl: "termasuk PPN",
            tax: "PPN",
            total: "TOTAL",
            change: "Kembali",
            copy: "SALINAN",
            for_receipt: "Atas struk",
            paid_back: "Dikembalikan",
        }
    }
}

pub fn rupiah(minor: i64) -> String {
    Money::idr(minor).to_string()
}

/// `2`, `0,450` (three decimals only when there is a fraction).
pub fn quantity_text(milli: i64) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        let sign = if milli < 0 { "-" } else { "" };
        let m = milli.unsigned_abs();
        format!("{sign}{},{:03}", m / 1000, m % 1000)
    }
}

fn local_time(ms: i64) -> String {
    match chrono::Local.timestamp_millis_opt(ms) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.format("%d/%m/%Y %H:%M").to_string()
        }
        chrono::LocalResult::None => String::from("-"),
    }
}

fn method_label(method: &str) -> &str {
    match method {
        "cash" => "Tunai/Cash",
        "card" => "Kartu/Card",
        "qris" => "QRIS",
        "voucher" => "Voucher",
        other => other,
    }
}

fn header(settings: &PosSettings, branch: &str, device: &str) -> Vec<String> {
    vec![settings.store_name.clone(), format!("{branch} / {device}")]
}

/// The customer's receipt of a sale; `copy` marks a reprint.
pub fn sale_doc(
    sale: &SaleCompleted,
    sold_at_ms: i64,
    settings: &PosSettings,
    branch: &str,
    device: &str,
    copy: bool,
) -> ReceiptDoc {
    let w = words(&settings.language);
    let items = sale
        .lines
        .iter()
        .map(|l| ReceiptItem {
            name: l.name.clone(),
            quantity_text: format!(
                "{} x {}",
                quantity_text(l.quantity_milli),
                rupiah(l.unit_price)
            ),
            amount_text: rupiah(l.gross),
            discount_text: (l.line_discount > 0)
                .then(|| format!("{} -{}", w.discount, rupiah(l.line_discount))),
        })
        .collect();
    let mut totals = vec![(w.subtotal.to_owned(), rupiah(sale.gross))];
    if sale.discounts > 0 {
        totals.push((
            w.discount.to_owned(),
            format!("-{}", rupiah(sale.discounts)),
        ));
    }
    let tax_label = if sale.tax_mode == "inclusive" {
        w.tax_incl
    } else {
        w.tax
    };
    totals.push((tax_label.to_owned(), rupiah(sale.tax)));
    totals.push((w.total.to_owned(), rupiah(sale.total)));
    let mut payments: Vec<(String, String)> = sale
        .tenders
        .iter()
        .map(|t| {
            let label = match &t.reference {
                Some(r) if !r.is_empty() => format!("{} {r}", method_label(&t.method)),
                _ => method_label(&t.method).to_owned(),
            };
            (label, rupiah(t.amount))
        })
        .collect();
    payments.push((w.change.to_owned(), rupiah(sale.change)));
    ReceiptDoc {
        title_lines: header(settings, branch, device),
        meta_lines: vec![
            (w.receipt.to_owned(), sale.receipt_no.clone()),
            (
                w.cashier.to_owned(),
                sale.cashier.clone().unwrap_or_else(|| "-".into()),
            ),
            (w.date.to_owned(), local_time(sold_at_ms)),
        ],
        items,
        totals,
        payments,
        footer_lines: vec![settings.receipt_footer.clone()],
        // The drawer opens for the original sale with cash only.
        open_drawer: !copy && sale.tenders.iter().any(|t| t.method == "cash"),
        copy_label: copy.then(|| w.copy.to_owned()),
    }
}

/// The refund note.
pub fn refund_doc(
    refund: &RefundIssued,
    names: &dyn Fn(&str) -> String,
    at_ms: i64,
    settings: &PosSettings,
    branch: &str,
    device: &str,
) -> ReceiptDoc {
    let w = words(&settings.language);
    ReceiptDoc {
        title_lines: header(settings, branch, device),
        meta_lines: vec![
            (w.refund.to_owned(), refund.refund_no.clone()),
            (w.for_receipt.to_owned(), refund.receipt_no.clone()),
            (w.date.to_owned(), local_time(at_ms)),
        ],
        items: refund
            .lines
            .iter()
            .map(|l| ReceiptItem {
                name: names(&l.sku),
                quantity_text: quantity_text(l.quantity_milli),
                amount_text: format!("-{}", rupiah(l.amount)),
                discount_text: None,
            })
            .collect(),
        totals: vec![(w.total.to_owned(), format!("-{}", rupiah(refund.total)))],
        payments: vec![(
            format!("{} ({})", w.paid_back, method_label(&refund.method)),
            rupiah(refund.total),
        )],
        footer_lines: vec![],
        open_drawer: refund.method == "cash",
        copy_label: None,
    }
}

fn width(paper: Paper) -> Width {
    match paper {
        Paper::Mm58 => Width::Mm58,
        Paper::Mm80 => Width::Mm80,
    }
}

/// The bytes for the printer and the same document as screen lines.
pub fn render(doc: &ReceiptDoc, paper: Paper) -> Result<(Vec<u8>, Vec<String>)> {
    let bytes = sentra_printer::encode_receipt(doc, width(paper));
    let lines = preview(&bytes)?;
    Ok((bytes, lines))
}

/// Width of the label column in `ShiftReport::to_text`.
const REPORT_LABEL_COLUMNS: usize = 24;

/// Re-lay one `label  value` line of a shift report for `columns`: on one
/// line when both fit with a space between, else the label and then the
/// value right-aligned below it.
pub fn fit_report_line(line: &str, columns: usize) -> Vec<String> {
    let label: String = line.chars().take(REPORT_LABEL_COLUMNS).collect();
    let value: String = line.chars().skip(REPORT_LABEL_COLUMNS).collect();
    let (label, value) = (label.trim_end(), value.trim());
    let (l, v) = (label.chars().count(), value.chars().count());
    if value.is_empty() {
        vec![label.to_owned()]
    } else if l + 1 + v <= columns {
        vec![format!("{label}{}{value}", " ".repeat(columns - l - v))]
    } else {
        vec![
            label.to_owned(),
            format!("{}{value}", " ".repeat(columns.saturating_sub(v))),
        ]
    }
}

/// A fixed-width text (X/Z report) for the printer, and its screen lines.
pub fn render_text(lines: Vec<String>, paper: Paper) -> Result<(Vec<u8>, Vec<String>)> {
    let columns = width(paper).columns();
    let lines = lines
        .iter()
        .flat_map(|l| fit_report_line(l, columns))
        .collect();
    let bytes = sentra_printer::encode_text(
        &TextDoc {
            lines,
            open_drawer: false,
        },
        width(paper),
    );
    let lines = preview(&bytes)?;
    Ok((bytes, lines))
}

fn preview(bytes: &[u8]) -> Result<Vec<String>> {
    sentra_printer::decode(bytes)
        .map(|d| d.lines)
        .map_err(|e| TerminalError::invalid("receipt layout", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_fit_the_paper() {
        let line = format!("{:<24}{:>18}", "Sales (net of voids)", "12 × Rp 1.234.500");
        assert_eq!(
            fit_report_line(&line, 48),
            vec![format!(
                "Sales (net of voids){}12 × Rp 1.234.500",
                " ".repeat(11)
            )]
        );
        assert_eq!(
            fit_report_line(&line, 32),
            vec![
                "Sales (net of voids)".to_owned(),
                format!("{}12 × Rp 1.234.500", " ".repeat(15)),
            ]
        );
        let short = format!("{:<24}{:>18}", "Opening float", "Rp 100.000");
        assert_eq!(
            fit_report_line(&short, 32),
            vec![format!("Opening float{}Rp 100.000", " ".repeat(9))]
        );
        for out in [fit_report_line(&line, 32), fit_report_line(&short, 32)] {
            assert!(out.iter().all(|l| l.chars().count() <= 32));
        }
    }

    #[test]
    fn quantities_show_decimals_only_for_fractions() {
        assert_eq!(quantity_text(2000), "2");
        assert_eq!(quantity_text(450), "0,450");
        assert_eq!(quantity_text(1500), "1,500");
    }
}
