//! Test helpers: start the WSA simulator (or a canned stub) and the adapter over real HTTP
//! and real gRPC, and talk to the adapter as the payment service does, with the kit's test
//! client: every request carries its restaurant's connection.
#![allow(dead_code, unused_imports)]

use std::collections::HashMap;
use std::net::SocketAddr;

pub use posgate_pos_kit::testkit::{
    Client, ConnectionExt, Via, assert_invalid, check_req, dec, get_bill_req, outcome, pay_req,
    substate,
};
use posgate_proto::v1::*;
use posgate_sim::wsa::{self as sim, WsaSim};
use posgate_wsa::{AgentVersion, TaskMode};

pub mod stub;

/// posgate restaurant ids used by the tests.
pub const V2: &str = "demo";
pub const V2_SYNC: &str = "demo-sync";
pub const V1: &str = "demo-v1";

/// A restaurant's connection to the White Server at `base`, with fast timings for tests;
/// `extra` settings are added (or replace these).
pub fn connection(
    base: &str,
    token: &str,
    object_id: i64,
    agent: &str,
    extra: &[(&str, &str)],
) -> PosConnection {
    let object_id = object_id.to_string();
    let settings = [
        ("base_url", base),
        ("object_id", &object_id),
        ("agent_version", agent),
        ("currency_guid", sim::DEMO_CURRENCY_GUID),
        ("task_timeout_s", "1"),
        ("poll_interval_ms", "25"),
        ("timeout_margin_ms", "700"),
    ];
    posgate_pos_kit::testkit::connection(&settings, &[("token", token)]).set_all(extra)
}

/// The connections of the three demo restaurants of the simulator at `addr`.
pub fn sim_connections(addr: SocketAddr) -> HashMap<String, PosConnection> {
    let base = format!("http://{addr}");
    let v2 = [
        ("tips_currency_guid", sim::DEMO_TIPS_CURRENCY_GUID),
        ("cash_station_id", "3"),
    ];
    let (token, object) = (sim::DEMO_TOKEN, sim::DEMO_OBJECT_ID);
    HashMap::from([
        (V2.into(), connection(&base, token, object, "v2", &v2)),
        (
            V2_SYNC.into(),
            connection(
                &base,
                token,
                object,
                "v2",
                &[v2[0], v2[1], ("mode", "sync")],
            ),
        ),
        (
            V1.into(),
            connection(&base, sim::DEMO_V1_TOKEN, sim::DEMO_V1_OBJECT_ID, "v1", &[]),
        ),
    ])
}

/// Starts the adapter (`posgate_pos_kit::serve_adapter::<posgate_wsa::WsaConnector>`, no restaurants of its own) and a client of it
/// that sends `connections`.
pub async fn start_adapter(connections: HashMap<String, PosConnection>) -> Client {
    posgate_pos_kit::testkit::start_adapter(
        posgate_pos_kit::serve_adapter::<posgate_wsa::WsaConnector>,
    )
    .await
    .with_all(connections)
}

/// The demo simulator (agent answers after 20 ms) and an adapter configured for it.
pub async fn start() -> (WsaSim, Client) {
    let sim = WsaSim::with_demo_data();
    for r in sim.restaurants() {
        sim.add_restaurant(r.with_async_delay_ms(20));
    }
    let addr = sim.clone().spawn().await.unwrap();
    let client = start_adapter(sim_connections(addr)).await;
    (sim, client)
}

/// The demo simulator with its own timings (the agent answers async tasks after 200 ms).
pub async fn start_demo_timing() -> (WsaSim, Client) {
    let sim = WsaSim::with_demo_data();
    let addr = sim.clone().spawn().await.unwrap();
    let client = start_adapter(sim_connections(addr)).await;
    (sim, client)
}

/// `CheckPayment` of the payment of `amount`, not closing the bill.
pub async fn check(
    c: &mut Client,
    restaurant: &str,
    bill: &str,
    amount: &str,
    pos_reference: &str,
    before: Option<Bill>,
) -> CheckPaymentResponse {
    c.check(CheckPaymentRequest {
        pos_reference: pos_reference.into(),
        bill_before: before,
        ..check_req(restaurant, bill, amount)
    })
    .await
}

/// An adapter with one restaurant `V2` (in `mode`, agent `v`) on the White Server at `addr`.
pub async fn adapter_for(addr: SocketAddr, mode: TaskMode, v: AgentVersion) -> Client {
    let agent = match v {
        AgentVersion::V1 => "v1",
        AgentVersion::V2 => "v2",
    };
    let mode = match mode {
        TaskMode::Async => "async",
        TaskMode::Sync => "sync",
    };
    let base = format!("http://{addr}");
    let extra = [("mode", mode), ("cash_station_id", "3")];
    let conn = connection(&base, STUB_TOKEN, STUB_OBJECT_ID, agent, &extra);
    start_adapter(HashMap::from([(V2.to_string(), conn)])).await
}

pub const STUB_TOKEN: &str = "stub-token-SECRET-123";
pub const STUB_OBJECT_ID: i64 = 4242;
