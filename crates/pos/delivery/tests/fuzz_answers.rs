//! Property tests (fuzzing in CI): r_k Delivery answers and error bodies of any shape are read or
//! refused without a panic, and classified whatever the status.

use posgate_delivery::classify::{Op, classify};
use posgate_delivery::wire::{ErrorBody, Order, orders_of_search};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400), status in 100u16..600) {
        let err = ErrorBody::parse(&body);
        let _ = classify(status, err.as_ref(), Op::Write);
        let _ = classify(status, err.as_ref(), Op::Read);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
            let _ = Order::from_value(&v);
            let _ = orders_of_search(&v);
        }
    }

    #[test]
    fn json_shaped_answers_never_panic(
        code in "\\PC{0,25}",
        msg in "\\PC{0,120}",
        amount in "-?[0-9]{0,14}(\\.[0-9]{0,8})?",
        status in 0i64..20,
        status_code in 100u16..600,
    ) {
        let err = format!(r#"{{"code":"{code}","msg":"{msg}","requestId":{amount},"errors":[{{}}]}}"#);
        let _ = classify(status_code, ErrorBody::parse(err.as_bytes()).as_ref(), Op::Write);
        let order = format!(r#"{{"result":{{"orderId":{amount},"orderStatusId":"{status}","amount":{amount},"fullAmount":"{amount}","dishList":[{{"price":"{amount}","quantity":{amount}}}],"payments":[{{"amount":{amount}}}]}}}}"#);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&order) {
            let _ = Order::from_value(&v);
            let _ = orders_of_search(&v);
        }
    }
}
