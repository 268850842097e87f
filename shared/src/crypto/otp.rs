//! One-time passwords the clients draw for a link (the browser's composer and the `sealpost`
//! command line alike), so both hand out passwords of the same strength and alphabet.

use rand_core::CryptoRngCore;

/// The shortest one-time password accepted (PRODUCT.md flow 1).
pub const MIN_OTP_CHARS: usize = 6;

/// What generated one-time passwords are made of: lower-case letters and digits without the
/// look-alikes (0/o, 1/l/i), so they can be read out over the phone.
pub const OTP_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// Characters of a generated one-time password: 14 of 31 symbols, about 69 bits, which an
/// offline search of a stolen database (with the link) cannot exhaust at argon2id's cost,
/// where a short typed one can (SECURITY.md, "What the relay sees").
pub const GENERATED_OTP_CHARS: usize = 14;

/// A fresh random one-time password from the operating system's generator.
pub fn generate_otp() -> String {
    generate_otp_with(&mut rand_core::OsRng)
}

/// A fresh random one-time password from `rng` (rejection sampling: every symbol equally
/// likely).
pub fn generate_otp_with(rng: &mut impl CryptoRngCore) -> String {
    let mut otp = String::with_capacity(GENERATED_OTP_CHARS);
    let limit = 256 - 256 % OTP_ALPHABET.len();
    while otp.len() < GENERATED_OTP_CHARS {
        let mut byte = [0_u8; 1];
        rng.fill_bytes(&mut byte);
        let value = usize::from(byte[0]);
        if value < limit {
            otp.push(char::from(OTP_ALPHABET[value % OTP_ALPHABET.len()]));
        }
    }
    otp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_enough_and_use_only_the_alphabet() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let otp = generate_otp();
            assert_eq!(otp.len(), GENERATED_OTP_CHARS);
            assert!(
                otp.bytes().all(|byte| OTP_ALPHABET.contains(&byte)),
                "{otp}"
            );
            seen.extend(otp.bytes());
            assert!(seen.len() <= OTP_ALPHABET.len());
        }
        // 2,800 draws from 31 symbols: every symbol shows up (a biased or stuck generator
        // would not).
        assert_eq!(seen.len(), OTP_ALPHABET.len());
        assert_ne!(generate_otp(), generate_otp());
    }
}
