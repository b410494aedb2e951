//! The texts the platform answers and reports with: why a callback is refused (a field and a
//! message, as in Expirenza's `fieldErrors`), the titles of its error bodies, and what staff
//! are told about a guest payment. The payload-shape messages stay next to their checks in
//! [`super::validate`].

use super::model::{GuestPayment, Notification};

/// `errTitle` of a 500 answer.
pub(super) const TITLE_SERVER_ERROR: &str = "Server error";
/// `errText` of a 500 answer.
pub(super) const TEXT_SERVER_ERROR: &str = "Internal server error (simulated)";
/// `errTitle` of a 400 answer.
pub(super) const TITLE_INVALID_REQUEST: &str = "Invalid request";
/// `errTitle` of a 400 answer when the signature was checked and is wrong; also the
/// `errText` of a simulated refusal.
pub(super) const TITLE_INVALID_SIGNATURE: &str = "Invalid signature";
/// The field error of a simulated refusal (`reject_callbacks`).
pub(super) const SIMULATED_SIGNATURE_ERROR: (&str, &str) =
    ("signature", "does not match the request body");

/// Why a callback is refused. `pair` gives the field it names (empty: the whole body) and the
/// message, as recorded in [`super::CallbackRecord::errors`] and answered in `fieldErrors`.
pub(super) enum Refusal<'a> {
    /// `fail_callbacks` fired.
    SimulatedServerError,
    /// `reject_callbacks` fired.
    SimulatedBadSignature,
    NoRestoId,
    UnknownResto(&'a str),
    NoSignature,
    BadSignature,
    NotJson,
    RidNeverSent(&'a str),
    RidOfAnotherResto,
    /// The rID was sent as this other operation.
    RidOfAnotherOperation(&'a str),
    /// A payBill answer names another bill than the payBill asked about.
    OtherBill {
        rid: &'a str,
        bill: &'a str,
    },
    Late,
    AnsweredDifferently,
    AlreadyAnswered,
}

impl Refusal<'_> {
    pub(super) fn pair(&self) -> (String, String) {
        let (field, message) = match self {
            Refusal::SimulatedServerError => ("", "simulated server error".to_string()),
            Refusal::SimulatedBadSignature => ("signature", "refused (simulated)".to_string()),
            Refusal::NoRestoId => ("restoId", "header is required".to_string()),
            Refusal::UnknownResto(r) => ("restoId", format!("unknown restaurant {r:?}")),
            Refusal::NoSignature => ("signature", "header is required".to_string()),
            Refusal::BadSignature => (
                "signature",
                "does not match HMAC-SHA256 of the request body".to_string(),
            ),
            Refusal::NotJson => ("", "body is not JSON".to_string()),
            Refusal::RidNeverSent(rid) => ("rID", format!("{rid:?} was never sent")),
            Refusal::RidOfAnotherResto => ("rID", "was sent to another restaurant".to_string()),
            Refusal::RidOfAnotherOperation(op) => ("rID", format!("was sent as {op:?}")),
            Refusal::OtherBill { rid, bill } => {
                ("billId", format!("payBill {rid} was for bill {bill:?}"))
            }
            Refusal::Late => (
                "rID",
                "the deadline for this request has passed".to_string(),
            ),
            Refusal::AnsweredDifferently => {
                ("rID", "already answered with a different body".to_string())
            }
            Refusal::AlreadyAnswered => ("rID", "already answered".to_string()),
        };
        (field.to_string(), message)
    }
}

/// `field: message`, or the message alone for the whole body.
pub(super) fn field_message((field, message): &(String, String)) -> String {
    if field.is_empty() {
        message.clone()
    } else {
        format!("{field}: {message}")
    }
}

/// What staff are told about a guest payment ([`super::Notification`]).
pub(super) enum Notice<'a> {
    /// No callback to a payBill by its deadline.
    NoAnswer { rid: &'a str },
    /// FAIL OTHER_ERROR: the platform stops trying.
    OtherError { bill: &'a str, message: &'a str },
    /// A retriable FAIL: its substate and the restaurant's message.
    Retriable { substate: &'a str, message: &'a str },
    /// `max_attempts` payBills were sent.
    RetriesExhausted { attempts: usize },
}

impl Notice<'_> {
    /// The notification about payment `p`.
    pub(super) fn about(&self, p: &GuestPayment, at_ms: u64) -> Notification {
        let (kind, text) = self.kind_text();
        Notification {
            resto_id: p.resto_id.clone(),
            bill_id: p.bill_id.clone(),
            payment_id: p.id.clone(),
            kind: kind.to_string(),
            text,
            at_ms,
        }
    }

    fn kind_text(&self) -> (&str, String) {
        match self {
            Notice::NoAnswer { rid } => (
                "NO_ANSWER",
                format!("no answer to payBill {rid} from the restaurant"),
            ),
            Notice::OtherError { bill, message } => (
                "OTHER_ERROR",
                format!(
                    "bill {bill} could not be closed: {message}; contact the POS vendor's support"
                ),
            ),
            Notice::Retriable { substate, message } => (substate, message.to_string()),
            Notice::RetriesExhausted { attempts } => (
                "RETRIES_EXHAUSTED",
                format!("payBill failed {attempts} times; close the bill by hand"),
            ),
        }
    }
}
