//! Property tests (fuzzing in CI): the r_keeper classifier takes any text without panicking, and
//! a known reason keeps its substate whatever wrapping or noise surrounds it, and a known r_keeper
//! error code decides whatever text comes with it.

use posgate_core::Substate;
use posgate_rkeeper::{RK_CODES, RkCode, classify_rk_text, classify_ws_error, rk_code_substate};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_is_classified_without_panic(text in "\\PC{0,300}", code in "\\PC{0,30}", agent in proptest::option::of("\\PC{0,30}")) {
        let _ = classify_rk_text(&text);
        let _ = classify_ws_error(&code, None, agent.as_deref(), &text);
    }

    // Noise is digits and punctuation: letters could spell a real keyword ("FR" is a fiscal
    // registrar, which rightly reads as a printer error). Brackets around a number make it an
    // r_keeper error code, so bracketed noise and the station number in the texts use numbers
    // that are not known codes.
    #[test]
    fn wrapping_does_not_change_the_verdict(
        prefix in "[0-9 :.#-]{0,30}",
        bracketed in proptest::option::of(1u32..99_999),
        n in 1u32..9999,
    ) {
        prop_assume!(rk_code_substate(n).is_none());
        prop_assume!(bracketed.is_none_or(|m| rk_code_substate(m).is_none()));
        let noise = match bracketed {
            Some(m) => format!("{prefix} [{m}]"),
            None => prefix,
        };
        let cases = [
            (format!("RkInternal: Cash station [{n}] Not enough funds to pay for the order in full"), Substate::WrongRequestSum),
            (format!("RkInternal: Кассовая смена закрыта на станции [{n}]"), Substate::CashiersShiftClosed),
            (format!("RkInternal: Ошибка фискального регистратора [{n}]"), Substate::PrinterError),
            (format!("RkInternal: Cannot save order {n}, it is not fully paid"), Substate::CloseOrderBlocked),
        ];
        for (text, want) in cases {
            let wrapped = format!("{noise} WS Error: Error Code: WsaOrderError. {text}");
            prop_assert_eq!(classify_rk_text(&wrapped), want, "{}", wrapped);
        }
    }

    // A known r_keeper code decides, whatever text follows it.
    #[test]
    fn a_known_code_wins_over_any_text(row in 0..RK_CODES.len(), text in "\\PC{0,120}") {
        let RkCode { code, substate } = RK_CODES[row];
        for message in [
            format!("RkInternal: Cash station [{code}] {text}"),
            format!("UCSERR({code}): {text}"),
            format!("<RK7QueryResult RK7ErrorN=\"{code}\" ErrorText=\"{text}\"/>"),
        ] {
            prop_assert_eq!(classify_rk_text(&message), substate, "{}", message);
        }
    }
}
