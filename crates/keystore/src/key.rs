//! The database key itself: 32 random bytes that never print.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::KeyError;

/// Domain separator for [`DbKey::fingerprint`]; changing it changes every fingerprint.
const FINGERPRINT_DOMAIN: &[u8] = b"sentra.key-check.v1";

/// The 256-bit SQLCipher key. Wiped from memory on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct DbKey(Zeroizing<[u8; 32]>);

impl DbKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<DbKey, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut())
            .map_err(|e| KeyError::Platform(format!("the OS random source failed: {e}")))?;
        Ok(DbKey(bytes))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> DbKey {
        DbKey(Zeroizing::new(bytes))
    }

    /// Parses the 64-hex-digit form (surrounding whitespace ignored) written by
    /// [`DbKey::to_hex`] — the form kept in every store and in backups.
    pub fn from_hex(text: &str) -> Result<DbKey, KeyError> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::Malformed(format!(
                "expected exactly 64 hexadecimal characters, found {} characters{}",
                text.chars().count(),
                if text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    ""
                } else {
                    " including non-hex ones"
                }
            )));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, bytes.as_mut())
            .map_err(|e| KeyError::Malformed(format!("not valid hex: {e}")))?;
        Ok(DbKey(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as 64 lowercase hex digits, for stores and backups. Secret!
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }

    /// The literal to splice into `PRAGMA key = <value>`: `"x'<64 hex>'"`, double
    /// quotes included. A raw key: SQLCipher skips its passphrase KDF.
    pub fn sqlcipher_pragma_value(&self) -> Zeroizing<String> {
        let hex = self.to_hex();
        let mut value = Zeroizing::new(String::with_capacity(68));
        value.push_str("\"x'");
        value.push_str(&hex);
        value.push_str("'\"");
        value
    }

    /// Hex of the first 16 bytes of `SHA-256("sentra.key-check.v1" || key)`.
    /// Not secret: kept next to the database so "wrong key" can be told apart
    /// from "corrupted file" without revealing the key.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(FINGERPRINT_DOMAIN);
        hasher.update(self.0.as_ref());
        let digest = hasher.finalize();
        hex::encode(&digest[..16])
    }
}

impl std::fmt::Debug for DbKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbKey(<redacted>, fingerprint {})", self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pragma_value_is_quoted_raw_key_literal() {
        let key = DbKey::from_bytes([0xab; 32]);
        let value = key.sqlcipher_pragma_value();
        assert_eq!(value.as_str(), format!("\"x'{}'\"", "ab".repeat(32)));
    }

    #[test]
    fn fingerprint_is_frozen() {
        // Golden value: changing the fingerprint scheme must fail this test.
        let key = DbKey::from_bytes([0u8; 32]);
        assert_eq!(key.fingerprint(), "c38424498bccbd717da4c52e5b2142f7");
        let key = DbKey::from_bytes([0xff; 32]);
        assert_eq!(key.fingerprint().len(), 32);
        assert_ne!(key.fingerprint(), "c38424498bccbd717da4c52e5b2142f7");
    }

    #[test]
    fn debug_does_not_print_the_key() {
        let key = DbKey::from_bytes([0x5a; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("5a5a5a"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let key = DbKey::generate().expect("random");
        let back = DbKey::from_hex(&format!("  {}\n", key.to_hex().as_str())).expect("parse");
        assert_eq!(back.as_bytes(), key.as_bytes());
        assert!(matches!(
            DbKey::from_hex("abc"),
            Err(KeyError::Malformed(_))
        ));
        assert!(matches!(
            DbKey::from_hex(&"g".repeat(64)),
            Err(KeyError::Malformed(_))
        ));
        assert_ne!(
            DbKey::generate().expect("random").as_bytes(),
            key.as_bytes()
        );
    }
}
