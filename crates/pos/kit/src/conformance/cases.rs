//! The conformance cases: plain async functions over a [`Harness`], each asserting what the
//! `PosAdapter` contract promises, over gRPC, against the POS's simulator. Every assertion
//! says the POS, the case and what was promised.

use std::time::Duration;

use posgate_proto::v1::{
    AdapterCloseBillRequest, AdapterCloseBillResponse, AdapterGetBillRequest, Bill, BillStatus,
    CheckPaymentRequest, CheckPaymentResponse, DescribeRequest, DescribeResponse, Outcome,
    PosConnection, PosFailure, PostPaymentRequest, PostPaymentResponse, Substate,
    adapter_get_bill_response,
};
use rust_decimal::Decimal;
use tokio::time::Instant;

use super::{Adapter, Client, Fault, Harness, Restaurant, TestCa, Trap, front, skip};

use Restaurant::{A, B};

/// The bill most cases pay: 978.00.
fn total() -> Decimal {
    Decimal::new(97_800, 2)
}

/// Bills per restaurant in [`concurrent_keys`].
const CONCURRENT_BILLS: i64 = 4;

/// How long after a late apply the ledger is read (the simulator's own scheduling).
const LATE_MARGIN: Duration = Duration::from_millis(300);

fn outcome(o: i32) -> Outcome {
    Outcome::try_from(o).unwrap_or(Outcome::Unspecified)
}

/// One case's world: the POS's simulators, one adapter server, restaurant `A`'s connection and
/// what `Describe` says of it.
struct Session<H> {
    /// "r_keeper WSA exact_pay": the head of every message.
    at: String,
    case: &'static str,
    h: H,
    adapter: Adapter,
    conn: PosConnection,
    d: DescribeResponse,
}

impl<H: Harness> Session<H> {
    async fn start(case: &'static str) -> Session<H> {
        let h = H::start().await;
        let mut adapter = h.start_adapter().await;
        let conn = h.connection(A);
        let at = format!("{} {case}", H::POS);
        let d = adapter
            .client
            .describe(DescribeRequest {
                restaurant_id: A.id().into(),
                connection: Some(conn.clone()),
            })
            .await
            .unwrap_or_else(|e| panic!("{at}: Describe failed: {e}"))
            .into_inner();
        Session {
            at,
            case,
            h,
            adapter,
            conn,
            d,
        }
    }

    /// Arms `fault` on `bill` of `A`; `None` (said on stderr) when the POS cannot have it.
    async fn arm(&self, bill: &str, fault: Fault) -> Option<Instant> {
        let armed_at = Instant::now();
        match self.h.inject(A, bill, fault.clone()).await {
            Ok(armed) => Some(armed_at + armed.late_work + LATE_MARGIN),
            Err(why) => {
                skip(H::POS, self.case, &format!("{fault:?}: {}", why.0));
                None
            }
        }
    }

    async fn pay(&mut self, bill: &str, amount: Decimal) -> PostPaymentResponse {
        pay_via(
            &mut self.adapter.client,
            &self.at,
            A,
            &self.conn,
            bill,
            amount,
        )
        .await
    }

    async fn close(&mut self, bill: &str) -> AdapterCloseBillResponse {
        self.adapter
            .client
            .close_bill(AdapterCloseBillRequest {
                restaurant_id: A.id().into(),
                bill_id: bill.into(),
                payment_id: payment_id(bill),
                connection: Some(self.conn.clone()),
            })
            .await
            .unwrap_or_else(|e| panic!("{}: CloseBill answered a gRPC error: {e}", self.at))
            .into_inner()
    }

    /// The bill as read before posting, for `CheckPayment`; `None` where `Describe` says the
    /// POS cannot read bills.
    async fn before(&mut self, bill: &str) -> Option<Bill> {
        if self.d.cannot_read_bills {
            return None;
        }
        Some(self.read(bill).await)
    }

