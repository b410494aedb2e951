//! Property tests (fuzzing in CI): Expirenza frames of any shape are parsed or refused without a
//! panic, and signatures verify only the exact bytes signed.

use posgate_expirenza::wire::{parse_frame, sign, verify};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_frame_is_parsed_or_refused(text in "\\PC{0,400}") {
        let _ = parse_frame(&text, 64 * 1024);
    }

    #[test]
    fn json_shaped_frames_never_panic(
        rid in "\\PC{0,30}",
        op in "(payBill|getBill|checkWork|versionInfo|\\PC{0,12})",
        sum in "-?[0-9]{0,12}(\\.[0-9]{0,6})?",
        bill in "\\PC{0,40}",
    ) {
        let frames = [
            format!(r#"{{"rID":"{rid}","operation":"{op}","billId":"{bill}","sum":{sum},"tips":"{sum}"}}"#),
            format!(r#"{{"rID":{sum},"operation":"{op}","tableNumber":"{bill}","fiscalData":{{"a":[1,{{}}]}}}}"#),
            format!(r#"{{"rID":"{rid}","operation":"{op}","sum":"{sum}","tips":null,"billId":{sum}}}"#),
        ];
        for f in frames {
            let _ = parse_frame(&f, 64 * 1024);
        }
    }

    #[test]
    fn a_signature_covers_exactly_the_signed_bytes(body in proptest::collection::vec(any::<u8>(), 1..300), flip in 0usize..300) {
        let sig = sign("secret", &body);
        prop_assert!(verify("secret", &body, &sig));
        prop_assert!(!verify("other-secret", &body, &sig));
        let mut changed = body.clone();
        let i = flip % changed.len();
        changed[i] ^= 0x01;
        prop_assert!(!verify("secret", &changed, &sig));
    }
}
