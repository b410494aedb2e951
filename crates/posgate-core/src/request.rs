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

/// Characters no id, key or name may carry: controls (a newline forges a log line, a NUL
/// truncates), Unicode line and paragraph separators, and bidirectional marks, embeddings,
/// overrides and isolates (they make a text display as another: "Trojan Source",
/// CVE-2021-42574).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// An identifier from a caller (idempotency key, restaurant, bill, payment, table): present,
/// at most [`MAX_ID_LEN`] bytes, no surrounding spaces, no [unsafe character](is_unsafe_char).
pub fn validate_id<'a>(field: &str, v: &'a str) -> Result<&'a str, FieldError> {
    if v.trim().is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if v.len() > MAX_ID_LEN {
        return Err(FieldError::new(
            field,
            format!("is longer than {MAX_ID_LEN} bytes"),
        ));
    }
    if v.chars().any(is_unsafe_char) || v.trim() != v {
        return Err(FieldError::new(
            field,
            "has control or bidirectional-override characters or surrounding spaces",
        ));
    }
    Ok(v)
}

/// [`validate_id`] for an optional field (a filter): empty is fine.
pub fn validate_optional_id<'a>(field: &str, v: &'a str) -> Result<&'a str, FieldError> {
    if v.is_empty() {
        Ok(v)
    } else {
        validate_id(field, v)
    }
}

fn id(field: &str, v: &str) -> Result<String, FieldError> {
    validate_id(field, v).map(str::to_string)
}

/// Keys of a caller's map (fiscal data, POS options): no empty key, no unsafe character.
fn keys(field: &str, m: &BTreeMap<String, String>) -> Result<(), FieldError> {
    match m
        .keys()
        .find(|k| k.trim().is_empty() || k.chars().any(is_unsafe_char))
    {
        Some(k) => Err(FieldError::new(
            format!("{field}[{}]", k.escape_debug()),
            "a key is empty or has control or bidirectional-override characters",
        )),
        None => Ok(()),
    }
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
            if tender_id.chars().any(is_unsafe_char) {
                return Err(FieldError::new(
                    format!("tenders[{i}].tender_id"),
                    "has control or bidirectional-override characters",
                ));
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
        keys("fiscal_data", &raw.fiscal_data)?;
        keys("pos_options", &raw.pos_options)?;
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
    fn unsafe_characters_are_refused_in_every_id_and_key() {
        let bad = [
            "b1\nforged log line",
            "b1\r",
            "b\u{0}1",
            "b1\u{1b}[31m",
            "b\u{202E}1",
            "b\u{2066}1",
            "b\u{200F}1",
            "b\u{2028}1",
            "b\u{061C}1",
        ];
        for v in bad {
            assert!(validate_id("bill_id", v).is_err(), "{v:?}");
            assert_eq!(
                field(RawPayRequest {
                    bill_id: v,
                    ..raw()
                }),
                "bill_id"
            );
            assert_eq!(
                field(RawPayRequest {
                    idempotency_key: v,
                    ..raw()
                }),
                "idempotency_key"
            );
            assert_eq!(
                field(RawPayRequest {
                    tenders: vec![(v, "978.00", "")],
                    ..raw()
                }),
                "tenders[0].tender_id"
            );
            let mut fiscal = BTreeMap::new();
            fiscal.insert(v.to_string(), "x".to_string());
            assert!(
                field(RawPayRequest {
                    fiscal_data: fiscal.clone(),
                    ..raw()
                })
                .starts_with("fiscal_data["),
                "{v:?}"
            );
            assert!(
                field(RawPayRequest {
                    pos_options: fiscal,
                    ..raw()
                })
                .starts_with("pos_options["),
            );
        }
        // The field name escapes the key, so the error itself cannot forge a line.
        let mut fiscal = BTreeMap::new();
        fiscal.insert("a\nb".to_string(), "x".to_string());
        let f = field(RawPayRequest {
            fiscal_data: fiscal,
            ..raw()
        });
        assert!(!f.contains('\n'), "{f}");
        // Letters of any script, spaces inside and dashes are fine.
        for ok in ["Стіл 12", "order-1/2", "طاولة ٣", "a1e0c6f2-3b7d"] {
            assert_eq!(validate_id("table", ok), Ok(ok));
        }
        assert_eq!(validate_optional_id("table", ""), Ok(""));
        assert!(validate_optional_id("table", " ").is_err());
        assert!(validate_id("bill_id", &"x".repeat(MAX_ID_LEN)).is_ok());
        assert!(validate_id("bill_id", &"x".repeat(MAX_ID_LEN + 1)).is_err());
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
