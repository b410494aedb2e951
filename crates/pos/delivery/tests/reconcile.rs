//! The reconciliation table (was an unanswered /pay applied?) through its public API: the
//! decision for every kind of evidence, with and without a close asked, and the evidence read
//! from an order and from the `/complete` probe.

mod common;

use common::{bill_of, order};
use posgate_core::Money;
use posgate_core::pos::{BillAmounts, Outcome};
use posgate_delivery::classify::Failure;
use posgate_delivery::reconcile::{Decision, Evidence, decide, from_complete, from_order};
use posgate_rkeeper::Verdict;

#[test]
fn the_table() {
    use Evidence as E;
    let ans = Decision::Answer;
    let rows = [
        (E::Unreadable, ans(Outcome::Unknown, false)),
        (E::PaidGrew { closed: false }, ans(Outcome::Applied, false)),
        (E::PaidGrew { closed: true }, ans(Outcome::Applied, true)),
        (E::Unclear { closed: false }, ans(Outcome::Unknown, false)),
        (E::CompletedSince, ans(Outcome::Applied, true)),
        (E::PaidUnchanged, ans(Outcome::NotApplied, false)),
        (E::Cancelled, ans(Outcome::Unknown, false)),
        (E::CompleteSucceeded, ans(Outcome::Applied, true)),
        (E::CompleteNotPaid, ans(Outcome::NotApplied, false)),
        (E::CompleteFailed, ans(Outcome::Unknown, false)),
    ];
    for (e, want) in rows {
        // The payment's close wish matters only where the order is silent.
        assert_eq!(decide(e, true), want, "{e:?}");
        assert_eq!(decide(e, false), want, "{e:?}");
    }
    assert_eq!(decide(E::Silent, true), Decision::ProbeWithComplete);
    assert_eq!(decide(E::Silent, false), ans(Outcome::Unknown, false));
}

fn before(paid: &str, due: &str) -> BillAmounts {
    BillAmounts {
        total: Some("100.00".parse().unwrap()),
        paid: paid.parse().ok(),
        due: due.parse().ok(),
        closed: false,
        pos_status: "Передан на кухню".into(),
    }
}

fn evidence(b: Option<&BillAmounts>, json: &str, amount: &str) -> Evidence {
    let o = order(json);
    let now = bill_of(&o);
    let (e, why) = from_order(b, &o, &now, Money::parse(amount, 2).unwrap(), 2);
    assert!(why.contains("the order is now"), "{why}");
    e
}

#[test]
fn evidence_from_an_order_with_a_paid_state() {
    let b = before("0.00", "100.00");
    let paid =
        r#"{"orderStatusId": 4, "amount": 100, "payments": [{"amount": 100.00}], "isPaid": true}"#;
    let unpaid = r#"{"orderStatusId": 4, "amount": 100, "payments": [], "isPaid": false}"#;
    let partly = r#"{"orderStatusId": 4, "amount": 100, "payments": [{"amount": 30}]}"#;
    let status_only = r#"{"orderStatusId": 4, "amount": 100, "paymentStatus": "PAID"}"#;
    let due_only = r#"{"orderStatusId": 4, "amount": 100, "amountDue": 100}"#;
    let e = |b: Option<&BillAmounts>, j: &str| evidence(b, j, "100.00");
    assert_eq!(e(Some(&b), paid), Evidence::PaidGrew { closed: false });
    assert_eq!(
        e(Some(&b), status_only),
        Evidence::PaidGrew { closed: false }
    );
    assert_eq!(e(Some(&b), unpaid), Evidence::PaidUnchanged);
    assert_eq!(e(Some(&b), due_only), Evidence::PaidUnchanged);
    assert_eq!(e(Some(&b), partly), Evidence::Unclear { closed: false });
    assert_eq!(e(None, unpaid), Evidence::PaidUnchanged);
    assert_eq!(e(None, paid), Evidence::Unclear { closed: false });
    let done = r#"{"orderStatusId": 11, "amount": 100, "payments": [{"amount": 100}]}"#;
    assert_eq!(e(Some(&b), done), Evidence::PaidGrew { closed: true });
    // Completed although the paid state shows nothing: r_k Delivery completes only
    // paid orders.
    let done_no_lines = r#"{"orderStatusId": 11, "amount": 100, "payments": []}"#;
    assert_eq!(e(Some(&b), done_no_lines), Evidence::CompletedSince);
    // Fully discounted: a line of 0 tells.
    let zb = before("0.00", "0.00");
    let z = |j: &str| evidence(Some(&zb), j, "0");
    assert_eq!(
        z(r#"{"orderStatusId": 4, "amount": 0, "payments": [{"amount": 0}], "isPaid": true}"#),
        Evidence::PaidGrew { closed: false }
    );
    assert_eq!(
        z(r#"{"orderStatusId": 4, "amount": 0, "payments": [], "isPaid": false}"#),
        Evidence::PaidUnchanged
    );
    assert_eq!(
        z(r#"{"orderStatusId": 4, "amount": 0, "paidAmount": 0}"#),
        Evidence::Unclear { closed: false }
    );
}

#[test]
fn evidence_from_an_order_without_a_paid_state() {
    let b = before("0.00", "100.00");
    let e = |b: Option<&BillAmounts>, j: &str| evidence(b, j, "100.00");
    assert_eq!(
        e(Some(&b), r#"{"orderStatusId": 5, "amount": 100}"#),
        Evidence::Silent
    );
    assert_eq!(
        e(Some(&b), r#"{"orderStatusId": 11, "amount": 100}"#),
        Evidence::CompletedSince
    );
    // Other ways of saying completed.
    for j in [
        r#"{"orderId": "1", "amount": 100, "isClosed": true}"#,
        r#"{"orderId": "1", "amount": 100, "status": "Completed"}"#,
        r#"{"orderId": "1", "amount": 100, "closedAt": "2024-05-01T10:00:00+03:00"}"#,
    ] {
        assert_eq!(e(Some(&b), j), Evidence::CompletedSince, "{j}");
    }
    assert_eq!(
        e(None, r#"{"orderStatusId": 11, "amount": 100}"#),
        Evidence::Unclear { closed: true }
    );
    assert_eq!(
        e(Some(&b), r#"{"orderStatusId": 12, "amount": 100}"#),
        Evidence::Cancelled
    );
}

#[test]
fn evidence_from_the_complete_probe() {
    let refused = |code: &str, text: &str| -> Result<Option<String>, Failure> {
        Err(Failure {
            request_id: Some("rq-7".into()),
            ..Failure::ours(Verdict::Unknown, code, text)
        })
    };
    let (e, why) = from_complete(&Ok(Some("rq-1".into())));
    assert_eq!(e, Evidence::CompleteSucceeded);
    assert!(why.contains("rq-1"), "{why}");
    let (e, why) = from_complete(&refused(
        "rk7_close_order",
        "RkInternal: Checkout [3071] Unable to close order 1.73, it is not fully paid.",
    ));
    assert_eq!(e, Evidence::CompleteNotPaid);
    assert!(why.contains("[3071]") && why.contains("rq-7"), "{why}");
    let (e, _) = from_complete(&refused("ERR_EXTERNAL_ERROR_WS", "Request timed out"));
    assert_eq!(e, Evidence::CompleteFailed);
}
