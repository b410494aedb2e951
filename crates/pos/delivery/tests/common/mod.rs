//! Test helpers: start the r_k Delivery simulator (or a canned stub) and the adapter over real
//! HTTP and real gRPC, and talk to the adapter with the generated client, sending the
//! restaurant's connection as the payment service does.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
use posgate_proto::v1::*;
use posgate_sim::delivery::{self as sim, DeliverySim};
use tonic::transport::Channel;

pub mod stub;

/// posgate restaurant id used by the tests.
pub const DL: &str = "dl";

/// The adapter's gRPC client that sends the test restaurant's connection with every request
/// that carries none (the payment service does so), and leaves a request with its own alone.
pub struct Client {
    pub raw: PosAdapterClient<Channel>,
    pub connection: Option<PosConnection>,
}

/// The six calls, each filling in [`Client::connection`].
macro_rules! calls {
    ($($call:ident($req:ty) -> $resp:ty;)*) => {
        impl Client {
            $(pub async fn $call(
                &mut self,
                req: impl tonic::IntoRequest<$req>,
            ) -> Result<tonic::Response<$resp>, tonic::Status> {
                let mut req = req.into_request();
                if req.get_ref().connection.is_none() {
                    req.get_mut().connection = self.connection.clone();
                }
                self.raw.$call(req).await
            })*
        }
    };
}

calls! {
    describe(DescribeRequest) -> DescribeResponse;
    get_bill(AdapterGetBillRequest) -> AdapterGetBillResponse;
    list_bills(AdapterListBillsRequest) -> AdapterListBillsResponse;
    post_payment(PostPaymentRequest) -> PostPaymentResponse;
    close_bill(AdapterCloseBillRequest) -> AdapterCloseBillResponse;
    check_payment(CheckPaymentRequest) -> CheckPaymentResponse;
}

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
    PosConnection {
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        secrets: [("client_secret".to_string(), secret.to_string())].into(),
        currency_scale: 2,
        version: 1,
    }
}

/// `restaurant` with one more setting.
pub fn with(mut c: PosConnection, name: &str, value: &str) -> PosConnection {
    c.settings.insert(name.into(), value.into());
    c
}

/// The demo client of the simulator at `addr`.
pub fn sim_connection(addr: SocketAddr) -> PosConnection {
    restaurant(
        &format!("http://{addr}"),
        sim::DEMO_CLIENT_ID,
        sim::DEMO_CLIENT_SECRET,
    )
}

/// Starts the adapter (the kit's server over the r_k Delivery connector) on 127.0.0.1:0
/// with `auth`, and a client that sends `connection` with every request.
pub async fn start_adapter_with(
    connection: Option<PosConnection>,
    auth: posgate_grpc::AuthConfig,
) -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connector = posgate_delivery::DeliveryConnector::new().unwrap();
    tokio::spawn(async move {
        posgate_pos_kit::serve(
            "delivery",
            connector,
            &auth,
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
                connection,
            };
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("adapter did not start on {addr}");
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

pub async fn bill(c: &mut Client, bill: &str) -> Bill {
    match get_bill(c, DL, bill).await {
        adapter_get_bill_response::Result::Bill(b) => b,
        adapter_get_bill_response::Result::Failure(f) => panic!("GetBill failed: {f:?}"),
    }
}

pub async fn bill_failure(c: &mut Client, bill: &str) -> PosFailure {
    match get_bill(c, DL, bill).await {
        adapter_get_bill_response::Result::Failure(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

pub fn pay_req(bill: &str, amount: &str) -> PostPaymentRequest {
    PostPaymentRequest {
        restaurant_id: DL.into(),
        bill_id: bill.into(),
        payment_id: "pay-1".into(),
        amount: amount.into(),
        ..Default::default()
    }
}

pub async fn pay(c: &mut Client, bill: &str, amount: &str) -> PostPaymentResponse {
    c.post_payment(pay_req(bill, amount))
        .await
        .unwrap()
        .into_inner()
}

pub async fn close(c: &mut Client, bill: &str) -> AdapterCloseBillResponse {
    c.close_bill(AdapterCloseBillRequest {
        connection: None,
        restaurant_id: DL.into(),
        bill_id: bill.into(),
        payment_id: "pay-1".into(),
    })
    .await
    .unwrap()
    .into_inner()
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
    c.check_payment(CheckPaymentRequest {
        connection: None,
        restaurant_id: DL.into(),
        bill_id: bill.into(),
        payment_id: "pay-1".into(),
        amount: amount.into(),
        pos_reference: pos_reference.into(),
        bill_before: before,
        close,
    })
    .await
    .unwrap()
    .into_inner()
}

pub async fn list(c: &mut Client, table: &str) -> AdapterListBillsResponse {
    c.list_bills(AdapterListBillsRequest {
        connection: None,
        restaurant_id: DL.into(),
        table: table.into(),
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
