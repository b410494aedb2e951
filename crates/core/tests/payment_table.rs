//! The payment state machine's whole transition table, written out by hand.
//!
//! Every state × step × event × retry decision × close flag is run through `Lifecycle::on` and
//! compared with the table below, which is the specification: a row is an allowed transition,
//! and anything without a row must be refused (naming the state, step and event). The table is
//! not derived from the code under test, so a changed guard, a swapped retry/give-up choice or
//! a new accepted event shows up as a failing case.

use posgate_core::Substate;
use posgate_core::payment::{
    Event, InvalidTransition, Lifecycle, PaymentState as S, RetryDecision, Step,
};

/// Event kinds as the table names them; `events` expands them into concrete events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Start,
    /// `Applied { bill_closed: true }`
    AppliedClosed,
    /// `Applied { bill_closed: false }`
    AppliedOpen,
    ClosedBill,
    /// `Rejected` with each substate that staff can clear.
    RejectedRetriable,
    /// `Rejected(OtherError)`
    RejectedOther,
    Unknown,
    NotApplied,
    Transient,
}

const ALL_EVS: [Ev; 9] = [
    Ev::Start,
    Ev::AppliedClosed,
    Ev::AppliedOpen,
    Ev::ClosedBill,
    Ev::RejectedRetriable,
    Ev::RejectedOther,
    Ev::Unknown,
    Ev::NotApplied,
    Ev::Transient,
];

const ALL_STEPS: [Step; 4] = [Step::Post, Step::Close, Step::Reconcile, Step::Done];

const ALL_STATES: [S; 8] = [
    S::Accepted,
    S::Posting,
    S::Paid,
    S::Closing,
    S::Closed,
    S::Retrying,
    S::NeedsAttention,
    S::OutcomeUnknown,
];

/// Hand-listed (not `Substate::is_retriable`): the five substates staff can clear.
const RETRIABLE: [Substate; 5] = [
    Substate::WrongRequestSum,
    Substate::CashiersShiftClosed,
    Substate::PrinterError,
    Substate::CloseOrderBlocked,
    Substate::BillInUse,
];

fn events(ev: Ev) -> Vec<Event> {
    match ev {
        Ev::Start => vec![Event::Start],
        Ev::AppliedClosed => vec![Event::Applied { bill_closed: true }],
        Ev::AppliedOpen => vec![Event::Applied { bill_closed: false }],
        Ev::ClosedBill => vec![Event::ClosedBill],
        Ev::RejectedRetriable => RETRIABLE.into_iter().map(Event::Rejected).collect(),
        Ev::RejectedOther => vec![Event::Rejected(Substate::OtherError)],
        Ev::Unknown => vec![Event::Unknown],
        Ev::NotApplied => vec![Event::NotApplied],
        Ev::Transient => vec![Event::Transient],
    }
}

use Ev as E;
use Step::{Close as C, Done as D, Post as P, Reconcile as R};

/// `(state, step, event, close flag (None: either), after it on Retry, after it on GiveUp)`.
type Row = (S, Step, Ev, Option<bool>, (S, Step), (S, Step));

