//! The one trait a POS integration implements: its restaurant settings, and the five questions
//! posgate asks a POS, in domain types (`posgate_core::pos`).
//!
//! Why it exists: everything around those questions — the gRPC contract, reading and caching a
//! restaurant's connection, checking amounts, ids and tenders, the wire form of bills and
//! answers, logging — is the same for every POS and lives in the kit's [`crate::server`]. A
//! connector is what is truly its own: how to ask its POS and how to read the answers.

use posgate_core::Substate;
use posgate_core::pos::{
    Bill, Capabilities, Check, Dish, Guest, Outcome, PosFailure, PosReply, Posting,
};
use posgate_proto::v1::PosConnection;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::connection::Setting;
use crate::failure::Failure;

/// A request the connector refuses as malformed for its POS, naming the field
/// (`"pos_options.pay_type_id: ..."`): `INVALID_ARGUMENT`, nothing is sent to the POS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn field(field: &str, why: impl std::fmt::Display) -> Invalid {
        Invalid(format!("{field}: {why}"))
    }
}

/// A POS integration. One value serves every restaurant of its kind: a restaurant arrives with
/// each call as its connection, built into [`PosConnector::Restaurant`] once and kept while the
/// connection is unchanged (see [`crate::ConnectionCache`]).
#[tonic::async_trait]
pub trait PosConnector: Send + Sync + 'static {
    /// `Describe.pos_kind`, as restaurants name it in the registry (`"r_keeper_wsa"`).
    const KIND: &'static str;
    /// The connection settings this POS takes (`Describe.settings`).
    const SETTINGS: &'static [Setting];

    /// A restaurant ready to be served: its checked settings, its HTTP client, its caches.
    type Restaurant: Send + Sync + 'static;

    /// Builds a restaurant from its connection (settings, secrets, `currency_scale`). The error
    /// names the setting (`setting "base_url" ...`) and never quotes a value.
    fn connect(&self, connection: &PosConnection) -> Result<Self::Restaurant, String>;

    /// What this restaurant's POS can do.
    fn capabilities(&self, restaurant: &Self::Restaurant) -> Capabilities;

    /// The bill id as this POS takes it, or why it cannot be one (said after `bill_id: `).
    /// Default: any non-blank id, trimmed.
    fn bill_id(&self, raw: &str) -> Result<String, String> {
        let id = raw.trim();
        if id.is_empty() {
            return Err("is required".into());
        }
        Ok(id.to_string())
    }

    /// The bill as the POS shows it now, or the POS's refusal.
    async fn get_bill(
        &self,
        restaurant: &Self::Restaurant,
        bill_id: &str,
    ) -> Result<Bill, PosFailure>;

    /// Open bills (of one table when `table` is given); a failure after some bills were read
    /// comes with them. Default: this POS cannot list bills.
    async fn list_bills(&self, _restaurant: &Self::Restaurant, _table: Option<&str>) -> Listed {
        none_listed(
            "pos/unsupported",
            format!("{} cannot list bills", Self::KIND),
        )
    }

    /// Posts a payment. The kit has checked the amounts at the restaurant's scale, that the
    /// tenders add up, and that points/tips are only sent to a POS that says it takes them.
    async fn post_payment(
        &self,
        restaurant: &Self::Restaurant,
        posting: &Posting,
    ) -> Result<PosReply, Invalid>;

    /// Closes a paid bill (idempotent: a bill already closed is a success).
    async fn close_bill(
        &self,
        restaurant: &Self::Restaurant,
        bill_id: &str,
        payment_id: &str,
    ) -> PosReply;

    /// After an unknown outcome: is the unanswered posting there? Never posts.
    async fn check_payment(&self, restaurant: &Self::Restaurant, check: &Check) -> PosReply;
}

/// A dish line of a bill as the POS shows it: its own amount, else price × quantity rounded at
/// the restaurant's `scale` (half away from zero); price and quantity as they are.
pub fn dish(
    id: Option<String>,
    name: Option<String>,
    price: Option<Decimal>,
    quantity: Option<Decimal>,
    amount: Option<Decimal>,
    scale: u32,
) -> Dish {
    Dish {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        price,
        quantity,
        amount: amount.or_else(|| {
            price?
                .checked_mul(quantity?)
                .map(|a| a.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero))
        }),
    }
}

