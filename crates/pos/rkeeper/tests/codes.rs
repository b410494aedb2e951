//! r_keeper's own error codes through the public API: finding them in a text, and the
//! substate each known one means.

use posgate_core::Substate;
use posgate_rkeeper::codes::*;

/// A station named with a hyphen or an underscore still opens the message, so the bracket
/// after it is the error's code.
#[test]
fn hyphenated_and_underscored_station_names_open_the_message() {
    for text in [
        "Front-desk cash station [3373] printer is offline",
        "pos_main station [3373] printer is offline",
    ] {
        assert_eq!(rk_error_codes(text), vec![3373], "{text}");
    }
    // Four words before the bracket: not where a code stands.
    assert!(rk_error_codes("the very front desk station [3373] x").is_empty());
}

fn codes(text: &str) -> Vec<u32> {
    rk_error_codes(text)
}

#[test]
fn codes_are_unique_in_the_table() {
    for (i, r) in RK_CODES.iter().enumerate() {
        assert!(
            RK_CODES[i + 1..].iter().all(|o| o.code != r.code),
            "{} twice",
            r.code
        );
    }
}

#[test]
fn bracketed_code_opening_the_message() {
    assert_eq!(codes("Checkout [3373] Not enough funds"), [3373]);
    assert_eq!(codes("Cash station [3071] Cannot save order 1.73"), [3071]);
    assert_eq!(
        codes("RkInternal: Касса [3071] Невозможно закрыть заказ"),
        [3071]
    );
    assert_eq!(
        codes("WS Error: Error Code: WsaOrderError. RkInternal: Кассовая станция [3373] x"),
        [3373]
    );
    assert_eq!(codes("[2172] смена"), [2172]);
    assert_eq!(codes("Ошибка (2133): смена открыта слишком давно"), [2133]);
    assert_eq!(codes("Cash station [ 3373 ] Not enough funds"), [3373]);
}

#[test]
fn bracketed_code_after_a_plain_word() {
    assert_eq!(
        codes("There is not enough money to pay it in full (3373)"),
        [3373]
    );
    assert_eq!(codes("Визит не может быть завершён, ошибка [2129]"), [2129]);
}

#[test]
fn labelled_codes() {
    assert_eq!(
        codes("UCSERR(2172): В данный момент закрывается общая смена"),
        [2172]
    );
    assert_eq!(codes("ucserr 2172"), [2172]);
    assert_eq!(
        codes(r#"<RK7QueryResult ErrorText="Визит 1159 закрыт!" RK7ErrorN="2128"/>"#),
        [2128]
    );
    assert_eq!(codes("<RK7QueryResult RK7ErrorN='2128'/>"), [2128]);
    assert_eq!(codes("ErrorCode=2129"), [2129]);
    assert_eq!(codes(r#"{"errorCode": "2133"}"#), [2133]);
    assert_eq!(codes("error code: 3373"), [3373]);
    assert_eq!(codes("Код ошибки: 3071"), [3071]);
}

#[test]
fn codes_inside_html_and_xml_pages() {
    assert_eq!(
        codes("<html><body><p>RK7ErrorN=&quot;2172&quot;</p></body></html>"),
        [2172]
    );
    assert_eq!(
        codes("<table><tr><td>RK7ErrorN</td><td>2129</td></tr></table>"),
        [2129]
    );
    assert_eq!(
        codes("<Errors><Error RK7ErrorN=\"3071\">Касса</Error></Errors>"),
        [3071]
    );
    assert_eq!(codes("<ErrorCode>3373</ErrorCode>"), [3373]);
    assert_eq!(
        codes("<h1>Error</h1><p>Checkout [3373] Not enough funds</p>"),
        [3373]
    );
}

#[test]
fn labelled_codes_come_first_and_repeats_are_dropped() {
    assert_eq!(
        codes(r#"<RK7QueryResult ErrorText="Касса [3071] x" RK7ErrorN="3373"/>"#),
        [3373, 3071]
    );
    assert_eq!(codes(r#"Касса [3071] x RK7ErrorN="3071""#), [3071]);
}

#[test]
fn ids_and_amounts_are_not_codes() {
    for text in [
        "Order 1.1002 is locked by station [3373]",
        "Заказ 1.1002 редактируется на кассовой станции [3373]",
        "Смена на кассовой станции [3] закрыта",
        "Заказ [2129] заблокирован",
        "Order (2172) is closed",
        "Сумма оплаты [3373] превышает сумму заказа",
        "Payment amount (3071) exceeds the order amount",
        "Стол [2128] занят",
        "Order № (3071) closed",
        "Визит 1159 закрыт!",
        "Cash station 3373 Not enough funds",
        "Order 3373 is locked",
        "Cash station [33.73] x",
        "Cash station [3373a] x",
        "Cash station [1234567] x",
        "Error Code: WsaOrderError",
        "ErrorCode=2128.50",
        "Заказ [{ABC-1}] удален",
        "Валюта [840] не найдена",
        "",
    ] {
        assert_eq!(codes(text), Vec::<u32>::new(), "{text}");
    }
}

#[test]
fn a_label_inside_a_word_is_not_a_label() {
    assert_eq!(codes("lastErrorCode=2128"), Vec::<u32>::new());
}

#[test]
fn known_code_skips_unknown_ones() {
    assert_eq!(
        known_rk_code("Касса [15] x UCSERR(2172)"),
        Some(RkCode {
            code: 2172,
            substate: Substate::CashiersShiftClosed
        })
    );
    assert_eq!(known_rk_code("Касса [15] x"), None);
    assert_eq!(rk_code_substate(15), None);
}
