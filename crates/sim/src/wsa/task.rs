//! Parsing of the WSA request envelope into typed tasks (structure validation only).

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::util::decimal_from_json;

pub const GET_ORDER: &str = "GetOrder";
pub const GET_ORDER_STATE: &str = "GetOrderState";
pub const GET_ORDER_LIST: &str = "GetOrderList";
pub const PAY_ORDER: &str = "PayOrder";
pub const COMPLETE_ORDER: &str = "CompleteOrder";
pub const GET_TASK_RESPONSE: &str = "GetTaskResponse";

/// Default agent timeout, seconds.
pub const DEFAULT_TIMEOUT_S: u64 = 120;
/// Maximum agent timeout, seconds.
pub const MAX_TIMEOUT_S: u64 = 180;

#[derive(Clone, Debug)]
pub(crate) struct PaymentLine {
    pub amount: Decimal,
    pub currency: String,
    pub card_code: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum TaskKind {
    GetOrder {
        order_guid: Option<String>,
    },
    GetOrderState {
        order_guid: Option<String>,
    },
    GetOrderList {
        table_code: Option<String>,
        with_closed: bool,
    },
    PayOrder {
        order_guid: String,
        payments: Vec<PaymentLine>,
        cash_station_id: Option<i64>,
        full: bool,
    },
    CompleteOrder {
        order_guid: String,
    },
}

impl TaskKind {
    pub fn order_guid(&self) -> Option<&str> {
        match self {
            TaskKind::GetOrder { order_guid } | TaskKind::GetOrderState { order_guid } => {
                order_guid.as_deref()
            }
            TaskKind::GetOrderList { .. } => None,
            TaskKind::PayOrder { order_guid, .. } | TaskKind::CompleteOrder { order_guid, .. } => {
                Some(order_guid)
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Sync,
    Async,
}

/// A validated agent task (everything except GetTaskResponse).
#[derive(Clone, Debug)]
pub(crate) struct AgentTask {
    pub mode: Mode,
    pub object_id: i64,
    pub timeout_s: u64,
    pub kind: TaskKind,
}

/// A validated request.
#[derive(Clone, Debug)]
pub(crate) enum Request {
    Agent(AgentTask),
    GetTaskResponse {
        task_guid: String,
        object_id: Option<i64>,
    },
}

/// Structural error (→ `wsError BadRequest / InvalidRequestStructure`); the text is logged.
#[derive(Debug)]
pub(crate) struct BadRequest(pub String);

fn bad(msg: impl Into<String>) -> BadRequest {
    BadRequest(msg.into())
}

/// Optional string field; `null` counts as absent; numbers are accepted as text
/// (table codes are sometimes numeric).
fn opt_str(params: &Map<String, Value>, key: &str) -> Result<Option<String>, BadRequest> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if key == "tableCode" => Ok(Some(n.to_string())),
        Some(other) => Err(bad(format!("{key} must be a string, got {other}"))),
    }
}

fn req_str(params: &Map<String, Value>, key: &str) -> Result<String, BadRequest> {
    match opt_str(params, key)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        _ => Err(bad(format!("{key} is required"))),
    }
}

fn opt_i64(params: &Map<String, Value>, key: &str) -> Result<Option<i64>, BadRequest> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad(format!("{key} must be an integer, got {v}"))),
    }
}

fn opt_bool(params: &Map<String, Value>, key: &str) -> Result<bool, BadRequest> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(bad(format!("{key} must be a boolean, got {v}"))),
    }
}

/// The `taskType` string if the body has one (for counting and `responseCommon`).
pub(crate) fn task_type_of(body: &Value) -> Option<&str> {
    body.get("taskType").and_then(Value::as_str)
}

/// `params.sync.objectId` / `params.async.objectId` if present (for `responseCommon`).
pub(crate) fn object_id_of(body: &Value) -> Option<i64> {
    let params = body.get("params")?;
    ["sync", "async"]
        .iter()
        .find_map(|m| params.get(m)?.get("objectId")?.as_i64())
}

