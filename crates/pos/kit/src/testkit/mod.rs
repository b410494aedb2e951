//! The test kit every POS adapter's tests use (feature `testkit`, test builds only).
//!
//! Why it exists: the three adapters' tests (r_keeper WSA, r_k Delivery, Tillypad) each grew
//! the same helpers — a gRPC client that sends a restaurant's connection the way the payment
//! service does, starting the adapter on a loopback port, building a `PosConnection`, a canned
//! HTTP POS recording what it received, a TLS front with a test CA, the payment service in
//! front of an adapter — and the copies drifted. They are written once here; a POS crate's
//! tests keep only what is its own (its settings, its simulator's data, its stub's answers).
//!
//! - [`Client`]: the adapter's gRPC client, filling in each request's connection;
//!   [`start_adapter`] serves a POS crate's `serve` on `127.0.0.1:0` and connects one.
//! - [`spawn_adapter`]/[`Adapter`]: an adapter that can be stopped (a restart).
//! - [`connection`] and [`ConnectionExt`]: a restaurant's connection, and edits of it.
//! - [`get_bill_req`], [`pay_req`] and the rest, with [`Via`]: requests as the payment
//!   service sends them, optionally carrying a connection of their own.
//! - [`outcome`], [`substate`], [`dec`], [`assert_invalid`]: reading answers.
//! - [`https_front`]: a POS behind TLS with a certificate of its own test CA.
//! - [`stub`]: a canned HTTP POS. [`e2e`] (feature `e2e`): the payment service in front of an
//!   adapter.

#[cfg(feature = "e2e")]
pub mod e2e;
pub mod stub;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
use posgate_proto::v1::{
    AdapterCloseBillRequest, AdapterCloseBillResponse, AdapterGetBillRequest,
    AdapterGetBillResponse, AdapterListBillsRequest, AdapterListBillsResponse, Bill,
    CheckPaymentRequest, CheckPaymentResponse, DescribeRequest, DescribeResponse, Outcome,
    PosConnection, PosFailure, PostPaymentRequest, PostPaymentResponse, Substate,
    adapter_get_bill_response,
};
use rust_decimal::Decimal;
use tonic::Status;
use tonic::transport::Channel;

pub use posgate_sim::tls::{TestCa, front};

use crate::run::AdapterConfig;

/// The payment id the helpers' requests carry.
pub const PAYMENT_ID: &str = "pay-1";

/// The adapter's gRPC client as the payment service uses it: a request that carries no
/// connection gets the one named for its restaurant id ([`Client::with`]), else the one for
/// any restaurant ([`Client::for_any`]), else none. A request with its own is left alone;
/// `raw` sends requests exactly as they are.
#[derive(Clone)]
pub struct Client {
    pub raw: PosAdapterClient<Channel>,
    /// Connections by restaurant id.
    pub connections: HashMap<String, PosConnection>,
    /// The connection of every restaurant not in `connections`.
    pub any: Option<PosConnection>,
    /// Where the adapter listens.
    pub addr: SocketAddr,
}

