//! Whether a service can take calls, told the way platforms ask: the standard gRPC health
//! service (`grpc.health.v1.Health`, Check and Watch, served by `tonic-health`) on every gRPC
//! server, and the admin port's `/readyz` ([`crate::admin`]), both from one [`Health`].
//!
//! Why it exists: a Kubernetes probe, a load balancer or `grpc_health_probe` must learn without a
//! token (probes carry none; the auth layer lets `grpc.health.v1.Health` through, see
//! [`crate::OPEN_SERVICES`]) whether to send traffic here. The answer reflects the service's real
//! dependencies — the payment service is `SERVING` only while its database is reachable and
//! migrated, an adapter once it is up — and turns `NOT_SERVING` as soon as a shutdown starts, so
//! traffic drains away before the process stops taking calls.
//!
//! Every gRPC service of the server and the overall server (`""`) share one status: posgate
//! serves each service from the same process and the same dependencies.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::HealthReporter;

/// What a service says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Its dependencies answer: it takes calls.
    Serving,
    /// It cannot do its work now; the reason names the dependency (`database: ...`).
    NotServing(String),
    /// Shutting down: it finishes what it started and takes nothing new. Final.
    Draining,
}

impl Readiness {
    pub fn is_serving(&self) -> bool {
        matches!(self, Readiness::Serving)
    }

    /// One line for `/readyz` and the logs.
    pub fn describe(&self) -> String {
        match self {
            Readiness::Serving => "serving".into(),
            Readiness::NotServing(why) => format!("not serving: {why}"),
            Readiness::Draining => "not serving: draining (shutting down)".into(),
        }
    }
}

/// The health of one server, shared by its gRPC health service and its admin port.
#[derive(Clone)]
pub struct Health {
    name: Arc<str>,
    reporter: HealthReporter,
    services: Arc<[&'static str]>,
    state: Arc<watch::Sender<Readiness>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("name", &self.name)
            .field("state", &*self.state.borrow())
            .finish()
    }
}