pub(crate) fn parse(body: &Value) -> Result<Request, BadRequest> {
    let obj = body
        .as_object()
        .ok_or_else(|| bad("body must be a JSON object"))?;
    let task_type = obj
        .get("taskType")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("taskType is required"))?;
    let params = obj
        .get("params")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("params must be an object"))?;

    let sync = params.get("sync").filter(|v| !v.is_null());
    let asyn = params.get("async").filter(|v| !v.is_null());

    if task_type == GET_TASK_RESPONSE {
        if asyn.is_some() {
            return Err(bad("GetTaskResponse is sync only"));
        }
        let object_id = match sync {
            Some(s) => {
                let s = s
                    .as_object()
                    .ok_or_else(|| bad("params.sync must be an object"))?;
                opt_i64(s, "objectId")?
            }
            None => None,
        };
        let task_guid = req_str(params, "taskGuid")?;
        return Ok(Request::GetTaskResponse {
            task_guid,
            object_id,
        });
    }

    let (mode, mode_obj) = match (sync, asyn) {
        (Some(s), None) => (Mode::Sync, s),
        (None, Some(a)) => (Mode::Async, a),
        (Some(_), Some(_)) => return Err(bad("exactly one of params.sync / params.async")),
        (None, None) => return Err(bad("params.sync or params.async is required")),
    };
    let mode_obj = mode_obj
        .as_object()
        .ok_or_else(|| bad("params.sync/async must be an object"))?;
    let object_id = opt_i64(mode_obj, "objectId")?.ok_or_else(|| bad("objectId is required"))?;
    let timeout_s = match mode_obj.get("timeout") {
        None | Some(Value::Null) => DEFAULT_TIMEOUT_S,
        Some(v) => {
            let t = v
                .as_i64()
                .ok_or_else(|| bad(format!("timeout must be an integer, got {v}")))?;
            u64::try_from(t.clamp(1, MAX_TIMEOUT_S as i64)).unwrap_or(DEFAULT_TIMEOUT_S)
        }
    };

    let kind = match task_type {
        GET_ORDER => TaskKind::GetOrder {
            order_guid: opt_str(params, "orderGuid")?,
        },
        GET_ORDER_STATE => TaskKind::GetOrderState {
            order_guid: opt_str(params, "orderGuid")?,
        },
        GET_ORDER_LIST => TaskKind::GetOrderList {
            table_code: opt_str(params, "tableCode")?,
            with_closed: opt_bool(params, "withClosed")?,
        },
        PAY_ORDER => TaskKind::PayOrder {
            order_guid: req_str(params, "orderGuid")?,
            payments: parse_payments(params)?,
            cash_station_id: opt_i64(params, "cashStationId")?,
            full: opt_bool(params, "isFullOrderRequired")?,
        },
        COMPLETE_ORDER => TaskKind::CompleteOrder {
            order_guid: req_str(params, "orderGuid")?,
        },
        other => return Err(bad(format!("unknown taskType {other}"))),
    };
    // cashierId / cashStationId are accepted (the latter only shows up in texts), but must
    // be integers if present.
    opt_i64(params, "cashierId")?;
    opt_i64(params, "cashStationId")?;
    Ok(Request::Agent(AgentTask {
        mode,
        object_id,
        timeout_s,
        kind,
    }))
}

fn parse_payments(params: &Map<String, Value>) -> Result<Vec<PaymentLine>, BadRequest> {
    let list = match params.get("payments") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(v) => return Err(bad(format!("payments must be an array, got {v}"))),
    };
    list.iter()
        .map(|p| {
            let p = p
                .as_object()
                .ok_or_else(|| bad("payments[] must be objects"))?;
            let amount_v = p
                .get("amount")
                .ok_or_else(|| bad("payments[].amount is required"))?;
            let amount = decimal_from_json(amount_v).ok_or_else(|| {
                bad(format!(
                    "payments[].amount must be a number or a string with a dot, got {amount_v}"
                ))
            })?;
            Ok(PaymentLine {
                amount,
                currency: req_str(p, "currency")?,
                card_code: opt_str(p, "cardCode")?.filter(|c| !c.is_empty()),
            })
        })
        .collect()
}
