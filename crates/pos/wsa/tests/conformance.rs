//! The conformance suite every POS adapter runs (`posgate_pos_kit::conformance`), against the
//! WSA simulator: two agent-v2 restaurants (their own object ids and tokens) on one White
//! Server, async tasks, a one-second agent timeout.

use std::net::SocketAddr;
use std::time::Duration;

use posgate_pos_kit::conformance::{
    Adapter, Armed, Fault, Harness, Restaurant, Unsupported, refusal, spawn_adapter,
};
use posgate_pos_kit::testkit::{ConnectionExt, connection};
use posgate_proto::v1::{PosConnection, Substate};
use posgate_sim::wsa::{
    AgentVersion, Fault as SimFault, FaultKind, SimOrder, SimRestaurant, StoredWsError, WsaSim,
    status,
};
use rust_decimal::Decimal;

const CURRENCY: &str = "{6A9BFA05-4F0B-4C66-8D9B-7D2C8A3A1F10}";
/// A late apply of [`Fault::Timeout`]: after the one-second agent timeout the adapter waits for.
const LATE_MS: u64 = 2_000;

struct Wsa {
    sim: WsaSim,
    addr: SocketAddr,
}

fn object_id(r: Restaurant) -> i64 {
    match r {
        Restaurant::A => 4101,
        Restaurant::B => 4102,
    }
}

fn token(r: Restaurant) -> &'static str {
    match r {
        Restaurant::A => "conformance-token-a",
        Restaurant::B => "conformance-token-b",
    }
}

/// The WSA fault that makes the agent refuse with each substate.
const REFUSALS: &[(Substate, FaultKind)] = &[
    (Substate::CashiersShiftClosed, FaultKind::ShiftClosed),
    (Substate::PrinterError, FaultKind::PrinterError),
    // Kitchen tickets not printed: refuses the PayOrder that would close the order (v2).
    (Substate::CloseOrderBlocked, FaultKind::CloseBlocked),
    (Substate::BillInUse, FaultKind::BillLocked),
    (
        Substate::OtherError,
        FaultKind::StoredWsError(StoredWsError::License),
    ),
];

impl Harness for Wsa {
    const POS: &'static str = "r_keeper WSA";

    async fn start() -> Self {
        let sim = WsaSim::new();
        for r in [Restaurant::A, Restaurant::B] {
            sim.add_restaurant(SimRestaurant::new(
                object_id(r),
                AgentVersion::V2,
                token(r),
                CURRENCY,
            ));
        }
        let addr = sim.clone().spawn().await.unwrap();
        Wsa { sim, addr }
    }

    fn pos_addr(&self, _: Restaurant) -> SocketAddr {
        self.addr
    }

    fn connection_at(&self, r: Restaurant, base_url: &str, ca_pem: Option<&str>) -> PosConnection {
        let object_id = object_id(r).to_string();
        let settings = [
            ("base_url", base_url),
            ("object_id", &object_id),
            ("agent_version", "v2"),
            ("currency_guid", CURRENCY),
            ("task_timeout_s", "1"),
            ("poll_interval_ms", "25"),
            ("timeout_margin_ms", "700"),
        ];
        connection(&settings, &[("token", token(r))]).trusting(ca_pem)
    }

    async fn start_adapter(&self) -> Adapter {
        spawn_adapter(posgate_pos_kit::serve_adapter::<posgate_wsa::WsaConnector>).await
    }

    async fn open_bill(&self, r: Restaurant, total: Decimal) -> String {
        self.sim.add_order(SimOrder::new(object_id(r), total)).guid
    }

    async fn inject(&self, r: Restaurant, bill: &str, fault: Fault) -> Result<Armed, Unsupported> {
        let (kind, armed) = match fault {
            Fault::Refuse(s) => {
                let kind = refusal(REFUSALS, s, |s| format!("no WSA fault refuses with {s:?}"))?;
                (kind, Armed::NOW)
            }
            // Applied; GetTaskResponse answers Timeout once the agent timeout has passed.
            Fault::LoseAnswer => (FaultKind::AnswerLost, Armed::NOW),
            // Answered Timeout after one second, applied after two.
            Fault::Timeout => (
                FaultKind::Slow { delay_ms: LATE_MS },
                Armed::late(Duration::from_millis(LATE_MS)),
            ),
            Fault::Redirect { location } => (FaultKind::Redirect { location }, Armed::NOW),
            Fault::HtmlErrorPage => (FaultKind::Html { status: 502 }, Armed::NOW),
            // The agent runs the task after the delay (async: AwaitingAnswer until then).
            Fault::Slow(d) => {
                let delay_ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                (FaultKind::Slow { delay_ms }, Armed::NOW)
            }
        };
        self.sim.inject(
            SimFault::new(kind)
                .for_object(object_id(r))
                .for_order(bill)
                .times(1),
        );
        Ok(armed)
    }

    async fn payments_booked(&self, r: Restaurant, bill: &str) -> usize {
        // One PayOrder task is one payment, whatever its lines.
        let mut tasks: Vec<String> = self
            .sim
            .ledger()
            .into_iter()
            .filter(|e| e.object_id == object_id(r) && e.order_guid.eq_ignore_ascii_case(bill))
            .map(|e| e.task_guid)
            .collect();
        tasks.dedup();
        tasks.len()
    }

    async fn bill_closed(&self, r: Restaurant, bill: &str) -> bool {
        self.sim
            .order(object_id(r), bill)
            .is_some_and(|o| o.status == status::COMPLITED)
    }
}

posgate_pos_kit::conformance_suite!(Wsa);
