//! posgate's domain core: what a payment is and how it may move, with no I/O.
//!
//! - [`money`]: exact decimal amounts with a per-currency scale, parsed from and printed as
//!   strings with a dot.
//! - [`substate`]: the six failure substates, whether each is retried, and what staff should do.
//! - [`payment`]: the payment state machine.
//! - [`retry`]: jittered exponential backoff.
//! - [`rules`]: the amount rules (exact, up to due, 100% discount).
//! - [`request`]: validation of a pay request, naming the bad field.
//! - [`json`]: lenient, float-free reading of POS answers.
//! - [`pos`]: what posgate and a POS say to each other (bill, posting, check, answers) and the
//!   one "was the unanswered posting applied?" comparison.
#![forbid(unsafe_code)]

pub mod json;
pub mod money;
pub mod payment;
pub mod pos;
pub mod request;
pub mod retry;
pub mod rules;
pub mod secret;
pub mod substate;

pub use money::{Money, MoneyError};
pub use payment::{Event, Lifecycle, PaymentState, RetryDecision, Step};
pub use request::{FieldError, PayRequest, RawPayRequest, TenderLine};
pub use retry::RetryPolicy;
pub use rules::{AmountRule, AmountViolation};
pub use secret::Secret;
pub use substate::Substate;
