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
use posgate_core::pos::{Outcome, PosFailure};
use posgate_pos_kit::http::{Fate, HttpFailure};
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

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub verdict: Verdict,
    /// `ERR_EXTERNAL_ERROR_WS`, `rk7_close_order`, `HTTP/503`, `transport/connect`, `auth/invalid_client`, ...
    pub code: String,
    /// What r_k Delivery said (`msg`, with validation `errors`), verbatim; or our description.
    pub text: String,
    /// r_k Delivery's `requestId`, for its support.
    pub request_id: Option<String>,
    /// The order is unknown to r_k Delivery.
    pub not_found: bool,
}

impl Failure {
    pub fn ours(verdict: Verdict, code: impl Into<String>, text: impl Into<String>) -> Self {
        Failure {
            verdict,
            code: code.into(),
            text: text.into(),
            request_id: None,
            not_found: false,
        }
    }

    /// The substate to report: the refusal's, else `OTHER_ERROR`.
    pub fn substate(&self) -> Substate {
        self.verdict.substate()
    }

    /// Passing: nothing was decided about the order.
    pub fn is_transient(&self) -> bool {
        !matches!(self.verdict, Verdict::Rejected(_))
    }

    /// The text with the `requestId`, for the payment's history and support.
    pub fn pos_text(&self) -> String {
        match &self.request_id {
            Some(id) => format!("{} (requestId {id})", self.text),
            None => self.text.clone(),
        }
    }

    /// The failure as posgate reports it: the substate, r_k Delivery's code, the text with
    /// the `requestId`.
    pub fn to_pos(&self) -> PosFailure {
        self.verdict
            .failure(self.code.clone(), self.pos_text(), self.not_found)
    }

    /// What the failure of a write (`/pay`, `/complete`) says about it; `sent: false` for a
    /// write never sent because the read before it failed (then nothing can be unknown).
    pub fn outcome(&self, sent: bool) -> Outcome {
        match self.verdict {
            Verdict::Rejected(_) => Outcome::Rejected,
            Verdict::Unknown if sent => Outcome::Unknown,
            Verdict::Unknown | Verdict::Transient => Outcome::NotApplied,
        }
    }
}

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

const REFUSED: Verdict = Verdict::Rejected(Substate::OtherError);

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

