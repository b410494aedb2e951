//! The conformance suite: the same cases, over gRPC, for every POS adapter (issue 11).
//!
//! Why it exists: every adapter makes the same promises — an exact payment is booked once; a
//! refusal keeps its substate and the POS's own text and books nothing; a lost answer is
//! `UNKNOWN` and `CheckPayment` finds out; a late answer is never `APPLIED` on faith; a fresh
//! adapter process can check a posting made by the one before it; restaurants served by one
//! replica never mix; a redirect is never followed; a proxy's HTML page is classified; a POS
//! certificate is trusted exactly through the restaurant's CA. Each adapter's own tests said
//! so in their own way and drifted. Here the promises are written once, as plain async
//! functions (the cases, [`exact_pay`] and the rest of [`CASES`]) over a [`Harness`] each POS implements for its simulator: start it,
//! build a restaurant's `PosConnection`, open a bill, arm a POS-neutral [`Fault`], read the
//! simulator's ledger. The cases talk to the adapter only through the `posgate.v1.PosAdapter`
//! gRPC client, so they hold across any refactoring of the adapters' insides.
//!
//! A POS runs every case with [`conformance_suite!`](crate::conformance_suite): one
//! `#[tokio::test]` per case, so a failure is named. A fault a POS cannot have is
//! [`Unsupported`]: the case is skipped and says why on the process's stderr (past the test
//! harness's capture), never silently. A case an adapter really fails stays in its suite,
//! marked `#[ignore = "why"]` there — its assertion is not loosened.

mod cases;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
use posgate_proto::v1::{PosConnection, Substate};
use rust_decimal::Decimal;
use tonic::transport::Channel;

pub use crate::testkit::{Adapter, Shutdown, TestCa, front, spawn_adapter};
pub use cases::*;

/// The adapter's gRPC client.
pub type Client = PosAdapterClient<Channel>;

/// Every case of the suite, by name: what [`conformance_suite!`](crate::conformance_suite)
/// runs, and what a POS listing its cases by hand must list in full.
pub const CASES: &[&str] = &[
    "exact_pay",
    "refuse_wrong_request_sum",
    "refuse_cashiers_shift_closed",
    "refuse_printer_error",
    "refuse_close_order_blocked",
    "refuse_bill_in_use",
    "refuse_other_error",
    "lost_answer",
    "timeout",
    "restart",
    "concurrent_keys",
    "redirect",
    "html_error_page",
    "tls_with_ca",
    "tls_without_ca",
    "common_settings",
    "followed_pay",
];

/// One `#[tokio::test]` per conformance case for a [`Harness`] type, plus a test that every
/// case of [`CASES`] is there.
///
/// `conformance_suite!(MyHarness);` runs them all. To mark a case an adapter really fails,
/// list the cases by hand and give that one its attribute (a case left out fails the listing
/// test):
///
/// ```text
/// posgate_pos_kit::conformance_suite!(MyHarness;
///     exact_pay, refuse_wrong_request_sum, /* ... */
///     #[ignore = "the adapter follows redirects (issue N)"] redirect,
///     /* ... */
/// );
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($harness:ty) => {
        $crate::conformance_suite!($harness;
            exact_pay,
            refuse_wrong_request_sum,
            refuse_cashiers_shift_closed,
            refuse_printer_error,
            refuse_close_order_blocked,
            refuse_bill_in_use,
            refuse_other_error,
            lost_answer,
            timeout,
            restart,
            concurrent_keys,
            redirect,
            html_error_page,
            tls_with_ca,
            tls_without_ca,
            common_settings,
            followed_pay,
        );
    };
    ($harness:ty; $($(#[$attr:meta])* $case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            $(#[$attr])*
            async fn $case() {
                $crate::conformance::$case::<$harness>().await;
            }
        )+

        /// A case left out of the listing would pass unseen.
        #[test]
        fn conformance_lists_every_case() {
            $crate::conformance::assert_every_case(&[$(stringify!($case)),+]);
        }
    };
}

/// Panics unless `listed` is exactly [`CASES`] (in any order).
pub fn assert_every_case(listed: &[&str]) {
    let missing: Vec<&&str> = CASES.iter().filter(|c| !listed.contains(c)).collect();
    let unknown: Vec<&&str> = listed.iter().filter(|c| !CASES.contains(c)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty() && listed.len() == CASES.len(),
        "the conformance suite must run every case once: missing {missing:?}, unknown {unknown:?}"
    );
}

/// Which of two restaurants a call is for. `A` is where every case runs; `B` is another
/// restaurant (its own credentials; its own POS, or the same POS server) that must never mix
/// with `A`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Restaurant {
    A,
    B,
}

impl Restaurant {
    /// posgate's restaurant id.
    pub const fn id(self) -> &'static str {
        match self {
            Restaurant::A => "conformance-a",
            Restaurant::B => "conformance-b",
        }
    }

    pub const fn other(self) -> Restaurant {
        match self {
            Restaurant::A => Restaurant::B,
            Restaurant::B => Restaurant::A,
        }
    }
}

