//! Amount rules: how much a POS lets one payment book against a bill.

use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountRule {
    /// The payment must equal what is due (r_keeper agent v2). A 100%-discounted bill is paid
    /// with 0.
    Exact,
    /// Partial payments allowed, never more than due (r_keeper agent v1 prepayment).
    UpToDue,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountViolation {
    #[error("amount {amount} differs from the {due} due")]
    NotExact { amount: String, due: String },
    #[error("amount {amount} exceeds the {due} due")]
    Overpay { amount: String, due: String },
    #[error("amount 0 pays nothing on a bill with {due} due")]
    ZeroOnUnpaidBill { due: String },
}

impl AmountRule {
    /// Checks one payment against what is due now.
    pub fn check(self, amount: Money, due: Money) -> Result<(), AmountViolation> {
        let (a, d) = (amount.to_string(), due.to_string());
        match self {
            AmountRule::Exact if amount.value() != due.value() => {
                Err(AmountViolation::NotExact { amount: a, due: d })
            }
            AmountRule::UpToDue if amount.value() > due.value() => {
                Err(AmountViolation::Overpay { amount: a, due: d })
            }
            AmountRule::UpToDue if amount.is_zero() && !due.is_zero() => {
                Err(AmountViolation::ZeroOnUnpaidBill { due: d })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s, 2).unwrap()
    }

    #[test]
    fn exact_rule() {
        assert!(AmountRule::Exact.check(m("978.00"), m("978")).is_ok());
        assert!(AmountRule::Exact.check(m("977.99"), m("978")).is_err());
        assert!(AmountRule::Exact.check(m("978.01"), m("978")).is_err());
    }

    #[test]
    fn fully_discounted_bill_is_paid_with_zero() {
        assert!(AmountRule::Exact.check(m("0"), m("0")).is_ok());
        assert!(AmountRule::Exact.check(m("0.01"), m("0")).is_err());
        assert!(AmountRule::UpToDue.check(m("0"), m("0")).is_ok());
    }

    #[test]
    fn prepayment_may_not_exceed_due() {
        assert!(AmountRule::UpToDue.check(m("300"), m("1000")).is_ok());
        assert!(AmountRule::UpToDue.check(m("1000"), m("1000")).is_ok());
        assert!(matches!(
            AmountRule::UpToDue.check(m("1000.01"), m("1000")),
            Err(AmountViolation::Overpay { .. })
        ));
        assert!(AmountRule::UpToDue.check(m("0"), m("10")).is_err());
    }

    #[test]
    fn violations_carry_both_amounts() {
        assert_eq!(
            AmountRule::Exact.check(m("977.99"), m("978")),
            Err(AmountViolation::NotExact {
                amount: "977.99".into(),
                due: "978.00".into()
            })
        );
        // Under the exact rule, zero on an unpaid bill and an overpayment are just "not exact".
        assert!(matches!(
            AmountRule::Exact.check(m("0"), m("10")),
            Err(AmountViolation::NotExact { .. })
        ));
        assert!(matches!(
            AmountRule::Exact.check(m("11"), m("10")),
            Err(AmountViolation::NotExact { .. })
        ));
        assert_eq!(
            AmountRule::UpToDue.check(m("1000.01"), m("1000")),
            Err(AmountViolation::Overpay {
                amount: "1000.01".into(),
                due: "1000.00".into()
            })
        );
        assert_eq!(
            AmountRule::UpToDue.check(m("0"), m("0.01")),
            Err(AmountViolation::ZeroOnUnpaidBill { due: "0.01".into() })
        );
        assert!(AmountRule::UpToDue.check(m("0.01"), m("0.01")).is_ok());
        assert!(AmountRule::UpToDue.check(m("0.01"), m("10")).is_ok());
    }

    #[test]
    fn amounts_compare_by_value_not_scale() {
        let yen = Money::parse("978", 0).unwrap();
        assert!(AmountRule::Exact.check(yen, m("978")).is_ok());
        assert!(AmountRule::UpToDue.check(m("978"), yen).is_ok());
    }

    #[test]
    fn violation_texts() {
        assert_eq!(
            AmountViolation::NotExact {
                amount: "1.00".into(),
                due: "2.00".into()
            }
            .to_string(),
            "amount 1.00 differs from the 2.00 due"
        );
        assert_eq!(
            AmountViolation::Overpay {
                amount: "3.00".into(),
                due: "2.00".into()
            }
            .to_string(),
            "amount 3.00 exceeds the 2.00 due"
        );
        assert_eq!(
            AmountViolation::ZeroOnUnpaidBill { due: "2.00".into() }.to_string(),
            "amount 0 pays nothing on a bill with 2.00 due"
        );
    }
}
