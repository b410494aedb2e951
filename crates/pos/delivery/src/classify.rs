//! What an r_k Delivery answer means for posgate: one ordered table, every row tested.
//!
//! r_keeper's own texts (inside `ERR_EXTERNAL_ERROR_WS`, `rk7_*` codes, or any `msg` carrying
//! `RkInternal:`) are classified by the one shared classifier,
//! [`posgate_rkeeper::classify_rk_text`]; this module only adds what is specific to the
//! r_k Delivery layer around them:
//!
//! | # | answer | verdict |
//! |---|---|---|
//! | 1 | HTTP 401 (after one token refresh), 403 | refused, `OTHER_ERROR` |
//! | 2 | a timeout text ("Request timed out", "таймаут", ...) or a code naming a timeout | write: **unknown**; read: transient |
//! | 3 | a final-status text ("Order have FINAL 11 status") | refused, `OTHER_ERROR` (as the shared r_keeper table says; checked first so it holds for non-r_keeper error codes too) |
//! | 4 | HTTP 404, or an order-not-found text | refused, `OTHER_ERROR`, `not_found` |
//! | 5 | `ERR_EXTERNAL_ERROR_WS`, `rk7_*`, or `RkInternal:`/`WS Error:` in `msg` | refused, substate by `classify_rk_text`; `rk7_close_order` with a text it does not know → `CLOSE_ORDER_BLOCKED` |
//! | 6 | HTTP 429 | transient |
//! | 7 | HTTP 5xx, 408 (any other code, or no readable body) | write: **unknown**; read: transient |
//! | 8 | any other answer (400 validation, 409, 422, ...) | refused, `OTHER_ERROR` |
//!
//! Rows 1-7 are [`ROWS`] (row 8 is what no row matches); the `rk7_close_order` fallback is
//! [`RK_CODE_MEANINGS`].
//!
//! Transport failures, as [`posgate_pos_kit::http`] reads them: no connection → transient; a
//! timeout or a break after the request was sent → write: unknown, read: transient; a redirect
//! (never followed: the bearer token would go with it) → refused `OTHER_ERROR` with its
//! `Location`, nothing was booked: fix the configured URL.
//!
//! One more question is asked of a refused `/complete` when it probes an unanswered `/pay`
//! ([`says_not_paid`]): does r_keeper say the order is not (fully) paid? Yes for a not-paid
//! text in Russian, Ukrainian or English ([`NOT_PAID_TEXTS`]), r_keeper's error `[3071]`, or
//! `rk7_close_order` (its documented meaning) unless its text names another reason
//! ([`OTHER_CLOSE_BLOCKERS`], or a lock, shift or printer by `classify_rk_text`); never for a
//! timeout, a transport failure or an auth failure.

use posgate_core::Substate;
use posgate_pos_kit::REFUSED;
use posgate_pos_kit::http::HttpFailure;
use posgate_rkeeper::classify::{is_not_found_text, is_timeout_text};
use posgate_rkeeper::{Verdict, classify_rk_text};

use crate::wire::ErrorBody;

/// Whether the call could have changed the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET`: nothing changes; failures are passing (transient) or refusals.
    Read,
    /// `/pay`, `/complete`: after the request left, a failure may hide an applied change.
    Write,
}

/// Why a call did not succeed: the kit's failure, with r_k Delivery's `requestId` (from the
/// error body or the `x-request-id` header) said with its text.
pub use posgate_pos_kit::Failure;

/// Verdict for a failure that may have happened after the request reached the server.
pub fn after_sending(op: Op) -> Verdict {
    match op {
        Op::Read => Verdict::Transient,
        Op::Write => Verdict::Unknown,
    }
}

/// A final-status refusal: the order is completed or cancelled in r_k Delivery.
pub fn is_final_status_text(text: &str) -> bool {
    let lower = text.to_lowercase();
    (lower.contains("final") && (lower.contains("status") || lower.contains("статус")))
        || lower.contains("финальн")
}