/// What goes wrong on the next posting to one bill, said without any POS's words. Each
/// [`Harness`] maps it onto its simulator's own faults (or state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The POS refuses with a refusal that means this substate: the posting, or — where
    /// `Describe` says closing is a separate step and the POS refuses only the close — the
    /// close. Nothing is booked by the refused call.
    Refuse(Substate),
    /// The POS applies the posting, and its answer never reaches the adapter.
    LoseAnswer,
    /// The POS answers only after the adapter's deadline (from the connection's timeouts); it
    /// may apply the posting late ([`Armed::late_work`] says how long to wait for that).
    Timeout,
    /// The POS's address answers `307 Temporary Redirect` to `location`; nothing is applied.
    Redirect { location: String },
    /// A proxy in front of the POS answers a 5xx HTML error page; nothing reaches the POS.
    HtmlErrorPage,
    /// The POS works on the posting this long — well within the adapter's deadline — then
    /// applies it and answers.
    Slow(Duration),
}

/// A fault the harness armed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Armed {
    /// How long after arming the POS may still be working on the posting (a late apply): the
    /// case reads the ledger only after that.
    pub late_work: Duration,
}

impl Armed {
    /// Nothing happens after the answer.
    pub const NOW: Armed = Armed {
        late_work: Duration::ZERO,
    };

    pub const fn late(late_work: Duration) -> Armed {
        Armed { late_work }
    }
}

/// A fault this POS cannot have, and why: the case is skipped saying so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl Unsupported {
    pub fn because(why: impl Into<String>) -> Unsupported {
        Unsupported(why.into())
    }
}

/// A POS's refusals as a table: the fault (or text) of `table` that refuses with `s`, else
/// [`Unsupported`] saying `why_not(s)`.
pub fn refusal<T: Clone>(
    table: &[(Substate, T)],
    s: Substate,
    why_not: impl FnOnce(Substate) -> String,
) -> Result<T, Unsupported> {
    table
        .iter()
        .find(|(refuses, _)| *refuses == s)
        .map(|(_, fault)| fault.clone())
        .ok_or_else(|| Unsupported::because(why_not(s)))
}

/// A POS's simulator(s), as the suite drives them. Each case starts its own ([`Harness::start`]),
/// so cases run in parallel without sharing anything.
// Test-only: every case runs on one task, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Harness: Sized {
    /// Names the POS in messages: "r_keeper WSA".
    const POS: &'static str;

    /// Starts the simulator(s) of restaurants `A` and `B` (no adapter yet).
    async fn start() -> Self;

    /// The plain-HTTP address of restaurant `r`'s POS (the TLS cases put a TLS front on it).
    fn pos_addr(&self, r: Restaurant) -> SocketAddr;

    /// The connection the registry would send for `r`, its POS at `base_url`, trusting `ca_pem`
    /// beside the public roots; with timeouts short enough for a fast suite (a second or two).
    fn connection_at(&self, r: Restaurant, base_url: &str, ca_pem: Option<&str>) -> PosConnection;

    /// `r`'s connection to its POS over plain HTTP.
    fn connection(&self, r: Restaurant) -> PosConnection {
        self.connection_at(r, &format!("http://{}", self.pos_addr(r)), None)
    }

    /// A fresh adapter server (no restaurants of its own: every call carries its connection),
    /// usually [`spawn_adapter`] of the POS crate's `serve`.
    async fn start_adapter(&self) -> Adapter;

    /// Opens a bill of `total` in `r`'s POS, ready to be paid in full; its id.
    async fn open_bill(&self, r: Restaurant, total: Decimal) -> String;

    /// Arms `fault` for the next posting to `bill` in `r`'s POS.
    async fn inject(&self, r: Restaurant, bill: &str, fault: Fault) -> Result<Armed, Unsupported>;

    /// How many payments `r`'s POS booked on `bill`, from the simulator's ledger: the evidence
    /// of exactly once (a close is not a payment).
    async fn payments_booked(&self, r: Restaurant, bill: &str) -> usize;

    /// Whether `r`'s POS shows `bill` closed.
    async fn bill_closed(&self, r: Restaurant, bill: &str) -> bool;
}

/// Another host, where a redirect points: it counts every request that reaches it.
pub struct Trap {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Trap {
    pub async fn start() -> Trap {
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        let app = axum::Router::new().fallback(move || {
            let counted = Arc::clone(&counted);
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                "trap"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the trap's port");
        let addr = listener.local_addr().expect("the trap's address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Trap { addr, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests that reached the trap.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Says on the process's stderr — past the test harness's output capture, so it shows — that
/// a case was skipped for this POS, and why.
pub fn skip(pos: &str, case: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "conformance {pos}: {case} SKIPPED: {why}"
    );
}
