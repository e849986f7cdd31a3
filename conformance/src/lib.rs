//! A client of the Sentra sync protocol written from `docs/sync-protocol.md`
//! alone, as a third party would write one: this crate does not depend on
//! the workspace's protocol, ledger or server crates, so where the document
//! and the code part ways, the conformance suite (`tests/conformance/`)
//! fails instead of sharing the code's reading.
//!
//! [`canonical_json`] and [`canonical_bytes`] follow "Canonical encoding
//! (format 1)"; [`seal`] fills in `hash` and `signature` as "Hash and
//! signature" says. The test vectors of `docs/vectors/` are made and checked
//! with these.

use ed25519_dalek::{Signer, SigningKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The domain tag the canonical bytes start with.
pub const DOMAIN_TAG: &[u8] = b"sentra.entry";

/// The entry format this encoder writes.
pub const FORMAT: u16 = 1;

/// The largest integer a payload may hold, ±(2^53 − 1).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A number that is not an integer.
    Float(String),
    /// An integer beyond ±(2^53 − 1).
    OutOfRange(String),
    /// An entry field that is missing or not of its documented type.
    Field(&'static str),
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::Float(n) => write!(f, "{n} is not an integer"),
            EncodeError::OutOfRange(n) => write!(f, "{n} is beyond ±(2^53 − 1)"),
            EncodeError::Field(name) => write!(f, "entry field `{name}` missing or mistyped"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// RFC 8785 restricted to integers: no whitespace, members sorted by key as
/// UTF-16 code units, the document's string escapes, plain decimal integers.
pub fn canonical_json(value: &Value) -> Result<String, EncodeError> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String) -> Result<(), EncodeError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let Some(i) = n.as_i64() else {
                // A u64 above i64::MAX is an integer too, but out of range.
                return Err(if n.is_u64() {
                    EncodeError::OutOfRange(n.to_string())
                } else {
                    EncodeError::Float(n.to_string())
                });
            };
            if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
                return Err(EncodeError::OutOfRange(n.to_string()));
            }
            out.push_str(&i.to_string());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(&members[key], out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `len(x)` as u32 big-endian, then `x`.
fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn text<'a>(entry: &'a Value, name: &'static str) -> Result<&'a str, EncodeError> {
    entry[name].as_str().ok_or(EncodeError::Field(name))
}

fn uuid_bytes(entry: &Value, name: &'static str) -> Result<[u8; 16], EncodeError> {
    uuid::Uuid::parse_str(text(entry, name)?)
        .map(|u| *u.as_bytes())
        .map_err(|_| EncodeError::Field(name))
}

fn unsigned(value: &Value, name: &'static str) -> Result<u64, EncodeError> {
    value.as_u64().ok_or(EncodeError::Field(name))
}

/// The canonical bytes of an entry in its JSON form (the input of its hash
/// and signature); `hash` and `signature` are not read.
pub fn canonical_bytes(entry: &Value) -> Result<Vec<u8>, EncodeError> {
    let format = unsigned(&entry["format"], "format")?;
    let format = u16::try_from(format).map_err(|_| EncodeError::Field("format"))?;
    let counter = unsigned(&entry["hlc"]["counter"], "hlc.counter")?;
    let counter = u32::try_from(counter).map_err(|_| EncodeError::Field("hlc.counter"))?;
    let prev_hash: [u8; 32] = hex::decode(text(entry, "prev_hash")?)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(EncodeError::Field("prev_hash"))?;
    let mut out = Vec::new();
    out.extend_from_slice(DOMAIN_TAG);
    out.extend_from_slice(&format.to_be_bytes());
    field(&mut out, &uuid_bytes(entry, "id")?);
    field(&mut out, text(entry, "branch")?.as_bytes());
    field(&mut out, &uuid_bytes(entry, "device_id")?);
    field(&mut out, &unsigned(&entry["seq"], "seq")?.to_be_bytes());
    field(
        &mut out,
        &unsigned(&entry["hlc"]["wall_ms"], "hlc.wall_ms")?.to_be_bytes(),
    );
    field(&mut out, &counter.to_be_bytes());
    field(&mut out, text(entry, "kind")?.as_bytes());
    field(&mut out, &prev_hash);
    field(&mut out, canonical_json(&entry["payload"])?.as_bytes());
    Ok(out)
}

/// SHA-256 of the canonical bytes, as 64 lowercase hex characters.
pub fn hash_hex(canonical: &[u8]) -> String {
    hex::encode(Sha256::digest(canonical))
}

/// The device key of a 32-byte seed.
pub fn signing_key(seed: [u8; 32]) -> SigningKey {
    SigningKey::from_bytes(&seed)
}

/// The public key of a seed, as 64 lowercase hex characters.
pub fn public_key_hex(seed: [u8; 32]) -> String {
    hex::encode(signing_key(seed).verifying_key().as_bytes())
}

/// Sets `hash` and `signature` of an entry in its JSON form, signed with the
/// device key of `seed`; returns the hash.
pub fn seal(entry: &mut Value, seed: [u8; 32]) -> Result<String, EncodeError> {
    let canonical = canonical_bytes(entry)?;
    let hash = hash_hex(&canonical);
    let signature = hex::encode(signing_key(seed).sign(&canonical).to_bytes());
    entry["hash"] = Value::String(hash.clone());
    entry["signature"] = Value::String(signature);
    Ok(hash)
}

/// Checks a signature of the cloud's master-data key ("Master data is
/// signed by the cloud", "Stock levels"): strict Ed25519 over `tag` followed
/// by the canonical JSON of `value`; the key and signature in lowercase hex.
pub fn verify_cloud_signature(
    master_key_hex: &str,
    tag: &[u8],
    value: &Value,
    signature_hex: &str,
) -> Result<(), String> {
    let key: [u8; 32] = hex::decode(master_key_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the master key is not 32 bytes of hex")?;
    let signature: [u8; 64] = hex::decode(signature_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the signature is not 64 bytes of hex")?;
    let mut message = tag.to_vec();
    message.extend(
        canonical_json(value)
            .map_err(|e| e.to_string())?
            .into_bytes(),
    );
    ed25519_dalek::VerifyingKey::from_bytes(&key)
        .map_err(|e| format!("the master key: {e}"))?
        .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&signature))
        .map_err(|e| format!("does not verify under the master key: {e}"))
}

/// The `prev_hash` of a device's first entry: 32 zero bytes.
pub fn genesis_hash() -> String {
    "0".repeat(64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_sort_by_utf16_code_units_not_bytes() {
        // U+FF61 is one UTF-16 unit above the surrogates U+1F600 encodes as.
        let v = json!({"\u{ff61}": 1, "\u{1f600}": 2, "a": 3});
        assert_eq!(
            canonical_json(&v).expect("canonical"),
            "{\"a\":3,\"\u{1f600}\":2,\"\u{ff61}\":1}"
        );
    }

    #[test]
    fn strings_escape_as_the_document_lists() {
        let v = json!("\"\\\u{8}\t\n\u{c}\r\u{1}/é");
        assert_eq!(
            canonical_json(&v).expect("canonical"),
            "\"\\\"\\\\\\b\\t\\n\\f\\r\\u0001/é\""
        );
    }

    #[test]
    fn floats_and_big_integers_have_no_canonical_form() {
        assert!(matches!(
            canonical_json(&json!({"a": 1.5})),
            Err(EncodeError::Float(_))
        ));
        assert!(matches!(
            canonical_json(&json!(1u64 << 53)),
            Err(EncodeError::OutOfRange(_))
        ));
        assert_eq!(
            canonical_json(&json!(-MAX_SAFE_INTEGER)).expect("canonical"),
            "-9007199254740991"
        );
    }
}
