//! Test helpers: start the WSA simulator (or a canned stub) and the adapter over real HTTP
//! and real gRPC, and talk to the adapter with the generated client.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
use posgate_proto::v1::*;
use posgate_sim::wsa::{self as sim, WsaSim};
use posgate_wsa::{AgentVersion, TaskMode, WsaAdapterConfig, WsaRestaurant};
use tonic::transport::Channel;

pub mod stub;

pub type Client = PosAdapterClient<Channel>;

/// posgate restaurant ids used by the tests.
pub const V2: &str = "demo";
pub const V2_SYNC: &str = "demo-sync";
pub const V1: &str = "demo-v1";

/// A restaurant pointing at `base`, with fast timings for tests.
pub fn restaurant(base: &str, token: &str, object_id: i64, v: AgentVersion) -> WsaRestaurant {
    let mut r = WsaRestaurant::new(base, token, object_id, v, sim::DEMO_CURRENCY_GUID);
    r.task_timeout_s = 1;
    r.poll_interval_ms = 25;
    r.timeout_margin_ms = 700;
    r
}

/// The three demo restaurants of the simulator at `addr`.
pub fn sim_config(addr: SocketAddr) -> WsaAdapterConfig {
    let base = format!("http://{addr}");
    let mut v2 = restaurant(
        &base,
        sim::DEMO_TOKEN,
        sim::DEMO_OBJECT_ID,
        AgentVersion::V2,
    );
    v2.tips_currency_guid = Some(sim::DEMO_TIPS_CURRENCY_GUID.to_string());
    v2.cash_station_id = Some(3);
    let mut v2_sync = v2.clone();
    v2_sync.mode = TaskMode::Sync;
    let v1 = restaurant(
        &base,
        sim::DEMO_V1_TOKEN,
        sim::DEMO_V1_OBJECT_ID,
        AgentVersion::V1,
    );
    let mut restaurants = BTreeMap::new();
    restaurants.insert(V2.to_string(), v2);
    restaurants.insert(V2_SYNC.to_string(), v2_sync);
    restaurants.insert(V1.to_string(), v1);
    WsaAdapterConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        restaurants,
        auth: posgate_grpc::AuthConfig::disabled(),
    }
}

/// Starts the adapter on 127.0.0.1:0 and connects a client to it.
pub async fn start_adapter(cfg: WsaAdapterConfig) -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        posgate_wsa::serve(cfg, listener, std::future::pending())
            .await
            .unwrap();
    });
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .timeout(Duration::from_secs(20));
    for _ in 0..100 {
        if let Ok(c) = endpoint.connect().await {
            return PosAdapterClient::new(c);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("adapter did not start on {addr}");
}

/// The demo simulator (agent answers after 20 ms) and an adapter configured for it.
pub async fn start() -> (WsaSim, Client) {
    let sim = WsaSim::with_demo_data();
    for r in sim.restaurants() {
        sim.add_restaurant(r.with_async_delay_ms(20));
    }
    let addr = sim.clone().spawn().await.unwrap();
    let client = start_adapter(sim_config(addr)).await;
    (sim, client)
}

/// The demo simulator with its own timings (the agent answers async tasks after 200 ms).
pub async fn start_demo_timing() -> (WsaSim, Client) {
    let sim = WsaSim::with_demo_data();
    let addr = sim.clone().spawn().await.unwrap();
    let client = start_adapter(sim_config(addr)).await;
    (sim, client)
}

pub async fn get_bill(
    c: &mut Client,
    restaurant: &str,
    bill: &str,
) -> adapter_get_bill_response::Result {
    c.get_bill(AdapterGetBillRequest {
        connection: None,
        restaurant_id: restaurant.into(),
        bill_id: bill.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .result
    .unwrap()
}

pub async fn bill(c: &mut Client, restaurant: &str, bill: &str) -> Bill {
    match get_bill(c, restaurant, bill).await {
        adapter_get_bill_response::Result::Bill(b) => b,
        adapter_get_bill_response::Result::Failure(f) => panic!("GetBill failed: {f:?}"),
    }
}

pub fn pay_req(restaurant: &str, bill: &str, amount: &str) -> PostPaymentRequest {
    PostPaymentRequest {
        restaurant_id: restaurant.into(),
        bill_id: bill.into(),
        payment_id: "pay-1".into(),
        amount: amount.into(),
        ..Default::default()
    }
}

pub async fn pay(
    c: &mut Client,
    restaurant: &str,
    bill: &str,
    amount: &str,
) -> PostPaymentResponse {
    c.post_payment(pay_req(restaurant, bill, amount))
        .await
        .unwrap()
        .into_inner()
}

pub async fn close(c: &mut Client, restaurant: &str, bill: &str) -> AdapterCloseBillResponse {
    c.close_bill(AdapterCloseBillRequest {
        connection: None,
        restaurant_id: restaurant.into(),
        bill_id: bill.into(),
        payment_id: "pay-1".into(),
    })
    .await
    .unwrap()
    .into_inner()
}

pub async fn check(
    c: &mut Client,
    restaurant: &str,
    bill: &str,
    amount: &str,
    pos_reference: &str,
    before: Option<Bill>,
) -> CheckPaymentResponse {
    c.check_payment(CheckPaymentRequest {
        connection: None,
        restaurant_id: restaurant.into(),
        bill_id: bill.into(),
        payment_id: "pay-1".into(),
        amount: amount.into(),
        pos_reference: pos_reference.into(),
        bill_before: before,
        close: false,
    })
    .await
    .unwrap()
    .into_inner()
}

pub fn outcome(o: i32) -> Outcome {
    Outcome::try_from(o).unwrap()
}

pub fn substate(f: &Option<PosFailure>) -> Substate {
    Substate::try_from(f.as_ref().expect("a failure").substate).unwrap()
}

/// An adapter with one restaurant `V2` (or `V2_SYNC` in sync mode) pointing at `addr`.
pub async fn adapter_for(addr: SocketAddr, mode: TaskMode, v: AgentVersion) -> Client {
    let mut r = restaurant(&format!("http://{addr}"), STUB_TOKEN, STUB_OBJECT_ID, v);
    r.mode = mode;
    r.cash_station_id = Some(3);
    let mut restaurants = BTreeMap::new();
    restaurants.insert(V2.to_string(), r);
    start_adapter(WsaAdapterConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        restaurants,
        auth: posgate_grpc::AuthConfig::disabled(),
    })
    .await
}

pub const STUB_TOKEN: &str = "stub-token-SECRET-123";
pub const STUB_OBJECT_ID: i64 = 4242;