/// [`classify`] by the given rows; also names the row that matched (`None`: the fallback).
fn classify_by(
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

/// A failed exchange (no HTTP answer, an unreadable one, a redirect), by the kit's reading.
pub fn transport(f: HttpFailure, op: Op) -> Failure {
    let verdict = match f.fate {
        Fate::NotSent => Verdict::Transient,
        Fate::Unknown => after_sending(op),
        Fate::Refused => Verdict::Rejected(Substate::OtherError),
    };
    Failure::ours(verdict, f.code, f.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_is_not_transient() {
        assert!(!Failure::ours(Verdict::Rejected(Substate::OtherError), "c", "t").is_transient());
        assert!(!Failure::ours(Verdict::Rejected(Substate::BillInUse), "c", "t").is_transient());
        assert!(Failure::ours(Verdict::Unknown, "c", "t").is_transient());
        assert!(Failure::ours(Verdict::Transient, "c", "t").is_transient());
    }

    #[test]
    fn a_failed_write_s_outcome_and_report() {
        use posgate_core::pos::Outcome as O;
        // verdict, outcome when sent, outcome when the read before it failed.
        let rows = [
            (
                Verdict::Rejected(Substate::BillInUse),
                O::Rejected,
                O::Rejected,
            ),
            (Verdict::Unknown, O::Unknown, O::NotApplied),
            (Verdict::Transient, O::NotApplied, O::NotApplied),
        ];
        for (verdict, sent, unsent) in rows {
            let f = Failure::ours(verdict, "c", "t");
            assert_eq!((f.outcome(true), f.outcome(false)), (sent, unsent), "{f:?}");
        }
        let f = Failure {
            request_id: Some("0HM:7".into()),
            not_found: true,
            ..Failure::ours(Verdict::Rejected(Substate::BillInUse), "ERR_X", "locked")
        };
        assert_eq!(
            f.to_pos(),
            PosFailure {
                substate: Substate::BillInUse,
                code: "ERR_X".into(),
                text: "locked (requestId 0HM:7)".into(),
                not_found: true,
                transient: false,
            }
        );
        assert!(Failure::ours(Verdict::Unknown, "c", "t").to_pos().transient);
    }

    #[test]
    fn a_final_status_text_needs_both_words_or_the_russian_one() {
        for yes in [
            "Order have FINAL 11 status",
            "заказ в final статусе",
            "Заказ в финальном статусе",
            "финальный",
        ] {
            assert!(is_final_status_text(yes), "{yes}");
        }
        for no in [
            "finalize the payment first",
            "status 4: accepted",
            "статус заказа: принят",
            "",
        ] {
            assert!(!is_final_status_text(no), "{no}");
        }
    }
    use Substate::*;

    fn body(code: &str, msg: &str) -> ErrorBody {
        ErrorBody {
            code: (!code.is_empty()).then(|| code.to_string()),
            msg: (!msg.is_empty()).then(|| msg.to_string()),
            request_id: Some("0HM:1".into()),
            errors: None,
        }
    }

    fn verdict(status: u16, code: &str, msg: &str, op: Op) -> Verdict {
        classify(status, Some(&body(code, msg)), op).0
    }

    const WS: &str = "ERR_EXTERNAL_ERROR_WS";

    #[test]
    fn row_1_auth() {
        for op in [Op::Read, Op::Write] {
            assert_eq!(classify(401, None, op).0, Verdict::Rejected(OtherError));
            assert_eq!(classify(403, None, op).0, Verdict::Rejected(OtherError));
        }
    }

    #[test]
    fn row_2_timeouts_are_unknown_for_writes() {
        for msg in [
            "Request timed out",
            "WS Error: Error Code: Timeout. Request timed out",
            "Request timed out. Превышено время ожидания ответа от ресторана",
            "Таймаут операции",
        ] {
            assert_eq!(verdict(400, WS, msg, Op::Write), Verdict::Unknown, "{msg}");
            assert_eq!(verdict(500, WS, msg, Op::Read), Verdict::Transient, "{msg}");
        }
        assert_eq!(
            verdict(500, "ERR_WS_TIMEOUT", "", Op::Write),
            Verdict::Unknown
        );
    }

    #[test]
    fn row_3_final_status_is_other_error() {
        for msg in [
            "Order have FINAL 11 status",
            "Order has final status 12",
            "Заказ находится в финальном статусе",
        ] {
            assert_eq!(
                verdict(400, "ERR_INVALID_ORDER_STATUS", msg, Op::Write),
                Verdict::Rejected(OtherError),
                "{msg}"
            );
            assert_eq!(
                verdict(400, WS, msg, Op::Write),
                Verdict::Rejected(OtherError)
            );
        }
    }

    #[test]
    fn row_4_not_found() {
        assert_eq!(
            classify(
                404,
                Some(&body("ERR_NOT_FOUND", "Order 9 not found")),
                Op::Read
            ),
            (Verdict::Rejected(OtherError), true)
        );
        assert_eq!(
            classify(404, None, Op::Read),
            (Verdict::Rejected(OtherError), true)
        );
        assert_eq!(
            classify(
                400,
                Some(&body(
                    WS,
                    "WS Error: Error Code: WsaOrderError. RkInternal: Заказ не найден"
                )),
                Op::Write
            ),
            (Verdict::Rejected(OtherError), true)
        );
        // A currency that is not found is not an unknown order.
        assert_eq!(
            classify(
                400,
                Some(&body(
                    WS,
                    "WS Error: Error Code: WsaOrderError. RkInternal: Currency [x] not found"
                )),
                Op::Write
            ),
            (Verdict::Rejected(OtherError), false)
        );
    }

    #[test]
    fn row_5_rkeeper_texts_by_the_shared_classifier() {
        let cases = [
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Checkout [3373] Not enough funds to pay for the order in full.",
                WrongRequestSum,
            ),
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Cash station [3373] There is not enough money to fully pay the order.",
                WrongRequestSum,
            ),
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Кассовая станция [3373] Недостаточно средств для полной оплаты заказа.",
                WrongRequestSum,
            ),
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Cash station [3373] Payment amount exceeds the order amount",
                WrongRequestSum,
            ),
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Кассовая смена не открыта",
                CashiersShiftClosed,
            ),
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Common shift is not opened, operation is impossible",
                CashiersShiftClosed,
            ),
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Fiscal printer error: out of paper",
                PrinterError,
            ),
            (
                WS,
                "WS Error: Error Code: WsaFillingOrderError. RkInternal: Принтер недоступен",
                PrinterError,
            ),
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Order 1.1002 is locked by station [3373]",
                BillInUse,
            ),
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Заказ 1.1002 редактируется на кассовой станции [3373]",
                BillInUse,
            ),
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Невозможно закрыть заказ 1.1002: не напечатаны сервис-чеки",
                CloseOrderBlocked,
            ),
            (
                "rk7_close_order",
                "RkInternal: Cash station [3071] Cannot save order 1.73, it is not fully paid",
                CloseOrderBlocked,
            ),
            (
                "rk7_close_order",
                "RkInternal: Checkout [3071] Unable to close order 1.73, it is not fully paid.",
                CloseOrderBlocked,
            ),
            (
                "rk7_close_order",
                "RkInternal: Кассовая станция [3071] Невозможно сохранить заказ 1.73, он не полностью оплачен",
                CloseOrderBlocked,
            ),
            // An rk7_close_order wording nobody has seen yet: closing is blocked.
            (
                "rk7_close_order",
                "RkInternal: something new",
                CloseOrderBlocked,
            ),
            // 3373 in brackets is r_keeper's "not enough money" code, so the unknown wording
            // that must fall to OTHER_ERROR carries a code r_keeper's table does not know.
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Cash station [15] Order 1.1002 is already paid",
                OtherError,
            ),
            // r_keeper's code decides over the words.
            (
                WS,
                "WS Error: Error Code: WsaOrderError. RkInternal: Cash station [2172] Order 1.1002 is already paid",
                CashiersShiftClosed,
            ),
            // An unknown code with an r_keeper text is still r_keeper's refusal.
            (
                "SOME_NEW_CODE",
                "RkInternal: Кассовая смена не открыта",
                CashiersShiftClosed,
            ),
        ];
        for (code, msg, want) in cases {
            for status in [400, 422, 500, 200] {
                assert_eq!(
                    verdict(status, code, msg, Op::Write),
                    Verdict::Rejected(want),
                    "{status} {code} {msg}"
                );
            }
        }
    }

    #[test]
    fn rows_6_to_8_by_status() {
        assert_eq!(classify(429, None, Op::Write).0, Verdict::Transient);
        assert_eq!(
            verdict(429, "ERR_TOO_MANY_REQUESTS", "slow down", Op::Write),
            Verdict::Transient
        );
        for status in [500, 502, 503, 504, 408] {
            assert_eq!(classify(status, None, Op::Write).0, Verdict::Unknown);
            assert_eq!(classify(status, None, Op::Read).0, Verdict::Transient);
        }
        assert_eq!(
            verdict(500, "ERR_INTERNAL_SERVER_ERROR", "boom", Op::Write),
            Verdict::Unknown
        );
        // Validation: our request was wrong; a text about an amount must not read as
        // WRONG_REQUEST_SUM when r_keeper never saw it.
        assert_eq!(
            verdict(
                400,
                "ERR_VALIDATION",
                "The amount field is invalid",
                Op::Write
            ),
            Verdict::Rejected(OtherError)
        );
        assert_eq!(
            classify(409, None, Op::Write).0,
            Verdict::Rejected(OtherError)
        );
    }

    #[test]
    fn a_refused_complete_that_says_not_paid() {
        let f = |code: &str, text: &str| Failure::ours(Verdict::Unknown, code, text);
        for (code, text) in [
            // The seed's wordings.
            (
                "rk7_close_order",
                "RkInternal: Checkout [3071] Unable to close order 1.73, it is not fully paid.",
            ),
            (
                "rk7_close_order",
                "RkInternal: Cash station [3071] Cannot save order 1.73, it is not fully paid",
            ),
            // Other codes and wordings, other languages.
            (
                "ERR_EXTERNAL_ERROR_WS",
                "WS Error: Error Code: WsaOrderError. RkInternal: Заказ 1.73 не оплачен полностью",
            ),
            (
                "ERR_CLOSE",
                "Замовлення 1.73 не може бути закрите: воно не повністю сплачене",
            ),
            ("HTTP/500", "Order 1.73 has not been paid"),
            ("ERR_ORDER", "The order is unpaid"),
            // r_keeper's error number alone.
            (
                "ERR_EXTERNAL_ERROR_WS",
                "RkInternal: Касса [3071] Ошибка 1.73",
            ),
            // rk7_close_order with a wording nobody has seen: its documented meaning.
            (
                "rk7_close_order",
                "RkInternal: Something went wrong with 1.73",
            ),
            ("RK7_CLOSE_ORDER", ""),
        ] {
            assert!(says_not_paid(&f(code, text)), "{code} {text}");
        }
        for (code, text) in [
            // rk7_close_order naming another reason.
            (
                "rk7_close_order",
                "RkInternal: Unable to close order 1.73: kitchen tickets have not been printed",
            ),
            (
                "rk7_close_order",
                "RkInternal: Заказ 1.73 заблокирован на станции [5]",
            ),
            ("rk7_close_order", "RkInternal: Кассовая смена не открыта"),
            ("rk7_close_order", "RkInternal: Принтер недоступен"),
            // Not about payment at all.
            ("ERR_EXTERNAL_ERROR_WS", "Request timed out"),
            (
                "ERR_EXTERNAL_ERROR_WS",
                "Истекло время ожидания: заказ не оплачен",
            ),
            ("ERR_INVALID_ORDER_STATUS", "Order have FINAL 11 status"),
            (
                "HTTP/502",
                "HTTP 502 from r_k Delivery: <html>Bad Gateway</html>",
            ),
            (
                "transport/timeout",
                "no answer from r_k Delivery in time: not paid",
            ),
            ("auth/refused", "unpaid subscription"),
            (
                "ERR_EXTERNAL_ERROR_WS",
                "WS Error: Error Code: WsaOrderError. RkInternal: Cash station [3373] Order 1.73 is already paid",
            ),
        ] {
            assert!(!says_not_paid(&f(code, text)), "{code} {text}");
        }
    }

    #[test]
    fn pos_text_keeps_the_request_id() {
        let mut f = Failure::ours(Verdict::Unknown, "x", "Request timed out");
        assert_eq!(f.pos_text(), "Request timed out");
        f.request_id = Some("0HM:2".into());
        assert_eq!(f.pos_text(), "Request timed out (requestId 0HM:2)");
        assert_eq!(f.substate(), OtherError);
        assert!(f.is_transient());
    }

    // ---- the answer table, row by row ----

    use Then::{AfterSending, RkText};
    use When::*;

    const UNKNOWN: Verdict = Verdict::Unknown;
    const TRANSIENT: Verdict = Verdict::Transient;

    /// Every row in the order it must be tried, written independently of `ROWS`: a row or a
    /// condition removed, added, moved or changed fails `the_rows_are_exactly_the_expected_ones`.
    const EXPECTED_ROWS: &[(&str, &[When], Then, bool)] = &[
        (
            "auth",
            &[Status(401), Status(403)],
            Then::Is(REFUSED),
            false,
        ),
        (
            "timeout",
            &[TimeoutText, CodeHas("timeout")],
            AfterSending,
            false,
        ),
        ("final_status", &[FinalStatusText], Then::Is(REFUSED), false),
        (
            "not_found",
            &[Status(404), NotFoundText],
            Then::Is(REFUSED),
            true,
        ),
        (
            "rkeeper",
            &[
                CodeIs("err_external_error_ws"),
                CodeStarts("rk7"),
                MsgHas("rkinternal"),
                MsgStarts("ws error"),
            ],
            RkText,
            false,
        ),
        (
            "too_many_requests",
            &[Status(429)],
            Then::Is(TRANSIENT),
            false,
        ),
        (
            "server_failure",
            &[Status(408), StatusIn(500, 599)],
            AfterSending,
            false,
        ),
    ];

    /// Messages that match no row and that r_keeper's table reads as `OTHER_ERROR`: Russian,
    /// Ukrainian, English. `{N}` in a sample stands for each of them.
    const NEUTRAL: &[&str] = &[
        "Операция не выполнена",
        "Операцію не виконано",
        "The operation was not performed",
    ];

    /// What an answer must give: the verdict for a write, for a read, and `not_found`.
    type Outcome = (Verdict, Verdict, bool);
    const REFUSAL: Outcome = (REFUSED, REFUSED, false);
    const NO_ORDER: Outcome = (REFUSED, REFUSED, true);
    const MAYBE_APPLIED: Outcome = (UNKNOWN, TRANSIENT, false);
    const LATER: Outcome = (TRANSIENT, TRANSIENT, false);
    const fn rk(s: Substate) -> Outcome {
        (Verdict::Rejected(s), Verdict::Rejected(s), false)
    }

    /// One answer: status, code, `msg` (`{N}` stands for each neutral message), the row that
    /// must take it (`None`: no row) and what it must give.
    type Sample = (
        u16,
        &'static str,
        &'static str,
        Option<&'static str>,
        Outcome,
    );

    /// An answer for every condition of every row, each chosen so that without that condition
    /// it would get another outcome (checked by `every_condition_is_needed_by_its_sample`).
    const SAMPLES: &[(When, Sample)] = &[
        // auth: whatever the body says
        (
            Status(401),
            (401, "E", "{N}: timed out", Some("auth"), REFUSAL),
        ),
        (
            Status(403),
            (403, "E", "{N}: timed out", Some("auth"), REFUSAL),
        ),
        // timeout
        (
            TimeoutText,
            (400, "E", "{N}: timed out", Some("timeout"), MAYBE_APPLIED),
        ),
        (
            CodeHas("timeout"),
            (400, "E_TIMEOUT", "{N}", Some("timeout"), MAYBE_APPLIED),
        ),
        // final status, under a 5xx that alone would be "maybe applied"
        (
            FinalStatusText,
            (500, "E", "{N}: final status", Some("final_status"), REFUSAL),
        ),
        // not found
        (Status(404), (404, "E", "{N}", Some("not_found"), NO_ORDER)),
        (
            NotFoundText,
            (
                500,
                "E",
                "{N}: order not found",
                Some("not_found"),
                NO_ORDER,
            ),
        ),
        // r_keeper's refusal, its substate passed on
        (
            CodeIs("err_external_error_ws"),
            (
                500,
                WS,
                "{N}: shift closed",
                Some("rkeeper"),
                rk(CashiersShiftClosed),
            ),
        ),
        (
            CodeStarts("rk7"),
            (
                500,
                "rk7_pay_order",
                "{N}: printer error",
                Some("rkeeper"),
                rk(PrinterError),
            ),
        ),
        (
            MsgHas("rkinternal"),
            (
                500,
                "E",
                "x RkInternal: {N}: locked",
                Some("rkeeper"),
                rk(BillInUse),
            ),
        ),
        (
            MsgStarts("ws error"),
            (
                500,
                "E",
                "WS Error: {N}: overpay",
                Some("rkeeper"),
                rk(WrongRequestSum),
            ),
        ),
        // rate limited
        (
            Status(429),
            (429, "E", "{N}", Some("too_many_requests"), LATER),
        ),
        // the server failed or timed out
        (
            Status(408),
            (408, "E", "{N}", Some("server_failure"), MAYBE_APPLIED),
        ),
        (
            StatusIn(500, 599),
            (500, "E", "{N}", Some("server_failure"), MAYBE_APPLIED),
        ),
        (
            StatusIn(500, 599),
            (503, "E", "{N}", Some("server_failure"), MAYBE_APPLIED),
        ),
        (
            StatusIn(500, 599),
            (599, "E", "{N}", Some("server_failure"), MAYBE_APPLIED),
        ),
    ];

    /// Answers no row takes: refused, `OTHER_ERROR`.
    const FALLBACK: &[(u16, &str, &str)] = &[
        (400, "ERR_VALIDATION", "{N}"),
        (409, "ERR_CONFLICT", "{N}"),
        (422, "E", "{N}"),
        (499, "E", "{N}"),
        (600, "E", "{N}"),
        (200, "E", "{N}"),
        (402, "", ""),
    ];

    /// Checks one sample with every neutral message; without a body too, when the status
    /// alone decides.
    fn check(rows: &[Row], sample: &Sample, no_body_too: bool) -> Result<(), String> {
        let &(status, code, msg, row, (write, read, not_found)) = sample;
        for neutral in NEUTRAL {
            let msg = msg.replace("{N}", neutral);
            let b = body(code, &msg);
            let mut bodies = vec![Some(&b)];
            if no_body_too {
                bodies.push(None);
            }
            for b in bodies {
                let w = classify_by(rows, status, b, Op::Write);
                let r = classify_by(rows, status, b, Op::Read);
                if (w, r.0) != ((write, not_found, row), read) {
                    return Err(format!(
                        "{status} {code:?} {:?}: write {w:?}, read {r:?}",
                        b.map(|_| &msg)
                    ));
                }
            }
        }
        Ok(())
    }

    fn is_status(when: When) -> bool {
        matches!(when, Status(_) | StatusIn(..))
    }

    #[test]
    fn the_rows_are_exactly_the_expected_ones() {
        let rows: Vec<(&str, &[When], Then, bool)> = ROWS
            .iter()
            .map(|r| (r.name, r.when, r.then, r.not_found))
            .collect();
        assert_eq!(rows, EXPECTED_ROWS);
        assert_eq!(RK_CODE_MEANINGS, &[("rk7_close_order", CloseOrderBlocked)]);
    }

    #[test]
    fn every_condition_has_a_sample() {
        for &(row, whens, _, _) in EXPECTED_ROWS {
            for when in whens {
                assert!(
                    SAMPLES.iter().any(|(w, s)| w == when && s.3 == Some(row)),
                    "no sample for {row} {when:?}"
                );
            }
        }
    }

    #[test]
    fn every_condition_in_a_neutral_answer() {
        for (when, sample) in SAMPLES {
            check(ROWS, sample, is_status(*when)).unwrap();
        }
        for &(status, code, msg) in FALLBACK {
            check(ROWS, &(status, code, msg, None, REFUSAL), true).unwrap();
        }
    }

    /// `ROWS` with one condition taken out of one row.
    fn without(row: &str, when: When) -> Vec<Row> {
        ROWS.iter()
            .map(|r| {
                let kept: Vec<When> = r
                    .when
                    .iter()
                    .copied()
                    .filter(|w| r.name != row || *w != when)
                    .collect();
                Row {
                    name: r.name,
                    when: Box::leak(kept.into_boxed_slice()),
                    then: r.then,
                    not_found: r.not_found,
                }
            })
            .collect()
    }

    #[test]
    fn every_condition_is_needed_by_its_sample() {
        // Without the condition its sample is answered otherwise: the outcome, not only the
        // row's name, changes, so `every_condition_in_a_neutral_answer` notices.
        for &(when, (status, code, msg, row, outcome)) in SAMPLES {
            let rows = without(row.unwrap(), when);
            for neutral in NEUTRAL {
                let msg = msg.replace("{N}", neutral);
                let b = body(code, &msg);
                let (write, not_found, _) = classify_by(&rows, status, Some(&b), Op::Write);
                let read = classify_by(&rows, status, Some(&b), Op::Read).0;
                assert_ne!(
                    (write, read, not_found),
                    outcome,
                    "{row:?} {when:?} is not needed for {status} {code} {msg}"
                );
            }
        }
    }

    #[test]
    fn rk7_close_order_with_an_unknown_text_is_close_order_blocked() {
        let blocked = Verdict::Rejected(CloseOrderBlocked);
        for neutral in NEUTRAL {
            let msg = format!("RkInternal: {neutral}");
            assert_eq!(verdict(500, "rk7_close_order", &msg, Op::Write), blocked);
            assert_eq!(verdict(400, "RK7_CLOSE_ORDER", &msg, Op::Read), blocked);
            // Another r_keeper code keeps r_keeper's OTHER_ERROR.
            assert_eq!(verdict(400, "rk7_pay_order", &msg, Op::Write), REFUSED);
            // A text r_keeper knows decides.
            let shift = format!("RkInternal: {neutral}: shift closed");
            assert_eq!(
                verdict(400, "rk7_close_order", &shift, Op::Write),
                Verdict::Rejected(CashiersShiftClosed)
            );
        }
    }

    /// Answers that match a later row too: the row they must not go to, and the sample.
    const ORDER: &[(&str, Sample)] = &[
        // Credentials refused: nothing ran, whatever the text says.
        (
            "timeout",
            (401, "E", "Request timed out", Some("auth"), REFUSAL),
        ),
        (
            "rkeeper",
            (403, WS, "RkInternal: Смена закрыта", Some("auth"), REFUSAL),
        ),
        (
            "not_found",
            (401, "E", "Order 7 not found", Some("auth"), REFUSAL),
        ),
        // A timeout may hide an applied change, whatever else the text says.
        (
            "final_status",
            (
                400,
                WS,
                "Timed out: order has final status",
                Some("timeout"),
                MAYBE_APPLIED,
            ),
        ),
        (
            "not_found",
            (
                400,
                "E_TIMEOUT",
                "Order 7 not found",
                Some("timeout"),
                MAYBE_APPLIED,
            ),
        ),
        (
            "rkeeper",
            (
                400,
                WS,
                "RkInternal: Таймаут, смена закрыта",
                Some("timeout"),
                MAYBE_APPLIED,
            ),
        ),
        (
            "server_failure",
            (
                504,
                "ERR_GATEWAY_TIMEOUT",
                "",
                Some("timeout"),
                MAYBE_APPLIED,
            ),
        ),
        // A final status is not an unknown order, even under a 404, nor r_keeper's to word.
        (
            "not_found",
            (
                404,
                "E",
                "Order have FINAL 11 status",
                Some("final_status"),
                REFUSAL,
            ),
        ),
        (
            "rkeeper",
            (
                400,
                WS,
                "WS Error: Order has final status",
                Some("final_status"),
                REFUSAL,
            ),
        ),
        // An unknown order, however r_keeper words it.
        (
            "rkeeper",
            (
                400,
                WS,
                "RkInternal: Заказ не найден",
                Some("not_found"),
                NO_ORDER,
            ),
        ),
        (
            "rkeeper",
            (
                404,
                WS,
                "RkInternal: Смена закрыта",
                Some("not_found"),
                NO_ORDER,
            ),
        ),
        // r_keeper refused, even under a status that alone says "later" or "maybe applied".
        (
            "too_many_requests",
            (
                429,
                WS,
                "RkInternal: Смена не открыта",
                Some("rkeeper"),
                rk(CashiersShiftClosed),
            ),
        ),
        (
            "server_failure",
            (
                503,
                "rk7_close_order",
                "RkInternal: [3071]",
                Some("rkeeper"),
                rk(CloseOrderBlocked),
            ),
        ),
    ];

    #[test]
    fn an_earlier_row_wins_over_a_later_one() {
        for (loser, sample) in ORDER {
            let later: Vec<Row> = ROWS
                .iter()
                .filter(|r| r.name == *loser)
                .map(|r| Row { ..*r })
                .collect();
            let (status, code, msg, _, _) = *sample;
            let b = body(code, msg);
            assert_eq!(
                classify_by(&later, status, Some(&b), Op::Write).2,
                Some(*loser),
                "{loser} must match {status} {code} {msg:?} too"
            );
            check(ROWS, sample, false).unwrap();
        }
    }

    // ---- a refused /complete that says "not paid": the text lists ----

    const EXPECTED_NOT_PAID: &[&str] = &[
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

    const EXPECTED_OTHER_BLOCKERS: &[&str] = &[
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

    /// The same fragments, in any order, none twice, none inside another (it could then go
    /// unnoticed: the shorter one matches its sentence too).
    fn assert_same_list(table: &[&str], expected: &[&str]) {
        let mut t = table.to_vec();
        let mut e = expected.to_vec();
        t.sort_unstable();
        e.sort_unstable();
        assert_eq!(t, e);
        for f in table {
            for g in table {
                assert!(f == g || !f.contains(g), "{f:?} contains {g:?}");
            }
        }
    }

    #[test]
    fn the_not_paid_lists_are_exactly_the_expected_ones() {
        assert_same_list(NOT_PAID_TEXTS, EXPECTED_NOT_PAID);
        assert_same_list(OTHER_CLOSE_BLOCKERS, EXPECTED_OTHER_BLOCKERS);
    }

    #[test]
    fn every_not_paid_text_in_a_neutral_sentence() {
        let f = |code: &str, text: &str| Failure::ours(Verdict::Unknown, code, text);
        for neutral in NEUTRAL {
            assert!(!says_not_paid(&f("ERR_X", neutral)), "{neutral}");
            for text in EXPECTED_NOT_PAID {
                for t in [
                    format!("{neutral}: {text}."),
                    format!("{neutral}: {text}.").to_uppercase(),
                ] {
                    assert!(says_not_paid(&f("ERR_X", &t)), "{t}");
                }
            }
        }
    }

    #[test]
    fn every_other_close_blocker_in_a_neutral_sentence() {
        // rk7_close_order means "not paid" unless its text names another reason.
        let f = |text: &str| Failure::ours(Verdict::Unknown, "rk7_close_order", text);
        for neutral in NEUTRAL {
            assert!(says_not_paid(&f(neutral)), "{neutral}");
            for text in EXPECTED_OTHER_BLOCKERS {
                for t in [
                    format!("{neutral}: {text}."),
                    format!("{neutral}: {text}.").to_uppercase(),
                ] {
                    assert!(!says_not_paid(&f(&t)), "{t}");
                }
            }
        }
    }
}
