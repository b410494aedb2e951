//! The r_k Delivery wire form through the public API: request bodies with exact money, and the
//! lenient reading of orders.

use posgate_delivery::wire::*;
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn reads_a_documented_order() {
    let v: Value = serde_json::from_str(
        r#"{"result": {"orderId": "59707", "id": "3f1c", "orderStatusId": 4,
            "orderStatusName": "Передан на кухню", "fullAmount": 817.00, "amount": 698.00,
            "tableCode": null, "dishList": [{"id": "d1", "name": "Борщ", "price": 349.00, "quantity": 2}]}}"#,
    )
    .unwrap();
    let o = Order::from_answer(&v).unwrap();
    assert_eq!(o.order_id.as_deref(), Some("59707"));
    assert_eq!(o.status_id, Some(4));
    assert_eq!(o.amount, Some(dec("698.00")));
    assert_eq!(o.amount.unwrap().to_string(), "698.00");
    assert_eq!(o.full_amount, Some(dec("817")));
    assert_eq!(o.table_code, None);
    assert_eq!(o.dishes.len(), 1);
    assert_eq!(o.dishes[0].quantity, Some(dec("2")));
    assert_eq!(o.paid(), Paid::NotShown);
    assert_eq!(o.status_label(), "\"Передан на кухню\" (4)");
}

#[test]
fn paid_indicators() {
    let o = |j: &str| Order::from_value(&serde_json::from_str(j).unwrap()).unwrap();
    assert_eq!(
        o(r#"{"amount": "10.50", "payments": [{"amount": 10.50}]}"#).paid(),
        Paid::Known(dec("10.50"))
    );
    assert_eq!(
        o(r#"{"amount": 0, "payments": [{"amount": 0}]}"#).has_payment_lines(),
        Some(true)
    );
    assert_eq!(
        o(r#"{"amount": 5, "paidAmount": "2"}"#).paid(),
        Paid::Known(dec("2"))
    );
    assert_eq!(
        o(r#"{"amount": 5, "isPaid": true}"#).paid(),
        Paid::Known(dec("5"))
    );
    assert_eq!(
        o(r#"{"amount": 5, "isPaid": "false"}"#).paid(),
        Paid::Known(dec("0"))
    );
    assert_eq!(
        o(r#"{"amount": 5, "orderStatusId": "11"}"#).paid(),
        Paid::Known(dec("5"))
    );
    assert_eq!(
        o(r#"{"amount": "978.00", "amountDue": "478.00"}"#).paid(),
        Paid::Known(dec("500.00"))
    );
    // "paid" as a number is an amount, as a bool a flag.
    assert_eq!(
        o(r#"{"amount": 978, "paid": 100}"#).paid(),
        Paid::Known(dec("100"))
    );
    assert_eq!(
        o(r#"{"amount": 978, "paid": true}"#).paid(),
        Paid::Known(dec("978"))
    );
    for (status, want) in [
        ("PAID", Some(true)),
        ("Оплачен", Some(true)),
        ("сплачено", Some(true)),
        ("UNPAID", Some(false)),
        ("NOT_PAID", Some(false)),
        ("не сплачено", Some(false)),
        ("Не оплачен", Some(false)),
        ("PARTIALLY_PAID", None),
        ("pending", None),
        ("NEW", None),
    ] {
        let order = o(&format!(r#"{{"amount": 5, "paymentStatus": "{status}"}}"#));
        assert_eq!(order.is_paid, want, "{status}");
        assert_eq!(order.shows_paid_state(), want.is_some(), "{status}");
    }
    assert!(!o(r#"{"amount": 5, "orderStatusId": 4}"#).shows_paid_state());
    assert!(o(r#"{"orderStatusId": 1}"#).is_not_transferred());
    assert!(!o(r#"{"orderStatusId": 12}"#).is_not_transferred());
    assert!(Order::from_value(&serde_json::json!({"x": 1})).is_none());
    // An error body is no order, whatever its `status`.
    assert!(
        Order::from_value(&serde_json::json!({"title": "Bad Request", "status": 400})).is_none()
    );
}

#[test]
fn status_and_closed_indicators() {
    let o = |j: &str| Order::from_value(&serde_json::from_str(j).unwrap()).unwrap();
    // The id decides when there is one, whatever the (configurable) name says.
    assert!(o(r#"{"orderStatusId": 11, "orderStatusName": "Доставлено"}"#).is_completed());
    assert!(!o(r#"{"orderStatusId": 9, "orderStatusName": "Completed"}"#).is_completed());
    assert!(o(r#"{"orderId": "1", "status": {"id": 11, "name": "x"}}"#).is_completed());
    assert!(o(r#"{"statusId": "12"}"#).is_cancelled());
    // Without an id: a flag, a completion time, or the name.
    for j in [
        r#"{"orderId": "1", "isClosed": true}"#,
        r#"{"orderId": "1", "completed": "true"}"#,
        r#"{"orderId": "1", "closedAt": "2024-05-01T10:00:00+03:00"}"#,
        r#"{"orderId": "1", "status": "Completed"}"#,
        r#"{"orderId": "1", "state": "ЗАКРЫТ"}"#,
        r#"{"orderId": "1", "orderStatus": {"name": "Виконано"}}"#,
    ] {
        let order = o(j);
        assert!(order.is_completed(), "{j}");
        assert!(!order.is_cancelled(), "{j}");
    }
    for j in [
        r#"{"orderId": "1", "status": "Cancelled"}"#,
        r#"{"orderId": "1", "statusName": "Скасовано"}"#,
    ] {
        assert!(o(j).is_cancelled(), "{j}");
    }
    assert!(!o(r#"{"orderId": "1", "status": "Not completed"}"#).is_completed());
    let open =
        o(r#"{"orderId": "1", "status": "Cooking", "isClosed": false, "completedAt": null}"#);
    assert!(!open.is_completed() && !open.is_cancelled());
    assert_eq!(open.status_text(), "Cooking");
}

#[test]
fn search_shapes() {
    for j in [
        r#"{"result": [{"orderId": "1"}]}"#,
        r#"{"result": {"items": [{"orderId": "1"}], "totalCount": 1}}"#,
        r#"{"result": {"orders": [{"orderId": "1"}]}}"#,
        r#"[{"orderId": "1"}]"#,
    ] {
        let v: Value = serde_json::from_str(j).unwrap();
        assert_eq!(orders_of_search(&v).unwrap().len(), 1, "{j}");
    }
    assert!(orders_of_search(&serde_json::json!({"result": {}})).is_none());
}

#[test]
fn pay_body_keeps_exact_amounts() {
    let body = pay_body(&[PayLine {
        code: "16D7".into(),
        amount: dec("978.00"),
        paid_at: "2022-04-05T15:12:58.658+03:00".into(),
        name: String::new(),
    }])
    .unwrap();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"[{"code":"16D7","amount":978.00,"paidAt":"2022-04-05T15:12:58.658+03:00","name":""}]"#
    );
}
