//! End to end over a real WebSocket, real HTTP callbacks and real gRPC: the Expirenza
//! platform simulator ↔ posgate-expirenza ↔ posgate's payment service ↔ the WSA adapter ↔
//! the r_keeper WSA simulator (`posgate_tests::Stack`). The stack's `demo` restaurant gets its
//! Expirenza channel in the registry, as an operator gives it one; the adapter learns it from
//! there (its config holds service settings only).

use std::str::FromStr;
use std::time::Duration;

use posgate_expirenza::ExpirenzaConfig;
use posgate_expirenza::wire::sign;
use posgate_grpc::AuthConfig;
use posgate_proto::v1 as pb;
use posgate_sim::expirenza::{
    CallbackRecord, DEMO_RESTO_ID, DEMO_SECRET_KEY, ExpirenzaSim, GuestPayment, PaymentStatus,
};
use posgate_sim::tls::{TestCa, front};
use posgate_sim::wsa::{
    DEMO_CURRENCY_GUID, DEMO_OBJECT_ID, DEMO_ORDER_978, DEMO_TIPS_CURRENCY_GUID, Fault, FaultKind,
    status,
};
use posgate_tests::{EXPIRENZA_TOKEN, Options, Stack};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::watch;

const T: Duration = Duration::from_secs(15);

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

struct World {
    stack: Stack,
    exp: ExpirenzaSim,
    _stop: watch::Sender<bool>,
}

impl World {
    async fn start() -> World {
        World::start_with(Options::default(), |_, _| {}).await
    }

    async fn start_with(
        o: Options,
        tweak: impl FnOnce(&mut ExpirenzaConfig, &mut pb::ExpirenzaChannel),
    ) -> World {
        World::start_on(o, None, tweak).await
    }

