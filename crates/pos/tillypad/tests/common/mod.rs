//! Test helpers: start the Tillypad simulator (or a canned stub) and the adapter over real
//! HTTP and real gRPC, and talk to the adapter with the generated client.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
use posgate_proto::v1::*;
use posgate_sim::tillypad::{self as sim, TillypadSim};
use posgate_tillypad::{TillypadAdapterConfig, TillypadRestaurant};
use tonic::transport::Channel;

pub mod stub;

pub type Client = PosAdapterClient<Channel>;

/// posgate restaurant ids used by the tests.
/// Default pay type configured, `delete_prechecks = 0`.
pub const TP: &str = "tp";
/// No default pay type; the tab's prepaid pay type allowed.
pub const TP_PREPAID: &str = "tp-prepaid";
/// No pay type at all.
pub const TP_NOPAY: &str = "tp-nopay";
/// Default pay type, `delete_prechecks = 2` (delete unpaid prechecks).
pub const TP_DELETE_UNPAID: &str = "tp-delete-unpaid";

/// A restaurant pointing at `base`, with fast timings for tests.
pub fn restaurant(base: &str) -> TillypadRestaurant {
    let mut r = TillypadRestaurant::new(base);
    r.connect_timeout_ms = 500;
    r.request_timeout_ms = 1_000;
    r
}

/// The test restaurants against the simulator at `addr`.
pub fn sim_config(addr: SocketAddr) -> TillypadAdapterConfig {
    let base = format!("http://{addr}");
    let mut restaurants = BTreeMap::new();
    restaurants.insert(
        TP.to_string(),
        restaurant(&base).with_pay_type(sim::DEMO_PAY_TYPE_ID),
    );
    let mut prepaid = restaurant(&base);
    prepaid.allow_prepaid_pay_type = true;
    restaurants.insert(TP_PREPAID.to_string(), prepaid);
    restaurants.insert(TP_NOPAY.to_string(), restaurant(&base));
    let mut delete_unpaid = restaurant(&base).with_pay_type(sim::DEMO_PAY_TYPE_ID);
    delete_unpaid.delete_prechecks = posgate_tillypad::DeletePrechecks::DeleteUnpaid;
    restaurants.insert(TP_DELETE_UNPAID.to_string(), delete_unpaid);
    TillypadAdapterConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        restaurants,
        auth: posgate_grpc::AuthConfig::disabled(),
    }
}

/// Starts the adapter on 127.0.0.1:0 and connects a client to it.
pub async fn start_adapter(cfg: TillypadAdapterConfig) -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        posgate_tillypad::serve(cfg, listener, std::future::pending())
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

/// The demo simulator and an adapter configured for it.
pub async fn start() -> (TillypadSim, Client) {
    let sim = TillypadSim::with_demo_data();
    let addr = sim.clone().spawn().await.unwrap();
    let client = start_adapter(sim_config(addr)).await;
    (sim, client)
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
            .collect::<HashMap<_, _>>(),
        ..pay_req(restaurant, bill, amount)
    }
}

pub async fn post(c: &mut Client, req: PostPaymentRequest) -> PostPaymentResponse {
    c.post_payment(req).await.unwrap().into_inner()
}

pub async fn pay(
    c: &mut Client,
    restaurant: &str,
    bill: &str,
    amount: &str,
) -> PostPaymentResponse {
    post(c, pay_req(restaurant, bill, amount)).await
}

pub async fn check(
    c: &mut Client,
    restaurant: &str,
    bill: &str,
    amount: &str,
) -> CheckPaymentResponse {
    c.check_payment(CheckPaymentRequest {
        connection: None,
        restaurant_id: restaurant.into(),
        bill_id: bill.into(),
        payment_id: "pay-1".into(),
        amount: amount.into(),
        pos_reference: String::new(),
        bill_before: None,
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

/// An adapter with one restaurant `TP` (default pay type) pointing at `base`.
pub async fn adapter_for(base: &str) -> Client {
    let mut restaurants = BTreeMap::new();
    restaurants.insert(
        TP.to_string(),
        restaurant(base).with_pay_type(sim::DEMO_PAY_TYPE_ID),
    );
    start_adapter(TillypadAdapterConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        restaurants,
        auth: posgate_grpc::AuthConfig::disabled(),
    })
    .await
}
