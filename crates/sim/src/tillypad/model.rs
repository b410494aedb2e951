//! Data model of the Tillypad simulator: guest tabs, their items and prechecks, settings,
//! faults and the ledger.
//!
//! All types (de)serialise with **snake_case** field names (the Rust names); money is a
//! [`Decimal`] written as a string (`"978.00"`) and read from a string or a JSON number.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::util::decimal as dec;

/// Language of the error strings `/pay-guest` answers with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    /// Tillypad XL's own Russian texts (the documented ones verbatim).
    #[default]
    Ru,
    /// English wording, as an independent or localised implementation might answer.
    En,
}

/// Guest tab states (`gest_gsst_ID`): 0 open, 1 closed (paid), 3 "preparation" (delivery).
pub mod tab_state {
    pub const OPEN: i64 = 0;
    pub const CLOSED: i64 = 1;
    pub const PREPARATION: i64 = 3;
}

/// A guest tab (tp_Guests) with its order items, bills (prechecks) and receipts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimTab {
    /// `gest_ID`: an upper-case GUID; empty = generated when added.
    #[serde(default)]
    pub gest_id: String,
    /// `gest_Name` (tab number).
    #[serde(default)]
    pub name: String,
    /// `gest_gsst_ID`: see [`tab_state`].
    #[serde(default)]
    pub state: i64,
    /// `guestDeliveries.gsdlv_pytp_ID_Prepaid`: the pay type `/pay-guest` uses when the
    /// request has no `payType_ID`. A `payType_ID` in a request overwrites it.
    #[serde(default)]
    pub prepaid_pay_type_id: Option<String>,
    #[serde(default)]
    pub items: Vec<SimItem>,
    #[serde(default)]
    pub prechecks: Vec<SimPrecheck>,
    #[serde(default)]
    pub receipts: Vec<SimReceipt>,
    /// Most points the POS will apply to this tab (the client's balance); `None` = no limit.
    #[serde(with = "opt_dec", default)]
    pub points_available: Option<Decimal>,
    /// The points discount sum stored in the tab's service note by the last `/pay-guest`.
    #[serde(with = "opt_dec", default)]
    pub discount_note: Option<Decimal>,
    /// Discount actually applied by the last `/pay-guest` (after the cap).
    #[serde(with = "dec", default)]
    pub points_applied: Decimal,
}

impl SimTab {
    /// An open tab with the given items, no prechecks.
    pub fn new(items: Vec<SimItem>) -> Self {
        Self {
            gest_id: String::new(),
            name: String::new(),
            state: tab_state::OPEN,
            prepaid_pay_type_id: None,
            items,
            prechecks: Vec::new(),
            receipts: Vec::new(),
            points_available: None,
            discount_note: None,
            points_applied: Decimal::ZERO,
        }
    }

    /// Builder: fixed `gest_ID`.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.gest_id = id.into();
        self
    }

    /// Builder: `gest_Name`.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Builder: the prepaid pay type (`gsdlv_pytp_ID_Prepaid`).
    pub fn with_prepaid_pay_type(mut self, id: impl Into<String>) -> Self {
        self.prepaid_pay_type_id = Some(id.into());
        self
    }

    /// Builder: the most points the POS applies to this tab.
    pub fn with_points_available(mut self, p: Decimal) -> Self {
        self.points_available = Some(p);
        self
    }

    /// Σ price × count of every item (before any discount).
    pub fn total(&self) -> Decimal {
        self.items
            .iter()
            .fold(Decimal::ZERO, |a, i| a.saturating_add(i.amount()))
    }

    /// Σ of the receipts (what was paid).
    pub fn paid(&self) -> Decimal {
        self.receipts
            .iter()
            .fold(Decimal::ZERO, |a, r| a.saturating_add(r.sum))
    }

    /// Whether the tab is closed (paid).
    pub fn is_closed(&self) -> bool {
        self.state == tab_state::CLOSED
    }

    /// Indexes of items not included in any precheck ("not sent to payment").
    pub fn unsent_items(&self) -> Vec<usize> {
        (0..self.items.len())
            .filter(|i| !self.prechecks.iter().any(|p| p.items.contains(i)))
            .collect()
    }

    /// Σ of the given items.
    pub fn sum_of(&self, idx: &[usize]) -> Decimal {
        idx.iter()
            .filter_map(|&i| self.items.get(i))
            .fold(Decimal::ZERO, |a, i| a.saturating_add(i.amount()))
    }
}

