//! Data model of the Expirenza simulator: restaurants, settings, faults, the records of what
//! was sent and received, guest payments and errors. Everything (de)serialises with
//! snake_case field names; money is a decimal string (`"978.00"`), read from a string or a
//! JSON number. Times are milliseconds since the simulator started.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::util::decimal as dec;

/// A restaurant known to the platform (WebSocket Basic auth `resto_id:secret_key`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimResto {
    pub resto_id: String,
    pub secret_key: String,
}

impl SimResto {
    pub fn new(resto_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        SimResto {
            resto_id: resto_id.into(),
            secret_key: secret_key.into(),
        }
    }
}

/// How generated rIDs look (both documented forms; the adapter must treat them as opaque).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RidStyle {
    /// Alternates between the two forms.
    #[default]
    Alternate,
    /// `2021-03-13 00:32:04.942046#UP57RxE`
    Legacy,
    /// `bfe786d3ec61467ab7a17d747e7341d9`
    Hex,
}

/// How the simulated platform behaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimSettings {
    /// A callback must arrive within this long of its operation (Expirenza: 80 s).
    pub deadline_ms: u64,
    /// Delay before payBill is sent again after a retriable FAIL or no answer.
    pub retry_interval_ms: u64,
    /// payBill attempts per guest payment before staff are told that retries ran out.
    pub max_attempts: u32,
    /// Resend payBill with the same rID instead of a new one.
    pub reuse_rid: bool,
    /// Resend payBill when no callback arrived by the deadline.
    pub retry_on_no_answer: bool,
    /// 400 for callbacks whose rID was never sent.
    pub reject_unknown_rid: bool,
    /// 400 for callbacks after the deadline.
    pub reject_late: bool,
    /// 400 for a second accepted callback of one rID, even with an identical body
    /// (a different body is always refused).
    pub reject_duplicates: bool,
    pub rid_style: RidStyle,
    /// Text frames sent right after a connection is accepted (Expirenza's "2 messages"; their
    /// content is undocumented).
    pub greeting: Vec<String>,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            deadline_ms: 80_000,
            retry_interval_ms: 5_000,
            max_attempts: 20,
            reuse_rid: false,
            retry_on_no_answer: true,
            reject_unknown_rid: true,
            reject_late: true,
            reject_duplicates: false,
            rid_style: RidStyle::Alternate,
            greeting: Vec::new(),
        }
    }
}

/// Fault injection; counters go down as they fire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimFaults {
    /// Answer the next N callbacks with HTTP 500 (documented error body).
    pub fail_callbacks: u32,
    /// Answer the next N callbacks with HTTP 400 (as if the signature were wrong).
    pub reject_callbacks: u32,
    /// Delay the next `delay_frames` operation frames by `delay_frames_ms`.
    pub delay_frames: u32,
    pub delay_frames_ms: u64,
    /// Send the next N operation frames twice.
    pub duplicate_frames: u32,
}

impl SimFaults {
    /// One example of every fault (each is a field; several can be set at once), with what
    /// it does (the control API index).
    pub fn examples() -> Vec<(SimFaults, &'static str)> {
        let f = SimFaults::default;
        vec![
            (
                SimFaults {
                    fail_callbacks: 2,
                    ..f()
                },
                "answer the next N callbacks with HTTP 500 (documented error body)",
            ),
            (
                SimFaults {
                    reject_callbacks: 1,
                    ..f()
                },
                "answer the next N callbacks with HTTP 400 (as if the signature were wrong)",
            ),
            (
                SimFaults {
                    delay_frames: 1,
                    delay_frames_ms: 500,
                    ..f()
                },
                "delay the next delay_frames operation frames by delay_frames_ms",
            ),
            (
                SimFaults {
                    duplicate_frames: 1,
                    ..f()
                },
                "send the next N operation frames twice",
            ),
        ]
    }
}

/// A WebSocket connection from a restaurant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    pub id: u64,
    pub resto_id: String,
    pub connected_at_ms: u64,
    pub closed_at_ms: Option<u64>,
    /// The `cookie` header of the upgrade, if any (`system=<name>`).
    pub cookie: Option<String>,
}

