//! Secrets the server hands out: device credentials and enrollment codes.
//! Both are random and high-entropy, so the server stores only their SHA-256
//! (a slow hash such as Argon2 protects guessable secrets like PINs; it would
//! add nothing here and would cost every push).

use sha2::{Digest, Sha256};

/// Alphabet of enrollment codes: Crockford base32 without look-alikes.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)?;
    Ok(b)
}

/// A new bearer credential: 32 random bytes as 64 hex chars.
pub fn new_credential() -> Result<String, getrandom::Error> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// A new one-time enrollment code, e.g. `K7QD-2M9X-PR4T` (60 random bits,
/// easy to read out over the phone).
pub fn new_enroll_code() -> Result<String, getrandom::Error> {
    let bytes = random_bytes::<12>()?;
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| CODE_ALPHABET[usize::from(b % 32)] as char)
        .collect();
    Ok(chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// Normalises a typed code: upper case, no spaces; `O`→`0`, `I`/`L`→`1`.
pub fn normalise_code(code: &str) -> String {
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

/// SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_three_groups_of_four_from_the_alphabet() {
        let c = new_enroll_code().expect("random");
        assert_eq!(c.len(), 14);
        assert!(
            c.split('-')
                .all(|g| g.len() == 4 && g.bytes().all(|b| CODE_ALPHABET.contains(&b)))
        );
        assert_eq!(normalise_code(&c.to_lowercase()), c);
    }

    #[test]
    fn credentials_are_distinct_and_hash_to_32_bytes() {
        let a = new_credential().expect("random");
        let b = new_credential().expect("random");
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }
}
