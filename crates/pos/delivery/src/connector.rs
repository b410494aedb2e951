//! The `PosAdapter` gRPC service for r_k Delivery.
//!
//! gRPC errors are only for our faults and bad input (unknown `restaurant_id`, a malformed
//! amount, a missing or malformed `bill_id`); everything r_k Delivery says comes back inside
//! the response as a `PosFailure` with the substate and its code and text verbatim.
//!
//! A restaurant is the request's `connection` when it carries one (built once per connection
//! and kept in a [`ConnectionCache`], so its token cache and HTTP client live on), otherwise
//! the static `[delivery.restaurants.<id>]` section.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use posgate_core::{Money, Substate};
use posgate_pos_kit::Restaurants;
use posgate_proto::v1::pos_adapter_server::PosAdapter;
use posgate_proto::v1::{
    AdapterCloseBillRequest, AdapterCloseBillResponse, AdapterGetBillRequest,
    AdapterGetBillResponse, AdapterListBillsRequest, AdapterListBillsResponse, AmountRule, Bill,
    BillStatus, CheckPaymentRequest, CheckPaymentResponse, DescribeRequest, DescribeResponse, Dish,
    Guest, Outcome, PosConnection, PosFailure, PostPaymentRequest, PostPaymentResponse,
    SettingSpec, adapter_get_bill_response,
};
use posgate_rkeeper::Verdict;
use rust_decimal::{Decimal, RoundingStrategy};
use time::{OffsetDateTime, UtcOffset};
use tonic::{Request, Response, Status};

use crate::classify::Failure;
use crate::client::{DeliveryClient, http_client};
use crate::config::{BadSetting, DeliveryAdapterConfig, DeliveryRestaurant, SETTINGS, Source};
use crate::reconcile::{self, Decision, Evidence};
use crate::wire::{DishLine, Order, Paid, PayLine, paid_at, status};

/// What `Describe` reports as `pos_kind`.
pub const POS_KIND: &str = "r_keeper_delivery";
/// `ListBills` reads at most this many orders of a search.
pub const MAX_LISTED: usize = 200;
/// Longest `bill_id` (an r_k Delivery `orderId`) accepted.
const MAX_BILL_ID: usize = 64;
/// The r_k Delivery adapter: stateless apart from each restaurant's cached token; one HTTP
/// connection pool shared by all restaurants that trust only the public authorities.
#[derive(Clone)]
pub struct DeliveryAdapter {
    /// The static `[delivery.restaurants]` sections and those built from connections.
    restaurants: Arc<Restaurants<Restaurant>>,
    shared: reqwest::Client,
}

struct Restaurant {
    cfg: DeliveryRestaurant,
    client: DeliveryClient,
    offset: UtcOffset,
}

impl Restaurant {
    /// The client of a prepared restaurant: over `shared`, or its own HTTP client when it
    /// trusts a CA bundle of its own.
    fn build(cfg: DeliveryRestaurant, shared: &reqwest::Client) -> Result<Self, BadSetting> {
        let offset = cfg.offset().unwrap_or(UtcOffset::UTC);
        let http = match cfg.ca_bundle()? {
            None => shared.clone(),
            Some(pem) => http_client(Some(&pem)).map_err(|e| BadSetting {
                name: if cfg.ca_pem.is_some() {
                    "ca_pem"
                } else {
                    "ca_file"
                },
                problem: format!("cannot be trusted: {e}"),
            })?,
        };
        let client = DeliveryClient::new(http, &cfg);
        Ok(Restaurant {
            cfg,
            client,
            offset,
        })
    }
}

impl DeliveryAdapter {
    /// Builds the adapter; resolves `client_secret_file`s and validates each restaurant.
    pub fn new(cfg: DeliveryAdapterConfig) -> anyhow::Result<Self> {
        let shared = http_client(None).context("building the HTTP client")?;
        let mut restaurants = BTreeMap::new();
        for (id, mut r) in cfg.restaurants {
            r.prepare(&id)?;
            let built = Restaurant::build(r, &shared)
                .map_err(|b| anyhow::anyhow!("[delivery.restaurants.{id}] {b}"))?;
            restaurants.insert(id, Arc::new(built));
        }
        Ok(DeliveryAdapter {
            restaurants: Arc::new(Restaurants::new("[delivery.restaurants]", restaurants)),
            shared,
        })
    }