impl Health {
    /// The health of server `name` serving the gRPC `services` (full names, e.g.
    /// `posgate.v1.PaymentService`); [`Health::grpc_service`] is the `grpc.health.v1.Health`
    /// service that answers it. It starts `NOT_SERVING` ("starting") until [`Health::set`] says
    /// otherwise, so a process that makes its services' healths before starting them (`posgate
    /// up`) is not ready before they are.
    pub async fn new(name: &str, services: &[&'static str]) -> Health {
        let reporter = HealthReporter::new();
        let starting = Readiness::NotServing("starting".into());
        let health = Health {
            name: Arc::from(name),
            reporter,
            services: services.into(),
            state: Arc::new(watch::channel(starting.clone()).0),
        };
        health.report(&starting).await;
        health
    }

    /// The `grpc.health.v1.Health` service answering for this server and each of its services.
    pub fn grpc_service(&self) -> HealthServer<HealthService> {
        HealthServer::new(self.service())
    }

    /// A health with no gRPC service, for a process that serves none (its admin port still
    /// answers `/readyz`).
    pub fn standalone(name: &str) -> Health {
        Health {
            name: Arc::from(name),
            reporter: HealthReporter::new(),
            services: Arc::from([]),
            state: Arc::new(watch::channel(Readiness::NotServing("starting".into())).0),
        }
    }

    /// Sets the status of every service of the server. After [`Readiness::Draining`] nothing
    /// changes it back: a probe finishing late must not reopen a server that is stopping.
    pub async fn set(&self, r: Readiness) {
        let changed = self.state.send_if_modified(|now| {
            if *now == r || *now == Readiness::Draining {
                return false;
            }
            *now = r.clone();
            true
        });
        if !changed {
            return;
        }
        match &r {
            Readiness::Serving => tracing::info!(server = %self.name, "health: SERVING"),
            other => {
                tracing::warn!(server = %self.name, status = %other.describe(), "health: NOT_SERVING")
            }
        }
        self.report(&r).await;
    }

    async fn report(&self, r: &Readiness) {
        let status = if r.is_serving() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        self.reporter.set_service_status("", status).await;
        for s in self.services.iter() {
            self.reporter.set_service_status(s, status).await;
        }
    }

    fn service(&self) -> HealthService {
        HealthService {
            inner: tonic_health::server::HealthService::from_health_reporter(self.reporter.clone()),
            health: self.clone(),
        }
    }

    /// What the server says now.
    pub fn readiness(&self) -> Readiness {
        self.state.borrow().clone()
    }

    /// The server's name, as given to [`Health::new`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resolves `shutdown`, then marks the server draining: hand the result to
    /// `serve_with_incoming_shutdown` so health turns `NOT_SERVING` the moment a stop begins.
    pub fn draining_on<F>(&self, shutdown: F) -> impl Future<Output = ()> + use<F>
    where
        F: Future<Output = ()>,
    {
        let health = self.clone();
        async move {
            shutdown.await;
            health.set(Readiness::Draining).await;
        }
    }
}

/// `grpc.health.v1.Health` as tonic-health serves it, except that a `Watch` stream ends once
/// it has said `NOT_SERVING` for a stopping server: a graceful shutdown waits for open streams,
/// so a watcher (a proxy, a mesh) must not hold the server open forever.
pub struct HealthService {
    inner: tonic_health::server::HealthService,
    health: Health,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

#[tonic::async_trait]
impl tonic_health::pb::health_server::Health for HealthService {
    async fn check(
        &self,
        req: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(req).await
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let inner = self.inner.watch(req).await?.into_inner();
        let health = self.health.clone();
        let stream = futures::stream::unfold(Some(inner), move |inner| {
            let health = health.clone();
            async move {
                let mut inner = inner?;
                let item = inner.next().await?;
                let last = health.readiness() == Readiness::Draining;
                Some((item, (!last).then_some(inner)))
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_server::Health as _;

    async fn status(
        svc: &tonic_health::server::HealthService,
        name: &str,
    ) -> Result<i32, tonic::Status> {
        let req = tonic::Request::new(HealthCheckRequest {
            service: name.to_string(),
        });
        svc.check(req).await.map(|r| r.into_inner().status)
    }

    #[tokio::test]
    async fn every_service_follows_the_server_and_draining_is_final() {
        let (reporter, _) = tonic_health::server::health_reporter();
        let svc = tonic_health::server::HealthService::from_health_reporter(reporter.clone());
        let health = Health {
            name: Arc::from("t"),
            reporter,
            services: Arc::from(["posgate.v1.PaymentService"]),
            state: Arc::new(watch::channel(Readiness::NotServing("starting".into())).0),
        };
        health.report(&health.readiness()).await;
        assert_eq!(
            status(&svc, "").await.unwrap(),
            ServingStatus::NotServing as i32
        );
        health.set(Readiness::Serving).await;
        for name in ["", "posgate.v1.PaymentService"] {
            assert_eq!(
                status(&svc, name).await.unwrap(),
                ServingStatus::Serving as i32
            );
        }
        assert_eq!(
            status(&svc, "posgate.v1.Other").await.unwrap_err().code(),
            tonic::Code::NotFound
        );
        health
            .set(Readiness::NotServing("database: gone".into()))
            .await;
        assert_eq!(
            status(&svc, "posgate.v1.PaymentService").await.unwrap(),
            ServingStatus::NotServing as i32
        );
        assert_eq!(health.readiness().describe(), "not serving: database: gone");
        health.set(Readiness::Draining).await;
        health.set(Readiness::Serving).await;
        assert_eq!(health.readiness(), Readiness::Draining);
        assert_eq!(
            status(&svc, "").await.unwrap(),
            ServingStatus::NotServing as i32
        );
    }

    async fn next(s: &mut WatchStream) -> Option<i32> {
        tokio::time::timeout(std::time::Duration::from_secs(5), s.next())
            .await
            .expect("the stream answers")
            .map(|r| r.unwrap().status)
    }

    #[tokio::test]
    async fn a_watch_says_not_serving_and_ends_when_the_server_stops() {
        use tonic_health::pb::health_server::Health as _;
        let health = Health::new("t", &["posgate.v1.X"]).await;
        health.set(Readiness::Serving).await;
        let svc = health.service();
        let watch = |service: &str| {
            svc.watch(tonic::Request::new(HealthCheckRequest {
                service: service.to_string(),
            }))
        };
        let mut stream = watch("posgate.v1.X").await.unwrap().into_inner();
        assert_eq!(next(&mut stream).await, Some(ServingStatus::Serving as i32));
        health
            .set(Readiness::NotServing("database: gone".into()))
            .await;
        assert_eq!(
            next(&mut stream).await,
            Some(ServingStatus::NotServing as i32)
        );
        health.set(Readiness::Serving).await;
        assert_eq!(next(&mut stream).await, Some(ServingStatus::Serving as i32));
        health.set(Readiness::Draining).await;
        assert_eq!(
            next(&mut stream).await,
            Some(ServingStatus::NotServing as i32)
        );
        assert_eq!(next(&mut stream).await, None, "the stream ends");
        // A watch started while stopping says so and ends at once.
        let mut late = watch("").await.unwrap().into_inner();
        assert_eq!(
            next(&mut late).await,
            Some(ServingStatus::NotServing as i32)
        );
        assert_eq!(next(&mut late).await, None);
        assert_eq!(
            watch("posgate.v1.Unknown").await.err().map(|e| e.code()),
            Some(tonic::Code::NotFound)
        );
    }
}
