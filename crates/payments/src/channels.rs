//! The `ChannelService` gRPC API: the registry's Expirenza channels, streamed to the Expirenza
//! adapter so it connects to Expirenza for the restaurants declared at run time and
//! disconnects from those disabled or removed.
//!
//! Each message is the full set (enabled restaurants with a channel, keys opened — the one
//! place a secret leaves the registry; only the `expirenza` caller may ask, see
//! `posgate_grpc::DEFAULT_ALLOW`). It is sent at once, then whenever the (id, version) list
//! changes. The registry is polled every [`POLL`]; PostgreSQL LISTEN/NOTIFY can replace the
//! poll later (issue 12).

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use posgate_proto::v1::channel_service_server::ChannelService;
use posgate_proto::v1::{self as pb};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::registry::{RegisteredChannel, Registry};

/// How often the registry is read for changes.
pub const POLL: Duration = Duration::from_secs(1);

pub struct ChannelsApi {
    pub(crate) registry: Registry,
    /// Turns true when the service shuts down: the streams end (`UNAVAILABLE`) instead of
    /// holding the graceful shutdown open forever; the adapter asks another replica.
    pub(crate) stopping: watch::Receiver<bool>,
}

fn to_pb(c: &RegisteredChannel) -> pb::RegisteredExpirenzaChannel {
    pb::RegisteredExpirenzaChannel {
        restaurant_id: c.restaurant_id.clone(),
        version: u64::try_from(c.version).unwrap_or(0),
        resto_id: c.channel.resto_id.clone(),
        ws_url: c.channel.ws_url.clone(),
        callback_base_url: c.channel.callback_base_url.clone(),
        secret_key: c.channel.secret_key.expose().to_string(),
        tips: c.channel.tips.clone(),
        tables: c.channel.tables.clone(),
    }
}

/// What identifies a set: a change of any restaurant bumps its version.
fn fingerprint(set: &[RegisteredChannel]) -> Vec<(String, i64)> {
    set.iter()
        .map(|c| (c.restaurant_id.clone(), c.version))
        .collect()
}

type ChannelStream =
    Pin<Box<dyn Stream<Item = Result<pb::ExpirenzaChannelSet, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl ChannelService for ChannelsApi {
    type WatchExpirenzaChannelsStream = ChannelStream;

    async fn watch_expirenza_channels(
        &self,
        _req: Request<pb::WatchExpirenzaChannelsRequest>,
    ) -> Result<Response<Self::WatchExpirenzaChannelsStream>, Status> {
        let registry = self.registry.clone();
        let mut stopping = self.stopping.clone();
        let stream = async_stream::stream! {
            let mut last: Option<Vec<(String, i64)>> = None;
            loop {
                match registry.channels().await {
                    Ok(set) => {
                        let now = fingerprint(&set);
                        if last.as_ref() != Some(&now) {
                            last = Some(now);
                            yield Ok(pb::ExpirenzaChannelSet {
                                channels: set.iter().map(to_pb).collect(),
                            });
                        }
                    }
                    // Kept open: the adapter keeps what it has until the registry answers.
                    Err(e) => tracing::warn!(error = %e, "reading the Expirenza channels"),
                }
                let stop = tokio::select! {
                    _ = tokio::time::sleep(POLL) => false,
                    _ = stopping.wait_for(|s| *s) => true,
                };
                if stop {
                    yield Err(Status::unavailable("the payment service is shutting down"));
                    break;
                }
            }
        };
        Ok(Response::new(Box::pin(stream)))
    }
}
