//! Test helpers: start the Tillypad simulator (or a canned stub) and the adapter over real
//! HTTP and real gRPC, and talk to the adapter with the generated client, sending each named
//! restaurant's connection as the payment service does.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
use posgate_proto::v1::*;
use posgate_sim::tillypad::{self as sim, TillypadSim};
use tonic::transport::Channel;

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
    let settings: HashMap<String, String> = [
        ("base_url", base),
        ("connect_timeout_ms", "500"),
        ("request_timeout_ms", "1000"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    PosConnection {
        settings,
        secrets: Default::default(),
        currency_scale: 2,
        version,
    }
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

/// The adapter's client, sending the connection of the restaurant a request names (when the
/// request carries none) as the payment service does. `raw` sends requests as they are.
pub struct Client {
    pub raw: PosAdapterClient<Channel>,
    connections: HashMap<String, PosConnection>,
}

macro_rules! with_connection {
    ($($call:ident($req:ty) -> $resp:ty;)*) => {$(
        pub async fn $call(
            &mut self,
            mut req: $req,
        ) -> Result<tonic::Response<$resp>, tonic::Status> {
            if req.connection.is_none() {
                req.connection = self.connections.get(&req.restaurant_id).cloned();
            }
            self.raw.$call(req).await
        }
    )*};
}

impl Client {
    /// Names `restaurant_id` with its connection.
    pub fn with(mut self, restaurant_id: &str, conn: PosConnection) -> Self {
        self.connections.insert(restaurant_id.to_string(), conn);
        self
    }

    with_connection! {
        describe(DescribeRequest) -> DescribeResponse;
        get_bill(AdapterGetBillRequest) -> AdapterGetBillResponse;
        list_bills(AdapterListBillsRequest) -> AdapterListBillsResponse;
        post_payment(PostPaymentRequest) -> PostPaymentResponse;
        close_bill(AdapterCloseBillRequest) -> AdapterCloseBillResponse;
        check_payment(CheckPaymentRequest) -> CheckPaymentResponse;
    }
}

/// Starts the adapter (keeping no restaurants) on 127.0.0.1:0 and connects a client to it.
pub async fn start_adapter() -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = posgate_pos_kit::AdapterConfig::new(addr, posgate_grpc::AuthConfig::disabled());
    tokio::spawn(async move {
        posgate_pos_kit::serve_adapter::<posgate_tillypad::TillypadConnector>(
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
                raw: PosAdapterClient::new(c),
                connections: HashMap::new(),
            };
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("adapter did not start on {addr}");
}

/// The adapter, naming the test restaurants against the Tillypad at `addr`.
pub async fn adapter_at(addr: SocketAddr) -> Client {
    restaurants(&format!("http://{addr}"))
        .into_iter()
        .fold(start_adapter().await, |c, (id, conn)| c.with(id, conn))
}

/// The demo simulator and an adapter naming the test restaurants against it.
pub async fn start() -> (TillypadSim, Client) {
    let sim = TillypadSim::with_demo_data();
    let addr = sim.clone().spawn().await.unwrap();
    let client = adapter_at(addr).await;
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

/// An adapter naming one restaurant `TP` (default pay type) against the Tillypad at `base`,
/// with `extra` settings.
pub async fn adapter_for(base: &str, extra: &[(&str, &str)]) -> Client {
    let mut settings = vec![("default_pay_type_id", sim::DEMO_PAY_TYPE_ID)];
    settings.extend_from_slice(extra);
    start_adapter()
        .await
        .with(TP, connection(base, &settings, 1))
}
