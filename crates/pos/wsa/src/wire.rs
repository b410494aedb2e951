//! WSA JSON on the wire: request bodies and a lenient reading of answers.
//!
//! Answers are read leniently because posgate talks to independent WSA implementations:
//! unknown fields are ignored, missing or mistyped fields become `None`, codes may be strings
//! or numbers, and money may be a JSON number or a string with a dot. Money is parsed from the
//! number's text (serde_json's `arbitrary_precision` keeps it), never through a float.

use std::fmt;

use posgate_core::Secret;
use posgate_core::pos::PosFailure;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::classify::{Verdict, classify_ws_error, is_not_found_text};

/// The lenient readers are the kit's: scalars, and serde helpers that never fail on a bad
/// value (`lenient::opt_string`, ...).
pub use posgate_pos_kit::lenient::de as lenient;
pub use posgate_pos_kit::lenient::{
    bool_of, decimal_of, field, path, same_guid, ser_decimal_number, text_of,
};

// ------------------------------------------------------------------------------------------
// The answer envelope.
// ------------------------------------------------------------------------------------------

/// One White Server answer: `{responseCommon, taskResponse?, error?}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    pub task_guid: Option<String>,
    pub task_type: Option<String>,
    pub object_id: Option<String>,
    pub async_code: Option<String>,
    pub task_response: Option<Value>,
    pub error: Option<WsaError>,
}

/// The `error` branch, flattened. Codes are kept as text (agent codes may be numbers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsaError {
    pub ws_code: Option<String>,
    pub ws_ext_code: Option<String>,
    pub ws_desc: Option<String>,
    pub agent_code: Option<String>,
    pub agent_desc: Option<String>,
    pub rk_code: Option<String>,
    pub rk_desc: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a WSA answer: {0}")]
pub struct EnvelopeError(pub String);

impl Envelope {
    /// Parses an answer body. Fails only when the body is not JSON or carries none of
    /// `responseCommon`, `taskResponse`, `error`.
    pub fn parse(body: &[u8]) -> Result<Envelope, EnvelopeError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| EnvelopeError(e.to_string()))?;
        if !v.is_object() {
            return Err(EnvelopeError("the body is not a JSON object".into()));
        }
        let common = field(&v, "responseCommon");
        let task_response = field(&v, "taskResponse").cloned();
        let error = field(&v, "error").and_then(WsaError::from_value);
        if common.is_none() && task_response.is_none() && error.is_none() {
            return Err(EnvelopeError(
                "no responseCommon, taskResponse or error".into(),
            ));
        }
        let common_text = |k: &str| common.and_then(|c| field(c, k)).and_then(text_of);
        Ok(Envelope {
            task_guid: common_text("taskGuid"),
            task_type: common_text("taskType"),
            object_id: common_text("objectId"),
            async_code: common_text("asyncCode"),
            task_response,
            error,
        })
    }
}

/// Whose answer an envelope is, by its `responseCommon`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    /// It names our task: the same `taskGuid` and the same `taskType`.
    Ours,
    /// It names another task (another `taskGuid`, or another `taskType` such as
    /// `GetTaskResponse` itself).
    Other,
    /// It does not say (no `responseCommon`, or only part of it).
    Unsaid,
}

impl Envelope {
    /// Whether this answer is the one of task `task_guid` of type `task_type`.
    pub fn about(&self, task_guid: &str, task_type: &str) -> About {
        let guid = self.task_guid.as_deref().map(|g| same_guid(g, task_guid));
        let kind = self
            .task_type
            .as_deref()
            .map(|t| t.trim().eq_ignore_ascii_case(task_type));
        match (guid, kind) {
            (Some(true), Some(true)) => About::Ours,
            (Some(false), _) | (_, Some(false)) => About::Other,
            _ => About::Unsaid,
        }
    }
}

impl WsaError {
    /// Reads an `error` value; `None` when it says nothing (null, `{}`, all-null members).
    pub fn from_value(v: &Value) -> Option<WsaError> {
        if let Some(s) = text_of(v) {
            return Some(WsaError {
                ws_desc: Some(s),
                ..Default::default()
            });
        }
        let txt = |name: &str, key: &str| path(v, &[name, key]).and_then(text_of);
        let e = WsaError {
            ws_code: txt("wsError", "code"),
            ws_ext_code: txt("wsError", "extCode"),
            ws_desc: txt("wsError", "desc"),
            agent_code: txt("agentError", "code"),
            agent_desc: txt("agentError", "desc"),
            rk_code: txt("rkError", "code"),
            rk_desc: txt("rkError", "desc"),
        };
        (e != WsaError::default()).then_some(e)
    }

