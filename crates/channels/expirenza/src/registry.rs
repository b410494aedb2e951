//! The adapter's restaurants: the Expirenza channels of the payment service's registry
//! (`ChannelService.WatchExpirenzaChannels`), the only place they are declared, each served by
//! its own [`Handler`] and WebSocket loop.
//!
//! Every message of the stream is the full set: a restaurant new to it is connected, one whose
//! version changed is reconnected with its new settings, one that left it (disabled, removed,
//! channel dropped) is disconnected. When the payment service cannot be reached the loops keep
//! running as they are (an outage is not a disable) and the stream is asked again with backoff.
//! The posgate restaurant id is the registry id; the connection settings the registry does not
//! hold are the service's (`[expirenza]`, [`ExpirenzaConfig::restaurant`]). Operations in
//! flight on a stopped handler may be dropped: Expirenza repeats them.
//!
//! Readiness ([`Health`]) follows the stream: `SERVING` from its first message on, `NOT_SERVING`
//! (naming the registry and why) while it cannot be had — the restaurants keep running then,
//! but no change to them can reach this adapter.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use posgate_grpc::{CallerToken, Health, Readiness};
use posgate_proto::v1::channel_service_client::ChannelServiceClient;
use posgate_proto::v1::{self as pb};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::{info, warn};

use crate::config::{ExpirenzaConfig, ExpirenzaRestaurant, TipsMode};
use crate::connection::connection_loop;
use crate::service::{Handler, PaymentsClient};

pub type ChannelsClient = ChannelServiceClient<InterceptedService<Channel, CallerToken>>;

/// Backoff of the stream when the payment service is down: doubling up to the max.
const RETRY_INITIAL: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(10);
/// How long a stopped loop may take to close its socket before it is aborted.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// The restaurant a registry channel describes, with the service's connection settings;
/// checked.
pub fn restaurant(
    settings: &ExpirenzaConfig,
    c: &pb::RegisteredExpirenzaChannel,
) -> anyhow::Result<ExpirenzaRestaurant> {
    let mut r = settings.restaurant(&c.resto_id, &c.secret_key, &c.restaurant_id);
    r.ws_url = c.ws_url.clone();
    r.callback_base_url = c.callback_base_url.clone();
    r.tables = c.tables.clone();
    r.tips = match c.tips.as_str() {
        "" | "separate" => TipsMode::Separate,
        "none" => TipsMode::None,
        other => bail!(
            "expirenza restaurant {}: tips {other:?} is \"separate\" or \"none\"",
            c.restaurant_id
        ),
    };
    r.validate(&c.restaurant_id)?;
    Ok(r)
}

struct Running {
    version: u64,
    handler: Arc<Handler>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) -> Arc<Handler> {
        let _ = self.stop.send(true);
        if tokio::time::timeout(STOP_WAIT, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
        self.handler
    }
}

/// Keeps one connection loop per registry channel.
pub struct Supervisor {
    client: ChannelsClient,
    payments: PaymentsClient,
    http: reqwest::Client,
    /// The service's connection settings, given to every restaurant.
    settings: Arc<ExpirenzaConfig>,
    running: BTreeMap<String, Running>,
    /// `SERVING` while the registry's stream is followed.
    health: Health,
}

impl Supervisor {
    pub fn new(
        client: ChannelsClient,
        payments: PaymentsClient,
        http: reqwest::Client,
        settings: Arc<ExpirenzaConfig>,
        health: Health,
    ) -> Supervisor {
        Supervisor {
            client,
            payments,
            http,
            settings,
            running: BTreeMap::new(),
            health,
        }
    }

    /// The registry cannot be followed now: `why`.
    async fn unreachable(&self, why: String) {
        self.health
            .set(Readiness::NotServing(format!("registry: {why}")))
            .await;
    }

