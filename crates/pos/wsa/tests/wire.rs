//! The WSA wire form through the public API: task bodies with exact money, and the lenient
//! reading of answers (codes as numbers, money as strings, missing fields).

use std::str::FromStr;

use posgate_core::Secret;
use posgate_core::Substate;
use posgate_wsa::Verdict;
use posgate_wsa::wire::*;
use rust_decimal::Decimal;
use serde_json::Value;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn money_as_number_or_string_is_exact() {
    let v: Value = serde_json::from_str(
        r#"{"a": 978.00, "b": "978.10", "c": 0.1, "d": 12345678901234.56, "e": "1,5", "f": 1e2, "g": " 7.5 ", "h": "1e2", "i": null}"#,
    )
    .unwrap();
    assert_eq!(decimal_of(&v["a"]).unwrap().to_string(), "978.00");
    assert_eq!(decimal_of(&v["b"]).unwrap().to_string(), "978.10");
    assert_eq!(decimal_of(&v["c"]), Some(dec("0.1")));
    assert_eq!(decimal_of(&v["d"]), Some(dec("12345678901234.56")));
    assert_eq!(decimal_of(&v["e"]), None);
    assert_eq!(decimal_of(&v["f"]), Some(dec("100")));
    assert_eq!(decimal_of(&v["g"]), Some(dec("7.5")));
    assert_eq!(decimal_of(&v["h"]), None);
    assert_eq!(decimal_of(&v["i"]), None);
}

#[test]
fn parses_success_with_order() {
    let body = r#"{
        "responseCommon": {"taskGuid": "t-1", "taskType": "GetOrder", "objectId": 199990246, "extra": 1},
        "taskResponse": {"order": {
            "orderGuid": "{ABC}", "status": {"value": "Created", "isBillPrinted": "true"},
            "price": {"total": 978.00, "summToPay": "478.00"},
            "products": [{"id": 1001, "name": "Борщ", "price": "489.00", "quantity": 2},
                         {"id": 7, "name": "void", "price": 1, "quantity": 1, "voidingReason": "x"},
                         "garbage"],
            "appliedPayments": [{"amount": "500.00", "guid": "p1", "payType": "Card"}],
            "waiterId": 42, "unknownField": {"deep": [1,2]}
        }}
    }"#.as_bytes();
    let env = Envelope::parse(body).unwrap();
    assert_eq!(env.task_guid.as_deref(), Some("t-1"));
    assert_eq!(env.object_id.as_deref(), Some("199990246"));
    assert!(env.error.is_none());
    let order = Order::from_task_response(env.task_response.as_ref().unwrap()).unwrap();
    assert_eq!(order.total().unwrap().to_string(), "978.00");
    assert_eq!(order.summ_to_pay(), Some(dec("478")));
    assert_eq!(order.status_value(), Some("Created"));
    assert_eq!(order.status.as_ref().unwrap().is_bill_printed, Some(true));
    assert_eq!(order.products.len(), 2);
    assert_eq!(order.products[0].id.as_deref(), Some("1001"));
    assert_eq!(order.products[0].quantity, Some(dec("2")));
    assert_eq!(order.applied_sum(), Some(dec("500")));
    assert_eq!(order.waiter_id.as_deref(), Some("42"));
    assert!(!order.is_completed());
}

#[test]
fn parses_error_with_agent_code_as_string() {
    let body = br#"{"responseCommon": {"taskGuid": "t-2", "taskType": "PayOrder", "objectId": 1},
        "error": {"wsError": {"code": "AgentError", "desc": "Agent error"},
                  "agentError": {"code": "WsaOrderError",
                                 "desc": "RkInternal: Cash station [3373] Not enough funds to pay for the order in full"}}}"#;
    let env = Envelope::parse(body).unwrap();
    let e = env.error.unwrap();
    assert_eq!(e.pos_code(), "AgentError/WsaOrderError");
    assert_eq!(
        e.text(),
        "RkInternal: Cash station [3373] Not enough funds to pay for the order in full"
    );
    assert_eq!(e.verdict(), Verdict::Rejected(Substate::WrongRequestSum));
}

