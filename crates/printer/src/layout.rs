//! Fitting ASCII text to a fixed number of columns. Pure string work, kept
//! apart from the byte encoding so the rules can be read (and tested) alone.
//!
//! Rules, all deterministic:
//! * runs of spaces collapse to one and text is wrapped at spaces;
//! * a word longer than a line is split at the line width;
//! * nothing is ever cut off.

/// Wraps `text` at spaces into lines of at most `width` characters. An empty
/// (or all-space) text gives one empty line, so a deliberate blank line in a
/// title or footer is kept.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word;
        // A word that cannot fit on any line is split at the width.
        while word.len() > width {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            let (head, tail) = word.split_at(width);
            lines.push(head.to_string());
            word = tail;
        }
        if word.is_empty() {
            continue;
        }
        if current.is_empty() {
            current.push_str(word);
        } else if current.len() + 1 + word.len() <= width {
            current.push(' ');
            current.push_str(word);
        } else {
            lines.push(std::mem::replace(&mut current, word.to_string()));
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// `left` flush left (wrapped, each line prefixed by `indent` spaces) and
/// `right` flush right. The right text goes on the last left line when at
/// least one space can separate them, otherwise on its own line. A right
/// text longer than the whole line (never the case for real amounts) is
/// wrapped and each piece right-aligned, so it is still printed in full.
pub fn two_columns(left: &str, right: &str, indent: usize, width: usize) -> Vec<String> {
    let width = width.max(indent + 1);
    let right = right.trim();
    let pad = " ".repeat(indent);
    let mut lines: Vec<String> = if left.trim().is_empty() {
        Vec::new()
    } else {
        wrap_words(left, width - indent)
            .into_iter()
            .map(|l| format!("{pad}{l}"))
            .collect()
    };
    if right.is_empty() {
        if lines.is_empty() {
            lines.push(String::new());
        }
        return lines;
    }
    if right.len() > width {
        lines.extend(
            wrap_words(right, width)
                .iter()
                .map(|r| align_right(r, width)),
        );
        return lines;
    }
    match lines.last_mut() {
        Some(last) if last.len() + 1 + right.len() <= width => {
            let gap = width - last.len() - right.len();
            last.push_str(&" ".repeat(gap));
            last.push_str(right);
        }
        _ => lines.push(align_right(right, width)),
    }
    lines
}

/// Splits a pre-formatted line at the width (no word logic: the caller's
/// columns are kept as they are), trailing spaces trimmed.
pub fn hard_wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let text = text.trim_end();
    if text.is_empty() {
        return vec![String::new()];
    }
    text.as_bytes()
        .chunks(width)
        .map(|c| String::from_utf8_lossy(c).trim_end().to_string())
        .collect()
}

fn align_right(text: &str, width: usize) -> String {
    format!("{text:>width$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_at_spaces_and_split_long_words() {
        assert_eq!(wrap_words("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap_words("  aa   bb ", 10), ["aa bb"]);
        assert_eq!(
            wrap_words("abcdefghijkl xy", 5),
            ["abcde", "fghij", "kl xy"]
        );
        assert_eq!(wrap_words("", 5), [""]);
    }

    #[test]
    fn two_columns_fit_or_move_the_amount_down() {
        assert_eq!(two_columns("Tax", "Rp 0", 0, 12), ["Tax     Rp 0"]);
        assert_eq!(
            two_columns("1 x Rp 5", "Rp 5", 2, 12),
            ["  1 x Rp 5", "        Rp 5"]
        );
        assert_eq!(
            two_columns("abc", "123456789", 0, 12),
            ["abc", "   123456789"]
        );
        assert_eq!(two_columns("", "Rp 1", 0, 6), ["  Rp 1"]);
        assert_eq!(two_columns("x", "1234567", 0, 5), ["x", "12345", "   67"]);
    }

    #[test]
    fn hard_wrap_keeps_columns() {
        assert_eq!(hard_wrap("ab  cd  ef", 4), ["ab", "cd", "ef"]);
        assert_eq!(hard_wrap("   ", 4), [""]);
        assert_eq!(hard_wrap("  x", 4), ["  x"]);
    }
}
