//! The `ChannelService` gRPC API: the registry's Expirenza channels, streamed to the Expirenza
//! adapter so it connects to Expirenza for the restaurants declared at run time and
//! disconnects from those disabled or removed.
//!
//! Each message is the full set (enabled restaurants with a channel, keys opened — the one
//! place a secret leaves the registry; only the `expirenza` caller may ask, see
//! `posgate_grpc::DEFAULT_ALLOW`). It is sent at once, then whenever the (id, version) list
//! changes: the stream wakes when the registry's cache sees a change (this replica's own
//! writes, PostgreSQL `NOTIFY` from the others); without a listener it also compares the
//! registry generation every [`POLL`] (one tiny read), so a change made by another process on
//! SQLite is seen too.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use posgate_proto::v1::channel_service_server::ChannelService;
use posgate_proto::v1::{self as pb};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use crate::registry::{RegisteredChannel, Registry};

/// How often the registry generation is compared when no listener reports changes.
pub const POLL: Duration = Duration::from_secs(3);

/// How often the channels are read again even though nothing was reported (a safety net).
const REREAD: Duration = Duration::from_secs(300);

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

/// Why a channel stream woke up.
enum Wake {
    Changed,
    Poll,
    Stop,
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
        let mut changes = registry.changes();
        let stream = async_stream::stream! {
            let mut last: Option<Vec<(String, i64)>> = None;
            loop {
                changes.borrow_and_update();
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
                let reread = tokio::time::Instant::now() + REREAD;
                let stop = loop {
                    let poll = !registry.listening();
                    let woke = tokio::select! {
                        _ = changes.changed() => Wake::Changed,
                        _ = tokio::time::sleep_until(reread) => Wake::Changed,
                        _ = tokio::time::sleep(POLL), if poll => Wake::Poll,
                        _ = stopping.wait_for(|s| *s) => Wake::Stop,
                    };
                    match woke {
                        Wake::Changed => break false,
                        Wake::Stop => break true,
                        Wake::Poll => match registry.refresh().await {
                            Ok(true) => break false,
                            Ok(false) => {}
                            Err(e) => tracing::warn!(error = %e, "checking the registry for changes"),
                        },
                    }
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
