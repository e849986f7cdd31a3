//! Documents to ESC/POS bytes. Pure: no I/O, no clock.

use crate::ascii::to_ascii;
use crate::commands::{
    ALIGN_CENTER, ALIGN_LEFT, BOLD_OFF, BOLD_ON, CODE_PAGE_ASCII, DRAWER_KICK,
    FEED_AND_PARTIAL_CUT, INIT, LF, SIZE_DOUBLE_HEIGHT, SIZE_NORMAL,
};
use crate::doc::{ReceiptDoc, TextDoc, Width};
use crate::layout::{hard_wrap, two_columns, wrap_words};

/// Indent of an item's quantity and discount lines under its name.
const ITEM_INDENT: usize = 2;

/// Encodes a receipt for a printer with paper `width`.
///
/// Layout (every line at most [`Width::columns`] characters, all text first
/// reduced to ASCII by [`crate::to_ascii`]):
///
/// 1. title lines: centered, bold, double height, word-wrapped; then the
///    header lines centered in the normal font; then `*** <copy_label> ***`
///    centered and bold, if any;
/// 2. meta lines: label left, value right;
/// 3. per item: the name (word-wrapped over as many lines as it needs), then
///    the quantity text indented by two spaces with the amount right-aligned
///    on the same line, then the discount text indented, if any;
/// 4. totals: label left, amount right; the **last** row bold and double
///    height (the grand total);
/// 5. payments: label left, amount right;
/// 6. tax lines: label left, amount right;
/// 7. footer lines: centered, word-wrapped.
///
/// Non-empty sections are separated by a line of `-`. In two-column lines
/// the amount stays on the label's last line when at least one space fits
/// between them; otherwise it moves to its own line, right-aligned. Nothing
/// is truncated. The job starts with `ESC @` and code page 0, sends the
/// drawer pulse first when `open_drawer` (so the drawer opens while the
/// paper prints, and even if the paper has run out), and ends with a feed
/// and partial cut.
pub fn encode_receipt(doc: &ReceiptDoc, width: Width) -> Vec<u8> {
    let w = width.columns();
    let mut sections: Vec<Vec<Line>> = Vec::new();

    let mut header = Vec::new();
    for title in &doc.title_lines {
        header.extend(Line::all(wrap_words(&to_ascii(title), w), Style::Title));
    }
    for line in &doc.header_lines {
        header.extend(Line::all(wrap_words(&to_ascii(line), w), Style::Centered));
    }
    if let Some(label) = &doc.copy_label {
        let label = format!("*** {} ***", to_ascii(label).trim());
        header.extend(Line::all(wrap_words(&label, w), Style::Label));
    }
    sections.push(header);

    sections.push(pairs(&doc.meta_lines, w, Style::Normal));

    let mut items = Vec::new();
    for item in &doc.items {
        items.extend(Line::all(
            wrap_words(&to_ascii(&item.name), w),
            Style::Normal,
        ));
        let quantity = to_ascii(&item.quantity_text);
        let amount = to_ascii(&item.amount_text);
        items.extend(Line::all(
            two_columns(&quantity, &amount, ITEM_INDENT, w),
            Style::Normal,
        ));
        if let Some(discount) = &item.discount_text {
            items.extend(Line::all(
                two_columns(&to_ascii(discount), "", ITEM_INDENT, w),
                Style::Normal,
            ));
        }
    }
    sections.push(items);

    let mut totals = Vec::new();
    if let Some((last, rest)) = doc.totals.split_last() {
        totals.extend(pairs(rest, w, Style::Normal));
        totals.extend(pairs(std::slice::from_ref(last), w, Style::Total));
    }
    sections.push(totals);

    sections.push(pairs(&doc.payments, w, Style::Normal));
    sections.push(pairs(&doc.tax_lines, w, Style::Normal));

    let mut footer = Vec::new();
    for line in &doc.footer_lines {
        footer.extend(Line::all(wrap_words(&to_ascii(line), w), Style::Centered));
    }
    sections.push(footer);

    let mut out = Encoder::start(doc.open_drawer);
    let separator = "-".repeat(w);
    let mut first = true;
    for section in sections.iter().filter(|s| !s.is_empty()) {
        if !first {
            out.line(&separator, Style::Normal);
        }
        first = false;
        for line in section {
            out.line(&line.text, line.style);
        }
    }
    out.finish()
}

