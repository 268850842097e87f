//! Money as the paywall carries it (PROTOCOL.md "Paywall"): an amount in the currency's minor
//! units (an integer, never a float) and an ISO 4217 code. Parsing a typed amount ("12.50") and
//! formatting one for people go through the currency's exponent (2 for EUR, 0 for JPY, 3 for
//! KWD), so no amount is ever rounded. It does not convert between currencies: sums are kept
//! per currency.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount an invoice may ask, in minor units (Stripe's limit: eight digits).
pub const MAX_AMOUNT_MINOR: u64 = 99_999_999;

/// An ISO 4217 currency code: three uppercase ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// Why a currency or an amount was refused, in words for the person typing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("a currency is three letters, such as EUR or USD")]
    Currency,
    #[error("type an amount such as 12.50")]
    NotAnAmount,
    #[error("{currency} amounts have at most {exponent} decimal place(s)")]
    TooPrecise { currency: Currency, exponent: u32 },
    #[error("the amount must be more than zero")]
    Zero,
    #[error("the amount is too large (at most {})", format_amount(MAX_AMOUNT_MINOR, *.0))]
    TooLarge(Currency),
}

/// ISO 4217 currencies without minor units.
const ZERO_DECIMAL: [&str; 17] = [
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
/// ISO 4217 currencies with three decimal places.
const THREE_DECIMAL: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

impl Currency {
    /// Parses a code, accepting lowercase (Stripe writes `eur`) and surrounding spaces.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let bytes = text.trim().as_bytes();
        let code: [u8; 3] = bytes.try_into().map_err(|_| MoneyError::Currency)?;
        if !code.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::Currency);
        }
        Ok(Self(code.map(|byte| byte.to_ascii_uppercase())))
    }

    /// The uppercase code, `EUR`.
    pub fn code(&self) -> &str {
        // Always three ASCII letters (checked in `parse`).
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// The lowercase code Stripe's API uses, `eur`.
    pub fn stripe_code(&self) -> String {
        self.code().to_ascii_lowercase()
    }

    /// Decimal places of the minor unit.
    pub fn exponent(&self) -> u32 {
        let code = self.code();
        if ZERO_DECIMAL.contains(&code) {
            0
        } else if THREE_DECIMAL.contains(&code) {
            3
        } else {
            2
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Parses what a person typed ("12.50", "12,50", "1 250", "1250") into minor units of
/// `currency`, refusing more decimals than the currency has, zero, and amounts above
/// `MAX_AMOUNT_MINOR`.
pub fn parse_amount(text: &str, currency: Currency) -> Result<u64, MoneyError> {
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''))
        .collect();
    let (whole, fraction) = match cleaned.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, fraction),
        None => (cleaned.as_str(), ""),
    };
    let digits = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(MoneyError::NotAnAmount);
    }
    let exponent = currency.exponent();
    if fraction.len() > exponent as usize {
        return Err(MoneyError::TooPrecise { currency, exponent });
    }
    let scale = 10_u64.pow(exponent);
    let whole: u64 = match whole {
        "" => 0,
        digits if digits.len() > 12 => return Err(MoneyError::TooLarge(currency)),
        digits => digits.parse().map_err(|_| MoneyError::NotAnAmount)?,
    };
    let mut fraction_minor: u64 = match fraction {
        "" => 0,
        digits => digits.parse().map_err(|_| MoneyError::NotAnAmount)?,
    };
    for _ in fraction.len()..exponent as usize {
        fraction_minor *= 10;
    }
    let minor = whole
        .checked_mul(scale)
        .and_then(|value| value.checked_add(fraction_minor))
        .ok_or(MoneyError::TooLarge(currency))?;
    check_amount(minor, currency)?;
    Ok(minor)
}

/// Whether `minor` is an amount an invoice may ask.
pub fn check_amount(minor: u64, currency: Currency) -> Result<(), MoneyError> {
    if minor == 0 {
        return Err(MoneyError::Zero);
    }
    if minor > MAX_AMOUNT_MINOR {
        return Err(MoneyError::TooLarge(currency));
    }
    Ok(())
}

