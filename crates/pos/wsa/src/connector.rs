//! The r_keeper WSA connector: posgate's five questions as White Server tasks, and how their
//! answers read.
//!
//! Why it exists: what is truly WSA's own — which tasks answer which question (GetOrder with a
//! GetOrderList fallback for totals, PayOrder, CompleteOrder or the v1 confirmation,
//! GetTaskResponse), how an order becomes a bill, when a payment closed the order, what a
//! stored task answer means — lives here; the gRPC contract, field checks and the
//! was-it-applied comparison are the kit's and the core's.

use anyhow::Context;
use posgate_core::pos::{
    Bill, BillAmounts, BillStatus, Capabilities, Check, Dish, Guest, Outcome, PosFailure, PosReply,
    Posting, judge_posting,
};
use posgate_core::{AmountRule, Substate};
use posgate_pos_kit::connector::{closed_after_all, refused};
use posgate_pos_kit::http::restaurant_client;
use posgate_pos_kit::{
    Findings, Invalid, Listed, PosConnector, Setting, checked, one_guest, tender_lines,
    tips_not_booked,
};
use posgate_proto::convert::money_text;
use posgate_proto::v1::PosConnection;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::classify::Verdict;
use crate::client::{Look, Submitted, TaskFailure, WsaClient, http_client};
use crate::settings::{AgentVersion, SETTINGS, WsaSettings};
use crate::wire::{
    About, CompleteOrderParams, GetOrderListParams, GetOrderParams, Order, OrderListRow,
    PayOrderParams, PaymentLine, Product, TaskParams, is_completed_status, same_guid,
};

/// The longest one look at a posting's task may take: a stored answer is read at once, and a
/// look that times out only says "still running" (the caller looks again).
const LOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a posting whose caller follows its task waits for the task's answer before it
/// answers "pending": a task answered within it costs the caller no look.
const INLINE_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// What `Describe` reports as `pos_kind`.
pub const POS_KIND: &str = "r_keeper_wsa";

/// The WSA connector: one HTTP connection pool shared by the restaurants that trust only the
/// public certificate authorities.
pub struct WsaConnector {
    http: reqwest::Client,
}

impl WsaConnector {
    pub fn new() -> anyhow::Result<Self> {
        let http = http_client(None).context("building the HTTP client")?;
        Ok(WsaConnector { http })
    }
}

/// A restaurant built from its connection: its settings, the scale of its money, its client.
pub struct Restaurant {
    cfg: WsaSettings,
    scale: u32,
    client: WsaClient,
}

/// Statuses that say the order is no longer payable, besides the completed ones.
const CANCELED: &[&str] = &[
    "Canceled",
    "Cancelled",
    "CreationError",
    "RestaurantCancelled",
];

/// An order's status (and its GetOrderList row's `isFinished`) as a bill's.
pub fn bill_status(status: Option<&str>, finished: Option<bool>) -> BillStatus {
    match status {
        Some(s) if is_completed_status(s) => BillStatus::Closed,
        Some(s) if CANCELED.iter().any(|c| s.eq_ignore_ascii_case(c)) => BillStatus::Canceled,
        // Pre-cash: creation allowed but the order is not in the till yet.
        Some(s) if s.eq_ignore_ascii_case("Confirmed") => BillStatus::NotReady,
        Some(_) => BillStatus::Open,
        None if finished == Some(true) => BillStatus::Closed,
        None => BillStatus::Open,
    }
}

/// Whether a successful PayOrder closed the order.
pub fn pay_closed_bill(version: AgentVersion, order: Option<&Order>) -> bool {
    match version {
        // v2: the payment must be exact, and an exact payment closes the order.
        AgentVersion::V2 => true,
        AgentVersion::V1 => order.is_some_and(|o| {
            o.is_completed()
                || (o.status_value().is_none() && o.summ_to_pay() == Some(Decimal::ZERO))
        }),
    }
}

fn live(products: &[Product]) -> impl Iterator<Item = &Product> {
    products.iter().filter(|p| {
        p.voiding_reason
            .as_deref()
            .is_none_or(|r| r.trim().is_empty())
    })
}

