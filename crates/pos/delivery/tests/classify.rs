//! The r_k Delivery error table through its public API: every row for reads and writes, the
//! wordings and codes of independent implementations, and the order of the rows.

use posgate_core::Substate;
use posgate_delivery::classify::*;
use posgate_delivery::wire::ErrorBody;
use posgate_rkeeper::Verdict;

/// A refusal that names no substate of its own.
const REFUSED: Verdict = Verdict::Rejected(Substate::OtherError);

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

// ---- the answer table, row by row ----

use Then::AfterSending;
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
        &[Text(TIMEOUT_TEXT), CodeHas("timeout")],
        AfterSending,
        false,
    ),
    (
        "final_status",
        &[Text(FINAL_STATUS_TEXT)],
        Then::Is(REFUSED),
        false,
    ),
    (
        "not_found",
        &[Status(404), Text(NOT_FOUND_TEXT)],
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
        Then::By(RK_TEXT),
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
        Text(TIMEOUT_TEXT),
        (400, "E", "{N}: timed out", Some("timeout"), MAYBE_APPLIED),
    ),
    (
        CodeHas("timeout"),
        (400, "E_TIMEOUT", "{N}", Some("timeout"), MAYBE_APPLIED),
    ),
    // final status, under a 5xx that alone would be "maybe applied"
    (
        Text(FINAL_STATUS_TEXT),
        (500, "E", "{N}: final status", Some("final_status"), REFUSAL),
    ),
    // not found
    (Status(404), (404, "E", "{N}", Some("not_found"), NO_ORDER)),
    (
        Text(NOT_FOUND_TEXT),
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