    /// The request's restaurant: built from its connection when it carries one, otherwise
    /// the static section of that id.
    fn restaurant(
        &self,
        id: &str,
        connection: Option<&PosConnection>,
    ) -> Result<Arc<Restaurant>, Status> {
        self.restaurants.get(id, connection, |conn| {
            let cfg = DeliveryRestaurant::from_connection(conn)?;
            Restaurant::build(cfg, &self.shared).map_err(|b| b.in_connection())
        })
    }
}

/// The connection settings `Describe` reports: [`SETTINGS`] without the static-only ones.
pub fn setting_specs() -> Vec<SettingSpec> {
    SETTINGS
        .iter()
        .filter(|s| s.source == Source::Anywhere)
        .map(|s| SettingSpec {
            name: s.name.into(),
            required: s.required,
            secret: s.secret,
            description: s.description.into(),
        })
        .collect()
}

/// Serves the adapter on `listener` until `shutdown` completes, checking callers' tokens
/// (`[auth]`, shared by every service) and with posgate's server limits.
pub async fn serve(
    cfg: DeliveryAdapterConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let auth = cfg.auth.clone();
    posgate_grpc::serve_adapter(
        "delivery",
        &auth,
        DeliveryAdapter::new(cfg)?,
        listener,
        shutdown,
    )
    .await
}

// ------------------------------------------------------------------------------------------
// Helpers.
// ------------------------------------------------------------------------------------------

/// An `orderId`: it goes into URL paths, so only letters, digits, `-` and `_`.
fn require_bill_id(bill_id: &str) -> Result<&str, Status> {
    let b = bill_id.trim();
    if b.is_empty() {
        return Err(Status::invalid_argument("bill_id: is required"));
    }
    if b.len() > MAX_BILL_ID
        || !b
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(Status::invalid_argument(format!(
            "bill_id: {b:?} is not an r_k Delivery orderId (letters, digits, '-', '_', at most {MAX_BILL_ID})"
        )));
    }
    Ok(b)
}

fn parse_money(field: &str, s: &str, scale: u32) -> Result<Money, Status> {
    Money::parse(s, scale).map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

/// An amount from r_k Delivery at the restaurant's scale; more precise values as they are.
pub(crate) fn fmt_money(d: Decimal, scale: u32) -> String {
    Money::from_decimal(d, scale).map_or_else(|| d.normalize().to_string(), |m| m.to_string())
}

fn failure(f: &Failure) -> PosFailure {
    PosFailure {
        substate: proto_substate(f.substate()) as i32,
        not_found: f.not_found,
        pos_code: f.code.clone(),
        pos_text: f.pos_text(),
        transient: f.is_transient(),
    }
}

fn our_failure(
    substate: Substate,
    code: &str,
    text: impl Into<String>,
    transient: bool,
) -> PosFailure {
    PosFailure {
        substate: proto_substate(substate) as i32,
        not_found: false,
        pos_code: code.to_string(),
        pos_text: text.into(),
        transient,
    }
}

pub(crate) fn proto_substate(s: Substate) -> posgate_proto::v1::Substate {
    use posgate_proto::v1::Substate as P;
    match s {
        Substate::WrongRequestSum => P::WrongRequestSum,
        Substate::CashiersShiftClosed => P::CashiersShiftClosed,
        Substate::PrinterError => P::PrinterError,
        Substate::CloseOrderBlocked => P::CloseOrderBlocked,
        Substate::BillInUse => P::BillInUse,
        Substate::OtherError => P::OtherError,
    }
}

/// Write outcome of a failed call.
fn outcome_of(f: &Failure) -> Outcome {
    match f.verdict {
        Verdict::Rejected(_) => Outcome::Rejected,
        Verdict::Unknown => Outcome::Unknown,
        Verdict::Transient => Outcome::NotApplied,
    }
}

/// Outcome of a write that was never sent because reading the order failed.
fn outcome_of_read(f: &Failure) -> Outcome {
    match f.verdict {
        Verdict::Rejected(_) => Outcome::Rejected,
        Verdict::Unknown | Verdict::Transient => Outcome::NotApplied,
    }
}

/// Status ids below 4 (but 12) are not in r_keeper yet; 11 (or, without an id, any other
/// sign of completion) is closed; 12 cancelled; every other status, including ones added
/// later, is open.
fn bill_status(o: &Order) -> BillStatus {
    if o.is_cancelled() {
        BillStatus::Canceled
    } else if o.is_completed() {
        BillStatus::Closed
    } else if o.is_not_transferred() {
        BillStatus::NotReady
    } else {
        BillStatus::Open
    }
}

fn dish_of(d: &DishLine, scale: u32) -> Dish {
    let amount = d.amount.or_else(|| {
        d.price?
            .checked_mul(d.quantity?)
            .map(|a| a.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero))
    });
    Dish {
        id: d.id.clone().unwrap_or_default(),
        name: d.name.clone().unwrap_or_default(),
        price: d.price.map(|p| fmt_money(p, scale)).unwrap_or_default(),
        quantity: d
            .quantity
            .map(|q| q.normalize().to_string())
            .unwrap_or_default(),
        amount: amount.map(|a| fmt_money(a, scale)).unwrap_or_default(),
    }
}