fn dishes(products: &[Product], scale: u32) -> Vec<Dish> {
    let dish = |p: &Product| {
        posgate_pos_kit::dish(
            p.id.clone(),
            p.name.clone(),
            p.price,
            p.quantity,
            p.amount,
            scale,
        )
    };
    live(products).map(dish).collect()
}

/// An order's total, paid and due: from its price and payments, else its GetOrderList row,
/// else its dishes.
pub fn amounts(order: &Order, row: Option<&OrderListRow>) -> Option<(Decimal, Decimal, Decimal)> {
    let products_total = || {
        let lines: Vec<Decimal> = live(&order.products)
            .map(|p| p.amount.or_else(|| p.price?.checked_mul(p.quantity?)))
            .collect::<Option<_>>()?;
        if lines.is_empty() {
            return None;
        }
        lines
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
        .unwrap_or_else(|| total.checked_sub(paid).unwrap_or(Decimal::ZERO));
    Some((total, paid.max(Decimal::ZERO), due.max(Decimal::ZERO)))
}

impl Restaurant {
    /// An order as a bill, with the amounts [`amounts`] finds (`None`: no total anywhere).
    pub fn bill_of(
        &self,
        bill_id: &str,
        order: &Order,
        row: Option<&OrderListRow>,
    ) -> Option<Bill> {
        let r = self;
        let (total, paid, due) = amounts(order, row)?;
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
                    dishes: dishes(&g.products, r.scale),
                })
                .collect(),
            None => one_guest(dishes(&order.products, r.scale)),
        };
        let status = order.status_value();
        let table = order
            .table
            .as_ref()
            .and_then(|t| t.name.clone().or_else(|| t.id.clone()));
        let waiter = order.waiter.as_ref();
        Some(Bill {
            bill_id: bill_id.to_string(),
            total,
            amount_due: due,
            paid,
            status: bill_status(status, row.and_then(|r| r.is_finished)),
            pos_status: status.unwrap_or_default().to_string(),
            bill_printed: order
                .status
                .as_ref()
                .and_then(|s| s.is_bill_printed)
                .unwrap_or(false),
            order_number: order.order_number.clone().unwrap_or_default(),
            table: (order.table_code.clone().or(table))
                .or_else(|| row.and_then(|r| r.table_code.clone()))
                .unwrap_or_default(),
            waiter: (order.waiter_name.clone())
                .or_else(|| waiter.and_then(|w| w.name.clone()))
                .unwrap_or_default(),
            waiter_id: (order.waiter_id.clone())
                .or_else(|| waiter.and_then(|w| w.id.clone()))
                .or_else(|| row.and_then(|r| r.waiter_id.clone()))
                .unwrap_or_default(),
            guests,
            currency: r.cfg.currency_guid.clone(),
        })
    }
}

/// A failure of our own making about an answer that lacks what we need: outcome unknown.
fn unreadable(code: &str, text: &str) -> TaskFailure {
    TaskFailure::ours(Verdict::Unknown, code, text)
}

impl Restaurant {
    /// GetOrder: the order and the taskGuid of the read.
    async fn read_order(&self, bill_id: &str) -> (Option<String>, Result<Order, TaskFailure>) {
        let params = GetOrderParams {
            order_guid: bill_id.to_string(),
        };
        let reply = self.client.run(&params).await;
        let order = reply.result.and_then(|v| {
            Order::from_task_response(&v).ok_or_else(|| {
                unreadable("WSA/NoOrder", "the GetOrder answer has no readable order")
            })
        });
        (reply.task_guid, order)
    }

    /// The order's row in `GetOrderList(withClosed)`, for when GetOrder lacks the totals.
    async fn list_row(&self, bill_id: &str) -> Option<OrderListRow> {
        let params = GetOrderListParams {
            table_code: None,
            with_closed: true,
        };
        let v = self.client.run(&params).await.result.ok()?;
        OrderListRow::from_task_response(&v).into_iter().find(|r| {
            r.order_guid
                .as_deref()
                .is_some_and(|g| same_guid(g, bill_id))
        })
    }

