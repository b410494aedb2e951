//! The `PosAdapter` gRPC service for Tillypad XL.
//!
//! gRPC errors are only for our faults and bad input (unknown `restaurant_id`, a malformed
//! amount or points, an unknown `pos_options` key or value, a `bill_id` that is not a GUID);
//! everything Tillypad says comes back inside the response as a `PosFailure` with the
//! substate, the HTTP status as `pos_code` and Tillypad's text verbatim as `pos_text`.
//!
//! A restaurant comes from the request's `connection` when it carries one (built once per
//! connection and kept in a [`ConnectionCache`], so any replica serves any restaurant), else
//! from the static `[tillypad.restaurants]` configuration.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use posgate_core::{Money, Substate};
use posgate_pos_kit::Restaurants;
use posgate_proto::v1::pos_adapter_server::PosAdapter;
use posgate_proto::v1::{
    AdapterCloseBillRequest, AdapterCloseBillResponse, AdapterGetBillRequest,
    AdapterGetBillResponse, AdapterListBillsRequest, AdapterListBillsResponse, AmountRule,
    CheckPaymentRequest, CheckPaymentResponse, DescribeRequest, DescribeResponse, Outcome,
    PosConnection, PosFailure, PostPaymentRequest, PostPaymentResponse, SettingSpec, Tender,
    adapter_get_bill_response,
};
use rust_decimal::Decimal;
use tonic::{Request, Response, Status};

use crate::classify::Verdict;
use crate::client::{PayFailure, PaySuccess, TillypadClient};
use crate::config::{DeletePrechecks, SETTINGS, TillypadAdapterConfig, TillypadRestaurant};
use crate::wire::{PayGuest, guid_text, is_guid, sum_of_lines};

/// What `Describe` reports as `pos_kind`.
pub const POS_KIND: &str = "tillypad";
/// `pos_code` of GetBill / ListBills: Tillypad has no call to read a tab.
pub const CODE_UNSUPPORTED: &str = "tillypad/unsupported";
/// `pos_code` of CloseBill: paying closes the tab; there is no separate close.
pub const CODE_NO_CLOSE_STEP: &str = "tillypad/no-close-step";
/// `pos_code` of CheckPayment: an unanswered posting cannot be verified.
pub const CODE_UNVERIFIABLE: &str = "tillypad/unverifiable";
/// `pos_code` of a payment refused before sending for want of a pay type.
pub const CODE_NO_PAY_TYPE: &str = "tillypad/no-pay-type";

/// `pos_options` keys PostPayment accepts.
pub const POS_OPTION_KEYS: [&str; 4] = [
    "delete_prechecks",
    "pay_type_id",
    "points_type_id",
    "retry_delete_prechecks",
];
/// `pos_options.pay_type_id` value: use the tab's prepaid pay type (send no `payType_ID`).
pub const PREPAID: &str = "prepaid";

/// `details` keys of a PostPayment answer.
pub mod detail {
    /// `delete-prechecks` mode sent: `"0"`, `"1"` or `"2"`.
    pub const DELETE_PRECHECKS: &str = "delete_prechecks";
    /// The `payType_ID` sent, or `"prepaid"` (none sent: the tab's prepaid pay type).
    pub const PAY_TYPE_ID: &str = "pay_type_id";
    /// Points redeemed, as requested (only when points were requested).
    pub const POINTS_REQUESTED: &str = "points_requested";
    /// `DiscountSum.type_ID` sent (only when points were requested with a type).
    pub const POINTS_TYPE_ID: &str = "points_type_id";
    /// Compact JSON of the answer's `DiscountSums` (when present).
    pub const DISCOUNT_SUMS: &str = "discount_sums";
    /// Compact JSON of the answer's `AppliedDiscountSums` (when present).
    pub const APPLIED_DISCOUNT_SUMS: &str = "applied_discount_sums";
    /// Σ `AppliedDiscountSums[].sum` (when readable).
    pub const POINTS_APPLIED: &str = "points_applied";
    /// A note when the points applied differ from those requested.
    pub const POINTS_MISMATCH: &str = "points_mismatch";
    /// Tips of the request, which `/pay-guest` cannot book.
    pub const TIPS_NOT_BOOKED: &str = "tips_not_booked";
}

/// The Tillypad adapter: one HTTP client per restaurant, static or from a connection.
#[derive(Clone)]
pub struct TillypadAdapter {
    restaurants: Arc<Restaurants<Restaurant>>,
}

