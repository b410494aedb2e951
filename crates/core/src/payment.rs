//! The payment state machine.
//!
//! ```text
//! accepted ──► posting ──► paid ──► closing ──► closed
//!    │            │  ▲        │        ▲   │
//!    │            │  └─ retrying(substate, next_at) ◄─┘   (retriable substate)
//!    │            ├──► outcome unknown ──► (read the bill) ──► paid / retrying / needs attention
//!    │            └──► needs attention (OTHER_ERROR, retries exhausted)
//! ```
//! A payment's `state` is what callers see; its `step` is the work still owed to the POS
//! (post, close, reconcile). Keeping both lets `retrying` say *what* is being retried, so a
//! failed close after a successful pay is retried on its own and never re-pays.

use std::fmt;
use std::str::FromStr;

use crate::substate::Substate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentState {
    Accepted,
    Posting,
    Paid,
    Closing,
    Closed,
    Retrying,
    NeedsAttention,
    /// The POS did not answer; we read the bill before any new write. Never success or failure.
    OutcomeUnknown,
}

/// The work still owed to the POS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Post the payment.
    Post,
    /// Close the bill (the payment is booked).
    Close,
    /// Find out whether an unanswered posting was applied, before writing again.
    Reconcile,
    /// Nothing left to do.
    Done,
}

/// What happened at the POS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A worker starts the payment's step.
    Start,
    /// The POS booked the payment; `bill_closed` when that closed the bill too.
    Applied { bill_closed: bool },
    /// The POS closed the bill.
    ClosedBill,
    /// The POS refused; nothing was booked by this call.
    Rejected(Substate),
    /// No answer: the posting may or may not have been applied.
    Unknown,
    /// Reconciliation showed the unanswered posting was not applied: safe to post again.
    NotApplied,
    /// Not applied for a passing reason outside the bill (POS link down, rate limit).
    Transient,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    pub state: PaymentState,
    pub step: Step,
    /// Whether the caller asked to close the bill after paying.
    pub close: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event:?} is not allowed in state {state} (step {step:?})")]
pub struct InvalidTransition {
    pub state: PaymentState,
    pub step: Step,
    pub event: Event,
}

/// What to do after a rejection: decided by the substate and the retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    Retry,
    GiveUp,
}

impl Lifecycle {
    pub fn new(close: bool) -> Self {
        Lifecycle {
            state: PaymentState::Accepted,
            step: Step::Post,
            close,
        }
    }

    /// Applies an event. `decision` says whether a rejection may be retried (the caller asks the
    /// retry policy; OTHER_ERROR is never retried whatever it says).
    pub fn on(self, event: Event, decision: RetryDecision) -> Result<Lifecycle, InvalidTransition> {
        use PaymentState as S;
        let bad = || InvalidTransition {
            state: self.state,
            step: self.step,
            event,
        };
        let to = |state, step| Lifecycle {
            state,
            step,
            close: self.close,
        };
        // Retried while the budget lasts, then handed to a person.
        let retry_or_give_up = |step| match decision {
            RetryDecision::Retry => to(S::Retrying, step),
            RetryDecision::GiveUp => to(S::NeedsAttention, step),
        };
        let retry_or_attention = |substate: Substate, step| {
            if substate.is_retriable() {
                retry_or_give_up(step)
            } else {
                to(S::NeedsAttention, step)
            }
        };
        let working = matches!(self.state, S::Posting | S::Closing | S::OutcomeUnknown);
        Ok(match (self.step, event) {
            (Step::Post, Event::Start) if matches!(self.state, S::Accepted | S::Retrying) => {
                to(S::Posting, Step::Post)
            }
            (Step::Close, Event::Start) if matches!(self.state, S::Paid | S::Retrying) => {
                to(S::Closing, Step::Close)
            }
            // Reconciling keeps the unknown state visible until the POS's answer is known.
            (Step::Reconcile, Event::Start) if self.state == S::OutcomeUnknown => self,
            (Step::Post | Step::Reconcile, Event::Applied { bill_closed }) if working => {
                if bill_closed {
                    to(S::Closed, Step::Done)
                } else if self.close {
                    to(S::Paid, Step::Close)
                } else {
                    to(S::Paid, Step::Done)
                }
            }
            (Step::Post, Event::Rejected(s)) if self.state == S::Posting => {
                retry_or_attention(s, Step::Post)
            }
            (Step::Post | Step::Close, Event::Transient)
                if matches!(self.state, S::Posting | S::Closing) =>
            {
                retry_or_give_up(self.step)
            }
            (Step::Post, Event::Unknown) if self.state == S::Posting => {
                to(S::OutcomeUnknown, Step::Reconcile)
            }
            // Still unknown: keep reading the bill, or hand it to a person when checks run out.
            (Step::Reconcile, Event::Unknown) if self.state == S::OutcomeUnknown => {
                if decision == RetryDecision::Retry {
                    self
                } else {
                    to(S::NeedsAttention, Step::Reconcile)
                }
            }
            (Step::Reconcile, Event::NotApplied) if self.state == S::OutcomeUnknown => {
                to(S::Retrying, Step::Post)
            }
            // The POS refused the unanswered posting: nothing was booked, so post again.
            (Step::Reconcile, Event::Rejected(s)) if self.state == S::OutcomeUnknown => {
                retry_or_attention(s, Step::Post)
            }
            (Step::Close, Event::ClosedBill) if self.state == S::Closing => {
                to(S::Closed, Step::Done)
            }
            (Step::Close, Event::Rejected(s)) if self.state == S::Closing => {
                retry_or_attention(s, Step::Close)
            }
            // Closing is idempotent at every POS we speak: an unanswered close is simply retried,
            // until the retry budget is spent (a POS that never answers must reach a person).
            (Step::Close, Event::Unknown) if self.state == S::Closing => {
                retry_or_give_up(Step::Close)
            }
            _ => return Err(bad()),
        })
    }

