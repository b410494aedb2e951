//! How r_k Delivery orders read as bills, the bill ids it takes and what it can do, through
//! the public API.

mod common;

use common::{connected, dec, order};
use posgate_core::pos::BillStatus;
use posgate_delivery::DeliveryConnector;
use posgate_delivery::connector::bill_status;
use posgate_pos_kit::PosConnector;

#[test]
fn statuses_map() {
    let s = |id: i64| bill_status(&order(&format!(r#"{{"orderStatusId": {id}}}"#)));
    for id in 1..=3 {
        assert_eq!(s(id), BillStatus::NotReady);
    }
    for id in [4, 5, 6, 7, 8, 9, 10, 13, 14] {
        assert_eq!(s(id), BillStatus::Open);
    }
    assert_eq!(s(11), BillStatus::Closed);
    assert_eq!(s(12), BillStatus::Canceled);
    assert_eq!(bill_status(&order(r#"{"amount": 1}"#)), BillStatus::Open);
}

#[test]
fn bill_from_an_order() {
    let r = connected();
    let o = order(
        r#"{"orderId": "1002", "orderStatusId": 4, "orderStatusName": "Передан на кухню",
            "amount": 1290.00, "fullAmount": 1350.00, "tableCode": "12",
            "dishList": [{"id": "a", "name": "Стейк", "price": 1150.00, "quantity": 1},
                         {"id": "b", "name": "Лимонад", "price": 70.005, "quantity": 2}]}"#,
    );
    let b = r.bill_of("1002", &o).unwrap();
    assert_eq!(
        (b.total, b.amount_due, b.paid),
        (dec("1290"), dec("1290"), dec("0"))
    );
    assert_eq!(b.status, BillStatus::Open);
    assert_eq!(b.pos_status, "Передан на кухню");
    assert_eq!(b.table, "12");
    assert_eq!(b.order_number, "1002");
    assert_eq!(b.currency, "cur");
    assert_eq!(b.guests.len(), 1);
    let dishes = &b.guests[0].dishes;
    assert_eq!(dishes[0].amount, Some(dec("1150.00")));
    assert_eq!(
        dishes[1].amount,
        Some(dec("140.01")),
        "rounded at the scale"
    );
    assert_eq!(dishes[1].price, Some(dec("70.005")), "as it is");

    let amounts = |json: &str| {
        let b = r.bill_of("1", &order(json)).unwrap();
        (b.paid, b.amount_due)
    };
    assert_eq!(
        amounts(r#"{"orderStatusId": 4, "amount": 100, "payments": [{"amount": 100}]}"#),
        (dec("100"), dec("0"))
    );
    assert_eq!(
        amounts(r#"{"orderStatusId": 4, "amount": 100, "payments": [{"amount": 130}]}"#),
        (dec("130"), dec("0")),
        "overpaid: nothing due"
    );
    assert_eq!(
        amounts(r#"{"orderStatusId": 11, "amount": 100}"#),
        (dec("100"), dec("0"))
    );
    assert_eq!(
        amounts(r#"{"orderStatusId": 12, "amount": 100}"#),
        (dec("0"), dec("0"))
    );
    assert_eq!(
        amounts(r#"{"orderStatusId": 12, "amount": 100, "paidAmount": 40}"#),
        (dec("40"), dec("0"))
    );
    assert!(r.bill_of("1", &order(r#"{"orderStatusId": 4}"#)).is_none());
}

#[test]
fn bill_ids() {
    let c = DeliveryConnector::new().unwrap();
    assert_eq!(c.bill_id("102").unwrap(), "102");
    assert_eq!(c.bill_id(" 3f1c-a_b ").unwrap(), "3f1c-a_b");
    assert_eq!(c.bill_id(" ").unwrap_err(), "is required");
    for bad in ["1/2", "1?x", "../x", &"9".repeat(65)] {
        let e = c.bill_id(bad).unwrap_err();
        assert!(e.contains("is not an r_k Delivery orderId"), "{bad}: {e}");
    }
}

#[test]
fn what_delivery_can_do() {
    let caps = DeliveryConnector::new().unwrap().capabilities(&connected());
    assert!(caps.separate_close_step);
    assert_eq!(caps.amount_rule, posgate_core::AmountRule::Exact);
    assert!(!caps.supports_tips && !caps.supports_points && !caps.supports_fiscal_data);
    assert!(!caps.cannot_read_bills);
    assert_eq!(
        caps.settle_ms,
        190_000 + posgate_delivery::settings::DEFAULT_SETTLE_MARGIN_MS
    );
}
