//! Property tests (fuzzing in CI): the WSA answer parser takes any bytes without panicking.

use posgate_wsa::wire::Envelope;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::parse(&body);
    }

    #[test]
    fn json_shaped_answers_never_panic(
        task_guid in "\\PC{0,40}",
        code in "\\PC{0,20}",
        amount in "-?[0-9]{0,20}(\\.[0-9]{0,10})?",
        status in "\\PC{0,12}",
    ) {
        let bodies = [
            format!(r#"{{"responseCommon":{{"taskGuid":"{task_guid}"}},"error":{{"wsError":{{"code":"{code}","desc":"x"}},"agentError":{{"code":{amount},"desc":"y"}}}}}}"#),
            format!(r#"{{"taskResponse":{{"order":{{"status":{{"value":"{status}"}},"price":{{"total":{amount},"summToPay":"{amount}"}}}}}}}}"#),
            format!(r#"{{"taskResponse":{{"orders":[{{"orderGuid":"{task_guid}","sum":{amount},"unpaid":"{amount}","isFinished":"{status}"}}]}}}}"#),
        ];
        for b in bodies {
            let _ = Envelope::parse(b.as_bytes());
        }
    }
}