    async fn read(&mut self, bill: &str) -> Bill {
        let r = self
            .adapter
            .client
            .get_bill(AdapterGetBillRequest {
                restaurant_id: A.id().into(),
                bill_id: bill.into(),
                connection: Some(self.conn.clone()),
            })
            .await
            .unwrap_or_else(|e| panic!("{}: GetBill answered a gRPC error: {e}", self.at))
            .into_inner();
        match r.result {
            Some(adapter_get_bill_response::Result::Bill(b)) => b,
            other => panic!("{}: GetBill of {bill} failed: {other:?}", self.at),
        }
    }

    async fn check(
        &mut self,
        bill: &str,
        amount: Decimal,
        pos_reference: &str,
        bill_before: Option<Bill>,
    ) -> CheckPaymentResponse {
        self.adapter
            .client
            .check_payment(CheckPaymentRequest {
                restaurant_id: A.id().into(),
                bill_id: bill.into(),
                payment_id: payment_id(bill),
                amount: amount.to_string(),
                pos_reference: pos_reference.into(),
                bill_before,
                close: false,
                connection: Some(self.conn.clone()),
                awaiting_task: false,
            })
            .await
            .unwrap_or_else(|e| panic!("{}: CheckPayment answered a gRPC error: {e}", self.at))
            .into_inner()
    }

    async fn booked(&self, bill: &str) -> usize {
        self.h.payments_booked(A, bill).await
    }

    /// After a payment the POS could not be asked about: `CheckPayment` must leave it to a
    /// person where `Describe` says bills cannot be read, and say what it knows otherwise.
    fn assert_unverifiable(&self, ck: &CheckPaymentResponse) {
        let at = &self.at;
        assert_eq!(
            outcome(ck.outcome),
            Outcome::Unknown,
            "{at}: Describe says this POS cannot read bills, so CheckPayment cannot know and must not claim either way: {ck:?}"
        );
        assert!(
            !ck.evidence.trim().is_empty(),
            "{at}: CheckPayment must say how it decided: {ck:?}"
        );
    }
}

/// The payment id of a case's payment on `bill` (one payment per bill).
fn payment_id(bill: &str) -> String {
    format!("conformance-{bill}")
}

async fn pay_via(
    c: &mut Client,
    at: &str,
    r: Restaurant,
    conn: &PosConnection,
    bill: &str,
    amount: Decimal,
) -> PostPaymentResponse {
    c.post_payment(PostPaymentRequest {
        restaurant_id: r.id().into(),
        bill_id: bill.into(),
        payment_id: payment_id(bill),
        amount: amount.to_string(),
        attempt: 1,
        connection: Some(conn.clone()),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{at}: PostPayment answered a gRPC error (not a POS outcome): {e}"))
    .into_inner()
}

/// A refusal: `REJECTED` (or `NOT_APPLIED`), with `want` and the POS's text.
fn assert_refused(at: &str, call: &str, o: Outcome, f: Option<&PosFailure>, want: Substate) {
    assert!(
        matches!(o, Outcome::Rejected | Outcome::NotApplied),
        "{at}: the POS refused ({want:?}); {call} answered {o:?}: {f:?}"
    );
    let f = f.unwrap_or_else(|| panic!("{at}: {call} refused without a failure"));
    assert_eq!(
        Substate::try_from(f.substate).ok(),
        Some(want),
        "{at}: {call}'s substate: {f:?}"
    );
    assert!(
        !f.pos_text.trim().is_empty(),
        "{at}: {call} did not keep the POS's text: {f:?}"
    );
}

/// A failure whose texts say something.
fn failure_of<'a>(at: &str, r: &'a PostPaymentResponse) -> &'a PosFailure {
    let f = r
        .failure
        .as_ref()
        .unwrap_or_else(|| panic!("{at}: {:?} without a failure saying why", r.outcome));
    assert!(!f.pos_text.trim().is_empty(), "{at}: an empty text: {f:?}");
    f
}

