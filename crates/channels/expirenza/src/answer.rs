//! What posgate's answers mean to Expirenza: a payment's state → `SUCCESS` / `FAIL` +
//! substate, and a POS bill → the callback's `orderNumber`, `guests[]`, `waiter`.
//!
//! # Payment state → payBill answer
//! | payment | answer |
//! |---|---|
//! | `CLOSED`, or `PAID` with `final` (a POS without a close step) | `SUCCESS` |
//! | `RETRYING` with a substate | `FAIL` + that substate, `stackTraceMessage` = the POS's raw text |
//! | `NEEDS_ATTENTION` with a substate | `FAIL` + that substate (OTHER_ERROR stops Expirenza's retries) |
//! | `NEEDS_ATTENTION` without one (the outcome stayed unknown) | `FAIL OTHER_ERROR`: a person must look at the bill |
//! | anything else at the answer deadline: `ACCEPTED`, `POSTING`, `PAID` before its close, `CLOSING`, `OUTCOME_UNKNOWN`, `RETRYING` without a substate (POS unreachable) | `FAIL` + the configured *pending* substate (default `BILL_IN_USE`, retriable) |
//!
//! Never `SUCCESS` without the POS's confirmation. The pending substate is retriable, so
//! Expirenza repeats `payBill`, and the repeat gets the payment's then-current state without
//! posting again.

use std::str::FromStr;

use posgate_core::Substate;
use posgate_proto::v1::{self as pb, PaymentState};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::wire::{CbDish, CbGuest, CbOrder, Discounts, number, number_text};

/// The answer to a payBill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Success,
    Fail { substate: Substate, message: String },
}

impl Verdict {
    pub fn fail(substate: Substate, message: impl Into<String>) -> Self {
        Verdict::Fail {
            substate,
            message: message.into(),
        }
    }
}

pub fn payment_state(p: &pb::Payment) -> PaymentState {
    PaymentState::try_from(p.state).unwrap_or(PaymentState::Unspecified)
}

/// The payment's substate in posgate-core terms (None for UNSPECIFIED).
pub fn payment_substate(p: &pb::Payment) -> Option<Substate> {
    match pb::Substate::try_from(p.substate).unwrap_or(pb::Substate::Unspecified) {
        pb::Substate::Unspecified => None,
        pb::Substate::WrongRequestSum => Some(Substate::WrongRequestSum),
        pb::Substate::CashiersShiftClosed => Some(Substate::CashiersShiftClosed),
        pb::Substate::PrinterError => Some(Substate::PrinterError),
        pb::Substate::CloseOrderBlocked => Some(Substate::CloseOrderBlocked),
        pb::Substate::BillInUse => Some(Substate::BillInUse),
        pb::Substate::OtherError => Some(Substate::OtherError),
    }
}

/// Whether the POS confirmed the payment (and the close, where the POS has one).
pub fn is_success(p: &pb::Payment) -> bool {
    match payment_state(p) {
        PaymentState::Closed => true,
        PaymentState::Paid => p.r#final,
        _ => false,
    }
}

fn reason(p: &pb::Payment, s: Substate) -> String {
    if !p.pos_text.trim().is_empty() {
        p.pos_text.clone()
    } else if !p.recommendation.trim().is_empty() {
        p.recommendation.clone()
    } else {
        format!("posgate: {s}")
    }
}

/// The answer once the POS has had its say; `None` while the outcome is still open.
pub fn settled(p: &pb::Payment) -> Option<Verdict> {
    if is_success(p) {
        return Some(Verdict::Success);
    }
    match payment_state(p) {
        PaymentState::NeedsAttention => Some(match payment_substate(p) {
            Some(s) => Verdict::fail(s, reason(p, s)),
            None => Verdict::fail(
                Substate::OtherError,
                format!(
                    "posgate could not learn whether the POS applied payment {}; staff must check the bill in the POS{}",
                    p.payment_id,
                    suffix(&p.pos_text)
                ),
            ),
        }),
        PaymentState::Retrying => payment_substate(p).map(|s| Verdict::fail(s, reason(p, s))),
        _ => None,
    }
}

fn suffix(text: &str) -> String {
    if text.trim().is_empty() {
        String::new()
    } else {
        format!(" ({})", text.trim())
    }
}