    /// With `tls`, the platform is reached over `wss://` and `https://` through a TLS front
    /// whose certificate `tls` signed (trusted through the adapter's `ca_file`).
    async fn start_on(
        o: Options,
        tls: Option<&TestCa>,
        tweak: impl FnOnce(&mut ExpirenzaConfig, &mut pb::ExpirenzaChannel),
    ) -> World {
        let stack = Stack::start_with(o).await;
        let exp = ExpirenzaSim::with_demo_data();
        exp.update_settings(|s| {
            s.retry_interval_ms = 300;
            s.max_attempts = 30;
        });
        let addr = exp.clone().spawn().await.expect("bind expirenza sim");
        let base = match tls {
            None => format!("http://{addr}"),
            Some(ca) => format!("https://localhost:{}", front(addr, ca).await.port()),
        };
        // http → ws, https → wss.
        let ws = base.replacen("http", "ws", 1);
        let mut channel = pb::ExpirenzaChannel {
            resto_id: DEMO_RESTO_ID.into(),
            ws_url: format!("{ws}/restaurantEntryPoint"),
            callback_base_url: base.clone(),
            secret_key: DEMO_SECRET_KEY.into(),
            tips: "separate".into(),
            tables: Vec::new(),
        };
        let mut cfg = ExpirenzaConfig {
            payments_url: format!("http://{}", stack.payments_addr),
            shutdown_grace_ms: 1_000,
            reconnect_initial_ms: 100,
            reconnect_max_ms: 400,
            ping_interval_ms: 500,
            callback_retry_initial_ms: 100,
            // The adapter sends its own token, the one the test stack knows as "expirenza".
            auth: AuthConfig::with_tokens([(posgate_expirenza::CALLER_NAME, EXPIRENZA_TOKEN)]),
            ..ExpirenzaConfig::default()
        };
        if let Some(ca) = tls {
            let f = stack.dir.join("expirenza-ca.pem");
            std::fs::write(&f, &ca.ca_pem).expect("CA file");
            cfg.ca_file = Some(f);
        }
        tweak(&mut cfg, &mut channel);
        // The operator gives the stack's `demo` restaurant its Expirenza channel.
        let mut spec = stack.restaurant_spec("demo");
        spec.expirenza = Some(channel);
        let updated = stack
            .registry()
            .update_restaurant(pb::UpdateRestaurantRequest {
                restaurant_id: "demo".into(),
                spec: Some(spec),
                clear_secrets: Vec::new(),
                expected_version: 1,
            })
            .await
            .expect("the demo restaurant's Expirenza channel")
            .into_inner();
        assert!(updated.expirenza.is_some_and(|e| e.secret_key_set));
        let (stop, mut rx) = watch::channel(false);
        tokio::spawn(posgate_expirenza::run(cfg, async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        assert!(
            exp.wait_connected(DEMO_RESTO_ID, T).await,
            "the adapter connects"
        );
        World {
            stack,
            exp,
            _stop: stop,
        }
    }

    fn pay(&self, bill: &str, sum: &str, tips: &str) -> GuestPayment {
        self.exp
            .pay(DEMO_RESTO_ID, bill, dec(sum), dec(tips))
            .expect("pay")
    }

    async fn settled(&self, p: &GuestPayment) -> GuestPayment {
        self.exp
            .wait_payment_settled(&p.id, T)
            .await
            .unwrap_or_else(|| {
                panic!(
                    "payment {} did not settle: {:?}",
                    p.id,
                    self.exp.payment(&p.id)
                )
            })
    }

    /// The accepted callbacks of a guest payment's payBills, in order.
    fn answers(&self, p: &GuestPayment) -> Vec<CallbackRecord> {
        let p = self.exp.payment(&p.id).expect("payment");
        p.attempts
            .iter()
            .flat_map(|rid| self.exp.callbacks_for(rid))
            .filter(|c| c.status == 200)
            .collect()
    }

    async fn callback(&self, rid: &str) -> CallbackRecord {
        self.exp.wait_callback(rid, T).await.unwrap_or_else(|| {
            panic!(
                "no accepted callback for {rid}: {:?}",
                self.exp.callbacks_for(rid)
            )
        })
    }

    fn card_postings(&self, bill: &str) -> Vec<Decimal> {
        self.stack
            .sim
            .ledger()
            .iter()
            .filter(|l| l.order_guid == bill && l.currency == DEMO_CURRENCY_GUID)
            .map(|l| l.amount)
            .collect()
    }

    async fn our_payments(&self, bill: &str) -> Vec<pb::Payment> {
        self.stack
            .client()
            .list_payments(pb::ListPaymentsRequest {
                restaurant_id: "demo".into(),
                bill_id: bill.into(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner()
            .payments
    }
}

fn s<'a>(c: &'a CallbackRecord, f: &str) -> &'a str {
    c.field(f).and_then(Value::as_str).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_bill_closes_the_bill_and_answers_with_the_documented_schema() {
    let w = World::start().await;
    let p = w.pay(DEMO_ORDER_978, "978.00", "19.24");
    let done = w.settled(&p).await;
    assert_eq!(done.status, PaymentStatus::Succeeded, "{done:?}");
    assert_eq!(done.attempts.len(), 1);

    let cb = w.callback(&done.attempts[0]).await;
    // The signature is Base64(HMAC-SHA256(secret, the exact bytes received)).
    assert!(cb.signature_ok);
    assert_eq!(
        cb.signature.as_deref(),
        Some(sign(DEMO_SECRET_KEY, cb.body.as_bytes()).as_str())
    );
    assert_eq!(cb.content_type.as_deref(), Some("application/json"));
    assert_eq!(cb.resto_id.as_deref(), Some(DEMO_RESTO_ID));
    assert_eq!(cb.cookie.as_deref(), Some("system=posgate"));
    assert_eq!(cb.operation, "payBill");
    // The documented /callback/payBill shape.
    let v = cb.json.clone().expect("json");
    assert_eq!(v["rID"], done.attempts[0].as_str());
    assert_eq!(v["billId"], DEMO_ORDER_978);
    assert_eq!(v["state"], "SUCCESS");
    assert!(v.get("substate").is_none());
    assert_eq!(v["orderNumber"], 1001);
    assert_eq!(v["waiter"], "Анна");
    assert_eq!(v["waiterId"], "7");
    let guests = v["guests"].as_array().expect("guests is an array");
    assert_eq!(guests.len(), 2);
    assert_eq!(guests[0]["name"], "Гость 1");
    let dish = &guests[0]["dishes"][0];
    assert_eq!(dish["dishId"], "1001");
    assert_eq!(dish["name"], "Борщ с пампушками");
    assert!(
        dish["count"].is_number() && dish["sum"].is_number(),
        "{dish}"
    );
    assert_eq!(dec(&dish["sum"].to_string()), dec("390.00"));
    assert_eq!(guests[1]["dishes"][1]["count"].to_string(), "2");
    for k in ["positionId", "category", "type", "linkedTo", "taxCategory"] {
        assert!(dish[k].is_string(), "{k}: {dish}");
    }

    // The bill is closed in r_keeper: 978.00 by card, the tips as their own tender.
    let order = w
        .stack
        .sim
        .order(DEMO_OBJECT_ID, DEMO_ORDER_978)
        .expect("order");
    assert_eq!(order.status, status::COMPLITED);
    assert_eq!(w.card_postings(DEMO_ORDER_978), [dec("978.00")]);
    assert!(
        w.stack
            .sim
            .ledger()
            .iter()
            .any(|l| l.order_guid == DEMO_ORDER_978
                && l.currency == DEMO_TIPS_CURRENCY_GUID
                && l.amount == dec("19.24"))
    );
    let ours = w.our_payments(DEMO_ORDER_978).await;
    assert_eq!(ours.len(), 1);
    assert_eq!(
        ours[0].idempotency_key,
        format!(
            "expirenza:{DEMO_RESTO_ID}:{DEMO_ORDER_978}:{}",
            done.attempts[0]
        )
    );
    assert_eq!(
        ours[0].fiscal_data.get("ЕКВАЙЕР").map(String::as_str),
        Some("Expirenza simulator")
    );
    // Keepalives arrive in the documented form.
    let pings = w.exp.pings();
    assert!(
        !pings.is_empty() && pings.iter().all(|p| p.well_formed),
        "{pings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_substate_reaches_expirenza_from_a_pos_fault() {
    let w = World::start().await;
    let cases = [
        (FaultKind::BillLocked, "BILL_IN_USE"),
        (FaultKind::ShiftClosed, "CASHIERS_SHIFT_CLOSED"),
        (FaultKind::PrinterError, "PRINTER_ERROR"),
        (FaultKind::CloseBlocked, "CLOSE_ORDER_BLOCKED"),
    ];
    let mut running = Vec::new();
    for (fault, want) in cases {
        let bill = w.stack.add_order(DEMO_OBJECT_ID, "500.00");
        // Retriable: the fault clears after one refusal.
        w.stack
            .sim
            .inject(Fault::new(fault.clone()).for_order(bill.clone()).times(1));
        running.push((w.pay(&bill, "500.00", "0"), bill, want));
    }
    // WRONG_REQUEST_SUM: the bill was edited after the guest paid 450.00.
    let edited = w.stack.add_order(DEMO_OBJECT_ID, "500.00");
    let wrong = w.pay(&edited, "450.00", "0");
    // OTHER_ERROR: the POS does not know the bill.
    let unknown = w.pay("00000000-0000-0000-0000-00000000dead", "10.00", "0");

    for (p, bill, want) in &running {
        let done = w.settled(p).await;
        assert_eq!(done.status, PaymentStatus::Succeeded, "{want}: {done:?}");
        let answers = w.answers(p);
        let first = &answers[0];
        assert_eq!(first.state(), Some("FAIL"), "{want}");
        assert_eq!(first.substate(), Some(*want));
        // stackTraceMessage is the POS's raw text (r_keeper's `RkInternal: ...`).
        let raw = s(first, "stackTraceMessage");
        assert!(raw.starts_with("RkInternal: "), "{want}: {raw:?}");
        assert_eq!(
            w.our_payments(bill).await.len(),
            1,
            "{want}: one payment, never a second"
        );
        assert_eq!(answers.last().unwrap().state(), Some("SUCCESS"), "{want}");
        assert_eq!(
            w.card_postings(bill),
            [dec("500.00")],
            "{want}: posted once"
        );
        assert!(
            w.exp
                .notifications()
                .iter()
                .any(|n| n.bill_id == *bill && n.kind == *want)
        );
    }

    let first = w
        .exp
        .wait_callback(&wrong.attempts[0], T)
        .await
        .expect("answer");
    assert_eq!(first.substate(), Some("WRONG_REQUEST_SUM"));
    let msg = s(&first, "stackTraceMessage");
    assert!(msg.contains("500.00") && msg.contains("450.00"), "{msg}");
    assert!(
        first.field("orderNumber").and_then(Value::as_i64).is_some(),
        "{}",
        first.body
    );
    assert!(
        w.card_postings(&edited).is_empty(),
        "nothing posted on a wrong sum"
    );
    // Staff revert the edit: Expirenza's next repeat succeeds.
    w.stack
        .sim
        .update_order(DEMO_OBJECT_ID, &edited, |o| o.total = dec("450.00"));
    let done = w.settled(&wrong).await;
    assert_eq!(done.status, PaymentStatus::Succeeded, "{done:?}");
    assert_eq!(w.card_postings(&edited), [dec("450.00")]);

    let done = w.settled(&unknown).await;
    assert_eq!(
        done.status,
        PaymentStatus::Failed,
        "OTHER_ERROR is not repeated"
    );
    assert_eq!(done.last_substate.as_deref(), Some("OTHER_ERROR"));
    assert_eq!(done.attempts.len(), 1);
    assert!(!done.last_message.unwrap_or_default().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_pay_bills_never_post_twice() {
    let w = World::start().await;
    let bill = w.stack.add_order(DEMO_OBJECT_ID, "300.00");
    // A slow POS widens the window in which the repeats arrive.
    w.stack.sim.inject(
        Fault::new(FaultKind::Slow { delay_ms: 800 })
            .for_order(bill.clone())
            .times(1),
    );
    // The same frame twice (same rID) ...
    w.exp.duplicate_next_frames(1);
    let rid = w
        .exp
        .send_operation(
            DEMO_RESTO_ID,
            json!({"operation": "payBill", "billId": bill, "sum": 300.00, "tips": 0}),
        )
        .unwrap();
    // ... and a racing payBill with a new rID for the same bill.
    let rid2 = w
        .exp
        .send_operation(
            DEMO_RESTO_ID,
            json!({"operation": "payBill", "billId": bill, "sum": 300.00}),
        )
        .unwrap();
    let both = w.exp.wait_callbacks(&rid, 2, T).await;
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[0].body, both[1].body, "same rID → identical body");
    assert_eq!(both[0].state(), Some("SUCCESS"));
    assert!(both[1].duplicate && both[1].status == 200);
    let other = w.callback(&rid2).await;
    assert_eq!(other.state(), Some("SUCCESS"), "{}", other.body);

    // Later repeats: the same rID again, and yet another rID.
    let again = w
        .exp
        .send_operation(
            DEMO_RESTO_ID,
            json!({"rID": rid, "operation": "payBill", "billId": bill, "sum": 300.00}),
        )
        .unwrap();
    assert_eq!(again, rid);
    let rid3 = w
        .exp
        .send_operation(
            DEMO_RESTO_ID,
            json!({"operation": "payBill", "billId": bill, "sum": 300.00}),
        )
        .unwrap();
    let third = w.callback(&rid3).await;
    assert_eq!(third.state(), Some("SUCCESS"));
    let all = w.exp.wait_callbacks(&rid, 3, T).await;
    assert_eq!(all[2].body, both[0].body);

    assert_eq!(
        w.card_postings(&bill),
        [dec("300.00")],
        "posted exactly once"
    );
    assert_eq!(w.stack.sim.requests("PayOrder"), 1);
    assert_eq!(w.our_payments(&bill).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_reconnects_and_in_flight_work_is_answered() {
    let w = World::start().await;
    let bill = w.stack.add_order(DEMO_OBJECT_ID, "120.00");
    w.stack.sim.inject(
        Fault::new(FaultKind::Slow { delay_ms: 1_500 })
            .for_order(bill.clone())
            .times(1),
    );
    let p = w.pay(&bill, "120.00", "0");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(w.exp.drop_connections(), 1);
    // The answer still comes (it is an HTTP callback), and the socket comes back.
    let cb = w.callback(&p.attempts[0]).await;
    assert_eq!(cb.state(), Some("SUCCESS"), "{}", cb.body);
    assert!(w.exp.wait_connected(DEMO_RESTO_ID, T).await);
    assert!(w.exp.connections().len() >= 2);
    assert_eq!(w.card_postings(&bill), [dec("120.00")]);
    // Work continues over the new connection.
    let rid = w.exp.check_work(DEMO_RESTO_ID).unwrap();
    let cb = w.callback(&rid).await;
    assert_eq!(cb.field("readyToWork"), Some(&Value::Bool(true)));
    let reconnected = w.exp.connections().last().unwrap().id;
    assert!(
        w.exp
            .wait_for(T, |s| s
                .pings()
                .iter()
                .any(|p| p.connection_id == reconnected)
                .then_some(()))
            .await
            .is_some(),
        "keepalive on the new connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_clear_fail_answers_and_the_connection_stays_up() {
    let w = World::start().await;
    let send = |t: String| w.exp.send_raw(DEMO_RESTO_ID, t).unwrap();
    send("this is not JSON".into());
    send(r#"{"rID":"m1","operation":"payBill","sum":100}"#.into());
    send(format!(
        r#"{{"rID":"m2","operation":"payBill","billId":"{DEMO_ORDER_978}","sum":"abc"}}"#
    ));
    send(r#"{"rID":"m3","operation":"payBill","billId":"B-3","sum":"#.into());
    send(format!(
        r#"{{"rID":"m4","operation":"payBill","billId":"B-4","sum":1,"pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    ));
    send(r#"{"rID":"m5","operation":"getBill"}"#.into());
    send(r#"{"rID":"m6","operation":"menuInfo"}"#.into());
    send(r#"{"rID":"m7","operation":"payBill","billId":"B-7","sum":true}"#.into());
    send(r#"{"rID":"m8","operation":"payBill","billId":"B-8","sum":10,"tips":-1}"#.into());

    let want = [
        ("m1", "", "billId is missing"),
        ("m2", DEMO_ORDER_978, "sum must be a number"),
        ("m3", "B-3", "not valid JSON"),
        ("m4", "B-4", "exceeds the limit"),
        ("m7", "B-7", "sum must be a number"),
        ("m8", "B-8", "tips is negative"),
    ];
    for (rid, bill, reason) in want {
        let cb = w.callback(rid).await;
        assert_eq!(cb.operation, "payBill");
        assert_eq!(cb.state(), Some("FAIL"), "{rid}");
        assert_eq!(cb.substate(), Some("OTHER_ERROR"), "{rid}");
        assert_eq!(s(&cb, "billId"), bill, "{rid}");
        let msg = s(&cb, "stackTraceMessage");
        assert!(msg.contains(reason), "{rid}: {msg}");
    }
    let cb = w.callback("m5").await;
    assert_eq!(cb.operation, "getBill");
    assert_eq!(cb.substate(), Some("ORDER_NOT_FOUND"));
    assert_eq!(s(&cb, "errorCode"), "BAD_REQUEST");
    // The connection stayed up all along and still works.
    let rid = w.exp.check_work(DEMO_RESTO_ID).unwrap();
    w.callback(&rid).await;
    assert_eq!(w.exp.connections().len(), 1, "never reconnected");
    assert!(
        w.exp.callbacks_for("m6").is_empty(),
        "unsupported: not answered"
    );
    assert_eq!(w.stack.sim.requests("PayOrder"), 0, "nothing posted");
    assert!(
        w.exp.callbacks().iter().all(|c| c.status == 200),
        "every answer valid"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_bill_by_id_and_by_table_check_work_and_version_info() {
    let w = World::start_with(Options::default(), |_, channel| {
        channel.tables = vec!["12".into(), "998".into()];
    })
    .await;
    let by_table = w
        .callback(&w.exp.get_bill_by_table(DEMO_RESTO_ID, "12").unwrap())
        .await;
    let v = by_table.json.clone().unwrap();
    assert_eq!(v["state"], "SUCCESS", "{v}");
    assert_eq!(v["tableNumber"], 12);
    let orders = v["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["billId"], DEMO_ORDER_978);
    assert_eq!(dec(&orders[0]["totalSum"].to_string()), dec("978.00"));
    assert_eq!(orders[0]["orderNumber"], 1001);
    assert_eq!(orders[0]["guests"].as_array().unwrap().len(), 2);
    assert_eq!(orders[0]["waiter"], "Анна");

    let by_id = w
        .callback(&w.exp.get_bill(DEMO_RESTO_ID, DEMO_ORDER_978).unwrap())
        .await;
    let v2 = by_id.json.clone().unwrap();
    assert_eq!(v2["orders"][0], orders[0]);

    let unknown = w
        .callback(
            &w.exp
                .get_bill(DEMO_RESTO_ID, "00000000-0000-0000-0000-000000000000")
                .unwrap(),
        )
        .await;
    assert_eq!(unknown.state(), Some("FAIL"));
    assert_eq!(unknown.substate(), Some("ORDER_NOT_FOUND"));
    let empty = w
        .callback(&w.exp.get_bill_by_table(DEMO_RESTO_ID, "998").unwrap())
        .await;
    assert_eq!(
        empty.substate(),
        Some("ORDER_NOT_FOUND"),
        "a table without a bill"
    );
    let nowhere = w
        .callback(&w.exp.get_bill_by_table(DEMO_RESTO_ID, "999").unwrap())
        .await;
    assert_eq!(
        nowhere.substate(),
        Some("TABLE_NOT_FOUND"),
        "a table that does not exist"
    );

    let cw = w.callback(&w.exp.check_work(DEMO_RESTO_ID).unwrap()).await;
    assert_eq!(cw.field("readyToWork"), Some(&Value::Bool(true)));
    let vi = w
        .callback(&w.exp.version_info(DEMO_RESTO_ID).unwrap())
        .await;
    let feats = vi
        .field("implementedFeatures")
        .and_then(Value::as_array)
        .unwrap();
    assert!(feats.iter().any(|f| f["feature"] == "BILL_V_2"));
    assert!(vi.field("pluginVersion").is_some_and(Value::is_u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_refused_with_500_are_resent_and_400_is_not() {
    let w = World::start().await;
    w.exp.fail_next_callbacks(2);
    let rid = w.exp.check_work(DEMO_RESTO_ID).unwrap();
    let recs = w.exp.wait_callbacks(&rid, 3, T).await;
    assert_eq!(
        recs.iter().map(|c| c.status).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert!(
        recs.iter().all(|c| c.body == recs[0].body),
        "the same bytes"
    );

    w.exp.reject_next_callbacks(1);
    let rid = w.exp.check_work(DEMO_RESTO_ID).unwrap();
    let recs = w.exp.wait_callbacks(&rid, 1, T).await;
    assert_eq!(recs[0].status, 400);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(w.exp.callbacks_for(&rid).len(), 1, "a 400 is not resent");

    // A payBill whose callback fails once is still delivered and posted once.
    let bill = w.stack.add_order(DEMO_OBJECT_ID, "42.00");
    w.exp.fail_next_callbacks(1);
    let p = w.pay(&bill, "42.00", "0");
    let done = w.settled(&p).await;
    assert_eq!(done.status, PaymentStatus::Succeeded);
    assert_eq!(done.attempts.len(), 1);
    assert_eq!(w.card_postings(&bill), [dec("42.00")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_payment_is_never_success_and_the_repeat_gets_the_outcome() {
    let w = World::start_with(
        Options {
            task_timeout_s: 1,
            pay_wait_ms: 300,
            ..Options::default()
        },
        |cfg, _| cfg.answer_deadline_ms = 1_000,
    )
    .await;
    let bill = w.stack.add_order(DEMO_OBJECT_ID, "250.00");
    // The POS applies the payment but its answer is lost: posgate does not know yet.
    w.stack.sim.inject(
        Fault::new(FaultKind::AnswerLost)
            .for_order(bill.clone())
            .times(1),
    );
    let p = w.pay(&bill, "250.00", "0");
    let done = w.settled(&p).await;
    assert_eq!(done.status, PaymentStatus::Succeeded, "{done:?}");
    let answers = w.answers(&p);
    let first = &answers[0];
    assert_eq!(first.state(), Some("FAIL"), "{}", first.body);
    assert_eq!(
        first.substate(),
        Some("BILL_IN_USE"),
        "the pending substate"
    );
    assert!(
        s(first, "stackTraceMessage").contains("posgate"),
        "{}",
        first.body
    );
    assert_eq!(answers.last().unwrap().state(), Some("SUCCESS"));
    assert_eq!(w.card_postings(&bill), [dec("250.00")], "applied once");
    assert_eq!(w.stack.sim.requests("PayOrder"), 1, "never re-posted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_rid_must_repeat_the_first_frame() {
    let w = World::start().await;
    let bill = w.stack.add_order(DEMO_OBJECT_ID, "300.00");
    let other_bill = w.stack.add_order(DEMO_OBJECT_ID, "310.00");
    let fiscal = json!([{"key": "ЕКВАЙЕР", "value": "Universal Bank"}]);
    let rid = w
        .exp
        .send_operation(
            DEMO_RESTO_ID,
            json!({"operation": "payBill", "billId": bill, "sum": 300.00, "tips": 0, "fiscalData": fiscal}),
        )
        .unwrap();
    let first = w.callback(&rid).await;
    assert_eq!(first.state(), Some("SUCCESS"), "{}", first.body);

    // The same rID asking for something else: refused, naming what differs; nothing posted.
    let cases = [
        (
            json!({"billId": bill, "sum": 310.00, "tips": 0, "fiscalData": fiscal}),
            "sum",
        ),
        (
            json!({"billId": other_bill, "sum": 300.00, "tips": 0, "fiscalData": fiscal}),
            "billId",
        ),
        (
            json!({"billId": bill, "sum": 300.00, "tips": 5.5, "fiscalData": fiscal}),
            "tips",
        ),
        (
            json!({"billId": bill, "sum": 300.00, "tips": 0, "fiscalData": [{"key": "RRN", "value": "1"}]}),
            "fiscalData",
        ),
    ];
    let mut seen = 1;
    for (frame, field) in cases {
        let mut frame = frame;
        frame["rID"] = json!(rid);
        frame["operation"] = json!("payBill");
        assert_eq!(w.exp.send_operation(DEMO_RESTO_ID, frame).unwrap(), rid);
        seen += 1;
        let all = w.exp.wait_callbacks(&rid, seen, T).await;
        assert_eq!(all.len(), seen, "{field}: {all:?}");
        let cb = all.last().unwrap();
        let v = cb.json.clone().expect("json");
        assert_eq!(v["state"], "FAIL", "{field}: {}", cb.body);
        assert_eq!(v["substate"], "OTHER_ERROR", "{field}: {}", cb.body);
        let msg = s(cb, "stackTraceMessage");
        assert!(
            msg.contains(&format!("different {field};")),
            "{field}: {msg}"
        );
        assert!(msg.contains("not posted"), "{field}: {msg}");
    }

    // An exact repeat (the sum written differently is the same money) still gets the first
    // answer, byte for byte.
    w.exp
        .send_operation(
            DEMO_RESTO_ID,
            json!({"rID": rid, "operation": "payBill", "billId": bill, "sum": 300, "fiscalData": fiscal}),
        )
        .unwrap();
    let all = w.exp.wait_callbacks(&rid, seen + 1, T).await;
    assert_eq!(all.last().unwrap().body, first.body);

    assert_eq!(w.card_postings(&bill), [dec("300.00")], "posted once");
    assert!(w.card_postings(&other_bill).is_empty(), "never posted");
    assert_eq!(w.stack.sim.requests("PayOrder"), 1);
    assert_eq!(w.our_payments(&bill).await.len(), 1);
    assert!(w.our_payments(&other_bill).await.is_empty());
}

/// Everything logged on this test's thread.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
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

/// One thread (current-thread runtime) with a TRACE subscriber of its own: every task of the
/// test logs into the capture, including the `log` records of tungstenite, whose handshake
/// logs the whole upgrade request.
#[tokio::test]
async fn the_secret_key_and_the_basic_header_never_reach_the_logs() {
    use tracing_subscriber::util::SubscriberInitExt;
    let captured = Captured::default();
    let writer = captured.clone();
    let _guard = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish()
        .set_default();

    let w = World::start().await;
    let p = w.pay(DEMO_ORDER_978, "978.00", "0");
    let done = w.settled(&p).await;
    assert_eq!(done.status, PaymentStatus::Succeeded, "{done:?}");

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
    // The line that used to carry the header: tungstenite's TRACE of the upgrade request.
    assert!(
        logs.contains("tungstenite::handshake::client") && logs.contains("Request: \"GET "),
        "tungstenite's handshake request is in the capture"
    );
    let header = posgate_expirenza::wire::basic_auth(DEMO_RESTO_ID, DEMO_SECRET_KEY);
    let encoded = header.trim_start_matches("Basic ");
    assert!(!encoded.is_empty() && encoded != header);
    assert!(!logs.contains(DEMO_SECRET_KEY), "secret key leaked");
    assert!(!logs.contains(encoded), "Basic credentials leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_over_wss_with_https_callbacks_trusting_the_platforms_ca() {
    let ca = TestCa::new();
    let w = World::start_on(Options::default(), Some(&ca), |_, _| {}).await;
    let p = w.pay(DEMO_ORDER_978, "978.00", "0");
    let done = w.settled(&p).await;
    assert_eq!(done.status, PaymentStatus::Succeeded, "{done:?}");
    assert_eq!(w.card_postings(DEMO_ORDER_978), vec![dec("978.00")]);
    let answers = w.answers(&p);
    assert_eq!(
        answers.len(),
        1,
        "one signed callback over https: {answers:?}"
    );
}