/// The amounts of an order as posgate sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Amounts {
    pub(crate) total: Decimal,
    pub(crate) paid: Decimal,
    pub(crate) due: Decimal,
}

/// `total` is `amount` (what the guest pays, after discounts). r_k Delivery shows no paid
/// state in its documented answers: unless the answer has one (`payments[]`, `paidAmount`,
/// `isPaid`, ... see [`Order::paid`]), an open order counts as unpaid (`due = amount`) and a
/// completed one as paid.
pub(crate) fn amounts(o: &Order) -> Option<Amounts> {
    let total = o.amount?;
    let zero = Decimal::ZERO;
    let (paid, due) = match bill_status(o) {
        BillStatus::Closed => (total, zero),
        BillStatus::Canceled => match o.paid() {
            Paid::Known(p) => (p, zero),
            Paid::NotShown => (zero, zero),
        },
        _ => {
            let paid = match o.paid() {
                Paid::Known(p) => p.max(zero),
                Paid::NotShown => zero,
            };
            (paid, total.checked_sub(paid).unwrap_or(zero).max(zero))
        }
    };
    Some(Amounts { total, paid, due })
}

fn build_bill(
    restaurant_id: &str,
    bill_id: &str,
    cfg: &DeliveryRestaurant,
    o: &Order,
    a: Amounts,
) -> Bill {
    let scale = cfg.currency_scale;
    Bill {
        restaurant_id: restaurant_id.to_string(),
        bill_id: bill_id.to_string(),
        total: fmt_money(a.total, scale),
        amount_due: fmt_money(a.due, scale),
        paid: fmt_money(a.paid, scale),
        status: bill_status(o) as i32,
        pos_status: o.status_text(),
        bill_printed: false,
        order_number: o.order_id.clone().unwrap_or_else(|| bill_id.to_string()),
        table: o.table_code.clone().unwrap_or_default(),
        waiter: String::new(),
        waiter_id: String::new(),
        // r_k Delivery orders have no guest split: one guest with every dish.
        guests: vec![Guest {
            name: "Guest 1".into(),
            dishes: o.dishes.iter().map(|d| dish_of(d, scale)).collect(),
        }],
        currency: cfg.currency_guid.clone(),
    }
}

impl Restaurant {
    async fn read_bill(
        &self,
        restaurant_id: &str,
        bill_id: &str,
    ) -> Result<(Bill, Order, Amounts), Failure> {
        let (order, request_id) = self.client.get_order(bill_id).await?;
        let a = amounts(&order).ok_or_else(|| Failure {
            request_id,
            ..Failure::ours(
                Verdict::Transient,
                "delivery/no_amount",
                "the r_k Delivery order has no amount",
            )
        })?;
        let bill = build_bill(restaurant_id, bill_id, &self.cfg, &order, a);
        Ok((bill, order, a))
    }

