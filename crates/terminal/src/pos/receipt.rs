//! Receipts and reports as documents for the printer, and the on-screen
//! preview: the preview is the printed bytes decoded again, so what the
//! cashier sees is exactly what the printer gets.

use chrono::TimeZone;
use sentra_domain::Money;
use sentra_printer::{ReceiptDoc, ReceiptItem, TextDoc, Width};
use sentra_protocol::payload::{RefundIssued, SaleCompleted};

use super::branch::BranchProfile;
use super::settings::Paper;
use crate::error::{Result, TerminalError};

/// Labels in the receipt's language.
struct Words {
    receipt: &'static str,
    refund: &'static str,
    cashier: &'static str,
    till: &'static str,
    date: &'static str,
    subtotal: &'static str,
    discount: &'static str,
    tax: &'static str,
    price_before_tax: &'static str,
    tax_included: &'static str,
    total: &'static str,
    change: &'static str,
    copy: &'static str,
    for_receipt: &'static str,
    paid_back: &'static str,
    unverified: &'static str,
}

fn words(language: &str) -> Words {
    if language == "en" {
        Words {
            receipt: "Receipt",
            refund: "Refund",
            cashier: "Cashier",
            till: "Till",
            date: "Date",
            subtotal: "Subtotal",
            discount: "Discount",
            tax: "VAT (PPN)",
            price_before_tax: "Price before VAT",
            tax_included: "VAT (PPN) included",
            total: "TOTAL",
            change: "Change",
            copy: "COPY",
            for_receipt: "For receipt",
            paid_back: "Paid back",
            unverified: "Without the original sale (checked by head office)",
        }
    } else {
        Words {
            receipt: "Struk",
            refund: "Retur",
            cashier: "Kasir",
            till: "Kassa",
            date: "Tanggal",
            subtotal: "Subtotal",
            discount: "Diskon",
            tax: "PPN",
            price_before_tax: "Harga jual tanpa PPN",
            tax_included: "PPN sudah termasuk",
            total: "TOTAL",
            change: "Kembali",
            copy: "SALINAN",
            for_receipt: "Atas struk",
            paid_back: "Dikembalikan",
            unverified: "Tanpa data penjualan asal (diperiksa kantor pusat)",
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

/// `dd/mm/yyyy hh:mm` in the branch's time zone, or the till's clock zone
/// when head office set none.
fn local_time(ms: i64, zone: Option<chrono_tz::Tz>) -> String {
    const FORMAT: &str = "%d/%m/%Y %H:%M";
    match zone {
        Some(tz) => tz
            .timestamp_millis_opt(ms)
            .single()
            .map(|t| t.format(FORMAT).to_string()),
        None => chrono::Local
            .timestamp_millis_opt(ms)
            .earliest()
            .map(|t| t.format(FORMAT).to_string()),
    }
    .unwrap_or_else(|| String::from("-"))
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

/// The seller as a *faktur pajak eceran* names it: the legal name (or the
/// store name) as the title; under it the store name, address, NPWP and
/// head office's extra header lines.
fn seller(branch: &BranchProfile) -> (Vec<String>, Vec<String>) {
    let mut header = Vec::new();
    let title = match &branch.legal_name {
        Some(legal) => {
            header.push(branch.store_name.clone());
            legal.clone()
        }
        None => branch.store_name.clone(),
    };
    header.extend(branch.address_lines.iter().cloned());
    if let Some(npwp) = &branch.npwp {
        header.push(format!("NPWP {npwp}"));
    }
    header.extend(branch.header_lines.iter().cloned());
    (vec![title], header)
}

/// The customer's receipt of a sale; `copy` marks a reprint.
pub fn sale_doc(
    sale: &SaleCompleted,
    sold_at_ms: i64,
    branch: &BranchProfile,
    copy: bool,
) -> ReceiptDoc {
    let w = words(&branch.receipt_language);
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
    // Prices with PPN in them: the total stands, and the tax section says
    // what it contains. Prices before PPN: the PPN is added above the total.
    let inclusive = sale.tax_mode == "inclusive";
    let tax_lines = if inclusive {
        vec![
            (
                w.price_before_tax.to_owned(),
                rupiah(sale.total.saturating_sub(sale.tax)),
            ),
            (w.tax_included.to_owned(), rupiah(sale.tax)),
        ]
    } else {
        totals.push((w.tax.to_owned(), rupiah(sale.tax)));
        vec![]
    };
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
    let (title_lines, header_lines) = seller(branch);
    ReceiptDoc {
        title_lines,
        header_lines,
        meta_lines: vec![
            (w.receipt.to_owned(), sale.receipt_no.clone()),
            (w.date.to_owned(), local_time(sold_at_ms, branch.timezone)),
            (
                w.cashier.to_owned(),
                sale.cashier.clone().unwrap_or_else(|| "-".into()),
            ),
            (
                w.till.to_owned(),
                format!("{} / {}", branch.branch, branch.device),
            ),
        ],
        items,
        totals,
        payments,
        tax_lines,
        footer_lines: branch.footer_lines.clone(),
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
    branch: &BranchProfile,
) -> ReceiptDoc {
    let w = words(&branch.receipt_language);
    let (title_lines, header_lines) = seller(branch);
    ReceiptDoc {
        title_lines,
        header_lines,
        meta_lines: vec![
            (w.refund.to_owned(), refund.refund_no.clone()),
            (w.for_receipt.to_owned(), refund.receipt_no.clone()),
            (w.date.to_owned(), local_time(at_ms, branch.timezone)),
            (
                w.till.to_owned(),
                format!("{} / {}", branch.branch, branch.device),
            ),
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
        tax_lines: (refund.tax > 0)
            .then(|| {
                (
                    w.tax_included.to_owned(),
                    format!("-{}", rupiah(refund.tax)),
                )
            })
            .into_iter()
            .collect(),
        footer_lines: if refund.unverified {
            vec![w.unverified.to_owned()]
        } else {
            vec![]
        },
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

/// A short slip (e.g. "no sale"), word-wrapped, optionally opening the
/// drawer; its bytes and screen lines.
pub fn render_slip(
    lines: Vec<String>,
    paper: Paper,
    open_drawer: bool,
) -> Result<(Vec<u8>, Vec<String>)> {
    let doc = ReceiptDoc {
        title_lines: Vec::new(),
        header_lines: lines,
        meta_lines: Vec::new(),
        items: Vec::new(),
        totals: Vec::new(),
        payments: Vec::new(),
        tax_lines: Vec::new(),
        footer_lines: Vec::new(),
        open_drawer,
        copy_label: None,
    };
    render(&doc, paper)
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