struct Restaurant {
    cfg: TillypadRestaurant,
    client: TillypadClient,
}

impl Restaurant {
    /// A checked restaurant and its HTTP client.
    fn build(cfg: TillypadRestaurant) -> Result<Self, String> {
        cfg.check().map_err(|e| e.to_string())?;
        let client = TillypadClient::new(&cfg)?;
        Ok(Restaurant { cfg, client })
    }
}

impl TillypadAdapter {
    /// Builds the adapter; validates each restaurant.
    pub fn new(cfg: TillypadAdapterConfig) -> anyhow::Result<Self> {
        let mut restaurants = BTreeMap::new();
        for (id, r) in cfg.restaurants {
            let built = Restaurant::build(r)
                .map_err(|e| anyhow::anyhow!("[tillypad.restaurants.{id}] {e}"))?;
            restaurants.insert(id, Arc::new(built));
        }
        Ok(TillypadAdapter {
            restaurants: Arc::new(Restaurants::new("[tillypad.restaurants]", restaurants)),
        })
    }

    /// The restaurant of a request: built from its `connection` when it carries one (and
    /// kept while that is unchanged), else the statically configured one.
    fn restaurant(
        &self,
        id: &str,
        connection: Option<&PosConnection>,
    ) -> Result<Arc<Restaurant>, Status> {
        self.restaurants.get(id, connection, |c| {
            let r = TillypadRestaurant::from_connection(c).and_then(Restaurant::build)?;
            tracing::info!(
                restaurant_id = %id,
                version = c.version,
                "tillypad restaurant built from its connection"
            );
            Ok(r)
        })
    }
}

/// `DescribeResponse.settings`, from the one table [`SETTINGS`].
pub fn setting_specs() -> Vec<SettingSpec> {
    posgate_pos_kit::setting_specs(SETTINGS)
}

/// Serves the adapter on `listener` until `shutdown` completes.
pub async fn serve(
    cfg: TillypadAdapterConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let auth = cfg.auth.clone();
    posgate_grpc::serve_adapter(
        "tillypad",
        &auth,
        TillypadAdapter::new(cfg)?,
        listener,
        shutdown,
    )
    .await
}

// ------------------------------------------------------------------------------------------
// Request checks.
// ------------------------------------------------------------------------------------------

/// The tab id: required, a GUID (Tillypad's `gest_ID`).
fn require_gest_id(bill_id: &str) -> Result<String, Status> {
    let b = bill_id.trim();
    if b.is_empty() {
        return Err(Status::invalid_argument("bill_id: is required"));
    }
    if !is_guid(b) {
        return Err(Status::invalid_argument(format!(
            "bill_id: {b:?} is not a Tillypad gest_ID (a GUID)"
        )));
    }
    Ok(guid_text(b))
}

fn parse_money(field: &str, s: &str, scale: u32) -> Result<Money, Status> {
    Money::parse(s.trim(), scale).map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

fn parse_optional(field: &str, s: &str, scale: u32) -> Result<Money, Status> {
    Money::parse_optional(s.trim(), scale)
        .map_err(|e| Status::invalid_argument(format!("{field}: {e}")))
}

/// Where the pay type comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PayTypeChoice {
    Id(String),
    /// No `payType_ID`: the tab's `gsdlv_pytp_ID_Prepaid`.
    Prepaid,
}

/// `pos_options`, checked.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    delete_prechecks: Option<DeletePrechecks>,
    retry_delete_prechecks: Option<DeletePrechecks>,
    pay_type: Option<PayTypeChoice>,
    points_type_id: Option<String>,
}

