//! Tillypad XL as a [`PosConnector`]: what posgate's five questions mean for a POS whose only
//! call is `/pay-guest`.
//!
//! Why it exists: everything around the questions (the gRPC contract, the connection cache,
//! amounts at the restaurant's scale, tenders adding up, the wire form of answers) is the
//! adapter kit's; what is Tillypad's own is here — the tab id is a GUID, `pos_options`, the
//! pay type and `delete-prechecks` mode of a posting, the points report in `details`, and the
//! answers to the questions Tillypad cannot be asked (reading a tab, closing one, checking an
//! unanswered posting), given without calling it.

use std::collections::BTreeMap;

use posgate_core::pos::{
    Bill, Capabilities, Check, Outcome, PosFailure, PosReply, Posting, Tender,
};
use posgate_core::rules::AmountRule;
use posgate_core::{Money, Substate};
use posgate_pos_kit::connector::refused;
use posgate_pos_kit::{Invalid, Listed, PosConnector, Setting, tips_not_booked};
use posgate_proto::v1::PosConnection;
use rust_decimal::Decimal;

use crate::client::{PaySuccess, TillypadClient};
use crate::settings::{DeletePrechecks, SETTINGS, TillypadSettings};
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

/// The Tillypad connector: one value serves every Tillypad restaurant.
#[derive(Debug, Clone, Copy, Default)]
pub struct TillypadConnector;

impl TillypadConnector {
    pub fn new() -> Self {
        TillypadConnector
    }
}

/// A restaurant built from its connection: its checked settings and its HTTP client.
pub struct Connected {
    pub settings: TillypadSettings,
    client: TillypadClient,
}

// ------------------------------------------------------------------------------------------
// Request checks.
// ------------------------------------------------------------------------------------------

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

