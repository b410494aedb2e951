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

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn err(r: RawPayRequest<'_>) -> FieldError {
        PayRequest::validate(&r, 2).unwrap_err()
    }

    #[test]
    fn ids_are_limited_to_200_bytes_not_characters() {
        let at = "x".repeat(200);
        let over = "x".repeat(201);
        // Two bytes a letter: 100 letters fit, 101 do not.
        let cyr_at = "я".repeat(100);
        let cyr_over = "я".repeat(101);
        assert_eq!(validate_id("bill_id", &at), Ok(at.as_str()));
        assert_eq!(validate_id("bill_id", &cyr_at), Ok(cyr_at.as_str()));
        for v in [&over, &cyr_over] {
            assert_eq!(
                validate_id("bill_id", v),
                Err(FieldError::new("bill_id", "is longer than 200 bytes"))
            );
            assert!(validate_optional_id("table", v).is_err());
            assert_eq!(
                err(RawPayRequest {
                    idempotency_key: v,
                    ..raw()
                }),
                FieldError::new("idempotency_key", "is longer than 200 bytes")
            );
            assert_eq!(
                field(RawPayRequest {
                    restaurant_id: v,
                    ..raw()
                }),
                "restaurant_id"
            );
            assert_eq!(
                field(RawPayRequest {
                    bill_id: v,
                    ..raw()
                }),
                "bill_id"
            );
        }
        let ok = PayRequest::validate(
            &RawPayRequest {
                idempotency_key: &at,
                restaurant_id: &at,
                bill_id: &cyr_at,
                ..raw()
            },
            2,
        )
        .unwrap();
        assert_eq!(
            (ok.idempotency_key, ok.restaurant_id, ok.bill_id),
            (at.clone(), at.clone(), cyr_at.clone())
        );
    }

    #[test]
    fn ids_are_required_and_unpadded() {
        assert_eq!(
            validate_id("bill_id", ""),
            Err(FieldError::new("bill_id", "is required"))
        );
        assert_eq!(
            validate_id("bill_id", " \t "),
            Err(FieldError::new("bill_id", "is required"))
        );
        let padded = FieldError::new(
            "bill_id",
            "has control or bidirectional-override characters or surrounding spaces",
        );
        assert_eq!(validate_id("bill_id", " b1"), Err(padded.clone()));
        assert_eq!(validate_id("bill_id", "b1 "), Err(padded.clone()));
        assert_eq!(validate_id("bill_id", "b\u{202E}1"), Err(padded));
        assert_eq!(validate_id("bill_id", "b 1"), Ok("b 1"));
        assert_eq!(validate_optional_id("table", "t 1"), Ok("t 1"));
        assert_eq!(
            validate_optional_id("table", " "),
            Err(FieldError::new("table", "is required"))
        );
        assert_eq!(
            FieldError::new("bill_id", "is required").to_string(),
            "bill_id: is required"
        );
    }

    #[test]
    fn unsafe_characters_and_their_neighbours() {
        #[rustfmt::skip]
        let unsafe_chars = [
            '\u{0}', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}',
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{2028}', '\u{2029}',
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ];
        for c in unsafe_chars {
            assert!(is_unsafe_char(c), "{c:?} must be unsafe");
        }
        // Neighbours of each range, ordinary letters and joiners used by emoji stay allowed.
        #[rustfmt::skip]
        let safe_chars = [
            ' ', 'a', 'я', '\u{a0}', '\u{061B}', '\u{061D}', '\u{200C}', '\u{200D}',
            '\u{2027}', '\u{202F}', '\u{2065}', '\u{206A}',
        ];
        for c in safe_chars {
            assert!(!is_unsafe_char(c), "{c:?} must be allowed");
        }
    }

    #[test]
    fn sixteen_tenders_at_most() {
        let one = ("cur", "1.00", "");
        let sixteen = RawPayRequest {
            amount: "16.00",
            tenders: vec![one; 16],
            ..raw()
        };
        assert_eq!(PayRequest::validate(&sixteen, 2).unwrap().tenders.len(), 16);
        let seventeen = RawPayRequest {
            amount: "17.00",
            tenders: vec![one; 17],
            ..raw()
        };
        assert_eq!(
            err(seventeen),
            FieldError::new("tenders", "more than 16 tenders")
        );
    }

    #[test]
    fn tender_fields_are_limited() {
        let at = "t".repeat(200);
        let over = "t".repeat(201);
        let ok = PayRequest::validate(
            &RawPayRequest {
                tenders: vec![(&at, "978", &at)],
                ..raw()
            },
            2,
        )
        .unwrap();
        assert_eq!(ok.tenders[0].tender_id, at);
        assert_eq!(ok.tenders[0].card_code, at);
        assert_eq!(ok.tenders[0].amount.to_string(), "978.00");
        for t in [(over.as_str(), "978", ""), ("cur", "978", over.as_str())] {
            assert_eq!(
                err(RawPayRequest {
                    tenders: vec![("cur", "0", ""), t],
                    ..raw()
                }),
                FieldError::new("tenders[1]", "field too long")
            );
        }
    }

    #[test]
    fn tenders_must_add_up_to_the_amount() {
        let split = PayRequest::validate(
            &RawPayRequest {
                tenders: vec![("cur", "500", ""), ("card", "478.00", "c")],
                ..raw()
            },
            2,
        )
        .unwrap();
        assert_eq!(split.tenders.len(), 2);
        assert_eq!(split.tenders[1].tender_id, "card");
        for short in ["977.99", "978.01", "0"] {
            let e = err(RawPayRequest {
                tenders: vec![("cur", short, "")],
                ..raw()
            });
            assert_eq!(e.field, "tenders");
            assert!(e.message.contains("not the amount 978.00"), "{e}");
        }
        assert_eq!(
            err(RawPayRequest {
                tenders: vec![("cur", "500", ""), ("cur", "1", "")],
                ..raw()
            })
            .message,
            "tender amounts add up to 501.00, not the amount 978.00"
        );
        // No tenders: the amount alone.
        assert!(PayRequest::validate(&raw(), 2).unwrap().tenders.is_empty());
    }

    #[test]
    fn fiscal_data_and_pos_options_are_limited() {
        let entries = |n: usize| -> BTreeMap<String, String> {
            (0..n).map(|i| (format!("k{i}"), "v".to_string())).collect()
        };
        let sized = |k: usize, v: usize| map(&[(&"k".repeat(k), &"v".repeat(v))]);
        let oks = [
            entries(64),
            sized(1000, 1000),
            sized(1, 1999),
            sized(100, 100),
        ];
        let bads = [
            entries(65),
            sized(1000, 1001),
            sized(1, 2000),
            sized(2001, 0),
        ];
        for (name, which) in [("fiscal_data", true), ("pos_options", false)] {
            let with = |m: BTreeMap<String, String>| {
                if which {
                    RawPayRequest {
                        fiscal_data: m,
                        ..raw()
                    }
                } else {
                    RawPayRequest {
                        pos_options: m,
                        ..raw()
                    }
                }
            };
            for m in &oks {
                let p = PayRequest::validate(&with(m.clone()), 2).unwrap();
                let kept = if which {
                    &p.fiscal_data
                } else {
                    &p.pos_options
                };
                assert_eq!(kept, m);
            }
            for m in &bads {
                assert_eq!(
                    err(with(m.clone())),
                    FieldError::new(name, "too many or too long entries"),
                    "{name} {} entries",
                    m.len()
                );
            }
            for key in ["", " ", "a\tb"] {
                let e = err(with(map(&[(key, "x")])));
                assert_eq!(e.field, format!("{name}[{}]", key.escape_debug()));
                assert_eq!(
                    e.message,
                    "a key is empty or has control or bidirectional-override characters"
                );
            }
        }
    }

    #[test]
    fn tips_and_points_are_optional_amounts() {
        let p = PayRequest::validate(&raw(), 2).unwrap();
        assert_eq!(
            (p.tips.to_string(), p.points.to_string()),
            ("0.00".into(), "0.00".into())
        );
        let p = PayRequest::validate(
            &RawPayRequest {
                tips: "50",
                points: "100.5",
                ..raw()
            },
            2,
        )
        .unwrap();
        assert_eq!(
            (p.tips.to_string(), p.points.to_string()),
            ("50.00".into(), "100.50".into())
        );
        for bad in ["-1", "1,5", "1.005", " 1"] {
            assert_eq!(
                field(RawPayRequest { tips: bad, ..raw() }),
                "tips",
                "{bad:?}"
            );
            assert_eq!(
                field(RawPayRequest {
                    points: bad,
                    ..raw()
                }),
                "points",
                "{bad:?}"
            );
        }
        assert_eq!(
            field(RawPayRequest {
                amount: "",
                ..raw()
            }),
            "amount"
        );
    }

    #[test]
    fn a_valid_request_keeps_every_field() {
        let r = RawPayRequest {
            idempotency_key: "k9",
            restaurant_id: "r9",
            bill_id: "b9",
            amount: "10.5",
            tips: "1",
            tenders: vec![("cash", "10.50", "")],
            fiscal_data: map(&[("email", "a@b.c")]),
            close: false,
            points: "2",
            pos_options: map(&[("delete_prechecks", "1")]),
        };
        let p = PayRequest::validate(&r, 2).unwrap();
        assert_eq!(
            p,
            PayRequest {
                idempotency_key: "k9".into(),
                restaurant_id: "r9".into(),
                bill_id: "b9".into(),
                amount: Money::parse("10.50", 2).unwrap(),
                tips: Money::parse("1.00", 2).unwrap(),
                tenders: vec![TenderLine {
                    tender_id: "cash".into(),
                    amount: Money::parse("10.50", 2).unwrap(),
                    card_code: String::new(),
                }],
                fiscal_data: map(&[("email", "a@b.c")]),
                close: false,
                points: Money::parse("2", 2).unwrap(),
                pos_options: map(&[("delete_prechecks", "1")]),
            }
        );
        // The currency's scale applies to every amount.
        let yen = PayRequest::validate(
            &RawPayRequest {
                amount: "978",
                ..raw()
            },
            0,
        )
        .unwrap();
        assert_eq!(yen.amount.to_string(), "978");
        assert!(PayRequest::validate(&raw(), 0).is_ok());
        assert_eq!(
            PayRequest::validate(
                &RawPayRequest {
                    amount: "978.5",
                    ..raw()
                },
                0
            )
            .unwrap_err()
            .field,
            "amount"
        );
    }

    #[test]
    fn first_difference_checks_every_field_in_order() {
        let base = PayRequest::validate(
            &RawPayRequest {
                tenders: vec![("cur", "978", "")],
                fiscal_data: map(&[("a", "1")]),
                pos_options: map(&[("o", "1")]),
                ..raw()
            },
            2,
        )
        .unwrap();
        let m = |s: &str| Money::parse(s, 2).unwrap();
        type Change = fn(&mut PayRequest);
        #[rustfmt::skip]
        let changes: [(&str, Change); 9] = [
            ("restaurant_id", |p| p.restaurant_id = "other".into()),
            ("bill_id", |p| p.bill_id = "other".into()),
            ("amount", |p| p.amount = Money::parse("1", 2).unwrap()),
            ("tips", |p| p.tips = Money::parse("1", 2).unwrap()),
            ("tenders", |p| p.tenders[0].card_code = "x".into()),
            ("fiscal_data", |p| { p.fiscal_data.insert("b".into(), "2".into()); }),
            ("close", |p| p.close = !p.close),
            ("points", |p| p.points = Money::parse("1", 2).unwrap()),
            ("pos_options", |p| { p.pos_options.clear(); }),
        ];
        for (i, (name, change)) in changes.iter().enumerate() {
            let mut other = base.clone();
            change(&mut other);
            assert_eq!(base.first_difference(&other), Some(*name));
            assert_eq!(other.first_difference(&base), Some(*name));
            // With every later field changed too, the first one is still named.
            for (_, later) in &changes[i + 1..] {
                later(&mut other);
            }
            assert_eq!(base.first_difference(&other), Some(*name));
        }
        // The key itself and the amount's written form are not differences.
        let mut same = base.clone();
        same.idempotency_key = "another".into();
        same.amount = Money::parse("978.000", 3).unwrap();
        assert_eq!(same.amount.value(), m("978").value());
        assert_eq!(base.first_difference(&same), None);
    }

    #[test]
    fn tender_debug_shows_everything_but_the_card_code() {
        let t = TenderLine {
            tender_id: "cur".into(),
            amount: Money::parse("1", 2).unwrap(),
            card_code: "SECRET".into(),
        };
        let shown = format!("{t:?}");
        assert!(
            shown.starts_with("TenderLine { tender_id: \"cur\", amount: Money"),
            "{shown}"
        );
        assert!(shown.ends_with("card_code: \"<redacted>\" }"), "{shown}");
        let none = TenderLine {
            card_code: String::new(),
            ..t
        };
        assert!(format!("{none:?}").ends_with("card_code: \"\" }"));
    }
}
