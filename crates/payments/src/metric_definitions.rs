//! The payment service's metrics in one place: names, units, help texts ([`describe_metrics`])
//! and the few functions that record them with their labels, so every label value comes from a
//! closed list (states, substates, our own failure codes, POS kinds of configured adapters).
//! Bill ids are never labels. Restaurant ids are not by default (thousands of restaurants would
//! be thousands of series: follow one restaurant through the logs, `restaurant_id` on every
//! line); `[metrics] restaurant_label = true` adds `restaurant_id` to the series where an
//! operator asks "which restaurant?": [`PAYMENT_TRANSITIONS`], [`PAYMENT_RETRIES`],
//! [`POS_CALL_DURATION`] and [`LIMITER_WAIT`] ([`posgate_grpc::metrics::with_restaurant`]).

use std::time::Duration;

use metrics::{Label, Unit, describe_counter, describe_gauge, describe_histogram};
use posgate_core::{PaymentState, Substate};
use posgate_grpc::metrics::with_restaurant;

use crate::port::Outcome;
use crate::store::PaymentRecord;

/// Payments entering a state, by `state` and `substate` (empty when none).
pub const PAYMENT_TRANSITIONS: &str = "posgate_payment_transitions_total";
/// Time to answer `PayBill`, by `result`: the state of the payment answered, or `error`.
pub const PAY_BILL_DURATION: &str = "posgate_pay_bill_duration_seconds";
/// Time of one call to a POS through its adapter, by `pos` kind, `operation` (get_bill,
/// post_payment, check_payment, close_bill) and `result` (applied, rejected, not_applied,
/// unknown; ok or failure for get_bill; bad_request, not_allowed, error when the call failed).
pub const POS_CALL_DURATION: &str = "posgate_pos_call_duration_seconds";
/// Postings and closings scheduled again, by `cause`: the substate (BILL_IN_USE, ...), one of
/// posgate's own codes (`posgate:adapter_unreachable`, ...), or `transient`.
pub const PAYMENT_RETRIES: &str = "posgate_payment_retries_total";
/// Reads of the bill after an unanswered posting, by `result` (applied, not_applied, rejected,
/// unknown, error).
pub const RECONCILIATIONS: &str = "posgate_payment_reconciliations_total";
/// New payments' bills read while they were stored (`Engine::read_bill_ahead`), by `result`:
/// `posted_on` (the recovery point was saved on the read), `passing_failure` (the read's
/// failure was the posting's answer), `read_again` (refused by the POS, the bill shared with
/// another payment, or the read unfinished: the bill was read again).
pub const BILL_READS_AHEAD: &str = "posgate_bill_reads_ahead_total";
/// Payments this replica is driving through the POS now.
pub const PAYMENTS_IN_FLIGHT: &str = "posgate_payments_in_flight";
/// Time a payment waited for its restaurant's POS-call slot (`max_in_flight_per_restaurant`).
pub const LIMITER_WAIT: &str = "posgate_restaurant_limiter_wait_seconds";
/// Payments not yet final in the database, by `state` (the whole database: every replica
/// reports the same figure, aggregate with max).
pub const PAYMENTS_OPEN: &str = "posgate_payments_open";
/// Age of the oldest payment in each not-yet-final `state`: since it went unanswered for
/// outcome_unknown, since its last change otherwise.
pub const OLDEST_OPEN_AGE: &str = "posgate_payment_oldest_open_age_seconds";
/// Database pool connections, by `state` (in_use, idle).
pub const DB_POOL_CONNECTIONS: &str = "posgate_db_pool_connections";
/// Time of the periodic database check (health and the gauges above).
pub const DB_CHECK_DURATION: &str = "posgate_db_check_duration_seconds";
/// Time of one store operation (a statement or a short transaction), by `query` (insert, get,
/// save, scan_due, renew_many, lock_bill, registry_get, ...) and `result` (ok, error).
pub const DB_QUERY_DURATION: &str = "posgate_db_query_duration_seconds";
/// Writes committed together by one writer lane's transaction (group commit).
pub const DB_WRITE_BATCH: &str = "posgate_db_write_batch_size";

/// The states [`PAYMENTS_OPEN`] counts: work is owed, or a person is.
pub const OPEN_STATES: [PaymentState; 6] = [
    PaymentState::Accepted,
    PaymentState::Posting,
    PaymentState::Closing,
    PaymentState::Retrying,
    PaymentState::OutcomeUnknown,
    PaymentState::NeedsAttention,
];

/// Registers the help texts and units of every metric above.
pub fn describe_metrics() {
    describe_counter!(
        PAYMENT_TRANSITIONS,
        Unit::Count,
        "Payments entering a state, by state and substate"
    );
    describe_histogram!(
        PAY_BILL_DURATION,
        Unit::Seconds,
        "Time to answer PayBill, by the answered payment's state (or error)"
    );
    describe_histogram!(
        POS_CALL_DURATION,
        Unit::Seconds,
        "Time of one POS call through its adapter, by POS kind, operation and result"
    );
    describe_counter!(
        PAYMENT_RETRIES,
        Unit::Count,
        "Postings and closings scheduled again, by cause"
    );
    describe_counter!(
        RECONCILIATIONS,
        Unit::Count,
        "Bill reads after an unanswered posting, by result"
    );
    describe_counter!(
        BILL_READS_AHEAD,
        Unit::Count,
        "New payments' bills read while they were stored, by result"
    );
    describe_gauge!(
        PAYMENTS_IN_FLIGHT,
        Unit::Count,
        "Payments this replica is driving through the POS now"
    );
    describe_histogram!(
        LIMITER_WAIT,
        Unit::Seconds,
        "Time a payment waited for its restaurant's POS-call slot"
    );
    describe_gauge!(
        PAYMENTS_OPEN,
        Unit::Count,
        "Payments not yet final in the database, by state"
    );
    describe_gauge!(
        OLDEST_OPEN_AGE,
        Unit::Seconds,
        "Age of the oldest payment in each not-yet-final state"
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        Unit::Count,
        "Database pool connections, by state (in_use, idle)"
    );
    describe_histogram!(
        DB_CHECK_DURATION,
        Unit::Seconds,
        "Time of the periodic database check"
    );
    describe_histogram!(
        DB_QUERY_DURATION,
        Unit::Seconds,
        "Time of one store operation, by query and result"
    );
    describe_histogram!(
        DB_WRITE_BATCH,
        Unit::Count,
        "Writes committed together in one transaction (group commit)"
    );
}

