//! Routes a restaurant to its POS adapter over gRPC and remembers what each adapter can do.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use posgate_grpc::CallerToken;
use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
use posgate_proto::v1::{DescribeRequest, DescribeResponse};
use tokio::sync::RwLock;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// A client of one POS adapter, sending the payment service's token.
pub type AdapterClient = PosAdapterClient<InterceptedService<Channel, CallerToken>>;

use crate::config::PaymentsConfig;

#[derive(Clone)]
pub struct Adapters {
    /// POS kind → client. Channels connect lazily and reconnect on their own.
    clients: Arc<HashMap<String, AdapterClient>>,
    /// restaurant id → POS kind.
    routes: Arc<HashMap<String, String>>,
    describe: Arc<RwLock<HashMap<String, DescribeResponse>>>,
    pub call_timeout: Duration,
}

impl Adapters {
    pub fn new(cfg: &PaymentsConfig) -> anyhow::Result<Adapters> {
        let mut clients = HashMap::new();
        for (kind, url) in &cfg.adapters {
            let ep = Endpoint::from_shared(url.clone())
                .map_err(|e| anyhow::anyhow!("adapter {kind}: bad endpoint {url:?}: {e}"))?
                .connect_timeout(Duration::from_secs(5))
                .tcp_nodelay(true);
            let client =
                PosAdapterClient::with_interceptor(ep.connect_lazy(), cfg.auth.caller("payments"))
                    .max_decoding_message_size(posgate_grpc::MAX_MESSAGE_BYTES);
            clients.insert(kind.clone(), client);
        }
        let routes = cfg
            .restaurants
            .iter()
            .map(|(id, r)| (id.clone(), r.pos.clone()))
            .collect();
        Ok(Adapters {
            clients: Arc::new(clients),
            routes: Arc::new(routes),
            describe: Arc::default(),
            call_timeout: Duration::from_millis(cfg.adapter_timeout_ms),
        })
    }

    /// The adapter client for a restaurant; `None` for a restaurant we do not serve.
    pub fn client(&self, restaurant_id: &str) -> Option<AdapterClient> {
        let kind = self.routes.get(restaurant_id)?;
        self.clients.get(kind).cloned()
    }

    /// A request with the adapter call deadline set.
    pub fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.set_timeout(self.call_timeout);
        req
    }

    /// What the restaurant's adapter can do, asked once and then remembered.
    pub async fn describe(&self, restaurant_id: &str) -> Result<DescribeResponse, tonic::Status> {
        if let Some(d) = self.describe.read().await.get(restaurant_id) {
            return Ok(d.clone());
        }
        let mut client = self
            .client(restaurant_id)
            .ok_or_else(|| tonic::Status::invalid_argument("restaurant_id: unknown restaurant"))?;
        let d = client
            .describe(self.request(DescribeRequest {
                connection: None,
                restaurant_id: restaurant_id.to_string(),
            }))
            .await?
            .into_inner();
        self.describe
            .write()
            .await
            .insert(restaurant_id.to_string(), d.clone());
        Ok(d)
    }
}