    /// `/complete`; a refusal of an order that turns out to be completed already (a repeat,
    /// a race) is a success.
    async fn complete(&self, bill_id: &str) -> Result<Option<String>, Failure> {
        match self.client.complete(bill_id).await {
            Ok(rid) => Ok(rid),
            Err(f) => {
                if matches!(f.verdict, Verdict::Rejected(_))
                    && let Ok((o, _)) = self.client.get_order(bill_id).await
                    && o.is_completed()
                {
                    return Ok(f.request_id);
                }
                Err(f)
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// The service.
// ------------------------------------------------------------------------------------------

#[tonic::async_trait]
impl PosAdapter for DeliveryAdapter {
    async fn describe(
        &self,
        request: Request<DescribeRequest>,
    ) -> Result<Response<DescribeResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        Ok(Response::new(DescribeResponse {
            settings: setting_specs(),
            pos_kind: POS_KIND.into(),
            // `/pay` books the money; `/complete` closes the order in r_keeper and r_k Delivery.
            separate_close_step: true,
            amount_rule: AmountRule::Exact as i32,
            supports_tips: false,
            supports_points: false,
            supports_fiscal_data: false,
            // GET /orders/{orderId} reads the order before every posting.
            cannot_read_bills: false,
            currency_scale: r.cfg.currency_scale,
            // r_k Delivery (and White Server behind it) may still apply an unanswered /pay
            // until about our own request timeout has passed.
            reconcile_settle_ms: r.cfg.settle_ms(),
        }))
    }

    async fn get_bill(
        &self,
        request: Request<AdapterGetBillRequest>,
    ) -> Result<Response<AdapterGetBillResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let bill_id = require_bill_id(&req.bill_id)?;
        let result = match r.read_bill(&req.restaurant_id, bill_id).await {
            Ok((bill, _, _)) => adapter_get_bill_response::Result::Bill(bill),
            Err(f) => adapter_get_bill_response::Result::Failure(failure(&f)),
        };
        Ok(Response::new(AdapterGetBillResponse {
            result: Some(result),
        }))
    }

    async fn list_bills(
        &self,
        request: Request<AdapterListBillsRequest>,
    ) -> Result<Response<AdapterListBillsResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let list = |bills: Vec<Bill>, failure: Option<PosFailure>| {
            Ok(Response::new(AdapterListBillsResponse { bills, failure }))
        };
        if !r.cfg.list_bills {
            return list(
                vec![],
                Some(our_failure(
                    Substate::OtherError,
                    "delivery/list_disabled",
                    "listing bills is turned off for this restaurant (list_bills = false); ask for a bill by its orderId",
                    false,
                )),
            );
        }
        let table = req.table.trim();
        let from = OffsetDateTime::now_utc()
            - time::Duration::hours(i64::from(r.cfg.list_lookback_hours.max(1)));
        let mut query: Vec<(String, String)> = (status::TRANSFERRED_TO_KITCHEN..status::COMPLETED)
            .chain([13])
            .map(|s| ("includeStatusIds".to_string(), s.to_string()))
            .collect();
        query.push(("sortOrder".into(), "desc".into()));
        query.push(("orderBy".into(), "updatedAt".into()));
        query.push(("fromDate".into(), paid_at(from, r.offset)));
        if let Some(g) = r
            .cfg
            .restaurant_guid
            .as_deref()
            .filter(|g| !g.trim().is_empty())
        {
            query.push(("restaurantId".into(), g.trim().to_string()));
        }
        let rows = match r.client.search(&query).await {
            Ok(rows) => rows,
            Err(f) if matches!(f.code.as_str(), "HTTP/404" | "HTTP/405" | "HTTP/501") => {
                return list(
                    vec![],
                    Some(our_failure(
                        Substate::OtherError,
                        "delivery/search_unsupported",
                        format!(
                            "r_k Delivery does not offer the order search here ({}); ask for a bill by its orderId",
                            f.code
                        ),
                        false,
                    )),
                );
            }
            Err(f) => return list(vec![], Some(failure(&f))),
        };
        let mut bills = Vec::new();
        for row in rows.iter().take(MAX_LISTED) {
            let Some(listed) = Order::from_value(row) else {
                continue;
            };
            let Some(order_id) = listed.order_id.clone() else {
                continue;
            };
            if require_bill_id(&order_id).is_err() {
                continue;
            }
            // A search row with a status and an amount is the order; otherwise read it.
            let order = if listed.status_id.is_some() && listed.amount.is_some() {
                listed
            } else {
                match r.client.get_order(&order_id).await {
                    Ok((o, _)) => o,
                    Err(f) => return list(bills, Some(failure(&f))),
                }
            };
            if let (Some(want), Some(got)) = (&r.cfg.restaurant_guid, &order.restaurant_id)
                && !want.trim().eq_ignore_ascii_case(got.trim())
            {
                continue;
            }
            if !table.is_empty()
                && !order
                    .table_code
                    .as_deref()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(table))
            {
                continue;
            }
            if bill_status(&order) != BillStatus::Open {
                continue;
            }
            let Some(a) = amounts(&order) else {
                continue;
            };
            bills.push(build_bill(&req.restaurant_id, &order_id, &r.cfg, &order, a));
        }
        list(bills, None)
    }

