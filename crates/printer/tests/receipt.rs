//! Layout and encoding, checked by decoding the bytes the way a printer
//! would read them.

use sentra_printer::{
    DecodeError, Decoded, LineStyle, ReceiptDoc, ReceiptItem, TextDoc, Width, decode,
    encode_receipt, encode_text,
};

const DRAWER_KICK: [u8; 5] = [0x1b, 0x70, 0x00, 0x19, 0xfa];
const PARTIAL_CUT: [u8; 4] = [0x1d, 0x56, 0x42, 0x00];

fn pair(label: &str, value: &str) -> (String, String) {
    (label.to_string(), value.to_string())
}

fn item(name: &str, quantity: &str, amount: &str, discount: Option<&str>) -> ReceiptItem {
    ReceiptItem {
        name: name.to_string(),
        quantity_text: quantity.to_string(),
        amount_text: amount.to_string(),
        discount_text: discount.map(str::to_string),
    }
}

fn sample() -> ReceiptDoc {
    ReceiptDoc {
        header_lines: vec![],
        tax_lines: vec![],
        title_lines: vec![
            "TOKO SENTRA".into(),
            "Cabang Kemang".into(),
            "Jl. Kemang Raya No. 10, Jakarta Selatan".into(),
        ],
        meta_lines: vec![
            pair("Receipt", "T01-000042"),
            pair("Cashier", "Sari"),
            pair("Date", "01/12/2026 14:03"),
        ],
        items: vec![
            item("Nasi Goreng Spesial", "2 x Rp 12.500", "Rp 25.000", None),
            item("Es Teh Manis", "1 x Rp 5.000", "Rp 5.000", None),
            item(
                "Ayam Bakar",
                "0,450 kg x Rp 20.000",
                "Rp 9.000",
                Some("Diskon 10% -Rp 900"),
            ),
        ],
        totals: vec![
            pair("Subtotal", "Rp 38.100"),
            pair("Discount", "-Rp 600"),
            pair("Tax", "Rp 0"),
            pair("TOTAL", "Rp 37.500"),
        ],
        payments: vec![pair("Cash", "Rp 50.000"), pair("Change", "Rp 12.500")],
        footer_lines: vec![
            "Terima kasih".into(),
            "Barang yang sudah dibeli tidak dapat ditukar".into(),
        ],
        open_drawer: false,
        copy_label: None,
    }
}

/// `left` then `right` flush right in `width` columns (the test's own
/// statement of the rule, independent of the crate's code).
fn lr(left: &str, right: &str, width: usize) -> String {
    let gap = width - left.len() - right.len();
    format!("{left}{}{right}", " ".repeat(gap))
}

fn decoded(doc: &ReceiptDoc, width: Width) -> Result<Decoded, DecodeError> {
    decode(&encode_receipt(doc, width))
}

#[test]
fn three_item_receipt_at_58_mm() -> Result<(), DecodeError> {
    let w = 32;
    let out = decoded(&sample(), Width::Mm58)?;
    let sep = "-".repeat(w);
    let expected = vec![
        "TOKO SENTRA".to_string(),
        "Cabang Kemang".into(),
        "Jl. Kemang Raya No. 10, Jakarta".into(),
        "Selatan".into(),
        sep.clone(),
        lr("Receipt", "T01-000042", w),
        lr("Cashier", "Sari", w),
        lr("Date", "01/12/2026 14:03", w),
        sep.clone(),
        "Nasi Goreng Spesial".into(),
        lr("  2 x Rp 12.500", "Rp 25.000", w),
        "Es Teh Manis".into(),
        lr("  1 x Rp 5.000", "Rp 5.000", w),
        "Ayam Bakar".into(),
        lr("  0,450 kg x Rp 20.000", "Rp 9.000", w),
        "  Diskon 10% -Rp 900".into(),
        sep.clone(),
        lr("Subtotal", "Rp 38.100", w),
        lr("Discount", "-Rp 600", w),
        lr("Tax", "Rp 0", w),
        lr("TOTAL", "Rp 37.500", w),
        sep.clone(),
        lr("Cash", "Rp 50.000", w),
        lr("Change", "Rp 12.500", w),
        sep,
        "Terima kasih".into(),
        "Barang yang sudah dibeli tidak".into(),
        "dapat ditukar".into(),
    ];
    assert_eq!(out.lines, expected, "\n{}", out.text());
    // Spelled out once, so the helper cannot hide a mistake.
    assert!(
        out.lines
            .contains(&"TOTAL                  Rp 37.500".to_string())
    );
    assert!(out.lines.iter().all(|l| l.len() <= w));
    assert_eq!((out.cuts, out.drawer_kicks, out.initialized), (1, 0, true));
    Ok(())
}

