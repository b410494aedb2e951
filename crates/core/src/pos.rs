//! What posgate and a POS say to each other, in domain terms: the bill, a posting, a check, and
//! the answers — and the one "was the unanswered posting applied?" comparison of a bill before
//! and after.
//!
//! Why it exists: the payment engine and every POS connector speak these types; the proto
//! messages are only their wire form (translated once, in the adapter kit for connectors and
//! in the payment service's port for the engine). A connector therefore never builds a proto
//! message, and a new POS cannot get the meaning of an answer subtly different from the others.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::money::Money;
use crate::rules::AmountRule;
use crate::secret::Secret;
use crate::substate::Substate;

/// What the POS said about a write (a posting, a close) or a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Booked (or, for a check: the unanswered posting is there).
    Applied,
    /// The POS said no; nothing was booked.
    Rejected,
    /// Nobody can tell whether the POS booked it.
    Unknown,
    /// Not booked, for a passing reason outside the bill; or, for a check: the unanswered
    /// posting is not there.
    NotApplied,
    /// The POS took the posting as a task and is still working on it ([`PosReply::reference`]
    /// names the task): nothing is known yet; ask again ([`Check::awaiting_task`]). Answered
    /// only when the caller allowed it ([`Posting::may_pend`]).
    Pending,
}

/// A POS failure as the connector classified it, with the POS's own code and text kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosFailure {
    pub substate: Substate,
    /// The POS's code (or a connector's `pos/reason` code when the POS gave none).
    pub code: String,
    /// The POS's text verbatim (or the connector's explanation).
    pub text: String,
    /// The POS does not know the bill.
    pub not_found: bool,
    /// A passing failure outside the bill (POS out of reach): try again later.
    pub transient: bool,
}

impl PosFailure {
    /// A refusal the connector decides itself (not the POS's words): final, not "not found".
    pub fn ours(substate: Substate, code: &str, text: impl Into<String>) -> PosFailure {
        PosFailure {
            substate,
            code: code.to_string(),
            text: text.into(),
            not_found: false,
            transient: false,
        }
    }
}

/// What a failed write means, as a connector's classification of the POS's answer says: every
/// POS error comes down to one of three. One reading of them for every connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The POS refused; nothing was booked.
    Rejected(Substate),
    /// It may have been booked (a lost answer, a timeout inside the POS): never write again
    /// before finding out.
    Unknown,
    /// Not booked, for a passing reason outside the bill (the POS out of reach): write again
    /// later.
    Transient,
}

impl Verdict {
    /// The outcome of a write that failed so.
    pub fn outcome(self) -> Outcome {
        match self {
            Verdict::Rejected(_) => Outcome::Rejected,
            Verdict::Unknown => Outcome::Unknown,
            Verdict::Transient => Outcome::NotApplied,
        }
    }

    /// The substate to report: the refusal's, else `OTHER_ERROR`.
    pub fn substate(self) -> Substate {
        match self {
            Verdict::Rejected(s) => s,
            Verdict::Unknown | Verdict::Transient => Substate::OtherError,
        }
    }

    /// The failure, with the POS's code and text: transient unless refused.
    pub fn failure(self, code: String, text: String, not_found: bool) -> PosFailure {
        PosFailure {
            substate: self.substate(),
            code,
            text,
            not_found,
            transient: !matches!(self, Verdict::Rejected(_)),
        }
    }
}

/// Fragments that say something timed out, lower-case, Russian and English: a POS error text
/// holding one (an SQL command timeout, a cash server that did not answer in time) may describe
/// work that was done anyway, so it reads as [`Verdict::Unknown`]. One list for every POS's
/// classifier.
pub const TIMEOUT_WORDS: &[&str] = &[
    "timeout",
    "timed out",
    "time out",
    "time-out",
    "таймаут",
    "тайм-аут",
    "время ожидания",
    "истекло время",
];

/// Whether a text says something timed out (one of [`TIMEOUT_WORDS`], any case).
pub fn is_timeout_text(text: &str) -> bool {
    let lower = text.to_lowercase();
    TIMEOUT_WORDS.iter().any(|f| lower.contains(f))
}

/// The answer to a posting, a check or a close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosReply {
    pub outcome: Outcome,
    pub failure: Option<PosFailure>,
    /// The bill is closed now (a payment that closed it, or a check that found it closed).
    pub bill_closed: bool,
    /// The POS's reference of the write (WSA taskGuid, Delivery requestId).
    pub reference: Option<String>,
    /// What the POS reported about the posting (e.g. applied discounts, points).
    pub details: BTreeMap<String, String>,
    /// How a check decided, for the payment's history.
    pub evidence: String,
    /// With [`Outcome::Pending`]: the longest to wait between two checks (0: the caller's own).
    pub poll_interval_ms: u64,
}

