//! The baseline: a bare tonic server with one unary method that answers a `PayBillRequest` at
//! once with a `Payment` echoing it. Same messages, same codec, same client code as a real
//! `PayBill` — so the gap between the two is what posgate (its services, database and POS
//! round trips) costs, on this machine, at this concurrency. No proto file: the method is
//! routed by hand the way generated code does it.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use posgate_proto::codec::Codec1K;
use posgate_proto::v1 as pb;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::body::Body;
use tonic::server::{Grpc, NamedService, UnaryService};

/// The echo's one method.
pub const PATH: &str = "/posgate.bench.Echo/PayBill";

#[derive(Clone, Copy)]
struct EchoServer;

impl NamedService for EchoServer {
    const NAME: &'static str = "posgate.bench.Echo";
}

struct PayBillEcho;

impl UnaryService<pb::PayBillRequest> for PayBillEcho {
    type Response = pb::Payment;
    type Future = std::future::Ready<Result<tonic::Response<pb::Payment>, tonic::Status>>;

    fn call(&mut self, req: tonic::Request<pb::PayBillRequest>) -> Self::Future {
        let r = req.into_inner();
        std::future::ready(Ok(tonic::Response::new(pb::Payment {
            payment_id: r.idempotency_key.clone(),
            idempotency_key: r.idempotency_key,
            restaurant_id: r.restaurant_id,
            bill_id: r.bill_id,
            amount: r.amount,
            close: r.close,
            state: pb::PaymentState::Closed as i32,
            r#final: true,
            ..Default::default()
        })))
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

impl tower::Service<http::Request<Body>> for EchoServer {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> BoxFuture {
        if req.uri().path() == PATH {
            Box::pin(async move {
                let mut grpc = Grpc::new(Codec1K::<pb::Payment, pb::PayBillRequest>::default());
                Ok(grpc.unary(PayBillEcho, req).await)
            })
        } else {
            let path = req.uri().path().to_string();
            Box::pin(async move {
                Ok(
                    tonic::Status::unimplemented(format!("the echo serves {PATH}, not {path}"))
                        .into_http(),
                )
            })
        }
    }
}

/// A running echo server; stops when dropped.
pub struct Echo {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Starts the echo on a loopback port of this process.
pub async fn start() -> anyhow::Result<Echo> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    // As posgate's services accept (`TCP_NODELAY`).
    let incoming = posgate_grpc::incoming(listener);
    tokio::spawn(async move {
        let served = tonic::transport::Server::builder()
            .add_service(EchoServer)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the echo server stopped");
        }
    });
    Ok(Echo { addr, _stop: tx })
}
