//! Routes a restaurant to its POS adapter over gRPC, with its connection, and remembers what
//! each adapter can do.
//!
//! A restaurant is found in the registry, the only place restaurants are declared (through the
//! registry's cache, which forgets a restaurant as soon as it changes anywhere, so a change made
//! through any replica counts at once without a read per call). Its POS connection
//! (settings and opened secrets) goes with every adapter call, so the adapters keep no
//! restaurant list.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use posgate_grpc::CallerToken;
use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
use posgate_proto::v1::{DescribeRequest, DescribeResponse, PosConnection};
use tokio::sync::RwLock;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::config::PaymentsConfig;
use crate::registry::{Freshness, Registry, RegistryError, RestaurantRecord};

/// A client of one POS adapter, sending the payment service's token.
pub type AdapterClient = PosAdapterClient<InterceptedService<Channel, CallerToken>>;

/// Where a restaurant's calls go, and with what.
#[derive(Debug, Clone)]
pub struct Route {
    pub pos_kind: String,
    pub currency_scale: u32,
    /// As declared in the registry: sent with every adapter call.
    pub connection: PosConnection,
    /// Takes new payments (payments already accepted are driven to the end either way).
    pub enabled: bool,
    /// The registry version: what `describe` answers are kept by.
    pub version: u64,
}

impl Route {
    fn of(r: &RestaurantRecord) -> Route {
        let s = &r.spec;
        Route {
            pos_kind: s.pos_kind.clone(),
            currency_scale: s.currency_scale,
            connection: PosConnection {
                settings: s.pos_settings.clone().into_iter().collect(),
                secrets: s
                    .pos_secrets
                    .iter()
                    .map(|(k, v)| (k.clone(), v.expose().to_string()))
                    .collect(),
                currency_scale: s.currency_scale,
                version: u64::try_from(r.version).unwrap_or_default(),
            },
            enabled: r.enabled,
            version: u64::try_from(r.version).unwrap_or_default(),
        }
    }
}

#[derive(Clone)]
pub struct Adapters {
    /// POS kind → channels, one per connection (`adapter_connections`): a connection carries at
    /// most `posgate_grpc::MAX_CONCURRENT_PER_CONNECTION` calls at once, and a slow POS keeps
    /// each call open for seconds. Channels connect lazily and reconnect on their own.
    channels: Arc<HashMap<String, Vec<Channel>>>,
    /// The payment service's token, and the caller's trace, on every call.
    token: CallerToken,
    /// Round robin over a kind's connections.
    next: Arc<std::sync::atomic::AtomicUsize>,
    registry: Registry,
    /// (restaurant, registry version) → what its adapter said it can do.
    describe: Arc<RwLock<HashMap<(String, u64), DescribeResponse>>>,
    pub call_timeout: Duration,
}

impl Adapters {
    pub fn new(cfg: &PaymentsConfig, registry: Registry) -> anyhow::Result<Adapters> {
        let mut channels = HashMap::new();
        for (kind, url) in &cfg.adapters {
            let ep = Endpoint::from_shared(url.clone())
                .map_err(|e| anyhow::anyhow!("adapter {kind}: bad endpoint {url:?}: {e}"))?
                .connect_timeout(Duration::from_secs(5))
                .tcp_nodelay(true);
            let pool = (0..cfg.adapter_connections.max(1))
                .map(|_| ep.connect_lazy())
                .collect();
            channels.insert(kind.clone(), pool);
        }
        Ok(Adapters {
            channels: Arc::new(channels),
            token: cfg.auth.caller("payments"),
            next: Arc::default(),
            registry,
            describe: Arc::default(),
            call_timeout: Duration::from_millis(cfg.adapter_timeout_ms),
        })
    }

    /// Where a restaurant's calls go, as of `fresh`; `None` for a restaurant nobody declared.
    pub async fn route(
        &self,
        restaurant_id: &str,
        fresh: Freshness,
    ) -> Result<Option<Route>, RegistryError> {
        Ok(self
            .registry
            .cached(restaurant_id, fresh)
            .await?
            .map(|r| Route::of(&r)))
    }

    /// The adapter client of a route; `None` when no adapter serves its POS kind.
    pub fn client(&self, route: &Route) -> Option<AdapterClient> {
        self.client_for_kind(&route.pos_kind)
    }

    /// The adapter client of a POS kind.
    pub fn client_for_kind(&self, pos_kind: &str) -> Option<AdapterClient> {
        Some(
            PosAdapterClient::with_interceptor(
                self.channel_for_kind(pos_kind)?.clone(),
                self.token.clone(),
            )
            .max_decoding_message_size(posgate_grpc::MAX_MESSAGE_BYTES),
        )
    }

    /// A call to the adapter of a POS kind that holds little while the POS takes its time
    /// ([`posgate_grpc::unary`]; the engine's POS calls, held for every payment in flight):
    /// `path` is the method's (`/posgate.v1.PosAdapter/PostPayment`), the deadline (`within`,
    /// else the adapter call deadline) and the token are set. `None` when no adapter serves the
    /// kind.
    pub fn call<Req, Resp>(
        &self,
        pos_kind: &str,
        path: &'static str,
        msg: Req,
        within: Option<Duration>,
    ) -> Option<BoxFuture<'static, Result<Resp, tonic::Status>>>
    where
        Req: prost::Message,
        Resp: prost::Message + Default + 'static,
    {
        let channel = self.channel_for_kind(pos_kind)?;
        let mut req = self.request(msg);
        if let Some(d) = within {
            req.set_timeout(d.min(self.call_timeout));
        }
        Some(posgate_grpc::unary::unary(
            channel,
            &mut self.token.clone(),
            path,
            req,
            posgate_grpc::MAX_MESSAGE_BYTES,
        ))
    }

    /// The next of a POS kind's channels, round robin.
    fn channel_for_kind(&self, pos_kind: &str) -> Option<&Channel> {
        let pool = self.channels.get(pos_kind)?;
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % pool.len();
        pool.get(i)
    }

    /// A request with the adapter call deadline set.
    pub fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.set_timeout(self.call_timeout);
        req
    }

    /// What the restaurant's adapter can do, asked once per restaurant version and remembered.
    pub async fn describe(
        &self,
        restaurant_id: &str,
        route: &Route,
    ) -> Result<DescribeResponse, tonic::Status> {
        let key = (restaurant_id.to_string(), route.version);
        if let Some(d) = self.describe.read().await.get(&key) {
            return Ok(d.clone());
        }
        let mut client = self.client(route).ok_or_else(|| {
            tonic::Status::failed_precondition(format!(
                "no adapter serves POS kind {:?}",
                route.pos_kind
            ))
        })?;
        let d = client
            .describe(self.request(DescribeRequest {
                restaurant_id: restaurant_id.to_string(),
                connection: Some(route.connection.clone()),
            }))
            .await?
            .into_inner();
        let mut cache = self.describe.write().await;
        // Older versions of this restaurant are of no use any more.
        cache.retain(|(id, _), _| id != restaurant_id);
        cache.insert(key, d.clone());
        Ok(d)
    }
}