    /// Whether a worker has something to do for this payment (now or at its next attempt time).
    pub fn has_work(&self) -> bool {
        self.step != Step::Done && self.state != PaymentState::NeedsAttention
    }

    /// Whether the state will not change without a person.
    pub fn is_final(&self) -> bool {
        !self.has_work()
    }
}

impl PaymentState {
    pub const ALL: [PaymentState; 8] = [
        PaymentState::Accepted,
        PaymentState::Posting,
        PaymentState::Paid,
        PaymentState::Closing,
        PaymentState::Closed,
        PaymentState::Retrying,
        PaymentState::NeedsAttention,
        PaymentState::OutcomeUnknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Accepted => "accepted",
            PaymentState::Posting => "posting",
            PaymentState::Paid => "paid",
            PaymentState::Closing => "closing",
            PaymentState::Closed => "closed",
            PaymentState::Retrying => "retrying",
            PaymentState::NeedsAttention => "needs_attention",
            PaymentState::OutcomeUnknown => "outcome_unknown",
        }
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PaymentState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.to_ascii_lowercase().replace('-', "_");
        PaymentState::ALL
            .into_iter()
            .find(|x| x.as_str() == norm)
            .ok_or_else(|| format!("unknown payment state {s:?}"))
    }
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Post => "post",
            Step::Close => "close",
            Step::Reconcile => "reconcile",
            Step::Done => "done",
        }
    }
}

impl FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Step::Post, Step::Close, Step::Reconcile, Step::Done]
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown step {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentState as S;
    use RetryDecision::*;

    fn run(close: bool, events: &[Event]) -> Lifecycle {
        events
            .iter()
            .fold(Lifecycle::new(close), |l, e| l.on(*e, Retry).unwrap())
    }

    #[test]
    fn exact_payment_closes_in_one_step() {
        let l = run(true, &[Event::Start, Event::Applied { bill_closed: true }]);
        assert_eq!((l.state, l.step), (S::Closed, Step::Done));
        assert!(l.is_final());
    }

    #[test]
    fn prepayment_then_separate_close() {
        let l = run(true, &[Event::Start, Event::Applied { bill_closed: false }]);
        assert_eq!((l.state, l.step), (S::Paid, Step::Close));
        let l = l.on(Event::Start, Retry).unwrap();
        assert_eq!(l.state, S::Closing);
        let l = l
            .on(Event::Rejected(Substate::CloseOrderBlocked), Retry)
            .unwrap();
        // A failed close is retried as a close: the payment is never posted again.
        assert_eq!((l.state, l.step), (S::Retrying, Step::Close));
        let l = run_from(l, &[Event::Start, Event::ClosedBill]);
        assert_eq!((l.state, l.step), (S::Closed, Step::Done));
    }

    fn run_from(l: Lifecycle, events: &[Event]) -> Lifecycle {
        events.iter().fold(l, |l, e| l.on(*e, Retry).unwrap())
    }

    #[test]
    fn paid_without_close_is_final() {
        let l = run(
            false,
            &[Event::Start, Event::Applied { bill_closed: false }],
        );
        assert_eq!((l.state, l.step), (S::Paid, Step::Done));
        assert!(l.is_final());
    }

    #[test]
    fn other_error_needs_attention_and_retriable_retries() {
        let l = run(true, &[Event::Start]);
        let a = l.on(Event::Rejected(Substate::OtherError), Retry).unwrap();
        assert_eq!(a.state, S::NeedsAttention);
        assert!(a.is_final());
        let r = l.on(Event::Rejected(Substate::BillInUse), Retry).unwrap();
        assert_eq!((r.state, r.step), (S::Retrying, Step::Post));
        let exhausted = l.on(Event::Rejected(Substate::BillInUse), GiveUp).unwrap();
        assert_eq!(exhausted.state, S::NeedsAttention);
    }

    #[test]
    fn unknown_outcome_is_reconciled_before_writing_again() {
        let l = run(true, &[Event::Start, Event::Unknown]);
        assert_eq!((l.state, l.step), (S::OutcomeUnknown, Step::Reconcile));
        assert!(!l.is_final());
        // It cannot be posted again straight from unknown.
        assert!(l.on(Event::Rejected(Substate::BillInUse), Retry).is_ok());
        let still = run_from(l, &[Event::Start, Event::Unknown]);
        assert_eq!(still.state, S::OutcomeUnknown);
        let applied = run_from(l, &[Event::Start, Event::Applied { bill_closed: true }]);
        assert_eq!(applied.state, S::Closed);
        let not = run_from(l, &[Event::Start, Event::NotApplied]);
        assert_eq!((not.state, not.step), (S::Retrying, Step::Post));
        let refused = run_from(l, &[Event::Start, Event::Rejected(Substate::BillInUse)]);
        assert_eq!((refused.state, refused.step), (S::Retrying, Step::Post));
        let given_up = l.on(Event::Unknown, GiveUp).unwrap();
        assert_eq!(given_up.state, S::NeedsAttention);
    }

    #[test]
    fn invalid_transitions_are_refused() {
        let l = Lifecycle::new(true);
        assert!(l.on(Event::Applied { bill_closed: true }, Retry).is_err());
        assert!(l.on(Event::ClosedBill, Retry).is_err());
        let closed = run(true, &[Event::Start, Event::Applied { bill_closed: true }]);
        assert!(closed.on(Event::Start, Retry).is_err());
    }

    #[test]
    fn names_round_trip() {
        for s in PaymentState::ALL {
            assert_eq!(s.as_str().parse::<PaymentState>().unwrap(), s);
        }
    }
}
