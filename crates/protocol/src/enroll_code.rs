//! One-time enrollment codes (docs/sync-protocol.md, "Enrollment"): how a
//! code is written from random bytes, how a typed one is read, and the hash
//! the cloud stores. Shared by the admin CLI and the head-office pages,
//! which both make codes, and by the server, which reads them.

use sha2::{Digest, Sha256};

/// Alphabet of enrollment codes: Crockford base32 without look-alikes.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The code for 12 random bytes, e.g. `K7QD-2M9X-PR4T` (60 random bits,
/// easy to read out over the phone).
pub fn from_random(bytes: [u8; 12]) -> String {
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b % 32)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Normalises a typed code: upper case, no spaces; `O`→`0`, `I`/`L`→`1`.
pub fn normalise(code: &str) -> String {
    code.trim()
        .to_ascii_uppercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// SHA-256 of a secret (a code or a credential), as the cloud stores it.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}