impl PosReply {
    pub fn new(outcome: Outcome) -> PosReply {
        PosReply {
            outcome,
            failure: None,
            bill_closed: false,
            reference: None,
            details: BTreeMap::new(),
            evidence: String::new(),
            poll_interval_ms: 0,
        }
    }

    /// The POS is still working on the task `reference`; check again within `poll_interval`.
    pub fn pending(reference: String, poll_interval: std::time::Duration) -> PosReply {
        PosReply {
            poll_interval_ms: u64::try_from(poll_interval.as_millis()).unwrap_or(u64::MAX),
            ..PosReply::new(Outcome::Pending).reference(Some(reference))
        }
    }

    /// Booked.
    pub fn applied() -> PosReply {
        PosReply::new(Outcome::Applied)
    }

    /// A failed write or check: `outcome` with the failure.
    pub fn failed(outcome: Outcome, failure: PosFailure) -> PosReply {
        PosReply {
            failure: Some(failure),
            ..PosReply::new(outcome)
        }
    }

    pub fn closed(mut self, bill_closed: bool) -> PosReply {
        self.bill_closed = bill_closed;
        self
    }

    /// The POS's reference, when it gave one (an empty one is none).
    pub fn reference(mut self, reference: Option<String>) -> PosReply {
        self.reference = reference.filter(|r| !r.is_empty());
        self
    }

    pub fn evidence(mut self, evidence: impl Into<String>) -> PosReply {
        self.evidence = evidence.into();
        self
    }
}

/// What a restaurant's POS can do, as its connector reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub amount_rule: AmountRule,
    /// Paying does not close the bill: a separate close step follows.
    pub separate_close_step: bool,
    pub supports_tips: bool,
    pub supports_points: bool,
    pub supports_fiscal_data: bool,
    /// No call reads a bill back (Tillypad): no amount check before posting, and an unknown
    /// outcome goes to a person.
    pub cannot_read_bills: bool,
    /// How long the POS may still apply an unanswered write (0: the connector cannot say).
    pub settle_ms: u64,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            amount_rule: AmountRule::Exact,
            separate_close_step: false,
            supports_tips: false,
            supports_points: false,
            supports_fiscal_data: false,
            cannot_read_bills: false,
            settle_ms: 0,
        }
    }
}

/// Where a bill stands in the POS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BillStatus {
    #[default]
    Open,
    Closed,
    Canceled,
    /// Known to the POS but not payable yet (not in the till).
    NotReady,
}

/// One line of a bill. Amounts the POS did not give are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dish {
    pub id: String,
    pub name: String,
    pub price: Option<Decimal>,
    pub quantity: Option<Decimal>,
    pub amount: Option<Decimal>,
}

/// A guest's share of a bill.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Guest {
    pub name: String,
    pub dishes: Vec<Dish>,
}

/// A bill as the POS shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bill {
    pub bill_id: String,
    pub total: Decimal,
    pub amount_due: Decimal,
    pub paid: Decimal,
    pub status: BillStatus,
    /// The POS's own status word, verbatim.
    pub pos_status: String,
    pub bill_printed: bool,
    pub order_number: String,
    pub table: String,
    pub waiter: String,
    pub waiter_id: String,
    pub guests: Vec<Guest>,
    /// The POS's currency (id or code), verbatim.
    pub currency: String,
}

impl Bill {
    /// The amounts the "was it applied?" comparison needs.
    pub fn amounts(&self) -> BillAmounts {
        BillAmounts {
            total: Some(self.total),
            paid: Some(self.paid),
            due: Some(self.amount_due),
            closed: self.status == BillStatus::Closed,
            pos_status: self.pos_status.clone(),
        }
    }
}

/// A bill's amounts and state, as far as they are known (a bill read before posting was stored
/// as text and may lack some).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BillAmounts {
    pub total: Option<Decimal>,
    pub paid: Option<Decimal>,
    pub due: Option<Decimal>,
    pub closed: bool,
    pub pos_status: String,
}

/// One tender of a split payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tender {
    /// The POS's payment type / currency id; empty: the restaurant's default.
    pub tender_id: String,
    pub amount: Money,
    /// A loyalty/gift card code: a secret.
    pub card_code: Option<Secret>,
}

/// A payment to post, checked: amounts at the restaurant's scale, tenders adding up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub payment_id: String,
    pub bill_id: String,
    pub amount: Money,
    /// Zero when none.
    pub tips: Money,
    /// Empty: one tender of the whole amount in the restaurant's default type.
    pub tenders: Vec<Tender>,
    /// Bonus points to spend; zero when none.
    pub points: Money,
    pub fiscal_data: BTreeMap<String, String>,
    pub pos_options: BTreeMap<String, String>,
    /// 1 = the first posting of this payment.
    pub attempt: u32,
    /// The caller follows a posting the POS is still working on (it checks with
    /// [`Check::awaiting_task`]): a connector whose POS runs postings as tasks may answer
    /// [`Outcome::Pending`] once the task is submitted instead of waiting for its answer.
    pub may_pend: bool,
}

