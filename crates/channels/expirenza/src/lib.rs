//! posgate's Expirenza callback adapter: guests pay at the table in Expirenza (monobank's
//! pay-at-table platform, formerly Shake To Pay), posgate closes the bill in whatever POS
//! the restaurant runs and answers Expirenza.
//!
//! Expirenza charges the guest first, then sends `payBill` over a WebSocket that the
//! restaurant's integration keeps open; the integration closes the bill and answers with an
//! HTTP callback: `SUCCESS`, or `FAIL` with one of six substates. This crate is that
//! integration for every POS posgate speaks: it talks to Expirenza on one side and to
//! posgate's `PaymentService` (gRPC) on the other.
//!
//! # Modules
//! - [`config`]: `[expirenza]` service settings; [`load_config`] reads TOML + environment.
//! - [`wire`]: operation frames, callback bodies, the signature.
//! - [`answer`]: payment state → `SUCCESS`/`FAIL` + substate; POS bill → callback fields.
//! - [`callback`]: signed callback POSTs, resent on 5xx within the 80 s window.
//! - [`service`]: the operations ([`Handler`]).
//! - [`connection`]: the WebSocket, keepalive and reconnection.
//! - [`registry`]: the restaurants (the payment service's registry), connected and
//!   disconnected as they are added, changed or disabled.
//!
//! # Restaurants
//! The restaurants served are the registry's restaurants that have an Expirenza channel
//! (`resto_id`, `ws_url`, `callback_base_url`, the secret key, `tips`, `tables`), declared with
//! `posgate restaurant add|import` and followed as they change ([`registry`]); none is declared
//! in the config file (a `[expirenza.restaurants]` section is refused, saying so).
//!
//! # Configuration
//! `posgate-expirenza --config posgate.toml` (or `POSGATE_CONFIG=posgate.toml`) reads the
//! service's settings, the same for every restaurant:
//!
//! ```toml
//! [expirenza]
//! payments_url = "http://127.0.0.1:50051"   # posgate PaymentService (and ChannelService)
//! # answer_deadline_ms = 55000              # answer payBill by then (Expirenza waits 80 s)
//! # pending_substate = "BILL_IN_USE"        # FAIL substate while the POS has not confirmed
//! # ping_interval_ms = 15000
//! # reconnect_initial_ms = 1000
//! # reconnect_max_ms = 30000
//! # system_name = "posgate"                 # `cookie: system=posgate`; "" to not send it
//! # ca_file = "/etc/posgate/expirenza-staging-ca.pem"   # a platform with its own CA
//! # admin_listen = "127.0.0.1:9092"         # /metrics, /livez, /readyz (ready = registry followed)
//! ```
//!
//! Every key can be overridden from the environment with the prefix `POSGATE_EXPIRENZA__`,
//! e.g. `POSGATE_EXPIRENZA__PAYMENTS_URL=...`. Calls to the payment service carry this
//! service's token, `[auth] tokens.expirenza` (or `POSGATE_AUTH__TOKENS__EXPIRENZA`). The
//! secret keys, the Basic auth header and the token are never logged.
//!
//! # Choices where Expirenza's docs are silent
//! - **Idempotency key**: `expirenza:<restoId>:<billId>:<rID>` (SHA-256 of the three when
//!   longer than posgate's 200 characters). A repeat with the same rID is the same posgate
//!   payment and gets the first answer, if it carries the same `billId`, `sum`, `tips` and
//!   `fiscalData`; otherwise it is answered `FAIL OTHER_ERROR` naming the fields that differ,
//!   and nothing is posted. A repeat with a new rID is caught before posting by the per-bill lock and the
//!   `ListPayments` check (payments whose key starts with `expirenza:`).
//! - **Not confirmed by the deadline** (still posting, outcome unknown, POS unreachable):
//!   `FAIL` + `pending_substate`, default `BILL_IN_USE` ("the bill is held by another module of
//!   the POS": here posgate's own posting), which is retriable, so Expirenza asks again and
//!   gets the then-current state. `stackTraceMessage` says what is going on. Never `SUCCESS`.
//! - **getBill by table** with no open bill: `ORDER_NOT_FOUND` (the table exists, there is no
//!   order); `TABLE_NOT_FOUND` when the POS says the table is unknown, when `tables` is set
//!   and does not list it. `totalSum` is the amount still due (what `sum` is compared with).
//! - **A closed bill with no Expirenza payment**, or an Expirenza payment of another amount:
//!   `FAIL OTHER_ERROR` (a person refunds or books it by hand); never posted.
//! - **A payment that needs a person** (`NEEDS_ATTENTION`): its substate is answered and
//!   nothing is posted again automatically.
//! - `checkWork.readyToWork` = posgate's payment service answers; times are UTC.
//! - `versionInfo`: the newer format; `pluginVersion` = major·10000 + minor·100 + patch; no
//!   optional feature (BILL_V_2, STOP_LIST, ORDERS_CACHE, ORDER_ON_TABLE) is implemented.
#![forbid(unsafe_code)]

