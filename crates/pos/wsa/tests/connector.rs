//! How White Server orders read as bills (amounts, statuses, guests and dishes), when a
//! PayOrder closed the order, and the was-it-applied comparison on them, through the public
//! API.

use posgate_core::Money;
use posgate_core::pos::{BillAmounts, BillStatus, Outcome, judge_posting};
use posgate_pos_kit::PosConnector;
use posgate_pos_kit::testkit::dec;
use posgate_wsa::AgentVersion;
use posgate_wsa::connector::{Restaurant, amounts, bill_status, pay_closed_bill};
use posgate_wsa::wire::{Order, OrderListRow};

fn order(json: &str) -> Order {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    Order::from_task_response(&v).unwrap()
}

/// A restaurant with the required settings (nothing is sent anywhere).
fn connected() -> Restaurant {
    let conn = posgate_pos_kit::testkit::connection(
        &[
            ("base_url", "https://ws.example"),
            ("object_id", "199990246"),
            ("agent_version", "v2"),
            ("currency_guid", "cur-1"),
        ],
        &[("token", "tok-SECRET-42")],
    );
    posgate_wsa::WsaConnector::new()
        .unwrap()
        .connect(&conn)
        .unwrap()
}

#[test]
fn amounts_from_summ_to_pay_applied_payments_and_list_row() {
    let o = order(
        r#"{"order": {"status": {"value": "Created"}, "price": {"total": 978.00, "summToPay": 478.00}}}"#,
    );
    assert_eq!(
        amounts(&o, None),
        Some((dec("978"), dec("500"), dec("478")))
    );
    let o = order(
        r#"{"order": {"price": {"total": "978.00"}, "appliedPayments": [{"amount": 100}, {"amount": "200.50"}]}}"#,
    );
    let (_, paid, due) = amounts(&o, None).unwrap();
    assert_eq!((paid, due), (dec("300.50"), dec("677.50")));
    let o = order(r#"{"order": {"status": {"value": "Created"}}}"#);
    assert!(amounts(&o, None).is_none());
    let row = OrderListRow {
        sum: Some(dec("978")),
        unpaid: Some(dec("78")),
        ..Default::default()
    };
    assert_eq!(
        amounts(&o, Some(&row)),
        Some((dec("978"), dec("900"), dec("78")))
    );
    let o = order(r#"{"order": {"status": {"value": "Complited"}, "price": {"total": 10}}}"#);
    assert_eq!(amounts(&o, None), Some((dec("10"), dec("10"), dec("0"))));
    let o = order(
        r#"{"order": {"products": [{"price": "10.50", "quantity": 2}, {"price": 1, "quantity": 1, "voidingReason": "x"}]}}"#,
    );
    assert_eq!(amounts(&o, None).unwrap().0, dec("21"));
}

#[test]
fn statuses_map() {
    assert_eq!(bill_status(Some("Created"), None), BillStatus::Open);
    assert_eq!(bill_status(Some("Complited"), None), BillStatus::Closed);
    assert_eq!(bill_status(Some("Canceled"), None), BillStatus::Canceled);
    assert_eq!(
        bill_status(Some("restaurantcancelled"), None),
        BillStatus::Canceled
    );
    assert_eq!(bill_status(Some("Confirmed"), None), BillStatus::NotReady);
    assert_eq!(bill_status(Some("IssuedOut"), None), BillStatus::Open);
    assert_eq!(bill_status(None, Some(true)), BillStatus::Closed);
    assert_eq!(bill_status(None, None), BillStatus::Open);
}

#[test]
fn bill_has_guests_and_dishes() {
    let r = connected();
    let o = order(
        r#"{"order": {"status": {"value": "Created", "isBillPrinted": true}, "price": {"total": 978.00},
            "products": [{"id": 1, "name": "A", "price": 489, "quantity": 2}],
            "waiterId": 7, "tableCode": "12", "orderNumber": 55}}"#,
    );
    let b = r.bill_of("g", &o, None).unwrap();
    assert_eq!(
        (b.total, b.amount_due, b.paid),
        (dec("978"), dec("978"), dec("0"))
    );
    assert!(b.bill_printed);
    assert_eq!((b.waiter_id.as_str(), b.table.as_str()), ("7", "12"));
    assert_eq!(b.order_number, "55");
    assert_eq!(b.currency, "cur-1");
    assert_eq!(b.guests.len(), 1);
    assert_eq!(b.guests[0].dishes[0].amount, Some(dec("978")));
    assert_eq!(b.guests[0].dishes[0].quantity, Some(dec("2")));
    let o = order(
        r#"{"order": {"price": {"total": 3}, "guests": [{"name": "Anna", "products": [{"id": "x", "price": 1, "quantity": 1}]}, {"products": [{"id": "y", "price": "1.005", "quantity": 1}]}]}}"#,
    );
    let b = r.bill_of("g", &o, None).unwrap();
    assert_eq!(b.guests.len(), 2);
    assert_eq!(b.guests[0].name, "Anna");
    assert_eq!(b.guests[1].name, "Guest 2");
    // A computed line amount is rounded at the restaurant's scale, half away from zero.
    assert_eq!(b.guests[1].dishes[0].amount, Some(dec("1.01")));
}

/// The order's own status decides "closed now": a bill closed only by its list row is not.
#[test]
fn a_check_judges_the_order_now_against_the_bill_before() {
    let r = connected();
    let judge = |before: &BillAmounts, json: &str, amount: &str| {
        let o = order(json);
        let b = r.bill_of("b", &o, None).unwrap();
        let now = BillAmounts {
            closed: o.is_completed(),
            ..b.amounts()
        };
        let j = judge_posting(Some(before), &now, Money::parse(amount, 2).unwrap().value());
        (j.outcome, j.closed)
    };
    let before = BillAmounts {
        total: Some(dec("978")),
        paid: Some(dec("0")),
        due: Some(dec("978")),
        closed: false,
        pos_status: "Created".into(),
    };
    let closed =
        r#"{"order": {"status": {"value": "Complited"}, "price": {"total": 978, "summToPay": 0}}}"#;
    assert_eq!(judge(&before, closed, "978.00"), (Outcome::Applied, true));
    let open =
        r#"{"order": {"status": {"value": "Created"}, "price": {"total": 978, "summToPay": 978}}}"#;
    assert_eq!(judge(&before, open, "978.00"), (Outcome::NotApplied, false));
    // v1 prepayment: paid grew by the amount, still open.
    let part =
        r#"{"order": {"status": {"value": "Created"}, "price": {"total": 978, "summToPay": 678}}}"#;
    assert_eq!(judge(&before, part, "300"), (Outcome::Applied, false));
    // Paid changed by a different amount: unknown.
    let other =
        r#"{"order": {"status": {"value": "Created"}, "price": {"total": 978, "summToPay": 900}}}"#;
    assert_eq!(judge(&before, other, "300").0, Outcome::Unknown);
}

#[test]
fn v1_pay_closes_only_when_completed() {
    let o = order(
        r#"{"order": {"status": {"value": "Created"}, "price": {"total": 10, "summToPay": 0}}}"#,
    );
    assert!(!pay_closed_bill(AgentVersion::V1, Some(&o)));
    let o = order(r#"{"order": {"status": {"value": "Complited"}}}"#);
    assert!(pay_closed_bill(AgentVersion::V1, Some(&o)));
    let o = order(r#"{"order": {"price": {"total": 10, "summToPay": 0}}}"#);
    assert!(pay_closed_bill(AgentVersion::V1, Some(&o)));
    assert!(pay_closed_bill(AgentVersion::V2, None));
}