fn parse_options(opts: &BTreeMap<String, String>) -> Result<Options, Invalid> {
    let mut o = Options::default();
    for (key, value) in opts {
        let field = format!("pos_options.{key}");
        let value = value.trim();
        let mode = || {
            DeletePrechecks::parse(value).ok_or_else(|| {
                Invalid::field(
                    &field,
                    format!("must be \"0\", \"1\" or \"2\", not {value:?}"),
                )
            })
        };
        match key.as_str() {
            "delete_prechecks" => o.delete_prechecks = Some(mode()?),
            "retry_delete_prechecks" => o.retry_delete_prechecks = Some(mode()?),
            "pay_type_id" if value.eq_ignore_ascii_case(PREPAID) => {
                o.pay_type = Some(PayTypeChoice::Prepaid)
            }
            "pay_type_id" if is_guid(value) => {
                o.pay_type = Some(PayTypeChoice::Id(guid_text(value)))
            }
            "pay_type_id" => {
                return Err(Invalid::field(
                    &field,
                    format!("must be a pay type GUID or \"{PREPAID}\", not {value:?}"),
                ));
            }
            "points_type_id" if is_guid(value) => o.points_type_id = Some(guid_text(value)),
            "points_type_id" => {
                return Err(Invalid::field(
                    &field,
                    format!("must be a points type GUID, not {value:?}"),
                ));
            }
            _ => {
                return Err(Invalid::field(
                    &field,
                    format!(
                        "unknown option for Tillypad (accepted: {})",
                        POS_OPTION_KEYS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(o)
}

/// The pay type named by the tenders, if any (the kit has checked that they add up).
fn tender_pay_type(tenders: &[Tender]) -> Result<Option<String>, Invalid> {
    let mut ids: Vec<String> = Vec::new();
    for (i, t) in tenders.iter().enumerate() {
        let id = t.tender_id.trim();
        if id.is_empty() {
            continue;
        }
        if !is_guid(id) {
            return Err(Invalid::field(
                &format!("tenders[{i}].tender_id"),
                format!("{id:?} is not a Tillypad pay type GUID"),
            ));
        }
        let id = guid_text(id);
        if !ids.iter().any(|x| x.eq_ignore_ascii_case(&id)) {
            ids.push(id);
        }
    }
    if ids.len() > 1 {
        return Err(Invalid::field(
            "tenders",
            format!(
                "Tillypad books one pay type per payment; got {} different tender_ids",
                ids.len()
            ),
        ));
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
    settings: &TillypadSettings,
) -> DeletePrechecks {
    if attempt <= 1 {
        opts.delete_prechecks.unwrap_or(settings.delete_prechecks)
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
    settings: &TillypadSettings,
) -> Result<Option<PayTypeChoice>, Invalid> {
    if let (Some(PayTypeChoice::Id(o)), Some(t)) = (&option, &tender)
        && !o.eq_ignore_ascii_case(t)
    {
        return Err(Invalid::field(
            "pos_options.pay_type_id",
            format!("{o} differs from the tenders' tender_id {t}"),
        ));
    }
    Ok(option
        .or(tender.map(PayTypeChoice::Id))
        .or_else(|| {
            settings
                .default_pay_type_id
                .as_deref()
                .map(|p| PayTypeChoice::Id(guid_text(p)))
        })
        .or(settings
            .allow_prepaid_pay_type
            .then_some(PayTypeChoice::Prepaid)))
}

// ------------------------------------------------------------------------------------------
// Answers.
// ------------------------------------------------------------------------------------------

fn ours(code: &str, text: impl Into<String>) -> PosFailure {
    PosFailure::ours(Substate::OtherError, code, text)
}

fn unsupported_read(bill: Option<&str>) -> PosFailure {
    ours(
        CODE_UNSUPPORTED,
        format!(
            "Tillypad has no documented call to read a guest tab (its web API creates tabs with /post-guest and pays them with /pay-guest){}; the adapter reports cannot_read_bills",
            bill.map(|b| format!(": tab {b} cannot be shown"))
                .unwrap_or_default()
        ),
    )
}

/// What `details` says about the points: requested vs applied.
fn points_details(details: &mut BTreeMap<String, String>, requested: Money, ok: &PaySuccess) {
    let show = |d: Decimal| {
        Money::from_decimal(d, requested.scale())
            .map_or_else(|| d.normalize().to_string(), |m| m.to_string())
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
// The connector.
// ------------------------------------------------------------------------------------------

#[tonic::async_trait]
impl PosConnector for TillypadConnector {
    const KIND: &'static str = POS_KIND;
    const SETTINGS: &'static [Setting] = SETTINGS;
    type Restaurant = Connected;

    fn connect(&self, connection: &PosConnection) -> Result<Connected, String> {
        let settings = TillypadSettings::from_connection(connection)?;
        let client = TillypadClient::new(&settings)?;
        tracing::info!(
            version = connection.version,
            "tillypad restaurant built from its connection"
        );
        Ok(Connected { settings, client })
    }

    fn capabilities(&self, _: &Connected) -> Capabilities {
        Capabilities {
            // paySum must equal the tab's total less the points.
            amount_rule: AmountRule::Exact,
            // A successful /pay-guest pays and closes the tab.
            separate_close_step: false,
            supports_tips: false,
            supports_points: true,
            supports_fiscal_data: false,
            cannot_read_bills: true,
            // Nothing to settle: an unknown outcome is never read back (the tab cannot be),
            // it goes to a person; 0 leaves the payment service's own setting.
            settle_ms: 0,
        }
    }

    /// The tab id: required, a GUID (Tillypad's `gest_ID`), sent without braces.
    fn bill_id(&self, raw: &str) -> Result<String, String> {
        posgate_pos_kit::guid_id(raw, "a Tillypad gest_ID")
    }

    async fn get_bill(&self, _: &Connected, bill_id: &str) -> Result<Bill, PosFailure> {
        Err(unsupported_read(Some(bill_id)))
    }

    async fn list_bills(&self, _: &Connected, _table: Option<&str>) -> Listed {
        (Vec::new(), Some(unsupported_read(None)))
    }

    async fn post_payment(&self, r: &Connected, p: &Posting) -> Result<PosReply, Invalid> {
        let opts = parse_options(&p.pos_options)?;
        let mode = delete_prechecks_mode(p.attempt, &opts, &r.settings);
        let tender = tender_pay_type(&p.tenders)?;
        let pay_type = resolve_pay_type(opts.pay_type, tender, &r.settings)?;

        let mut details = BTreeMap::new();
        details.insert(detail::DELETE_PRECHECKS.to_string(), mode.to_string());
        if let Some(t) = &pay_type {
            let shown = match t {
                PayTypeChoice::Id(id) => id.clone(),
                PayTypeChoice::Prepaid => PREPAID.to_string(),
            };
            details.insert(detail::PAY_TYPE_ID.to_string(), shown);
        }
        if !p.tips.is_zero() {
            // /pay-guest has no tips; paySum must equal the tab, so tips cannot ride on it.
            details.insert(detail::TIPS_NOT_BOOKED.to_string(), p.tips.to_string());
        }
        tips_not_booked(p, "Tillypad /pay-guest has no tips");
        let points_type = opts
            .points_type_id
            .or_else(|| r.settings.default_points_type_id.as_deref().map(guid_text));
        if !p.points.is_zero() {
            details.insert(detail::POINTS_REQUESTED.to_string(), p.points.to_string());
            if let Some(t) = &points_type {
                details.insert(detail::POINTS_TYPE_ID.to_string(), t.clone());
            }
        }
        let with_details = |reply: PosReply| PosReply {
            details: details.clone(),
            ..reply
        };

        let Some(pay_type) = pay_type else {
            // Tillypad would refuse with «Для проведения оплаты должен присутствовать либо
            // payType_ID, либо gsdlv_pytp_ID_Prepaid» unless the tab has a prepaid pay type,
            // which we cannot see: refuse here, before anything is sent.
            tracing::warn!(
                bill_id = %p.bill_id,
                payment_id = %p.payment_id,
                "no pay type: nothing sent"
            );
            return Ok(with_details(refused(
                CODE_NO_PAY_TYPE,
                "no pay type: the request names none (tenders[].tender_id, pos_options.pay_type_id), the restaurant has no default_pay_type_id and allow_prepaid_pay_type is off; nothing was sent to Tillypad",
            )));
        };

        let call = PayGuest {
            gest_id: p.bill_id.clone(),
            pay_sum: p.amount,
            pay_type_id: match pay_type {
                PayTypeChoice::Id(id) => Some(id),
                PayTypeChoice::Prepaid => None,
            },
            points: (!p.points.is_zero()).then_some((points_type, p.points)),
            points_field: r.settings.points_field,
        };
        Ok(match r.client.pay_guest(mode.as_u8(), &call).await {
            Ok(ok) => {
                let mut reply = with_details(PosReply::applied().closed(true));
                points_details(&mut reply.details, p.points, &ok);
                if let Some(note) = reply.details.get(detail::POINTS_MISMATCH) {
                    tracing::warn!(
                        bill_id = %p.bill_id,
                        payment_id = %p.payment_id,
                        note = %note,
                        "points applied differ from those requested"
                    );
                }
                // A successful /pay-guest pays the tab and closes it.
                reply
            }
            Err(f) => with_details(f.reply()),
        })
    }

    async fn close_bill(&self, _: &Connected, bill_id: &str, _payment_id: &str) -> PosReply {
        refused(
            CODE_NO_CLOSE_STEP,
            format!(
                "Tillypad closes a tab by paying it (/pay-guest); there is no separate close. Check tab {bill_id} in Tillypad"
            ),
        )
    }

    /// Never writes: the only call that could tell is /pay-guest itself, which would pay the
    /// tab a second time if the first one went through.
    async fn check_payment(&self, _: &Connected, c: &Check) -> PosReply {
        PosReply::failed(
            Outcome::Unknown,
            ours(
                CODE_UNVERIFIABLE,
                "Tillypad cannot be asked whether a payment was booked; a person must check the tab",
            ),
        )
        .evidence(format!(
            "Tillypad has no call to read a guest tab or its receipts, and the adapter never re-sends /pay-guest to find out (that would pay twice). Check tab {} in Tillypad: a receipt «Оплачен» of {} means payment {} was booked; an open tab means it was not",
            c.bill_id, c.amount, c.payment_id
        ))
    }
}

impl posgate_pos_kit::AdapterProcess for TillypadConnector {
    const NAME: &'static str = "tillypad";
    const TITLE: &'static str = "Tillypad adapter";
    const DEFAULT_LISTEN: std::net::SocketAddr = posgate_pos_kit::run::localhost(50063);

    fn build() -> anyhow::Result<Self> {
        Ok(TillypadConnector::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAY: &str = "3E2A6F10-8C4B-4D7A-9B15-2F6C0D1A7E01";
    const OTHER: &str = "5B7C9D2E-1F3A-4B6C-8D9E-0A1B2C3D4E5F";

    fn opts(kv: &[(&str, &str)]) -> Result<Options, Invalid> {
        parse_options(
            &kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn settings(kv: &[(&str, &str)]) -> TillypadSettings {
        let mut c = PosConnection {
            currency_scale: 2,
            ..Default::default()
        };
        for (k, v) in [("base_url", "http://x")].iter().chain(kv) {
            c.settings.insert(k.to_string(), v.to_string());
        }
        TillypadSettings::from_connection(&c).unwrap()
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
            assert!(e.0.starts_with(&format!("{field}: ")), "{}", e.0);
        }
    }

    #[test]
    fn retries_keep_the_prechecks_unless_the_payment_says_otherwise() {
        use DeletePrechecks::{DeleteAll, DeleteUnpaid, Keep};
        let cfg = settings(&[("delete_prechecks", "2")]);
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
        let cfg = settings(&[]);
        assert_eq!(resolve_pay_type(None, None, &cfg).unwrap(), None);
        let cfg = settings(&[("allow_prepaid_pay_type", "true")]);
        assert_eq!(
            resolve_pay_type(None, None, &cfg).unwrap(),
            Some(PayTypeChoice::Prepaid)
        );
        let braced = format!("{{{PAY}}}");
        let cfg = settings(&[
            ("allow_prepaid_pay_type", "true"),
            ("default_pay_type_id", &braced),
        ]);
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
        assert!(e.0.starts_with("pos_options.pay_type_id: "), "{}", e.0);
    }

    #[test]
    fn tenders_name_one_pay_type() {
        let t = |id: &str, a: &str| Tender {
            tender_id: id.into(),
            amount: m(a),
            card_code: None,
        };
        assert_eq!(tender_pay_type(&[]).unwrap(), None);
        assert_eq!(
            tender_pay_type(&[t(PAY, "4"), t("", "6")]).unwrap(),
            Some(PAY.to_string())
        );
        assert_eq!(
            tender_pay_type(&[t(PAY, "4"), t(&format!("{{{}}}", PAY.to_lowercase()), "6")])
                .unwrap(),
            Some(PAY.to_string()),
            "the same pay type in any case and braces"
        );
        let e = tender_pay_type(&[t(PAY, "4"), t(OTHER, "6")]).unwrap_err();
        assert!(e.0.starts_with("tenders: "), "{}", e.0);
        let e = tender_pay_type(&[t("card", "10")]).unwrap_err();
        assert!(e.0.starts_with("tenders[0].tender_id: "), "{}", e.0);
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
        points_details(&mut d, m("100"), &ok(None));
        assert!(d[detail::POINTS_MISMATCH].contains("AppliedDiscountSums is absent"));
        assert!(!d.contains_key(detail::APPLIED_DISCOUNT_SUMS));

        let mut d = BTreeMap::new();
        points_details(&mut d, m("0"), &ok(Some(r#"[]"#)));
        assert_eq!(d[detail::POINTS_APPLIED], "0.00");
        assert!(!d.contains_key(detail::POINTS_MISMATCH));

        let mut d = BTreeMap::new();
        points_details(&mut d, m("0"), &ok(Some(r#"[{"sum": 5}]"#)));
        assert!(d[detail::POINTS_MISMATCH].starts_with("no points were requested"));

        let mut d = BTreeMap::new();
        points_details(&mut d, m("10"), &ok(Some(r#"[{"sum": "x"}]"#)));
        assert!(d[detail::POINTS_MISMATCH].starts_with("could not read"));
    }
}