    async fn post_payment(
        &self,
        request: Request<PostPaymentRequest>,
    ) -> Result<Response<PostPaymentResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let bill_id = require_bill_id(&req.bill_id)?.to_string();
        let scale = r.cfg.currency_scale;
        let amount = parse_money("amount", &req.amount, scale)?;
        let tips = Money::parse_optional(&req.tips, scale)
            .map_err(|e| Status::invalid_argument(format!("tips: {e}")))?;
        let points = Money::parse_optional(&req.points, scale)
            .map_err(|e| Status::invalid_argument(format!("points: {e}")))?;
        if !points.is_zero() {
            return Err(Status::invalid_argument(
                "points: r_k Delivery takes no bonus points (Describe.supports_points is false)",
            ));
        }
        let paid_at = paid_at(OffsetDateTime::now_utc(), r.offset);
        let line = |amount: Decimal, code: &str| PayLine {
            code: code.to_string(),
            amount,
            paid_at: paid_at.clone(),
            name: r.cfg.currency_name.clone(),
        };
        let mut lines = Vec::new();
        if req.tenders.is_empty() {
            lines.push(line(amount.value(), &r.cfg.currency_guid));
        } else {
            let mut sum = Money::zero(scale);
            for (i, t) in req.tenders.iter().enumerate() {
                let a = parse_money(&format!("tenders[{i}].amount"), &t.amount, scale)?;
                sum = sum
                    .checked_add(a)
                    .ok_or_else(|| Status::invalid_argument("tenders: the sum overflows"))?;
                let tender = t.tender_id.trim();
                let code = if tender.is_empty() {
                    r.cfg.currency_guid.as_str()
                } else {
                    tender
                };
                lines.push(line(a.value(), code));
            }
            if sum.value() != amount.value() {
                return Err(Status::invalid_argument(format!(
                    "tenders: tender amounts add up to {sum}, not the amount {amount}"
                )));
            }
        }
        if !tips.is_zero() {
            tracing::info!(
                restaurant_id = %req.restaurant_id,
                payment_id = %req.payment_id,
                tips = %tips,
                "tips not booked: r_k Delivery's /pay must equal the order's amount"
            );
        }
        let respond =
            |outcome: Outcome, failure: Option<PosFailure>, pos_reference: Option<String>| {
                let details = pos_reference
                    .iter()
                    .map(|id| ("requestId".to_string(), id.clone()))
                    .collect();
                let resp = PostPaymentResponse {
                    details,
                    outcome: outcome as i32,
                    failure,
                    // Paying never closes a Delivery order: /complete does.
                    bill_closed: false,
                    pos_reference: pos_reference.unwrap_or_default(),
                };
                tracing::info!(
                    restaurant_id = %req.restaurant_id,
                    bill_id = %bill_id,
                    payment_id = %req.payment_id,
                    outcome = ?outcome,
                    request_id = %resp.pos_reference,
                    "payment posted"
                );
                Ok(Response::new(resp))
            };

