//! A pay request, validated field by field, so a bad one is refused with the field named and
//! nothing stored.

use std::collections::BTreeMap;
use std::fmt;

use crate::money::{Money, MoneyError};

/// Longest accepted idempotency key, restaurant id or bill id.
pub const MAX_ID_LEN: usize = 200;
const MAX_FISCAL_ENTRIES: usize = 64;
const MAX_FISCAL_LEN: usize = 2_000;
const MAX_TENDERS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl fmt::Display) -> Self {
        FieldError {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

/// One tender line. The card code is a secret: `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct TenderLine {
    pub tender_id: String,
    pub amount: Money,
    pub card_code: String,
}

impl fmt::Debug for TenderLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenderLine")
            .field("tender_id", &self.tender_id)
            .field("amount", &self.amount)
            .field(
                "card_code",
                &if self.card_code.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .finish()
    }
}

/// Raw fields as they arrive (gRPC strings), before validation.
#[derive(Debug, Clone, Default)]
pub struct RawPayRequest<'a> {
    pub idempotency_key: &'a str,
    pub restaurant_id: &'a str,
    pub bill_id: &'a str,
    pub amount: &'a str,
    pub tips: &'a str,
    pub tenders: Vec<(&'a str, &'a str, &'a str)>,
    pub fiscal_data: BTreeMap<String, String>,
    pub close: bool,
    pub points: &'a str,
    pub pos_options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayRequest {
    pub idempotency_key: String,
    pub restaurant_id: String,
    pub bill_id: String,
    pub amount: Money,
    pub tips: Money,
    pub tenders: Vec<TenderLine>,
    pub fiscal_data: BTreeMap<String, String>,
    pub close: bool,
    /// Bonus points redeemed as a discount, where the POS takes them (zero: none).
    pub points: Money,
    /// POS-specific options (e.g. Tillypad `delete_prechecks`).
    pub pos_options: BTreeMap<String, String>,
}

fn too_big(m: &BTreeMap<String, String>) -> bool {
    m.len() > MAX_FISCAL_ENTRIES || m.iter().any(|(k, v)| k.len() + v.len() > MAX_FISCAL_LEN)
}

fn id(field: &str, v: &str) -> Result<String, FieldError> {
    if v.trim().is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if v.len() > MAX_ID_LEN {
        return Err(FieldError::new(
            field,
            format!("is longer than {MAX_ID_LEN} bytes"),
        ));
    }
    if v.chars().any(char::is_control) || v.trim() != v {
        return Err(FieldError::new(
            field,
            "has control characters or surrounding spaces",
        ));
    }
    Ok(v.to_string())
}

fn money(field: &str, v: &str, scale: u32) -> Result<Money, FieldError> {
    Money::parse(v, scale).map_err(|e: MoneyError| FieldError::new(field, e))
}

impl PayRequest {
    /// Validates a raw request for a restaurant whose currency has `scale` decimals.
    /// The restaurant's existence is checked by the caller, which knows the configuration.
    pub fn validate(raw: &RawPayRequest<'_>, scale: u32) -> Result<PayRequest, FieldError> {
        let idempotency_key = id("idempotency_key", raw.idempotency_key)?;
        let restaurant_id = id("restaurant_id", raw.restaurant_id)?;
        let bill_id = id("bill_id", raw.bill_id)?;
        let amount = money("amount", raw.amount, scale)?;
        let tips =
            Money::parse_optional(raw.tips, scale).map_err(|e| FieldError::new("tips", e))?;
        if raw.tenders.len() > MAX_TENDERS {
            return Err(FieldError::new(
                "tenders",
                format!("more than {MAX_TENDERS} tenders"),
            ));
        }
        let mut tenders = Vec::with_capacity(raw.tenders.len());
        let mut sum = Money::zero(scale);
        for (i, (tender_id, amt, card)) in raw.tenders.iter().enumerate() {
            let a = money(&format!("tenders[{i}].amount"), amt, scale)?;
            if tender_id.len() > MAX_ID_LEN || card.len() > MAX_ID_LEN {
                return Err(FieldError::new(format!("tenders[{i}]"), "field too long"));
            }
            sum = sum
                .checked_add(a)
                .ok_or_else(|| FieldError::new("tenders", "sum overflows"))?;
            tenders.push(TenderLine {
                tender_id: tender_id.to_string(),
                amount: a,
                card_code: card.to_string(),
            });
        }
        if !tenders.is_empty() && sum != amount {
            return Err(FieldError::new(
                "tenders",
                format!("tender amounts add up to {sum}, not the amount {amount}"),
            ));
        }
        if too_big(&raw.fiscal_data) {
            return Err(FieldError::new(
                "fiscal_data",
                "too many or too long entries",
            ));
        }
        if too_big(&raw.pos_options) {
            return Err(FieldError::new(
                "pos_options",
                "too many or too long entries",
            ));
        }
        let points =
            Money::parse_optional(raw.points, scale).map_err(|e| FieldError::new("points", e))?;
        Ok(PayRequest {
            idempotency_key,
            restaurant_id,
            bill_id,
            amount,
            tips,
            tenders,
            fiscal_data: raw.fiscal_data.clone(),
            close: raw.close,
            points,
            pos_options: raw.pos_options.clone(),
        })
    }

    /// The first field in which `other` (a repeat with the same key) differs from this request.
    pub fn first_difference(&self, other: &PayRequest) -> Option<&'static str> {
        if self.restaurant_id != other.restaurant_id {
            Some("restaurant_id")
        } else if self.bill_id != other.bill_id {
            Some("bill_id")
        } else if self.amount.value() != other.amount.value() {
            Some("amount")
        } else if self.tips.value() != other.tips.value() {
            Some("tips")
        } else if self.tenders != other.tenders {
            Some("tenders")
        } else if self.fiscal_data != other.fiscal_data {
            Some("fiscal_data")
        } else if self.close != other.close {
            Some("close")
        } else if self.points.value() != other.points.value() {
            Some("points")
        } else if self.pos_options != other.pos_options {
            Some("pos_options")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawPayRequest<'static> {
        RawPayRequest {
            idempotency_key: "k1",
            restaurant_id: "demo",
            bill_id: "b1",
            amount: "978.00",
            close: true,
            ..Default::default()
        }
    }

    fn field(r: RawPayRequest<'_>) -> String {
        PayRequest::validate(&r, 2).unwrap_err().field
    }

    #[test]
    fn names_the_bad_field() {
        assert_eq!(
            field(RawPayRequest {
                idempotency_key: "",
                ..raw()
            }),
            "idempotency_key"
        );
        assert_eq!(
            field(RawPayRequest {
                restaurant_id: " ",
                ..raw()
            }),
            "restaurant_id"
        );
        assert_eq!(
            field(RawPayRequest {
                bill_id: "",
                ..raw()
            }),
            "bill_id"
        );
        assert_eq!(
            field(RawPayRequest {
                amount: "9,78",
                ..raw()
            }),
            "amount"
        );
        assert_eq!(
            field(RawPayRequest {
                tips: "-1",
                ..raw()
            }),
            "tips"
        );
        let t = RawPayRequest {
            tenders: vec![("cur", "500", ""), ("cur", "1,0", "")],
            ..raw()
        };
        assert_eq!(field(t), "tenders[1].amount");
        let t = RawPayRequest {
            tenders: vec![("cur", "500", "")],
            ..raw()
        };
        assert_eq!(field(t), "tenders");
    }

    #[test]
    fn accepts_a_good_request_and_finds_differences() {
        let a = PayRequest::validate(&raw(), 2).unwrap();
        assert_eq!(a.amount.to_string(), "978.00");
        assert!(a.tips.is_zero());
        let same = PayRequest::validate(
            &RawPayRequest {
                amount: "978",
                ..raw()
            },
            2,
        )
        .unwrap();
        assert_eq!(a.first_difference(&same), None);
        let b = PayRequest::validate(
            &RawPayRequest {
                amount: "979",
                ..raw()
            },
            2,
        )
        .unwrap();
        assert_eq!(a.first_difference(&b), Some("amount"));
        let c = PayRequest::validate(
            &RawPayRequest {
                bill_id: "b2",
                ..raw()
            },
            2,
        )
        .unwrap();
        assert_eq!(a.first_difference(&c), Some("bill_id"));
    }

    #[test]
    fn card_codes_are_redacted_in_debug() {
        let r = RawPayRequest {
            tenders: vec![("cur", "978.00", "SECRET-CARD-42")],
            ..raw()
        };
        let p = PayRequest::validate(&r, 2).unwrap();
        assert!(!format!("{p:?}").contains("SECRET-CARD-42"));
    }
}
