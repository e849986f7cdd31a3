//! Secrets the server hands out: device credentials and enrollment codes.
//! Both are random and high-entropy, so the server stores only their SHA-256
//! (a slow hash such as Argon2 protects guessable secrets like PINs; it would
//! add nothing here and would cost every push).

use sentra_protocol::enroll_code;

#[cfg(test)]
use sentra_protocol::enroll_code::ALPHABET as CODE_ALPHABET;

fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)?;
    Ok(b)
}

/// A new bearer credential: 32 random bytes as 64 hex chars.
pub fn new_credential() -> Result<String, getrandom::Error> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// A new one-time enrollment code, e.g. `K7QD-2M9X-PR4T`.
pub fn new_enroll_code() -> Result<String, getrandom::Error> {
    Ok(enroll_code::from_random(random_bytes::<12>()?))
}

pub use enroll_code::hash as hash_secret;
pub use enroll_code::normalise as normalise_code;

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