        // Read before writing: an order not in r_keeper yet, or already final, is not paid.
        let order = match r.client.get_order(&bill_id).await {
            Ok((o, _)) => o,
            Err(f) => {
                let rid = f.request_id.clone();
                return respond(outcome_of_read(&f), Some(failure(&f)), rid);
            }
        };
        if order.is_not_transferred() {
            return respond(
                Outcome::NotApplied,
                Some(our_failure(
                    Substate::OtherError,
                    "delivery/not_transferred",
                    format!(
                        "order {bill_id} is at status {}, not yet transferred to the kitchen (4): it is not in r_keeper and cannot be paid yet; auto-accept or an operator moves it on, then posting again succeeds",
                        order.status_label()
                    ),
                    true,
                )),
                None,
            );
        }
        if order.is_completed() || order.is_cancelled() {
            return respond(
                Outcome::Rejected,
                Some(our_failure(
                    Substate::OtherError,
                    "delivery/final_status",
                    format!(
                        "order {bill_id} is {} in r_k Delivery (a final status); nothing was posted",
                        order.status_label()
                    ),
                    false,
                )),
                None,
            );
        }
        tracing::info!(
            restaurant_id = %req.restaurant_id,
            bill_id = %bill_id,
            payment_id = %req.payment_id,
            amount = %amount,
            "posting payment"
        );
        match r.client.pay(&bill_id, &lines).await {
            Ok(rid) => respond(Outcome::Applied, None, rid),
            Err(f) => {
                let rid = f.request_id.clone();
                respond(outcome_of(&f), Some(failure(&f)), rid)
            }
        }
    }

    async fn close_bill(
        &self,
        request: Request<AdapterCloseBillRequest>,
    ) -> Result<Response<AdapterCloseBillResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let bill_id = require_bill_id(&req.bill_id)?;
        let resp =
            |outcome: Outcome, failure: Option<PosFailure>, pos_reference: Option<String>| {
                tracing::info!(
                    restaurant_id = %req.restaurant_id,
                    bill_id,
                    payment_id = %req.payment_id,
                    outcome = ?outcome,
                    "close bill"
                );
                Ok(Response::new(AdapterCloseBillResponse {
                    outcome: outcome as i32,
                    failure,
                    pos_reference: pos_reference.unwrap_or_default(),
                }))
            };
        // Closing is idempotent: an order already completed is a success.
        match r.client.get_order(bill_id).await {
            Ok((o, rid)) if o.is_completed() => return resp(Outcome::Applied, None, rid),
            Ok((o, rid)) if o.is_cancelled() => {
                return resp(
                    Outcome::Rejected,
                    Some(our_failure(
                        Substate::OtherError,
                        "delivery/cancelled",
                        format!(
                            "order {bill_id} is {} in r_k Delivery and cannot be completed",
                            o.status_label()
                        ),
                        false,
                    )),
                    rid,
                );
            }
            Err(f) if f.not_found => {
                let rid = f.request_id.clone();
                return resp(Outcome::Rejected, Some(failure(&f)), rid);
            }
            // Not readable now: /complete decides.
            _ => {}
        }
        match r.complete(bill_id).await {
            Ok(rid) => resp(Outcome::Applied, None, rid),
            Err(f) => {
                let rid = f.request_id.clone();
                resp(outcome_of(&f), Some(failure(&f)), rid)
            }
        }
    }

    async fn check_payment(
        &self,
        request: Request<CheckPaymentRequest>,
    ) -> Result<Response<CheckPaymentResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let bill_id = require_bill_id(&req.bill_id)?;
        let scale = r.cfg.currency_scale;
        let amount = parse_money("amount", &req.amount, scale)?;
        let mut why = Vec::new();
        let reference = req.pos_reference.trim();
        if !reference.is_empty() {
            why.push(format!(
                "requestId {reference} of the posting cannot be looked up in r_k Delivery"
            ));
        }
        let mut pos_failure = None;
        let evidence = match r.read_bill(&req.restaurant_id, bill_id).await {
            Ok((_, order, now)) => {
                let (e, w) =
                    reconcile::from_order(req.bill_before.as_ref(), &order, now, amount, scale);
                why.push(w);
                e
            }
            Err(f) => {
                why.push(format!(
                    "the order could not be read ({}: {})",
                    f.code,
                    f.pos_text()
                ));
                pos_failure = Some(failure(&f));
                Evidence::Unreadable
            }
        };
        let mut decision = reconcile::decide(evidence, req.close);
        if decision == Decision::ProbeWithComplete {
            tracing::info!(
                restaurant_id = %req.restaurant_id,
                bill_id,
                payment_id = %req.payment_id,
                "the order does not tell whether /pay was applied: asking /complete"
            );
            let result = r.complete(bill_id).await;
            let (e, w) = reconcile::from_complete(&result);
            why.push(w);
            if let Err(f) = &result {
                pos_failure = Some(failure(f));
            }
            decision = reconcile::decide(e, req.close);
        }
        let (outcome, bill_closed) = match decision {
            Decision::Answer {
                outcome,
                bill_closed,
            } => (outcome, bill_closed),
            // The table never asks twice; if it did, nothing is known.
            Decision::ProbeWithComplete => (Outcome::Unknown, false),
        };
        tracing::info!(
            restaurant_id = %req.restaurant_id,
            bill_id,
            payment_id = %req.payment_id,
            outcome = ?outcome,
            bill_closed,
            "payment checked"
        );
        Ok(Response::new(CheckPaymentResponse {
            outcome: outcome as i32,
            bill_closed,
            failure: pos_failure,
            evidence: why.join("; "),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn order(json: &str) -> Order {
        Order::from_value(&serde_json::from_str(json).unwrap()).unwrap()
    }

    fn cfg() -> DeliveryRestaurant {
        DeliveryRestaurant::new("http://x", "c", "s", "cur")
    }

    #[test]
    fn statuses_map() {
        let s = |id: i64| bill_status(&order(&format!(r#"{{"orderStatusId": {id}}}"#)));
        for id in 1..=3 {
            assert_eq!(s(id), BillStatus::NotReady);
        }
        for id in [4, 5, 6, 7, 8, 9, 10, 13, 14] {
            assert_eq!(s(id), BillStatus::Open);
        }
        assert_eq!(s(11), BillStatus::Closed);
        assert_eq!(s(12), BillStatus::Canceled);
        assert_eq!(bill_status(&order(r#"{"amount": 1}"#)), BillStatus::Open);
    }

    #[test]
    fn bill_from_an_order() {
        let o = order(
            r#"{"orderId": "1002", "orderStatusId": 4, "orderStatusName": "Передан на кухню",
                "amount": 1290.00, "fullAmount": 1350.00, "tableCode": "12",
                "dishList": [{"id": "a", "name": "Стейк", "price": 1150.00, "quantity": 1},
                             {"id": "b", "name": "Лимонад", "price": 70.005, "quantity": 2}]}"#,
        );
        let a = amounts(&o).unwrap();
        let b = build_bill("dl", "1002", &cfg(), &o, a);
        assert_eq!(
            (b.total.as_str(), b.amount_due.as_str(), b.paid.as_str()),
            ("1290.00", "1290.00", "0.00")
        );
        assert_eq!(b.status, BillStatus::Open as i32);
        assert_eq!(b.pos_status, "Передан на кухню");
        assert_eq!(b.table, "12");
        assert_eq!(b.order_number, "1002");
        assert_eq!(b.currency, "cur");
        assert_eq!(b.guests.len(), 1);
        assert_eq!(b.guests[0].dishes[0].amount, "1150.00");
        assert_eq!(b.guests[0].dishes[1].amount, "140.01");
        assert_eq!(b.guests[0].dishes[1].price, "70.005");

        let paid = order(r#"{"orderStatusId": 4, "amount": 100, "payments": [{"amount": 100}]}"#);
        let a = amounts(&paid).unwrap();
        assert_eq!((a.paid, a.due), (dec("100"), dec("0")));
        let done = order(r#"{"orderStatusId": 11, "amount": 100}"#);
        let a = amounts(&done).unwrap();
        assert_eq!((a.paid, a.due), (dec("100"), dec("0")));
        let cancelled = order(r#"{"orderStatusId": 12, "amount": 100}"#);
        assert_eq!(amounts(&cancelled).unwrap().due, dec("0"));
        assert!(amounts(&order(r#"{"orderStatusId": 4}"#)).is_none());
    }

    #[test]
    fn bill_ids() {
        assert!(require_bill_id("102").is_ok());
        assert!(require_bill_id(" 3f1c-a_b ").is_ok());
        for bad in ["", "1/2", "1?x", "../x", &"9".repeat(65)] {
            let e = require_bill_id(bad).unwrap_err();
            assert!(e.message().starts_with("bill_id"), "{bad}");
        }
    }
}