fn parse_options(opts: &HashMap<String, String>) -> Result<Options, Status> {
    let mut o = Options::default();
    let mut keys: Vec<&String> = opts.keys().collect();
    keys.sort();
    for key in keys {
        let value = opts.get(key).map(|v| v.trim()).unwrap_or_default();
        let mode = || {
            DeletePrechecks::parse(value).ok_or_else(|| {
                Status::invalid_argument(format!(
                    "pos_options.{key}: must be \"0\", \"1\" or \"2\", not {value:?}"
                ))
            })
        };
        match key.as_str() {
            "delete_prechecks" => o.delete_prechecks = Some(mode()?),
            "retry_delete_prechecks" => o.retry_delete_prechecks = Some(mode()?),
            "pay_type_id" => {
                o.pay_type = Some(if value.eq_ignore_ascii_case(PREPAID) {
                    PayTypeChoice::Prepaid
                } else if is_guid(value) {
                    PayTypeChoice::Id(guid_text(value))
                } else {
                    return Err(Status::invalid_argument(format!(
                        "pos_options.pay_type_id: must be a pay type GUID or \"{PREPAID}\", not {value:?}"
                    )));
                });
            }
            "points_type_id" => {
                if !is_guid(value) {
                    return Err(Status::invalid_argument(format!(
                        "pos_options.points_type_id: must be a points type GUID, not {value:?}"
                    )));
                }
                o.points_type_id = Some(guid_text(value));
            }
            other => {
                return Err(Status::invalid_argument(format!(
                    "pos_options.{other}: unknown option for Tillypad (accepted: {})",
                    POS_OPTION_KEYS.join(", ")
                )));
            }
        }
    }
    Ok(o)
}

/// The pay type named by the tenders, if any; the tenders must add up to `amount`.
fn tender_pay_type(
    tenders: &[Tender],
    amount: Money,
    scale: u32,
) -> Result<Option<String>, Status> {
    if tenders.is_empty() {
        return Ok(None);
    }
    let mut sum = Money::zero(scale);
    let mut ids: Vec<String> = Vec::new();
    for (i, t) in tenders.iter().enumerate() {
        let a = parse_money(&format!("tenders[{i}].amount"), &t.amount, scale)?;
        sum = sum
            .checked_add(a)
            .ok_or_else(|| Status::invalid_argument("tenders: the sum overflows"))?;
        let id = t.tender_id.trim();
        if id.is_empty() {
            continue;
        }
        if !is_guid(id) {
            return Err(Status::invalid_argument(format!(
                "tenders[{i}].tender_id: {id:?} is not a Tillypad pay type GUID"
            )));
        }
        let id = guid_text(id);
        if !ids.iter().any(|x| x.eq_ignore_ascii_case(&id)) {
            ids.push(id);
        }
    }
    if sum.value() != amount.value() {
        return Err(Status::invalid_argument(format!(
            "tenders: tender amounts add up to {sum}, not the amount {amount}"
        )));
    }
    if ids.len() > 1 {
        return Err(Status::invalid_argument(format!(
            "tenders: Tillypad books one pay type per payment; got {} different tender_ids",
            ids.len()
        )));
    }
    Ok(ids.pop())
}

/// The `delete-prechecks` mode of this posting. The first posting (`attempt` 1, or 0 = not
/// told) uses the payment's `delete_prechecks`, else the restaurant's. A retry uses the
/// payment's `retry_delete_prechecks`, else 0 (keep): modes 1 and 2 cancel the cashier's
/// prechecks, and a retry comes after Tillypad refused (the tab in payment at a terminal,
/// locked, a sum that differs) — re-cancelling on every retry would fight the cashier.
fn delete_prechecks_mode(
    attempt: u32,
    opts: &Options,
    cfg: &TillypadRestaurant,
) -> DeletePrechecks {
    if attempt <= 1 {
        opts.delete_prechecks.unwrap_or(cfg.delete_prechecks)
    } else {
        opts.retry_delete_prechecks.unwrap_or(DeletePrechecks::Keep)
    }
}

/// The pay type: the request's (`pos_options.pay_type_id`, else the tender's), else the
/// restaurant's default, else the tab's prepaid pay type if the restaurant allows it.
/// `None`: no pay type at all.
fn resolve_pay_type(
    option: Option<PayTypeChoice>,
    tender: Option<String>,
    cfg: &TillypadRestaurant,
) -> Result<Option<PayTypeChoice>, Status> {
    if let (Some(PayTypeChoice::Id(o)), Some(t)) = (&option, &tender)
        && !o.eq_ignore_ascii_case(t)
    {
        return Err(Status::invalid_argument(format!(
            "pos_options.pay_type_id: {o} differs from the tenders' tender_id {t}"
        )));
    }
    Ok(option
        .or(tender.map(PayTypeChoice::Id))
        .or_else(|| {
            cfg.default_pay_type_id
                .as_deref()
                .map(|p| PayTypeChoice::Id(guid_text(p)))
        })
        .or(cfg.allow_prepaid_pay_type.then_some(PayTypeChoice::Prepaid)))
}

