//! Property tests (fuzzing in CI): money parsing never panics, never accepts garbage, and
//! round-trips exactly.

use posgate_core::Money;
use posgate_core::request::{PayRequest, RawPayRequest};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_string_parses_or_is_refused_without_panic(s in "\\PC{0,40}", scale in 0u32..6) {
        if let Ok(m) = Money::parse(&s, scale) {
            // Whatever is accepted is a plain non-negative decimal with a dot...
            prop_assert!(s.bytes().all(|b| b.is_ascii_digit() || b == b'.'), "{s:?}");
            prop_assert!(!m.value().is_sign_negative() || m.is_zero());
            // ...and prints back as the same amount.
            let again = Money::parse(&m.to_string(), scale).unwrap();
            prop_assert_eq!(again, m);
        }
    }

    #[test]
    fn valid_amounts_round_trip(int in 0u64..1_000_000_000_000, frac in 0u32..100) {
        let s = format!("{int}.{frac:02}");
        let m = Money::parse(&s, 2).unwrap();
        prop_assert_eq!(m.to_string(), s);
    }

    #[test]
    fn comma_exponent_and_sign_forms_are_refused(int in 0u64..1_000_000, frac in 0u32..100) {
        for bad in [format!("{int},{frac:02}"), format!("{int}e{frac}"), format!("-{int}.{frac:02}"),
                    format!("+{int}"), format!(" {int}"), format!("{int}.{frac:02}.0")] {
            prop_assert!(Money::parse(&bad, 2).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pay_request_validation_never_panics(key in "\\PC{0,10}", amount in "\\PC{0,12}",
                                           tips in "\\PC{0,6}", t_amount in "\\PC{0,8}") {
        let raw = RawPayRequest {
            idempotency_key: &key,
            restaurant_id: "r",
            bill_id: "b",
            amount: &amount,
            tips: &tips,
            tenders: vec![("t", &t_amount, "")],
            ..Default::default()
        };
        let _ = PayRequest::validate(&raw, 2);
    }
}
