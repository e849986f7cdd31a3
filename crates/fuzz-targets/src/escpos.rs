//! Target `escpos_decode`: ESC/POS bytes as the test printer reads them
//! ([`decode`]), and printed again as plain text ([`encode_text`]).

use sentra_printer::{DecodeError, TextDoc, Width, decode, encode_text};

pub fn escpos_decode(data: &[u8]) {
    let doc = match decode(data) {
        Ok(doc) => doc,
        Err(e) => {
            let offset = match e {
                DecodeError::UnknownCommand { offset, .. }
                | DecodeError::Truncated { offset, .. }
                | DecodeError::InvalidParameter { offset, .. }
                | DecodeError::UnsupportedByte { offset, .. }
                | DecodeError::UnterminatedLine { offset } => offset,
            };
            assert!(offset <= data.len(), "{e} in {} bytes", data.len());
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert_eq!(doc.lines.len(), doc.styles.len());
    assert_eq!(doc.initialized, data.starts_with(&[0x1b, b'@']));
    for line in &doc.lines {
        assert!(line.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{line:?}");
        assert!(!line.ends_with(' '), "{line:?}");
    }
    // The same lines printed as a text document on 80 mm paper come out
    // the same, split at the paper width.
    let width = Width::Mm80;
    let text = TextDoc {
        lines: doc.lines.clone(),
        open_drawer: doc.drawer_kicks > 0,
    };
    let again = decode(&encode_text(&text, width)).expect("the encoder's own output decodes");
    let expected: Vec<String> = doc
        .lines
        .iter()
        .flat_map(|line| {
            if line.is_empty() {
                return vec![String::new()];
            }
            line.as_bytes()
                .chunks(width.columns())
                .map(|c| String::from_utf8_lossy(c).trim_end().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(again.lines, expected);
    assert_eq!(again.cuts, 1);
    assert_eq!(again.drawer_kicks, usize::from(doc.drawer_kicks > 0));
    assert!(again.initialized);
}