/// The answer at the deadline: the settled one, else `pending` with what is known.
pub fn at_deadline(p: &pb::Payment, pending: Substate) -> Verdict {
    if let Some(v) = settled(p) {
        return v;
    }
    let id = &p.payment_id;
    let message = match payment_state(p) {
        PaymentState::Retrying => format!(
            "posgate: the POS could not be reached for payment {id}{}; it is retried{}; repeat payBill for the outcome",
            suffix(&format!("{} {}", p.pos_code, p.pos_text)),
            if p.next_attempt_at.is_empty() {
                String::new()
            } else {
                format!(" at {}", p.next_attempt_at)
            }
        ),
        PaymentState::OutcomeUnknown => format!(
            "posgate: the POS has not confirmed payment {id} yet (outcome unknown, the bill is being checked; nothing will be posted twice); repeat payBill for the outcome"
        ),
        s => format!(
            "posgate: payment {id} is still {} at the POS; repeat payBill for the outcome",
            s.as_str_name()
        ),
    };
    Verdict::fail(pending, message)
}

// ------------------------------------------------------------------------------------------
// Bill → callback fields.
// ------------------------------------------------------------------------------------------

/// `orderNumber` is an int in Expirenza's schema; a POS number that is not one is left out.
pub fn order_number(bill: &pb::Bill) -> Option<i64> {
    bill.order_number.trim().parse().ok()
}

/// `guests[]` with `dishes[]` from the POS bill.
pub fn guests(bill: &pb::Bill) -> Vec<CbGuest> {
    let order_no = order_number(bill);
    bill.guests
        .iter()
        .enumerate()
        .map(|(gi, g)| CbGuest {
            name: if g.name.trim().is_empty() {
                format!("Guest {}", gi + 1)
            } else {
                g.name.clone()
            },
            dishes: g
                .dishes
                .iter()
                .enumerate()
                .map(|(di, d)| CbDish {
                    category: String::new(),
                    category_id: String::new(),
                    check_number: String::new(),
                    count: number_text(&d.quantity),
                    dish_id: d.id.clone(),
                    linked_to: String::new(),
                    name: d.name.clone(),
                    order_number: order_no,
                    position_id: format!("{}.{}", gi + 1, di + 1),
                    sum: dish_sum(d),
                    tax_category: String::new(),
                    tax_category_id: String::new(),
                    kind: "dish".into(),
                })
                .collect(),
        })
        .collect()
}

fn dish_sum(d: &pb::Dish) -> serde_json::Number {
    if !d.amount.trim().is_empty() {
        return number_text(&d.amount);
    }
    let price = Decimal::from_str(d.price.trim()).unwrap_or_default();
    let qty = Decimal::from_str(d.quantity.trim()).unwrap_or_default();
    number(price.checked_mul(qty).unwrap_or_default())
}

fn opt(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_string())
}

/// `waiter`, `waiterId` (None when the POS does not say).
pub fn waiter(bill: &pb::Bill) -> (Option<String>, Option<String>) {
    (opt(&bill.waiter), opt(&bill.waiter_id))
}

/// `tableNumber`: an int in Expirenza's schema; kept as text when the POS's is not a number.
pub fn table_number(table: &str) -> Value {
    match table.trim().parse::<i64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::from(table.trim()),
    }
}