impl Default for SimTab {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

/// An order item (tp_OrderItems): `orit_mitm_ID`, `orit_Price`, `orit_Count`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimItem {
    /// Menu item GUID (`orit_mitm_ID`).
    #[serde(default)]
    pub menu_item_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(with = "dec")]
    pub price: Decimal,
    #[serde(with = "dec")]
    pub count: Decimal,
}

impl SimItem {
    pub fn new(
        menu_item_id: impl Into<String>,
        name: impl Into<String>,
        price: Decimal,
        count: Decimal,
    ) -> Self {
        Self {
            menu_item_id: menu_item_id.into(),
            name: name.into(),
            price,
            count,
        }
    }

    /// price × count (saturating).
    pub fn amount(&self) -> Decimal {
        self.price.saturating_mul(self.count)
    }
}

/// Where a bill (precheck) is in its payment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PrecheckStatus {
    /// Sent to payment (printed), payment not started.
    #[default]
    Unpaid,
    /// Payment started on a terminal; no receipt yet.
    PaymentStarted,
    /// «Оплачен»: paid, with a receipt.
    Paid,
}

/// A bill / precheck (tp_PreChecks) covering some items of the tab.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimPrecheck {
    pub id: String,
    /// Indexes into the tab's `items`.
    #[serde(default)]
    pub items: Vec<usize>,
    #[serde(default)]
    pub status: PrecheckStatus,
}

/// A receipt (tp_Checks): what paid a precheck.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimReceipt {
    pub id: String,
    pub precheck_id: String,
    pub pay_type_id: String,
    #[serde(with = "dec")]
    pub sum: Decimal,
    /// `"pay-guest"` for internet payments, `"terminal"` for the control API's terminal payment.
    #[serde(default)]
    pub source: String,
}

/// A pay type (tp_PayTypes).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimPayType {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// A bonus points type: the `type_ID` of `DiscountSum` and the discount it applies as
/// (`AppliedDiscountSums[].type_ID`; a different GUID, as in the vendor's sample).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimPointsType {
    pub type_id: String,
    pub discount_type_id: String,
    #[serde(default)]
    pub name: String,
}

/// Simulator-wide settings (the Tillypad module's settings plus simulator switches).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimSettings {
    /// HTTP status of error answers (the JSON string). The vendor does not document it:
    /// 200 (default) or any 4xx/5xx.
    #[serde(default = "default_error_status")]
    pub error_status: u16,
    #[serde(default)]
    pub language: Lang,
    /// Whether the points discount is set up in the module. When not, `/pay-guest` answers
    /// without `AppliedDiscountSums` ("points not credited") and applies nothing.
    #[serde(default = "yes")]
    pub points_enabled: bool,
    /// The module's points type, used when `DiscountSum.type_ID` is absent.
    #[serde(default)]
    pub default_points_type_id: Option<String>,
    #[serde(default)]
    pub points_types: Vec<SimPointsType>,
    /// Known pay types; empty = any GUID is accepted.
    #[serde(default)]
    pub pay_types: Vec<SimPayType>,
    /// Business day open: when closed, tabs are read-only and `/pay-guest` fails.
    #[serde(default = "yes")]
    pub business_day_open: bool,
    /// Require `Content-Type: application/json` on POST (415 otherwise).
    #[serde(default = "yes")]
    pub require_json_content_type: bool,
}

fn default_error_status() -> u16 {
    200
}

fn yes() -> bool {
    true
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            error_status: default_error_status(),
            language: Lang::Ru,
            points_enabled: true,
            default_points_type_id: None,
            points_types: Vec::new(),
            pay_types: Vec::new(),
            business_day_open: true,
            require_json_content_type: true,
        }
    }
}

/// `{type_ID, sum}` as it went over the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountLine {
    #[serde(default)]
    pub type_id: Option<String>,
    #[serde(with = "dec")]
    pub sum: Decimal,
}

