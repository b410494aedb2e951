//! The one translation between the domain's POS types (`posgate_core::pos`) and their wire
//! form: used by the adapter kit's gRPC server (domain → wire) and by the payment service's
//! port (wire → domain), so an outcome, a substate or a bill means the same on both ends.

use posgate_core::Money;
use posgate_core::pos::{self, BillAmounts, Outcome, PosFailure};
use posgate_core::{AmountRule, Substate};
use rust_decimal::Decimal;

use crate::v1 as pb;

/// The six substates, domain ↔ wire: the table both directions read.
const SUBSTATES: [(Substate, pb::Substate); 6] = [
    (Substate::WrongRequestSum, pb::Substate::WrongRequestSum),
    (
        Substate::CashiersShiftClosed,
        pb::Substate::CashiersShiftClosed,
    ),
    (Substate::PrinterError, pb::Substate::PrinterError),
    (Substate::CloseOrderBlocked, pb::Substate::CloseOrderBlocked),
    (Substate::BillInUse, pb::Substate::BillInUse),
    (Substate::OtherError, pb::Substate::OtherError),
];

const OUTCOMES: [(Outcome, pb::Outcome); 5] = [
    (Outcome::Applied, pb::Outcome::Applied),
    (Outcome::Rejected, pb::Outcome::Rejected),
    (Outcome::Unknown, pb::Outcome::Unknown),
    (Outcome::NotApplied, pb::Outcome::NotApplied),
    (Outcome::Pending, pb::Outcome::Pending),
];

const BILL_STATUSES: [(pos::BillStatus, pb::BillStatus); 4] = [
    (pos::BillStatus::Open, pb::BillStatus::Open),
    (pos::BillStatus::Closed, pb::BillStatus::Closed),
    (pos::BillStatus::Canceled, pb::BillStatus::Canceled),
    (pos::BillStatus::NotReady, pb::BillStatus::NotReady),
];

pub fn substate_to_pb(s: Substate) -> pb::Substate {
    SUBSTATES
        .iter()
        .find(|(d, _)| *d == s)
        .map_or(pb::Substate::OtherError, |(_, p)| *p)
}

/// A wire substate; an unset or unknown one reads as `OTHER_ERROR` (never as a retriable one).
pub fn substate_from_pb(s: i32) -> Substate {
    SUBSTATES
        .iter()
        .find(|(_, p)| *p as i32 == s)
        .map_or(Substate::OtherError, |(d, _)| *d)
}

pub fn outcome_to_pb(o: Outcome) -> pb::Outcome {
    OUTCOMES
        .iter()
        .find(|(d, _)| *d == o)
        .map_or(pb::Outcome::Unknown, |(_, p)| *p)
}

/// A wire outcome; an unset or unknown one reads as `Unknown` (never as applied or not).
pub fn outcome_from_pb(o: i32) -> Outcome {
    OUTCOMES
        .iter()
        .find(|(_, p)| *p as i32 == o)
        .map_or(Outcome::Unknown, |(d, _)| *d)
}

pub fn failure_to_pb(f: &PosFailure) -> pb::PosFailure {
    pb::PosFailure {
        substate: substate_to_pb(f.substate) as i32,
        not_found: f.not_found,
        pos_code: f.code.clone(),
        pos_text: f.text.clone(),
        transient: f.transient,
    }
}

pub fn failure_from_pb(f: pb::PosFailure) -> PosFailure {
    PosFailure {
        substate: substate_from_pb(f.substate),
        code: f.pos_code,
        text: f.pos_text,
        not_found: f.not_found,
        transient: f.transient,
    }
}

pub fn amount_rule_to_pb(r: AmountRule) -> pb::AmountRule {
    match r {
        AmountRule::Exact => pb::AmountRule::Exact,
        AmountRule::UpToDue => pb::AmountRule::UpToDue,
    }
}

/// A wire amount rule; unset reads as the strict `Exact`.
pub fn amount_rule_from_pb(r: i32) -> AmountRule {
    match pb::AmountRule::try_from(r) {
        Ok(pb::AmountRule::UpToDue) => AmountRule::UpToDue,
        _ => AmountRule::Exact,
    }
}

/// An amount at the restaurant's scale (`"978.00"`); a more precise one as it is.
pub fn money_text(d: Decimal, scale: u32) -> String {
    Money::from_decimal(d, scale).map_or_else(|| d.normalize().to_string(), |m| m.to_string())
}

fn optional_money_text(d: Option<Decimal>, scale: u32) -> String {
    d.map(|d| money_text(d, scale)).unwrap_or_default()
}