/// After an unknown outcome: is the unanswered posting there?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub payment_id: String,
    pub bill_id: String,
    pub amount: Money,
    /// The POS's reference of the posting, when one was given.
    pub reference: Option<String>,
    /// The bill as read before posting.
    pub bill_before: Option<BillAmounts>,
    /// The payment was to close the bill.
    pub close: bool,
    /// The posting was answered [`Outcome::Pending`] and its task has not answered: read the
    /// task's own answer only and answer as the posting would have, [`Outcome::Pending`] while
    /// it runs, [`Outcome::Unknown`] when its answer cannot be read.
    pub awaiting_task: bool,
}

/// The first check after a task was submitted.
pub const FIRST_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// How long to wait before the next look at a task submitted `elapsed` ago: soon at first (most
/// tasks take a fraction of a second), then a quarter of the time waited so far, so a task's
/// answer is seen at most about a quarter of its own time late; never longer than `longest`
/// (the restaurant's polling setting).
pub fn poll_wait(
    elapsed: std::time::Duration,
    longest: std::time::Duration,
) -> std::time::Duration {
    (elapsed / 4).max(FIRST_POLL).min(longest)
}

/// What the comparison of a bill before and after a posting says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub outcome: Outcome,
    /// The bill is closed now.
    pub closed: bool,
    /// Why, in words, for the payment's history.
    pub why: String,
}

