//! The one `posgate.v1.PosAdapter` gRPC server, over any [`PosConnector`].
//!
//! Why it exists: the contract's rules are the same for every POS and are kept here once —
//! a request names its restaurant and carries its connection (no adapter keeps a restaurant
//! list, so any replica serves any restaurant); gRPC errors are only for bad input
//! (`INVALID_ARGUMENT` naming the field, nothing sent to the POS); everything the POS says comes
//! back inside the response; amounts are exact at the restaurant's scale; tenders add up to the
//! amount; points and tips reach only a POS whose capabilities take them. The settings every POS
//! kind takes ([`crate::common`]) are read here and applied around each connector call
//! ([`PosCall`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use posgate_core::Money;
use posgate_core::pos::{Check, Outcome, PosReply, Posting, Tender};
use posgate_proto::convert::{
    amount_rule_to_pb, amounts_from_pb, bill_to_pb, failure_to_pb, outcome_to_pb,
};
use posgate_proto::v1::pos_adapter_server::PosAdapter;
use posgate_proto::v1::{
    AdapterCloseBillRequest, AdapterCloseBillResponse, AdapterGetBillRequest,
    AdapterGetBillResponse, AdapterListBillsRequest, AdapterListBillsResponse, CheckPaymentRequest,
    CheckPaymentResponse, DescribeRequest, DescribeResponse, PosConnection, PostPaymentRequest,
    PostPaymentResponse, adapter_get_bill_response,
};
use tonic::{Request, Response, Status};

use crate::common::{COMMON_SETTINGS, CommonSettings, split_common};
use crate::connection::{CONNECTION_CACHE_CAPACITY, ConnectionCache, setting_specs};
use crate::connector::PosConnector;
use crate::http::{HostLimits, PosCall};

/// A restaurant built from its connection, with the scale its amounts are read at and the
/// settings the kit applies itself.
struct Served<R> {
    scale: u32,
    common: CommonSettings,
    pos: R,
}

/// A restaurant as the adapter of connector `C` serves it (built once, shared by its calls).
type ServedBy<C> = Arc<Served<<C as PosConnector>::Restaurant>>;

/// A handler's answer under way, as `#[tonic::async_trait]` has it.
type Handled<'f, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<T>, Status>> + Send + 'f>>;

/// When the caller stops waiting for this call: its `grpc-timeout` (an integer of at most 8
/// digits and a unit: `H`, `M`, `S`, `m`, `u`, `n`), less a tenth of it (at most 1 s) for the
/// answer to get back. None without one, or one that does not parse.
fn deadline_of(metadata: &tonic::metadata::MetadataMap) -> Option<tokio::time::Instant> {
    let timeout = posgate_grpc::grpc_timeout(metadata.get("grpc-timeout")?.to_str().ok()?)?;
    let margin = (timeout / 10).min(std::time::Duration::from_secs(1));
    Some(tokio::time::Instant::now() + (timeout - margin))
}

/// A request to a restaurant's POS: whose it is, and its connection (taken out of it).
trait ForRestaurant {
    fn restaurant_and_connection(&mut self) -> (&str, Option<PosConnection>);
}

macro_rules! for_restaurant {
    ($($request:ty),*) => {$(
        impl ForRestaurant for $request {
            fn restaurant_and_connection(&mut self) -> (&str, Option<PosConnection>) {
                (&self.restaurant_id, self.connection.take())
            }
        }
    )*};
}

for_restaurant!(
    AdapterGetBillRequest,
    AdapterListBillsRequest,
    PostPaymentRequest,
    AdapterCloseBillRequest,
    CheckPaymentRequest
);

/// Serves any [`PosConnector`] as `posgate.v1.PosAdapter`.
pub struct AdapterServer<C: PosConnector> {
    connector: Arc<C>,
    restaurants: Arc<ConnectionCache<Served<C::Restaurant>>>,
    /// Exchanges at once per POS server ([`HostLimits`]); none: unbounded.
    hosts: Option<Arc<HostLimits>>,
}

impl<C: PosConnector> Clone for AdapterServer<C> {
    fn clone(&self) -> Self {
        AdapterServer {
            connector: Arc::clone(&self.connector),
            restaurants: Arc::clone(&self.restaurants),
            hosts: self.hosts.clone(),
        }
    }
}

fn invalid(field: &str, why: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {why}"))
}

fn money(field: &str, s: &str, scale: u32) -> Result<Money, Status> {
    Money::parse(s.trim(), scale).map_err(|e| invalid(field, e))
}

