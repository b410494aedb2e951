//! Store records → wire messages.

use posgate_core::{PaymentState, Step, Substate};
use posgate_proto::v1 as pb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::engine::codes;
use crate::store::PaymentRecord;

pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub fn state_to_pb(s: PaymentState) -> pb::PaymentState {
    match s {
        PaymentState::Accepted => pb::PaymentState::Accepted,
        PaymentState::Posting => pb::PaymentState::Posting,
        PaymentState::Paid => pb::PaymentState::Paid,
        PaymentState::Closing => pb::PaymentState::Closing,
        PaymentState::Closed => pb::PaymentState::Closed,
        PaymentState::Retrying => pb::PaymentState::Retrying,
        PaymentState::NeedsAttention => pb::PaymentState::NeedsAttention,
        PaymentState::OutcomeUnknown => pb::PaymentState::OutcomeUnknown,
    }
}

pub fn state_from_pb(s: pb::PaymentState) -> Option<PaymentState> {
    PaymentState::ALL.into_iter().find(|x| state_to_pb(*x) == s)
}

pub use posgate_proto::convert::substate_to_pb;

/// What staff should do when posgate itself found why a payment cannot be posted: said
/// before (instead of) the substate's generic advice, because "contact the POS vendor" is
/// wrong when the bill was simply closed by someone else or never existed.
const ADVICE_BY_CODE: &[(&str, &str)] = &[
    (
        codes::BILL_CLOSED,
        "The bill was already closed or canceled in the POS (by staff or another payment) before this payment reached it; nothing was posted. The guest has paid: book the payment on the bill it belongs to, or refund the guest.",
    ),
    (
        codes::BILL_UNKNOWN,
        "The POS does not know this bill (a wrong bill id, or the bill was deleted or moved to another table); nothing was posted. The guest has paid: find the bill in the POS and book the payment by hand, or refund the guest.",
    ),
];

fn advice_for_code(code: Option<&str>) -> Option<&'static str> {
    let code = code?;
    ADVICE_BY_CODE
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, advice)| *advice)
}

/// What staff should do about a payment in its current state.
pub fn recommendation(rec: &PaymentRecord) -> String {
    let l = rec.lifecycle;
    if l.state == PaymentState::NeedsAttention
        && let Some(advice) = advice_for_code(rec.pos_code.as_deref())
    {
        return advice.to_string();
    }
    match (l.state, rec.substate) {
        (PaymentState::Retrying | PaymentState::NeedsAttention, Some(s)) => {
            let mut r = s.recommendation().to_string();
            if l.state == PaymentState::Retrying {
                r.push_str(" posgate retries on its own.");
            }
            r
        }
        (PaymentState::OutcomeUnknown, _) => "The POS did not answer. posgate is reading the bill to learn whether the payment was booked before posting again: do not post it by hand.".into(),
        (PaymentState::NeedsAttention, None) if l.step == Step::Reconcile => "The POS never confirmed whether this payment was booked: check the bill in the POS and book or close it by hand.".into(),
        (PaymentState::Retrying, None) => "posgate could not reach the POS and keeps retrying; if it persists, check that the POS and its agent are online.".into(),
        (PaymentState::NeedsAttention, None) => "posgate could not reach the POS within its retries: check the POS link, then close the bill by hand.".into(),
        _ => String::new(),
    }
}

pub fn payment_to_pb(rec: &PaymentRecord) -> pb::Payment {
    let r = &rec.request;
    let l = rec.lifecycle;
    let waiting = matches!(
        l.state,
        PaymentState::Retrying | PaymentState::OutcomeUnknown
    );
    pb::Payment {
        payment_id: rec.id.clone(),
        idempotency_key: r.idempotency_key.clone(),
        restaurant_id: r.restaurant_id.clone(),
        bill_id: r.bill_id.clone(),
        amount: r.amount.to_string(),
        tips: r.tips.to_string(),
        tenders: r
            .tenders
            .iter()
            .map(|t| pb::Tender {
                tender_id: t.tender_id.clone(),
                amount: t.amount.to_string(),
                // Card codes go to the POS only, never back out.
                card_code: if t.card_code.is_empty() {
                    String::new()
                } else {
                    "****".into()
                },
            })
            .collect(),
        fiscal_data: r.fiscal_data.clone().into_iter().collect(),
        close: r.close,
        state: state_to_pb(l.state) as i32,
        substate: rec
            .substate
            .map(|s| substate_to_pb(s) as i32)
            .unwrap_or_default(),
        pos_code: rec.pos_code.clone().unwrap_or_default(),
        pos_text: rec.pos_text.clone().unwrap_or_default(),
        recommendation: recommendation(rec),
        attempts: rec.attempts,
        next_attempt_at: if waiting {
            rfc3339(rec.next_attempt_at)
        } else {
            String::new()
        },
        created_at: rfc3339(rec.created_at),
        updated_at: rfc3339(rec.updated_at),
        pos_reference: rec.pos_reference.clone().unwrap_or_default(),
        r#final: l.is_final(),
        version: rec.version as u64,
        points: r.points.to_string(),
        pos_options: r.pos_options.clone().into_iter().collect(),
        pos_details: rec.pos_details.clone().into_iter().collect(),
    }
}

/// The substate of a POS failure; a missing or unknown one is OTHER_ERROR.
/// The substate of an adapter's failure (none, or one the wire does not know: `OTHER_ERROR`).
pub fn substate_from_pb(failure: Option<&pb::PosFailure>) -> Substate {
    failure.map_or(Substate::OtherError, |f| {
        posgate_proto::convert::substate_from_pb(f.substate)
    })
}

/// Staff advice for a direct POS answer (CloseBill), from its substate.
pub fn recommendation_for(failure: Option<&pb::PosFailure>, ok: bool) -> String {
    if ok {
        String::new()
    } else if failure.is_some_and(|f| f.not_found) {
        advice_for_code(Some(codes::BILL_UNKNOWN))
            .unwrap_or_default()
            .to_string()
    } else {
        substate_from_pb(failure).recommendation().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(s: pb::Substate) -> pb::PosFailure {
        pb::PosFailure {
            substate: s as i32,
            ..Default::default()
        }
    }

    /// Every substate an adapter can send reads as the same substate here, written out (not
    /// derived from `substate_to_pb`, which could be wrong the same way).
    #[test]
    fn every_substate_from_an_adapter_reads_as_itself() {
        let expected = [
            (pb::Substate::WrongRequestSum, Substate::WrongRequestSum),
            (
                pb::Substate::CashiersShiftClosed,
                Substate::CashiersShiftClosed,
            ),
            (pb::Substate::PrinterError, Substate::PrinterError),
            (pb::Substate::CloseOrderBlocked, Substate::CloseOrderBlocked),
            (pb::Substate::BillInUse, Substate::BillInUse),
            (pb::Substate::OtherError, Substate::OtherError),
        ];
        for (wire, domain) in expected {
            assert_eq!(substate_from_pb(Some(&failure(wire))), domain, "{wire:?}");
            assert_eq!(substate_to_pb(domain), wire, "{domain}");
        }
        // Nothing said, or a value this build does not know: a person decides.
        assert_eq!(substate_from_pb(None), Substate::OtherError);
        assert_eq!(
            substate_from_pb(Some(&failure(pb::Substate::Unspecified))),
            Substate::OtherError
        );
        let unknown = pb::PosFailure {
            substate: 99,
            ..Default::default()
        };
        assert_eq!(substate_from_pb(Some(&unknown)), Substate::OtherError);
    }
}