    /// Follows the registry until `stop`; then stops every loop and returns their handlers
    /// (for the caller to wait for operations in flight).
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Vec<Arc<Handler>> {
        let mut delay = RETRY_INITIAL;
        'watch: loop {
            if *stop.borrow() {
                break;
            }
            let mut client = self.client.clone();
            let answer = tokio::select! {
                a = client.watch_expirenza_channels(pb::WatchExpirenzaChannelsRequest {}) => a,
                _ = stop.wait_for(|s| *s) => break,
            };
            match answer {
                Ok(resp) => {
                    let mut stream = resp.into_inner();
                    loop {
                        let next = tokio::select! {
                            m = stream.message() => m,
                            _ = stop.wait_for(|s| *s) => break 'watch,
                        };
                        match next {
                            Ok(Some(set)) => {
                                delay = RETRY_INITIAL;
                                self.apply(set).await;
                                self.health.set(Readiness::Serving).await;
                            }
                            Ok(None) => {
                                warn!(
                                    "the registry's Expirenza channel stream ended; asking again"
                                );
                                self.unreachable("the channel stream ended".into()).await;
                                break;
                            }
                            Err(s) => {
                                warn!(code = ?s.code(), message = %s.message(), "the registry's Expirenza channel stream failed; asking again");
                                self.unreachable(format!("{:?}: {}", s.code(), s.message()))
                                    .await;
                                break;
                            }
                        }
                    }
                }
                Err(s) => {
                    warn!(code = ?s.code(), message = %s.message(), "cannot watch the registry's Expirenza channels; retrying");
                    self.unreachable(format!("{:?}: {}", s.code(), s.message()))
                        .await;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
        let mut handlers = Vec::new();
        for (_, r) in std::mem::take(&mut self.running) {
            handlers.push(r.stop().await);
        }
        handlers
    }

    /// Brings the running loops to `set`.
    async fn apply(&mut self, set: pb::ExpirenzaChannelSet) {
        let wanted: BTreeMap<String, pb::RegisteredExpirenzaChannel> = set
            .channels
            .into_iter()
            .map(|c| (c.restaurant_id.clone(), c))
            .collect();
        let ending: Vec<String> = self
            .running
            .iter()
            .filter(|(id, r)| wanted.get(*id).is_none_or(|c| c.version != r.version))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ending {
            if let Some(r) = self.running.remove(&id) {
                let h = r.stop().await;
                info!(restaurant = %id, resto = %h.cfg.resto_id, "registry restaurant left or changed: disconnected");
            }
        }
        for (id, c) in wanted {
            if self.running.contains_key(&id) {
                continue;
            }
            let cfg = match restaurant(&self.settings, &c) {
                Ok(cfg) => cfg,
                Err(e) => {
                    warn!(restaurant = %id, error = %e, "registry Expirenza channel not served");
                    continue;
                }
            };
            let taken = self
                .running
                .values()
                .any(|r| r.handler.cfg.resto_id == cfg.resto_id);
            if taken {
                warn!(restaurant = %id, resto = %cfg.resto_id, "registry Expirenza channel not served: another restaurant is connected as this resto_id");
                continue;
            }
            let handler = Arc::new(Handler::new(
                &id,
                cfg,
                self.http.clone(),
                self.payments.clone(),
            ));
            let (stop, rx) = watch::channel(false);
            let task = tokio::spawn(connection_loop(Arc::clone(&handler), rx));
            info!(restaurant = %id, version = c.version, "registry restaurant: connecting to Expirenza");
            self.running.insert(
                id,
                Running {
                    version: c.version,
                    handler,
                    stop,
                    task,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(tips: &str) -> pb::RegisteredExpirenzaChannel {
        pb::RegisteredExpirenzaChannel {
            restaurant_id: "r1".into(),
            version: 3,
            resto_id: "resto".into(),
            ws_url: "ws://127.0.0.1:9/restaurantEntryPoint".into(),
            callback_base_url: "http://127.0.0.1:9".into(),
            secret_key: "k3y".into(),
            tips: tips.into(),
            tables: vec!["1".into(), "12".into()],
        }
    }

    #[test]
    fn a_channel_becomes_a_restaurant_with_the_service_settings() {
        let d = ExpirenzaConfig::default();
        let r = restaurant(&d, &channel("")).unwrap();
        assert_eq!(r.restaurant_id, "r1");
        assert_eq!(r.secret_key.expose(), "k3y");
        assert_eq!(r.tips, TipsMode::Separate);
        assert_eq!(r.ws_url, "ws://127.0.0.1:9/restaurantEntryPoint");
        assert_eq!(r.callback_base_url, "http://127.0.0.1:9");
        assert_eq!(r.tables, ["1", "12"]);
        assert_eq!(r.answer_deadline_ms, d.answer_deadline_ms);
        let tuned = ExpirenzaConfig {
            answer_deadline_ms: 1_000,
            ping_interval_ms: 250,
            ca_pem: Some("PEM".into()),
            ..ExpirenzaConfig::default()
        };
        let r = restaurant(&tuned, &channel("")).unwrap();
        assert_eq!(
            (
                r.answer_deadline_ms,
                r.ping_interval_ms,
                r.ca_pem.as_deref()
            ),
            (1_000, 250, Some("PEM"))
        );
        assert_eq!(
            restaurant(&d, &channel("none")).unwrap().tips,
            TipsMode::None
        );
        let e = restaurant(&d, &channel("all")).unwrap_err().to_string();
        assert!(e.contains("tips \"all\""), "{e}");
        let mut no_key = channel("");
        no_key.secret_key.clear();
        let e = restaurant(&d, &no_key).unwrap_err().to_string();
        assert!(e.contains("secret_key"), "{e}");
    }
}