// ------------------------------------------------------------------------------------------
// Answers.
// ------------------------------------------------------------------------------------------

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

fn failure(f: &PayFailure) -> PosFailure {
    PosFailure {
        substate: proto_substate(f.substate()) as i32,
        not_found: f.not_found,
        pos_code: f.code.clone(),
        pos_text: f.text.clone(),
        transient: !matches!(f.verdict, Verdict::Rejected(_)),
    }
}

fn our_failure(code: &str, text: impl Into<String>) -> PosFailure {
    PosFailure {
        substate: proto_substate(Substate::OtherError) as i32,
        not_found: false,
        pos_code: code.to_string(),
        pos_text: text.into(),
        transient: false,
    }
}

fn outcome_of(f: &PayFailure) -> Outcome {
    match f.verdict {
        Verdict::Rejected(_) => Outcome::Rejected,
        Verdict::Unknown => Outcome::Unknown,
        Verdict::Transient => Outcome::NotApplied,
    }
}

fn unsupported_read(bill: Option<&str>) -> PosFailure {
    our_failure(
        CODE_UNSUPPORTED,
        format!(
            "Tillypad has no documented call to read a guest tab (its web API creates tabs with /post-guest and pays them with /pay-guest){}; the adapter reports cannot_read_bills",
            bill.map(|b| format!(": tab {b} cannot be shown"))
                .unwrap_or_default()
        ),
    )
}

/// What `details` says about the points: requested vs applied.
fn points_details(
    details: &mut BTreeMap<String, String>,
    requested: Money,
    ok: &PaySuccess,
    scale: u32,
) {
    let show = |d: Decimal| {
        Money::from_decimal(d, scale).map_or_else(|| d.normalize().to_string(), |m| m.to_string())
    };
    if let Some(d) = &ok.discount_sums {
        details.insert(detail::DISCOUNT_SUMS.into(), d.to_string());
    }
    let applied = match &ok.applied_discount_sums {
        Some(a) => {
            details.insert(detail::APPLIED_DISCOUNT_SUMS.into(), a.to_string());
            Some(sum_of_lines(a))
        }
        None => None,
    };
    let note = match applied {
        None if !requested.is_zero() => Some(format!(
            "{requested} points were requested but Tillypad applied none: AppliedDiscountSums is absent (per Tillypad's docs, the points discount is not set up); the tab may be underpaid by {requested} — check it in Tillypad"
        )),
        None => None,
        Some(Err(why)) => Some(format!(
            "could not read the applied points from AppliedDiscountSums ({why}); {requested} were requested — check the tab in Tillypad"
        )),
        Some(Ok(a)) => {
            details.insert(detail::POINTS_APPLIED.into(), show(a));
            let r = requested.value();
            if a == r {
                None
            } else if requested.is_zero() {
                Some(format!(
                    "no points were requested but Tillypad applied {} (AppliedDiscountSums) — check the tab in Tillypad",
                    show(a)
                ))
            } else if a < r {
                Some(format!(
                    "{requested} points were requested but Tillypad applied {} (AppliedDiscountSums); the tab may be underpaid by {} — check it in Tillypad",
                    show(a),
                    show(r.saturating_sub(a))
                ))
            } else {
                Some(format!(
                    "{requested} points were requested but Tillypad applied {}, more than requested (AppliedDiscountSums) — check the tab in Tillypad",
                    show(a)
                ))
            }
        }
    };
    if let Some(n) = note {
        details.insert(detail::POINTS_MISMATCH.into(), n);
    }
}

// ------------------------------------------------------------------------------------------
// The service.
// ------------------------------------------------------------------------------------------

