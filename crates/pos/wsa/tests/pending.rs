//! A posting whose caller follows it itself (`may_answer_pending`): in async mode the adapter
//! answers PENDING once White Server has the PayOrder task, and each `CheckPayment` with
//! `awaiting_task` is one look at that task, answered as the posting would have been. Over real
//! gRPC against the WSA simulator over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::*;
use posgate_proto::v1::*;
use posgate_sim::wsa::{self as sim, Fault, FaultKind};

/// A payment of `amount` whose caller follows the POS's task itself.
fn followed(restaurant: &str, bill: &str, amount: &str) -> PostPaymentRequest {
    PostPaymentRequest {
        may_answer_pending: true,
        ..pay_req(restaurant, bill, amount)
    }
}

/// Looks at the posting's task (`awaiting_task`) until it is no longer PENDING (5 s at most):
/// the answer and how many looks found it running.
async fn follow(
    c: &mut Client,
    restaurant: &str,
    bill: &str,
    amount: &str,
    task: &str,
) -> (CheckPaymentResponse, usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut running = 0;
    loop {
        let look = c
            .check(CheckPaymentRequest {
                pos_reference: task.into(),
                awaiting_task: true,
                ..check_req(restaurant, bill, amount)
            })
            .await;
        if outcome(look.outcome) != Outcome::Pending {
            return (look, running);
        }
        running += 1;
        assert!(!look.evidence.is_empty(), "{look:?}");
        assert!(
            Instant::now() < deadline,
            "the task never answered: {look:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_followed_payment_is_pending_until_its_task_answers_and_is_booked_once() {
    // The simulator's agent answers async tasks after 200 ms.
    let (sim, mut c) = start_demo_timing().await;
    let r = c.post(followed(V2, sim::DEMO_ORDER_978, "978.00")).await;
    assert_eq!(outcome(r.outcome), Outcome::Pending, "{r:?}");
    assert!(r.failure.is_none() && !r.bill_closed, "{r:?}");
    assert!(!r.pos_reference.is_empty(), "the task is named: {r:?}");
    assert_eq!(r.poll_interval_ms, 25, "the restaurant's poll_interval_ms");
    assert!(
        sim.ledger().is_empty(),
        "the agent has not run the task yet"
    );
    let (ck, running) = follow(&mut c, V2, sim::DEMO_ORDER_978, "978.00", &r.pos_reference).await;
    assert!(running >= 1, "looked at while the task ran");
    assert_eq!(outcome(ck.outcome), Outcome::Applied, "{ck:?}");
    assert!(
        ck.bill_closed,
        "an exact v2 payment closes the order: {ck:?}"
    );
    assert!(ck.evidence.contains(&r.pos_reference), "{ck:?}");
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].task_guid, r.pos_reference);
    assert_eq!(sim.requests("PayOrder"), 1, "looks never post");
    // A look after the answer reads the same stored answer again.
    let (again, _) = follow(&mut c, V2, sim::DEMO_ORDER_978, "978.00", &r.pos_reference).await;
    assert_eq!(outcome(again.outcome), Outcome::Applied, "{again:?}");
    assert_eq!(sim.ledger().len(), 1);
}

#[tokio::test]
async fn a_followed_refusal_reads_as_the_posting_s_own() {
    let (sim, mut c) = start().await;
    // The same refusal waited for by the adapter, and followed by its caller.
    let waited = c.pay(V2, sim::DEMO_ORDER_978, "900.00").await;
    let r = c.post(followed(V2, sim::DEMO_ORDER_978, "900.00")).await;
    let answer = match outcome(r.outcome) {
        Outcome::Pending => {
            let (ck, _) = follow(&mut c, V2, sim::DEMO_ORDER_978, "900.00", &r.pos_reference).await;
            (ck.outcome, ck.failure)
        }
        _ => (r.outcome, r.failure),
    };
    assert_eq!(outcome(answer.0), Outcome::Rejected, "{answer:?}");
    assert_eq!(substate(&answer.1), Substate::WrongRequestSum);
    let (f, w) = (answer.1.unwrap(), waited.failure.unwrap());
    assert_eq!((f.pos_code, f.substate), (w.pos_code, w.substate));
    assert!(sim.ledger().is_empty());
}

#[tokio::test]
async fn a_task_answered_within_the_posting_s_short_wait_is_answered_at_once() {
    // The agent answers after 20 ms, within the posting's own wait: no look needed.
    let (sim, mut c) = start().await;
    let r = c.post(followed(V2, sim::DEMO_ORDER_978, "978.00")).await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(r.bill_closed);
    assert_eq!(sim.ledger()[0].task_guid, r.pos_reference);
    assert_eq!(sim.requests("PayOrder"), 1);
}

#[tokio::test]
async fn sync_mode_and_callers_that_do_not_follow_never_get_pending() {
    let (sim, mut c) = start().await;
    let r = c
        .post(followed(V2_SYNC, sim::DEMO_ORDER_978, "978.00"))
        .await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim.ledger().len(), 1);
    // In async mode, without `may_answer_pending`, the adapter waits for the task's answer.
    let order = sim.add_order(sim::SimOrder::new(sim::DEMO_OBJECT_ID, dec("10.00")));
    let r = c.pay(V2, &order.guid, "10.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim.ledger().len(), 2);
}

#[tokio::test]
async fn a_task_whose_answer_cannot_be_read_is_unknown_not_pending() {
    // Every GetTaskResponse is refused (its own answer, not the PayOrder's): the look cannot
    // read the task's answer, so the outcome is unknown — never "running" for ever.
    let (sim, mut c) = start().await;
    sim.inject(Fault::new(FaultKind::AuthFailed).for_task("GetTaskResponse"));
    // The posting's own short wait already looks once: unknown there, or at the first look.
    let r = c.post(followed(V2, sim::DEMO_ORDER_978, "978.00")).await;
    let (answer, failure) = match outcome(r.outcome) {
        Outcome::Pending => {
            let (ck, running) =
                follow(&mut c, V2, sim::DEMO_ORDER_978, "978.00", &r.pos_reference).await;
            assert_eq!(running, 0, "{ck:?}");
            (ck.outcome, ck.failure)
        }
        _ => (r.outcome, r.failure),
    };
    assert_eq!(outcome(answer), Outcome::Unknown, "{failure:?}");
    let f = failure.expect("the reason");
    assert!(f.pos_text.contains("cannot be read"), "{f:?}");
    assert_eq!(sim.requests("PayOrder"), 1);
}
