//! SHA-256 hashes and Ed25519 signatures as fixed-size values, shown and
//! serialised as lowercase hex.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ProtocolError;

/// A SHA-256 digest. Shown and serialised as 64 lowercase hex characters.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// All zeroes: the `prev_hash` of a device's first entry (seq 1).
    pub const ZERO: Hash = Hash([0u8; 32]);

    /// SHA-256 of `bytes`.
    pub fn digest(bytes: &[u8]) -> Hash {
        use sha2::Digest;
        Hash(sha2::Sha256::digest(bytes).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters (either case).
    pub fn from_hex(s: &str) -> Result<Hash, ProtocolError> {
        decode_fixed::<32>(s, "hash").map(Hash)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 signature. Shown and serialised as 128 lowercase hex characters.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 128 hex characters (either case).
    pub fn from_hex(s: &str) -> Result<Signature, ProtocolError> {
        decode_fixed::<64>(s, "signature").map(Signature)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Signature::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

fn decode_fixed<const N: usize>(s: &str, what: &'static str) -> Result<[u8; N], ProtocolError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|e| ProtocolError::InvalidHex {
        what,
        reason: e.to_string(),
    })?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hash_hex_round_trip_and_serde() {
        let h = Hash::digest(b"abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert_eq!(format!("{h}"), h.to_hex());
        assert_eq!(format!("{h:?}"), h.to_hex());
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", h.to_hex()));
        assert_eq!(serde_json::from_str::<Hash>(&json).unwrap(), h);
        assert!(Hash::from_hex("abcd").is_err());
        assert!(serde_json::from_str::<Hash>("\"zz\"").is_err());
    }

    #[test]
    fn signature_hex_round_trip() {
        let s = Signature([0xabu8; 64]);
        assert_eq!(s.to_hex().len(), 128);
        assert_eq!(Signature::from_hex(&s.to_hex()).unwrap(), s);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Signature>(&json).unwrap(), s);
        assert!(Signature::from_hex(&"ab".repeat(63)).is_err());
    }
}
