//! The conformance suite every POS adapter runs (`posgate_pos_kit::conformance`), against the
//! r_k Delivery simulator: two restaurants (their own API clients and r_keeper currencies) on
//! one r_k Delivery, orders already in r_keeper (transferred to the kitchen), an 800 ms write
//! timeout.

use std::net::SocketAddr;
use std::time::Duration;

use posgate_pos_kit::conformance::{
    Adapter, Armed, Fault, Harness, Restaurant, Unsupported, refusal, spawn_adapter,
};
use posgate_pos_kit::testkit::{ConnectionExt, connection};
use posgate_proto::v1::{PosConnection, Substate};
use posgate_sim::delivery::{
    DeliverySim, Fault as SimFault, FaultKind, LedgerKind, SimClient, SimOrder, SimRestaurant,
    status,
};
use rust_decimal::Decimal;

/// A late apply of [`Fault::Timeout`]: after the 800 ms the adapter waits for `/pay`.
const LATE_MS: u64 = 1_500;

struct Delivery {
    sim: DeliverySim,
    addr: SocketAddr,
}

/// (API client id, client secret, r_k Delivery restaurant id, r_keeper currency) of `r`.
fn account(r: Restaurant) -> (&'static str, &'static str, &'static str, &'static str) {
    match r {
        Restaurant::A => (
            "conformance-client-a",
            "secret-a",
            "0f5e2d1c-aaaa-4bbb-8ccc-00000000000a",
            "A1B2C3D4-0000-4000-8000-00000000000A",
        ),
        Restaurant::B => (
            "conformance-client-b",
            "secret-b",
            "0f5e2d1c-aaaa-4bbb-8ccc-00000000000b",
            "A1B2C3D4-0000-4000-8000-00000000000B",
        ),
    }
}

/// The r_keeper fault that makes r_k Delivery refuse with each substate (`OTHER_ERROR`: a
/// cancelled order, see [`Delivery::inject`]).
const REFUSALS: &[(Substate, FaultKind)] = &[
    (Substate::CashiersShiftClosed, FaultKind::ShiftClosed),
    (Substate::PrinterError, FaultKind::PrinterError),
    // Kitchen tickets not printed: r_keeper refuses /complete (the separate close step).
    (Substate::CloseOrderBlocked, FaultKind::CloseBlocked),
    (Substate::BillInUse, FaultKind::BillLocked),
];

impl Harness for Delivery {
    const POS: &'static str = "r_k Delivery";

    async fn start() -> Self {
        let sim = DeliverySim::new();
        for r in [Restaurant::A, Restaurant::B] {
            let (client, secret, restaurant, currency) = account(r);
            sim.add_client(SimClient::new(client, secret));
            sim.add_restaurant(SimRestaurant::new(restaurant, currency));
        }
        let addr = sim.clone().spawn().await.unwrap();
        Delivery { sim, addr }
    }

    fn pos_addr(&self, _: Restaurant) -> SocketAddr {
        self.addr
    }

    fn connection_at(&self, r: Restaurant, base_url: &str, ca_pem: Option<&str>) -> PosConnection {
        let (client, secret, _, currency) = account(r);
        let settings = [
            ("base_url", base_url),
            ("auth_url", base_url),
            ("client_id", client),
            ("currency_guid", currency),
            ("utc_offset", "+03:00"),
            ("read_timeout_ms", "1000"),
            ("write_timeout_ms", "800"),
        ];
        connection(&settings, &[("client_secret", secret)]).trusting(ca_pem)
    }

    async fn start_adapter(&self) -> Adapter {
        spawn_adapter(posgate_pos_kit::serve_adapter::<posgate_delivery::DeliveryConnector>).await
    }

    async fn open_bill(&self, r: Restaurant, total: Decimal) -> String {
        let order =
            SimOrder::new(status::TRANSFERRED_TO_KITCHEN, total).with_restaurant(account(r).2);
        self.sim.add_order(order).order_id
    }

    async fn inject(&self, _: Restaurant, bill: &str, fault: Fault) -> Result<Armed, Unsupported> {
        let (kind, armed) = match fault {
            // A cashier cancelled the order in r_keeper: r_k Delivery shows it final.
            Fault::Refuse(Substate::OtherError) => {
                self.sim.set_status(bill, status::CANCELLED);
                return Ok(Armed::NOW);
            }
            Fault::Refuse(s) => {
                let why_not = |s| format!("no r_k Delivery fault refuses with {s:?}");
                (refusal(REFUSALS, s, why_not)?, Armed::NOW)
            }
            // Applied, then the connection breaks before the answer.
            Fault::LoseAnswer => (FaultKind::AnswerLost, Armed::NOW),
            // White Server takes 1.5 s; the adapter gives up at 0.8 s; applied after the wait.
            Fault::Timeout => (
                FaultKind::Latency { delay_ms: LATE_MS },
                Armed::late(Duration::from_millis(LATE_MS)),
            ),
            Fault::Redirect { location } => (FaultKind::Redirect { location }, Armed::NOW),
            // A proxy's 503 page.
            Fault::HtmlErrorPage => (FaultKind::Unavailable, Armed::NOW),
            // White Server answers /pay after the delay, within the adapter's timeouts.
            Fault::Slow(d) => {
                let delay_ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                (FaultKind::Latency { delay_ms }, Armed::NOW)
            }
        };
        self.sim
            .inject(SimFault::new(kind).for_order(bill).times(1));
        Ok(armed)
    }

    async fn payments_booked(&self, r: Restaurant, bill: &str) -> usize {
        // A /pay booked in r's r_keeper is in r's currency.
        let currency = account(r).3;
        self.sim
            .ledger()
            .iter()
            .filter(|e| e.kind == LedgerKind::Pay && e.order_id == bill)
            .filter(|e| {
                e.lines
                    .iter()
                    .all(|l| l.code.eq_ignore_ascii_case(currency))
            })
            .count()
    }

    async fn bill_closed(&self, _: Restaurant, bill: &str) -> bool {
        self.sim
            .order(bill)
            .is_some_and(|o| o.status_id == status::COMPLETED)
    }
}

posgate_pos_kit::conformance_suite!(Delivery);