/// Open bills as `list_bills` answers them: the bills read, and the failure that stopped the
/// reading (a failure after some bills were read comes with them).
pub type Listed = (Vec<Bill>, Option<PosFailure>);

/// `list_bills`' answer when it lists nothing, and why: refused, `OTHER_ERROR`, `code`.
pub fn none_listed(code: &str, why: impl Into<String>) -> Listed {
    (
        Vec::new(),
        Some(PosFailure::ours(Substate::OtherError, code, why)),
    )
}

/// A write refused before anything was sent (the bill is final, the POS has no such step):
/// `REJECTED`, `OTHER_ERROR`, `code`.
pub fn refused(code: &str, why: impl Into<String>) -> PosReply {
    PosReply::failed(
        Outcome::Rejected,
        PosFailure::ours(Substate::OtherError, code, why),
    )
}

/// A close refused by the POS that turns out done after all (read again, the bill is closed:
/// a repeat, a race) is a success, `done` of the refusal; anything else stays as it is.
/// `closed` is asked only after a refusal.
pub async fn closed_after_all<T>(
    result: Result<T, Failure>,
    closed: impl Future<Output = bool>,
    done: impl FnOnce(Failure) -> T,
) -> Result<T, Failure> {
    match result {
        Err(f) if f.is_refusal() => match closed.await {
            true => Ok(done(f)),
            false => Err(f),
        },
        r => r,
    }
}

/// One payment line of a posting: a tender's amount and tender id (the POS's currency or pay
/// type), or, without tenders, the whole amount in the restaurant's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenderLine {
    pub amount: Decimal,
    pub tender_id: String,
    /// A loyalty/gift card code: a secret.
    pub card_code: Option<posgate_core::Secret>,
}

/// A posting's payment lines: one per tender, in `default` unless the tender names its own;
/// without tenders, one line of the whole amount in `default`.
pub fn tender_lines(p: &Posting, default: &str) -> Vec<TenderLine> {
    let line = |amount, tender: &str, card_code| TenderLine {
        amount,
        tender_id: Some(tender)
            .filter(|t| !t.is_empty())
            .unwrap_or(default)
            .to_string(),
        card_code,
    };
    match p.tenders.as_slice() {
        [] => vec![line(p.amount.value(), "", None)],
        tenders => tenders
            .iter()
            .map(|t| line(t.amount.value(), &t.tender_id, t.card_code.clone()))
            .collect(),
    }
}

/// Logs that a posting's tips were not booked, and why (`pos`'s own reason).
pub fn tips_not_booked(p: &Posting, why: &str) {
    if !p.tips.is_zero() {
        tracing::info!(
            bill_id = %p.bill_id,
            payment_id = %p.payment_id,
            tips = %p.tips,
            "tips not booked: {why}"
        );
    }
}

/// A bill id that goes into URL paths: trimmed, required, only ASCII letters, digits, `-` and
/// `_`, at most `max` long; the error says what `pos` takes (after `bill_id: `).
pub fn path_id<'a>(raw: &'a str, max: usize, what: &str) -> Result<&'a str, String> {
    let b = raw.trim();
    if b.is_empty() {
        return Err("is required".into());
    }
    let allowed = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    if b.len() > max || !b.bytes().all(allowed) {
        return Err(format!(
            "{b:?} is not {what} (letters, digits, '-', '_', at most {max})"
        ));
    }
    Ok(b)
}

/// A bill id that is a GUID, written without braces; the error names what `pos` calls it.
pub fn guid_id(raw: &str, what: &str) -> Result<String, String> {
    let b = raw.trim();
    if b.is_empty() {
        return Err("is required".into());
    }
    if !crate::lenient::is_guid(b) {
        return Err(format!("{b:?} is not {what} (a GUID)"));
    }
    Ok(crate::lenient::guid_text(b))
}

