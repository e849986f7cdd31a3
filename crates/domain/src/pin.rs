//! The PIN rule, the same at the till and in the cloud: digits only; a
//! cashier's 4 to 8, a supervisor's 6 to 8 (a supervisor's PIN approves
//! voids, refunds and big discounts, so it gets 100 times the guesses).

/// Fewest digits of a cashier's PIN.
pub const MIN_PIN_DIGITS: usize = 4;
/// Fewest digits of a supervisor's PIN.
pub const MIN_SUPERVISOR_PIN_DIGITS: usize = 6;
/// Most digits of any PIN.
pub const MAX_PIN_DIGITS: usize = 8;

/// Whether `pin` may be set for someone of `role` (`cashier` or
/// `supervisor`); the error is a sentence for people.
pub fn check_pin(pin: &str, role: &str) -> Result<(), String> {
    let min = if role == "supervisor" {
        MIN_SUPERVISOR_PIN_DIGITS
    } else {
        MIN_PIN_DIGITS
    };
    if (min..=MAX_PIN_DIGITS).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!(
            "a {role}'s PIN must be {min} to {MAX_PIN_DIGITS} digits"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervisors_need_longer_pins() {
        for ok in ["1234", "00000000", "98765"] {
            check_pin(ok, "cashier").expect(ok);
        }
        for ok in ["123456", "00000000"] {
            check_pin(ok, "supervisor").expect(ok);
        }
        for bad in ["1234", "12345", "123456789", "12a456"] {
            assert!(check_pin(bad, "supervisor").is_err(), "{bad:?}");
        }
        for bad in ["123", "123456789", "12a4", " 1234", "١٢٣٤", ""] {
            assert!(check_pin(bad, "cashier").is_err(), "{bad:?}");
        }
    }
}
