//! The classifier's tables through its public API: every wsError and agent code row, every
//! text rule in Russian, Ukrainian and English, the r_keeper codes that decide on their own.

use posgate_core::Substate;
use posgate_rkeeper::classify::*;

/// Each wsError row, from an expected list written here: the code decides even when the
/// text (a closed shift) and the agent's code (a printer) say otherwise; without its row
/// the agent's code would decide, so removing or changing a row fails.
#[test]
fn every_ws_code_row_decides_over_the_agent_and_the_text() {
    use Verdict::*;
    let expected: &[(&str, Verdict)] = &[
        ("AwaitingAnswer", Unknown),
        ("TaskLimitExceeded", Transient),
        ("InternalError", Transient),
        ("AuthFailed", Rejected(OtherError)),
        ("License", Rejected(OtherError)),
        ("BadRequest", Rejected(OtherError)),
        ("NotFound", Rejected(OtherError)),
        ("WsAgentNotSelected", Rejected(OtherError)),
    ];
    assert_eq!(
        WS_CODES.len(),
        expected.len(),
        "a row without an expectation"
    );
    for (code, want) in expected {
        let v = classify_ws_error(
            code,
            Some("WsAgent"),
            Some("WsaFillingOrderError"),
            "Смена закрыта / shift is closed",
        );
        assert_eq!(v, *want, "{code}");
    }
    // Not a row: AgentError, empty and unknown codes defer to the agent; a timeout code is
    // an unknown outcome.
    for code in ["AgentError", "", "SomethingNew"] {
        assert_eq!(
            classify_ws_error(code, None, Some("WsaFillingOrderError"), "x"),
            Rejected(PrinterError),
            "{code:?}"
        );
    }
    for code in ["Timeout", "TaskTimeout", "timed_out"] {
        assert_eq!(classify_ws_error(code, None, None, "x"), Unknown, "{code}");
    }
}

/// Each agentError row, from an expected list written here: the agent's code decides over
/// a text that names another substate (so removing a row changes the answer).
#[test]
fn every_agent_code_row_decides_over_a_misleading_text() {
    let expected: &[(&str, Substate)] = &[
        ("WsaFillingOrderError", PrinterError),
        ("WsaNoOneGuidSpecifiedForOrderSearching", OtherError),
        ("WsaDuplicateOrder", OtherError),
        ("WsaOrderCanceledOnKass", OtherError),
        ("WsaOrderIgnoredOnPos", OtherError),
        ("WsaOrderCreationDishNotFound", OtherError),
        ("WsaOrderCreationSelectorNotFound", OtherError),
        ("WsaOrderCreationComboComponentNotFound", OtherError),
        ("WsaOrderCreationCancelled", OtherError),
        ("WsaOrderCreationCancellation", OtherError),
        ("WsaOrderingPreferencesError", OtherError),
        ("WsaOrderingSettingNotSpecified", OtherError),
        ("WsaOrderMenuIsUnknownError", OtherError),
        ("WsaCommandNotSupported", OtherError),
        ("WsaHttpRequest", OtherError),
        ("WsaHttpStatus", OtherError),
        ("WsaHandshakeError", OtherError),
    ];
    assert_eq!(
        AGENT_CODES.len(),
        expected.len(),
        "a row without an expectation"
    );
    for (code, want) in expected {
        // A text naming a substate other than the row's.
        let misleading = if *want == PrinterError {
            "Смена закрыта"
        } else {
            "Принтер не доступен / printer error"
        };
        assert_eq!(
            classify_ws_error("AgentError", None, Some(code), misleading),
            Verdict::Rejected(*want),
            "{code}"
        );
    }
    // A code not in the table is read by its text: the texts above do mislead.
    assert_eq!(
        classify_ws_error("AgentError", None, Some("WsaOrderError"), "Смена закрыта"),
        Verdict::Rejected(CashiersShiftClosed)
    );
    assert_eq!(
        classify_ws_error(
            "AgentError",
            None,
            Some("WsaOrderError"),
            "Принтер не доступен / printer error"
        ),
        Verdict::Rejected(PrinterError)
    );
}
use Substate::*;

fn rk(text: &str) -> Substate {
    classify_rk_text(text)
}

fn ws(code: &str, agent: Option<&str>, desc: &str) -> Verdict {
    classify_ws_error(code, None, agent, desc)
}

// ---- wsError table: one test per row ----

#[test]
fn ws_timeout_is_unknown() {
    assert_eq!(
        ws("Timeout", None, "Agent did not answer"),
        Verdict::Unknown
    );
}

#[test]
fn ws_awaiting_answer_at_deadline_is_unknown() {
    assert_eq!(ws("AwaitingAnswer", None, ""), Verdict::Unknown);
}

#[test]
fn ws_task_limit_exceeded_is_transient() {
    assert_eq!(ws("TaskLimitExceeded", None, "limit"), Verdict::Transient);
}

