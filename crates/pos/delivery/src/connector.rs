//! The r_k Delivery connector: posgate's five questions asked of r_k Delivery.
//!
//! Why it exists: what only r_k Delivery does lives here — an order is read before every write
//! (not in r_keeper yet: not applied; completed or cancelled: refused), `/pay` books one line
//! per tender, `/complete` closes, an order becomes a bill (its paid state where the answer
//! shows one), the order search lists bills, and an unanswered `/pay` is decided by
//! [`crate::reconcile`]. Everything around it (the gRPC contract, the connection cache, amounts
//! at the restaurant's scale, the wire form) is the adapter kit's.

use anyhow::Context;
use posgate_core::pos::{
    Bill, BillStatus, Capabilities, Check, Dish, Outcome, PosFailure, PosReply, Posting,
};
use posgate_pos_kit::connector::{closed_after_all, none_listed, refused};
use posgate_pos_kit::http::restaurant_client;
use posgate_pos_kit::{
    Findings, Invalid, Listed, PosConnector, Setting, one_guest, tender_lines, tips_not_booked,
};
use posgate_proto::v1::PosConnection;
use posgate_rkeeper::Verdict;
use rust_decimal::Decimal;
use time::{OffsetDateTime, UtcOffset};

use crate::classify::Failure;
use crate::client::{DeliveryClient, http_client};
use crate::reconcile::{self, Decision, Evidence};
use crate::settings::{DeliverySettings, SETTINGS};
use crate::wire::{DishLine, Order, Paid, PayLine, status};
use posgate_pos_kit::clock::at_offset;

/// What `Describe` reports as `pos_kind`.
pub const POS_KIND: &str = "r_keeper_delivery";
/// `ListBills` reads at most this many orders of a search.
pub const MAX_LISTED: usize = 200;
/// Longest `bill_id` (an r_k Delivery `orderId`) accepted.
const MAX_BILL_ID: usize = 64;

/// The r_k Delivery connector: one HTTP connection pool shared by every restaurant that trusts
/// only the public certificate authorities.
pub struct DeliveryConnector {
    shared: reqwest::Client,
}

impl DeliveryConnector {
    pub fn new() -> anyhow::Result<Self> {
        Ok(DeliveryConnector {
            shared: http_client(None).context("building the HTTP client")?,
        })
    }
}

/// A restaurant built from its connection: its settings, its client (and token cache).
pub struct Restaurant {
    settings: DeliverySettings,
    client: DeliveryClient,
    offset: UtcOffset,
    scale: u32,
}

/// An `orderId`: it goes into URL paths, so only letters, digits, `-` and `_`.
fn order_id(raw: &str) -> Result<&str, String> {
    posgate_pos_kit::path_id(raw, MAX_BILL_ID, "an r_k Delivery orderId")
}

/// A test of an order's status.
type OrderIs = fn(&Order) -> bool;

/// An order's status as a bill's, first match wins; every other status, including ones added
/// later, is open.
const STATUSES: &[(OrderIs, BillStatus)] = &[
    (Order::is_cancelled, BillStatus::Canceled),
    // 11, or without an id any other sign of completion.
    (Order::is_completed, BillStatus::Closed),
    // Below 4 (but 12): not in r_keeper yet.
    (Order::is_not_transferred, BillStatus::NotReady),
];

/// An order's status as a bill's, by [`STATUSES`].
pub fn bill_status(o: &Order) -> BillStatus {
    STATUSES
        .iter()
        .find(|(is, _)| is(o))
        .map_or(BillStatus::Open, |(_, s)| *s)
}

fn dish_of(d: &DishLine, scale: u32) -> Dish {
    posgate_pos_kit::dish(
        d.id.clone(),
        d.name.clone(),
        d.price,
        d.quantity,
        d.amount,
        scale,
    )
}

