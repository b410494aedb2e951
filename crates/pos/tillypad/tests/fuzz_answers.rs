//! Property tests (fuzzing in CI): Tillypad answers (objects, bare strings, HTML, garbage, any
//! encoding) are read and classified without a panic.

use posgate_tillypad::classify_text;
use posgate_tillypad::wire::parse_answer;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_answer(&body);
    }

    #[test]
    fn any_error_text_is_classified(text in "\\PC{0,300}") {
        let _ = classify_text(&text);
        let _ = parse_answer(serde_json::to_string(&text).unwrap_or_default().as_bytes());
    }

    #[test]
    fn json_shaped_answers_never_panic(sum in "-?[0-9]{0,14}(\\.[0-9]{0,8})?", id in "\\PC{0,40}") {
        let bodies = [
            format!(r#"{{"DiscountSums":[{{"type_ID":"{id}","sum":{sum}}}],"AppliedDiscountSums":[{{"type_ID":"{id}","sum":"{sum}"}}]}}"#),
            format!(r#"{{"DiscountSums":{sum},"AppliedDiscountSums":null}}"#),
            format!(r#"{{"Message":"{id}"}}"#),
        ];
        for b in bodies {
            let _ = parse_answer(b.as_bytes());
        }
    }
}
