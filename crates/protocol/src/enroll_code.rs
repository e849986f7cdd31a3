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
    grouped(&chars)
}

/// `K7QD-2M9X-PR4T`: the characters in groups of four, as a code is printed.
fn grouped(chars: &[char]) -> String {
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Normalises a typed code to the form it was printed in (`K7QD-2M9X-PR4T`):
/// upper case; spaces and hyphens wherever they were typed, or none, since
/// the groups are put back; `O`→`0`, `I`/`L`→`1`. Anything that is not 12
/// characters after that stays as typed (and matches no code).
pub fn normalise(code: &str) -> String {
    let chars: Vec<char> = code
        .to_ascii_uppercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    if chars.len() != 12 {
        return chars.into_iter().collect();
    }
    grouped(&chars)
}

/// SHA-256 of a secret (a code or a credential), as the cloud stores it.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_the_same_however_it_is_spaced_or_cased() {
        for typed in [
            "K7QD-2M9X-PR4T",
            "k7qd-2m9x-pr4t",
            "K7QD2M9XPR4T",
            "K7QD 2M9X PR4T",
            " k 7 q d 2 m 9 x p r 4 t ",
            "K7QD--2M9X-PR4T",
        ] {
            assert_eq!(normalise(typed), "K7QD-2M9X-PR4T", "{typed:?}");
        }
        assert_eq!(normalise("AB0I-L000-0000"), normalise("abOi-lOOO-oooo"));
        // Too short or too long: no code, never a panic.
        assert_eq!(normalise("K7QD-2M9X"), "K7QD2M9X");
        assert_eq!(normalise(""), "");
    }
}
