//! Money is a `Decimal` with the currency's scale. On the wire it is a string with a dot:
//! `"978.00"`. Commas, exponents, signs, NaN and more decimals than the currency allows are
//! rejected rather than guessed at, because a misread amount is a misposted payment.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// The most digits after the dot any currency uses (JOD, KWD, OMR, BHD use 3).
pub const MAX_SCALE: u32 = 4;

/// Largest amount we accept: far above any restaurant bill, far below Decimal's limits.
const MAX_INTEGER_DIGITS: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount is empty")]
    Empty,
    #[error("amount {0:?} is not a decimal number with a dot (digits, optional '.', digits)")]
    Malformed(String),
    #[error("amount {0:?} is negative")]
    Negative(String),
    #[error("amount {value:?} has more than {scale} digits after the dot")]
    TooManyDecimals { value: String, scale: u32 },
    #[error("amount {0:?} is too large")]
    TooLarge(String),
}

/// A non-negative amount of money in one currency, carried at the currency's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money {
    value: Decimal,
    scale: u32,
}

impl Money {
    /// Parses a wire amount (`"978"`, `"978.5"`, `"978.50"`) for a currency with `scale` decimals.
    pub fn parse(s: &str, scale: u32) -> Result<Self, MoneyError> {
        let scale = scale.min(MAX_SCALE);
        if s.is_empty() {
            return Err(MoneyError::Empty);
        }
        if s.starts_with('-') {
            return Err(MoneyError::Negative(s.to_string()));
        }
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.is_some_and(|f| !digits(f)) {
            return Err(MoneyError::Malformed(s.to_string()));
        }
        if int.trim_start_matches('0').len() > MAX_INTEGER_DIGITS {
            return Err(MoneyError::TooLarge(s.to_string()));
        }
        let frac = frac.unwrap_or("");
        // Trailing zeros beyond the scale carry no money ("10.500" is fine for a 2-digit currency).
        if frac.trim_end_matches('0').len() > scale as usize {
            return Err(MoneyError::TooManyDecimals {
                value: s.to_string(),
                scale,
            });
        }
        let mut value = Decimal::from_str(s).map_err(|_| MoneyError::Malformed(s.to_string()))?;
        value.rescale(scale);
        Ok(Money { value, scale })
    }

    /// Parses an optional amount: empty means zero.
    pub fn parse_optional(s: &str, scale: u32) -> Result<Self, MoneyError> {
        if s.is_empty() {
            Ok(Money::zero(scale))
        } else {
            Money::parse(s, scale)
        }
    }

    /// Wraps a decimal that came from a trusted source (a POS answer), at the given scale.
    /// Returns `None` for negatives and for values with more precision than the scale.
    pub fn from_decimal(value: Decimal, scale: u32) -> Option<Self> {
        let scale = scale.min(MAX_SCALE);
        if value.is_sign_negative() && !value.is_zero() {
            return None;
        }
        let mut v = value.normalize();
        if v.scale() > scale {
            return None;
        }
        v.rescale(scale);
        Some(Money { value: v, scale })
    }

    pub fn zero(scale: u32) -> Self {
        let mut value = Decimal::ZERO;
        value.rescale(scale.min(MAX_SCALE));
        Money {
            value,
            scale: scale.min(MAX_SCALE),
        }
    }

    pub fn value(&self) -> Decimal {
        self.value
    }

    pub fn scale(&self) -> u32 {
        self.scale
    }

    pub fn is_zero(&self) -> bool {
        self.value.is_zero()
    }

