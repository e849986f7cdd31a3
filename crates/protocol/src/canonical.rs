//! The canonical byte encoding of an entry (format 1) and of its payload.
//!
//! Specified in `docs/sync-protocol.md`, "Journal entry format". Nothing here
//! depends on serde_json's map order or feature flags: object keys are sorted
//! here, numbers are written here, strings are escaped here.

use serde_json::Value;

use crate::ProtocolError;

/// The first bytes of every entry's canonical encoding (no length prefix).
pub const ENTRY_DOMAIN_TAG: &[u8] = b"sentra.entry";

/// Largest integer a payload may carry (2^53 − 1); the smallest is its
/// negation. Within this range every JSON reader, including ones that parse
/// numbers as doubles, reads the exact value, and the canonical JSON is
/// exactly RFC 8785 (JCS).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The canonical JSON of a payload: RFC 8785 (JCS) restricted to integers.
///
/// * no whitespace;
/// * object members sorted by key, comparing keys as sequences of UTF-16
///   code units (as RFC 8785 §3.2.3 requires);
/// * strings escaped as RFC 8785 §3.2.2.2: `\"`, `\\`, `\b`, `\t`, `\n`,
///   `\f`, `\r`, other controls below U+0020 as `\u00xx` (lowercase hex),
///   everything else as literal UTF-8;
/// * numbers must be integers within ±(2^53 − 1), written in decimal;
///   a float gives [`ProtocolError::FloatInPayload`].
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, ProtocolError> {
    let mut out = Vec::new();
    write_value(value, &mut out)?;
    Ok(out)
}

/// Refuses what [`canonical_json`] refuses, without building the bytes.
pub(crate) fn check_payload(value: &Value) -> Result<(), ProtocolError> {
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
        Value::Number(n) => integer_text(n).map(|_| ()),
        Value::Array(items) => items.iter().try_for_each(check_payload),
        Value::Object(map) => map.values().try_for_each(check_payload),
    }
}

fn integer_text(n: &serde_json::Number) -> Result<String, ProtocolError> {
    let in_range = if let Some(i) = n.as_i64() {
        (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i)
    } else if n.as_u64().is_some() {
        // Only reached for values above i64::MAX.
        false
    } else {
        return Err(ProtocolError::FloatInPayload);
    };
    if in_range {
        Ok(n.to_string())
    } else {
        Err(ProtocolError::IntegerOutOfRange(n.to_string()))
    }
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // Re-parse through i64 so that the text never carries a sign,
            // exponent or leading zeros that an arbitrary-precision build
            // of serde_json might have preserved.
            // Written without an allocation: payloads are mostly numbers.
            match n.as_i64() {
                Some(i) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) => {
                    use std::io::Write as _;
                    // Writing to a Vec cannot fail.
                    let _ = write!(out, "{i}");
                }
                _ => {
                    integer_text(n)?;
                    return Err(ProtocolError::FloatInPayload);
                }
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // For ASCII keys (every key the protocol names) UTF-16 order is
            // byte order, much cheaper to compare (and linear on a map that
            // is already sorted).
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            if map.keys().all(|k| k.is_ascii()) {
                members.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
            } else {
                members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            }
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    // Most strings need no escape: copied whole.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                let b = c as u32 as usize;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[b >> 4]);
                out.push(HEX[b & 0xf]);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Appends `bytes` with a u32 big-endian length prefix.
pub(crate) fn put_field(
    out: &mut Vec<u8>,
    name: &'static str,
    bytes: &[u8],
) -> Result<(), ProtocolError> {
    let len = u32::try_from(bytes.len()).map_err(|_| ProtocolError::FieldTooLong(name))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: &Value) -> String {
        String::from_utf8(canonical_json(v).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = json!({"b": 1, "a": [true, null, "x"], "c": {"z": -2, "y": 0}});
        assert_eq!(
            canon(&v),
            r#"{"a":[true,null,"x"],"b":1,"c":{"y":0,"z":-2}}"#
        );
    }

    #[test]
    fn sorts_by_utf16_code_units() {
        // U+FF61 sorts after U+1F600 by code point, before it by UTF-16
        // units (0xFF61 > 0xD83D): RFC 8785 wants UTF-16 order.
        let v = json!({"\u{ff61}": 1, "\u{1f600}": 2, "a": 3});
        assert_eq!(canon(&v), "{\"a\":3,\"\u{1f600}\":2,\"\u{ff61}\":1}");
    }

    #[test]
    fn escapes_like_jcs() {
        let v = json!("q\"b\\\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}é€\u{2028}/");
        assert_eq!(
            canon(&v),
            "\"q\\\"b\\\\\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}é€\u{2028}/\""
        );
    }

    #[test]
    fn refuses_floats_and_unsafe_integers() {
        assert!(matches!(
            canonical_json(&json!({"a": 1.5})),
            Err(ProtocolError::FloatInPayload)
        ));
        assert!(matches!(
            canonical_json(&json!([1.0])),
            Err(ProtocolError::FloatInPayload)
        ));
        assert!(matches!(
            canonical_json(&json!(MAX_SAFE_INTEGER + 1)),
            Err(ProtocolError::IntegerOutOfRange(_))
        ));
        assert!(matches!(
            canonical_json(&json!(u64::MAX)),
            Err(ProtocolError::IntegerOutOfRange(_))
        ));
        assert_eq!(canon(&json!(MAX_SAFE_INTEGER)), "9007199254740991");
        assert_eq!(canon(&json!(-MAX_SAFE_INTEGER)), "-9007199254740991");
        assert!(check_payload(&json!({"a": [{"b": 0.1}]})).is_err());
        assert!(check_payload(&json!({"a": [{"b": 1}]})).is_ok());
    }
}
