//! Test helpers: start the WSA simulator (or a canned stub) and the adapter over real HTTP
//! and real gRPC, and talk to the adapter as the payment service does: every request carries
//! its restaurant's connection.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
use posgate_proto::v1::*;
use posgate_sim::wsa::{self as sim, WsaSim};
use posgate_wsa::{AgentVersion, TaskMode};
use tonic::transport::Channel;

pub mod stub;

/// A client of the adapter that, like the payment service, sends the restaurant's connection
/// with every request: the one given in the request, else the one `connections` has for its
/// restaurant id (none for an id it does not have).
#[derive(Clone)]
pub struct Client {
    inner: PosAdapterClient<Channel>,
    pub connections: HashMap<String, PosConnection>,
}

macro_rules! sending_the_connection {
    ($($method:ident($req:ty) -> $resp:ty;)*) => {
        impl Client {
            $(pub async fn $method(
                &mut self,
                mut req: $req,
            ) -> Result<tonic::Response<$resp>, tonic::Status> {
                if req.connection.is_none() {
                    req.connection = self.connections.get(&req.restaurant_id).cloned();
                }
                self.inner.$method(req).await
            })*
        }
    };
}

sending_the_connection! {
    describe(DescribeRequest) -> DescribeResponse;
    get_bill(AdapterGetBillRequest) -> AdapterGetBillResponse;
    list_bills(AdapterListBillsRequest) -> AdapterListBillsResponse;
    post_payment(PostPaymentRequest) -> PostPaymentResponse;
    close_bill(AdapterCloseBillRequest) -> AdapterCloseBillResponse;
    check_payment(CheckPaymentRequest) -> CheckPaymentResponse;
}

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
    PosConnection {
        settings: settings
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        secrets: HashMap::from([("token".to_string(), token.to_string())]),
        currency_scale: 2,
        version: 1,
    }
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

/// Starts the adapter (`posgate_wsa::serve`, no restaurants of its own) on 127.0.0.1:0 and
/// connects a client to it that sends `connections`.
pub async fn start_adapter(connections: HashMap<String, PosConnection>) -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = posgate_pos_kit::AdapterConfig::new(addr, posgate_grpc::AuthConfig::disabled());
    tokio::spawn(async move {
        posgate_pos_kit::serve_adapter::<posgate_wsa::WsaConnector>(
            cfg,
            listener,
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .timeout(Duration::from_secs(20));
    for _ in 0..100 {
        if let Ok(c) = endpoint.connect().await {
            return Client {
                inner: PosAdapterClient::new(c),
                connections,
            };
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