/// The answer to `check_payment`: the outcome, whether the bill is closed now, the failure
/// that left it undecided (if any), and how it was decided.
pub fn checked(
    outcome: Outcome,
    closed: bool,
    failure: Option<PosFailure>,
    evidence: impl Into<String>,
) -> PosReply {
    PosReply {
        failure,
        ..PosReply::new(outcome)
    }
    .closed(closed)
    .evidence(evidence)
}

/// How `check_payment` decides, said as it goes, and the failure that left it undecided.
#[derive(Debug, Default)]
pub struct Findings {
    said: Vec<String>,
    pub failure: Option<PosFailure>,
}

impl Findings {
    /// One more thing learned.
    pub fn note(&mut self, what: impl Into<String>) {
        self.said.push(what.into());
    }

    /// A call that failed: said as `what (code: text)`, its failure kept for the answer.
    pub fn failed(&mut self, what: &str, f: &Failure) {
        self.note(format!("{what} ({f})"));
        self.failure = Some(f.pos_failure());
    }

    /// The answer ([`checked`]): the outcome, whether the bill is closed now, the failure kept
    /// and what was learned, in order.
    pub fn answer(self, outcome: Outcome, closed: bool) -> PosReply {
        checked(outcome, closed, self.failure, self.said.join("; "))
    }
}