/// A keepalive text frame (`Resto <id> ping`) or any other frame the restaurant sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingRecord {
    pub connection_id: u64,
    pub resto_id: String,
    pub text: String,
    /// Whether it is exactly `Resto <resto_id> ping`.
    pub well_formed: bool,
    pub at_ms: u64,
}

/// An operation pushed to a restaurant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentOperation {
    pub rid: String,
    pub resto_id: String,
    pub operation: String,
    pub frame: String,
    pub sent_at_ms: u64,
    pub deadline_ms: u64,
    /// A callback for it was accepted (200).
    pub answered: bool,
    /// The deadline passed without an accepted callback.
    pub expired: bool,
    /// The guest payment it belongs to (payBill from [`super::ExpirenzaSim::pay`]).
    pub payment_id: Option<String>,
    pub bill_id: Option<String>,
}

/// One callback POST as received.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallbackRecord {
    pub seq: u64,
    /// The `<operation>` of `/callback/<operation>`.
    pub operation: String,
    pub resto_id: Option<String>,
    pub rid: Option<String>,
    /// The raw body, exactly as received.
    pub body: String,
    /// The body parsed (None if it is not JSON).
    pub json: Option<Value>,
    /// The `signature` header as received.
    pub signature: Option<String>,
    pub signature_ok: bool,
    /// What the simulator answered.
    pub status: u16,
    /// Why it was refused (schema, signature, rID, ...), empty when accepted.
    pub errors: Vec<String>,
    /// Another callback of this rID had been accepted before.
    pub duplicate: bool,
    /// It arrived after the operation's deadline.
    pub late: bool,
    /// Headers of interest: `content-type`, `cookie`.
    pub content_type: Option<String>,
    pub cookie: Option<String>,
    pub at_ms: u64,
}

impl CallbackRecord {
    /// `state` of the body (`SUCCESS`/`FAIL`).
    pub fn state(&self) -> Option<&str> {
        self.json.as_ref()?.get("state")?.as_str()
    }

    pub fn substate(&self) -> Option<&str> {
        self.json.as_ref()?.get("substate")?.as_str()
    }

    pub fn field(&self, name: &str) -> Option<&Value> {
        self.json.as_ref()?.get(name)
    }
}

/// Where a guest payment stands on the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Charged; waiting for the restaurant to close the bill.
    Pending,
    /// SUCCESS: the bill is closed.
    Succeeded,
    /// OTHER_ERROR: no more attempts; the restaurant is paid from the order data.
    Failed,
    /// Retriable FAILs until `max_attempts`: staff were told.
    Exhausted,
}

/// A guest's payment: charged first, then payBill until the restaurant closes the bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestPayment {
    pub id: String,
    pub resto_id: String,
    pub bill_id: String,
    #[serde(with = "dec")]
    pub sum: Decimal,
    #[serde(with = "dec")]
    pub tips: Decimal,
    /// Always true: Expirenza takes the money before asking the POS.
    pub charged: bool,
    pub status: PaymentStatus,
    /// rIDs of the payBills sent, in order.
    pub attempts: Vec<String>,
    pub last_state: Option<String>,
    pub last_substate: Option<String>,
    pub last_message: Option<String>,
}

/// What the platform would tell the restaurant's staff (bot messages).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub resto_id: String,
    pub bill_id: String,
    pub payment_id: String,
    /// A substate, `NO_ANSWER` or `RETRIES_EXHAUSTED`.
    pub kind: String,
    pub text: String,
    pub at_ms: u64,
}

/// Why an operation could not be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    UnknownResto(String),
    NotConnected(String),
    BadOperation(String),
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::UnknownResto(r) => write!(f, "unknown restaurant {r:?}"),
            SimError::NotConnected(r) => write!(f, "restaurant {r:?} is not connected"),
            SimError::BadOperation(m) => write!(f, "bad operation: {m}"),
        }
    }
}

impl std::error::Error for SimError {}
