//! Deciding an unanswered `/pay` (`CheckPayment`): what r_k Delivery shows, and the one table
//! ([`decide`]) that turns it into an outcome.
//!
//! This module exists because r_k Delivery's documented order shows no paid state: reading it
//! alone often cannot tell whether a `/pay` whose answer was lost reached r_keeper, and left
//! undecided the payment waited out the whole reconcile budget (hours) and went to a person,
//! with the order never completed. So every indicator the order carries is used (status id;
//! without one a closed flag, `completedAt`/`closedAt` or the status name; `payments[]`, a paid
//! amount, an amount due, a paid flag or a payment status, under the names in
//! [`crate::wire::paid_state_keys`]), and when it does not tell and the payment asked to close
//! (`CheckPaymentRequest.close`; the payment service closes after paying), `/complete` is a
//! safe probe: r_keeper completes only a fully paid order, so success means the money is there
//! (and the order is now closed, as asked), and «not fully paid» means the `/pay` was not
//! applied. First matching row wins:
//!
//! | # | evidence | outcome |
//! |---|---|---|
//! | 1 | the order cannot be read | `UNKNOWN` (the read failure attached) |
//! | 2 | paid state: paid grew by ≥ the amount (a payment of 0: a payment line or a paid flag) | `APPLIED`, `bill_closed` if the order is completed |
//! | 3 | paid state: changed by another amount, or nothing to compare with | `UNKNOWN` (a foreign change: a person decides) |
//! | 4 | completed since the read before posting (r_k Delivery completes only paid orders) | `APPLIED` + `bill_closed` |
//! | 5 | paid state: unchanged, nothing paid, paid flag false | `NOT_APPLIED` |
//! | 6 | cancelled, no paid state | `UNKNOWN` |
//! | 7 | open, no paid state, the payment did not ask to close | `UNKNOWN` |
//! | 7′ | open, no paid state, close asked | ask `/complete`, then rows 8–10 |
//! | 8 | `/complete` succeeded (or was refused and the order is completed after all) | `APPLIED` + `bill_closed` |
//! | 9 | `/complete` refused as not fully paid: `rk7_close_order` naming no other reason, r_keeper `[3071]`, or a not-paid text in any of RU/UK/EN ([`says_not_paid`]) | `NOT_APPLIED` (the `/complete` failure attached) |
//! | 10 | `/complete` failed otherwise: timeout, lock, shift, printer, kitchen tickets, 5xx, HTML page, no connection | `UNKNOWN` (asked again at the next check) |
//!
//! Rows 2, 3 and 5 compare the paid amount before and after by the one "was it applied?"
//! comparison every POS uses ([`posgate_core::pos::judge_posting`]); what only r_k Delivery
//! has (no paid state at all, a payment of 0, completion as proof, the `/complete` probe) is
//! this table's.
//!
//! `NOT_APPLIED` is believed by the payment service only after the settle time, so a late
//! apply (the next check's `/complete` then succeeds, row 8) is never followed by a second
//! `/pay`.

use posgate_core::Money;
use posgate_core::pos::{Bill, BillAmounts, Outcome, judge_posting};
use posgate_proto::convert::money_text;
use rust_decimal::Decimal;

use crate::classify::{Failure, says_not_paid};
use crate::wire::{Order, Paid};

/// What was learned about the posting: one variant per row of the decision table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// 1. The order could not be read.
    Unreadable,
    /// 2. The order's paid state grew by the amount (for a payment of 0: a payment line or a
    ///    paid flag shows).
    PaidGrew { closed: bool },
    /// 3. The paid state changed by another amount, or there is nothing to compare it with.
    Unclear { closed: bool },
    /// 4. The order was completed since it was read before posting (r_k Delivery completes
    ///    only paid orders).
    CompletedSince,
    /// 5. The paid state shows the posting's money is not there.
    PaidUnchanged,
    /// 6. Cancelled, with no paid state.
    Cancelled,
    /// 7. Open, with no paid state: the order does not tell.
    Silent,
    /// 8. `/complete` succeeded, or was refused because the order is completed already.
    CompleteSucceeded,
    /// 9. `/complete` was refused as not fully paid ([`says_not_paid`]).
    CompleteNotPaid,
    /// 10. `/complete` failed otherwise (timeout, lock, 5xx, HTML page, no connection).
    CompleteFailed,
}

/// What to do with the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Answer `CheckPayment` with this outcome, and whether the bill is closed now.
    Answer(Outcome, bool),
    /// Ask `/complete` and decide on its answer.
    ProbeWithComplete,
}

/// The decision table: evidence (and whether the payment asked to close) → outcome.
pub fn decide(e: Evidence, close_asked: bool) -> Decision {
    use Decision::Answer;
    use Evidence as E;
    match e {
        E::Unreadable => Answer(Outcome::Unknown, false),
        E::PaidGrew { closed } => Answer(Outcome::Applied, closed),
        E::Unclear { closed } => Answer(Outcome::Unknown, closed),
        E::CompletedSince => Answer(Outcome::Applied, true),
        E::PaidUnchanged => Answer(Outcome::NotApplied, false),
        E::Cancelled => Answer(Outcome::Unknown, false),
        E::Silent if close_asked => Decision::ProbeWithComplete,
        E::Silent => Answer(Outcome::Unknown, false),
        E::CompleteSucceeded => Answer(Outcome::Applied, true),
        E::CompleteNotPaid => Answer(Outcome::NotApplied, false),
        E::CompleteFailed => Answer(Outcome::Unknown, false),
    }
}

