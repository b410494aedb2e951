//! Reading a /pay-guest answer (status and body) into a verdict, through the public API.

use posgate_core::Substate;
use posgate_tillypad::Verdict;
use posgate_tillypad::client::*;

fn verdict(status: u16, body: &[u8]) -> Verdict {
    match interpret(status, body) {
        Ok(_) => panic!("expected a failure"),
        Err(f) => f.verdict,
    }
}

#[test]
fn success_only_with_2xx() {
    let ok = br#"{"DiscountSums": [], "AppliedDiscountSums": []}"#;
    assert!(interpret(200, ok).is_ok());
    assert!(interpret(201, ok).is_ok());
    assert_eq!(verdict(500, ok), Verdict::Unknown);
}

#[test]
fn error_strings_whatever_the_status() {
    for status in [200, 400, 409, 422, 500, 503] {
        let f = interpret(status, "\"Счет уже передан в оплату\"".as_bytes()).unwrap_err();
        assert_eq!(
            f.verdict,
            Verdict::Rejected(Substate::BillInUse),
            "{status}"
        );
        assert_eq!(f.code, format!("HTTP/{status}"));
        assert_eq!(f.text, "Счет уже передан в оплату");
    }
    let f = interpret(200, br#""""#).unwrap_err();
    assert_eq!(f.verdict, Verdict::Rejected(Substate::OtherError));
    assert_eq!(f.text, "(an empty error text)");
}

#[test]
fn unreadable_bodies_by_status() {
    assert_eq!(verdict(200, b""), Verdict::Unknown);
    assert_eq!(verdict(200, b"<html>oops</html>"), Verdict::Unknown);
    assert_eq!(verdict(200, b"OK"), Verdict::Unknown);
    assert_eq!(verdict(502, b"<html>Bad Gateway</html>"), Verdict::Unknown);
    assert_eq!(verdict(500, b""), Verdict::Unknown);
    assert_eq!(verdict(404, b""), Verdict::Rejected(Substate::OtherError));
    assert_eq!(
        verdict(400, b"<html>bad</html>"),
        Verdict::Rejected(Substate::OtherError)
    );
    assert_eq!(verdict(429, b""), Verdict::Transient);
    assert_eq!(verdict(408, b""), Verdict::Unknown);
    assert_eq!(verdict(307, b""), Verdict::Rejected(Substate::OtherError));
    // A plain-text body a row recognises is that refusal.
    assert_eq!(
        verdict(200, "Счет уже оплачен".as_bytes()),
        Verdict::Rejected(Substate::OtherError)
    );
    assert_eq!(
        verdict(500, "Смена закрыта".as_bytes()),
        Verdict::Rejected(Substate::CashiersShiftClosed)
    );
}