#[test]
fn ws_internal_error_is_transient() {
    assert_eq!(ws("InternalError", None, "boom"), Verdict::Transient);
}

#[test]
fn ws_auth_failed_is_other_error() {
    assert_eq!(
        ws("AuthFailed", None, "bad token"),
        Verdict::Rejected(OtherError)
    );
}

#[test]
fn ws_license_is_other_error() {
    assert_eq!(
        classify_ws_error("License", Some("WsAgent"), None, "no license"),
        Verdict::Rejected(OtherError)
    );
}

#[test]
fn ws_bad_request_is_other_error() {
    assert_eq!(
        ws("BadRequest", None, "InvalidRequestStructure"),
        Verdict::Rejected(OtherError)
    );
}

#[test]
fn ws_not_found_is_other_error() {
    assert_eq!(ws("NotFound", None, ""), Verdict::Rejected(OtherError));
}

#[test]
fn ws_agent_not_selected_is_other_error() {
    assert_eq!(
        ws("WsAgentNotSelected", None, ""),
        Verdict::Rejected(OtherError)
    );
}

#[test]
fn ws_agent_error_defers_to_the_agent() {
    assert_eq!(
        ws(
            "AgentError",
            Some("WsaOrderError"),
            "RkInternal: Cash station [3373] Not enough funds to pay for the order in full"
        ),
        Verdict::Rejected(WrongRequestSum)
    );
}

#[test]
fn ws_codes_match_any_case_and_separators() {
    assert_eq!(ws("TIMEOUT", None, ""), Verdict::Unknown);
    assert_eq!(ws("task_limit_exceeded", None, ""), Verdict::Transient);
    assert_eq!(ws("AgentTimeout", None, ""), Verdict::Unknown);
}

#[test]
fn ws_unknown_or_empty_code_falls_back_to_agent_then_text() {
    assert_eq!(
        ws("", Some("WsaFillingOrderError"), "x"),
        Verdict::Rejected(PrinterError)
    );
    assert_eq!(
        ws("SomethingNew", None, "Смена закрыта"),
        Verdict::Rejected(CashiersShiftClosed)
    );
    assert_eq!(
        ws("SomethingNew", None, "???"),
        Verdict::Rejected(OtherError)
    );
}

// ---- agentError table ----

#[test]
fn agent_filling_order_error_is_printer_error() {
    assert_eq!(
        ws(
            "AgentError",
            Some("WsaFillingOrderError"),
            "Не удалось заполнить заказ"
        ),
        Verdict::Rejected(PrinterError)
    );
}

#[test]
fn agent_fixed_other_error_codes() {
    for code in [
        "WsaNoOneGuidSpecifiedForOrderSearching",
        "WsaDuplicateOrder",
        "WsaOrderCanceledOnKass",
        "WsaOrderIgnoredOnPos",
        "WsaOrderCreationDishNotFound",
        "WsaOrderCreationSelectorNotFound",
        "WsaOrderCreationComboComponentNotFound",
        "WsaOrderCreationCancelled",
        "WsaOrderCreationCancellation",
        "WsaOrderingPreferencesError",
        "WsaOrderingSettingNotSpecified",
        "WsaOrderMenuIsUnknownError",
        "WsaCommandNotSupported",
        "WsaHttpRequest",
        "WsaHttpStatus",
        "WsaHandshakeError",
    ] {
        // Even with a text that would otherwise say "shift closed".
        assert_eq!(
            ws("AgentError", Some(code), "смена закрыта"),
            Verdict::Rejected(OtherError),
            "{code}"
        );
    }
}

#[test]
fn agent_order_error_is_classified_by_text() {
    assert_eq!(
        ws(
            "AgentError",
            Some("WsaOrderError"),
            "RkInternal: Смена закрыта"
        ),
        Verdict::Rejected(CashiersShiftClosed)
    );
    assert_eq!(
        ws(
            "AgentError",
            Some("WsaOrderError"),
            "RkInternal: Order not found"
        ),
        Verdict::Rejected(OtherError)
    );
}

#[test]
fn agent_numeric_code_is_classified_by_text() {
    assert_eq!(
        ws("AgentError", Some("17"), "Order is locked by station 2"),
        Verdict::Rejected(BillInUse)
    );
}

#[test]
fn agent_timeout_text_is_unknown() {
    assert_eq!(
        ws(
            "AgentError",
            Some("WsaOrderError"),
            "RkInternal: timeout waiting for cash server"
        ),
        Verdict::Unknown
    );
    assert_eq!(
        ws(
            "AgentError",
            Some("WsaCommandHandling"),
            "Истекло время ожидания ответа"
        ),
        Verdict::Unknown
    );
}

// ---- text table: one test per rule, plus variants ----

