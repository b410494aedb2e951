//! The conformance suite every POS adapter runs (`posgate_pos_kit::conformance`), against the
//! Tillypad simulator: each restaurant has its own Tillypad (it has no accounts to tell two
//! apart on one server), tabs of one item, a one-second request timeout.

use std::net::SocketAddr;
use std::time::Duration;

use posgate_pos_kit::conformance::{
    Adapter, Armed, Fault, Harness, Restaurant, Unsupported, refusal, spawn_adapter,
};
use posgate_pos_kit::testkit::{ConnectionExt, connection};
use posgate_proto::v1::{PosConnection, Substate};
use posgate_sim::tillypad::{
    DEMO_PAY_TYPE_ID, Fault as SimFault, FaultKind, Lang, SimItem, SimTab, Text, TillypadSim,
};
use rust_decimal::Decimal;

/// A late apply of [`Fault::Timeout`]: after the one second the adapter waits for `/pay-guest`.
const LATE_MS: u64 = 1_500;
const DISH: &str = "7C1D1E3A-5B2C-4D8E-9F10-111213141516";

struct Tillypad {
    a: (TillypadSim, SocketAddr),
    b: (TillypadSim, SocketAddr),
}

impl Tillypad {
    fn sim(&self, r: Restaurant) -> &TillypadSim {
        match r {
            Restaurant::A => &self.a.0,
            Restaurant::B => &self.b.0,
        }
    }
}

async fn tillypad() -> (TillypadSim, SocketAddr) {
    let sim = TillypadSim::new();
    let addr = sim.clone().spawn().await.unwrap();
    (sim, addr)
}

/// The error text Tillypad refuses with for each substate (as it answers them: a bare JSON
/// string); `BILL_IN_USE` and `PRINTER_ERROR` are faults of their own (see
/// [`Tillypad::inject`]).
const REFUSALS: &[(Substate, Text)] = &[
    (Substate::CashiersShiftClosed, Text::BusinessDayClosed),
    (Substate::OtherError, Text::UnknownPayType),
];

impl Harness for Tillypad {
    const POS: &'static str = "Tillypad";

    async fn start() -> Self {
        Tillypad {
            a: tillypad().await,
            b: tillypad().await,
        }
    }

    fn pos_addr(&self, r: Restaurant) -> SocketAddr {
        match r {
            Restaurant::A => self.a.1,
            Restaurant::B => self.b.1,
        }
    }

    fn connection_at(&self, _: Restaurant, base_url: &str, ca_pem: Option<&str>) -> PosConnection {
        let settings = [
            ("base_url", base_url),
            ("default_pay_type_id", DEMO_PAY_TYPE_ID),
            ("connect_timeout_ms", "500"),
            ("request_timeout_ms", "1000"),
        ];
        connection(&settings, &[]).trusting(ca_pem)
    }

    async fn start_adapter(&self) -> Adapter {
        spawn_adapter(posgate_pos_kit::serve_adapter::<posgate_tillypad::TillypadConnector>).await
    }

    async fn open_bill(&self, r: Restaurant, total: Decimal) -> String {
        let item = SimItem::new(DISH, "Dish", total, Decimal::ONE);
        self.sim(r).add_tab(SimTab::new(vec![item])).gest_id
    }

    async fn inject(&self, r: Restaurant, bill: &str, fault: Fault) -> Result<Armed, Unsupported> {
        let sim = self.sim(r);
        let (kind, armed) = match fault {
            // A cashier printed a precheck of the whole tab: it is in payment at the till.
            Fault::Refuse(Substate::BillInUse) => {
                sim.send_to_payment(bill);
                return Ok(Armed::NOW);
            }
            Fault::Refuse(Substate::PrinterError) => (FaultKind::PrinterError, Armed::NOW),
            Fault::Refuse(s) => {
                let text = refusal(REFUSALS, s, |s| {
                    format!(
                        "/pay-guest pays and closes in one call and has no refusal meaning {s:?}; the adapter's classifier never reports it"
                    )
                })?;
                let text = text.render(Lang::Ru).into();
                (FaultKind::Text { text, status: None }, Armed::NOW)
            }
            // Applied, then the connection is dropped without an answer.
            Fault::LoseAnswer => (FaultKind::AnswerLost { hang_ms: 0 }, Armed::NOW),
            // Applied and answered after 1.5 s; the adapter gives up at 1 s.
            Fault::Timeout => (
                FaultKind::Slow { delay_ms: LATE_MS },
                Armed::late(Duration::from_millis(LATE_MS)),
            ),
            Fault::Redirect { location } => (FaultKind::Redirect { location }, Armed::NOW),
            Fault::HtmlErrorPage => (
                FaultKind::Html {
                    status: 502,
                    applied: false,
                },
                Armed::NOW,
            ),
            // Applied and answered after the delay, within the request timeout.
            Fault::Slow(d) => {
                let delay_ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                (FaultKind::Slow { delay_ms }, Armed::NOW)
            }
        };
        sim.inject(SimFault::new(kind).for_tab(bill).times(1));
        Ok(armed)
    }

    async fn payments_booked(&self, r: Restaurant, bill: &str) -> usize {
        self.sim(r).ledger_of(bill).len()
    }

    async fn bill_closed(&self, r: Restaurant, bill: &str) -> bool {
        self.sim(r).tab(bill).is_some_and(|t| t.is_closed())
    }
}

posgate_pos_kit::conformance_suite!(Tillypad);