/// The allowed transitions.
/// Pairs the machine never produces itself (posting with step close, closing with step post, …)
/// are listed as the code treats them, so a stored record in such a pair behaves predictably.
#[rustfmt::skip]
const ALLOWED: &[Row] = &[
    // A worker starts the step owed: post from accepted/retrying, close from paid/retrying,
    // reconcile keeps "outcome unknown" visible.
    (S::Accepted,       P, E::Start, None, (S::Posting, P), (S::Posting, P)),
    (S::Retrying,       P, E::Start, None, (S::Posting, P), (S::Posting, P)),
    (S::Paid,           C, E::Start, None, (S::Closing, C), (S::Closing, C)),
    (S::Retrying,       C, E::Start, None, (S::Closing, C), (S::Closing, C)),
    (S::OutcomeUnknown, R, E::Start, None, (S::OutcomeUnknown, R), (S::OutcomeUnknown, R)),

    // The POS booked the payment and closed the bill: done, whatever the close flag.
    (S::Posting,        P, E::AppliedClosed, None, (S::Closed, D), (S::Closed, D)),
    (S::Posting,        R, E::AppliedClosed, None, (S::Closed, D), (S::Closed, D)),
    (S::Closing,        P, E::AppliedClosed, None, (S::Closed, D), (S::Closed, D)),
    (S::Closing,        R, E::AppliedClosed, None, (S::Closed, D), (S::Closed, D)),
    (S::OutcomeUnknown, P, E::AppliedClosed, None, (S::Closed, D), (S::Closed, D)),
    (S::OutcomeUnknown, R, E::AppliedClosed, None, (S::Closed, D), (S::Closed, D)),

    // Booked, bill still open: a close is owed only if the caller asked for one.
    (S::Posting,        P, E::AppliedOpen, Some(true),  (S::Paid, C), (S::Paid, C)),
    (S::Posting,        P, E::AppliedOpen, Some(false), (S::Paid, D), (S::Paid, D)),
    (S::Posting,        R, E::AppliedOpen, Some(true),  (S::Paid, C), (S::Paid, C)),
    (S::Posting,        R, E::AppliedOpen, Some(false), (S::Paid, D), (S::Paid, D)),
    (S::Closing,        P, E::AppliedOpen, Some(true),  (S::Paid, C), (S::Paid, C)),
    (S::Closing,        P, E::AppliedOpen, Some(false), (S::Paid, D), (S::Paid, D)),
    (S::Closing,        R, E::AppliedOpen, Some(true),  (S::Paid, C), (S::Paid, C)),
    (S::Closing,        R, E::AppliedOpen, Some(false), (S::Paid, D), (S::Paid, D)),
    (S::OutcomeUnknown, P, E::AppliedOpen, Some(true),  (S::Paid, C), (S::Paid, C)),
    (S::OutcomeUnknown, P, E::AppliedOpen, Some(false), (S::Paid, D), (S::Paid, D)),
    (S::OutcomeUnknown, R, E::AppliedOpen, Some(true),  (S::Paid, C), (S::Paid, C)),
    (S::OutcomeUnknown, R, E::AppliedOpen, Some(false), (S::Paid, D), (S::Paid, D)),

    // Refusals: retriable ones retry while the budget lasts; OTHER_ERROR always needs a person.
    // A refused unanswered posting (reconcile) is posted again, never closed.
    (S::Posting,        P, E::RejectedRetriable, None, (S::Retrying, P), (S::NeedsAttention, P)),
    (S::OutcomeUnknown, R, E::RejectedRetriable, None, (S::Retrying, P), (S::NeedsAttention, P)),
    (S::Closing,        C, E::RejectedRetriable, None, (S::Retrying, C), (S::NeedsAttention, C)),
    (S::Posting,        P, E::RejectedOther,     None, (S::NeedsAttention, P), (S::NeedsAttention, P)),
    (S::OutcomeUnknown, R, E::RejectedOther,     None, (S::NeedsAttention, P), (S::NeedsAttention, P)),
    (S::Closing,        C, E::RejectedOther,     None, (S::NeedsAttention, C), (S::NeedsAttention, C)),

    // No answer: an unanswered posting is reconciled (whatever the budget); reconciling goes on
    // until the checks run out; an unanswered close is retried until the budget runs out.
    (S::Posting,        P, E::Unknown, None, (S::OutcomeUnknown, R), (S::OutcomeUnknown, R)),
    (S::OutcomeUnknown, R, E::Unknown, None, (S::OutcomeUnknown, R), (S::NeedsAttention, R)),
    (S::Closing,        C, E::Unknown, None, (S::Retrying, C), (S::NeedsAttention, C)),

    // Reconciliation proved nothing was booked: safe to post again.
    (S::OutcomeUnknown, R, E::NotApplied, None, (S::Retrying, P), (S::Retrying, P)),

    (S::Closing,        C, E::ClosedBill, None, (S::Closed, D), (S::Closed, D)),

    // Not applied for a passing reason: retried as the same step while the budget lasts.
    (S::Posting,        P, E::Transient, None, (S::Retrying, P), (S::NeedsAttention, P)),
    (S::Posting,        C, E::Transient, None, (S::Retrying, C), (S::NeedsAttention, C)),
    (S::Closing,        P, E::Transient, None, (S::Retrying, P), (S::NeedsAttention, P)),
    (S::Closing,        C, E::Transient, None, (S::Retrying, C), (S::NeedsAttention, C)),
];