#[test]
fn text_not_enough_funds_is_wrong_sum() {
    assert_eq!(
        rk("RkInternal: Cash station [3373] Not enough funds to pay for the order in full"),
        WrongRequestSum
    );
    assert_eq!(
        rk("Checkout [3373] Not enough funds to pay for the order in full."),
        WrongRequestSum
    );
    assert_eq!(
        rk("Cash station [3373] There is not enough money to fully pay the order."),
        WrongRequestSum
    );
    assert_eq!(rk("INSUFFICIENT FUNDS"), WrongRequestSum);
    assert_eq!(rk("Cash station [3373] Not enough funds"), WrongRequestSum);
}

#[test]
fn text_russian_not_enough_is_wrong_sum() {
    assert_eq!(
        rk("RkInternal: Кассовая станция [3373] Недостаточно средств для полной оплаты заказа"),
        WrongRequestSum
    );
    assert_eq!(rk("НЕДОСТАТОЧНО ДЕНЕГ"), WrongRequestSum);
}

#[test]
fn text_overpayment_is_wrong_sum() {
    assert_eq!(rk("Payment amount exceeds the amount due"), WrongRequestSum);
    assert_eq!(rk("Сумма оплаты превышает сумму заказа"), WrongRequestSum);
    assert_eq!(rk("Сумма предоплаты больше суммы заказа"), WrongRequestSum);
    assert_eq!(rk("Paid more than the order total"), WrongRequestSum);
    assert_eq!(rk("Overpayment is not allowed"), WrongRequestSum);
    assert_eq!(rk("Переплата недопустима"), WrongRequestSum);
}

#[test]
fn text_sum_mismatch_is_wrong_sum() {
    assert_eq!(
        rk("Сумма платежа не совпадает с суммой заказа"),
        WrongRequestSum
    );
    assert_eq!(rk("Сумма оплаты не равна сумме к оплате"), WrongRequestSum);
    assert_eq!(rk("Amount mismatch"), WrongRequestSum);
    assert_eq!(rk("Invalid payment amount"), WrongRequestSum);
    assert_eq!(rk("Некорректная сумма оплаты"), WrongRequestSum);
    assert_eq!(
        rk("Payment amount does not match the order sum"),
        WrongRequestSum
    );
}

#[test]
fn text_shift_closed() {
    assert_eq!(rk("Смена закрыта"), CashiersShiftClosed);
    assert_eq!(rk("Кассовая смена не открыта"), CashiersShiftClosed);
    assert_eq!(rk("Cashier shift is closed"), CashiersShiftClosed);
    assert_eq!(rk("No open shift on cash station 3"), CashiersShiftClosed);
    assert_eq!(
        rk("Cannot close order: cashier shift is closed"),
        CashiersShiftClosed
    );
    assert_eq!(
        rk("Смена на кассовой станции [3] закрыта"),
        CashiersShiftClosed
    );
}

#[test]
fn text_printer_error() {
    assert_eq!(rk("Принтер недоступен"), PrinterError);
    assert_eq!(rk("Printer is not available"), PrinterError);
    assert_eq!(rk("Ошибка фискального регистратора"), PrinterError);
    assert_eq!(rk("Ошибка ФР: нет связи"), PrinterError);
    assert_eq!(rk("ККТ не отвечает"), PrinterError);
    assert_eq!(rk("Fiscal register error"), PrinterError);
    assert_eq!(rk("Закончилась чековая лента"), PrinterError);
    assert_eq!(rk("Out of paper"), PrinterError);
    assert_eq!(rk("Cannot close order: fiscal printer error"), PrinterError);
    // "станции" must not make it BILL_IN_USE.
    assert_eq!(rk("Принтер на станции 3 недоступен"), PrinterError);
}

#[test]
fn text_not_fully_paid_blocks_close() {
    assert_eq!(
        rk("RkInternal: Cash station [3071] Cannot save order 1.73, it is not fully paid"),
        CloseOrderBlocked
    );
    assert_eq!(
        rk("Unable to close order, it is not fully paid"),
        CloseOrderBlocked
    );
    assert_eq!(
        rk("Невозможно закрыть заказ, он не полностью оплачен"),
        CloseOrderBlocked
    );
}

#[test]
fn text_final_status_is_other_error() {
    // Final means final: retrying cannot help, a person must decide.
    assert_eq!(rk("Order have FINAL 11 status"), OtherError);
}

#[test]
fn text_kitchen_tickets_block_close() {
    assert_eq!(
        rk("Невозможно закрыть заказ: есть ненапечатанные сервис-чеки"),
        CloseOrderBlocked
    );
    assert_eq!(
        rk("Kitchen tickets have not been printed"),
        CloseOrderBlocked
    );
    assert_eq!(rk("Order items not sent to kitchen"), CloseOrderBlocked);
    assert_eq!(rk("В заказе есть неотправленные блюда"), CloseOrderBlocked);
    assert_eq!(
        rk("Закрытие заблокировано: сервис-чек не напечатан"),
        CloseOrderBlocked
    );
}

