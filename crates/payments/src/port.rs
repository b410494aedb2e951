//! The engine's one door to a POS: what it asks of an adapter, in the engine's own terms.
//!
//! The engine decides (post or not, retry or not, believe "not applied" or wait); the port only
//! carries questions and answers. [`GrpcPos`] is the production port: the restaurant's adapter
//! over gRPC, with the proto ↔ domain translation in one place. Tests put a scripted POS behind
//! the same trait, so the engine's decisions are tested without a network.

use std::collections::BTreeMap;
use std::pin::Pin;

use posgate_core::PayRequest;
use posgate_proto::convert;
use posgate_proto::v1::{
    self as pb, AdapterCloseBillRequest, AdapterGetBillRequest, CheckPaymentRequest,
    PostPaymentRequest, adapter_get_bill_response,
};
use tracing::Instrument;

use crate::adapters::{Adapters, Route};
use crate::metric_definitions;
use crate::store::BillSnapshot;

pub use posgate_core::pos::{Capabilities, Outcome, PosFailure, PosReply};

/// Why a call to the port failed without an answer from the POS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    /// The adapter refused our request as malformed: nothing was sent to the POS.
    BadRequest(String),
    /// The adapter refused our call (unknown token, caller not allowed): nothing was sent.
    NotAllowed(String),
    /// No adapter serves this restaurant.
    NoRoute,
    /// The call could not be made (the registry could not be read): nothing was sent.
    Unreachable(String),
    /// The call failed in a way that does not say whether the POS got our request.
    Failed(String),
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortError::BadRequest(m) => write!(f, "the adapter refused the request: {m}"),
            PortError::NotAllowed(m) => write!(f, "the adapter refused our call: {m}"),
            PortError::NoRoute => f.write_str("no adapter serves this restaurant"),
            PortError::Unreachable(m) => write!(f, "the POS could not be asked: {m}"),
            PortError::Failed(m) => f.write_str(m),
        }
    }
}

/// The engine's questions to a restaurant's POS.
#[tonic::async_trait]
pub trait PosPort: Send + Sync + 'static {
    /// What the restaurant's POS can do (asked often: cache it).
    async fn describe(&self, restaurant_id: &str) -> Result<Capabilities, PortError>;

    /// The bill as the POS shows it now, or the POS's refusal.
    async fn get_bill(
        &self,
        restaurant_id: &str,
        bill_id: &str,
    ) -> Result<Result<BillSnapshot, PosFailure>, PortError>;

    /// Posts the payment. `attempt` counts postings of this payment, 1 = the first.
    async fn post_payment(
        &self,
        payment_id: &str,
        request: &PayRequest,
        attempt: u32,
    ) -> Result<PosReply, PortError>;

    /// After an unknown outcome: is the unanswered posting there? Never posts. With
    /// `awaiting_task`, after a posting answered "pending": has its task answered, and what?
    async fn check_payment(
        &self,
        payment_id: &str,
        request: &PayRequest,
        reference: Option<&str>,
        bill_before: Option<&BillSnapshot>,
        awaiting_task: bool,
    ) -> Result<PosReply, PortError>;

    /// Closes the bill after it was paid.
    async fn close_bill(
        &self,
        payment_id: &str,
        restaurant_id: &str,
        bill_id: &str,
    ) -> Result<PosReply, PortError>;
}

/// The production port: each restaurant's adapter over gRPC.
pub struct GrpcPos {
    adapters: Adapters,
}

impl GrpcPos {
    pub fn new(adapters: Adapters) -> GrpcPos {
        GrpcPos { adapters }
    }

    /// The restaurant's route. The registry's lookup is boxed: inline, its ~1.1 KiB would size
    /// every POS call's future, held for the whole call of every payment in flight
    /// (`a_posting_waiting_for_its_pos_holds_a_small_future`: 1,544 → 408 bytes, release).
    async fn route(&self, restaurant_id: &str) -> Result<Route, PortError> {
        Box::pin(
            self.adapters
                .route(restaurant_id, crate::registry::Freshness::Recent),
        )
        .await
        .map_err(|e| PortError::Unreachable(format!("registry: {e}")))?
        .ok_or(PortError::NoRoute)
    }