/// `12.50 EUR`, `1250 JPY`, `1.250 KWD`: the amount with exactly the currency's decimals.
pub fn format_amount(minor: u64, currency: Currency) -> String {
    format!("{} {currency}", format_number(i128::from(minor), currency))
}

/// A signed amount (a balance), `-3.00 EUR`.
pub fn format_signed(minor: i128, currency: Currency) -> String {
    format!("{} {currency}", format_number(minor, currency))
}

/// The number alone, with a `.` before the minor digits and no thousands separator (for CSV).
pub fn format_number(minor: i128, currency: Currency) -> String {
    let exponent = currency.exponent();
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{magnitude}");
    }
    let scale = 10_u128.pow(exponent);
    format!(
        "{sign}{}.{:0width$}",
        magnitude / scale,
        magnitude % scale,
        width = exponent as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).expect("a currency")
    }

    #[test]
    fn currencies_parse_and_know_their_exponent() {
        assert_eq!(currency("eur").code(), "EUR");
        assert_eq!(currency(" usd ").stripe_code(), "usd");
        assert_eq!(currency("EUR").exponent(), 2);
        assert_eq!(currency("JPY").exponent(), 0);
        assert_eq!(currency("KWD").exponent(), 3);
        for bad in ["", "EU", "EURO", "E1R", "€€€"] {
            assert_eq!(Currency::parse(bad), Err(MoneyError::Currency), "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&currency("chf")).expect("json"),
            "\"CHF\""
        );
        assert!(serde_json::from_str::<Currency>("\"12\"").is_err());
    }

    #[test]
    fn amounts_parse_exactly_without_floats() {
        let eur = currency("EUR");
        assert_eq!(parse_amount("12.50", eur), Ok(1250));
        assert_eq!(parse_amount("12,5", eur), Ok(1250));
        assert_eq!(parse_amount("1 250", eur), Ok(125_000));
        assert_eq!(parse_amount(".99", eur), Ok(99));
        assert_eq!(parse_amount("0.10", eur), Ok(10));
        assert_eq!(parse_amount("999999.99", eur), Ok(MAX_AMOUNT_MINOR));
        assert_eq!(parse_amount("1000000", eur), Err(MoneyError::TooLarge(eur)));
        assert_eq!(
            parse_amount("99999999999999999999", eur),
            Err(MoneyError::TooLarge(eur))
        );
        assert_eq!(
            parse_amount("1.005", eur),
            Err(MoneyError::TooPrecise {
                currency: eur,
                exponent: 2
            })
        );
        assert_eq!(parse_amount("0", eur), Err(MoneyError::Zero));
        for bad in ["", ".", "-5", "1e3", "12.50.1", "abc", "+3"] {
            assert_eq!(
                parse_amount(bad, eur),
                Err(MoneyError::NotAnAmount),
                "{bad}"
            );
        }
        let jpy = currency("JPY");
        assert_eq!(parse_amount("1250", jpy), Ok(1250));
        assert!(matches!(
            parse_amount("12.5", jpy),
            Err(MoneyError::TooPrecise { exponent: 0, .. })
        ));
        assert_eq!(parse_amount("1.25", currency("KWD")), Ok(1250));
    }

    #[test]
    fn amounts_format_with_the_currency_decimals() {
        assert_eq!(format_amount(1250, currency("EUR")), "12.50 EUR");
        assert_eq!(format_amount(5, currency("USD")), "0.05 USD");
        assert_eq!(format_amount(1250, currency("JPY")), "1250 JPY");
        assert_eq!(format_amount(1250, currency("KWD")), "1.250 KWD");
        assert_eq!(format_signed(-300, currency("EUR")), "-3.00 EUR");
        assert_eq!(format_number(-7, currency("GBP")), "-0.07");
        for minor in [1_u64, 9, 10, 99, 100, 101, 1250, MAX_AMOUNT_MINOR] {
            for code in ["EUR", "JPY", "KWD"] {
                let money = currency(code);
                let text = format_number(i128::from(minor), money);
                assert_eq!(parse_amount(&text, money), Ok(minor), "{text} {code}");
            }
        }
    }
}