pub mod answer;
pub mod callback;
pub mod config;
pub mod connection;
pub mod metric_definitions;
pub mod registry;
pub mod service;
pub mod wire;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use posgate_pos_kit::HttpPolicy;
use posgate_proto::v1::channel_service_client::ChannelServiceClient;
use posgate_proto::v1::payment_service_client::PaymentServiceClient;
use tokio::sync::watch;
use tokio::time::Instant;
use tonic::transport::Channel;
use tracing::{info, warn};

pub use answer::Verdict;
pub use config::{CALLER_NAME, ExpirenzaConfig, ExpirenzaRestaurant, TipsMode, load_config};
pub use service::PaymentsClient;
pub use service::{Handler, idempotency_key};

/// The adapter: one [`Handler`] and one WebSocket per restaurant of the registry with an
/// Expirenza channel ([`registry::Supervisor`]).
pub struct Adapter {
    registry: registry::Supervisor,
    shutdown_grace: Duration,
    health: posgate_grpc::Health,
}

impl Adapter {
    /// Builds the adapter (no network yet); reads the CA file and validates.
    pub fn new(mut cfg: ExpirenzaConfig) -> anyhow::Result<Self> {
        cfg.prepare()?;
        // The kit's policy: no redirects (a signed callback never follows one elsewhere).
        let http = HttpPolicy::new("expirenza")
            .connect_timeout(Duration::from_secs(5))
            .trust_pem(cfg.ca_pem.as_deref())
            .build()
            .context("building the HTTP client")?;
        let channel = Channel::from_shared(cfg.payments_url.clone())
            .context("payments_url")?
            .connect_timeout(Duration::from_secs(5))
            .connect_lazy();
        let caller = cfg.auth.caller(config::CALLER_NAME);
        let payments = PaymentServiceClient::with_interceptor(channel.clone(), caller.clone())
            .max_decoding_message_size(posgate_grpc::MAX_MESSAGE_BYTES);
        let channels = ChannelServiceClient::with_interceptor(channel, caller)
            .max_decoding_message_size(posgate_grpc::MAX_MESSAGE_BYTES);
        let shutdown_grace = Duration::from_millis(cfg.shutdown_grace_ms);
        let health = posgate_grpc::Health::standalone(config::CALLER_NAME);
        let registry =
            registry::Supervisor::new(channels, payments, http, Arc::new(cfg), health.clone());
        Ok(Adapter {
            registry,
            shutdown_grace,
            health,
        })
    }

    /// Its readiness: `NOT_SERVING` until it follows the registry (the payment service's
    /// channel stream) and while it cannot, `SERVING` while it does, draining once stopping.
    /// `/readyz` on `[expirenza] admin_listen` answers it.
    pub fn health(&self) -> posgate_grpc::Health {
        self.health.clone()
    }

    /// Follows the registry, connecting its restaurants, until `shutdown`; then closes the
    /// sockets and waits (up to `shutdown_grace_ms`) for operations in flight.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        metric_definitions::describe_metrics();
        let (stop_tx, stop_rx) = watch::channel(false);
        let registry = tokio::spawn(self.registry.run(stop_rx));
        info!("posgate-expirenza running: serving the registry's Expirenza restaurants");
        self.health.draining_on(shutdown).await;
        let _ = stop_tx.send(true);
        let handlers = registry.await.unwrap_or_default();
        let until = Instant::now() + self.shutdown_grace;
        for h in &handlers {
            if !h.drained(until).await {
                warn!(
                    resto = %h.cfg.resto_id,
                    in_flight = h.in_flight(),
                    "stopping with operations in flight; Expirenza will repeat them"
                );
            }
        }
        Ok(())
    }
}

/// Runs the adapter with `cfg` until `shutdown` completes.
pub async fn run(cfg: ExpirenzaConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    Adapter::new(cfg)?.run(shutdown).await
}

/// [`run`], with the admin port (`/metrics`, `/livez`, `/readyz` answering the adapter's
/// [`Adapter::health`]) on `[expirenza] admin_listen` when set.
pub async fn run_with_admin(
    cfg: ExpirenzaConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let admin_listen = cfg.admin_listen;
    let adapter = Adapter::new(cfg)?;
    posgate_grpc::admin::with_admin(adapter.health(), admin_listen, shutdown, |stop| {
        adapter.run(stop)
    })
    .await
}
