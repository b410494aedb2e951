//! The reconciliation table (was an unanswered /pay applied?) through its public API: the
//! decision for every kind of evidence, with and without a close asked. (Reading the evidence
//! from an order uses the connector's internals: those tests stay in `src/reconcile.rs`.)

use posgate_core::pos::Outcome;
use posgate_delivery::reconcile::{Decision, Evidence, decide};

#[test]
fn the_table() {
    use Evidence as E;
    let ans = |outcome, bill_closed| Decision::Answer {
        outcome,
        bill_closed,
    };
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