    /// The order as a bill (falling back to GetOrderList for the totals), and the order.
    async fn read_bill(&self, bill_id: &str) -> Result<(Bill, Order), TaskFailure> {
        let order = self.read_order(bill_id).await.1?;
        let row = match order.total() {
            None => self.list_row(bill_id).await,
            Some(_) => None,
        };
        let bill = self.bill_of(bill_id, &order, row.as_ref()).ok_or_else(|| {
            unreadable(
                "WSA/NoTotal",
                "the order's total is not in GetOrder nor GetOrderList",
            )
        })?;
        Ok((bill, order))
    }
}

impl Restaurant {
    /// What a PayOrder's answer says: the same whether it came at once, after polling, or from
    /// a later look at the task.
    fn paid(&self, result: Result<Value, TaskFailure>) -> PosReply {
        match result {
            Ok(v) => PosReply::applied().closed(pay_closed_bill(
                self.cfg.agent_version,
                Order::from_task_response(&v).as_ref(),
            )),
            Err(f) => f.reply(),
        }
    }

    /// One look at the PayOrder task `guid` a posting left running: its answer, read as the
    /// posting's own would have been, or "pending" while it runs.
    async fn look_at_posting(&self, guid: &str) -> PosReply {
        let task = PayOrderParams::TASK_TYPE;
        let timeout = LOOK_TIMEOUT.min(self.client.task_deadline());
        match self.client.look(guid, task, timeout).await {
            Look::Answered(result) => {
                let evidence = match &result {
                    Ok(_) => format!("task {guid} answered: the payment is booked"),
                    Err(f) => format!("task {guid} answered {}: {}", f.code, f.text),
                };
                self.paid(result)
                    .reference(Some(guid.to_string()))
                    .evidence(evidence)
            }
            Look::Running(said) => PosReply::pending(guid.to_string(), self.client.poll_interval())
                .evidence(format!("task {guid} is still running ({said})")),
        }
    }
}

/// What the stored answer of the PayOrder `guid` decides, or (`Err`) why it decides nothing.
async fn stored_answer(r: &Restaurant, guid: &str) -> Result<PosReply, String> {
    let said = |what: &str| format!("GetTaskResponse {guid}: {what}");
    let inconclusive = |what: String| Err(said(&format!("{what} (inconclusive)")));
    let env = match r.client.get_task_response(guid).await {
        Ok(env) => env,
        Err(f) => return inconclusive(format!("{} {}", f.code, f.text)),
    };
    let about = env.about(guid, PayOrderParams::TASK_TYPE);
    if about == About::Other {
        return inconclusive(format!(
            "the answer is about task {} ({}), not this payment's",
            env.task_guid.as_deref().unwrap_or("?"),
            env.task_type.as_deref().unwrap_or("?")
        ));
    }
    if let Some(v) = &env.task_response {
        let closed = pay_closed_bill(r.cfg.agent_version, Order::from_task_response(v).as_ref());
        let why = said("the task answered with a taskResponse (payment applied)");
        return Ok(checked(Outcome::Applied, closed, None, why));
    }
    let Some(e) = &env.error else {
        return inconclusive("neither taskResponse nor error".into());
    };
    if e.is_awaiting_answer() {
        let f = PosFailure::ours(Substate::OtherError, "AwaitingAnswer", e.text());
        let why = said("AwaitingAnswer, the task is still running on the agent");
        return Ok(checked(Outcome::Unknown, false, Some(f), why));
    }
    // The task's stored answer (an agent error, or any error that names our PayOrder):
    // classified as the same answer to the PayOrder itself.
    if (e.has_agent_part() || about == About::Ours) && matches!(e.verdict(), Verdict::Rejected(_)) {
        let (code, text) = (e.pos_code(), e.text());
        let why = said(&format!(
            "the task was refused ({code}: {text}); nothing was booked"
        ));
        return Ok(checked(
            Outcome::Rejected,
            false,
            Some(e.pos_failure()),
            why,
        ));
    }
    inconclusive(format!("{} {}", e.pos_code(), e.text()))
}