/// A writer lane committed `writes` writes in one transaction.
pub fn write_batch(writes: usize) {
    metrics::histogram!(DB_WRITE_BATCH).record(writes as f64);
}

/// One store operation named `query` (a closed list written in the store) took `took`.
pub fn db_query(query: &'static str, ok: bool, took: Duration) {
    metrics::histogram!(
        DB_QUERY_DURATION,
        "query" => query,
        "result" => if ok { "ok" } else { "error" }
    )
    .record(took.as_secs_f64());
}

/// A payment entered its state (saved). The substate counts only where it is the reason for
/// the state (retrying, needs attention); elsewhere it is a leftover of an earlier step.
pub fn transition(rec: &PaymentRecord) {
    let state = rec.lifecycle.state;
    let substate = match state {
        PaymentState::Retrying | PaymentState::NeedsAttention => rec.substate,
        _ => None,
    };
    let labels = vec![
        Label::new("state", state.as_str()),
        Label::new("substate", substate.map_or("", Substate::as_str)),
    ];
    metrics::counter!(
        PAYMENT_TRANSITIONS,
        with_restaurant(labels, &rec.request.restaurant_id)
    )
    .increment(1);
}

/// A payment is scheduled again, for its substate or, failing one, its code when that is one
/// of posgate's own.
pub fn retry(rec: &PaymentRecord) {
    let cause = match (rec.substate, rec.pos_code.as_deref()) {
        (Some(s), _) => s.as_str(),
        (None, Some(c)) => crate::engine::codes::ALL
            .iter()
            .find(|known| **known == c)
            .copied()
            .unwrap_or("transient"),
        (None, None) => "transient",
    };
    let labels = vec![Label::new("cause", cause)];
    metrics::counter!(
        PAYMENT_RETRIES,
        with_restaurant(labels, &rec.request.restaurant_id)
    )
    .increment(1);
}

/// The label of a POS answer's outcome.
pub fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Applied => "applied",
        Outcome::Rejected => "rejected",
        Outcome::NotApplied => "not_applied",
        Outcome::Unknown => "unknown",
        Outcome::Pending => "pending",
    }
}

/// A bill read after an unanswered posting came back with `result`.
pub fn reconciliation(result: &'static str) {
    metrics::counter!(RECONCILIATIONS, "result" => result).increment(1);
}

/// A new payment's bill read while it was stored ended with `result`.
pub fn bill_read_ahead(result: &'static str) {
    metrics::counter!(BILL_READS_AHEAD, "result" => result).increment(1);
}

/// One call to `restaurant_id`'s POS took `took`.
pub fn pos_call(
    pos: &str,
    restaurant_id: &str,
    operation: &'static str,
    result: &'static str,
    took: Duration,
) {
    let labels = vec![
        Label::new("pos", pos.to_string()),
        Label::new("operation", operation),
        Label::new("result", result),
    ];
    metrics::histogram!(POS_CALL_DURATION, with_restaurant(labels, restaurant_id))
        .record(took.as_secs_f64());
}

/// `PayBill` answered with `result` after `took`.
pub fn pay_bill(result: &'static str, took: Duration) {
    metrics::histogram!(PAY_BILL_DURATION, "result" => result).record(took.as_secs_f64());
}

/// A drive started (`+1`) or ended (`-1`).
pub fn in_flight(delta: i8) {
    let g = metrics::gauge!(PAYMENTS_IN_FLIGHT);
    if delta > 0 {
        g.increment(1);
    } else {
        g.decrement(1);
    }
}

/// A payment waited `took` for `restaurant_id`'s slot.
pub fn limiter_wait(restaurant_id: &str, took: Duration) {
    metrics::histogram!(LIMITER_WAIT, with_restaurant(Vec::new(), restaurant_id))
        .record(took.as_secs_f64());
}

/// The database figures of one check: open payments by state (count, oldest's time basis in
/// unix ms) and the pool's connections.
pub fn database(open: &[(PaymentState, i64, Option<i64>)], now_ms: i64, pool: (u32, usize)) {
    for state in OPEN_STATES {
        let (count, oldest) = open
            .iter()
            .find(|(s, _, _)| *s == state)
            .map_or((0, None), |(_, c, o)| (*c, *o));
        metrics::gauge!(PAYMENTS_OPEN, "state" => state.as_str()).set(count as f64);
        let age = oldest.map_or(Duration::ZERO, |t| {
            Duration::from_millis(u64::try_from(now_ms.saturating_sub(t)).unwrap_or(0))
        });
        metrics::gauge!(OLDEST_OPEN_AGE, "state" => state.as_str()).set(age.as_secs_f64());
    }
    let (size, idle) = pool;
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(size.saturating_sub(idle));
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(idle);
}