impl Restaurant {
    /// The order as a bill. `total` is `amount` (what the guest pays, after discounts).
    /// r_k Delivery shows no paid state in its documented answers: unless the answer has one
    /// (`payments[]`, `paidAmount`, `isPaid`, ... see [`Order::paid`]), an open order counts as
    /// unpaid (`due = amount`) and a completed one as paid. `None`: the order has no amount.
    pub fn bill_of(&self, bill_id: &str, o: &Order) -> Option<Bill> {
        let total = o.amount?;
        let zero = Decimal::ZERO;
        let status = bill_status(o);
        let paid = match o.paid() {
            Paid::Known(p) => p,
            Paid::NotShown => zero,
        };
        let (paid, due) = match status {
            BillStatus::Closed => (total, zero),
            BillStatus::Canceled => (paid, zero),
            _ => {
                let paid = paid.max(zero);
                (paid, total.checked_sub(paid).unwrap_or(zero).max(zero))
            }
        };
        Some(Bill {
            bill_id: bill_id.to_string(),
            total,
            amount_due: due,
            paid,
            status,
            pos_status: o.status_text(),
            bill_printed: false,
            order_number: o.order_id.clone().unwrap_or_else(|| bill_id.to_string()),
            table: o.table_code.clone().unwrap_or_default(),
            waiter: String::new(),
            waiter_id: String::new(),
            // r_k Delivery orders have no guest split: one guest with every dish.
            guests: one_guest(o.dishes.iter().map(|d| dish_of(d, self.scale)).collect()),
            currency: self.settings.currency_guid.clone(),
        })
    }

    async fn read_bill(&self, bill_id: &str) -> Result<(Bill, Order), Failure> {
        let (order, request_id) = self.client.get_order(bill_id).await?;
        let bill = self.bill_of(bill_id, &order).ok_or_else(|| {
            let text = "the r_k Delivery order has no amount";
            Failure::ours(Verdict::Transient, "delivery/no_amount", text)
                .with_request_id(request_id)
        })?;
        Ok((bill, order))
    }

    /// `/complete`; a refusal of an order that turns out to be completed already (a repeat,
    /// a race) is a success.
    async fn complete(&self, bill_id: &str) -> Result<Option<String>, Failure> {
        let completed = async {
            let read = self.client.get_order(bill_id).await;
            read.is_ok_and(|(o, _)| o.is_completed())
        };
        closed_after_all(self.client.complete(bill_id).await, completed, |f| {
            f.request_id
        })
        .await
    }

    /// The order search: open orders of the last `list_lookback_hours`, of `restaurant_guid`.
    fn search_query(&self) -> Vec<(String, String)> {
        let from = OffsetDateTime::now_utc()
            - time::Duration::hours(i64::from(self.settings.list_lookback_hours.max(1)));
        let statuses = (status::TRANSFERRED_TO_KITCHEN..status::COMPLETED).chain([13]);
        let mut query: Vec<(String, String)> = statuses
            .map(|s| ("includeStatusIds".to_string(), s.to_string()))
            .chain([
                ("sortOrder".into(), "desc".into()),
                ("orderBy".into(), "updatedAt".into()),
                ("fromDate".into(), at_offset(from, self.offset)),
            ])
            .collect();
        if let Some(g) = self
            .settings
            .restaurant_guid
            .as_deref()
            .filter(|g| !g.trim().is_empty())
        {
            query.push(("restaurantId".into(), g.trim().to_string()));
        }
        query
    }
}

/// A posting's answer carries its `requestId` in the details too.
fn posted(mut reply: PosReply) -> PosReply {
    if let Some(id) = &reply.reference {
        reply.details.insert("requestId".into(), id.clone());
    }
    reply
}

#[tonic::async_trait]
impl PosConnector for DeliveryConnector {
    const KIND: &'static str = POS_KIND;
    const SETTINGS: &'static [Setting] = SETTINGS;
    type Restaurant = Restaurant;

    fn connect(&self, connection: &PosConnection) -> Result<Restaurant, String> {
        let settings = DeliverySettings::from_connection(connection)?;
        let http = restaurant_client(&self.shared, settings.ca_pem.as_deref(), http_client)?;
        Ok(Restaurant {
            client: DeliveryClient::new(http, &settings),
            offset: settings.offset().unwrap_or(UtcOffset::UTC),
            scale: connection.currency_scale,
            settings,
        })
    }