/// What a row of [`ROWS`] looks at; a row matches when any of its conditions holds. Codes
/// are compared in ASCII lower case, texts in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The HTTP status is this one.
    Status(u16),
    /// The HTTP status is in this range, both ends included.
    StatusIn(u16, u16),
    /// The error `code` is this one.
    CodeIs(&'static str),
    /// The error `code` starts with this.
    CodeStarts(&'static str),
    /// The error `code` contains this.
    CodeHas(&'static str),
    /// `msg` starts with this.
    MsgStarts(&'static str),
    /// `msg` contains this.
    MsgHas(&'static str),
    /// `msg` names a timeout ([`is_timeout_text`], shared with r_keeper).
    TimeoutText,
    /// `msg` names a final status ([`is_final_status_text`]).
    FinalStatusText,
    /// `msg` says the order does not exist ([`is_not_found_text`], shared with r_keeper).
    NotFoundText,
}

/// What a matching row decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Is(Verdict),
    /// The request may have been applied: write → unknown, read → transient ([`after_sending`]).
    AfterSending,
    /// r_keeper refused: the substate by [`classify_rk_text`], or, for a text it does not
    /// know, by [`RK_CODE_MEANINGS`].
    RkText,
}

/// One row of the answer table.
#[derive(Debug)]
pub struct Row {
    /// Stable row name (tests).
    pub name: &'static str,
    pub when: &'static [When],
    pub then: Then,
    /// The order is unknown to r_k Delivery.
    pub not_found: bool,
}

/// The answer table (the module docs' rows 1-7); rows are tried in order, and an answer no
/// row matches is refused, `OTHER_ERROR` (row 8). Without a readable body the code and `msg`
/// are empty, so only the status conditions can match.
pub const ROWS: &[Row] = &[
    // 1. Credentials refused (401 after one token refresh) or access denied: nothing booked,
    //    whatever the body says.
    Row {
        name: "auth",
        when: &[When::Status(401), When::Status(403)],
        then: Then::Is(REFUSED),
        not_found: false,
    },
    // 2. A timeout behind r_k Delivery (the restaurant did not answer in time): the order may
    //    have changed.
    Row {
        name: "timeout",
        when: &[When::TimeoutText, When::CodeHas("timeout")],
        then: Then::AfterSending,
        not_found: false,
    },
    // 3. The order is completed or cancelled: refused, even under a non-r_keeper code.
    Row {
        name: "final_status",
        when: &[When::FinalStatusText],
        then: Then::Is(REFUSED),
        not_found: false,
    },
    // 4. No such order (HTTP 404, or r_keeper's "order not found" in any wrapper).
    Row {
        name: "not_found",
        when: &[When::Status(404), When::NotFoundText],
        then: Then::Is(REFUSED),
        not_found: true,
    },
    // 5. r_keeper's own refusal, passed on by r_k Delivery.
    Row {
        name: "rkeeper",
        when: &[
            When::CodeIs("err_external_error_ws"),
            When::CodeStarts("rk7"),
            When::MsgHas("rkinternal"),
            When::MsgStarts("ws error"),
        ],
        then: Then::RkText,
        not_found: false,
    },
    // 6. Rate limited: nothing was done, ask again later.
    Row {
        name: "too_many_requests",
        when: &[When::Status(429)],
        then: Then::Is(Verdict::Transient),
        not_found: false,
    },
    // 7. The server failed or gave up waiting: the request may have been applied.
    Row {
        name: "server_failure",
        when: &[When::Status(408), When::StatusIn(500, 599)],
        then: Then::AfterSending,
        not_found: false,
    },
];

/// r_k Delivery codes (lower case) whose documented meaning holds when r_keeper's text is one
/// we do not know yet.
pub const RK_CODE_MEANINGS: &[(&str, Substate)] = &[
    // r_keeper refused to close the order: closing is blocked, and it is retried.
    ("rk7_close_order", Substate::CloseOrderBlocked),
];

/// An answer as the table reads it.
struct Answer<'a> {
    status: u16,
    /// ASCII lower case.
    code: String,
    msg: &'a str,
    msg_lower: String,
}

impl When {
    fn holds(&self, a: &Answer) -> bool {
        match *self {
            When::Status(s) => a.status == s,
            When::StatusIn(from, to) => (from..=to).contains(&a.status),
            When::CodeIs(c) => a.code == c,
            When::CodeStarts(c) => a.code.starts_with(c),
            When::CodeHas(c) => a.code.contains(c),
            When::MsgStarts(m) => a.msg_lower.starts_with(m),
            When::MsgHas(m) => a.msg_lower.contains(m),
            When::TimeoutText => is_timeout_text(a.msg),
            When::FinalStatusText => is_final_status_text(a.msg),
            When::NotFoundText => is_not_found_text(a.msg),
        }
    }
}

fn answer(status: u16, body: Option<&ErrorBody>) -> Answer<'_> {
    let code = body.and_then(|b| b.code.as_deref()).unwrap_or("");
    let msg = body.and_then(|b| b.msg.as_deref()).unwrap_or("");
    Answer {
        status,
        code: code.to_ascii_lowercase(),
        msg,
        msg_lower: msg.to_lowercase(),
    }
}

/// Classifies a non-success answer: HTTP status and the error body, if one could be read.
/// Returns the verdict and whether the order is unknown.
pub fn classify(status: u16, body: Option<&ErrorBody>, op: Op) -> (Verdict, bool) {
    let (verdict, not_found, _) = classify_by(ROWS, status, body, op);
    (verdict, not_found)
}

/// [`classify`] by the given rows (the table, or a variant of it); also names the row that
/// matched (`None`: the fallback).
pub fn classify_by(
    rows: &[Row],
    status: u16,
    body: Option<&ErrorBody>,
    op: Op,
) -> (Verdict, bool, Option<&'static str>) {
    let a = answer(status, body);
    let Some(row) = rows.iter().find(|r| r.when.iter().any(|w| w.holds(&a))) else {
        return (REFUSED, false, None);
    };
    let verdict = match row.then {
        Then::Is(v) => v,
        Then::AfterSending => after_sending(op),
        Then::RkText => match classify_rk_text(a.msg) {
            Substate::OtherError => RK_CODE_MEANINGS
                .iter()
                .find(|(c, _)| *c == a.code)
                .map_or(REFUSED, |&(_, s)| Verdict::Rejected(s)),
            s => Verdict::Rejected(s),
        },
    };
    (verdict, row.not_found, Some(row.name))
}

/// Texts (lower case) saying an order is not (fully) paid: English, Russian, Ukrainian.
pub const NOT_PAID_TEXTS: &[&str] = &[
    "not fully paid",
    "not paid",
    "not completely paid",
    "not been paid",
    "not been fully paid",
    "unpaid",
    "underpaid",
    "не полностью оплачен",
    "не оплачен",
    "неоплачен",
    "не до конца оплачен",
    "недоплачен",
    "не повністю оплачен",
    "не повністю сплачен",
    "не сплачен",
    "несплачен",
];

/// Reasons other than payment that block closing an order, not all of which the shared
/// r_keeper classifier names apart from "not fully paid" (both are `CLOSE_ORDER_BLOCKED`).
pub const OTHER_CLOSE_BLOCKERS: &[&str] = &[
    "kitchen",
    "service check",
    "service-check",
    "сервис-чек",
    "сервис чек",
    "сервісн",
    "not printed",
    "не напечатан",
    "не распечатан",
    "не надрукован",
    "not sent",
    "не отправлен",
    "не відправлен",
];

/// Whether a failed `/complete` says the order is not (fully) paid (see the module docs).
pub fn says_not_paid(f: &Failure) -> bool {
    let code = f.code.to_ascii_lowercase();
    let text = f.text.to_lowercase();
    if code.starts_with("transport/")
        || code.starts_with("auth/")
        || is_timeout_text(&text)
        || code.contains("timeout")
    {
        return false;
    }
    let names_other_reason = OTHER_CLOSE_BLOCKERS.iter().any(|w| text.contains(w))
        || matches!(
            classify_rk_text(&text),
            Substate::BillInUse | Substate::CashiersShiftClosed | Substate::PrinterError
        );
    NOT_PAID_TEXTS.iter().any(|w| text.contains(w))
        || text.contains("[3071]")
        || (code == "rk7_close_order" && !names_other_reason)
}

/// A failed exchange (no HTTP answer, an unreadable one, a redirect), by the kit's reading;
/// after sending, a read changes nothing.
pub fn transport(f: HttpFailure, op: Op) -> Failure {
    let f = Failure::transport(f);
    match op {
        Op::Read => f.read_only(),
        Op::Write => f,
    }
}