#[tonic::async_trait]
impl PosConnector for WsaConnector {
    const KIND: &'static str = POS_KIND;
    const SETTINGS: &'static [Setting] = SETTINGS;
    type Restaurant = Restaurant;

    fn connect(&self, conn: &PosConnection) -> Result<Restaurant, String> {
        let cfg = WsaSettings::read(conn)?;
        let http = restaurant_client(&self.http, cfg.ca_pem.as_deref(), http_client)?;
        let client = WsaClient::new(http, &cfg);
        Ok(Restaurant {
            cfg,
            scale: conn.currency_scale,
            client,
        })
    }

    fn capabilities(&self, r: &Restaurant) -> Capabilities {
        let v1 = r.cfg.agent_version == AgentVersion::V1;
        Capabilities {
            amount_rule: if v1 {
                AmountRule::UpToDue
            } else {
                AmountRule::Exact
            },
            separate_close_step: v1,
            supports_tips: r.cfg.tips_currency_guid.is_some(),
            // White Server may run a task it timed out on until the task's own timeout is
            // over; the adapter's wait (that timeout plus the margin) covers it.
            settle_ms: u64::try_from(r.client.task_deadline().as_millis()).unwrap_or(u64::MAX),
            ..Capabilities::default()
        }
    }

    async fn get_bill(&self, r: &Restaurant, bill_id: &str) -> Result<Bill, PosFailure> {
        r.read_bill(bill_id)
            .await
            .map(|(b, _)| b)
            .map_err(|f| f.pos_failure())
    }

    async fn list_bills(&self, r: &Restaurant, table: Option<&str>) -> Listed {
        let params = GetOrderListParams {
            table_code: table.map(str::to_string),
            with_closed: false,
        };
        let rows = match r.client.run(&params).await.result {
            Ok(v) => OrderListRow::from_task_response(&v),
            Err(f) => return (Vec::new(), Some(f.pos_failure())),
        };
        let mut bills = Vec::new();
        for row in rows.iter().filter(|r| r.is_finished != Some(true)) {
            let Some(guid) = row.order_guid.as_deref() else {
                continue;
            };
            // GetOrder gives guests, dishes and waiter; the list row alone has only totals.
            match r.read_bill(guid).await {
                Ok((bill, _)) => bills.push(bill),
                Err(f) => return (bills, Some(f.pos_failure())),
            }
        }
        (bills, None)
    }

    async fn post_payment(&self, r: &Restaurant, p: &Posting) -> Result<PosReply, Invalid> {
        let cfg = &r.cfg;
        let mut payments: Vec<PaymentLine> = tender_lines(p, &cfg.currency_guid)
            .into_iter()
            .map(|t| PaymentLine {
                amount: t.amount,
                currency: t.tender_id,
                card_code: t.card_code,
            })
            .collect();
        match &cfg.tips_currency_guid {
            Some(cur) if !p.tips.is_zero() => payments.push(PaymentLine {
                amount: p.tips.value(),
                currency: cur.clone(),
                card_code: None,
            }),
            _ => tips_not_booked(p, "no tips_currency_guid configured"),
        }
        let params = PayOrderParams {
            order_guid: p.bill_id.clone(),
            payments,
            cash_station_id: cfg.cash_station_id,
            cashier_id: cfg.cashier_id,
            is_full_order_required: true,
        };
        // A caller that follows the task itself gets "pending" if it still runs after a short
        // wait (most tasks answer within it): this call then holds nothing while the agent
        // works (seconds, for thousands of payments at once).
        let reply = if p.may_pend {
            match r.client.run_or_submit(&params, INLINE_WAIT).await {
                Submitted::Answered(reply) => reply,
                Submitted::Running(guid) => {
                    return Ok(PosReply::pending(guid, r.client.poll_interval()));
                }
            }
        } else {
            r.client.run(&params).await
        };
        Ok(r.paid(reply.result).reference(reply.task_guid))
    }