fn optional_money(field: &str, s: &str, scale: u32) -> Result<Money, Status> {
    Money::parse_optional(s.trim(), scale).map_err(|e| invalid(field, e))
}

impl<C: PosConnector> AdapterServer<C> {
    pub fn new(connector: C) -> Self {
        AdapterServer {
            connector: Arc::new(connector),
            restaurants: Arc::new(ConnectionCache::new(CONNECTION_CACHE_CAPACITY)),
            hosts: None,
        }
    }

    /// At most `max` HTTP exchanges at once with one POS server (the adapter's
    /// `max_connections_per_host`); the others wait their turn.
    pub fn with_max_connections_per_host(mut self, max: usize) -> Self {
        self.hosts = Some(Arc::new(HostLimits::new(max)));
        self
    }

    /// The connector, for tests and for what a POS serves besides the contract.
    pub fn connector(&self) -> &C {
        &self.connector
    }

    /// How many restaurants are built and kept.
    pub fn connected(&self) -> usize {
        self.restaurants.len()
    }

    /// The request's restaurant, built from its connection (kept while it is unchanged).
    fn restaurant(
        &self,
        restaurant_id: &str,
        connection: Option<&PosConnection>,
    ) -> Result<ServedBy<C>, Status> {
        if restaurant_id.trim().is_empty() {
            return Err(invalid("restaurant_id", "is required"));
        }
        let conn = connection.ok_or_else(|| {
            invalid(
                "connection",
                "is required: adapters keep no restaurants; the payment service sends the registry's connection with every call",
            )
        })?;
        if conn.currency_scale > posgate_core::money::MAX_SCALE {
            return Err(invalid(
                "connection.currency_scale",
                format!(
                    "must be at most {}, not {}",
                    posgate_core::money::MAX_SCALE,
                    conn.currency_scale
                ),
            ));
        }
        self.restaurants
            .get_or_build(restaurant_id, conn, |c| {
                let (common, own) = split_common(c)?;
                Ok(Served {
                    scale: c.currency_scale,
                    common,
                    pos: self.connector.connect(&own)?,
                })
            })
            .map_err(|e| invalid("connection", e))
    }

    /// Opens a call: its restaurant (see [`AdapterServer::restaurant`]), what every HTTP
    /// exchange of the call runs as (bounded by this adapter's host limits and by the caller's
    /// deadline, its `grpc-timeout`), and the request's message without its connection.
    ///
    /// The gRPC metadata and the connection (settings and secrets, a map decoded per call) are
    /// dropped here, before the POS call: a handler's future is held for as long as the POS
    /// takes (or its exchanges wait for their turns with a busy POS server), for every call in
    /// flight (~2 KiB of heap each; `a_call_holds_neither_its_metadata_nor_its_connection`).
    fn open<R: ForRestaurant>(
        &self,
        request: Request<R>,
    ) -> Result<(ServedBy<C>, PosCall, R), Status> {
        let (metadata, _, mut req) = request.into_parts();
        let (restaurant_id, connection) = req.restaurant_and_connection();
        let r = self.restaurant(restaurant_id, connection.as_ref())?;
        let call = PosCall {
            pos: C::KIND,
            restaurant_id: restaurant_id.into(),
            trace_headers: r.common.trace_headers,
            hosts: self.hosts.clone(),
            deadline: deadline_of(&metadata),
        };
        Ok((r, call, req))
    }

    fn bill_id(&self, raw: &str) -> Result<String, Status> {
        self.connector
            .bill_id(raw)
            .map_err(|e| invalid("bill_id", e))
    }

    /// The posting a request asks for, checked against the restaurant's scale and POS.
    fn posting(
        &self,
        req: &PostPaymentRequest,
        r: &Served<C::Restaurant>,
    ) -> Result<Posting, Status> {
        let scale = r.scale;
        let amount = money("amount", &req.amount, scale)?;
        let tips = optional_money("tips", &req.tips, scale)?;
        let points = optional_money("points", &req.points, scale)?;
        let caps = self.connector.capabilities(&r.pos);
        if !points.is_zero() && !caps.supports_points {
            return Err(invalid(
                "points",
                format!(
                    "{} takes no bonus points (Describe.supports_points is false)",
                    C::KIND
                ),
            ));
        }
        let mut tenders = Vec::with_capacity(req.tenders.len());
        let mut sum = Money::zero(scale);
        for (i, t) in req.tenders.iter().enumerate() {
            let a = money(&format!("tenders[{i}].amount"), &t.amount, scale)?;
            sum = sum
                .checked_add(a)
                .ok_or_else(|| invalid("tenders", "the sum overflows"))?;
            tenders.push(Tender {
                tender_id: t.tender_id.trim().to_string(),
                amount: a,
                card_code: (!t.card_code.is_empty())
                    .then(|| posgate_core::Secret::new(t.card_code.clone())),
            });
        }
        if !tenders.is_empty() && sum.value() != amount.value() {
            return Err(invalid(
                "tenders",
                format!("tender amounts add up to {sum}, not the amount {amount}"),
            ));
        }
        Ok(Posting {
            payment_id: req.payment_id.trim().to_string(),
            bill_id: self.bill_id(&req.bill_id)?,
            amount,
            tips,
            tenders,
            points,
            fiscal_data: req
                .fiscal_data
                .clone()
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
            pos_options: req
                .pos_options
                .clone()
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
            attempt: req.attempt,
            may_pend: req.may_answer_pending,
        })
    }
}