#[test]
fn every_transition_matches_the_table() {
    let mut checked = 0;
    let mut used = vec![0usize; ALLOWED.len()];
    for state in ALL_STATES {
        for step in ALL_STEPS {
            for ev in ALL_EVS {
                for close in [true, false] {
                    let rows: Vec<usize> = (0..ALLOWED.len())
                        .filter(|&i| {
                            let (s, st, e, c, _, _) = ALLOWED[i];
                            s == state && st == step && e == ev && c.is_none_or(|c| c == close)
                        })
                        .collect();
                    assert!(rows.len() <= 1, "table has overlapping rows {rows:?}");
                    for event in events(ev) {
                        for decision in [RetryDecision::Retry, RetryDecision::GiveUp] {
                            let from = Lifecycle { state, step, close };
                            let got = from.on(event, decision);
                            let case = format!(
                                "{state:?}/{step:?} + {event:?} ({decision:?}, close={close})"
                            );
                            match rows.first() {
                                Some(&i) => {
                                    used[i] += 1;
                                    let (.., on_retry, on_give_up) = ALLOWED[i];
                                    let (to_state, to_step) = match decision {
                                        RetryDecision::Retry => on_retry,
                                        RetryDecision::GiveUp => on_give_up,
                                    };
                                    assert_eq!(
                                        got,
                                        Ok(Lifecycle {
                                            state: to_state,
                                            step: to_step,
                                            close
                                        }),
                                        "{case}"
                                    );
                                }
                                None => assert_eq!(
                                    got,
                                    Err(InvalidTransition { state, step, event }),
                                    "{case} must be refused"
                                ),
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    // 8 states × 4 steps × 13 concrete events × 2 close flags × 2 decisions.
    assert_eq!(checked, 8 * 4 * 13 * 2 * 2);
    assert!(used.iter().all(|&n| n > 0), "unused rows: {used:?}");
}

/// Whether a worker still has something to do, per state (rows) and step (post, close,
/// reconcile, done).
#[rustfmt::skip]
const HAS_WORK: [(S, [bool; 4]); 8] = [
    (S::Accepted,       [true,  true,  true,  false]),
    (S::Posting,        [true,  true,  true,  false]),
    (S::Paid,           [true,  true,  true,  false]),
    (S::Closing,        [true,  true,  true,  false]),
    (S::Closed,         [true,  true,  true,  false]),
    (S::Retrying,       [true,  true,  true,  false]),
    (S::NeedsAttention, [false, false, false, false]),
    (S::OutcomeUnknown, [true,  true,  true,  false]),
];

#[test]
fn work_and_finality_match_the_table() {
    for (state, row) in HAS_WORK {
        for (step, work) in ALL_STEPS.into_iter().zip(row) {
            for close in [true, false] {
                let l = Lifecycle { state, step, close };
                assert_eq!(l.has_work(), work, "{state:?}/{step:?}");
                assert_eq!(l.is_final(), !work, "{state:?}/{step:?}");
            }
        }
    }
}

/// The named wrong changes from the project's guard-rail issue, as plain scenarios.
#[test]
fn the_known_wrong_changes_are_refused() {
    let start = |state, step| {
        Lifecycle {
            state,
            step,
            close: true,
        }
        .on(Event::Start, RetryDecision::Retry)
    };
    assert!(
        start(S::NeedsAttention, P).is_err(),
        "a payment needing a person is not restarted"
    );
    assert!(start(S::NeedsAttention, C).is_err());
    assert!(
        start(S::Posting, P).is_err(),
        "a posting in flight is not started twice"
    );
    assert!(start(S::Closing, C).is_err());
    assert!(start(S::Closed, D).is_err());
    let fresh = Lifecycle::new(true);
    assert_eq!(
        fresh,
        Lifecycle {
            state: S::Accepted,
            step: P,
            close: true
        }
    );
    assert!(!Lifecycle::new(false).close);
    assert!(
        fresh
            .on(Event::Rejected(Substate::BillInUse), RetryDecision::Retry)
            .is_err(),
        "a refusal before the posting started"
    );
    // An unanswered close is retried while the budget lasts, then reaches a person.
    let closing = Lifecycle {
        state: S::Closing,
        step: C,
        close: true,
    };
    assert_eq!(
        closing
            .on(Event::Unknown, RetryDecision::Retry)
            .unwrap()
            .state,
        S::Retrying
    );
    assert_eq!(
        closing
            .on(Event::Unknown, RetryDecision::GiveUp)
            .unwrap()
            .state,
        S::NeedsAttention
    );
}

#[test]
fn refusals_name_state_step_and_event() {
    let e = Lifecycle::new(true)
        .on(Event::ClosedBill, RetryDecision::Retry)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "event ClosedBill is not allowed in state accepted (step Post)"
    );
}

#[test]
fn state_and_step_names_are_the_stored_ones() {
    #[rustfmt::skip]
    let states = [
        (S::Accepted, "accepted"), (S::Posting, "posting"), (S::Paid, "paid"),
        (S::Closing, "closing"), (S::Closed, "closed"), (S::Retrying, "retrying"),
        (S::NeedsAttention, "needs_attention"), (S::OutcomeUnknown, "outcome_unknown"),
    ];
    assert_eq!(S::ALL.to_vec(), states.map(|(s, _)| s).to_vec());
    for (state, name) in states {
        assert_eq!(state.as_str(), name);
        assert_eq!(state.to_string(), name);
        assert_eq!(name.parse::<S>(), Ok(state));
    }
    // Case and dashes are forgiven; anything else is named in the error.
    assert_eq!("Needs-Attention".parse::<S>(), Ok(S::NeedsAttention));
    assert_eq!("OUTCOME_UNKNOWN".parse::<S>(), Ok(S::OutcomeUnknown));
    assert_eq!(
        "needs attention".parse::<S>(),
        Err("unknown payment state \"needs attention\"".to_string())
    );
    assert!("".parse::<S>().is_err());

    let steps = [(P, "post"), (C, "close"), (R, "reconcile"), (D, "done")];
    for (step, name) in steps {
        assert_eq!(step.as_str(), name);
        assert_eq!(name.parse::<Step>(), Ok(step));
    }
    assert_eq!(
        "fold".parse::<Step>(),
        Err("unknown step \"fold\"".to_string())
    );
    assert!("".parse::<Step>().is_err());
}