    async fn close_bill(&self, r: &Restaurant, bill_id: &str, _payment_id: &str) -> PosReply {
        let (read_guid, read) = r.read_order(bill_id).await;
        let answer = |outcome, failure: Option<PosFailure>, guid: Option<String>| {
            PosReply {
                failure,
                ..PosReply::new(outcome)
            }
            .reference(guid)
        };
        // Closing is idempotent: an order already closed is a success.
        match &read {
            Ok(o) if o.is_completed() => return answer(Outcome::Applied, None, read_guid),
            Ok(o) if o.is_canceled() => {
                let text = format!(
                    "the order is {} in r_keeper and cannot be closed",
                    o.status_value().unwrap_or("Canceled")
                );
                return refused("WSA/OrderCanceled", text).reference(read_guid);
            }
            Err(f) if f.not_found => {
                return answer(Outcome::Rejected, Some(f.pos_failure()), read_guid);
            }
            _ => {}
        }
        if r.cfg.agent_version == AgentVersion::V1 {
            // Agent v1 has no CompleteOrder: r_keeper closes the order itself once the
            // prepayments cover it. Closing here only confirms it.
            return match read {
                Ok(o) => {
                    let due = o
                        .summ_to_pay()
                        .map_or_else(|| "an unknown amount".into(), |d| money_text(d, r.scale));
                    let text = format!(
                        "r_keeper agent v1 has no CompleteOrder: the order closes when its prepayments cover the total; it is still {} with {due} to pay",
                        o.status_value().unwrap_or("open")
                    );
                    let f = PosFailure::ours(Substate::CloseOrderBlocked, "WSA/v1NotClosed", text);
                    answer(Outcome::Rejected, Some(f), read_guid)
                }
                // Nothing was written: a read that failed is "not applied, try later".
                Err(f) => answer(
                    f.clone().read_only().outcome(),
                    Some(f.pos_failure()),
                    read_guid,
                ),
            };
        }
        let params = CompleteOrderParams {
            order_guid: bill_id.to_string(),
            cash_station_id: r.cfg.cash_station_id,
        };
        let reply = r.client.run(&params).await;
        // Refused: maybe because it is closed already (a race, a repeat).
        let completed = async {
            r.read_order(bill_id)
                .await
                .1
                .is_ok_and(|o| o.is_completed())
        };
        match closed_after_all(reply.result, completed, |_| Value::Null).await {
            Ok(_) => answer(Outcome::Applied, None, reply.task_guid),
            Err(f) => answer(f.outcome(), Some(f.pos_failure()), reply.task_guid),
        }
    }

    async fn check_payment(&self, r: &Restaurant, check: &Check) -> PosReply {
        if let (true, Some(guid)) = (check.awaiting_task, check.reference.as_deref()) {
            return r.look_at_posting(guid).await;
        }
        let mut found = Findings::default();
        // 1. The task's own answer, when we know its taskGuid.
        match check.reference.as_deref() {
            None => found.note("no taskGuid known"),
            Some(guid) => match stored_answer(r, guid).await {
                Ok(decided) => return decided,
                Err(inconclusive) => found.note(inconclusive),
            },
        }
        // 2. The order now, against the bill as read before posting.
        let (bill, order) = match r.read_bill(&check.bill_id).await {
            Ok(x) => x,
            Err(f) => {
                found.failed("the order could not be read", &f);
                found.note("outcome stays unknown");
                return found.answer(Outcome::Unknown, false);
            }
        };
        // Closed now only when r_keeper says so in the order's own status.
        let now = BillAmounts {
            closed: order.is_completed(),
            ..bill.amounts()
        };
        let j = judge_posting(check.bill_before.as_ref(), &now, check.amount.value());
        found.note(j.why);
        found.answer(j.outcome, j.closed)
    }
}

impl posgate_pos_kit::AdapterProcess for WsaConnector {
    const NAME: &'static str = "wsa";
    const TITLE: &'static str = "r_keeper WSA adapter";
    const DEFAULT_LISTEN: std::net::SocketAddr = posgate_pos_kit::run::localhost(50061);

    fn build() -> anyhow::Result<Self> {
        WsaConnector::new()
    }
}