/// Decides from the bill before posting and the bill now whether a posting of `amount` was
/// applied. The one comparison: every connector that can read bills uses it after an unknown
/// outcome, and the rules are these, in order:
///
/// | evidence                                      | outcome      |
/// |-----------------------------------------------|--------------|
/// | no bill before                                | unknown      |
/// | open before, closed now                       | applied      |
/// | paid grew by at least the amount              | applied      |
/// | paid unchanged                                | not applied  |
/// | due dropped by at least the amount            | applied      |
/// | due unchanged and total unchanged             | not applied  |
/// | anything else (another change on the bill)    | unknown      |
pub fn judge_posting(
    before: Option<&BillAmounts>,
    now: &BillAmounts,
    amount: Decimal,
) -> Judgement {
    let show =
        |d: Option<Decimal>| d.map_or_else(|| "?".to_string(), |d| d.normalize().to_string());
    let judged = |outcome, closed, why: String| Judgement {
        outcome,
        closed,
        why,
    };
    let Some(before) = before else {
        return judged(
            Outcome::Unknown,
            false,
            format!(
                "no bill before posting to compare with; the bill is now {} (total {}, paid {}, due {})",
                now.pos_status,
                show(now.total),
                show(now.paid),
                show(now.due)
            ),
        );
    };
    let was = if before.pos_status.is_empty() {
        "open"
    } else {
        &before.pos_status
    };
    if now.closed && !before.closed {
        return judged(
            Outcome::Applied,
            true,
            format!(
                "the bill was {was} and is now {} (paid {}, due {})",
                now.pos_status,
                show(now.paid),
                show(now.due)
            ),
        );
    }
    let counts = !amount.is_zero();
    if let (Some(b), Some(n)) = (before.paid, now.paid) {
        let grew = n.checked_sub(b).unwrap_or(Decimal::ZERO);
        if counts && grew >= amount {
            return judged(
                Outcome::Applied,
                now.closed,
                format!(
                    "paid grew from {} to {} (≥ {})",
                    show(Some(b)),
                    show(Some(n)),
                    amount.normalize()
                ),
            );
        }
        if grew.is_zero() {
            return judged(
                Outcome::NotApplied,
                false,
                format!(
                    "paid unchanged at {}; status {} (was {was})",
                    show(Some(n)),
                    now.pos_status
                ),
            );
        }
    }
    if let (Some(b), Some(n)) = (before.due, now.due) {
        let dropped = b.checked_sub(n).unwrap_or(Decimal::ZERO);
        if counts && dropped >= amount {
            return judged(
                Outcome::Applied,
                now.closed,
                format!(
                    "amount due dropped from {} to {} (≥ {})",
                    show(Some(b)),
                    show(Some(n)),
                    amount.normalize()
                ),
            );
        }
        let total_same = match (before.total, now.total) {
            (Some(b), Some(n)) => b == n,
            _ => true,
        };
        if dropped.is_zero() && total_same {
            return judged(
                Outcome::NotApplied,
                false,
                format!(
                    "amount due unchanged at {}; status {} (was {was})",
                    show(Some(n)),
                    now.pos_status
                ),
            );
        }
    }
    judged(
        Outcome::Unknown,
        now.closed,
        format!(
            "the bill changed in a way that does not show this payment: before total {} paid {} due {} status {was}; now total {} paid {} due {} status {}",
            show(before.total),
            show(before.paid),
            show(before.due),
            show(now.total),
            show(now.paid),
            show(now.due),
            now.pos_status
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn amounts(total: &str, paid: &str, due: &str, closed: bool) -> BillAmounts {
        let opt = |s: &str| (!s.is_empty()).then(|| d(s));
        BillAmounts {
            total: opt(total),
            paid: opt(paid),
            due: opt(due),
            closed,
            pos_status: if closed { "Closed" } else { "Open" }.into(),
        }
    }

    /// Every row of the table, and the edges between rows.
    #[test]
    fn the_comparison_table() {
        let open = amounts("978", "0", "978", false);
        let cases: &[(Option<&BillAmounts>, BillAmounts, &str, Outcome, bool)] = &[
            (
                None,
                amounts("978", "978", "0", true),
                "978",
                Outcome::Unknown,
                false,
            ),
            (
                Some(&open),
                amounts("978", "978", "0", true),
                "978",
                Outcome::Applied,
                true,
            ),
            // Closed before and after: the close says nothing; paid unchanged says not applied.
            (
                Some(&amounts("978", "978", "0", true)),
                amounts("978", "978", "0", true),
                "978",
                Outcome::NotApplied,
                false,
            ),
            (
                Some(&open),
                amounts("978", "300", "678", false),
                "300",
                Outcome::Applied,
                false,
            ),
            (
                Some(&open),
                amounts("978", "300", "678", false),
                "299.99",
                Outcome::Applied,
                false,
            ),
            // Paid grew, but by less than the amount: another payment.
            (
                Some(&open),
                amounts("978", "100", "878", false),
                "300",
                Outcome::Unknown,
                false,
            ),
            (
                Some(&open),
                amounts("978", "0", "978", false),
                "300",
                Outcome::NotApplied,
                false,
            ),
            // A zero amount never counts as applied by growth.
            (
                Some(&open),
                amounts("978", "10", "968", false),
                "0",
                Outcome::Unknown,
                false,
            ),
            // Without paid figures, the due decides.
            (
                Some(&amounts("978", "", "978", false)),
                amounts("978", "", "678", false),
                "300",
                Outcome::Applied,
                false,
            ),
            (
                Some(&amounts("978", "", "978", false)),
                amounts("978", "", "978", false),
                "300",
                Outcome::NotApplied,
                false,
            ),
            // Due unchanged but the total changed (a dish added and a payment?): unknown.
            (
                Some(&amounts("978", "", "978", false)),
                amounts("1000", "", "978", false),
                "22",
                Outcome::Unknown,
                false,
            ),
            // Nothing comparable at all.
            (
                Some(&amounts("", "", "", false)),
                amounts("978", "0", "978", false),
                "300",
                Outcome::Unknown,
                false,
            ),
        ];
        for (i, (before, now, amount, outcome, closed)) in cases.iter().enumerate() {
            let j = judge_posting(*before, now, d(amount));
            assert_eq!(
                (j.outcome, j.closed),
                (*outcome, *closed),
                "case {i}: {}",
                j.why
            );
            assert!(!j.why.is_empty());
        }
    }

    #[test]
    fn a_verdict_is_an_outcome_a_substate_and_a_transience() {
        let printer = Verdict::Rejected(Substate::PrinterError);
        for (v, outcome, substate, transient) in [
            (printer, Outcome::Rejected, Substate::PrinterError, false),
            (
                Verdict::Unknown,
                Outcome::Unknown,
                Substate::OtherError,
                true,
            ),
            (
                Verdict::Transient,
                Outcome::NotApplied,
                Substate::OtherError,
                true,
            ),
        ] {
            let f = v.failure("HTTP/200".into(), "text".into(), false);
            assert_eq!(
                (v.outcome(), f.substate, f.transient),
                (outcome, substate, transient),
                "{v:?}"
            );
        }
    }

    #[test]
    fn a_bill_s_amounts_are_all_known() {
        let b = Bill {
            total: d("10"),
            paid: d("4"),
            amount_due: d("6"),
            status: BillStatus::Closed,
            pos_status: "Complited".into(),
            ..Bill::default()
        };
        assert_eq!(
            b.amounts(),
            BillAmounts {
                total: Some(d("10")),
                paid: Some(d("4")),
                due: Some(d("6")),
                closed: true,
                pos_status: "Complited".into()
            }
        );
    }
}