/// One applied `/pay-guest` payment (a receipt created by it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// 1, 2, ... in application order.
    pub seq: u64,
    pub gest_id: String,
    #[serde(with = "dec")]
    pub pay_sum: Decimal,
    pub pay_type_id: String,
    /// The `delete-prechecks` mode the request used (absent = 0).
    pub delete_prechecks: u8,
    /// The points discount declared in the request (`DiscountSum` / `GuestDiscountPoints`).
    #[serde(default)]
    pub discount: Option<DiscountLine>,
    /// What was applied (`AppliedDiscountSums`); `None` when points are not set up.
    #[serde(default)]
    pub applied: Option<DiscountLine>,
    pub precheck_id: String,
    pub receipt_id: String,
}

/// A fault-injection rule. `gest_id` `None` = any tab; `path` `None` = `/pay-guest`.
/// The first matching rule fires; `times` counts down and the rule is removed at 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub gest_id: Option<String>,
    /// `"/pay-guest"`, `"/post-guest"`, ... (without a path prefix).
    #[serde(default)]
    pub path: Option<String>,
    pub kind: FaultKind,
    /// How many matching requests it affects; `None` = until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

impl Fault {
    /// A rule for any tab on `/pay-guest`, until cleared.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            gest_id: None,
            path: None,
            kind,
            times: None,
        }
    }

    pub fn for_tab(mut self, gest_id: impl Into<String>) -> Self {
        self.gest_id = Some(gest_id.into());
        self
    }

    pub fn for_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

/// What a fault does. JSON: `"Dropped"`, `"PrinterError"`, `{"AnswerLost": {"hang_ms": 0}}`,
/// `{"Slow": {"delay_ms": 500}}`, `{"Html": {"status": 502, "applied": false}}`,
/// `{"Empty": {"status": 200, "applied": true}}`, `{"Text": {"text": "...", "status": 500}}`,
/// `{"Redirect": {"location": "http://..."}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// The request is processed (the payment is applied), then the answer is lost: the
    /// server waits `hang_ms` (0 = not at all) and drops the connection without an answer.
    AnswerLost {
        #[serde(default)]
        hang_ms: u64,
    },
    /// The connection is dropped before anything is processed: nothing applied.
    Dropped,
    /// Processed after `delay_ms` and answered then. The work is done even if the client
    /// has gone away in the meantime.
    Slow { delay_ms: u64 },
    /// An HTML page with `status` (a proxy's error page); `applied` = processed first.
    Html {
        status: u16,
        #[serde(default)]
        applied: bool,
    },
    /// An empty body with `status`; `applied` = processed first.
    Empty {
        status: u16,
        #[serde(default)]
        applied: bool,
    },
    /// Answers this error text as a JSON string, nothing applied. `status` `None` = the
    /// configured error status.
    Text {
        text: String,
        #[serde(default)]
        status: Option<u16>,
    },
    /// The fiscal printer fails when the receipt is printed: nothing applied.
    PrinterError,
    /// HTTP 307 to `location` instead of an answer; nothing applied (a moved server or a
    /// misconfigured proxy).
    Redirect { location: String },
}

impl FaultKind {
    /// One example of every kind, with what it does (the control API index).
    pub fn examples() -> Vec<(FaultKind, &'static str)> {
        use FaultKind::*;
        vec![
            (
                AnswerLost { hang_ms: 0 },
                "applied, then the connection is dropped without an answer (after hang_ms)",
            ),
            (
                Dropped,
                "the connection is dropped before anything is processed: nothing applied",
            ),
            (
                Slow { delay_ms: 500 },
                "processed after delay_ms and answered then (done even if the client has gone)",
            ),
            (
                Html {
                    status: 502,
                    applied: false,
                },
                "an HTML page with status (a proxy's error page); applied = processed first",
            ),
            (
                Empty {
                    status: 200,
                    applied: true,
                },
                "an empty body with status; applied = processed first",
            ),
            (
                Text {
                    text: "Гостевой счет заблокирован".into(),
                    status: Some(500),
                },
                "answers this error text as a JSON string, nothing applied (status absent: the configured error status)",
            ),
            (
                PrinterError,
                "the fiscal printer fails when the receipt is printed: nothing applied",
            ),
            (
                Redirect {
                    location: "http://elsewhere.invalid/pay-guest".into(),
                },
                "HTTP 307 to location instead of an answer; nothing applied",
            ),
        ]
    }
}

/// `Option<Decimal>` as an optional decimal string / number.
pub(crate) mod opt_dec {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(d),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        if v.is_null() {
            return Ok(None);
        }
        crate::util::decimal_from_json(&v)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a decimal, got {v}")))
    }
}
