//! The `PosAdapter` gRPC service for r_keeper via WSA.
//!
//! gRPC errors are only for our faults and bad input (unknown `restaurant_id`, a malformed
//! amount, a missing `bill_id`); everything the POS says comes back inside the response as a
//! `PosFailure` with the substate and the POS's code and text verbatim.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use posgate_core::{Money, Secret, Substate};
use posgate_pos_kit::Restaurants;
use posgate_proto::v1::pos_adapter_server::PosAdapter;
use posgate_proto::v1::{
    AdapterCloseBillRequest, AdapterCloseBillResponse, AdapterGetBillRequest,
    AdapterGetBillResponse, AdapterListBillsRequest, AdapterListBillsResponse, AmountRule, Bill,
    BillStatus, CheckPaymentRequest, CheckPaymentResponse, DescribeRequest, DescribeResponse, Dish,
    Guest, Outcome, PosConnection, PosFailure, PostPaymentRequest, PostPaymentResponse,
    adapter_get_bill_response,
};
use rust_decimal::{Decimal, RoundingStrategy};
use tonic::{Request, Response, Status};

use crate::classify::Verdict;
use crate::client::{TaskFailure, WsaClient, http_client};
use crate::config::{AgentVersion, WsaAdapterConfig, WsaRestaurant};
use crate::wire::{
    About, CompleteOrderParams, GetOrderListParams, GetOrderParams, Order, OrderListRow,
    PayOrderParams, PaymentLine, Product, TaskParams, is_completed_status, same_guid,
};

/// What `Describe` reports as `pos_kind`.
pub const POS_KIND: &str = "r_keeper_wsa";

/// The WSA adapter: stateless, one HTTP connection pool shared by all restaurants. A restaurant
/// comes from the request's `connection` when it carries one, else from `[wsa.restaurants]`.
#[derive(Clone)]
pub struct WsaAdapter {
    /// The shared pool (restaurants with their own CA get a client of their own).
    http: reqwest::Client,
    restaurants: Arc<Restaurants<Restaurant>>,
}

struct Restaurant {
    cfg: WsaRestaurant,
    client: WsaClient,
}

impl Restaurant {
    /// The restaurant's client, for settings already checked: the shared HTTP pool, or a
    /// client that also trusts the restaurant's own CA bundle. An error names the setting.
    fn build(
        cfg: WsaRestaurant,
        ca_pem: Option<String>,
        shared: &reqwest::Client,
    ) -> Result<Restaurant, (&'static str, String)> {
        let http = match ca_pem {
            None => shared.clone(),
            // A bundle can parse as PEM and still not be a certificate the TLS stack takes.
            Some(pem) => http_client(Some(&pem)).map_err(|e| {
                let setting = if cfg.ca_file.is_some() {
                    "ca_file"
                } else {
                    "ca_pem"
                };
                (setting, format!("cannot be trusted: {}", causes(&e)))
            })?,
        };
        let client = WsaClient::new(http, &cfg);
        Ok(Restaurant { cfg, client })
    }
}

/// An error and its causes, `: `-separated.
fn causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

impl WsaAdapter {
    /// Builds the adapter; resolves `token_file`s and validates each restaurant.
    pub fn new(cfg: WsaAdapterConfig) -> anyhow::Result<Self> {
        let shared = http_client(None).context("building the HTTP client")?;
        let mut configured = BTreeMap::new();
        for (id, mut r) in cfg.restaurants {
            r.resolve_token()?;
            let built = r
                .checked_ca()
                .and_then(|ca| Restaurant::build(r, ca, &shared))
                .map_err(|(name, why)| anyhow::anyhow!("restaurant {id}: {name} {why}"))?;
            configured.insert(id, Arc::new(built));
        }
        Ok(WsaAdapter {
            http: shared,
            restaurants: Arc::new(Restaurants::new("[wsa.restaurants]", configured)),
        })
    }

    /// The restaurant a request is about: built from its `connection` when it carries one
    /// (kept while the connection is unchanged), else the configured one.
    fn restaurant(
        &self,
        id: &str,
        connection: Option<&PosConnection>,
    ) -> Result<Arc<Restaurant>, Status> {
        self.restaurants.get(id, connection, |c| {
            let (cfg, ca) = crate::connection::restaurant_from(c)?;
            Restaurant::build(cfg, ca, &self.http)
                .map_err(|(name, why)| format!("setting {name:?} {why}"))
        })
    }
}

/// Serves the adapter on `listener` until `shutdown` completes.
pub async fn serve(
    cfg: WsaAdapterConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let auth = cfg.auth.clone();
    posgate_grpc::serve_adapter("wsa", &auth, WsaAdapter::new(cfg)?, listener, shutdown).await
}