#[test]
fn three_item_receipt_at_80_mm() -> Result<(), DecodeError> {
    let w = 48;
    let out = decoded(&sample(), Width::Mm80)?;
    let sep = "-".repeat(w);
    let expected = vec![
        "TOKO SENTRA".to_string(),
        "Cabang Kemang".into(),
        "Jl. Kemang Raya No. 10, Jakarta Selatan".into(),
        sep.clone(),
        lr("Receipt", "T01-000042", w),
        lr("Cashier", "Sari", w),
        lr("Date", "01/12/2026 14:03", w),
        sep.clone(),
        "Nasi Goreng Spesial".into(),
        lr("  2 x Rp 12.500", "Rp 25.000", w),
        "Es Teh Manis".into(),
        lr("  1 x Rp 5.000", "Rp 5.000", w),
        "Ayam Bakar".into(),
        lr("  0,450 kg x Rp 20.000", "Rp 9.000", w),
        "  Diskon 10% -Rp 900".into(),
        sep.clone(),
        lr("Subtotal", "Rp 38.100", w),
        lr("Discount", "-Rp 600", w),
        lr("Tax", "Rp 0", w),
        lr("TOTAL", "Rp 37.500", w),
        sep.clone(),
        lr("Cash", "Rp 50.000", w),
        lr("Change", "Rp 12.500", w),
        sep,
        "Terima kasih".into(),
        "Barang yang sudah dibeli tidak dapat ditukar".into(),
    ];
    assert_eq!(out.lines, expected, "\n{}", out.text());
    assert!(
        out.lines
            .contains(&"TOTAL                                  Rp 37.500".to_string())
    );
    Ok(())
}

#[test]
fn title_and_total_are_emphasized_footer_centered() -> Result<(), DecodeError> {
    let out = decoded(&sample(), Width::Mm58)?;
    assert_eq!(out.lines.len(), out.styles.len());
    let style_of = |text: &str| {
        out.lines
            .iter()
            .position(|l| l.starts_with(text))
            .and_then(|i| out.styles.get(i).copied())
    };
    let title = LineStyle {
        centered: true,
        bold: true,
        double_height: true,
    };
    assert_eq!(style_of("TOKO SENTRA"), Some(title));
    assert_eq!(style_of("Selatan"), Some(title));
    assert_eq!(
        style_of("TOTAL"),
        Some(LineStyle {
            centered: false,
            bold: true,
            double_height: true,
        })
    );
    assert_eq!(style_of("Tax"), Some(LineStyle::default()));
    assert_eq!(style_of("Change"), Some(LineStyle::default()));
    assert_eq!(
        style_of("Terima kasih"),
        Some(LineStyle {
            centered: true,
            ..LineStyle::default()
        })
    );
    Ok(())
}

#[test]
fn copy_label_is_framed_under_the_title() -> Result<(), DecodeError> {
    let doc = ReceiptDoc {
        header_lines: vec![],
        tax_lines: vec![],
        copy_label: Some("SALINAN".into()),
        ..sample()
    };
    let out = decoded(&doc, Width::Mm80)?;
    let i = out
        .lines
        .iter()
        .position(|l| l == "*** SALINAN ***")
        .ok_or(DecodeError::UnterminatedLine { offset: 0 })?;
    assert_eq!(i, 3, "right after the three title lines:\n{}", out.text());
    assert_eq!(
        out.styles.get(i).copied(),
        Some(LineStyle {
            centered: true,
            bold: true,
            double_height: false,
        })
    );
    Ok(())
}

