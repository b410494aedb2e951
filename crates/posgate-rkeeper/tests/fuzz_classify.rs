//! Property tests (fuzzing in CI): the r_keeper classifier takes any text without panicking, and
//! a known reason keeps its substate whatever wrapping or noise surrounds it.

use posgate_core::Substate;
use posgate_rkeeper::{classify_rk_text, classify_ws_error};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_is_classified_without_panic(text in "\\PC{0,300}", code in "\\PC{0,30}", agent in proptest::option::of("\\PC{0,30}")) {
        let _ = classify_rk_text(&text);
        let _ = classify_ws_error(&code, None, agent.as_deref(), &text);
    }

    // Noise is digits and punctuation: letters could spell a real keyword ("FR" is a fiscal
    // registrar, which rightly reads as a printer error).
    #[test]
    fn wrapping_does_not_change_the_verdict(prefix in "[0-9 :.#\\[\\]-]{0,30}", n in 1u32..9999) {
        let cases = [
            (format!("RkInternal: Cash station [{n}] Not enough funds to pay for the order in full"), Substate::WrongRequestSum),
            (format!("RkInternal: Кассовая смена закрыта на станции [{n}]"), Substate::CashiersShiftClosed),
            (format!("RkInternal: Ошибка фискального регистратора [{n}]"), Substate::PrinterError),
            (format!("RkInternal: Cannot save order {n}, it is not fully paid"), Substate::CloseOrderBlocked),
        ];
        for (text, want) in cases {
            let wrapped = format!("{prefix} WS Error: Error Code: WsaOrderError. {text}");
            prop_assert_eq!(classify_rk_text(&wrapped), want, "{}", wrapped);
        }
    }
}
