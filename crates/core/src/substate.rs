//! The six failure substates (Expirenza's payBill contract), shared by every POS.

use std::fmt;
use std::str::FromStr;

/// Why a pay or close failed. Always stored together with the POS's raw code and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Substate {
    WrongRequestSum,
    CashiersShiftClosed,
    PrinterError,
    CloseOrderBlocked,
    BillInUse,
    OtherError,
}

impl Substate {
    pub const ALL: [Substate; 6] = [
        Substate::WrongRequestSum,
        Substate::CashiersShiftClosed,
        Substate::PrinterError,
        Substate::CloseOrderBlocked,
        Substate::BillInUse,
        Substate::OtherError,
    ];

    /// Whether posgate retries on its own. Every substate but `OTHER_ERROR` clears once staff
    /// act (open the shift, fix the printer, leave the edit screen), so retrying is what gets
    /// the bill closed; `OTHER_ERROR` needs a person.
    pub fn is_retriable(self) -> bool {
        !matches!(self, Substate::OtherError)
    }

    /// What staff should do, in plain words.
    pub fn recommendation(self) -> &'static str {
        match self {
            Substate::WrongRequestSum => {
                "The sum paid differs from the bill in the POS: revert the bill's changes so it matches what was paid, or refund the guest and have them pay again."
            }
            Substate::CashiersShiftClosed => "Open the cashier shift on the POS.",
            Substate::PrinterError => "Fix the fiscal printer (paper, connection, power).",
            Substate::CloseOrderBlocked => {
                "Closing is blocked: send or delete the pending kitchen tickets for this bill."
            }
            Substate::BillInUse => {
                "The bill is open on a POS station: leave the bill's edit screen on that station."
            }
            Substate::OtherError => {
                "Contact the POS vendor's support; the bill must be closed by hand. The guest has already paid."
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Substate::WrongRequestSum => "WRONG_REQUEST_SUM",
            Substate::CashiersShiftClosed => "CASHIERS_SHIFT_CLOSED",
            Substate::PrinterError => "PRINTER_ERROR",
            Substate::CloseOrderBlocked => "CLOSE_ORDER_BLOCKED",
            Substate::BillInUse => "BILL_IN_USE",
            Substate::OtherError => "OTHER_ERROR",
        }
    }
}

impl fmt::Display for Substate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Substate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Substate::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown substate {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_other_error_is_terminal() {
        for s in Substate::ALL {
            assert_eq!(s.is_retriable(), s != Substate::OtherError, "{s}");
            assert!(!s.recommendation().is_empty());
            assert_eq!(s.as_str().parse::<Substate>().unwrap(), s);
        }
    }

    #[test]
    fn names_and_retry_rule_per_substate() {
        #[rustfmt::skip]
        let table = [
            (Substate::WrongRequestSum, "WRONG_REQUEST_SUM", true, "revert"),
            (Substate::CashiersShiftClosed, "CASHIERS_SHIFT_CLOSED", true, "shift"),
            (Substate::PrinterError, "PRINTER_ERROR", true, "printer"),
            (Substate::CloseOrderBlocked, "CLOSE_ORDER_BLOCKED", true, "kitchen tickets"),
            (Substate::BillInUse, "BILL_IN_USE", true, "edit screen"),
            (Substate::OtherError, "OTHER_ERROR", false, "closed by hand"),
        ];
        assert_eq!(Substate::ALL.to_vec(), table.map(|t| t.0).to_vec());
        for (s, name, retried, advice) in table {
            assert_eq!(s.as_str(), name);
            assert_eq!(s.to_string(), name);
            assert_eq!(s.is_retriable(), retried, "{s}");
            assert!(
                s.recommendation().contains(advice),
                "{s}: {}",
                s.recommendation()
            );
            assert_eq!(name.to_lowercase().parse::<Substate>(), Ok(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Substate>(&json).unwrap(), s);
        }
        assert_eq!(
            "BILL-IN-USE".parse::<Substate>(),
            Err("unknown substate \"BILL-IN-USE\"".to_string())
        );
        assert!("".parse::<Substate>().is_err());
    }
}