/// An exact payment is `APPLIED`, booked once, and the bill is closed (by `CloseBill` where
/// `Describe` says closing is a separate step).
pub async fn exact_pay<H: Harness>() {
    let mut s = Session::<H>::start("exact_pay").await;
    let bill = s.h.open_bill(A, total()).await;
    let r = s.pay(&bill, total()).await;
    let at = s.at.clone();
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{at}: {r:?}");
    assert!(r.failure.is_none(), "{at}: APPLIED with a failure: {r:?}");
    if s.d.separate_close_step {
        assert!(
            !r.bill_closed,
            "{at}: Describe says closing is a separate step, yet paying closed the bill: {r:?}"
        );
        let cl = s.close(&bill).await;
        assert_eq!(
            outcome(cl.outcome),
            Outcome::Applied,
            "{at}: CloseBill: {cl:?}"
        );
    } else {
        assert!(
            r.bill_closed,
            "{at}: an exact payment closes the bill here: {r:?}"
        );
    }
    assert!(
        s.h.bill_closed(A, &bill).await,
        "{at}: the POS shows the bill still open"
    );
    assert_eq!(s.booked(&bill).await, 1, "{at}: booked exactly once");
    if !s.d.cannot_read_bills {
        let b = s.read(&bill).await;
        assert_eq!(
            b.status,
            BillStatus::Closed as i32,
            "{at}: GetBill after paying: {b:?}"
        );
    }
}

/// The POS refuses with `substate`: the outcome says so, the POS's text is kept, nothing is
/// booked and the bill stays open. A wrong sum is a real one (more than is due, wrong under
/// either amount rule); the other refusals are armed faults. Where closing is a separate step
/// and the POS refuses only the close (`CLOSE_ORDER_BLOCKED`), the refused `CloseBill` carries
/// the substate and the payment before it stands, booked once.
async fn refuse<H: Harness>(case: &'static str, substate: Substate) {
    let mut s = Session::<H>::start(case).await;
    let bill = s.h.open_bill(A, total()).await;
    let amount = if substate == Substate::WrongRequestSum {
        total() + Decimal::new(100, 2)
    } else {
        if s.arm(&bill, Fault::Refuse(substate)).await.is_none() {
            return;
        }
        total()
    };
    let r = s.pay(&bill, amount).await;
    let at = s.at.clone();
    if substate == Substate::CloseOrderBlocked
        && s.d.separate_close_step
        && outcome(r.outcome) == Outcome::Applied
    {
        let cl = s.close(&bill).await;
        assert_refused(
            &at,
            "CloseBill",
            outcome(cl.outcome),
            cl.failure.as_ref(),
            substate,
        );
        assert!(
            !s.h.bill_closed(A, &bill).await,
            "{at}: the refused close closed the bill"
        );
        assert_eq!(
            s.booked(&bill).await,
            1,
            "{at}: the payment before the refused close is booked once"
        );
        return;
    }
    assert_refused(
        &at,
        "PostPayment",
        outcome(r.outcome),
        r.failure.as_ref(),
        substate,
    );
    assert!(!r.bill_closed, "{at}: a refusal closed the bill: {r:?}");
    assert_eq!(
        s.booked(&bill).await,
        0,
        "{at}: a refused payment was booked"
    );
    assert!(
        !s.h.bill_closed(A, &bill).await,
        "{at}: a refused payment closed the bill"
    );
}

pub async fn refuse_wrong_request_sum<H: Harness>() {
    refuse::<H>("refuse_wrong_request_sum", Substate::WrongRequestSum).await;
}

pub async fn refuse_cashiers_shift_closed<H: Harness>() {
    refuse::<H>(
        "refuse_cashiers_shift_closed",
        Substate::CashiersShiftClosed,
    )
    .await;
}

pub async fn refuse_printer_error<H: Harness>() {
    refuse::<H>("refuse_printer_error", Substate::PrinterError).await;
}

pub async fn refuse_close_order_blocked<H: Harness>() {
    refuse::<H>("refuse_close_order_blocked", Substate::CloseOrderBlocked).await;
}

pub async fn refuse_bill_in_use<H: Harness>() {
    refuse::<H>("refuse_bill_in_use", Substate::BillInUse).await;
}