    /// Sum of two amounts of the same currency. `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        let mut value = self.value.checked_add(other.value)?;
        let scale = self.scale.max(other.scale);
        value.rescale(scale);
        Some(Money { value, scale })
    }

    /// `self - other`, `None` if that would be negative.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        let mut value = self.value.checked_sub(other.value)?;
        if value.is_sign_negative() && !value.is_zero() {
            return None;
        }
        let scale = self.scale.max(other.scale);
        value.rescale(scale);
        Some(Money { value, scale })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Decimal's Display keeps the scale: 978.00 prints as "978.00".
        write!(f, "{}", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str, scale: u32) -> String {
        Money::parse(s, scale).unwrap().to_string()
    }

    #[test]
    fn parses_and_prints_with_the_currency_scale() {
        assert_eq!(ok("978", 2), "978.00");
        assert_eq!(ok("978.5", 2), "978.50");
        assert_eq!(ok("978.00", 2), "978.00");
        assert_eq!(ok("0", 2), "0.00");
        assert_eq!(ok("1.234", 3), "1.234");
        assert_eq!(ok("12", 0), "12");
        assert_eq!(ok("10.500", 2), "10.50");
        assert_eq!(ok("007.10", 2), "7.10");
    }

    #[test]
    fn rejects_what_is_not_a_plain_dotted_decimal() {
        for bad in [
            "1,50", "1e3", "1E3", "NaN", "nan", "inf", "+5", " 5", "5 ", ".5", "5.", "1.2.3",
            "0x10", "١٢", "",
        ] {
            assert!(Money::parse(bad, 2).is_err(), "{bad:?} must be rejected");
        }
        assert!(matches!(
            Money::parse("-1", 2),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            Money::parse("1.005", 2),
            Err(MoneyError::TooManyDecimals { .. })
        ));
        assert!(matches!(
            Money::parse("1234567890123456", 2),
            Err(MoneyError::TooLarge(_))
        ));
    }

    #[test]
    fn arithmetic_is_exact() {
        let a = Money::parse("0.10", 2).unwrap();
        let b = Money::parse("0.20", 2).unwrap();
        assert_eq!(a.checked_add(b).unwrap(), Money::parse("0.30", 2).unwrap());
        assert_eq!(b.checked_sub(a).unwrap().to_string(), "0.10");
        assert!(a.checked_sub(b).is_none());
    }

    #[test]
    fn from_decimal_refuses_precision_loss() {
        assert!(Money::from_decimal(Decimal::new(1005, 3), 2).is_none());
        assert_eq!(
            Money::from_decimal(Decimal::new(1000, 3), 2)
                .unwrap()
                .to_string(),
            "1.00"
        );
        assert!(Money::from_decimal(Decimal::new(-1, 0), 2).is_none());
    }

    #[test]
    fn scale_is_capped_at_four_digits() {
        assert_eq!(ok("1.2345", 9), "1.2345");
        assert_eq!(Money::parse("1", 9).unwrap().scale(), 4);
        assert_eq!(
            Money::parse("1.23456", 9),
            Err(MoneyError::TooManyDecimals {
                value: "1.23456".into(),
                scale: 4
            })
        );
        let z = Money::zero(9);
        assert_eq!((z.to_string(), z.scale()), ("0.0000".to_string(), 4));
        assert_eq!(Money::zero(0).to_string(), "0");
        assert_eq!(Money::zero(2).to_string(), "0.00");
        assert!(z.is_zero());
    }

    #[test]
    fn decimals_beyond_the_scale_are_refused_not_rounded() {
        assert_eq!(ok("1.5", 1), "1.5");
        assert_eq!(ok("1.50", 1), "1.5");
        assert_eq!(ok("1.000000", 0), "1");
        assert_eq!(ok("1.0050", 3), "1.005");
        for (s, scale) in [("1.1", 0), ("1.05", 1), ("0.001", 2), ("1.00001", 4)] {
            assert_eq!(
                Money::parse(s, scale),
                Err(MoneyError::TooManyDecimals {
                    value: s.into(),
                    scale
                }),
                "{s}"
            );
        }
        assert_eq!(
            MoneyError::TooManyDecimals {
                value: "1.005".into(),
                scale: 2
            }
            .to_string(),
            "amount \"1.005\" has more than 2 digits after the dot"
        );
    }

    #[test]
    fn fifteen_integer_digits_at_most() {
        assert_eq!(ok("999999999999999", 2), "999999999999999.00");
        assert_eq!(ok("000999999999999999", 2), "999999999999999.00");
        for big in ["1000000000000000", "1000000000000000.00"] {
            assert_eq!(Money::parse(big, 2), Err(MoneyError::TooLarge(big.into())));
        }
        assert_eq!(
            MoneyError::TooLarge("1".into()).to_string(),
            "amount \"1\" is too large"
        );
    }

    #[test]
    fn each_refusal_has_its_own_error() {
        assert_eq!(Money::parse("", 2), Err(MoneyError::Empty));
        assert_eq!(MoneyError::Empty.to_string(), "amount is empty");
        for neg in ["-1", "-0", "-", "-1.5x"] {
            assert_eq!(Money::parse(neg, 2), Err(MoneyError::Negative(neg.into())));
        }
        assert_eq!(
            MoneyError::Negative("-1".into()).to_string(),
            "amount \"-1\" is negative"
        );
        for bad in ["a", "1.", ".5", "1.a", "a.1", "1..2", ".", "1.2.3", "+1"] {
            assert_eq!(
                Money::parse(bad, 2),
                Err(MoneyError::Malformed(bad.into())),
                "{bad:?}"
            );
        }
        assert_eq!(
            MoneyError::Malformed("x".into()).to_string(),
            "amount \"x\" is not a decimal number with a dot (digits, optional '.', digits)"
        );
    }

    #[test]
    fn optional_amounts_default_to_zero_at_the_scale() {
        let z = Money::parse_optional("", 3).unwrap();
        assert_eq!((z.to_string(), z.scale()), ("0.000".to_string(), 3));
        assert_eq!(Money::parse_optional("5", 2).unwrap().to_string(), "5.00");
        assert_eq!(
            Money::parse_optional("-5", 2),
            Err(MoneyError::Negative("-5".into()))
        );
    }

    #[test]
    fn from_decimal_wraps_trusted_values() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        let m = Money::from_decimal(d("1.50"), 1).unwrap();
        assert_eq!((m.to_string(), m.scale()), ("1.5".to_string(), 1));
        assert_eq!(
            Money::from_decimal(d("1.2345"), 9).unwrap().to_string(),
            "1.2345"
        );
        assert_eq!(Money::from_decimal(d("1.23456"), 9), None);
        assert_eq!(Money::from_decimal(d("1.05"), 1), None);
        assert_eq!(Money::from_decimal(d("0"), 2).unwrap().to_string(), "0.00");
        assert_eq!(Money::from_decimal(d("-0.01"), 2), None);
        // A negative zero is zero, and prints without a sign.
        let nz = Money::from_decimal(d("-0.00"), 2).unwrap();
        assert!(nz.is_zero());
        assert_eq!(nz.to_string(), "0.00");
    }

    #[test]
    fn sums_and_differences_keep_the_larger_scale() {
        let a = Money::parse("1", 0).unwrap();
        let b = Money::parse("0.5", 2).unwrap();
        let sum = a.checked_add(b).unwrap();
        assert_eq!((sum.to_string(), sum.scale()), ("1.50".to_string(), 2));
        let sum = b.checked_add(a).unwrap();
        assert_eq!((sum.to_string(), sum.scale()), ("1.50".to_string(), 2));
        let diff = a.checked_sub(b).unwrap();
        assert_eq!((diff.to_string(), diff.scale()), ("0.50".to_string(), 2));
        let none = b.checked_sub(b).unwrap();
        assert!(none.is_zero());
        assert_eq!(none.to_string(), "0.00");
        assert_eq!(b.checked_sub(a), None);
        assert!(!b.is_zero());
        assert_eq!(b.value(), Decimal::new(50, 2));
        let max = Money::from_decimal(Decimal::MAX, 0).unwrap();
        assert_eq!(max.checked_add(Money::parse("1", 0).unwrap()), None);
        assert_eq!(Money::zero(0).checked_sub(max), None);
    }
}