    /// The POS code as posgate reports it: `AgentError/WsaOrderError`, `License/WsAgent`,
    /// `Timeout`, `AgentError/17`.
    pub fn pos_code(&self) -> String {
        let ws = self.ws_code.clone().unwrap_or_else(|| {
            if self.agent_code.is_some() || self.agent_desc.is_some() {
                "AgentError".into()
            } else {
                "WsError".into()
            }
        });
        match (&self.agent_code, &self.ws_ext_code, &self.rk_code) {
            (Some(a), _, _) => format!("{ws}/{a}"),
            (None, Some(x), _) => format!("{ws}/{x}"),
            (None, None, Some(rk)) => format!("{ws}/rk{rk}"),
            _ => ws,
        }
    }

    /// The most specific description, verbatim: the agent's, else r_keeper's, else WS's.
    pub fn text(&self) -> String {
        self.agent_desc
            .clone()
            .or_else(|| self.rk_desc.clone())
            .or_else(|| self.ws_desc.clone())
            .unwrap_or_default()
    }

    pub fn verdict(&self) -> Verdict {
        classify_ws_error(
            self.ws_code.as_deref().unwrap_or(""),
            self.ws_ext_code.as_deref(),
            self.agent_code.as_deref(),
            &self.text(),
        )
    }

    /// Lower-cased, separator-free White Server code ("awaitinganswer").
    pub fn ws_code_norm(&self) -> String {
        self.ws_code
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    }

    pub fn has_agent_part(&self) -> bool {
        self.agent_code.is_some() || self.agent_desc.is_some() || self.rk_desc.is_some()
    }

    pub fn is_awaiting_answer(&self) -> bool {
        self.ws_code_norm() == "awaitinganswer"
    }

    /// The order (or stored task) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.ws_code_norm() == "notfound" || is_not_found_text(&self.text())
    }

    /// The error as posgate reports it: the refusal's substate (else `OTHER_ERROR`), the POS's
    /// code and text verbatim; anything but a refusal may pass.
    pub fn pos_failure(&self) -> PosFailure {
        self.verdict()
            .failure(self.pos_code(), self.text(), self.is_not_found())
    }
}

// ------------------------------------------------------------------------------------------
// The order model (GetOrder / PayOrder / CompleteOrder answers).
// ------------------------------------------------------------------------------------------

#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Order {
    #[serde(deserialize_with = "lenient::opt_string", alias = "guid")]
    pub order_guid: Option<String>,
    #[serde(deserialize_with = "lenient::opt_struct")]
    pub status: Option<OrderStatus>,
    #[serde(deserialize_with = "lenient::opt_struct")]
    pub price: Option<Price>,
    #[serde(deserialize_with = "lenient::vec")]
    pub products: Vec<Product>,
    #[serde(deserialize_with = "lenient::vec", alias = "payments")]
    pub applied_payments: Vec<AppliedPayment>,
    #[serde(deserialize_with = "lenient::opt_vec")]
    pub guests: Option<Vec<OrderGuest>>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub waiter_id: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub waiter_name: Option<String>,
    #[serde(deserialize_with = "lenient::opt_struct")]
    pub waiter: Option<NamedRef>,
    #[serde(deserialize_with = "lenient::opt_string", alias = "tableName")]
    pub table_code: Option<String>,
    #[serde(deserialize_with = "lenient::opt_struct")]
    pub table: Option<NamedRef>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        alias = "seqNumber",
        alias = "number"
    )]
    pub order_number: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub original_order_id: Option<String>,
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderStatus {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub value: Option<String>,
    #[serde(deserialize_with = "lenient::opt_bool")]
    pub is_bill_printed: Option<bool>,
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct Price {
    #[serde(deserialize_with = "lenient::opt_decimal")]
    pub total: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal", alias = "sumToPay")]
    pub summ_to_pay: Option<Decimal>,
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct Product {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::opt_decimal")]
    pub price: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal")]
    pub quantity: Option<Decimal>,
    #[serde(
        deserialize_with = "lenient::opt_decimal",
        alias = "sum",
        alias = "total"
    )]
    pub amount: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub voiding_reason: Option<String>,
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct AppliedPayment {
    #[serde(deserialize_with = "lenient::opt_decimal")]
    pub amount: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub guid: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub pay_type: Option<String>,
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderGuest {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string", alias = "code")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::vec", alias = "dishes")]
    pub products: Vec<Product>,
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct NamedRef {
    #[serde(deserialize_with = "lenient::opt_string", alias = "code")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
}

impl Order {
    /// `taskResponse.order`, if readable.
    pub fn from_task_response(task_response: &Value) -> Option<Order> {
        field(task_response, "order").and_then(|o| Order::deserialize(o.clone()).ok())
    }

    pub fn status_value(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.value.as_deref())
    }

    pub fn is_completed(&self) -> bool {
        self.status_value().is_some_and(is_completed_status)
    }

    pub fn is_canceled(&self) -> bool {
        self.status_value().is_some_and(|s| {
            s.eq_ignore_ascii_case("Canceled") || s.eq_ignore_ascii_case("Cancelled")
        })
    }

    pub fn total(&self) -> Option<Decimal> {
        self.price.as_ref().and_then(|p| p.total)
    }

    pub fn summ_to_pay(&self) -> Option<Decimal> {
        self.price.as_ref().and_then(|p| p.summ_to_pay)
    }

    /// Sum of `appliedPayments`, when the answer lists them.
    pub fn applied_sum(&self) -> Option<Decimal> {
        if self.applied_payments.is_empty() {
            return None;
        }
        self.applied_payments
            .iter()
            .try_fold(Decimal::ZERO, |acc, p| acc.checked_add(p.amount?))
    }
}