pub async fn refuse_other_error<H: Harness>() {
    refuse::<H>("refuse_other_error", Substate::OtherError).await;
}

/// The POS applies the payment and the answer is lost: `UNKNOWN`; then `CheckPayment` finds
/// it `APPLIED` (where bills can be read; else it leaves it to a person), still booked once.
pub async fn lost_answer<H: Harness>() {
    let mut s = Session::<H>::start("lost_answer").await;
    let bill = s.h.open_bill(A, total()).await;
    let before = s.before(&bill).await;
    let Some(settled) = s.arm(&bill, Fault::LoseAnswer).await else {
        return;
    };
    let r = s.pay(&bill, total()).await;
    let at = s.at.clone();
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{at}: {r:?}");
    failure_of(&at, &r);
    tokio::time::sleep_until(settled).await;
    assert_eq!(s.booked(&bill).await, 1, "{at}: the POS applied it once");
    let ck = s.check(&bill, total(), &r.pos_reference, before).await;
    if s.d.cannot_read_bills {
        s.assert_unverifiable(&ck);
    } else {
        assert_eq!(
            outcome(ck.outcome),
            Outcome::Applied,
            "{at}: CheckPayment of a payment the POS booked: {ck:?}"
        );
    }
    assert_eq!(s.booked(&bill).await, 1, "{at}: CheckPayment never posts");
}

/// How long the POS works on the posting in [`followed_pay`].
const SLOW: Duration = Duration::from_millis(400);

