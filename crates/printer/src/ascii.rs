//! Reduction of arbitrary text to printable ASCII.
//!
//! The printer runs in code page 0, and only bytes 0x20..=0x7E are sent, so
//! a name typed with accents on the back office cannot turn into garbage or
//! into a control byte that the printer would take as a command.

/// Returns `text` as printable ASCII (bytes 0x20..=0x7E only).
///
/// Latin letters lose their accents (`Crème Brûlée` → `Creme Brulee`), a
/// few characters are spelled out (`ß` → `ss`, `Æ` → `AE`, `€` → `EUR`,
/// `…` → `...`), typographic quotes, dashes and spaces become their ASCII
/// forms, control characters (tab, newline) become a space, combining marks
/// and zero-width characters are dropped, and anything else (e.g. CJK,
/// emoji) becomes one `?`. Deterministic, so layout is reproducible.
pub fn to_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match fallback(c) {
            Fallback::Keep => out.push(c),
            Fallback::Drop => {}
            Fallback::Char(r) => out.push(r),
            Fallback::Str(s) => out.push_str(s),
        }
    }
    out
}

enum Fallback {
    Keep,
    Drop,
    Char(char),
    Str(&'static str),
}

fn fallback(c: char) -> Fallback {
    use Fallback::{Char, Drop, Keep, Str};
    match c {
        ' '..='~' => Keep,
        // Control characters (tab, newline, ...): a field is one line.
        '\0'..='\x1f' | '\x7f'..='\u{9f}' => Char(' '),
        // Combining marks (decomposed accents), soft hyphen, zero-width.
        '\u{300}'..='\u{36f}' | '\u{ad}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' => {
            Drop
        }
        '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => Char(' '),
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => Char('A'),
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => Char('a'),
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => Char('C'),
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => Char('c'),
        'Ð' | 'Ď' | 'Đ' => Char('D'),
        'ð' | 'ď' | 'đ' => Char('d'),
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => Char('E'),
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => Char('e'),
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => Char('G'),
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => Char('g'),
        'Ĥ' | 'Ħ' => Char('H'),
        'ĥ' | 'ħ' => Char('h'),
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => Char('I'),
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => Char('i'),
        'Ĵ' => Char('J'),
        'ĵ' => Char('j'),
        'Ķ' => Char('K'),
        'ķ' | 'ĸ' => Char('k'),
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => Char('L'),
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => Char('l'),
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' | 'Ŋ' => Char('N'),
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => Char('n'),
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ŏ' | 'Ő' => Char('O'),
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => Char('o'),
        'Ŕ' | 'Ŗ' | 'Ř' => Char('R'),
        'ŕ' | 'ŗ' | 'ř' => Char('r'),
        'Ś' | 'Ŝ' | 'Ş' | 'Š' => Char('S'),
        'ś' | 'ŝ' | 'ş' | 'š' | 'ſ' => Char('s'),
        'Ţ' | 'Ť' | 'Ŧ' => Char('T'),
        'ţ' | 'ť' | 'ŧ' => Char('t'),
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => Char('U'),
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => Char('u'),
        'Ŵ' => Char('W'),
        'ŵ' => Char('w'),
        'Ý' | 'Ŷ' | 'Ÿ' => Char('Y'),
        'ý' | 'ÿ' | 'ŷ' => Char('y'),
        'Ź' | 'Ż' | 'Ž' => Char('Z'),
        'ź' | 'ż' | 'ž' => Char('z'),
        'Æ' => Str("AE"),
        'æ' => Str("ae"),
        'Œ' => Str("OE"),
        'œ' => Str("oe"),
        'Ĳ' => Str("IJ"),
        'ĳ' => Str("ij"),
        'ß' => Str("ss"),
        'Þ' => Str("Th"),
        'þ' => Str("th"),
        '×' => Char('x'),
        '÷' => Char('/'),
        '·' | '•' => Char('*'),
        '‘' | '’' | '‚' | '‛' | '′' | '´' => Char('\''),
        '“' | '”' | '„' | '‟' | '″' | '«' | '»' => Char('"'),
        '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' => Char('-'),
        '…' => Str("..."),
        '€' => Str("EUR"),
        '°' => Str("deg"),
        '¡' => Char('!'),
        '¿' => Char('?'),
        _ => Char('?'),
    }
}

#[cfg(test)]
mod tests {
    use super::to_ascii;

    #[test]
    fn accents_are_stripped_and_ascii_kept() {
        assert_eq!(to_ascii("Crème Brûlée"), "Creme Brulee");
        assert_eq!(to_ascii("Jalapeño Ærø Straße"), "Jalapeno AEro Strasse");
        assert_eq!(to_ascii("Rp 12.500"), "Rp 12.500");
    }

    #[test]
    fn controls_marks_and_unknowns() {
        assert_eq!(to_ascii("a\tb\nc"), "a b c");
        // "e" + combining acute accent (decomposed form).
        assert_eq!(to_ascii("Cafe\u{301}"), "Cafe");
        assert_eq!(to_ascii("茶 ☕"), "? ?");
        assert_eq!(to_ascii("“Teh” – 2×"), "\"Teh\" - 2x");
        assert!(
            to_ascii("\u{1b}@\u{7f}\u{85}")
                .bytes()
                .all(|b| (0x20..=0x7e).contains(&b))
        );
    }
}