macro_rules! sending_the_connection {
    ($($call:ident($req:ty) -> $resp:ty;)*) => {
        impl Client {
            $(pub async fn $call(
                &mut self,
                req: impl tonic::IntoRequest<$req>,
            ) -> Result<tonic::Response<$resp>, tonic::Status> {
                let mut req = req.into_request();
                if req.get_ref().connection.is_none() {
                    req.get_mut().connection = self.connection_of(&req.get_ref().restaurant_id);
                }
                self.raw.$call(req).await
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

impl Client {
    pub fn new(raw: PosAdapterClient<Channel>, addr: SocketAddr) -> Client {
        Client {
            raw,
            connections: HashMap::new(),
            any: None,
            addr,
        }
    }

    /// Sends `conn` for `restaurant_id`.
    pub fn with(mut self, restaurant_id: &str, conn: PosConnection) -> Client {
        self.connections.insert(restaurant_id.to_string(), conn);
        self
    }

    /// Sends each `(restaurant id, connection)`.
    pub fn with_all<S: Into<String>>(
        mut self,
        connections: impl IntoIterator<Item = (S, PosConnection)>,
    ) -> Client {
        self.connections
            .extend(connections.into_iter().map(|(id, c)| (id.into(), c)));
        self
    }

    /// Sends `conn` for every restaurant not named with [`Client::with`].
    pub fn for_any(mut self, conn: PosConnection) -> Client {
        self.any = Some(conn);
        self
    }

    /// The connection this client sends for `restaurant_id`.
    pub fn connection_of(&self, restaurant_id: &str) -> Option<PosConnection> {
        self.connections
            .get(restaurant_id)
            .or(self.any.as_ref())
            .cloned()
    }

    /// The adapter's URL, as the payment service is configured with it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `Describe` of `restaurant`.
    pub async fn describe_of(&mut self, restaurant: &str) -> DescribeResponse {
        self.describe(describe_req(restaurant))
            .await
            .unwrap_or_else(|e| panic!("Describe {restaurant}: {e}"))
            .into_inner()
    }

    /// `Describe`, or the gRPC error.
    pub async fn try_describe(&mut self, req: DescribeRequest) -> Result<DescribeResponse, Status> {
        self.describe(req).await.map(tonic::Response::into_inner)
    }

    /// `GetBill`'s answer (the bill or the POS's failure), or the gRPC error.
    pub async fn try_get_bill(
        &mut self,
        req: AdapterGetBillRequest,
    ) -> Result<adapter_get_bill_response::Result, Status> {
        let answer = self.get_bill(req).await?.into_inner();
        Ok(answer.result.expect("GetBill answers a bill or a failure"))
    }

    /// `PostPayment`, or the gRPC error.
    pub async fn try_post(
        &mut self,
        req: PostPaymentRequest,
    ) -> Result<PostPaymentResponse, Status> {
        self.post_payment(req)
            .await
            .map(tonic::Response::into_inner)
    }

    /// The bill `GetBill` answers to `req`; panics on a failure.
    pub async fn bill_of(&mut self, req: AdapterGetBillRequest) -> Bill {
        match self.try_get_bill(req).await.unwrap() {
            adapter_get_bill_response::Result::Bill(b) => b,
            adapter_get_bill_response::Result::Failure(f) => panic!("GetBill failed: {f:?}"),
        }
    }

    /// `GetBill`'s answer: the bill or the POS's failure.
    pub async fn bill_result(
        &mut self,
        restaurant: &str,
        bill: &str,
    ) -> adapter_get_bill_response::Result {
        self.try_get_bill(get_bill_req(restaurant, bill))
            .await
            .unwrap()
    }

    /// The bill; panics on a failure.
    pub async fn bill(&mut self, restaurant: &str, bill: &str) -> Bill {
        self.bill_of(get_bill_req(restaurant, bill)).await
    }

    /// The failure `GetBill` answers; panics on a bill.
    pub async fn bill_failure(&mut self, restaurant: &str, bill: &str) -> PosFailure {
        match self.bill_result(restaurant, bill).await {
            adapter_get_bill_response::Result::Failure(f) => f,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    /// `PostPayment` of `req`; panics on a gRPC error.
    pub async fn post(&mut self, req: PostPaymentRequest) -> PostPaymentResponse {
        self.try_post(req).await.unwrap()
    }

    /// Pays `amount` on `bill` ([`pay_req`]).
    pub async fn pay(&mut self, restaurant: &str, bill: &str, amount: &str) -> PostPaymentResponse {
        self.post(pay_req(restaurant, bill, amount)).await
    }

    /// `CloseBill` of [`PAYMENT_ID`].
    pub async fn close(&mut self, restaurant: &str, bill: &str) -> AdapterCloseBillResponse {
        self.close_bill(close_req(restaurant, bill))
            .await
            .unwrap()
            .into_inner()
    }

    /// `CheckPayment` of `req`; panics on a gRPC error.
    pub async fn check(&mut self, req: CheckPaymentRequest) -> CheckPaymentResponse {
        self.check_payment(req).await.unwrap().into_inner()
    }

    /// `ListBills` of `req`; panics on a gRPC error.
    pub async fn list_of(&mut self, req: AdapterListBillsRequest) -> AdapterListBillsResponse {
        self.list_bills(req).await.unwrap().into_inner()
    }

    /// `ListBills` of `table` (all when empty).
    pub async fn list(&mut self, restaurant: &str, table: &str) -> AdapterListBillsResponse {
        self.list_of(list_req(restaurant, table)).await
    }
}

/// The shutdown signal [`spawn_adapter`] hands the POS's `serve`.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An adapter server on a loopback port, a client connected to it, and its stop.
pub struct Adapter {
    pub client: PosAdapterClient<Channel>,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<()>,
}

impl Adapter {
    /// Stops the server (gracefully, else it is aborted after a moment): a restart.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(2), &mut self.served)
            .await
            .is_err()
        {
            self.served.abort();
        }
    }
}

/// The adapter configuration the helpers serve with: `listen` (unused: the listener is bound
/// already) and `auth`.
pub fn adapter_config(listen: SocketAddr, auth: posgate_grpc::AuthConfig) -> AdapterConfig {
    AdapterConfig::new(listen, auth)
}

/// Starts an adapter with `serve` (a POS crate's `serve(config, listener, shutdown)`), callers
/// unchecked, on `127.0.0.1:0`, and connects a client to it.
pub async fn spawn_adapter<F, Fut, E>(serve: F) -> Adapter
where
    F: FnOnce(AdapterConfig, tokio::net::TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    spawn_adapter_with(posgate_grpc::AuthConfig::disabled(), serve).await
}

/// [`spawn_adapter`] checking callers' tokens with `auth`.
pub async fn spawn_adapter_with<F, Fut, E>(auth: posgate_grpc::AuthConfig, serve: F) -> Adapter
where
    F: FnOnce(AdapterConfig, tokio::net::TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown: Shutdown = Box::pin(async move {
        let _ = rx.await;
    });
    let (client, addr, served) = serving(auth, serve, shutdown).await;
    Adapter {
        client,
        addr,
        stop: Some(tx),
        served,
    }
}

/// Starts an adapter with `serve` (callers unchecked) that runs until the test ends, and a
/// [`Client`] of it sending no connections yet.
pub async fn start_adapter<F, Fut, E>(serve: F) -> Client
where
    F: FnOnce(AdapterConfig, tokio::net::TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    start_adapter_with(posgate_grpc::AuthConfig::disabled(), serve).await
}

/// [`start_adapter`] checking callers' tokens with `auth`.
pub async fn start_adapter_with<F, Fut, E>(auth: posgate_grpc::AuthConfig, serve: F) -> Client
where
    F: FnOnce(AdapterConfig, tokio::net::TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let (client, addr, _) = serving(auth, serve, Box::pin(std::future::pending())).await;
    Client::new(client, addr)
}

/// Serves `serve` on `127.0.0.1:0` until `shutdown`, and connects a client to it.
async fn serving<F, Fut, E>(
    auth: posgate_grpc::AuthConfig,
    serve: F,
    shutdown: Shutdown,
) -> (
    PosAdapterClient<Channel>,
    SocketAddr,
    tokio::task::JoinHandle<()>,
)
where
    F: FnOnce(AdapterConfig, tokio::net::TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the adapter's port");
    let addr = listener.local_addr().expect("the adapter's address");
    let server = serve(adapter_config(addr, auth), listener, shutdown);
    let served = tokio::spawn(async move {
        if let Err(e) = server.await {
            panic!("the adapter server failed: {e}");
        }
    });
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("the adapter's URL")
        .timeout(Duration::from_secs(20));
    for _ in 0..100 {
        if let Ok(channel) = endpoint.connect().await {
            return (PosAdapterClient::new(channel), addr, served);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the adapter did not start on {addr}");
}

/// A restaurant's connection as the registry sends it: `settings` and `secrets`, amounts at
/// scale 2, version 1.
pub fn connection(settings: &[(&str, &str)], secrets: &[(&str, &str)]) -> PosConnection {
    let map = |kv: &[(&str, &str)]| {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    PosConnection {
        settings: map(settings),
        secrets: map(secrets),
        currency_scale: 2,
        version: 1,
    }
}

/// Edits of a connection, each returning the edited one.
pub trait ConnectionExt: Sized {
    /// Sets a plain setting.
    fn set(self, name: &str, value: &str) -> Self;
    /// Sets each of `settings`.
    fn set_all(self, settings: &[(&str, &str)]) -> Self;
    /// Removes a plain setting.
    fn unset(self, name: &str) -> Self;
    /// Sets a secret.
    fn set_secret(self, name: &str, value: &str) -> Self;
    /// Another version of the restaurant's connection.
    fn at_version(self, version: u64) -> Self;
    /// Trusts `ca_pem` (a `ca_pem` setting) when given.
    fn trusting(self, ca_pem: Option<&str>) -> Self;
}

impl ConnectionExt for PosConnection {
    fn set(mut self, name: &str, value: &str) -> Self {
        self.settings.insert(name.into(), value.into());
        self
    }

    fn set_all(self, settings: &[(&str, &str)]) -> Self {
        settings.iter().fold(self, |c, (k, v)| c.set(k, v))
    }

    fn unset(mut self, name: &str) -> Self {
        self.settings.remove(name);
        self
    }

    fn set_secret(mut self, name: &str, value: &str) -> Self {
        self.secrets.insert(name.into(), value.into());
        self
    }

    fn at_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    fn trusting(self, ca_pem: Option<&str>) -> Self {
        match ca_pem {
            Some(pem) => self.set("ca_pem", pem),
            None => self,
        }
    }
}

pub fn describe_req(restaurant: &str) -> DescribeRequest {
    DescribeRequest {
        restaurant_id: restaurant.into(),
        connection: None,
    }
}

pub fn get_bill_req(restaurant: &str, bill: &str) -> AdapterGetBillRequest {
    AdapterGetBillRequest {
        restaurant_id: restaurant.into(),
        bill_id: bill.into(),
        connection: None,
    }
}

pub fn list_req(restaurant: &str, table: &str) -> AdapterListBillsRequest {
    AdapterListBillsRequest {
        restaurant_id: restaurant.into(),
        table: table.into(),
        connection: None,
    }
}

/// A payment of `amount` ([`PAYMENT_ID`], nothing else set).
pub fn pay_req(restaurant: &str, bill: &str, amount: &str) -> PostPaymentRequest {
    PostPaymentRequest {
        restaurant_id: restaurant.into(),
        bill_id: bill.into(),
        payment_id: PAYMENT_ID.into(),
        amount: amount.into(),
        ..Default::default()
    }
}

pub fn close_req(restaurant: &str, bill: &str) -> AdapterCloseBillRequest {
    AdapterCloseBillRequest {
        restaurant_id: restaurant.into(),
        bill_id: bill.into(),
        payment_id: PAYMENT_ID.into(),
        connection: None,
    }
}

/// A check of [`PAYMENT_ID`] of `amount`, with no reference, no bill read before and no close.
pub fn check_req(restaurant: &str, bill: &str, amount: &str) -> CheckPaymentRequest {
    CheckPaymentRequest {
        restaurant_id: restaurant.into(),
        bill_id: bill.into(),
        payment_id: PAYMENT_ID.into(),
        amount: amount.into(),
        ..Default::default()
    }
}

/// A request carrying its own connection (the client then sends it as it is).
pub trait Via: Sized {
    fn via(self, conn: &PosConnection) -> Self;
}

macro_rules! via {
    ($($req:ty),*) => {$(
        impl Via for $req {
            fn via(mut self, conn: &PosConnection) -> Self {
                self.connection = Some(conn.clone());
                self
            }
        }
    )*};
}

via!(
    DescribeRequest,
    AdapterGetBillRequest,
    AdapterListBillsRequest,
    PostPaymentRequest,
    AdapterCloseBillRequest,
    CheckPaymentRequest
);

pub fn outcome(o: i32) -> Outcome {
    Outcome::try_from(o).unwrap()
}

/// The substate of a failure that must be there.
pub fn substate(f: &Option<PosFailure>) -> Substate {
    Substate::try_from(f.as_ref().expect("a failure").substate).unwrap()
}

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Asserts that `e` is `INVALID_ARGUMENT` with a message starting with `starts_with` (the
/// field or setting it names).
#[track_caller]
pub fn assert_invalid(e: &Status, starts_with: &str) {
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().starts_with(starts_with),
        "{starts_with}: {}",
        e.message()
    );
}

/// A TLS front on the plain-HTTP POS at `plain` with a certificate of a fresh test CA: the CA,
/// and the POS's `https://localhost:PORT` URL.
pub async fn https_front(plain: SocketAddr) -> (TestCa, String) {
    let ca = TestCa::new();
    let tls = front(plain, &ca).await;
    (ca, format!("https://localhost:{}", tls.port()))
}