#[test]
fn text_bill_in_use() {
    assert_eq!(
        rk("Невозможно закрыть заказ: заказ заблокирован на станции"),
        BillInUse
    );
    assert_eq!(rk("Order is locked by station 5"), BillInUse);
    assert_eq!(rk("ORDER LOCKED"), BillInUse);
    assert_eq!(rk("Заказ редактируется на станции 2"), BillInUse);
    assert_eq!(rk("Заказ занят другим пользователем"), BillInUse);
    assert_eq!(rk("Order is opened on station 2"), BillInUse);
    assert_eq!(rk("Заказ открыт на другой станции"), BillInUse);
    assert_eq!(rk("Order is in use"), BillInUse);
    assert_eq!(rk("Order is being edited at another terminal"), BillInUse);
    // r_keeper's own wordings (XML interface reference): another lock key, a station lock.
    assert_eq!(
        rk("Не получается заблокировать. Заказ заблокирован другим ключом блокировки"),
        BillInUse
    );
    assert_eq!(
        rk("Визит 640419540 не может быть завершён. Заказ 256 заблокирован станцией"),
        BillInUse
    );
}

#[test]
fn text_generic_cannot_close() {
    assert_eq!(rk("Cannot close order"), CloseOrderBlocked);
    assert_eq!(rk("Не удалось закрыть заказ"), CloseOrderBlocked);
    assert_eq!(rk("невозможно закрыть заказ"), CloseOrderBlocked);
}

#[test]
fn text_anything_else_is_other_error() {
    assert_eq!(rk("Order not found"), OtherError);
    assert_eq!(rk("Заказ не найден"), OtherError);
    assert_eq!(rk("Order is closed"), OtherError);
    assert_eq!(rk("Визит 1159 закрыт!"), OtherError);
    assert_eq!(rk(""), OtherError);
    // A code nobody knows says nothing; the text decides.
    assert_eq!(rk("Cash station [15] something odd happened"), OtherError);
    // Words that merely contain a keyword do not count.
    assert_eq!(rk("Clock is out of sync"), OtherError);
    assert_eq!(rk("Недостаточно прав для оплаты"), OtherError);
    assert_eq!(rk("Cash station [15] other error"), OtherError);
}

#[test]
fn text_wrappers_and_prefixes_are_tolerated() {
    assert_eq!(
        rk(
            "WS Error: Error Code: WsaOrderError. RkInternal: Checkout [3373] Not enough funds to pay for the order in full."
        ),
        WrongRequestSum
    );
    assert_eq!(
        rk("WS Error: Error Code: WsaOrderError. RkInternal: Смена закрыта"),
        CashiersShiftClosed
    );
}

#[test]
fn timeout_and_not_found_texts() {
    assert!(is_timeout_text("Request timed out"));
    assert!(is_timeout_text("Таймаут"));
    assert!(!is_timeout_text("Order not found"));
    assert!(is_not_found_text("Заказ не найден"));
    assert!(is_not_found_text("RkInternal: Order {ABC} not found"));
    assert!(!is_not_found_text("Смена закрыта"));
    assert!(!is_not_found_text("RkInternal: Валюта [x] не найдена"));
    assert!(!is_not_found_text("Currency [x] not found"));
    assert!(is_not_found_text("No such order"));
}

// ---- r_keeper codes: every row of the code table ----

/// What each known code must mean. Written independently of `RK_CODES`: a row removed
/// from or changed in the table fails `every_code_row_*`.
const EXPECTED_CODES: &[(u32, Substate)] = &[
    (2102, OtherError),
    (2128, OtherError),
    (2129, BillInUse),
    (2133, CashiersShiftClosed),
    (2142, OtherError),
    (2172, CashiersShiftClosed),
    (3071, CloseOrderBlocked),
    (3373, WrongRequestSum),
    (3813, OtherError),
    (5305, OtherError),
    (5310, OtherError),
    (8007, OtherError),
];

/// Neutral messages (their words alone say `OTHER_ERROR`), Russian and English.
const NEUTRAL: &[&str] = &["Операция не выполнена", "The operation was not performed"];

/// Every way a code is written around a message.
fn with_code(code: u32, text: &str) -> Vec<String> {
    vec![
        format!("RkInternal: Cash station [{code}] {text}"),
        format!("RkInternal: Кассовая станция [{code}] {text}"),
        format!("WS Error: Error Code: WsaOrderError. RkInternal: Checkout [{code}] {text}."),
        format!("Касса [{code}] {text}"),
        format!("Ошибка ({code}): {text}"),
        format!("UCSERR({code}): {text}"),
        format!(
            r#"<RK7QueryResult Status="Query Executing Error" ErrorText="{text}" RK7ErrorN="{code}"/>"#
        ),
        format!("<RK7QueryResult ErrorText='{text}' RK7ErrorN='{code}'/>"),
        format!("{text}. ErrorCode={code}"),
        format!(
            "<html><body><h1>500</h1><p>{text}</p><p>RK7ErrorN=&quot;{code}&quot;</p></body></html>"
        ),
    ]
}