/// A caller that follows the POS's work itself (`may_answer_pending`, as the payment service
/// does) gets what a caller that waits gets. The POS takes its time: the posting is `APPLIED`
/// at once, or `PENDING` naming the POS's task (and how often to look); then each look
/// (`CheckPayment` with `awaiting_task`) is `PENDING` while the POS works and `APPLIED` once it
/// has, and looks never post: booked exactly once.
pub async fn followed_pay<H: Harness>() {
    let mut s = Session::<H>::start("followed_pay").await;
    let bill = s.h.open_bill(A, total()).await;
    if s.arm(&bill, Fault::Slow(SLOW)).await.is_none() {
        return;
    }
    let at = s.at.clone();
    let started = Instant::now();
    let r = s
        .adapter
        .client
        .post_payment(PostPaymentRequest {
            may_answer_pending: true,
            restaurant_id: A.id().into(),
            bill_id: bill.clone(),
            payment_id: payment_id(&bill),
            amount: total().to_string(),
            attempt: 1,
            connection: Some(s.conn.clone()),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{at}: PostPayment answered a gRPC error: {e}"))
        .into_inner();
    let (answer, closed) = match outcome(r.outcome) {
        Outcome::Pending => {
            assert!(
                !r.pos_reference.is_empty(),
                "{at}: PENDING must name the POS's task in pos_reference: {r:?}"
            );
            assert!(
                r.failure.is_none() && !r.bill_closed,
                "{at}: PENDING decides nothing yet: {r:?}"
            );
            let mut running = 0;
            loop {
                let interval = Duration::from_millis(r.poll_interval_ms.clamp(10, 200));
                tokio::time::sleep(interval).await;
                let look = s
                    .adapter
                    .client
                    .check_payment(CheckPaymentRequest {
                        restaurant_id: A.id().into(),
                        bill_id: bill.clone(),
                        payment_id: payment_id(&bill),
                        amount: total().to_string(),
                        pos_reference: r.pos_reference.clone(),
                        bill_before: None,
                        close: false,
                        connection: Some(s.conn.clone()),
                        awaiting_task: true,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{at}: a look answered a gRPC error: {e}"))
                    .into_inner();
                if outcome(look.outcome) != Outcome::Pending {
                    assert!(
                        running >= 1 || started.elapsed() >= SLOW,
                        "{at}: the task answered before the POS had done its work: {look:?}"
                    );
                    break (look.outcome, look.bill_closed);
                }
                running += 1;
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "{at}: the task never answered a look: {look:?}"
                );
            }
        }
        _ => (r.outcome, r.bill_closed),
    };
    assert_eq!(
        outcome(answer),
        Outcome::Applied,
        "{at}: a slow POS that applies the payment, followed by its caller"
    );
    assert_eq!(
        closed, !s.d.separate_close_step,
        "{at}: an exact payment closes the bill unless closing is a separate step"
    );
    tokio::time::sleep(LATE_MARGIN).await;
    assert_eq!(s.booked(&bill).await, 1, "{at}: booked exactly once");
}

/// The POS answers after the adapter's deadline (and may apply late): `UNKNOWN` or
/// `NOT_APPLIED`, never `APPLIED` on faith; `NOT_APPLIED` only if nothing was booked after all;
/// and `CheckPayment` never contradicts the ledger.
pub async fn timeout<H: Harness>() {
    let mut s = Session::<H>::start("timeout").await;
    let bill = s.h.open_bill(A, total()).await;
    let before = s.before(&bill).await;
    let Some(settled) = s.arm(&bill, Fault::Timeout).await else {
        return;
    };
    let r = s.pay(&bill, total()).await;
    let at = s.at.clone();
    let o = outcome(r.outcome);
    assert!(
        matches!(o, Outcome::Unknown | Outcome::NotApplied),
        "{at}: the POS did not answer in time; the adapter answered {o:?}: {r:?}"
    );
    failure_of(&at, &r);
    tokio::time::sleep_until(settled).await;
    let booked = s.booked(&bill).await;
    assert!(booked <= 1, "{at}: booked {booked} times");
    if o == Outcome::NotApplied {
        assert_eq!(
            booked, 0,
            "{at}: NOT_APPLIED, yet the POS booked it late: posting again would pay twice"
        );
    }
    let ck = s.check(&bill, total(), &r.pos_reference, before).await;
    if s.d.cannot_read_bills {
        s.assert_unverifiable(&ck);
    }
    match outcome(ck.outcome) {
        Outcome::Applied => assert_eq!(
            booked, 1,
            "{at}: CheckPayment says APPLIED, the POS booked nothing: {ck:?}"
        ),
        Outcome::NotApplied => assert_eq!(
            booked, 0,
            "{at}: CheckPayment says NOT_APPLIED, the POS booked it: {ck:?}"
        ),
        _ => {}
    }
    assert_eq!(
        s.booked(&bill).await,
        booked,
        "{at}: CheckPayment never posts"
    );
}

/// A fresh adapter server answers `CheckPayment` for a posting made through the one before it
/// (whose answer was lost): adapters keep nothing between calls.
pub async fn restart<H: Harness>() {
    let mut s = Session::<H>::start("restart").await;
    let bill = s.h.open_bill(A, total()).await;
    let before = s.before(&bill).await;
    let armed_at = Instant::now();
    let (expect, settled) = match s.h.inject(A, &bill, Fault::LoseAnswer).await {
        Ok(a) => (Outcome::Unknown, armed_at + a.late_work + LATE_MARGIN),
        Err(why) => {
            skip(
                H::POS,
                s.case,
                &format!("LoseAnswer ({}): the posting is answered instead", why.0),
            );
            (Outcome::Applied, armed_at)
        }
    };
    let r = s.pay(&bill, total()).await;
    let at = s.at.clone();
    assert_eq!(outcome(r.outcome), expect, "{at}: {r:?}");
    s.adapter.stop().await;
    s.adapter = s.h.start_adapter().await;
    tokio::time::sleep_until(settled).await;
    let ck = s.check(&bill, total(), &r.pos_reference, before).await;
    if s.d.cannot_read_bills {
        s.assert_unverifiable(&ck);
    } else {
        assert_eq!(
            outcome(ck.outcome),
            Outcome::Applied,
            "{at}: the fresh adapter's CheckPayment: {ck:?}"
        );
    }
    assert_eq!(s.booked(&bill).await, 1, "{at}: booked once");
}

/// Payments on several bills of two restaurants, all at once through one adapter server: each
/// `APPLIED`, each booked once in its own restaurant's POS and never in the other's; and a
/// bill of `A` paid with `B`'s connection is not applied anywhere.
pub async fn concurrent_keys<H: Harness>() {
    let s = Session::<H>::start("concurrent_keys").await;
    let at = s.at.clone();
    let conn_b = s.h.connection(B);
    let mut bills = Vec::new();
    for i in 0..CONCURRENT_BILLS {
        for r in [A, B] {
            let cents = 10_000 + 101 * i + if r == B { 5_000 } else { 0 };
            let amount = Decimal::new(cents, 2);
            bills.push((r, s.h.open_bill(r, amount).await, amount));
        }
    }
    let posts = bills.iter().map(|(r, bill, amount)| {
        let mut c = s.adapter.client.clone();
        let conn = if *r == A { &s.conn } else { &conn_b };
        let at = &at;
        async move { pay_via(&mut c, at, *r, conn, bill, *amount).await }
    });
    let answers = futures::future::join_all(posts).await;
    for ((r, bill, _), a) in bills.iter().zip(&answers) {
        assert_eq!(
            outcome(a.outcome),
            Outcome::Applied,
            "{at}: {r:?} bill {bill}: {a:?}"
        );
        assert_eq!(
            s.h.payments_booked(*r, bill).await,
            1,
            "{at}: {r:?} bill {bill} booked once"
        );
        assert_eq!(
            s.h.payments_booked(r.other(), bill).await,
            0,
            "{at}: {r:?} bill {bill} booked in {:?}'s POS",
            r.other()
        );
    }
    let stray = s.h.open_bill(A, total()).await;
    let mut c = s.adapter.client.clone();
    let x = pay_via(&mut c, &at, B, &conn_b, &stray, total()).await;
    assert_ne!(
        outcome(x.outcome),
        Outcome::Applied,
        "{at}: A's bill paid with B's connection: {x:?}"
    );
    assert_eq!(s.h.payments_booked(A, &stray).await, 0, "{at}: booked in A");
    assert_eq!(s.h.payments_booked(B, &stray).await, 0, "{at}: booked in B");
}

/// The POS's address answers 307 to another host: the adapter does not follow (the other host
/// gets nothing), the outcome is not `APPLIED` and says why, nothing is booked.
pub async fn redirect<H: Harness>() {
    let mut s = Session::<H>::start("redirect").await;
    let trap = Trap::start().await;
    let bill = s.h.open_bill(A, total()).await;
    let location = trap.url("/elsewhere");
    if s.arm(&bill, Fault::Redirect { location }).await.is_none() {
        return;
    }
    let r = s.pay(&bill, total()).await;
    let at = s.at.clone();
    assert_ne!(outcome(r.outcome), Outcome::Applied, "{at}: {r:?}");
    let f = failure_of(&at, &r);
    assert!(
        f.pos_code.contains("307") || f.pos_text.contains("307"),
        "{at}: the failure does not say it was a redirect: {f:?}"
    );
    assert_eq!(trap.hits(), 0, "{at}: the adapter followed the redirect");
    assert_eq!(s.booked(&bill).await, 0, "{at}: booked");
    assert!(!s.h.bill_closed(A, &bill).await, "{at}: the bill closed");
}

/// A proxy's 5xx HTML page: a classified outcome (not a gRPC error, not `APPLIED`), the page
/// kept in the failure's text, nothing booked.
pub async fn html_error_page<H: Harness>() {
    let mut s = Session::<H>::start("html_error_page").await;
    let bill = s.h.open_bill(A, total()).await;
    if s.arm(&bill, Fault::HtmlErrorPage).await.is_none() {
        return;
    }
    let r = s.pay(&bill, total()).await;
    let at = s.at.clone();
    let o = outcome(r.outcome);
    assert!(
        matches!(
            o,
            Outcome::Unknown | Outcome::NotApplied | Outcome::Rejected
        ),
        "{at}: {r:?}"
    );
    let f = failure_of(&at, &r);
    assert!(
        f.pos_text.to_lowercase().contains("<html"),
        "{at}: the page is not kept in the text: {f:?}"
    );
    assert_eq!(s.booked(&bill).await, 0, "{at}: booked");
}

/// Restaurant `A`'s POS behind a TLS front whose certificate comes from a test CA, and the
/// connection to it (trusting `ca_pem`).
async fn over_tls<H: Harness>(s: &mut Session<H>, ca: &TestCa, ca_pem: Option<&str>) {
    let tls = front(s.h.pos_addr(A), ca).await;
    s.conn =
        s.h.connection_at(A, &format!("https://localhost:{}", tls.port()), ca_pem);
}

/// Over HTTPS, trusting the restaurant's CA from its connection: paid, booked once.
pub async fn tls_with_ca<H: Harness>() {
    let mut s = Session::<H>::start("tls_with_ca").await;
    let ca = TestCa::new();
    over_tls(&mut s, &ca, Some(&ca.ca_pem)).await;
    let bill = s.h.open_bill(A, total()).await;
    let r = s.pay(&bill, total()).await;
    let at = s.at.clone();
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{at}: {r:?}");
    if s.d.separate_close_step {
        let cl = s.close(&bill).await;
        assert_eq!(
            outcome(cl.outcome),
            Outcome::Applied,
            "{at}: CloseBill: {cl:?}"
        );
    }
    assert!(s.h.bill_closed(A, &bill).await, "{at}: the bill is open");
    assert_eq!(s.booked(&bill).await, 1, "{at}: booked once");
}

/// Over HTTPS without the restaurant's CA: refused (a configuration to fix, not a passing
/// failure retried forever), the text naming the certificate, nothing booked.
pub async fn tls_without_ca<H: Harness>() {
    let mut s = Session::<H>::start("tls_without_ca").await;
    let ca = TestCa::new();
    over_tls(&mut s, &ca, None).await;
    let bill = s.h.open_bill(A, total()).await;
    let r = s.pay(&bill, total()).await;
    let at = s.at.clone();
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{at}: {r:?}");
    let f = failure_of(&at, &r);
    assert!(
        f.pos_text.to_lowercase().contains("certificate"),
        "{at}: the text does not name the certificate problem: {f:?}"
    );
    assert!(!f.transient, "{at}: not a passing failure: {f:?}");
    assert_eq!(s.booked(&bill).await, 0, "{at}: booked");
}

/// The settings every POS kind takes, read by the kit ([`crate::COMMON_SETTINGS`]:
/// `trace_headers`), are listed once in `Describe` beside the POS's own; a connection carrying
/// them is served like any other (an exact payment books once), and a value the kit cannot read
/// is refused naming the setting.
pub async fn common_settings<H: Harness>() {
    let mut s = Session::<H>::start("common_settings").await;
    let at = s.at.clone();
    for c in crate::COMMON_SETTINGS {
        let listed = s.d.settings.iter().filter(|d| d.name == c.name).count();
        assert_eq!(
            listed, 1,
            "{at}: Describe lists {:?} once: {:?}",
            c.name, s.d.settings
        );
    }
    s.conn
        .settings
        .insert("trace_headers".into(), "false".into());
    let bill = s.h.open_bill(A, total()).await;
    let r = s.pay(&bill, total()).await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{at}: {r:?}");
    assert_eq!(s.booked(&bill).await, 1, "{at}: booked exactly once");
    s.conn
        .settings
        .insert("trace_headers".into(), "SECRET-maybe".into());
    let e = s
        .adapter
        .client
        .describe(DescribeRequest {
            restaurant_id: A.id().into(),
            connection: Some(s.conn.clone()),
        })
        .await
        .expect_err("a trace_headers the kit cannot read is refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{at}: {e:?}");
    assert!(
        e.message().contains("\"trace_headers\"") && !e.message().contains("SECRET"),
        "{at}: names the setting, not its value: {}",
        e.message()
    );
}