/// What the paid state says about this posting.
enum PaidChange {
    Grew(String),
    Unchanged(String),
    Unclear(String),
    NotShown,
}

fn paid_change(
    before: Option<&BillAmounts>,
    order: &Order,
    amount: Money,
    scale: u32,
) -> PaidChange {
    let m = |d: Decimal| money_text(d, scale);
    if !order.shows_paid_state() {
        return PaidChange::NotShown;
    }
    if amount.is_zero() {
        return match order.has_payment_lines().or(order.is_paid) {
            Some(true) => PaidChange::Grew("a payment of 0 is recorded on the order".into()),
            Some(false) => PaidChange::Unchanged("no payment is recorded on the order".into()),
            None => PaidChange::Unclear("a payment of 0 does not change the paid amount".into()),
        };
    }
    let Paid::Known(paid_now) = order.paid() else {
        return PaidChange::Unclear("the paid state shows no amount".into());
    };
    let Some(paid_before) = before.and_then(|b| b.paid) else {
        return if paid_now.is_zero() {
            PaidChange::Unchanged("nothing is paid on the order".into())
        } else {
            PaidChange::Unclear("no bill_before to compare with".into())
        };
    };
    // The paid amounts alone, judged by the one comparison: grew by the amount, unchanged, or
    // changed otherwise. The rest of the order is this table's (completion, silence).
    let paid = |p| BillAmounts {
        paid: Some(p),
        ..BillAmounts::default()
    };
    match judge_posting(Some(&paid(paid_before)), &paid(paid_now), amount.value()).outcome {
        Outcome::Applied => PaidChange::Grew(format!(
            "paid grew from {} to {} (≥ {amount})",
            m(paid_before),
            m(paid_now)
        )),
        Outcome::NotApplied => PaidChange::Unchanged(format!("paid unchanged at {}", m(paid_now))),
        Outcome::Unknown | Outcome::Rejected | Outcome::Pending => PaidChange::Unclear(format!(
            "paid changed from {} to {}, not by {amount}",
            m(paid_before),
            m(paid_now)
        )),
    }
}

/// Reads the order (and the bill read before posting) as evidence, with the reason in words.
pub fn from_order(
    before: Option<&BillAmounts>,
    order: &Order,
    now: &Bill,
    amount: Money,
    scale: u32,
) -> (Evidence, String) {
    let m = |d: Decimal| money_text(d, scale);
    let closed = order.is_completed();
    let completed_since = closed && before.is_some_and(|b| !b.closed);
    let (evidence, why) = match paid_change(before, order, amount, scale) {
        PaidChange::Grew(w) => (Evidence::PaidGrew { closed }, w),
        PaidChange::Unclear(w) => (Evidence::Unclear { closed }, w),
        _ if completed_since => (
            Evidence::CompletedSince,
            format!(
                "the order was {} and is now completed (r_k Delivery completes only paid orders)",
                before.map_or("open", |b| b.pos_status.as_str())
            ),
        ),
        PaidChange::Unchanged(w) => (Evidence::PaidUnchanged, w),
        PaidChange::NotShown if order.is_cancelled() => (
            Evidence::Cancelled,
            "the order is cancelled and shows no paid state".into(),
        ),
        PaidChange::NotShown if closed => (
            Evidence::Unclear { closed },
            "the order is completed but was not read open before posting, so it does not tell"
                .into(),
        ),
        PaidChange::NotShown => (
            Evidence::Silent,
            "r_k Delivery shows no paid state for an open order, so the order alone cannot tell whether /pay reached r_keeper".into(),
        ),
    };
    let state = format!(
        "the order is now {} (amount {}, paid {}, due {})",
        order.status_label(),
        m(now.total),
        m(now.paid),
        m(now.amount_due)
    );
    (evidence, format!("{why}; {state}"))
}

/// Reads the answer to the `/complete` probe as evidence, with the reason in words.
pub fn from_complete(result: &Result<Option<String>, Failure>) -> (Evidence, String) {
    match result {
        Ok(rid) => (
            Evidence::CompleteSucceeded,
            format!(
                "/complete succeeded{}: r_keeper completes only fully paid orders, so the payment is there and the order is now completed",
                rid.as_deref()
                    .map(|r| format!(" (requestId {r})"))
                    .unwrap_or_default()
            ),
        ),
        Err(f) if says_not_paid(f) => (
            Evidence::CompleteNotPaid,
            format!("/complete was refused as not fully paid ({f}), so /pay was not applied"),
        ),
        Err(f) => (
            Evidence::CompleteFailed,
            format!("/complete did not tell ({f}); it is asked again at the next check"),
        ),
    }
}