    /// A call to the adapter of `pos_kind` (see [`Adapters::call`]): built and boxed now, so what a
    /// payment holds while its POS takes its time is the call's few hundred bytes.
    fn call<Req, Resp>(
        &self,
        pos_kind: &str,
        path: &'static str,
        msg: Req,
    ) -> Result<Call<'static, Resp>, PortError>
    where
        Req: prost::Message,
        Resp: prost::Message + Default + 'static,
    {
        self.call_within(pos_kind, path, msg, None)
    }

    /// [`GrpcPos::call`] with its own deadline (`None`: the adapter call deadline).
    fn call_within<Req, Resp>(
        &self,
        pos_kind: &str,
        path: &'static str,
        msg: Req,
        within: Option<std::time::Duration>,
    ) -> Result<Call<'static, Resp>, PortError>
    where
        Req: prost::Message,
        Resp: prost::Message + Default + 'static,
    {
        let call = self
            .adapters
            .call(pos_kind, path, msg, within)
            .ok_or(PortError::NoRoute)?;
        Ok(Box::pin(async move { call.await.map_err(port_error) }))
    }
}

/// The deadline of one look at a posting's task (`CheckPayment` with `awaiting_task`): longer
/// than an adapter's own look may take (WSA: 10 s), far shorter than a POS call's.
const LOOK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// An adapter call under way, as [`timed`] takes it.
type Call<'a, T> = Pin<Box<dyn Future<Output = Result<T, PortError>> + Send + 'a>>;

/// The adapter methods the engine calls (`posgate.v1.PosAdapter`).
mod method {
    pub const GET_BILL: &str = "/posgate.v1.PosAdapter/GetBill";
    pub const POST_PAYMENT: &str = "/posgate.v1.PosAdapter/PostPayment";
    pub const CHECK_PAYMENT: &str = "/posgate.v1.PosAdapter/CheckPayment";
    pub const CLOSE_BILL: &str = "/posgate.v1.PosAdapter/CloseBill";
}

/// A gRPC error from an adapter: the codes its door answers before anything reaches a POS are
/// "nothing sent"; anything else may have happened after sending.
fn port_error(s: tonic::Status) -> PortError {
    match s.code() {
        tonic::Code::InvalidArgument => PortError::BadRequest(s.message().to_string()),
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
            PortError::NotAllowed(s.message().to_string())
        }
        _ => PortError::Failed(format!("{}: {}", s.code(), s.message())),
    }
}

/// The metric label of a failed call.
fn error_label(e: &PortError) -> &'static str {
    match e {
        PortError::BadRequest(_) => "bad_request",
        PortError::NotAllowed(_) => "not_allowed",
        PortError::NoRoute => "no_route",
        PortError::Unreachable(_) => "unreachable",
        PortError::Failed(_) => "error",
    }
}

/// Runs one adapter call in a `pos.call` span and records its time by POS kind, operation and
/// result, and restaurant when `[metrics] restaurant_label` is on
/// ([`metric_definitions::POS_CALL_DURATION`]): the one place POS latency is measured, so every
/// adapter is measured alike.
///
/// `make` builds the call in the span, so the `traceparent` it sends names this span, and
/// before this function returns: the request is encoded then, and the future returned holds the
/// boxed call, the span and the figures, nothing of the request (it lives for the whole POS
/// call of every payment in flight; `a_posting_waiting_for_its_pos_holds_a_small_future`).
fn timed<'a, T: 'a>(
    pos: &'a str,
    restaurant_id: &'a str,
    operation: &'static str,
    make: impl FnOnce() -> Result<Call<'a, T>, PortError>,
    result: impl FnOnce(&T) -> &'static str + Send + 'a,
) -> impl Future<Output = Result<T, PortError>> + Send + 'a {
    let started = std::time::Instant::now();
    // The client side of the hop: the adapter's request span is this one's child (the
    // adapter client sends its `traceparent`, see `posgate_grpc::telemetry`).
    let span = tracing::info_span!(
        "pos.call",
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        pos_kind = pos,
        operation,
        trace_id = tracing::field::Empty,
    );
    posgate_grpc::telemetry::otel_name(&span, &format_args!("pos.{operation}"), "client");
    posgate_grpc::telemetry::record_trace_id(&span);
    let call = span.in_scope(make);
    async move {
        let r = match call {
            Ok(call) => call.instrument(span).await,
            Err(e) => Err(e),
        };
        let label = match &r {
            Ok(v) => result(v),
            Err(e) => error_label(e),
        };
        metric_definitions::pos_call(pos, restaurant_id, operation, label, started.elapsed());
        r
    }
}