/// Encodes pre-formatted fixed-width text (e.g. an X or Z report): each
/// entry is one left-aligned line in the normal font, reduced to ASCII,
/// trailing spaces trimmed, and split at the paper width when longer (as the
/// printer would wrap it anyway), so the caller's columns stay where they
/// were put. Ends with a feed and partial cut.
pub fn encode_text(doc: &TextDoc, width: Width) -> Vec<u8> {
    let mut out = Encoder::start(doc.open_drawer);
    for line in &doc.lines {
        for piece in hard_wrap(&to_ascii(line), width.columns()) {
            out.line(&piece, Style::Normal);
        }
    }
    out.finish()
}

fn pairs(rows: &[(String, String)], width: usize, style: Style) -> Vec<Line> {
    rows.iter()
        .flat_map(|(label, value)| {
            Line::all(
                two_columns(&to_ascii(label), &to_ascii(value), 0, width),
                style,
            )
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Normal,
    Centered,
    /// Store name and address.
    Title,
    /// The copy label (REPRINT).
    Label,
    /// The grand total.
    Total,
}

impl Style {
    fn state(self) -> State {
        let (center, bold, tall) = match self {
            Style::Normal => (false, false, false),
            Style::Centered => (true, false, false),
            Style::Title => (true, true, true),
            Style::Label => (true, true, false),
            Style::Total => (false, true, true),
        };
        State { center, bold, tall }
    }
}

/// The printer modes a line depends on; commands are sent only on change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct State {
    center: bool,
    bold: bool,
    tall: bool,
}

struct Line {
    text: String,
    style: Style,
}

impl Line {
    fn all(texts: Vec<String>, style: Style) -> impl Iterator<Item = Line> {
        texts.into_iter().map(move |text| Line { text, style })
    }
}

struct Encoder {
    bytes: Vec<u8>,
    state: State,
}

impl Encoder {
    fn start(open_drawer: bool) -> Self {
        let mut bytes = Vec::with_capacity(1024);
        bytes.extend_from_slice(&INIT);
        bytes.extend_from_slice(&CODE_PAGE_ASCII);
        if open_drawer {
            bytes.extend_from_slice(&DRAWER_KICK);
        }
        Encoder {
            bytes,
            state: State::default(),
        }
    }

    /// `text` is ASCII already and fits the width (layout's job).
    fn line(&mut self, text: &str, style: Style) {
        self.set(style.state());
        self.bytes.extend_from_slice(text.trim_end().as_bytes());
        self.bytes.push(LF);
    }

    fn set(&mut self, want: State) {
        if want.center != self.state.center {
            self.bytes.extend_from_slice(if want.center {
                &ALIGN_CENTER
            } else {
                &ALIGN_LEFT
            });
        }
        if want.bold != self.state.bold {
            self.bytes
                .extend_from_slice(if want.bold { &BOLD_ON } else { &BOLD_OFF });
        }
        if want.tall != self.state.tall {
            self.bytes.extend_from_slice(if want.tall {
                &SIZE_DOUBLE_HEIGHT
            } else {
                &SIZE_NORMAL
            });
        }
        self.state = want;
    }

    /// Back to the power-on modes (so a job sent after this one without its
    /// own `ESC @` still prints normally), then feed and cut.
    fn finish(mut self) -> Vec<u8> {
        self.set(State::default());
        self.bytes.extend_from_slice(&FEED_AND_PARTIAL_CUT);
        self.bytes
    }
}