// ------------------------------------------------------------------------------------------
// Helpers.
// ------------------------------------------------------------------------------------------

fn require_bill_id(bill_id: &str) -> Result<&str, Status> {
    let b = bill_id.trim();
    if b.is_empty() {
        return Err(Status::invalid_argument("bill_id: is required"));
    }
    Ok(b)
}

fn parse_money(field: &str, s: &str, scale: u32) -> Result<Money, Status> {
    Money::parse(s, scale).map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

/// An amount from the POS at the restaurant's scale; more precise values are shown as they are.
fn fmt_money(d: Decimal, scale: u32) -> String {
    Money::from_decimal(d, scale).map_or_else(|| d.normalize().to_string(), |m| m.to_string())
}

fn failure(f: &TaskFailure) -> PosFailure {
    PosFailure {
        substate: proto_substate(f.substate()) as i32,
        not_found: f.not_found,
        pos_code: f.code.clone(),
        pos_text: f.text.clone(),
        transient: !matches!(f.verdict, Verdict::Rejected(_)),
    }
}

fn our_failure(substate: Substate, code: &str, text: impl Into<String>) -> PosFailure {
    PosFailure {
        substate: proto_substate(substate) as i32,
        not_found: false,
        pos_code: code.to_string(),
        pos_text: text.into(),
        transient: false,
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

/// Write outcome of a failed task.
fn outcome_of(f: &TaskFailure) -> Outcome {
    match f.verdict {
        Verdict::Rejected(_) => Outcome::Rejected,
        Verdict::Unknown => Outcome::Unknown,
        Verdict::Transient => Outcome::NotApplied,
    }
}

fn map_status(status: Option<&str>, finished: Option<bool>) -> BillStatus {
    match status {
        Some(s) if is_completed_status(s) => BillStatus::Closed,
        Some(s)
            if s.eq_ignore_ascii_case("Canceled")
                || s.eq_ignore_ascii_case("Cancelled")
                || s.eq_ignore_ascii_case("CreationError")
                || s.eq_ignore_ascii_case("RestaurantCancelled") =>
        {
            BillStatus::Canceled
        }
        // Pre-cash: creation allowed but the order is not in the till yet.
        Some(s) if s.eq_ignore_ascii_case("Confirmed") => BillStatus::NotReady,
        Some(_) => BillStatus::Open,
        None if finished == Some(true) => BillStatus::Closed,
        None => BillStatus::Open,
    }
}

/// Whether a successful PayOrder closed the order.
fn pay_closed_bill(version: AgentVersion, order: Option<&Order>) -> bool {
    match version {
        // v2: the payment must be exact, and an exact payment closes the order.
        AgentVersion::V2 => true,
        AgentVersion::V1 => order.is_some_and(|o| {
            o.is_completed()
                || (o.status_value().is_none() && o.summ_to_pay() == Some(Decimal::ZERO))
        }),
    }
}

fn dish_of(p: &Product, scale: u32) -> Dish {
    let amount = p.amount.or_else(|| {
        p.price?
            .checked_mul(p.quantity?)
            .map(|a| a.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero))
    });
    Dish {
        id: p.id.clone().unwrap_or_default(),
        name: p.name.clone().unwrap_or_default(),
        price: p.price.map(|d| fmt_money(d, scale)).unwrap_or_default(),
        quantity: p
            .quantity
            .map(|q| q.normalize().to_string())
            .unwrap_or_default(),
        amount: amount.map(|d| fmt_money(d, scale)).unwrap_or_default(),
    }
}

fn live_dishes(products: &[Product], scale: u32) -> Vec<Dish> {
    products
        .iter()
        .filter(|p| {
            p.voiding_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        })
        .map(|p| dish_of(p, scale))
        .collect()
}

/// The amounts of an order as posgate sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Amounts {
    total: Decimal,
    paid: Decimal,
    due: Decimal,
}

fn amounts(order: &Order, row: Option<&OrderListRow>) -> Option<Amounts> {
    let products_total = || {
        let dishes: Vec<Decimal> = order
            .products
            .iter()
            .filter(|p| {
                p.voiding_reason
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
            })
            .map(|p| p.amount.or_else(|| p.price?.checked_mul(p.quantity?)))
            .collect::<Option<Vec<_>>>()?;
        if dishes.is_empty() {
            return None;
        }
        dishes
            .into_iter()
            .try_fold(Decimal::ZERO, |a, d| a.checked_add(d))
    };
    let total = order
        .total()
        .or_else(|| row.and_then(|r| r.sum))
        .or_else(products_total)?;
    let due_reported = order.summ_to_pay().or_else(|| row.and_then(|r| r.unpaid));
    let paid = order
        .applied_sum()
        .or_else(|| due_reported.and_then(|d| total.checked_sub(d)))
        .or_else(|| order.is_completed().then_some(total))
        .unwrap_or(Decimal::ZERO);
    let due = due_reported
        .or_else(|| order.is_completed().then_some(Decimal::ZERO))
        .unwrap_or_else(|| {
            total
                .checked_sub(paid)
                .unwrap_or(Decimal::ZERO)
                .max(Decimal::ZERO)
        });
    Some(Amounts {
        total,
        paid: paid.max(Decimal::ZERO),
        due: due.max(Decimal::ZERO),
    })
}

fn build_bill(
    restaurant_id: &str,
    bill_id: &str,
    cfg: &WsaRestaurant,
    order: &Order,
    row: Option<&OrderListRow>,
    a: Amounts,
) -> Bill {
    let scale = cfg.currency_scale;
    let guests = match order.guests.as_ref().filter(|g| !g.is_empty()) {
        Some(gs) => gs
            .iter()
            .enumerate()
            .map(|(i, g)| Guest {
                name: g
                    .name
                    .clone()
                    .or_else(|| g.id.clone())
                    .unwrap_or_else(|| format!("Guest {}", i + 1)),
                dishes: live_dishes(&g.products, scale),
            })
            .collect(),
        None => vec![Guest {
            name: "Guest 1".into(),
            dishes: live_dishes(&order.products, scale),
        }],
    };
    let status_value = order.status_value();
    Bill {
        restaurant_id: restaurant_id.to_string(),
        bill_id: bill_id.to_string(),
        total: fmt_money(a.total, scale),
        amount_due: fmt_money(a.due, scale),
        paid: fmt_money(a.paid, scale),
        status: map_status(status_value, row.and_then(|r| r.is_finished)) as i32,
        pos_status: status_value.unwrap_or_default().to_string(),
        bill_printed: order
            .status
            .as_ref()
            .and_then(|s| s.is_bill_printed)
            .unwrap_or(false),
        order_number: order.order_number.clone().unwrap_or_default(),
        table: order
            .table_code
            .clone()
            .or_else(|| {
                order
                    .table
                    .as_ref()
                    .and_then(|t| t.name.clone().or_else(|| t.id.clone()))
            })
            .or_else(|| row.and_then(|r| r.table_code.clone()))
            .unwrap_or_default(),
        waiter: order
            .waiter_name
            .clone()
            .or_else(|| order.waiter.as_ref().and_then(|w| w.name.clone()))
            .unwrap_or_default(),
        waiter_id: order
            .waiter_id
            .clone()
            .or_else(|| order.waiter.as_ref().and_then(|w| w.id.clone()))
            .or_else(|| row.and_then(|r| r.waiter_id.clone()))
            .unwrap_or_default(),
        guests,
        currency: cfg.currency_guid.clone(),
    }
}

/// What reading an order gave.
struct OrderRead {
    task_guid: Option<String>,
    result: Result<Order, TaskFailure>,
}

impl Restaurant {
    async fn read_order(&self, bill_id: &str) -> OrderRead {
        let reply = self
            .client
            .run(&GetOrderParams {
                order_guid: bill_id.to_string(),
            })
            .await;
        let result = reply.result.and_then(|v| {
            Order::from_task_response(&v).ok_or_else(|| TaskFailure {
                verdict: Verdict::Unknown,
                code: "WSA/NoOrder".into(),
                text: "the GetOrder answer has no readable order".into(),
                not_found: false,
                error: None,
            })
        });
        OrderRead {
            task_guid: reply.task_guid,
            result,
        }
    }

    /// The order's row in `GetOrderList(withClosed)`, for when GetOrder lacks the totals.
    async fn list_row(&self, bill_id: &str) -> Option<OrderListRow> {
        let reply = self
            .client
            .run(&GetOrderListParams {
                table_code: None,
                with_closed: true,
            })
            .await;
        let v = reply.result.ok()?;
        OrderListRow::from_task_response(&v).into_iter().find(|r| {
            r.order_guid
                .as_deref()
                .is_some_and(|g| same_guid(g, bill_id))
        })
    }

    /// Reads the order and its amounts (falling back to GetOrderList for the totals).
    async fn read_bill(
        &self,
        restaurant_id: &str,
        bill_id: &str,
    ) -> Result<(Bill, Order, Amounts), TaskFailure> {
        let order = self.read_order(bill_id).await.result?;
        let row = if order.total().is_none() {
            self.list_row(bill_id).await
        } else {
            None
        };
        let a = amounts(&order, row.as_ref()).ok_or_else(|| TaskFailure {
            verdict: Verdict::Unknown,
            code: "WSA/NoTotal".into(),
            text: "the order's total is not in GetOrder nor GetOrderList".into(),
            not_found: false,
            error: None,
        })?;
        let bill = build_bill(restaurant_id, bill_id, &self.cfg, &order, row.as_ref(), a);
        Ok((bill, order, a))
    }
}

// ------------------------------------------------------------------------------------------
// The service.
// ------------------------------------------------------------------------------------------

#[tonic::async_trait]
impl PosAdapter for WsaAdapter {
    async fn describe(
        &self,
        request: Request<DescribeRequest>,
    ) -> Result<Response<DescribeResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let v1 = r.cfg.agent_version == AgentVersion::V1;
        Ok(Response::new(DescribeResponse {
            settings: crate::connection::setting_specs(),
            pos_kind: POS_KIND.into(),
            separate_close_step: v1,
            amount_rule: if v1 {
                AmountRule::UpToDue
            } else {
                AmountRule::Exact
            } as i32,
            supports_tips: r.cfg.tips_currency_guid.is_some(),
            supports_points: false,
            supports_fiscal_data: false,
            cannot_read_bills: false,
            currency_scale: r.cfg.currency_scale,
            // White Server may run a task it timed out on until the task's own timeout is
            // over; the adapter's wait (that timeout plus the margin) covers it.
            reconcile_settle_ms: u64::try_from(r.client.task_deadline().as_millis())
                .unwrap_or(u64::MAX),
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
        let table = req.table.trim();
        let reply = r
            .client
            .run(&GetOrderListParams {
                table_code: (!table.is_empty()).then(|| table.to_string()),
                with_closed: false,
            })
            .await;
        let rows = match reply.result {
            Ok(v) => OrderListRow::from_task_response(&v),
            Err(f) => {
                return Ok(Response::new(AdapterListBillsResponse {
                    bills: vec![],
                    failure: Some(failure(&f)),
                }));
            }
        };
        let mut bills = Vec::new();
        for row in rows {
            let Some(guid) = row.order_guid.as_deref() else {
                continue;
            };
            if row.is_finished == Some(true) {
                continue;
            }
            // GetOrder gives guests, dishes and waiter; the list row alone has only totals.
            match r.read_bill(&req.restaurant_id, guid).await {
                Ok((bill, _, _)) => bills.push(bill),
                Err(f) => {
                    return Ok(Response::new(AdapterListBillsResponse {
                        bills,
                        failure: Some(failure(&f)),
                    }));
                }
            }
        }
        Ok(Response::new(AdapterListBillsResponse {
            bills,
            failure: None,
        }))
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
        let mut payments = Vec::new();
        if req.tenders.is_empty() {
            payments.push(PaymentLine {
                amount: amount.value(),
                currency: r.cfg.currency_guid.clone(),
                card_code: None,
            });
        } else {
            let mut sum = Money::zero(scale);
            for (i, t) in req.tenders.iter().enumerate() {
                let a = parse_money(&format!("tenders[{i}].amount"), &t.amount, scale)?;
                sum = sum
                    .checked_add(a)
                    .ok_or_else(|| Status::invalid_argument("tenders: the sum overflows"))?;
                let tender = t.tender_id.trim();
                payments.push(PaymentLine {
                    amount: a.value(),
                    currency: if tender.is_empty() {
                        r.cfg.currency_guid.clone()
                    } else {
                        tender.to_string()
                    },
                    card_code: (!t.card_code.is_empty()).then(|| Secret::new(t.card_code.clone())),
                });
            }
            if sum.value() != amount.value() {
                return Err(Status::invalid_argument(format!(
                    "tenders: tender amounts add up to {sum}, not the amount {amount}"
                )));
            }
        }
        if !tips.is_zero() {
            match &r.cfg.tips_currency_guid {
                Some(cur) => payments.push(PaymentLine {
                    amount: tips.value(),
                    currency: cur.clone(),
                    card_code: None,
                }),
                None => tracing::info!(
                    restaurant_id = %req.restaurant_id,
                    payment_id = %req.payment_id,
                    tips = %tips,
                    "tips not booked: no tips_currency_guid configured"
                ),
            }
        }
        let params = PayOrderParams {
            order_guid: bill_id.clone(),
            payments,
            cash_station_id: r.cfg.cash_station_id,
            cashier_id: r.cfg.cashier_id,
            is_full_order_required: true,
        };
        tracing::info!(
            restaurant_id = %req.restaurant_id,
            bill_id = %bill_id,
            payment_id = %req.payment_id,
            amount = %amount,
            "posting payment"
        );
        let reply = r.client.run(&params).await;
        let pos_reference = reply.task_guid.clone().unwrap_or_default();
        let resp = match reply.result {
            Ok(v) => {
                let order = Order::from_task_response(&v);
                PostPaymentResponse {
                    details: Default::default(),
                    outcome: Outcome::Applied as i32,
                    failure: None,
                    bill_closed: pay_closed_bill(r.cfg.agent_version, order.as_ref()),
                    pos_reference,
                }
            }
            Err(f) => PostPaymentResponse {
                details: Default::default(),
                outcome: outcome_of(&f) as i32,
                failure: Some(failure(&f)),
                bill_closed: false,
                pos_reference,
            },
        };
        tracing::info!(
            restaurant_id = %req.restaurant_id,
            bill_id = %bill_id,
            payment_id = %req.payment_id,
            outcome = ?Outcome::try_from(resp.outcome).unwrap_or(Outcome::Unspecified),
            bill_closed = resp.bill_closed,
            task_guid = %resp.pos_reference,
            "payment posted"
        );
        Ok(Response::new(resp))
    }

    async fn close_bill(
        &self,
        request: Request<AdapterCloseBillRequest>,
    ) -> Result<Response<AdapterCloseBillResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let bill_id = require_bill_id(&req.bill_id)?;
        let read = r.read_order(bill_id).await;
        let read_guid = read.task_guid.clone().unwrap_or_default();
        let resp = |outcome: Outcome, failure: Option<PosFailure>, pos_reference: String| {
            Response::new(AdapterCloseBillResponse {
                outcome: outcome as i32,
                failure,
                pos_reference,
            })
        };
        // Closing is idempotent: an order already closed is a success.
        match &read.result {
            Ok(o) if o.is_completed() => return Ok(resp(Outcome::Applied, None, read_guid)),
            Ok(o) if o.is_canceled() => {
                return Ok(resp(
                    Outcome::Rejected,
                    Some(our_failure(
                        Substate::OtherError,
                        "WSA/OrderCanceled",
                        format!(
                            "the order is {} in r_keeper and cannot be closed",
                            o.status_value().unwrap_or("Canceled")
                        ),
                    )),
                    read_guid,
                ));
            }
            Err(f) if f.not_found => {
                return Ok(resp(Outcome::Rejected, Some(failure(f)), read_guid));
            }
            _ => {}
        }
        if r.cfg.agent_version == AgentVersion::V1 {
            // Agent v1 has no CompleteOrder: r_keeper closes the order itself once the
            // prepayments cover it. Closing here only confirms it.
            return Ok(match read.result {
                Ok(o) => {
                    let due = o
                        .summ_to_pay()
                        .map(|d| fmt_money(d, r.cfg.currency_scale))
                        .unwrap_or_else(|| "an unknown amount".into());
                    resp(
                        Outcome::Rejected,
                        Some(our_failure(
                            Substate::CloseOrderBlocked,
                            "WSA/v1NotClosed",
                            format!(
                                "r_keeper agent v1 has no CompleteOrder: the order closes when its prepayments cover the total; it is still {} with {due} to pay",
                                o.status_value().unwrap_or("open")
                            ),
                        )),
                        read_guid,
                    )
                }
                // Nothing was written: a read that failed is "not applied, try later".
                Err(f) => resp(
                    match f.verdict {
                        Verdict::Rejected(_) => Outcome::Rejected,
                        Verdict::Unknown | Verdict::Transient => Outcome::NotApplied,
                    },
                    Some(failure(&f)),
                    read_guid,
                ),
            });
        }
        let reply = r
            .client
            .run(&CompleteOrderParams {
                order_guid: bill_id.to_string(),
                cash_station_id: r.cfg.cash_station_id,
            })
            .await;
        let guid = reply.task_guid.clone().unwrap_or_default();
        Ok(match reply.result {
            Ok(_) => resp(Outcome::Applied, None, guid),
            Err(f) => {
                if matches!(f.verdict, Verdict::Rejected(_)) {
                    // Refused: maybe because it is closed already (a race, a repeat).
                    if let Ok(o) = r.read_order(bill_id).await.result
                        && o.is_completed()
                    {
                        return Ok(resp(Outcome::Applied, None, guid));
                    }
                }
                resp(outcome_of(&f), Some(failure(&f)), guid)
            }
        })
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
        let mut evidence = Vec::new();

        // 1. The task's own answer, when we know its taskGuid.
        let guid = req.pos_reference.trim();
        if !guid.is_empty() {
            match r.client.get_task_response(guid).await {
                Ok(env) if env.about(guid, PayOrderParams::TASK_TYPE) == About::Other => {
                    evidence.push(format!(
                        "GetTaskResponse {guid}: the answer is about task {} ({}), not this payment's (inconclusive)",
                        env.task_guid.as_deref().unwrap_or("?"),
                        env.task_type.as_deref().unwrap_or("?")
                    ));
                }
                Ok(env) if env.task_response.is_some() => {
                    let order = env
                        .task_response
                        .as_ref()
                        .and_then(Order::from_task_response);
                    let closed = pay_closed_bill(r.cfg.agent_version, order.as_ref());
                    return Ok(check(
                        Outcome::Applied,
                        closed,
                        None,
                        format!(
                            "GetTaskResponse {guid}: the task answered with a taskResponse (payment applied)"
                        ),
                    ));
                }
                Ok(env) => match env.error.clone() {
                    Some(e) if e.is_awaiting_answer() => {
                        return Ok(check(
                            Outcome::Unknown,
                            false,
                            Some(our_failure(
                                Substate::OtherError,
                                "AwaitingAnswer",
                                e.text(),
                            )),
                            format!(
                                "GetTaskResponse {guid}: AwaitingAnswer, the task is still running on the agent"
                            ),
                        ));
                    }
                    // The task's stored answer (an agent error, or any error that names our
                    // PayOrder): classified as the same answer to the PayOrder itself.
                    Some(e)
                        if e.has_agent_part()
                            || env.about(guid, PayOrderParams::TASK_TYPE) == About::Ours =>
                    {
                        match e.verdict() {
                            Verdict::Rejected(_) => {
                                let f = failure_of(&e);
                                return Ok(check(
                                    Outcome::Rejected,
                                    false,
                                    Some(f),
                                    format!(
                                        "GetTaskResponse {guid}: the task was refused ({}: {}); nothing was booked",
                                        e.pos_code(),
                                        e.text()
                                    ),
                                ));
                            }
                            Verdict::Unknown | Verdict::Transient => evidence.push(format!(
                                "GetTaskResponse {guid}: {} {} (inconclusive)",
                                e.pos_code(),
                                e.text()
                            )),
                        }
                    }
                    Some(e) => evidence.push(format!(
                        "GetTaskResponse {guid}: {} {} (inconclusive)",
                        e.pos_code(),
                        e.text()
                    )),
                    None => evidence.push(format!(
                        "GetTaskResponse {guid}: neither taskResponse nor error (inconclusive)"
                    )),
                },
                Err(f) => evidence.push(format!(
                    "GetTaskResponse {guid}: {} {} (inconclusive)",
                    f.code, f.text
                )),
            }
        } else {
            evidence.push("no taskGuid known".to_string());
        }

        // 2. The order now, against the bill as read before posting.
        let (now_bill, order, now) = match r.read_bill(&req.restaurant_id, bill_id).await {
            Ok(x) => x,
            Err(f) => {
                evidence.push(format!(
                    "the order could not be read ({}: {}); outcome stays unknown",
                    f.code, f.text
                ));
                return Ok(check(
                    Outcome::Unknown,
                    false,
                    Some(failure(&f)),
                    evidence.join("; "),
                ));
            }
        };
        let (outcome, closed, why) = compare(
            req.bill_before.as_ref(),
            &now_bill,
            &order,
            now,
            amount,
            scale,
        );
        evidence.push(why);
        Ok(check(outcome, closed, None, evidence.join("; ")))
    }
}

fn failure_of(e: &crate::wire::WsaError) -> PosFailure {
    PosFailure {
        substate: proto_substate(e.substate()) as i32,
        not_found: e.is_not_found(),
        pos_code: e.pos_code(),
        pos_text: e.text(),
        transient: !matches!(e.verdict(), Verdict::Rejected(_)),
    }
}

fn check(
    outcome: Outcome,
    bill_closed: bool,
    failure: Option<PosFailure>,
    evidence: String,
) -> Response<CheckPaymentResponse> {
    Response::new(CheckPaymentResponse {
        outcome: outcome as i32,
        bill_closed,
        failure,
        evidence,
    })
}

fn parse_before(s: &str, _scale: u32) -> Option<Decimal> {
    Money::parse(s.trim(), posgate_core::money::MAX_SCALE)
        .ok()
        .map(|m| m.value())
}

/// Decides from the bill before posting and the order now whether the posting was applied.
fn compare(
    before: Option<&Bill>,
    now_bill: &Bill,
    order: &Order,
    now: Amounts,
    amount: Money,
    scale: u32,
) -> (Outcome, bool, String) {
    let closed_now = order.is_completed();
    let m = |d: Decimal| fmt_money(d, scale);
    let Some(before) = before else {
        return (
            Outcome::Unknown,
            false,
            format!(
                "no bill_before to compare with; the order is now {} (total {}, paid {}, due {})",
                now_bill.pos_status,
                m(now.total),
                m(now.paid),
                m(now.due)
            ),
        );
    };
    let was_closed = before.status == BillStatus::Closed as i32;
    if closed_now && !was_closed {
        return (
            Outcome::Applied,
            true,
            format!(
                "the order was {} and is now {} (paid {}, due {})",
                if before.pos_status.is_empty() {
                    "open"
                } else {
                    &before.pos_status
                },
                now_bill.pos_status,
                m(now.paid),
                m(now.due)
            ),
        );
    }
    let amt = amount.value();
    if let Some(paid_before) = parse_before(&before.paid, scale) {
        let grew = now.paid.checked_sub(paid_before).unwrap_or(Decimal::ZERO);
        if !amt.is_zero() && grew >= amt {
            return (
                Outcome::Applied,
                closed_now,
                format!(
                    "paid grew from {} to {} (≥ {amount})",
                    m(paid_before),
                    m(now.paid)
                ),
            );
        }
        if grew.is_zero() {
            return (
                Outcome::NotApplied,
                false,
                format!(
                    "paid unchanged at {}; status {} (was {})",
                    m(now.paid),
                    now_bill.pos_status,
                    before.pos_status
                ),
            );
        }
    }
    if let Some(due_before) = parse_before(&before.amount_due, scale) {
        let dropped = due_before.checked_sub(now.due).unwrap_or(Decimal::ZERO);
        if !amt.is_zero() && dropped >= amt {
            return (
                Outcome::Applied,
                closed_now,
                format!(
                    "amount due dropped from {} to {} (≥ {amount})",
                    m(due_before),
                    m(now.due)
                ),
            );
        }
        let total_same = parse_before(&before.total, scale).is_none_or(|t| t == now.total);
        if dropped.is_zero() && total_same {
            return (
                Outcome::NotApplied,
                false,
                format!(
                    "amount due unchanged at {}; status {} (was {})",
                    m(now.due),
                    now_bill.pos_status,
                    before.pos_status
                ),
            );
        }
    }
    (
        Outcome::Unknown,
        closed_now,
        format!(
            "the order changed in a way that does not show this payment: before total {} paid {} due {} status {}; now total {} paid {} due {} status {}",
            before.total,
            before.paid,
            before.amount_due,
            before.pos_status,
            m(now.total),
            m(now.paid),
            m(now.due),
            now_bill.pos_status
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn order(json: &str) -> Order {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        Order::from_task_response(&v).unwrap()
    }

    #[test]
    fn amounts_from_summ_to_pay_applied_payments_and_list_row() {
        let o = order(
            r#"{"order": {"status": {"value": "Created"}, "price": {"total": 978.00, "summToPay": 478.00}}}"#,
        );
        let a = amounts(&o, None).unwrap();
        assert_eq!(
            (a.total, a.paid, a.due),
            (dec("978"), dec("500"), dec("478"))
        );
        let o = order(
            r#"{"order": {"price": {"total": "978.00"}, "appliedPayments": [{"amount": 100}, {"amount": "200.50"}]}}"#,
        );
        let a = amounts(&o, None).unwrap();
        assert_eq!((a.paid, a.due), (dec("300.50"), dec("677.50")));
        let o = order(r#"{"order": {"status": {"value": "Created"}}}"#);
        assert!(amounts(&o, None).is_none());
        let row = OrderListRow {
            sum: Some(dec("978")),
            unpaid: Some(dec("78")),
            ..Default::default()
        };
        let a = amounts(&o, Some(&row)).unwrap();
        assert_eq!(
            (a.total, a.paid, a.due),
            (dec("978"), dec("900"), dec("78"))
        );
        let o = order(r#"{"order": {"status": {"value": "Complited"}, "price": {"total": 10}}}"#);
        let a = amounts(&o, None).unwrap();
        assert_eq!((a.paid, a.due), (dec("10"), dec("0")));
        let o = order(
            r#"{"order": {"products": [{"price": "10.50", "quantity": 2}, {"price": 1, "quantity": 1, "voidingReason": "x"}]}}"#,
        );
        assert_eq!(amounts(&o, None).unwrap().total, dec("21"));
    }

    #[test]
    fn statuses_map() {
        assert_eq!(map_status(Some("Created"), None), BillStatus::Open);
        assert_eq!(map_status(Some("Complited"), None), BillStatus::Closed);
        assert_eq!(map_status(Some("Canceled"), None), BillStatus::Canceled);
        assert_eq!(map_status(Some("Confirmed"), None), BillStatus::NotReady);
        assert_eq!(map_status(Some("IssuedOut"), None), BillStatus::Open);
        assert_eq!(map_status(None, Some(true)), BillStatus::Closed);
        assert_eq!(map_status(None, None), BillStatus::Open);
    }

    #[test]
    fn bill_has_guests_and_dishes() {
        let cfg = WsaRestaurant::new("http://x", "t", 1, AgentVersion::V2, "cur");
        let o = order(
            r#"{"order": {"status": {"value": "Created", "isBillPrinted": true}, "price": {"total": 978.00},
                "products": [{"id": 1, "name": "A", "price": 489, "quantity": 2}],
                "waiterId": 7, "tableCode": "12", "orderNumber": 55}}"#,
        );
        let a = amounts(&o, None).unwrap();
        let b = build_bill("demo", "g", &cfg, &o, None, a);
        assert_eq!(b.total, "978.00");
        assert_eq!(b.amount_due, "978.00");
        assert_eq!(b.paid, "0.00");
        assert!(b.bill_printed);
        assert_eq!(b.waiter_id, "7");
        assert_eq!(b.table, "12");
        assert_eq!(b.order_number, "55");
        assert_eq!(b.currency, "cur");
        assert_eq!(b.guests.len(), 1);
        assert_eq!(b.guests[0].dishes[0].amount, "978.00");
        assert_eq!(b.guests[0].dishes[0].quantity, "2");
        let o = order(
            r#"{"order": {"price": {"total": 3}, "guests": [{"name": "Anna", "products": [{"id": "x", "price": 1, "quantity": 1}]}, {"products": [{"id": "y", "price": 2, "quantity": 1}]}]}}"#,
        );
        let b = build_bill("demo", "g", &cfg, &o, None, amounts(&o, None).unwrap());
        assert_eq!(b.guests.len(), 2);
        assert_eq!(b.guests[0].name, "Anna");
        assert_eq!(b.guests[1].name, "Guest 2");
    }

    fn bill(total: &str, paid: &str, due: &str, status: BillStatus, pos: &str) -> Bill {
        Bill {
            total: total.into(),
            paid: paid.into(),
            amount_due: due.into(),
            status: status as i32,
            pos_status: pos.into(),
            ..Default::default()
        }
    }

    fn now_of(json: &str) -> (Bill, Order, Amounts) {
        let cfg = WsaRestaurant::new("http://x", "t", 1, AgentVersion::V2, "cur");
        let o = order(json);
        let a = amounts(&o, None).unwrap();
        (build_bill("r", "b", &cfg, &o, None, a), o, a)
    }

    #[test]
    fn compare_decides_applied_not_applied_unknown() {
        let before = bill("978.00", "0.00", "978.00", BillStatus::Open, "Created");
        let m = Money::parse("978.00", 2).unwrap();
        let (nb, o, a) = now_of(
            r#"{"order": {"status": {"value": "Complited"}, "price": {"total": 978, "summToPay": 0}}}"#,
        );
        let (out, closed, _) = compare(Some(&before), &nb, &o, a, m, 2);
        assert_eq!((out, closed), (Outcome::Applied, true));

        let (nb, o, a) = now_of(
            r#"{"order": {"status": {"value": "Created"}, "price": {"total": 978, "summToPay": 978}}}"#,
        );
        let (out, _, why) = compare(Some(&before), &nb, &o, a, m, 2);
        assert_eq!(out, Outcome::NotApplied, "{why}");

        // v1 prepayment: paid grew by the amount, still open.
        let part = Money::parse("300", 2).unwrap();
        let (nb, o, a) = now_of(
            r#"{"order": {"status": {"value": "Created"}, "price": {"total": 978, "summToPay": 678}}}"#,
        );
        let (out, closed, _) = compare(Some(&before), &nb, &o, a, part, 2);
        assert_eq!((out, closed), (Outcome::Applied, false));

        // Paid changed by a different amount: unknown.
        let (nb, o, a) = now_of(
            r#"{"order": {"status": {"value": "Created"}, "price": {"total": 978, "summToPay": 900}}}"#,
        );
        let (out, _, _) = compare(Some(&before), &nb, &o, a, part, 2);
        assert_eq!(out, Outcome::Unknown);

        // No bill_before: unknown.
        let (out, _, _) = compare(None, &nb, &o, a, part, 2);
        assert_eq!(out, Outcome::Unknown);
    }

    #[test]
    fn v1_pay_closes_only_when_completed() {
        let o = order(
            r#"{"order": {"status": {"value": "Created"}, "price": {"total": 10, "summToPay": 0}}}"#,
        );
        assert!(!pay_closed_bill(AgentVersion::V1, Some(&o)));
        let o = order(r#"{"order": {"status": {"value": "Complited"}}}"#);
        assert!(pay_closed_bill(AgentVersion::V1, Some(&o)));
        let o = order(r#"{"order": {"price": {"total": 10, "summToPay": 0}}}"#);
        assert!(pay_closed_bill(AgentVersion::V1, Some(&o)));
        assert!(pay_closed_bill(AgentVersion::V2, None));
    }
}
