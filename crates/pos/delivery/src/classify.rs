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
//! Rows 1-7 are [`ROWS`] (row 8 is what no row matches), read by the kit's table engine
//! ([`posgate_pos_kit::answers`]); the `rk7_close_order` fallback is [`RK_CODE_MEANINGS`].
//!
//! Transport failures are read as the kit reads them for every POS ([`posgate_pos_kit::failure`]);
//! a redirect is never followed (the bearer token would go with it).
//!
//! One more question is asked of a refused `/complete` when it probes an unanswered `/pay`
//! ([`says_not_paid`]): does r_keeper say the order is not (fully) paid? Yes for a not-paid
//! text in Russian, Ukrainian or English ([`NOT_PAID_TEXTS`]), r_keeper's error `[3071]`, or
//! `rk7_close_order` (its documented meaning) unless its text names another reason
//! ([`OTHER_CLOSE_BLOCKERS`], or a lock, shift or printer by `classify_rk_text`); never for a
//! timeout, a transport failure or an auth failure.

use Then::{AfterSending, By, Is};
use When::{CodeHas, CodeIs, CodeStarts, MsgHas, MsgStarts, Status, StatusIn, Text};
use posgate_core::Substate;
use posgate_pos_kit::REFUSED;
/// The table's engine and its parts are the kit's ([`posgate_pos_kit::answers`]).
pub use posgate_pos_kit::answers::{Answer, Decide, Op, Row, Said, Then, When, classify_by};
use posgate_pos_kit::lenient::ErrorBody;
use posgate_pos_kit::words::says;
use posgate_rkeeper::classify::{is_not_found_text, is_timeout_text};
use posgate_rkeeper::{Verdict, classify_rk_text};

/// Why a call did not succeed: the kit's failure, with r_k Delivery's `requestId` (from the
/// error body or the `x-request-id` header) said with its text.
pub use posgate_pos_kit::Failure;

/// A final-status refusal: the order is completed or cancelled in r_k Delivery.
pub fn is_final_status_text(text: &str) -> bool {
    let lower = text.to_lowercase();
    (lower.contains("final") && (lower.contains("status") || lower.contains("статус")))
        || lower.contains("финальн")
}

/// `msg` names a timeout ([`is_timeout_text`], shared with r_keeper).
pub const TIMEOUT_TEXT: Said = Said::new("timeout_text", is_timeout_text);
/// `msg` names a final status ([`is_final_status_text`]).
pub const FINAL_STATUS_TEXT: Said = Said::new("final_status_text", is_final_status_text);
/// `msg` says the order does not exist ([`is_not_found_text`], shared with r_keeper).
pub const NOT_FOUND_TEXT: Said = Said::new("not_found_text", is_not_found_text);
/// r_keeper refused: the substate by [`classify_rk_text`], or, for a text it does not know,
/// by [`RK_CODE_MEANINGS`].
pub const RK_TEXT: Decide = Decide::new("rk_text", rk_text);

fn rk_text(a: &Answer) -> Verdict {
    match classify_rk_text(a.msg) {
        Substate::OtherError => RK_CODE_MEANINGS
            .iter()
            .find(|(c, _)| *c == a.code)
            .map_or(REFUSED, |&(_, s)| Verdict::Rejected(s)),
        s => Verdict::Rejected(s),
    }
}

/// The answer table (the module docs' rows 1-7); rows are tried in order, and an answer no
/// row matches is refused, `OTHER_ERROR` (row 8). Without a readable body the code and `msg`
/// are empty, so only the status conditions can match.
pub const ROWS: &[Row] = &[
    // 1. Credentials refused (401 after one token refresh) or access denied: nothing booked,
    //    whatever the body says.
    Row::new("auth", &[Status(401), Status(403)], Is(REFUSED)),
    // 2. A timeout behind r_k Delivery (the restaurant did not answer in time): the order may
    //    have changed.
    Row::new(
        "timeout",
        &[Text(TIMEOUT_TEXT), CodeHas("timeout")],
        AfterSending,
    ),
    // 3. The order is completed or cancelled: refused, even under a non-r_keeper code.
    Row::new("final_status", &[Text(FINAL_STATUS_TEXT)], Is(REFUSED)),
    // 4. No such order (HTTP 404, or r_keeper's "order not found" in any wrapper).
    Row::new(
        "not_found",
        &[Status(404), Text(NOT_FOUND_TEXT)],
        Is(REFUSED),
    )
    .not_found(),
    // 5. r_keeper's own refusal, passed on by r_k Delivery.
    Row::new(
        "rkeeper",
        &[
            CodeIs("err_external_error_ws"),
            CodeStarts("rk7"),
            MsgHas("rkinternal"),
            MsgStarts("ws error"),
        ],
        By(RK_TEXT),
    ),
    // 6. Rate limited: nothing was done, ask again later.
    Row::new("too_many_requests", &[Status(429)], Is(Verdict::Transient)),
    // 7. The server failed or gave up waiting: the request may have been applied.
    Row::new(
        "server_failure",
        &[Status(408), StatusIn(500, 599)],
        AfterSending,
    ),
];

/// r_k Delivery codes (lower case) whose documented meaning holds when r_keeper's text is one
/// we do not know yet.
pub const RK_CODE_MEANINGS: &[(&str, Substate)] = &[
    // r_keeper refused to close the order: closing is blocked, and it is retried.
    ("rk7_close_order", Substate::CloseOrderBlocked),
];

/// Classifies a non-success answer by [`ROWS`]: HTTP status and the error body, if one could
/// be read. Returns the verdict and whether the order is unknown.
pub fn classify(status: u16, body: Option<&ErrorBody>, op: Op) -> (Verdict, bool) {
    let (verdict, not_found, _) = classify_by(ROWS, status, body, op);
    (verdict, not_found)
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
    let names_other_reason = says(&text, OTHER_CLOSE_BLOCKERS)
        || matches!(
            classify_rk_text(&text),
            Substate::BillInUse | Substate::CashiersShiftClosed | Substate::PrinterError
        );
    says(&text, NOT_PAID_TEXTS)
        || text.contains("[3071]")
        || (code == "rk7_close_order" && !names_other_reason)
}
