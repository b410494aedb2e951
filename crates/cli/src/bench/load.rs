//! The load generator both the echo baseline and posgate are driven by: N concurrent workers
//! over a few shared gRPC connections, each taking the next request number until the count is
//! reached or the time is up, recording each success's latency in an HDR histogram (µs) and
//! each failure under its reason.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use posgate_grpc::CallerToken;
use posgate_proto::codec::Codec1K;
use posgate_proto::v1 as pb;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// When a run stops.
#[derive(Clone, Copy, Debug)]
pub enum Until {
    /// After this many requests.
    Count(u64),
    /// When this much time has passed (requests under way finish).
    Time(Duration),
}

/// A gRPC client, generic over the method: the echo and `PayBill` are called by the same code.
pub type Grpc = tonic::client::Grpc<InterceptedService<Channel, CallerToken>>;

/// `connections` HTTP/2 connections to `addr`.
pub async fn channels(addr: SocketAddr, connections: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to {addr}: {e}"))?;
        out.push(channel);
    }
    Ok(out)
}

/// A client on `channel` sending `token`.
pub fn grpc(channel: Channel, token: &str) -> Grpc {
    tonic::client::Grpc::new(InterceptedService::new(channel, CallerToken::bearer(token)))
}

/// One unary call of `path` (`/package.Service/Method`) taking a `PayBillRequest` and answering
/// a `Payment`: the echo's method or `PayBill`.
pub async fn pay_call(
    grpc: &mut Grpc,
    path: &'static str,
    req: pb::PayBillRequest,
) -> Result<pb::Payment, tonic::Status> {
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("not ready: {e}")))?;
    let codec = Codec1K::<pb::PayBillRequest, pb::Payment>::default();
    grpc.unary(
        tonic::Request::new(req),
        PathAndQuery::from_static(path),
        codec,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// What a run measured.
pub struct Outcome {
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// Latency of each success, µs.
    pub latency_us: Histogram<u64>,
}

impl Outcome {
    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 1 h, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Runs `op(worker, n)` for n = 0, 1, 2, … from `concurrency` workers until `until`. `op`
/// measures its own latency (it may first take what it needs, e.g. a bill, untimed) and answers
/// it, or why the request failed.
pub async fn drive<F, Fut>(concurrency: usize, until: Until, op: F) -> Outcome
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Duration, String>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        workers.spawn(async move {
            let mut hist = histogram();
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let more = match until {
                    Until::Count(c) => n < c,
                    Until::Time(d) => start.elapsed() < d,
                };
                if !more {
                    break;
                }
                match op(w, n).await {
                    Ok(d) => {
                        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
                        hist.saturating_record(us);
                    }
                    Err(why) => *errors.entry(why).or_default() += 1,
                }
            }
            (hist, errors)
        });
    }
    let mut latency_us = histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(done) = workers.join_next().await {
        match done {
            Ok((h, e)) => {
                // Same bounds: adding cannot fail.
                let _ = latency_us.add(&h);
                for (k, v) in e {
                    *errors.entry(k).or_default() += v;
                }
            }
            Err(e) => *errors.entry(format!("worker crashed: {e}")).or_default() += 1,
        }
    }
    Outcome {
        ok: latency_us.len(),
        errors,
        elapsed: start.elapsed(),
        latency_us,
    }
}