#[test]
fn drawer_kick_only_when_asked() -> Result<(), DecodeError> {
    let closed = encode_receipt(&sample(), Width::Mm58);
    assert!(!closed.windows(5).any(|w| w == DRAWER_KICK));
    assert_eq!(decode(&closed)?.drawer_kicks, 0);

    let doc = ReceiptDoc {
        header_lines: vec![],
        tax_lines: vec![],
        open_drawer: true,
        ..sample()
    };
    let open = encode_receipt(&doc, Width::Mm58);
    assert_eq!(open.windows(5).filter(|w| *w == DRAWER_KICK).count(), 1);
    let out = decode(&open)?;
    assert_eq!(out.drawer_kicks, 1);
    // The kick changes nothing on paper.
    assert_eq!(out.lines, decode(&closed)?.lines);

    let text = TextDoc {
        lines: vec!["Z REPORT".into()],
        open_drawer: true,
    };
    assert_eq!(decode(&encode_text(&text, Width::Mm80))?.drawer_kicks, 1);
    Ok(())
}

#[test]
fn job_ends_with_a_partial_cut() {
    let bytes = encode_receipt(&sample(), Width::Mm80);
    assert!(bytes.starts_with(&[0x1b, 0x40]), "starts with ESC @");
    assert!(bytes.ends_with(&PARTIAL_CUT));
    assert!(
        bytes
            .iter()
            .all(|&b| b == 0x0a || b == 0x1b || b == 0x1d || b < 0x80),
        "only ASCII text and commands"
    );
}

#[test]
fn non_ascii_is_replaced_without_breaking_the_layout() -> Result<(), DecodeError> {
    let doc = ReceiptDoc {
        header_lines: vec![],
        tax_lines: vec![],
        title_lines: vec!["Kopi Kenangan Café".into()],
        items: vec![
            item("Crème Brûlée ☕", "1 × Rp 18.000", "Rp 18.000", None),
            item("抹茶 Latte", "1 x Rp 22.000", "Rp 22.000", None),
        ],
        totals: vec![pair("TOTAL", "Rp 40.000")],
        ..sample()
    };
    let out = decoded(&doc, Width::Mm58)?;
    let w = 32;
    let text = out.text();
    assert_eq!(
        out.lines.first().map(String::as_str),
        Some("Kopi Kenangan Cafe")
    );
    assert!(out.lines.contains(&"Creme Brulee ?".to_string()), "{text}");
    assert!(
        out.lines.contains(&lr("  1 x Rp 18.000", "Rp 18.000", w)),
        "{text}"
    );
    assert!(out.lines.contains(&"?? Latte".to_string()), "{text}");
    assert!(out.lines.contains(&lr("TOTAL", "Rp 40.000", w)), "{text}");
    assert!(out.lines.iter().all(|l| l.len() <= w && l.is_ascii()));
    Ok(())
}

#[test]
fn long_names_wrap_and_nothing_is_lost() -> Result<(), DecodeError> {
    let name = "Paket Hemat Keluarga Besar Ayam Goreng Kremes Sambal Matah Nasi Uduk Es Jeruk";
    let code = "SKU-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz";
    let doc = ReceiptDoc {
        header_lines: vec![],
        tax_lines: vec![],
        items: vec![
            item(name, "1 x Rp 125.000", "Rp 125.000", None),
            item(
                code,
                "12 x Rp 1.250.000 (harga grosir khusus minggu ini)",
                "Rp 15.000.000",
                None,
            ),
        ],
        ..sample()
    };
    for (width, w) in [(Width::Mm58, 32), (Width::Mm80, 48)] {
        let out = decoded(&doc, width)?;
        let text = out.text();
        assert!(out.lines.iter().all(|l| l.len() <= w), "{text}");

        // The name's lines, joined again, give the name back.
        let start = out
            .lines
            .iter()
            .position(|l| l.starts_with("Paket Hemat"))
            .ok_or(DecodeError::UnterminatedLine { offset: 0 })?;
        let end = out
            .lines
            .iter()
            .position(|l| l.starts_with("  1 x Rp 125.000"))
            .ok_or(DecodeError::UnterminatedLine { offset: 0 })?;
        assert!(end - start > 1, "wrapped over several lines:\n{text}");
        assert_eq!(out.lines[start..end].join(" "), name);
        assert_eq!(out.lines[end], lr("  1 x Rp 125.000", "Rp 125.000", w));

        // A word longer than the paper is split at the width.
        assert!(out.lines.contains(&code[..w].to_string()), "{text}");
        assert!(
            out.lines.iter().any(|l| l.ends_with("Rp 15.000.000")),
            "{text}"
        );
    }

    // At 58 mm the quantity text leaves no room: the amount moves down.
    let out = decoded(&doc, Width::Mm58)?;
    let i = out
        .lines
        .iter()
        .position(|l| l.ends_with("Rp 15.000.000"))
        .ok_or(DecodeError::UnterminatedLine { offset: 0 })?;
    assert_eq!(out.lines[i], format!("{:>32}", "Rp 15.000.000"));
    assert_eq!(out.lines[i - 1], "  grosir khusus minggu ini)");
    Ok(())
}