    fn capabilities(&self, r: &Restaurant) -> Capabilities {
        Capabilities {
            // `/pay` books the money; `/complete` closes the order in r_keeper and r_k Delivery.
            separate_close_step: true,
            // r_k Delivery (and White Server behind it) may still apply an unanswered /pay
            // until about our own request timeout has passed.
            settle_ms: r.settings.settle_ms(),
            // Exact amounts; no tips, points or fiscal data; GET /orders/{orderId} reads the
            // order before every posting.
            ..Capabilities::default()
        }
    }

    fn bill_id(&self, raw: &str) -> Result<String, String> {
        order_id(raw).map(str::to_string)
    }

    async fn get_bill(&self, r: &Restaurant, bill_id: &str) -> Result<Bill, PosFailure> {
        r.read_bill(bill_id)
            .await
            .map(|(bill, _)| bill)
            .map_err(|f| f.pos_failure())
    }

    async fn list_bills(&self, r: &Restaurant, table: Option<&str>) -> Listed {
        if !r.settings.list_bills {
            return none_listed(
                "delivery/list_disabled",
                "listing bills is turned off for this restaurant (list_bills = false); ask for a bill by its orderId",
            );
        }
        let rows = match r.client.search(&r.search_query()).await {
            Ok(rows) => rows,
            Err(f) if matches!(f.code.as_str(), "HTTP/404" | "HTTP/405" | "HTTP/501") => {
                return none_listed(
                    "delivery/search_unsupported",
                    format!(
                        "r_k Delivery does not offer the order search here ({}); ask for a bill by its orderId",
                        f.code
                    ),
                );
            }
            Err(f) => return (vec![], Some(f.pos_failure())),
        };
        let mut bills = Vec::new();
        for row in rows.iter().take(MAX_LISTED) {
            let Some(listed) = Order::from_value(row) else {
                continue;
            };
            let Some(id) = listed.order_id.clone().filter(|id| order_id(id).is_ok()) else {
                continue;
            };
            // A search row with a status and an amount is the order; otherwise read it.
            let order = if listed.status_id.is_some() && listed.amount.is_some() {
                listed
            } else {
                match r.client.get_order(&id).await {
                    Ok((o, _)) => o,
                    Err(f) => return (bills, Some(f.pos_failure())),
                }
            };
            // Only open orders of this restaurant (when both name it) and of the table asked for.
            let at = |want: &str, got: &str| got.trim().eq_ignore_ascii_case(want);
            let other_restaurant = match (&r.settings.restaurant_guid, &order.restaurant_id) {
                (Some(want), Some(got)) => !at(want.trim(), got),
                _ => false,
            };
            let at_table = |t: &str| order.table_code.as_deref().is_some_and(|c| at(t, c));
            if !other_restaurant
                && table.is_none_or(at_table)
                && bill_status(&order) == BillStatus::Open
            {
                bills.extend(r.bill_of(&id, &order));
            }
        }
        (bills, None)
    }

    async fn post_payment(&self, r: &Restaurant, p: &Posting) -> Result<PosReply, Invalid> {
        let paid_at = at_offset(OffsetDateTime::now_utc(), r.offset);
        // One line per tender, in the restaurant's currency unless the tender names one.
        let lines: Vec<PayLine> = tender_lines(p, &r.settings.currency_guid)
            .into_iter()
            .map(|t| PayLine {
                code: t.tender_id,
                amount: t.amount,
                paid_at: paid_at.clone(),
                name: r.settings.currency_name.clone(),
            })
            .collect();
        tips_not_booked(p, "r_k Delivery's /pay must equal the order's amount");
        let bill_id = p.bill_id.as_str();
        // Read before writing: an order not in r_keeper yet, or already final, is not paid.
        let order = match r.client.get_order(bill_id).await {
            Ok((o, _)) => o,
            // Nothing was sent: nothing can be unknown.
            Err(f) => return Ok(posted(f.read_only().reply())),
        };
        if order.is_not_transferred() {
            let why = format!(
                "order {bill_id} is at status {}, not yet transferred to the kitchen (4): it is not in r_keeper and cannot be paid yet; auto-accept or an operator moves it on, then posting again succeeds",
                order.status_label()
            );
            // Passing: not applied, posted again later.
            return Ok(Failure::ours(Verdict::Transient, "delivery/not_transferred", why).reply());
        }
        if order.is_completed() || order.is_cancelled() {
            return Ok(refused(
                "delivery/final_status",
                format!(
                    "order {bill_id} is {} in r_k Delivery (a final status); nothing was posted",
                    order.status_label()
                ),
            ));
        }
        // Paying never closes a Delivery order: /complete does.
        Ok(posted(match r.client.pay(bill_id, &lines).await {
            Ok(rid) => PosReply::applied().reference(rid),
            Err(f) => f.reply(),
        }))
    }