/// A reply as the caller may read it: [`Outcome::Pending`] only to a caller that asked for it
/// (a connector that answers it otherwise says "unknown", which is what it means to that caller).
fn allowed(mut reply: PosReply, may_pend: bool) -> PosReply {
    if reply.outcome == Outcome::Pending && !may_pend {
        reply.outcome = Outcome::Unknown;
    }
    reply
}

fn failure(reply: &PosReply) -> Option<posgate_proto::v1::PosFailure> {
    reply.failure.as_ref().map(failure_to_pb)
}

#[tonic::async_trait]
impl<C: PosConnector> PosAdapter for AdapterServer<C> {
    async fn describe(
        &self,
        request: Request<DescribeRequest>,
    ) -> Result<Response<DescribeResponse>, Status> {
        let req = request.into_inner();
        let settings = [C::SETTINGS, COMMON_SETTINGS]
            .into_iter()
            .flat_map(setting_specs)
            .collect();
        // Without a connection: what this POS kind is and which settings it takes.
        if req.connection.is_none() {
            return Ok(Response::new(DescribeResponse {
                pos_kind: C::KIND.into(),
                settings,
                ..Default::default()
            }));
        }
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let caps = self.connector.capabilities(&r.pos);
        Ok(Response::new(DescribeResponse {
            pos_kind: C::KIND.into(),
            separate_close_step: caps.separate_close_step,
            amount_rule: amount_rule_to_pb(caps.amount_rule) as i32,
            supports_tips: caps.supports_tips,
            supports_points: caps.supports_points,
            supports_fiscal_data: caps.supports_fiscal_data,
            currency_scale: r.scale,
            cannot_read_bills: caps.cannot_read_bills,
            reconcile_settle_ms: caps.settle_ms,
            settings,
        }))
    }

    // The handlers that call a POS are not `async fn`s: the request is opened before the future
    // is made, so the future, held for the whole POS call, keeps no slot for the request
    // argument (GetBill 648 → 400 bytes, PostPayment 952 → 720;
    // `a_handler_waiting_for_its_pos_holds_no_request`).
    fn get_bill<'s, 'f>(
        &'s self,
        request: Request<AdapterGetBillRequest>,
    ) -> Handled<'f, AdapterGetBillResponse>
    where
        's: 'f,
        Self: 'f,
    {
        let opened = self
            .open(request)
            .and_then(|(r, call, req)| Ok((self.bill_id(&req.bill_id)?, r, call)));
        Box::pin(async move {
            let (bill_id, r, call) = opened?;
            let restaurant_id = Arc::clone(&call.restaurant_id);
            let result = match call.run(self.connector.get_bill(&r.pos, &bill_id)).await {
                Ok(bill) => adapter_get_bill_response::Result::Bill(bill_to_pb(
                    &restaurant_id,
                    &bill,
                    r.scale,
                )),
                Err(f) => adapter_get_bill_response::Result::Failure(failure_to_pb(&f)),
            };
            Ok(Response::new(AdapterGetBillResponse {
                result: Some(result),
            }))
        })
    }

    fn list_bills<'s, 'f>(
        &'s self,
        request: Request<AdapterListBillsRequest>,
    ) -> Handled<'f, AdapterListBillsResponse>
    where
        's: 'f,
        Self: 'f,
    {
        let opened = self.open(request);
        Box::pin(async move {
            let (r, call, req) = opened?;
            let restaurant_id = Arc::clone(&call.restaurant_id);
            let table = req.table.trim();
            let (bills, failure) = call
                .run(
                    self.connector
                        .list_bills(&r.pos, (!table.is_empty()).then_some(table)),
                )
                .await;
            Ok(Response::new(AdapterListBillsResponse {
                bills: bills
                    .iter()
                    .map(|b| bill_to_pb(&restaurant_id, b, r.scale))
                    .collect(),
                failure: failure.as_ref().map(failure_to_pb),
            }))
        })
    }