#[test]
fn parses_error_with_agent_code_as_int() {
    let body = r#"{"error": {"wsError": {"code": "AgentError"},
                  "agentError": {"code": 17, "desc": "Смена закрыта"}}}"#
        .as_bytes();
    let e = Envelope::parse(body).unwrap().error.unwrap();
    assert_eq!(e.agent_code.as_deref(), Some("17"));
    assert_eq!(e.pos_code(), "AgentError/17");
    assert_eq!(
        e.verdict(),
        Verdict::Rejected(Substate::CashiersShiftClosed)
    );
}

#[test]
fn parses_ws_only_errors_and_missing_parts() {
    let e = Envelope::parse(
        br#"{"error": {"wsError": {"code": "License", "extCode": "WsAgent", "desc": "no"}}}"#,
    )
    .unwrap()
    .error
    .unwrap();
    assert_eq!(e.pos_code(), "License/WsAgent");
    assert_eq!(e.text(), "no");
    let e =
        Envelope::parse(br#"{"error": {"wsError": {"code": "Timeout"}}, "responseCommon": {}}"#)
            .unwrap()
            .error
            .unwrap();
    assert_eq!(e.verdict(), Verdict::Unknown);
    assert_eq!(e.text(), "");
    let e = Envelope::parse(br#"{"error": {"wsError": {"code": "AwaitingAnswer"}}}"#)
        .unwrap()
        .error
        .unwrap();
    assert!(e.is_awaiting_answer());
    // Empty error object counts as no error.
    let env = Envelope::parse(br#"{"responseCommon": {"taskGuid": "x"}, "error": {}}"#).unwrap();
    assert!(env.error.is_none());
    // An error given as a bare string.
    let e = Envelope::parse(br#"{"error": "Order not found"}"#)
        .unwrap()
        .error
        .unwrap();
    assert!(e.is_not_found());
}

#[test]
fn rejects_non_envelopes() {
    assert!(Envelope::parse(b"<html>502</html>").is_err());
    assert!(Envelope::parse(b"[]").is_err());
    assert!(Envelope::parse(b"{\"foo\": 1}").is_err());
    assert!(Envelope::parse(b"").is_err());
}

#[test]
fn order_list_rows() {
    let v: Value = serde_json::from_str(
        r#"{"orders": [{"orderGuid": "{A}", "sum": 978.00, "unpaid": "0", "isFinished": true}, 5]}"#,
    )
    .unwrap();
    let rows = OrderListRow::from_task_response(&v);
    assert_eq!(rows.len(), 1);
    assert!(same_guid(rows[0].order_guid.as_deref().unwrap(), "a"));
    assert_eq!(rows[0].sum.unwrap().to_string(), "978.00");
}

#[test]
fn pay_order_body_has_exact_numbers_and_hides_the_card_in_debug() {
    let params = PayOrderParams {
        order_guid: "{G}".into(),
        payments: vec![PaymentLine {
            amount: dec("978.00"),
            currency: "cur".into(),
            card_code: Some(Secret::new("CARD-4111")),
        }],
        cash_station_id: Some(3),
        cashier_id: None,
        is_full_order_required: true,
    };
    let body = task_body(&params, ModeKey::Async, 199990246, 120).unwrap();
    let text = serde_json::to_string(&body).unwrap();
    assert!(text.contains(r#""amount":978.00"#), "{text}");
    assert!(text.contains(r#""cardCode":"CARD-4111""#), "{text}");
    assert!(text.contains(r#""taskType":"PayOrder""#));
    assert!(
        text.contains(r#""async":{"objectId":199990246,"timeout":120}"#),
        "{text}"
    );
    assert!(text.contains(r#""cashStationId":3"#));
    assert!(!text.contains("cashierId"));
    assert!(text.contains(r#""isFullOrderRequired":true"#));
    let dbg = format!("{params:?}");
    assert!(!dbg.contains("CARD-4111"), "{dbg}");
    assert!(dbg.contains("978.00"));
}

#[test]
fn zero_amount_is_sent_as_a_number() {
    let line = PaymentLine {
        amount: dec("0.00"),
        currency: "c".into(),
        card_code: None,
    };
    let text = serde_json::to_string(&line).unwrap();
    assert_eq!(text, r#"{"amount":0.00,"currency":"c"}"#);
}