    async fn close_bill(&self, r: &Restaurant, bill_id: &str, _payment_id: &str) -> PosReply {
        // Closing is idempotent: an order already completed is a success.
        match r.client.get_order(bill_id).await {
            Ok((o, rid)) if o.is_completed() => return PosReply::applied().reference(rid),
            Ok((o, rid)) if o.is_cancelled() => {
                let why = format!(
                    "order {bill_id} is {} in r_k Delivery and cannot be completed",
                    o.status_label()
                );
                return refused("delivery/cancelled", why).reference(rid);
            }
            Err(f) if f.not_found => {
                return PosReply::failed(Outcome::Rejected, f.pos_failure())
                    .reference(f.request_id.clone());
            }
            // Not readable now: /complete decides.
            _ => {}
        }
        match r.complete(bill_id).await {
            Ok(rid) => PosReply::applied().reference(rid),
            Err(f) => f.reply(),
        }
    }

    async fn check_payment(&self, r: &Restaurant, check: &Check) -> PosReply {
        let bill_id = check.bill_id.as_str();
        let mut found = Findings::default();
        if let Some(reference) = &check.reference {
            found.note(format!(
                "requestId {reference} of the posting cannot be looked up in r_k Delivery"
            ));
        }
        let evidence = match r.read_bill(bill_id).await {
            Ok((now, order)) => {
                let (e, w) = reconcile::from_order(
                    check.bill_before.as_ref(),
                    &order,
                    &now,
                    check.amount,
                    r.scale,
                );
                found.note(w);
                e
            }
            Err(f) => {
                found.failed("the order could not be read", &f);
                Evidence::Unreadable
            }
        };
        let mut decision = reconcile::decide(evidence, check.close);
        if decision == Decision::ProbeWithComplete {
            tracing::info!(
                bill_id,
                payment_id = %check.payment_id,
                "the order does not tell whether /pay was applied: asking /complete"
            );
            let result = r.complete(bill_id).await;
            let (e, w) = reconcile::from_complete(&result);
            found.note(w);
            if let Err(f) = &result {
                found.failure = Some(f.pos_failure());
            }
            decision = reconcile::decide(e, check.close);
        }
        match decision {
            Decision::Answer(outcome, bill_closed) => found.answer(outcome, bill_closed),
            // The table never asks twice; if it did, nothing is known.
            Decision::ProbeWithComplete => found.answer(Outcome::Unknown, false),
        }
    }
}

impl posgate_pos_kit::AdapterProcess for DeliveryConnector {
    const NAME: &'static str = "delivery";
    const TITLE: &'static str = "r_k Delivery adapter";
    const DEFAULT_LISTEN: std::net::SocketAddr = posgate_pos_kit::run::localhost(50062);

    fn build() -> anyhow::Result<Self> {
        DeliveryConnector::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posting_carries_its_request_id_in_the_details() {
        let r = posted(PosReply::applied().reference(Some("0HM:1".into())));
        assert_eq!(
            r.details.get("requestId").map(String::as_str),
            Some("0HM:1")
        );
        assert!(posted(PosReply::applied()).details.is_empty());
    }
}