    fn post_payment<'s, 'f>(
        &'s self,
        request: Request<PostPaymentRequest>,
    ) -> Handled<'f, PostPaymentResponse>
    where
        's: 'f,
        Self: 'f,
    {
        // The request (its connection settings, the payment) is gone before the POS call: this
        // future is held for as long as the POS takes, for every payment in flight.
        let opened = self.open(request).and_then(|(r, call, req)| {
            let posting = self.posting(&req, &r)?;
            Ok((r, call, posting))
        });
        Box::pin(async move {
            let (r, call, posting) = opened?;
            let restaurant_id = Arc::clone(&call.restaurant_id);
            tracing::info!(
                pos = C::KIND,
                restaurant_id = %restaurant_id,
                bill_id = %posting.bill_id,
                payment_id = %posting.payment_id,
                amount = %posting.amount,
                attempt = posting.attempt,
                "posting payment"
            );
            let reply = call
                .run(self.connector.post_payment(&r.pos, &posting))
                .await
                .map_err(|e| Status::invalid_argument(e.0))?;
            let reply = allowed(reply, posting.may_pend);
            tracing::info!(
                pos = C::KIND,
                restaurant_id = %restaurant_id,
                bill_id = %posting.bill_id,
                payment_id = %posting.payment_id,
                outcome = ?reply.outcome,
                bill_closed = reply.bill_closed,
                pos_reference = reply.reference.as_deref().unwrap_or(""),
                pos_code = reply.failure.as_ref().map_or("", |f| f.code.as_str()),
                "payment posted"
            );
            Ok(Response::new(PostPaymentResponse {
                outcome: outcome_to_pb(reply.outcome) as i32,
                failure: failure(&reply),
                bill_closed: reply.outcome == Outcome::Applied && reply.bill_closed,
                pos_reference: reply.reference.unwrap_or_default(),
                details: reply.details.into_iter().collect(),
                poll_interval_ms: reply.poll_interval_ms,
            }))
        })
    }

    fn close_bill<'s, 'f>(
        &'s self,
        request: Request<AdapterCloseBillRequest>,
    ) -> Handled<'f, AdapterCloseBillResponse>
    where
        's: 'f,
        Self: 'f,
    {
        let opened = self.open(request).and_then(|(r, call, req)| {
            let bill_id = self.bill_id(&req.bill_id)?;
            Ok((r, call, bill_id, req.payment_id.trim().to_string()))
        });
        Box::pin(async move {
            let (r, call, bill_id, payment_id) = opened?;
            let reply = call
                .run(self.connector.close_bill(&r.pos, &bill_id, &payment_id))
                .await;
            Ok(Response::new(AdapterCloseBillResponse {
                outcome: outcome_to_pb(reply.outcome) as i32,
                failure: failure(&reply),
                pos_reference: reply.reference.unwrap_or_default(),
            }))
        })
    }