/// An order of `/callback/getBill`. `totalSum` is what is still to pay (what payBill's `sum`
/// is compared with); `rawSum` the bill's total.
pub fn order(bill: &pb::Bill) -> CbOrder {
    let (waiter, waiter_id) = waiter(bill);
    let status = pb::BillStatus::try_from(bill.status).unwrap_or(pb::BillStatus::Unspecified);
    CbOrder {
        bill_id: bill.bill_id.clone(),
        bonus_sum: number(Decimal::ZERO),
        discounts: Discounts { list: Vec::new() },
        guests: guests(bill),
        is_banquet_order: false,
        is_delivery: false,
        order_number: order_number(bill),
        raw_sum: number_text(&bill.total),
        split_available: false,
        state: match status {
            pb::BillStatus::Closed => "PAYED",
            _ if bill.bill_printed => "BILL",
            _ => "NEW",
        }
        .into(),
        table_id: bill.table.clone(),
        total_sum: number_text(&bill.amount_due),
        waiter: waiter.unwrap_or_default(),
        waiter_id: waiter_id.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pay(state: PaymentState, sub: pb::Substate, fin: bool) -> pb::Payment {
        pb::Payment {
            payment_id: "p1".into(),
            state: state as i32,
            substate: sub as i32,
            r#final: fin,
            pos_code: "AgentError/WsaOrderError".into(),
            pos_text: "RkInternal: Заказ редактируется на станции 3".into(),
            recommendation: "leave the edit screen".into(),
            ..Default::default()
        }
    }

    #[test]
    fn success_only_with_the_pos_confirmation() {
        use PaymentState as S;
        assert_eq!(
            settled(&pay(S::Closed, pb::Substate::Unspecified, true)),
            Some(Verdict::Success)
        );
        assert_eq!(
            settled(&pay(S::Paid, pb::Substate::Unspecified, true)),
            Some(Verdict::Success)
        );
        for s in [S::Accepted, S::Posting, S::Closing, S::OutcomeUnknown] {
            assert_eq!(
                settled(&pay(s, pb::Substate::Unspecified, false)),
                None,
                "{s:?}"
            );
            let v = at_deadline(
                &pay(s, pb::Substate::Unspecified, false),
                Substate::BillInUse,
            );
            assert!(
                matches!(
                    v,
                    Verdict::Fail {
                        substate: Substate::BillInUse,
                        ..
                    }
                ),
                "{s:?}: {v:?}"
            );
        }
        // PAID with a close still to do is not success.
        assert_eq!(
            settled(&pay(S::Paid, pb::Substate::Unspecified, false)),
            None
        );
    }

    #[test]
    fn every_substate_is_passed_through_with_the_raw_pos_text() {
        let all = [
            (pb::Substate::WrongRequestSum, Substate::WrongRequestSum),
            (
                pb::Substate::CashiersShiftClosed,
                Substate::CashiersShiftClosed,
            ),
            (pb::Substate::PrinterError, Substate::PrinterError),
            (pb::Substate::CloseOrderBlocked, Substate::CloseOrderBlocked),
            (pb::Substate::BillInUse, Substate::BillInUse),
            (pb::Substate::OtherError, Substate::OtherError),
        ];
        for (pbs, s) in all {
            for st in [PaymentState::Retrying, PaymentState::NeedsAttention] {
                let v = settled(&pay(st, pbs, st == PaymentState::NeedsAttention));
                assert_eq!(
                    v,
                    Some(Verdict::fail(
                        s,
                        "RkInternal: Заказ редактируется на станции 3"
                    )),
                    "{st:?} {pbs:?}"
                );
            }
        }
    }

    #[test]
    fn unreachable_pos_and_unknown_outcome_are_pending() {
        let p = pay(PaymentState::Retrying, pb::Substate::Unspecified, false);
        assert_eq!(settled(&p), None, "transient: keep waiting");
        let Verdict::Fail { substate, message } = at_deadline(&p, Substate::CloseOrderBlocked)
        else {
            panic!()
        };
        assert_eq!(substate, Substate::CloseOrderBlocked);
        assert!(message.contains("could not be reached"), "{message}");
        let p = pay(
            PaymentState::NeedsAttention,
            pb::Substate::Unspecified,
            true,
        );
        let Some(Verdict::Fail { substate, message }) = settled(&p) else {
            panic!()
        };
        assert_eq!(substate, Substate::OtherError);
        assert!(message.contains("staff must check"), "{message}");
    }

    #[test]
    fn bill_fields() {
        let bill = pb::Bill {
            bill_id: "B".into(),
            total: "978.00".into(),
            amount_due: "978.00".into(),
            order_number: "1001".into(),
            table: "12".into(),
            waiter: "Анна".into(),
            waiter_id: "7".into(),
            guests: vec![pb::Guest {
                name: String::new(),
                dishes: vec![pb::Dish {
                    id: "2002".into(),
                    name: "Чай".into(),
                    price: "35.00".into(),
                    quantity: "2".into(),
                    amount: String::new(),
                }],
            }],
            ..Default::default()
        };
        let g = guests(&bill);
        assert_eq!(g[0].name, "Guest 1");
        assert_eq!(g[0].dishes[0].sum.to_string(), "70.00");
        assert_eq!(g[0].dishes[0].count.to_string(), "2");
        assert_eq!(g[0].dishes[0].order_number, Some(1001));
        let o = order(&bill);
        assert_eq!(o.state, "NEW");
        assert_eq!(o.total_sum.to_string(), "978.00");
        assert_eq!(table_number("12"), Value::from(12));
        assert_eq!(table_number("A1"), Value::from("A1"));
        assert_eq!(order_number(&pb::Bill::default()), None);
    }
}