/// Every guest of a bill whose POS does not split it: one, with every dish.
pub fn one_guest(dishes: Vec<Dish>) -> Vec<Guest> {
    vec![Guest {
        name: "Guest 1".into(),
        dishes,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use posgate_core::pos::Verdict;

    #[test]
    fn a_dish_amount_is_its_own_else_computed_at_the_scale() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let x = dish(
            Some("1".into()),
            None,
            Some(d("70.005")),
            Some(d("2")),
            None,
            2,
        );
        assert_eq!((x.id.as_str(), x.name.as_str()), ("1", ""));
        assert_eq!(x.amount, Some(d("140.01")), "half away from zero");
        assert_eq!(x.price, Some(d("70.005")), "as it is");
        let x = dish(None, None, Some(d("1")), Some(d("3")), Some(d("2.50")), 2);
        assert_eq!(x.amount, Some(d("2.50")), "its own amount wins");
        assert_eq!(dish(None, None, Some(d("1")), None, None, 2).amount, None);
    }

    #[test]
    fn a_check_answer() {
        let f = PosFailure::ours(posgate_core::Substate::OtherError, "c", "t");
        let r = checked(Outcome::Unknown, true, Some(f.clone()), "why");
        assert_eq!(r.outcome, Outcome::Unknown);
        assert_eq!(
            (r.bill_closed, r.failure, r.evidence.as_str()),
            (true, Some(f), "why")
        );
    }

    #[test]
    fn answers_refused_before_sending() {
        let (bills, f) = none_listed("pos/x", "no search");
        let f = f.unwrap();
        assert!(bills.is_empty());
        assert_eq!((f.code.as_str(), f.text.as_str()), ("pos/x", "no search"));
        assert_eq!((f.substate, f.transient), (Substate::OtherError, false));
        let r = refused("pos/final", "order 7 is closed");
        assert_eq!(r.outcome, Outcome::Rejected);
        let f = r.failure.unwrap();
        assert_eq!(
            (f.code.as_str(), f.substate),
            ("pos/final", Substate::OtherError)
        );
        assert_eq!(f.text, "order 7 is closed");
    }

    #[tokio::test]
    async fn a_refused_close_of_a_closed_bill_is_a_success() {
        let asked = &std::cell::Cell::new(0);
        let closed = |is: bool| async move {
            asked.set(asked.get() + 1);
            is
        };
        let refusal = || {
            Failure::ours(crate::REFUSED, "E", "cannot close").with_request_id(Some("r1".into()))
        };
        let done = |f: Failure| f.request_id;
        let r = closed_after_all(Err(refusal()), closed(true), done).await;
        assert_eq!((r, asked.get()), (Ok(Some("r1".into())), 1));
        let r = closed_after_all(Err(refusal()), closed(false), done).await;
        assert_eq!((r, asked.get()), (Err(refusal()), 2));
        // Not a refusal, or a success: the bill is not read again.
        let unknown = Failure::ours(Verdict::Unknown, "T", "timeout");
        let r = closed_after_all(Err(unknown.clone()), closed(true), done).await;
        assert_eq!((r, asked.get()), (Err(unknown), 2));
        let r = closed_after_all(Ok(None), closed(true), done).await;
        assert_eq!((r, asked.get()), (Ok(None), 2));
    }

    #[test]
    fn findings_answer_in_the_order_learned() {
        let mut found = Findings::default();
        found.note("no taskGuid known");
        let f = Failure::ours(Verdict::Transient, "E_1", "down").with_request_id(Some("q".into()));
        found.failed("the order could not be read", &f);
        found.note("outcome stays unknown");
        let r = found.answer(Outcome::Unknown, false);
        assert_eq!(
            r.evidence,
            "no taskGuid known; the order could not be read (E_1: down (requestId q)); outcome stays unknown"
        );
        assert_eq!((r.outcome, r.bill_closed), (Outcome::Unknown, false));
        assert_eq!(r.failure, Some(f.pos_failure()));
        let r = Findings::default().answer(Outcome::Applied, true);
        assert_eq!(
            (r.failure, r.bill_closed, r.evidence.as_str()),
            (None, true, "")
        );
        let g = one_guest(vec![dish(None, Some("tea".into()), None, None, None, 2)]);
        assert_eq!(
            (g.len(), g[0].name.as_str(), g[0].dishes[0].name.as_str()),
            (1, "Guest 1", "tea")
        );
    }

    #[test]
    fn ids_in_paths_and_guids() {
        assert_eq!(path_id(" 59707 ", 8, "an orderId"), Ok("59707"));
        assert_eq!(path_id("a-b_C9", 8, "x"), Ok("a-b_C9"));
        assert_eq!(path_id("  ", 8, "x"), Err("is required".into()));
        for bad in ["1/2", "1?x", "123456789", "ид"] {
            let e = path_id(bad, 8, "an orderId").unwrap_err();
            assert!(e.contains("is not an orderId"), "{bad}: {e}");
        }
        let g = "8F0E6B52-3C1D-4A7E-9B20-000000000978";
        assert_eq!(guid_id(&format!(" {{{g}}} "), "a tab"), Ok(g.to_string()));
        assert_eq!(guid_id("", "a tab"), Err("is required".into()));
        assert_eq!(
            guid_id("8F0E", "a gest_ID"),
            Err("\"8F0E\" is not a gest_ID (a GUID)".into())
        );
    }

    #[test]
    fn a_postings_lines_by_tender() {
        use posgate_core::pos::Tender;
        use posgate_core::{Money, Secret};
        let m = |s: &str| Money::parse(s, 2).unwrap();
        let mut p = Posting {
            payment_id: "p".into(),
            bill_id: "b".into(),
            amount: m("10.00"),
            tips: m("0"),
            tenders: vec![],
            points: m("0"),
            fiscal_data: Default::default(),
            pos_options: Default::default(),
            attempt: 1,
            may_pend: false,
        };
        let line = |amount: &str, tender_id: &str, card_code| TenderLine {
            amount: amount.parse().unwrap(),
            tender_id: tender_id.into(),
            card_code,
        };
        assert_eq!(tender_lines(&p, "CUR"), vec![line("10.00", "CUR", None)]);
        let card = Some(Secret::new("4111".to_string()));
        p.tenders = vec![
            Tender {
                tender_id: String::new(),
                amount: m("4.00"),
                card_code: None,
            },
            Tender {
                tender_id: "GIFT".into(),
                amount: m("6.00"),
                card_code: card.clone(),
            },
        ];
        assert_eq!(
            tender_lines(&p, "CUR"),
            vec![line("4.00", "CUR", None), line("6.00", "GIFT", card)]
        );
    }
}