#[test]
fn the_code_table_is_exactly_the_expected_one() {
    let table: Vec<(u32, Substate)> = posgate_rkeeper::codes::RK_CODES
        .iter()
        .map(|r| (r.code, r.substate))
        .collect();
    assert_eq!(table, EXPECTED_CODES);
}

#[test]
fn neutral_messages_alone_are_other_error() {
    for text in NEUTRAL {
        assert_eq!(rk(text), OtherError, "{text}");
        for message in with_code(15, text) {
            assert_eq!(rk(&message), OtherError, "{message}");
        }
    }
}

#[test]
fn every_code_row_in_a_neutral_sentence() {
    for &(code, want) in EXPECTED_CODES {
        for text in NEUTRAL {
            for message in with_code(code, text) {
                assert_eq!(rk(&message), want, "{message}");
            }
        }
    }
}

/// A text for each substate, to mislead.
const MISLEADING: &[(Substate, &str)] = &[
    (
        WrongRequestSum,
        "Недостаточно средств для полной оплаты заказа",
    ),
    (
        WrongRequestSum,
        "Not enough funds to pay for the order in full",
    ),
    (CashiersShiftClosed, "Кассовая смена закрыта"),
    (CashiersShiftClosed, "Cashier shift is closed"),
    (PrinterError, "Принтер недоступен"),
    (PrinterError, "Printer is not available"),
    (
        CloseOrderBlocked,
        "Невозможно закрыть заказ, он не полностью оплачен",
    ),
    (
        CloseOrderBlocked,
        "Unable to close order, it is not fully paid",
    ),
    (BillInUse, "Заказ заблокирован другой станцией"),
    (BillInUse, "Order is locked by another station"),
];

#[test]
fn every_code_row_wins_over_a_text_saying_something_else() {
    for &(code, want) in EXPECTED_CODES {
        for &(says, text) in MISLEADING.iter().filter(|(s, _)| *s != want) {
            assert_eq!(rk(text), says, "{text}");
            for message in with_code(code, text) {
                assert_eq!(rk(&message), want, "{message}");
            }
        }
    }
}

