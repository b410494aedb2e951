//! Test helpers: start the Tillypad simulator (or a canned stub) and the adapter over real
//! HTTP and real gRPC, and talk to the adapter with the kit's test client, sending each named
//! restaurant's connection as the payment service does.
#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;

pub use posgate_pos_kit::testkit::{
    Client, ConnectionExt, Via, assert_invalid, check_req, dec, outcome, pay_req, substate,
};
use posgate_proto::v1::*;
use posgate_sim::tillypad::{self as sim, TillypadSim};

pub mod stub;

/// posgate restaurant ids used by the tests.
/// Default pay type, `delete_prechecks = 0`.
pub const TP: &str = "tp";
/// No default pay type; the tab's prepaid pay type allowed.
pub const TP_PREPAID: &str = "tp-prepaid";
/// No pay type at all.
pub const TP_NOPAY: &str = "tp-nopay";
/// Default pay type, `delete_prechecks = 2` (delete unpaid prechecks).
pub const TP_DELETE_UNPAID: &str = "tp-delete-unpaid";

/// A connection to the Tillypad at `base`, with fast timings for tests and `extra` on top.
pub fn connection(base: &str, extra: &[(&str, &str)], version: u64) -> PosConnection {
    let settings = [
        ("base_url", base),
        ("connect_timeout_ms", "500"),
        ("request_timeout_ms", "1000"),
    ];
    posgate_pos_kit::testkit::connection(&settings, &[])
        .set_all(extra)
        .at_version(version)
}

/// The test restaurants against the Tillypad at `base`.
pub fn restaurants(base: &str) -> Vec<(&'static str, PosConnection)> {
    let pay = ("default_pay_type_id", sim::DEMO_PAY_TYPE_ID);
    vec![
        (TP, connection(base, &[pay], 1)),
        (
            TP_PREPAID,
            connection(base, &[("allow_prepaid_pay_type", "true")], 1),
        ),
        (TP_NOPAY, connection(base, &[], 1)),
        (
            TP_DELETE_UNPAID,
            connection(base, &[pay, ("delete_prechecks", "2")], 1),
        ),
    ]
}

/// Starts the adapter (keeping no restaurants) on 127.0.0.1:0 and connects a client to it.
pub async fn start_adapter() -> Client {
    posgate_pos_kit::testkit::start_adapter(
        posgate_pos_kit::serve_adapter::<posgate_tillypad::TillypadConnector>,
    )
    .await
}

/// The adapter, naming the test restaurants against the Tillypad at `addr`.
pub async fn adapter_at(addr: SocketAddr) -> Client {
    start_adapter()
        .await
        .with_all(restaurants(&format!("http://{addr}")))
}

/// The demo simulator and an adapter naming the test restaurants against it.
pub async fn start() -> (TillypadSim, Client) {
    let sim = TillypadSim::with_demo_data();
    let addr = sim.clone().spawn().await.unwrap();
    let client = adapter_at(addr).await;
    (sim, client)
}

/// A request with points and options.
pub fn pay_with(
    restaurant: &str,
    bill: &str,
    amount: &str,
    points: &str,
    options: &[(&str, &str)],
) -> PostPaymentRequest {
    PostPaymentRequest {
        points: points.into(),
        pos_options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..pay_req(restaurant, bill, amount)
    }
}

/// An adapter naming one restaurant `TP` (default pay type) against the Tillypad at `base`,
/// with `extra` settings.
pub async fn adapter_for(base: &str, extra: &[(&str, &str)]) -> Client {
    let mut settings = vec![("default_pay_type_id", sim::DEMO_PAY_TYPE_ID)];
    settings.extend_from_slice(extra);
    start_adapter()
        .await
        .with(TP, connection(base, &settings, 1))
}