#[test]
fn text_doc_bytes_are_frozen() -> Result<(), DecodeError> {
    let doc = TextDoc {
        lines: vec![
            "X REPORT".into(),
            "Sales      Rp 1.000   ".into(),
            String::new(),
            "0123456789012345678901234567890123456789".into(),
        ],
        open_drawer: false,
    };
    let bytes = encode_text(&doc, Width::Mm58);
    let mut expected = vec![0x1b, 0x40, 0x1b, 0x74, 0x00];
    expected.extend_from_slice(b"X REPORT\nSales      Rp 1.000\n\n");
    expected.extend_from_slice(b"01234567890123456789012345678901\n23456789\n");
    expected.extend_from_slice(&PARTIAL_CUT);
    assert_eq!(bytes, expected);
    let out = decode(&bytes)?;
    assert_eq!(out.lines.len(), 5);
    assert_eq!(out.cuts, 1);
    Ok(())
}

#[test]
fn empty_receipt_is_just_init_and_cut() {
    let doc = ReceiptDoc {
        header_lines: vec![],
        tax_lines: vec![],
        title_lines: vec![],
        meta_lines: vec![],
        items: vec![],
        totals: vec![],
        payments: vec![],
        footer_lines: vec![],
        open_drawer: false,
        copy_label: None,
    };
    let bytes = encode_receipt(&doc, Width::Mm58);
    assert_eq!(
        bytes,
        [0x1b, 0x40, 0x1b, 0x74, 0x00, 0x1d, 0x56, 0x42, 0x00]
    );
}

#[test]
fn decode_rejects_what_this_crate_never_sends() {
    let cases: &[(&[u8], &str)] = &[
        (
            &[0x1b, 0x40, 0x1b, b'Z', 0],
            "unknown ESC/POS command ESC Z at byte 2",
        ),
        (&[0x1d, b'k', 0], "unknown ESC/POS command GS k at byte 0"),
        (&[0x1b], "the ESC command at byte 0 is cut short"),
        (
            &[0x1b, b'p', 0, 25],
            "the ESC p command at byte 0 is cut short",
        ),
        (
            &[0x1b, b't', 16],
            "the ESC t command at byte 0 has the unsupported parameter 16",
        ),
        (
            &[0x1d, b'!', 0x11],
            "GS ! command at byte 0 has the unsupported parameter 17",
        ),
        (
            &[b'a', 0xc3, 0xa9, 0x0a],
            "byte 0xC3 at 1 is neither printable ASCII",
        ),
        (&[0x00], "byte 0x00 at 0"),
        (b"TOTAL", "not ended by a line feed"),
        (&[b'x', 0x1d, b'V', 66, 0], "not ended by a line feed"),
    ];
    for (bytes, message) in cases {
        match decode(bytes) {
            Err(e) => assert!(e.to_string().contains(message), "{bytes:?}: {e}"),
            Ok(d) => panic!("{bytes:?} decoded as {d:?}"),
        }
    }
}

#[test]
fn documents_travel_as_json() -> Result<(), serde_json::Error> {
    let doc = ReceiptDoc {
        header_lines: vec![],
        tax_lines: vec![],
        copy_label: Some("REPRINT".into()),
        ..sample()
    };
    let json = serde_json::to_string(&doc)?;
    assert_eq!(serde_json::from_str::<ReceiptDoc>(&json)?, doc);
    assert_eq!(serde_json::to_string(&Width::Mm58)?, "\"mm58\"");
    Ok(())
}