#[tonic::async_trait]
impl PosAdapter for TillypadAdapter {
    async fn describe(
        &self,
        request: Request<DescribeRequest>,
    ) -> Result<Response<DescribeResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        Ok(Response::new(DescribeResponse {
            settings: setting_specs(),
            pos_kind: POS_KIND.into(),
            // A successful /pay-guest pays and closes the tab.
            separate_close_step: false,
            // paySum must equal the tab's total less the points.
            amount_rule: AmountRule::Exact as i32,
            supports_tips: false,
            supports_points: true,
            supports_fiscal_data: false,
            currency_scale: r.cfg.currency_scale,
            cannot_read_bills: true,
            // Nothing to settle: an unknown outcome is never read back (the bill cannot be),
            // it goes to a person; 0 leaves the payment service's own setting.
            reconcile_settle_ms: 0,
        }))
    }

    async fn get_bill(
        &self,
        request: Request<AdapterGetBillRequest>,
    ) -> Result<Response<AdapterGetBillResponse>, Status> {
        let req = request.into_inner();
        self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let bill_id = require_gest_id(&req.bill_id)?;
        Ok(Response::new(AdapterGetBillResponse {
            result: Some(adapter_get_bill_response::Result::Failure(
                unsupported_read(Some(&bill_id)),
            )),
        }))
    }

    async fn list_bills(
        &self,
        request: Request<AdapterListBillsRequest>,
    ) -> Result<Response<AdapterListBillsResponse>, Status> {
        let req = request.into_inner();
        self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        Ok(Response::new(AdapterListBillsResponse {
            bills: vec![],
            failure: Some(unsupported_read(None)),
        }))
    }

    async fn post_payment(
        &self,
        request: Request<PostPaymentRequest>,
    ) -> Result<Response<PostPaymentResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let gest_id = require_gest_id(&req.bill_id)?;
        let scale = r.cfg.currency_scale;
        let amount = parse_money("amount", &req.amount, scale)?;
        let tips = parse_optional("tips", &req.tips, scale)?;
        let points = parse_optional("points", &req.points, scale)?;
        let opts = parse_options(&req.pos_options)?;
        let mode = delete_prechecks_mode(req.attempt, &opts, &r.cfg);
        let tender = tender_pay_type(&req.tenders, amount, scale)?;
        let pay_type = resolve_pay_type(opts.pay_type, tender, &r.cfg)?;

        let mut details = BTreeMap::new();
        details.insert(detail::DELETE_PRECHECKS.to_string(), mode.to_string());
        if let Some(p) = &pay_type {
            let shown = match p {
                PayTypeChoice::Id(id) => id.clone(),
                PayTypeChoice::Prepaid => PREPAID.to_string(),
            };
            details.insert(detail::PAY_TYPE_ID.to_string(), shown);
        }
        if !tips.is_zero() {
            // /pay-guest has no tips; paySum must equal the tab, so tips cannot ride on it.
            details.insert(detail::TIPS_NOT_BOOKED.to_string(), tips.to_string());
            tracing::info!(
                restaurant_id = %req.restaurant_id,
                payment_id = %req.payment_id,
                tips = %tips,
                "tips not booked: Tillypad /pay-guest has no tips"
            );
        }
        let points_type = opts
            .points_type_id
            .or_else(|| r.cfg.default_points_type_id.as_deref().map(guid_text));
        if !points.is_zero() {
            details.insert(detail::POINTS_REQUESTED.to_string(), points.to_string());
            if let Some(t) = &points_type {
                details.insert(detail::POINTS_TYPE_ID.to_string(), t.clone());
            }
        }

        let Some(pay_type) = pay_type else {
            // Tillypad would refuse with «Для проведения оплаты должен присутствовать либо
            // payType_ID, либо gsdlv_pytp_ID_Prepaid» unless the tab has a prepaid pay type,
            // which we cannot see: refuse here, before anything is sent.
            tracing::warn!(
                restaurant_id = %req.restaurant_id,
                bill_id = %gest_id,
                payment_id = %req.payment_id,
                "no pay type: nothing sent"
            );
            return Ok(Response::new(PostPaymentResponse {
                outcome: Outcome::Rejected as i32,
                failure: Some(our_failure(
                    CODE_NO_PAY_TYPE,
                    "no pay type: the request names none (tenders[].tender_id, pos_options.pay_type_id), the restaurant has no default_pay_type_id and allow_prepaid_pay_type is off; nothing was sent to Tillypad",
                )),
                bill_closed: false,
                pos_reference: String::new(),
                details: details.into_iter().collect(),
            }));
        };

        let call = PayGuest {
            gest_id: gest_id.clone(),
            pay_sum: amount,
            pay_type_id: match &pay_type {
                PayTypeChoice::Id(id) => Some(id.clone()),
                PayTypeChoice::Prepaid => None,
            },
            points: (!points.is_zero()).then(|| (points_type.clone(), points)),
            points_field: r.cfg.points_field,
        };
        tracing::info!(
            restaurant_id = %req.restaurant_id,
            bill_id = %gest_id,
            payment_id = %req.payment_id,
            amount = %amount,
            points = %points,
            delete_prechecks = mode.as_u8(),
            attempt = req.attempt,
            "posting payment"
        );
        let reply = r.client.pay_guest(mode.as_u8(), &call).await;
        let resp = match reply {
            Ok(ok) => {
                points_details(&mut details, points, &ok, scale);
                if let Some(note) = details.get(detail::POINTS_MISMATCH) {
                    tracing::warn!(
                        restaurant_id = %req.restaurant_id,
                        bill_id = %gest_id,
                        payment_id = %req.payment_id,
                        note = %note,
                        "points applied differ from those requested"
                    );
                }
                PostPaymentResponse {
                    outcome: Outcome::Applied as i32,
                    failure: None,
                    // A successful /pay-guest pays the tab and closes it.
                    bill_closed: true,
                    pos_reference: String::new(),
                    details: details.into_iter().collect(),
                }
            }
            Err(f) => PostPaymentResponse {
                outcome: outcome_of(&f) as i32,
                failure: Some(failure(&f)),
                bill_closed: false,
                pos_reference: String::new(),
                details: details.into_iter().collect(),
            },
        };
        tracing::info!(
            restaurant_id = %req.restaurant_id,
            bill_id = %gest_id,
            payment_id = %req.payment_id,
            outcome = ?Outcome::try_from(resp.outcome).unwrap_or(Outcome::Unspecified),
            "payment posted"
        );
        Ok(Response::new(resp))
    }

    async fn close_bill(
        &self,
        request: Request<AdapterCloseBillRequest>,
    ) -> Result<Response<AdapterCloseBillResponse>, Status> {
        let req = request.into_inner();
        self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let gest_id = require_gest_id(&req.bill_id)?;
        Ok(Response::new(AdapterCloseBillResponse {
            outcome: Outcome::Rejected as i32,
            failure: Some(our_failure(
                CODE_NO_CLOSE_STEP,
                format!(
                    "Tillypad closes a tab by paying it (/pay-guest); there is no separate close. Check tab {gest_id} in Tillypad"
                ),
            )),
            pos_reference: String::new(),
        }))
    }

    async fn check_payment(
        &self,
        request: Request<CheckPaymentRequest>,
    ) -> Result<Response<CheckPaymentResponse>, Status> {
        let req = request.into_inner();
        let r = self.restaurant(&req.restaurant_id, req.connection.as_ref())?;
        let gest_id = require_gest_id(&req.bill_id)?;
        let amount = parse_money("amount", &req.amount, r.cfg.currency_scale)?;
        // Reads, never writes: the only call that could tell is /pay-guest itself, which would
        // pay the tab a second time if the first one went through.
        let evidence = format!(
            "Tillypad has no call to read a guest tab or its receipts, and the adapter never re-sends /pay-guest to find out (that would pay twice). Check tab {gest_id} in Tillypad: a receipt «Оплачен» of {amount} means payment {} was booked; an open tab means it was not",
            req.payment_id
        );
        Ok(Response::new(CheckPaymentResponse {
            outcome: Outcome::Unknown as i32,
            bill_closed: false,
            failure: Some(our_failure(
                CODE_UNVERIFIABLE,
                "Tillypad cannot be asked whether a payment was booked; a person must check the tab",
            )),
            evidence,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAY: &str = "3E2A6F10-8C4B-4D7A-9B15-2F6C0D1A7E01";
    const OTHER: &str = "5B7C9D2E-1F3A-4B6C-8D9E-0A1B2C3D4E5F";

    fn opts(kv: &[(&str, &str)]) -> Result<Options, Status> {
        parse_options(
            &kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn m(s: &str) -> Money {
        Money::parse(s, 2).unwrap()
    }

    #[test]
    fn options_are_checked_naming_the_key() {
        let o = opts(&[
            ("delete_prechecks", "2"),
            ("pay_type_id", "Prepaid"),
            ("points_type_id", "{60d367b5-15d2-d24d-8a74-a28f40c8cb9d}"),
        ])
        .unwrap();
        assert_eq!(o.delete_prechecks, Some(DeletePrechecks::DeleteUnpaid));
        assert_eq!(o.pay_type, Some(PayTypeChoice::Prepaid));
        assert_eq!(
            o.points_type_id.as_deref(),
            Some("60d367b5-15d2-d24d-8a74-a28f40c8cb9d")
        );
        for (kv, field) in [
            (("delete_prechecks", "3"), "pos_options.delete_prechecks"),
            (("delete_prechecks", ""), "pos_options.delete_prechecks"),
            (("pay_type_id", "card"), "pos_options.pay_type_id"),
            (("points_type_id", "x"), "pos_options.points_type_id"),
            (("delete-prechecks", "1"), "pos_options.delete-prechecks"),
            (
                ("retry_delete_prechecks", "5"),
                "pos_options.retry_delete_prechecks",
            ),
        ] {
            let e = opts(&[kv]).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            assert!(e.message().starts_with(field), "{}", e.message());
        }
    }

    #[test]
    fn retries_keep_the_prechecks_unless_the_payment_says_otherwise() {
        use DeletePrechecks::{DeleteAll, DeleteUnpaid, Keep};
        let mut cfg = TillypadRestaurant::new("http://x");
        cfg.delete_prechecks = DeleteUnpaid;
        let none = Options::default();
        let first = opts(&[("delete_prechecks", "1")]).unwrap();
        let both = opts(&[("delete_prechecks", "1"), ("retry_delete_prechecks", "2")]).unwrap();
        // (attempt, options) → mode; attempt 0 = an older caller that does not say.
        for (attempt, o, want) in [
            (0, &none, DeleteUnpaid),
            (1, &none, DeleteUnpaid),
            (2, &none, Keep),
            (25, &none, Keep),
            (1, &first, DeleteAll),
            (2, &first, Keep),
            (1, &both, DeleteAll),
            (2, &both, DeleteUnpaid),
        ] {
            assert_eq!(
                delete_prechecks_mode(attempt, o, &cfg),
                want,
                "attempt {attempt}, {o:?}"
            );
        }
    }

    #[test]
    fn pay_type_precedence() {
        let mut cfg = TillypadRestaurant::new("http://x");
        assert_eq!(resolve_pay_type(None, None, &cfg).unwrap(), None);
        cfg.allow_prepaid_pay_type = true;
        assert_eq!(
            resolve_pay_type(None, None, &cfg).unwrap(),
            Some(PayTypeChoice::Prepaid)
        );
        cfg.default_pay_type_id = Some(format!("{{{PAY}}}"));
        assert_eq!(
            resolve_pay_type(None, None, &cfg).unwrap(),
            Some(PayTypeChoice::Id(PAY.into()))
        );
        assert_eq!(
            resolve_pay_type(None, Some(OTHER.into()), &cfg).unwrap(),
            Some(PayTypeChoice::Id(OTHER.into()))
        );
        assert_eq!(
            resolve_pay_type(Some(PayTypeChoice::Prepaid), Some(OTHER.into()), &cfg).unwrap(),
            Some(PayTypeChoice::Prepaid)
        );
        let e = resolve_pay_type(
            Some(PayTypeChoice::Id(PAY.into())),
            Some(OTHER.into()),
            &cfg,
        )
        .unwrap_err();
        assert!(e.message().starts_with("pos_options.pay_type_id"));
    }

    #[test]
    fn tenders_name_one_pay_type_and_add_up() {
        let t = |id: &str, a: &str| Tender {
            tender_id: id.into(),
            amount: a.into(),
            card_code: String::new(),
        };
        assert_eq!(tender_pay_type(&[], m("10"), 2).unwrap(), None);
        assert_eq!(
            tender_pay_type(&[t(PAY, "4"), t("", "6")], m("10"), 2).unwrap(),
            Some(PAY.to_string())
        );
        let e = tender_pay_type(&[t(PAY, "4"), t(OTHER, "6")], m("10"), 2).unwrap_err();
        assert!(e.message().starts_with("tenders:"), "{}", e.message());
        let e = tender_pay_type(&[t(PAY, "4")], m("10"), 2).unwrap_err();
        assert!(e.message().starts_with("tenders:"), "{}", e.message());
        let e = tender_pay_type(&[t("card", "10")], m("10"), 2).unwrap_err();
        assert!(
            e.message().starts_with("tenders[0].tender_id"),
            "{}",
            e.message()
        );
    }

    fn ok(applied: Option<&str>) -> PaySuccess {
        PaySuccess {
            discount_sums: Some(serde_json::from_str(r#"[{"type_ID":"a","sum":100.00}]"#).unwrap()),
            applied_discount_sums: applied.map(|a| serde_json::from_str(a).unwrap()),
        }
    }

    #[test]
    fn points_mismatch_is_reported() {
        let mut d = BTreeMap::new();
        points_details(
            &mut d,
            m("100"),
            &ok(Some(r#"[{"type_ID":"b","sum":100}]"#)),
            2,
        );
        assert_eq!(d[detail::POINTS_APPLIED], "100.00");
        let ds: serde_json::Value = serde_json::from_str(&d[detail::DISCOUNT_SUMS]).unwrap();
        assert_eq!(ds[0]["type_ID"], "a");
        assert!(d[detail::DISCOUNT_SUMS].contains(r#""sum":100.00"#));
        assert!(!d[detail::DISCOUNT_SUMS].contains(' '), "compact");
        assert!(!d.contains_key(detail::POINTS_MISMATCH));

        let mut d = BTreeMap::new();
        points_details(
            &mut d,
            m("100"),
            &ok(Some(r#"[{"type_ID":"b","sum":"60.5"}]"#)),
            2,
        );
        assert!(
            d[detail::POINTS_MISMATCH].contains("applied 60.50"),
            "{d:?}"
        );
        assert!(
            d[detail::POINTS_MISMATCH].contains("underpaid by 39.50"),
            "{d:?}"
        );

        let mut d = BTreeMap::new();
        points_details(&mut d, m("100"), &ok(None), 2);
        assert!(d[detail::POINTS_MISMATCH].contains("AppliedDiscountSums is absent"));
        assert!(!d.contains_key(detail::APPLIED_DISCOUNT_SUMS));

        let mut d = BTreeMap::new();
        points_details(&mut d, m("0"), &ok(Some(r#"[]"#)), 2);
        assert_eq!(d[detail::POINTS_APPLIED], "0.00");
        assert!(!d.contains_key(detail::POINTS_MISMATCH));

        let mut d = BTreeMap::new();
        points_details(&mut d, m("0"), &ok(Some(r#"[{"sum": 5}]"#)), 2);
        assert!(d[detail::POINTS_MISMATCH].starts_with("no points were requested"));

        let mut d = BTreeMap::new();
        points_details(&mut d, m("10"), &ok(Some(r#"[{"sum": "x"}]"#)), 2);
        assert!(d[detail::POINTS_MISMATCH].starts_with("could not read"));
    }

    #[test]
    fn gest_id_must_be_a_guid() {
        assert_eq!(
            require_gest_id(" {8F0E6B52-3C1D-4A7E-9B20-000000000978} ").unwrap(),
            "8F0E6B52-3C1D-4A7E-9B20-000000000978"
        );
        assert!(
            require_gest_id("")
                .unwrap_err()
                .message()
                .starts_with("bill_id")
        );
        assert!(
            require_gest_id("12")
                .unwrap_err()
                .message()
                .starts_with("bill_id")
        );
    }

    #[test]
    fn a_connection_is_built_once_and_anew_when_it_changes() {
        let adapter = TillypadAdapter::new(TillypadAdapterConfig::default()).unwrap();
        let mut conn = PosConnection {
            settings: [
                ("base_url", "http://10.0.0.5:8090"),
                ("default_pay_type_id", PAY),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            secrets: HashMap::new(),
            currency_scale: 2,
            version: 1,
        };
        let first = adapter.restaurant("r1", Some(&conn)).unwrap();
        let again = adapter.restaurant("r1", Some(&conn)).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "kept while unchanged");
        // Clones of the adapter (one per gRPC connection) share the cache.
        let shared = adapter.clone().restaurant("r1", Some(&conn)).unwrap();
        assert!(Arc::ptr_eq(&first, &shared));

        conn.settings
            .insert("default_pay_type_id".into(), OTHER.into());
        let changed = adapter.restaurant("r1", Some(&conn)).unwrap();
        assert!(!Arc::ptr_eq(&first, &changed), "built anew");
        assert_eq!(changed.cfg.default_pay_type_id.as_deref(), Some(OTHER));

        // Another restaurant with the same connection is its own entry.
        let other = adapter.restaurant("r2", Some(&conn)).unwrap();
        assert!(!Arc::ptr_eq(&changed, &other));
        assert_eq!(adapter.restaurants.connected(), 2);

        // Without a connection, only the static restaurants (none here).
        let e = adapter.restaurant("r1", None).err().unwrap();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
    }
}
