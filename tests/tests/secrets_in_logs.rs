//! Secrets never reach logs: with every log line at TRACE captured, a payment carrying a loyalty
//! card code goes through the payment service, the WSA adapter and the simulator, and neither
//! the card code nor the POS token appears anywhere in what was logged.

use std::io::Write;
use std::sync::{Arc, Mutex};

use posgate_proto::v1::{self as pb, PaymentState as S};
use posgate_sim::wsa::{DEMO_ORDER_2300, DEMO_TOKEN};
use posgate_tests::{Stack, pay, state};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_codes_and_tokens_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let s = Stack::start().await;
    const CARD: &str = "CARD-SECRET-4242-7777";
    let mut req = pay("secret", "demo", DEMO_ORDER_2300, "2300.00");
    req.tenders = vec![pb::Tender {
        tender_id: String::new(),
        amount: "2300.00".into(),
        card_code: CARD.into(),
    }];
    let p = s.client().pay_bill(req).await.unwrap().into_inner();
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!(
        p.tenders[0].card_code, "****",
        "card codes are not echoed back"
    );
    let ledger = s.sim.ledger();
    assert!(
        ledger.iter().any(|l| l.card_code_present),
        "the card code reached the POS"
    );

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
    assert!(
        logs.len() > 1_000,
        "logs were captured ({} bytes)",
        logs.len()
    );
    assert!(
        logs.contains("payment accepted"),
        "our own lines are in the capture"
    );
    assert!(!logs.contains(CARD), "card code leaked into the logs");
    assert!(!logs.contains(DEMO_TOKEN), "POS token leaked into the logs");
}
