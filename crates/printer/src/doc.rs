//! What to print. Everything is text already formatted by the caller (money
//! as `"Rp 12.500"`, dates as `"01/12/2026 14:03"`): the printer crate lays
//! out and encodes, it does not format.

use serde::{Deserialize, Serialize};

/// Paper width, as the number of font-A characters per line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Width {
    /// 58 mm paper: 32 characters per line.
    Mm58,
    /// 80 mm paper: 48 characters per line.
    Mm80,
}

impl Width {
    /// Characters per line in font A.
    pub const fn columns(self) -> usize {
        match self {
            Width::Mm58 => 32,
            Width::Mm80 => 48,
        }
    }
}

/// A sale or refund receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptDoc {
    /// The seller (or store) name: centered, bold, double height.
    pub title_lines: Vec<String>,
    /// Store name, address, tax number under the title: centered, normal.
    #[serde(default)]
    pub header_lines: Vec<String>,
    /// Label and value, e.g. `("Receipt", "T01-000042")`, `("Cashier", "Sari")`.
    pub meta_lines: Vec<(String, String)>,
    pub items: Vec<ReceiptItem>,
    /// Label and amount, e.g. Subtotal, Discount, Tax, TOTAL. The **last**
    /// row is the grand total and is printed bold and double height.
    pub totals: Vec<(String, String)>,
    /// Label and amount, e.g. `("Cash", "Rp 50.000")`, `("Change", "Rp 12.500")`.
    pub payments: Vec<(String, String)>,
    /// Label and amount after the payments, e.g. the PPN a tax-inclusive
    /// total contains.
    #[serde(default)]
    pub tax_lines: Vec<(String, String)>,
    /// Thanks, return policy, tax number: centered.
    pub footer_lines: Vec<String>,
    /// Pulse the cash drawer (sent before the text, so it opens at once).
    pub open_drawer: bool,
    /// E.g. `"REPRINT"` or `"SALINAN"`: printed as `*** REPRINT ***` under
    /// the title so a copy cannot pass for the original.
    pub copy_label: Option<String>,
}

/// One sold line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptItem {
    pub name: String,
    /// E.g. `"2 x Rp 5.000"` or `"0,450 kg x Rp 32.000"`.
    pub quantity_text: String,
    /// The line amount, e.g. `"Rp 10.000"`.
    pub amount_text: String,
    /// E.g. `"Disc 10% -Rp 1.000"`: printed on its own indented line.
    pub discount_text: Option<String>,
}

/// Pre-formatted fixed-width text, e.g. an X or Z report. Each entry is one
/// line; a line longer than the paper is split at the paper width, as the
/// printer itself would.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextDoc {
    pub lines: Vec<String>,
    pub open_drawer: bool,
}