fn outcome(o: i32) -> Outcome {
    convert::outcome_from_pb(o)
}

fn failure(f: pb::PosFailure) -> PosFailure {
    convert::failure_from_pb(f)
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn snapshot(b: &pb::Bill) -> BillSnapshot {
    BillSnapshot {
        total: b.total.clone(),
        amount_due: b.amount_due.clone(),
        paid: b.paid.clone(),
        status: b.status,
        pos_status: b.pos_status.clone(),
        bill_printed: b.bill_printed,
    }
}

fn money_or_empty(m: posgate_core::Money) -> String {
    if m.is_zero() {
        String::new()
    } else {
        m.to_string()
    }
}

#[tonic::async_trait]
impl PosPort for GrpcPos {
    async fn describe(&self, restaurant_id: &str) -> Result<Capabilities, PortError> {
        let route = self.route(restaurant_id).await?;
        let d = self
            .adapters
            .describe(restaurant_id, &route)
            .await
            .map_err(port_error)?;
        Ok(Capabilities {
            amount_rule: convert::amount_rule_from_pb(d.amount_rule),
            separate_close_step: d.separate_close_step,
            supports_tips: d.supports_tips,
            supports_points: d.supports_points,
            supports_fiscal_data: d.supports_fiscal_data,
            cannot_read_bills: d.cannot_read_bills,
            settle_ms: d.reconcile_settle_ms,
        })
    }

    async fn get_bill(
        &self,
        restaurant_id: &str,
        bill_id: &str,
    ) -> Result<Result<BillSnapshot, PosFailure>, PortError> {
        let route = self.route(restaurant_id).await?;
        let get = AdapterGetBillRequest {
            connection: Some(route.connection),
            restaurant_id: restaurant_id.to_string(),
            bill_id: bill_id.to_string(),
        };
        timed(
            &route.pos_kind,
            restaurant_id,
            "get_bill",
            || {
                let call = self.call(&route.pos_kind, method::GET_BILL, get)?;
                Ok(Box::pin(async move {
                    let r: pb::AdapterGetBillResponse = call.await?;
                    match r.result {
                        Some(adapter_get_bill_response::Result::Bill(b)) => Ok(Ok(snapshot(&b))),
                        Some(adapter_get_bill_response::Result::Failure(f)) => Ok(Err(failure(f))),
                        None => Err(PortError::Failed(
                            "the adapter answered neither bill nor failure".into(),
                        )),
                    }
                }))
            },
            |r| match r {
                Ok(_) => "ok",
                Err(_) => "failure",
            },
        )
        .await
    }

    async fn post_payment(
        &self,
        payment_id: &str,
        req: &PayRequest,
        attempt: u32,
    ) -> Result<PosReply, PortError> {
        let route = self.route(&req.restaurant_id).await?;
        let post = PostPaymentRequest {
            connection: Some(route.connection),
            restaurant_id: req.restaurant_id.clone(),
            bill_id: req.bill_id.clone(),
            payment_id: payment_id.to_string(),
            amount: req.amount.to_string(),
            tips: money_or_empty(req.tips),
            tenders: req
                .tenders
                .iter()
                .map(|t| pb::Tender {
                    tender_id: t.tender_id.clone(),
                    amount: t.amount.to_string(),
                    card_code: t.card_code.clone(),
                })
                .collect(),
            fiscal_data: req.fiscal_data.clone().into_iter().collect(),
            points: money_or_empty(req.points),
            pos_options: req.pos_options.clone().into_iter().collect(),
            attempt,
            // The engine follows a posting the POS works on as a task (`Engine::follow_task`).
            may_answer_pending: true,
        };
        let r: pb::PostPaymentResponse = timed(
            &route.pos_kind,
            &req.restaurant_id,
            "post_payment",
            || self.call(&route.pos_kind, method::POST_PAYMENT, post),
            |r: &pb::PostPaymentResponse| metric_definitions::outcome(outcome(r.outcome)),
        )
        .await?;
        Ok(PosReply {
            outcome: outcome(r.outcome),
            failure: r.failure.map(failure),
            bill_closed: r.bill_closed,
            reference: non_empty(r.pos_reference),
            details: r.details.into_iter().collect(),
            evidence: String::new(),
            poll_interval_ms: r.poll_interval_ms,
        })
    }

    async fn check_payment(
        &self,
        payment_id: &str,
        req: &PayRequest,
        reference: Option<&str>,
        bill_before: Option<&BillSnapshot>,
        awaiting_task: bool,
    ) -> Result<PosReply, PortError> {
        let bill_before = bill_before.map(|b| pb::Bill {
            restaurant_id: req.restaurant_id.clone(),
            bill_id: req.bill_id.clone(),
            total: b.total.clone(),
            amount_due: b.amount_due.clone(),
            paid: b.paid.clone(),
            status: b.status,
            pos_status: b.pos_status.clone(),
            bill_printed: b.bill_printed,
            ..Default::default()
        });
        let route = self.route(&req.restaurant_id).await?;
        let check = CheckPaymentRequest {
            connection: Some(route.connection),
            restaurant_id: req.restaurant_id.clone(),
            bill_id: req.bill_id.clone(),
            payment_id: payment_id.to_string(),
            amount: req.amount.to_string(),
            pos_reference: reference.unwrap_or_default().to_string(),
            bill_before,
            close: req.close,
            awaiting_task,
        };
        let r: pb::CheckPaymentResponse = timed(
            &route.pos_kind,
            &req.restaurant_id,
            "check_payment",
            || {
                // A look is one read of a stored answer: a hung adapter holds its slot (one of
                // `task_looks_in_flight`) this long at most, not the POS calls' deadline.
                let within = awaiting_task.then_some(LOOK_DEADLINE);
                self.call_within(&route.pos_kind, method::CHECK_PAYMENT, check, within)
            },
            |r: &pb::CheckPaymentResponse| metric_definitions::outcome(outcome(r.outcome)),
        )
        .await?;
        Ok(PosReply {
            outcome: outcome(r.outcome),
            failure: r.failure.map(failure),
            bill_closed: r.bill_closed,
            reference: None,
            details: BTreeMap::new(),
            evidence: r.evidence,
            poll_interval_ms: 0,
        })
    }

    async fn close_bill(
        &self,
        payment_id: &str,
        restaurant_id: &str,
        bill_id: &str,
    ) -> Result<PosReply, PortError> {
        let route = self.route(restaurant_id).await?;
        let close = AdapterCloseBillRequest {
            connection: Some(route.connection),
            restaurant_id: restaurant_id.to_string(),
            bill_id: bill_id.to_string(),
            payment_id: payment_id.to_string(),
        };
        let r: pb::AdapterCloseBillResponse = timed(
            &route.pos_kind,
            restaurant_id,
            "close_bill",
            || self.call(&route.pos_kind, method::CLOSE_BILL, close),
            |r: &pb::AdapterCloseBillResponse| metric_definitions::outcome(outcome(r.outcome)),
        )
        .await?;
        Ok(PosReply {
            outcome: outcome(r.outcome),
            failure: r.failure.map(failure),
            bill_closed: false,
            reference: non_empty(r.pos_reference),
            details: BTreeMap::new(),
            evidence: String::new(),
            poll_interval_ms: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a payment holds while its POS takes the posting: the port's future (boxed by
    /// `async_trait`), around the adapter call.
    #[tokio::test]
    async fn a_posting_waiting_for_its_pos_holds_a_small_future() {
        let (_, store, _) = crate::engine::tests::unasked_engine().await;
        let cfg = crate::config::PaymentsConfig::default();
        let pos = GrpcPos::new(Adapters::new(&cfg, store.registry()).unwrap());
        let req = crate::engine::tests::record().request;
        let post = pos.post_payment("p1", &req, 1);
        let size = std::mem::size_of_val(&*post);
        assert!(size <= 512, "posting: {size} bytes");
    }

    /// A look at a posting's task is sent with its own short deadline (a hung adapter holds a
    /// look slot that long at most); a check after a lost answer keeps the adapter call
    /// deadline. Seen from a hand-made adapter that keeps each call's `grpc-timeout`.
    #[tokio::test]
    async fn a_look_carries_its_own_short_deadline_and_a_check_the_call_deadline() {
        use std::sync::{Arc, Mutex};
        use std::time::Duration;
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let kept = Arc::clone(&seen);
        let adapter = axum::Router::new().fallback(move |headers: http::HeaderMap| {
            let kept = Arc::clone(&kept);
            async move {
                let timeout = headers
                    .get("grpc-timeout")
                    .map(|v| v.to_str().unwrap_or("?"));
                kept.lock()
                    .unwrap()
                    .push(timeout.unwrap_or("none").to_string());
                // Trailers-only: refused, so the port answers at once.
                http::Response::builder()
                    .header("content-type", "application/grpc")
                    .header("grpc-status", "14")
                    .body(axum::body::Body::empty())
                    .unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, adapter).await });

        let (_, store, _) = crate::engine::tests::unasked_engine().await;
        let spec = crate::registry::tests::spec(None);
        let req = crate::engine::tests::record().request;
        store
            .registry()
            .create(&req.restaurant_id, &spec, 0)
            .await
            .unwrap();
        let mut cfg = crate::config::PaymentsConfig::default();
        cfg.adapters.insert("wsa".into(), format!("http://{addr}"));
        let pos = GrpcPos::new(Adapters::new(&cfg, store.registry()).unwrap());
        for awaiting_task in [true, false] {
            let answer = pos.check_payment("p1", &req, Some("task-1"), None, awaiting_task);
            assert!(answer.await.is_err(), "the hand-made adapter refuses");
        }
        let sent: Vec<Option<Duration>> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|v| posgate_grpc::grpc_timeout(v))
            .collect();
        assert_eq!(
            sent,
            [
                Some(LOOK_DEADLINE),
                Some(Duration::from_millis(cfg.adapter_timeout_ms))
            ],
            "a look's deadline, then a check's"
        );
    }

    /// A payment's adapter call is held for the whole POS call (seconds) of every payment in
    /// flight: it must hold far less than tonic's generated client call (~3 KiB), and the
    /// timing wrapper must hold it once, boxed, not by value in its own state and again in the
    /// instrumented future.
    #[tokio::test]
    async fn a_payment_s_adapter_call_holds_a_small_future_once_boxed() {
        let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
        let mut client = posgate_proto::v1::pos_adapter_client::PosAdapterClient::new(
            tonic::service::interceptor::InterceptedService::new(
                channel.clone(),
                posgate_grpc::CallerToken::none(),
            ),
        );
        let tonic_call = client.post_payment(tonic::Request::new(PostPaymentRequest::default()));
        let tonic_size = std::mem::size_of_val(&tonic_call);

        let lean: futures::future::BoxFuture<'static, Result<pb::PostPaymentResponse, _>> =
            posgate_grpc::unary::unary(
                &channel,
                &mut posgate_grpc::CallerToken::none(),
                method::POST_PAYMENT,
                tonic::Request::new(PostPaymentRequest::default()),
                posgate_grpc::MAX_MESSAGE_BYTES,
            );
        let lean_size = std::mem::size_of_val(&*lean);
        assert!(
            lean_size < 768 && lean_size < tonic_size / 3,
            "the lean call {lean_size} bytes, tonic's {tonic_size}"
        );

        let call: Call<'static, pb::PostPaymentResponse> =
            Box::pin(async move { lean.await.map_err(port_error) });
        let wrapped = timed("wsa", "r1", "post_payment", || Ok(call), |_| "ok");
        let size = std::mem::size_of_val(&wrapped);
        assert!(size < 512, "timed future {size} bytes");
    }
}