#[test]
fn code_wins_over_a_misleading_text() {
    // The seed's close refusal, with a text that mentions a printer.
    assert_eq!(
        rk("RkInternal: Checkout [3071] Unable to close order 1.73: printer is busy"),
        CloseOrderBlocked
    );
    assert_eq!(
        rk("Кассовая станция [3373] Заказ 1.1002 уже оплачен"),
        WrongRequestSum
    );
    assert_eq!(
        rk("UCSERR(2172): Невозможно закрыть заказ, принтер недоступен"),
        CashiersShiftClosed
    );
    assert_eq!(
        rk(r#"<RK7QueryResult ErrorText="Не хватает денег" RK7ErrorN="2128"/>"#),
        OtherError
    );
}

#[test]
fn known_code_with_an_empty_or_unknown_text() {
    assert_eq!(rk("Checkout [3373]"), WrongRequestSum);
    assert_eq!(rk("Cash station [3071] ???"), CloseOrderBlocked);
    assert_eq!(rk("UCSERR(2172):"), CashiersShiftClosed);
    assert_eq!(
        rk(r#"<RK7QueryResult ErrorText="" RK7ErrorN="2129"/>"#),
        BillInUse
    );
    assert_eq!(rk("ErrorCode=2133"), CashiersShiftClosed);
    assert_eq!(rk("[2128]"), OtherError);
}

#[test]
fn unknown_code_falls_back_to_the_text() {
    assert_eq!(rk("Cash station [15] Not enough funds"), WrongRequestSum);
    assert_eq!(rk("UCSERR(9999): Смена закрыта"), CashiersShiftClosed);
    assert_eq!(
        rk(r#"RK7ErrorN="1" ErrorText="Принтер недоступен""#),
        PrinterError
    );
    assert_eq!(rk("Cash station [15]"), OtherError);
    assert_eq!(rk("RK7ErrorN=\"\""), OtherError);
}

#[test]
fn ids_in_brackets_are_not_codes() {
    // 3373 here is a station's number, 2172 an order's: the text decides.
    assert_eq!(rk("Order 1.1002 is locked by station [3373]"), BillInUse);
    assert_eq!(rk("Заказ [2172] заблокирован на станции [3373]"), BillInUse);
    assert_eq!(
        rk("Сумма оплаты [3071] превышает сумму заказа"),
        WrongRequestSum
    );
}

#[test]
fn agent_errors_read_the_rkeeper_code_first() {
    // r_keeper's code is the root cause; the agent's wrapper code only says "failed to fill".
    assert_eq!(
        ws(
            "AgentError",
            Some("WsaFillingOrderError"),
            "RkInternal: Касса [2172] В данный момент закрывается общая смена"
        ),
        Verdict::Rejected(CashiersShiftClosed)
    );
    assert_eq!(
        ws(
            "AgentError",
            Some("WsaOrderError"),
            "RkInternal: Checkout [3071] Printer error"
        ),
        Verdict::Rejected(CloseOrderBlocked)
    );
    assert_eq!(
        ws("", None, "UCSERR(2172): ..."),
        Verdict::Rejected(CashiersShiftClosed)
    );
    // A timeout may have booked: still unknown, whatever the code.
    assert_eq!(
        ws(
            "AgentError",
            Some("WsaOrderError"),
            "RkInternal: Checkout [3373] timeout waiting for the cash server"
        ),
        Verdict::Unknown
    );
    // The White Server's own verdicts are not overruled by a code in the text.
    assert_eq!(
        ws("InternalError", None, "Checkout [3373] Not enough funds"),
        Verdict::Transient
    );
}

// ---- shift being closed right now ----

#[test]
fn shift_being_closed_texts() {
    for text in [
        "RkInternal: В данный момент закрывается общая смена",
        "Смена закрывается",
        "Кассовая смена закрывается, повторите позже",
        "Идет закрытие смены",
        "Идёт закрытие общей смены",
        "Выполняется закрытие дня",
        "Shift is being closed",
        "Shift closing in progress",
        "Cashier shift closing, try again later",
        "Close of day in progress",
        "End of day is running",
        "Day closing in progress",
        "Закриття зміни",
        "Триває закриття касової зміни",
        "Зміна закривається",
        "Закривається зміна, спробуйте пізніше",
        "Касова зміна закрита",
        "Зміну не відкрито",
        "Відкрийте зміну на касі",
        "Закриття дня триває",
    ] {
        assert_eq!(rk(text), CashiersShiftClosed, "{text}");
    }
    // "зміни" alone is "changes", not a shift.
    assert_eq!(rk("Замовлення закрито, зміни не збережено"), OtherError);
}

// ---- the text table, row by row ----

/// Every fragment of the text table with the substate it must give, and a partner from
/// the other group of an all-of rule (or a later rule's fragment it must beat). Written
/// independently of `TEXT_RULES`: a fragment removed, added or moved to another substate
/// fails `the_text_table_is_exactly_the_expected_one`.
const EXPECTED_FRAGMENTS: &[(Substate, &str, &str)] = &[
    // 1. money: any
    (WrongRequestSum, "not enough funds", ""),
    (WrongRequestSum, "not enough money", ""),
    (WrongRequestSum, "insufficient funds", ""),
    (WrongRequestSum, "insufficient money", ""),
    (WrongRequestSum, "overpay", ""),
    (WrongRequestSum, "over-pay", ""),
    (WrongRequestSum, "переплат", ""),
    (WrongRequestSum, "amount mismatch", ""),
    (WrongRequestSum, "sum mismatch", ""),
    (WrongRequestSum, "wrong amount", ""),
    (WrongRequestSum, "invalid amount", ""),
    (WrongRequestSum, "incorrect amount", ""),
    (WrongRequestSum, "неверная сумма", ""),
    (WrongRequestSum, "неправильная сумма", ""),
    (WrongRequestSum, "некорректная сумма", ""),
    // money: "недостаточно" + what
    (WrongRequestSum, "недостаточно", "средств"),
    (WrongRequestSum, "средств", "недостаточно"),
    (WrongRequestSum, "денег", "недостаточно"),
    (WrongRequestSum, "сумм", "недостаточно"),
    // money: comparative + money word
    (WrongRequestSum, "exceed", "amount"),
    (WrongRequestSum, "превыша", "amount"),
    (WrongRequestSum, "больше", "amount"),
    (WrongRequestSum, "more than", "amount"),
    (WrongRequestSum, "greater than", "amount"),
    (WrongRequestSum, "less than", "amount"),
    (WrongRequestSum, "меньше", "amount"),
    (WrongRequestSum, "сумм", "exceed"),
    (WrongRequestSum, "оплат", "exceed"),
    (WrongRequestSum, "денег", "exceed"),
    (WrongRequestSum, "средств", "exceed"),
    (WrongRequestSum, "amount", "exceed"),
    (WrongRequestSum, "sum", "exceed"),
    (WrongRequestSum, "funds", "exceed"),
    (WrongRequestSum, "money", "exceed"),
    (WrongRequestSum, "total", "exceed"),
    (WrongRequestSum, "payment", "exceed"),
    // money: invalid + amount
    (WrongRequestSum, "invalid", "sum"),
    (WrongRequestSum, "incorrect", "sum"),
    (WrongRequestSum, "wrong", "sum"),
    (WrongRequestSum, "некоррект", "sum"),
    (WrongRequestSum, "неверн", "sum"),
    (WrongRequestSum, "неправильн", "sum"),
    (WrongRequestSum, "amount", "invalid"),
    (WrongRequestSum, "sum", "invalid"),
    (WrongRequestSum, "сумм", "invalid"),
    // money: "сумм" + differs
    (WrongRequestSum, "сумм", "не совпад"),
    (WrongRequestSum, "не совпад", "сумм"),
    (WrongRequestSum, "не равн", "сумм"),
    (WrongRequestSum, "не соответств", "сумм"),
    (WrongRequestSum, "отличает", "сумм"),
    // money: amount + does not match
    (WrongRequestSum, "amount", "differs"),
    (WrongRequestSum, "sum", "differs"),
    (WrongRequestSum, "does not match", "amount"),
    (WrongRequestSum, "doesn't match", "amount"),
    (WrongRequestSum, "not match", "amount"),
    (WrongRequestSum, "not equal", "amount"),
    (WrongRequestSum, "differs", "amount"),
    (WrongRequestSum, "mismatch", "amount"),
    // 2. shift word + state
    (CashiersShiftClosed, "смен", "closed"),
    (CashiersShiftClosed, "shift", "closed"),
    (CashiersShiftClosed, "закрыт", "shift"),
    (CashiersShiftClosed, "не открыт", "shift"),
    (CashiersShiftClosed, "открыт", "shift"),
    (CashiersShiftClosed, "открой", "shift"),
    (CashiersShiftClosed, "истек", "shift"),
    (CashiersShiftClosed, "превыш", "shift"),
    (CashiersShiftClosed, "24 час", "shift"),
    (CashiersShiftClosed, "closed", "shift"),
    (CashiersShiftClosed, "not open", "shift"),
    (CashiersShiftClosed, "no open", "shift"),
    (CashiersShiftClosed, "open a", "shift"),
    (CashiersShiftClosed, "open the", "shift"),
    (CashiersShiftClosed, "expired", "shift"),
    (CashiersShiftClosed, "exceed", "shift"),
    (CashiersShiftClosed, "24 hour", "shift"),
    (CashiersShiftClosed, "закрыва", "shift"),
    (CashiersShiftClosed, "closing", "shift"),
    // shift: the day being closed, Ukrainian phrases
    (CashiersShiftClosed, "close of day", ""),
    (CashiersShiftClosed, "close-of-day", ""),
    (CashiersShiftClosed, "end of day", ""),
    (CashiersShiftClosed, "end-of-day", ""),
    (CashiersShiftClosed, "day closing", ""),
    (CashiersShiftClosed, "closing the day", ""),
    (CashiersShiftClosed, "closing of the day", ""),
    (CashiersShiftClosed, "закрытие дня", ""),
    (CashiersShiftClosed, "закрытия дня", ""),
    (CashiersShiftClosed, "закриття дня", ""),
    (CashiersShiftClosed, "закриття зміни", ""),
    (CashiersShiftClosed, "касова зміна", ""),
    (CashiersShiftClosed, "касову зміну", ""),
    (CashiersShiftClosed, "касової зміни", ""),
    (CashiersShiftClosed, "зміна закрит", ""),
    (CashiersShiftClosed, "зміну закрит", ""),
    (CashiersShiftClosed, "зміна не відкрит", ""),
    (CashiersShiftClosed, "зміну не відкрит", ""),
    (CashiersShiftClosed, "зміна закрива", ""),
    (CashiersShiftClosed, "закривається зміна", ""),
    (CashiersShiftClosed, "відкрийте зміну", ""),
    // 3. printer
    (PrinterError, "принтер", ""),
    (PrinterError, "printer", ""),
    (PrinterError, "фискальн", ""),
    (PrinterError, "fiscal", ""),
    (PrinterError, "чековая лента", ""),
    (PrinterError, "чековой ленты", ""),
    (PrinterError, "чековую ленту", ""),
    (PrinterError, "paper", ""),
    (PrinterError, "бумаг", ""),
    (PrinterError, "фр", ""),
    (PrinterError, "ккт", ""),
    (PrinterError, "ккм", ""),
    (PrinterError, "fr", ""),
    (PrinterError, "kkt", ""),
    (PrinterError, "kkm", ""),
    // 4a. final status: must beat the generic "cannot close"
    (OtherError, "have final", "cannot close"),
    (OtherError, "has final", "cannot close"),
    (OtherError, "final status", "cannot close"),
    (OtherError, "финальн", "cannot close"),
    // 4b. specific close blockers
    (CloseOrderBlocked, "not fully paid", ""),
    (CloseOrderBlocked, "not paid in full", ""),
    (CloseOrderBlocked, "not completely paid", ""),
    (CloseOrderBlocked, "не полностью оплачен", ""),
    (CloseOrderBlocked, "не оплачен полностью", ""),
    (CloseOrderBlocked, "не до конца оплачен", ""),
    (CloseOrderBlocked, "сервис-чек", ""),
    (CloseOrderBlocked, "сервис чек", ""),
    (CloseOrderBlocked, "сервисчек", ""),
    (CloseOrderBlocked, "service check", ""),
    (CloseOrderBlocked, "service-check", ""),
    (CloseOrderBlocked, "kitchen ticket", ""),
    (CloseOrderBlocked, "kitchen order", ""),
    (CloseOrderBlocked, "not sent to kitchen", ""),
    (CloseOrderBlocked, "not sent to the kitchen", ""),
    (CloseOrderBlocked, "not printed", ""),
    (CloseOrderBlocked, "не напечатан", ""),
    (CloseOrderBlocked, "ненапечатан", ""),
    (CloseOrderBlocked, "неотправлен", ""),
    (CloseOrderBlocked, "не отправлен", ""),
    (CloseOrderBlocked, "не распечатан", ""),
    (CloseOrderBlocked, "нераспечатан", ""),
    // 5. bill in use
    (BillInUse, "заблок", ""),
    (BillInUse, "блокир", ""),
    (BillInUse, "занят", ""),
    (BillInUse, "редактир", ""),
    (BillInUse, "in use", ""),
    (BillInUse, "being edited", ""),
    (BillInUse, "is edited", ""),
    (BillInUse, "blocked by", ""),
    (BillInUse, "blocked on", ""),
    (BillInUse, "busy", ""),
    (BillInUse, "lock", ""),
    (BillInUse, "locked", ""),
    (BillInUse, "locks", ""),
    (BillInUse, "locking", ""),
    // bill in use: station word + open/edited there
    (BillInUse, "станци", "editing"),
    (BillInUse, "station", "editing"),
    (BillInUse, "кассе", "editing"),
    (BillInUse, "терминал", "editing"),
    (BillInUse, "terminal", "editing"),
    (BillInUse, "открыт на", "station"),
    (BillInUse, "opened on", "station"),
    (BillInUse, "open on", "station"),
    (BillInUse, "opened at", "station"),
    (BillInUse, "open at", "station"),
    (BillInUse, "edited", "station"),
    (BillInUse, "editing", "station"),
    (BillInUse, "другой станц", "station"),
    (BillInUse, "другом терминал", "station"),
    (BillInUse, "другой касс", "station"),
    (BillInUse, "another station", "station"),
    (BillInUse, "another terminal", "station"),
    (BillInUse, "other station", "station"),
    // 6. generic "cannot close"
    (CloseOrderBlocked, "cannot close", ""),
    (CloseOrderBlocked, "can't close", ""),
    (CloseOrderBlocked, "can not close", ""),
    (CloseOrderBlocked, "unable to close", ""),
    (CloseOrderBlocked, "could not close", ""),
    (CloseOrderBlocked, "couldn't close", ""),
    (CloseOrderBlocked, "failed to close", ""),
    (CloseOrderBlocked, "невозможно закрыть", ""),
    (CloseOrderBlocked, "не удалось закрыть", ""),
    (CloseOrderBlocked, "нельзя закрыть", ""),
    (CloseOrderBlocked, "не могу закрыть", ""),
    (CloseOrderBlocked, "не может быть закрыт", ""),
];

/// Every (substate, fragment) the production table holds.
fn table_fragments() -> Vec<(Substate, &'static str)> {
    TEXT_RULES
        .iter()
        .flat_map(|rule| {
            rule.any
                .iter()
                .chain(rule.words)
                .chain(rule.all.iter().flat_map(|group| group.iter()))
                .map(move |f| (rule.substate, *f))
        })
        .collect()
}

#[test]
fn the_text_table_is_exactly_the_expected_one() {
    let table = table_fragments();
    let expected: Vec<(Substate, &str)> =
        EXPECTED_FRAGMENTS.iter().map(|&(s, f, _)| (s, f)).collect();
    for pair in &table {
        assert!(expected.contains(pair), "untested table fragment {pair:?}");
    }
    for pair in &expected {
        assert!(
            table.contains(pair),
            "fragment {pair:?} is missing from the table"
        );
    }
}

#[test]
fn every_text_fragment_in_a_neutral_sentence() {
    for &(want, fragment, partner) in EXPECTED_FRAGMENTS {
        for neutral in NEUTRAL {
            let text = format!("{neutral}: {fragment} {partner}.");
            assert_eq!(rk(&text), want, "{text}");
            // Case does not matter.
            assert_eq!(rk(&text.to_uppercase()), want, "{text}");
        }
    }
}
