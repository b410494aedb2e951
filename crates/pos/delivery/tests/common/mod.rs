//! Test helpers: start the r_k Delivery simulator (or a canned stub) and the adapter over real
//! HTTP and real gRPC, and talk to the adapter with the kit's test client, sending the
//! restaurant's connection as the payment service does.
#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;

pub use posgate_pos_kit::testkit::{
    Client, ConnectionExt, Via, assert_invalid, check_req, dec, get_bill_req, outcome, pay_req,
    substate,
};
use posgate_proto::v1::*;
use posgate_sim::delivery::{self as sim, DeliverySim};

pub mod stub;

/// An order read from JSON (it must read as one).
pub fn order(json: &str) -> posgate_delivery::wire::Order {
    posgate_delivery::wire::Order::from_value(&serde_json::from_str(json).unwrap()).unwrap()
}

/// A restaurant of the connector at scale 2, with the defaults (nothing is sent anywhere).
pub fn connected() -> posgate_delivery::connector::Restaurant {
    use posgate_pos_kit::PosConnector;
    let conn = posgate_pos_kit::testkit::connection(
        &[
            ("base_url", "http://x"),
            ("auth_url", "http://x"),
            ("client_id", "c"),
            ("currency_guid", "cur"),
        ],
        &[("client_secret", "s")],
    );
    posgate_delivery::DeliveryConnector::new()
        .unwrap()
        .connect(&conn)
        .unwrap()
}

/// An order (with an amount) as a bill of [`connected`].
pub fn bill_of(o: &posgate_delivery::wire::Order) -> posgate_core::pos::Bill {
    connected().bill_of("1", o).unwrap()
}

/// posgate restaurant id used by the tests.
pub const DL: &str = "dl";

/// The connection of a restaurant on the r_k Delivery at `base` (API and auth), with fast
/// timings for tests.
pub fn restaurant(base: &str, client_id: &str, secret: &str) -> PosConnection {
    let settings = [
        ("base_url", base),
        ("auth_url", base),
        ("client_id", client_id),
        ("currency_guid", sim::DEMO_CURRENCY_GUID),
        ("utc_offset", "+03:00"),
        ("read_timeout_ms", "2000"),
        ("write_timeout_ms", "800"),
    ];
    posgate_pos_kit::testkit::connection(&settings, &[("client_secret", secret)])
}

/// The demo client of the simulator at `addr`.
pub fn sim_connection(addr: SocketAddr) -> PosConnection {
    restaurant(
        &format!("http://{addr}"),
        sim::DEMO_CLIENT_ID,
        sim::DEMO_CLIENT_SECRET,
    )
}

/// Starts the adapter (`posgate_pos_kit::serve_adapter::<posgate_delivery::DeliveryConnector>`) checking callers' tokens with `auth`, and a
/// client that sends `connection` (if any) for every restaurant.
pub async fn start_adapter_with(
    connection: Option<PosConnection>,
    auth: posgate_grpc::AuthConfig,
) -> Client {
    let c = posgate_pos_kit::testkit::start_adapter_with(
        auth,
        posgate_pos_kit::serve_adapter::<posgate_delivery::DeliveryConnector>,
    )
    .await;
    match connection {
        Some(conn) => c.for_any(conn),
        None => c,
    }
}

/// The adapter, serving the restaurant `connection` describes to every request.
pub async fn start_adapter(connection: PosConnection) -> Client {
    start_adapter_with(Some(connection), posgate_grpc::AuthConfig::disabled()).await
}

/// The demo simulator and an adapter configured for it.
pub async fn start() -> (DeliverySim, Client) {
    start_sim(DeliverySim::with_demo_data()).await
}

pub async fn start_sim(sim: DeliverySim) -> (DeliverySim, Client) {
    let addr = sim.clone().spawn().await.unwrap();
    let client = start_adapter(sim_connection(addr)).await;
    (sim, client)
}

/// CheckPayment of a payment that did not ask to close the bill.
pub async fn check(
    c: &mut Client,
    bill: &str,
    amount: &str,
    pos_reference: &str,
    before: Option<Bill>,
) -> CheckPaymentResponse {
    check_with(c, bill, amount, pos_reference, before, false).await
}

/// CheckPayment of a payment that asked to close the bill after paying.
pub async fn check_closing(
    c: &mut Client,
    bill: &str,
    amount: &str,
    before: Option<Bill>,
) -> CheckPaymentResponse {
    check_with(c, bill, amount, "", before, true).await
}

pub async fn check_with(
    c: &mut Client,
    bill: &str,
    amount: &str,
    pos_reference: &str,
    before: Option<Bill>,
    close: bool,
) -> CheckPaymentResponse {
    c.check(CheckPaymentRequest {
        pos_reference: pos_reference.into(),
        bill_before: before,
        close,
        ..check_req(DL, bill, amount)
    })
    .await
}