    fn check_payment<'s, 'f>(
        &'s self,
        request: Request<CheckPaymentRequest>,
    ) -> Handled<'f, CheckPaymentResponse>
    where
        's: 'f,
        Self: 'f,
    {
        let opened = self.open(request).and_then(|(r, call, req)| {
            let check = Check {
                payment_id: req.payment_id.trim().to_string(),
                bill_id: self.bill_id(&req.bill_id)?,
                amount: money("amount", &req.amount, r.scale)?,
                reference: Some(req.pos_reference.trim().to_string()).filter(|s| !s.is_empty()),
                bill_before: req.bill_before.as_ref().map(amounts_from_pb),
                close: req.close,
                awaiting_task: req.awaiting_task,
            };
            Ok((r, call, check))
        });
        Box::pin(async move {
            let (r, call, check) = opened?;
            let restaurant_id = Arc::clone(&call.restaurant_id);
            let reply = call.run(self.connector.check_payment(&r.pos, &check)).await;
            let reply = allowed(reply, check.awaiting_task);
            // A task still running is looked at again and again: its looks are debug.
            macro_rules! checked {
                ($level:ident) => {
                    tracing::$level!(
                        pos = C::KIND,
                        restaurant_id = %restaurant_id,
                        bill_id = %check.bill_id,
                        payment_id = %check.payment_id,
                        outcome = ?reply.outcome,
                        evidence = %reply.evidence,
                        "payment checked"
                    )
                };
            }
            if reply.outcome == Outcome::Pending {
                checked!(debug);
            } else {
                checked!(info);
            }
            Ok(Response::new(CheckPaymentResponse {
                outcome: outcome_to_pb(reply.outcome) as i32,
                bill_closed: reply.bill_closed,
                failure: failure(&reply),
                evidence: reply.evidence,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connector that is never called: `open` is what is tested.
    struct Unused;

    #[tonic::async_trait]
    impl PosConnector for Unused {
        const KIND: &'static str = "unused";
        const SETTINGS: &'static [crate::connection::Setting] = &[];
        type Restaurant = ();
        fn connect(&self, _: &PosConnection) -> Result<(), String> {
            Ok(())
        }
        fn capabilities(&self, _: &()) -> posgate_core::pos::Capabilities {
            Default::default()
        }
        async fn get_bill(
            &self,
            _: &(),
            _: &str,
        ) -> Result<posgate_core::pos::Bill, posgate_core::pos::PosFailure> {
            unreachable!("open calls no POS")
        }
        async fn post_payment(
            &self,
            _: &(),
            _: &Posting,
        ) -> Result<PosReply, crate::connector::Invalid> {
            unreachable!("open calls no POS")
        }
        async fn close_bill(&self, _: &(), _: &str, _: &str) -> PosReply {
            unreachable!("open calls no POS")
        }
        async fn check_payment(&self, _: &(), _: &Check) -> PosReply {
            unreachable!("open calls no POS")
        }
    }

    #[tokio::test]
    async fn a_call_holds_neither_its_metadata_nor_its_connection() {
        use std::time::Duration;
        let server = AdapterServer::new(Unused);
        let mut request = Request::new(AdapterGetBillRequest {
            restaurant_id: "r-1".into(),
            bill_id: "b-1".into(),
            connection: Some(PosConnection {
                settings: [("base_url".to_string(), "http://pos".to_string())].into(),
                secrets: [("token".to_string(), "t".to_string())].into(),
                currency_scale: 2,
                version: 1,
            }),
        });
        request.set_timeout(Duration::from_secs(5));
        let (_, call, req) = server.open(request).unwrap();
        // What the handler keeps across the POS call: the message, without the connection
        // (its settings and secrets) and without the metadata, whose deadline the call took.
        assert_eq!(req.connection, None);
        assert_eq!(
            (req.restaurant_id.as_str(), req.bill_id.as_str()),
            ("r-1", "b-1")
        );
        assert_eq!(&*call.restaurant_id, "r-1");
        let left = call.deadline.unwrap() - tokio::time::Instant::now();
        assert!(left > Duration::from_secs(4), "{left:?}");
        assert_eq!(server.connected(), 1);

        let err = server
            .open(Request::new(AdapterGetBillRequest {
                restaurant_id: "r-1".into(),
                bill_id: "b-1".into(),
                connection: None,
            }))
            .err()
            .unwrap();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message().starts_with("connection: "),
            "{}",
            err.message()
        );
    }

    /// Each call in flight holds its handler's future for as long as its POS takes (10,000 at
    /// once at a dinner peak): it holds what the call needs, not the request it came with.
    #[tokio::test]
    async fn a_handler_waiting_for_its_pos_holds_no_request() {
        let server = AdapterServer::new(Unused);
        let post = server.post_payment(Request::new(PostPaymentRequest::default()));
        let get = server.get_bill(Request::new(AdapterGetBillRequest::default()));
        let (post, get) = (std::mem::size_of_val(&*post), std::mem::size_of_val(&*get));
        eprintln!("PostPayment's handler {post} bytes, GetBill's {get}");
        // As `async fn`s (release): 952 and 648 bytes, ~490 and ~250 of them the request.
        assert!(post <= 768, "PostPayment's handler: {post} bytes");
        assert!(get <= 448, "GetBill's handler: {get} bytes");
    }

    #[tokio::test]
    async fn a_call_s_deadline_is_its_grpc_timeout_less_a_margin_for_the_answer() {
        use std::time::Duration;
        let mut md = tonic::metadata::MetadataMap::new();
        assert!(deadline_of(&md).is_none());
        md.insert("grpc-timeout", "5S".parse().unwrap());
        let left = deadline_of(&md).unwrap() - tokio::time::Instant::now();
        // Five seconds less a tenth (0.5 s) for the answer to get back.
        assert!(
            left <= Duration::from_millis(4_500) && left > Duration::from_millis(4_000),
            "{left:?}"
        );
        md.insert("grpc-timeout", "200S".parse().unwrap());
        let left = deadline_of(&md).unwrap() - tokio::time::Instant::now();
        // At most a second of margin.
        assert!(left > Duration::from_millis(198_500), "{left:?}");
    }
}