/// A domain bill on the wire, its amounts at the restaurant's scale.
pub fn bill_to_pb(restaurant_id: &str, b: &pos::Bill, scale: u32) -> pb::Bill {
    pb::Bill {
        restaurant_id: restaurant_id.to_string(),
        bill_id: b.bill_id.clone(),
        total: money_text(b.total, scale),
        amount_due: money_text(b.amount_due, scale),
        paid: money_text(b.paid, scale),
        status: BILL_STATUSES
            .iter()
            .find(|(d, _)| *d == b.status)
            .map_or(pb::BillStatus::Open, |(_, p)| *p) as i32,
        pos_status: b.pos_status.clone(),
        bill_printed: b.bill_printed,
        order_number: b.order_number.clone(),
        table: b.table.clone(),
        waiter: b.waiter.clone(),
        waiter_id: b.waiter_id.clone(),
        guests: b
            .guests
            .iter()
            .map(|g| pb::Guest {
                name: g.name.clone(),
                dishes: g
                    .dishes
                    .iter()
                    .map(|d| pb::Dish {
                        id: d.id.clone(),
                        name: d.name.clone(),
                        price: optional_money_text(d.price, scale),
                        quantity: d
                            .quantity
                            .map(|q| q.normalize().to_string())
                            .unwrap_or_default(),
                        amount: optional_money_text(d.amount, scale),
                    })
                    .collect(),
            })
            .collect(),
        currency: b.currency.clone(),
    }
}

/// The amounts of a bill on the wire (as stored before a posting); an amount that does not
/// read is unknown, not zero.
pub fn amounts_from_pb(b: &pb::Bill) -> BillAmounts {
    let read = |s: &str| {
        Money::parse(s.trim(), posgate_core::money::MAX_SCALE)
            .ok()
            .map(|m| m.value())
    };
    BillAmounts {
        total: read(&b.total),
        paid: read(&b.paid),
        due: read(&b.amount_due),
        closed: b.status == pb::BillStatus::Closed as i32,
        pos_status: b.pos_status.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every domain value has its own wire value and reads back as itself.
    #[test]
    fn every_value_round_trips() {
        for (d, p) in SUBSTATES {
            assert_eq!(substate_to_pb(d), p);
            assert_eq!(substate_from_pb(p as i32), d);
        }
        for (d, p) in OUTCOMES {
            assert_eq!(outcome_to_pb(d), p);
            assert_eq!(outcome_from_pb(p as i32), d);
        }
        for r in [AmountRule::Exact, AmountRule::UpToDue] {
            assert_eq!(amount_rule_from_pb(amount_rule_to_pb(r) as i32), r);
        }
        let distinct = |v: Vec<i32>| v.iter().collect::<std::collections::BTreeSet<_>>().len();
        assert_eq!(
            distinct(SUBSTATES.iter().map(|(_, p)| *p as i32).collect()),
            6
        );
        assert_eq!(
            distinct(BILL_STATUSES.iter().map(|(_, p)| *p as i32).collect()),
            4
        );
    }

    #[test]
    fn unset_or_unknown_wire_values_read_as_the_safe_ones() {
        assert_eq!(substate_from_pb(0), Substate::OtherError);
        assert_eq!(substate_from_pb(99), Substate::OtherError);
        assert_eq!(outcome_from_pb(0), Outcome::Unknown);
        assert_eq!(outcome_from_pb(99), Outcome::Unknown);
        assert_eq!(amount_rule_from_pb(0), AmountRule::Exact);
    }

    #[test]
    fn a_bill_s_amounts_are_shown_at_the_scale_and_read_back() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let bill = pos::Bill {
            bill_id: "b".into(),
            total: d("978"),
            amount_due: d("478.5"),
            paid: d("499.5"),
            status: pos::BillStatus::NotReady,
            guests: vec![pos::Guest {
                name: "G".into(),
                dishes: vec![pos::Dish {
                    price: Some(d("1.005")),
                    quantity: Some(d("2.000")),
                    ..Default::default()
                }],
            }],
            ..Default::default()
        };
        let p = bill_to_pb("r", &bill, 2);
        assert_eq!(
            (p.total.as_str(), p.amount_due.as_str(), p.paid.as_str()),
            ("978.00", "478.50", "499.50")
        );
        assert_eq!(p.status, pb::BillStatus::NotReady as i32);
        assert_eq!(p.guests[0].dishes[0].price, "1.005");
        assert_eq!(p.guests[0].dishes[0].quantity, "2");
        assert_eq!(p.guests[0].dishes[0].amount, "");
        let a = amounts_from_pb(&pb::Bill {
            total: "978.00".into(),
            paid: "x".into(),
            ..p
        });
        assert_eq!(
            (a.total, a.paid, a.due),
            (Some(d("978")), None, Some(d("478.5")))
        );
        assert!(!a.closed);
    }
}