/// "Complited" is the product's own spelling; the correct one is accepted too.
pub fn is_completed_status(s: &str) -> bool {
    s.eq_ignore_ascii_case("Complited") || s.eq_ignore_ascii_case("Completed")
}

/// One row of `GetOrderList` (`taskResponse.orders[]`).
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderListRow {
    #[serde(deserialize_with = "lenient::opt_string", alias = "guid")]
    pub order_guid: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub table_code: Option<String>,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub waiter_id: Option<String>,
    #[serde(deserialize_with = "lenient::opt_decimal")]
    pub sum: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_decimal")]
    pub unpaid: Option<Decimal>,
    #[serde(deserialize_with = "lenient::opt_bool")]
    pub is_finished: Option<bool>,
}

impl OrderListRow {
    pub fn from_task_response(task_response: &Value) -> Vec<OrderListRow> {
        match field(task_response, "orders") {
            Some(Value::Array(rows)) => rows
                .iter()
                .filter_map(|r| OrderListRow::deserialize(r.clone()).ok())
                .collect(),
            _ => Vec::new(),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Requests.
// ------------------------------------------------------------------------------------------

/// Task parameters: serialized next to `params.sync|async`.
pub trait TaskParams: Serialize + fmt::Debug {
    const TASK_TYPE: &'static str;
    /// A read: run in sync mode even for a restaurant in async mode (one call instead of a
    /// submit and polls; a read is safe to repeat, so nothing is lost by waiting on the call).
    const READ: bool = false;
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct GetOrderParams {
    pub order_guid: String,
}
impl TaskParams for GetOrderParams {
    const TASK_TYPE: &'static str = "GetOrder";
    const READ: bool = true;
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct GetOrderListParams {
    /// `null` = all tables.
    pub table_code: Option<String>,
    pub with_closed: bool,
}
impl TaskParams for GetOrderListParams {
    const TASK_TYPE: &'static str = "GetOrderList";
    const READ: bool = true;
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PayOrderParams {
    pub order_guid: String,
    pub payments: Vec<PaymentLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_station_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cashier_id: Option<i64>,
    pub is_full_order_required: bool,
}
impl TaskParams for PayOrderParams {
    const TASK_TYPE: &'static str = "PayOrder";
}

/// One payment line. `Debug` shows the card code as `<redacted>`.
#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PaymentLine {
    /// Sent as a JSON number with the exact digits (`978.00`).
    #[serde(serialize_with = "ser_decimal_number")]
    pub amount: Decimal,
    pub currency: String,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_secret"
    )]
    pub card_code: Option<Secret>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CompleteOrderParams {
    pub order_guid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_station_id: Option<i64>,
}
impl TaskParams for CompleteOrderParams {
    const TASK_TYPE: &'static str = "CompleteOrder";
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct GetTaskResponseParams {
    pub task_guid: String,
}
impl TaskParams for GetTaskResponseParams {
    const TASK_TYPE: &'static str = "GetTaskResponse";
}

fn ser_opt_secret<S: Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(secret) => s.serialize_str(secret.expose()),
        None => s.serialize_none(),
    }
}

/// Whether a task is sent in `params.sync` or `params.async`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeKey {
    Sync,
    Async,
}

/// The whole request body: `{"taskType": ..., "params": {"sync"|"async": {objectId, timeout},
/// ...params}}`.
pub fn task_body<P: TaskParams>(
    params: &P,
    mode: ModeKey,
    object_id: i64,
    timeout_s: u64,
) -> Result<Value, serde_json::Error> {
    let mut p = match serde_json::to_value(params)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut m = Map::new();
    m.insert("objectId".into(), Value::from(object_id));
    m.insert("timeout".into(), Value::from(timeout_s));
    let key = match mode {
        ModeKey::Sync => "sync",
        ModeKey::Async => "async",
    };
    p.insert(key.into(), Value::Object(m));
    let mut body = Map::new();
    body.insert("taskType".into(), Value::from(P::TASK_TYPE));
    body.insert("params".into(), Value::Object(p));
    Ok(Value::Object(body))
}
