//! Drives the WSA simulator over real HTTP.

use std::time::{Duration, Instant};

use posgate_sim::wsa::{
    AgentVersion, DEMO_CURRENCY_GUID, DEMO_OBJECT_ID, DEMO_ORDER_978, DEMO_ORDER_1450_50,
    DEMO_ORDER_2300, DEMO_ORDER_ZERO, DEMO_TIPS_CURRENCY_GUID, DEMO_TOKEN, DEMO_V1_OBJECT_ID,
    DEMO_V1_ORDER_1000, DEMO_V1_TOKEN, Fault, FaultKind, Lang, SimCurrency, SimOrder,
    SimRestaurant, StoredWsError, WsaSim, demo_order_guids,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const CUR: &str = DEMO_CURRENCY_GUID;

struct Wsa {
    sim: WsaSim,
    http: reqwest::Client,
    base: String,
}

impl Wsa {
    async fn start(sim: WsaSim) -> Self {
        let addr = sim.clone().spawn().await.expect("bind");
        Self {
            sim,
            http: reqwest::Client::new(),
            base: format!("http://{addr}"),
        }
    }

    async fn demo() -> Self {
        Self::start(WsaSim::with_demo_data()).await
    }

    async fn raw(&self, token: Option<&str>, body: String) -> (u16, String) {
        let mut rb = self
            .http
            .post(format!(
                "{}/wsserverlp/api/v2/aggregators/Create",
                self.base
            ))
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body);
        if let Some(t) = token {
            rb = rb.header("AggregatorAuthentication", t);
        }
        let resp = rb.send().await.expect("send");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    async fn call(&self, token: &str, body: Value) -> Value {
        let (status, text) = self.raw(Some(token), body.to_string()).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).expect("json")
    }

    async fn sync(&self, token: &str, object_id: i64, task_type: &str, extra: Value) -> Value {
        let mut params = json!({ "sync": { "objectId": object_id, "timeout": 1 } });
        merge(&mut params, extra);
        self.call(token, json!({ "taskType": task_type, "params": params }))
            .await
    }

    async fn pay(&self, token: &str, object_id: i64, guid: &str, payments: Value) -> Value {
        self.sync(
            token,
            object_id,
            "PayOrder",
            json!({ "orderGuid": guid, "payments": payments }),
        )
        .await
    }

    async fn get_task(&self, token: &str, task_guid: &str) -> Value {
        self.call(
            token,
            json!({ "taskType": "GetTaskResponse", "params": { "taskGuid": task_guid } }),
        )
        .await
    }

    async fn ctl(&self, method: reqwest::Method, path: &str, body: Option<String>) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}/_sim/wsa{path}", self.base));
        if let Some(b) = body {
            rb = rb.header("Content-Type", "application/json").body(b);
        }
        let resp = rb.send().await.expect("send");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("json"))
    }
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), extra) {
        a.extend(b);
    }
}

fn dec(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

fn ws_code(v: &Value) -> &str {
    v["error"]["wsError"]["code"].as_str().unwrap_or("")
}

fn agent_code(v: &Value) -> &str {
    v["error"]["agentError"]["code"].as_str().unwrap_or("")
}

fn agent_desc(v: &Value) -> &str {
    v["error"]["agentError"]["desc"].as_str().unwrap_or("")
}

fn ok(v: &Value) -> &Value {
    assert!(v.get("error").is_none(), "unexpected error: {v}");
    &v["taskResponse"]
}

fn pay_line(amount: Value) -> Value {
    json!([{ "amount": amount, "currency": CUR }])
}

/// Amount as a JSON number with exact text.
fn num(s: &str) -> Value {
    serde_json::from_str(s).expect("number")
}

#[tokio::test]
async fn auth_and_structure_errors() {
    let w = Wsa::demo().await;
    let body = json!({ "taskType": "GetOrder",
        "params": { "sync": { "objectId": DEMO_OBJECT_ID }, "orderGuid": DEMO_ORDER_978 } });

    let (st, text) = w.raw(None, body.to_string()).await;
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(ws_code(&v), "AuthFailed");
    assert!(v["responseCommon"]["taskGuid"].is_string());

    let v = w.call("nope", body.clone()).await;
    assert_eq!(ws_code(&v), "AuthFailed");
    // The v1 restaurant's token is not valid for the v2 restaurant.
    let v = w.call(DEMO_V1_TOKEN, body.clone()).await;
    assert_eq!(ws_code(&v), "AuthFailed");
    // Raw token and `Token <token>` both work.
    let v = w.call(DEMO_TOKEN, body.clone()).await;
    ok(&v);
    let v = w.call(&format!("Token {DEMO_TOKEN}"), body.clone()).await;
    ok(&v);
    let rc = &v["responseCommon"];
    assert_eq!(rc["taskType"], "GetOrder");
    assert_eq!(rc["objectId"], DEMO_OBJECT_ID);
    assert!(rc["agentGuid"].is_string());

    // Unknown restaurant with a valid token → License/WsAgent.
    let v = w
        .sync(DEMO_TOKEN, 42, "GetOrder", json!({ "orderGuid": "x" }))
        .await;
    assert_eq!(ws_code(&v), "License");
    assert_eq!(v["error"]["wsError"]["extCode"], "WsAgent");

    // Unparsable JSON → HTTP 400 with the envelope.
    let (st, text) = w.raw(Some(DEMO_TOKEN), "{not json".into()).await;
    assert_eq!(st, 400);
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(ws_code(&v), "BadRequest");
    assert_eq!(v["error"]["wsError"]["desc"], "InvalidRequestStructure");

    for bad in [
        json!({ "taskType": "GetOrder", "params": {
            "sync": { "objectId": DEMO_OBJECT_ID }, "async": { "objectId": DEMO_OBJECT_ID } } }),
        json!({ "taskType": "GetOrder", "params": { "orderGuid": DEMO_ORDER_978 } }),
        json!({ "taskType": "Frobnicate", "params": { "sync": { "objectId": DEMO_OBJECT_ID } } }),
        json!({ "taskType": "PayOrder", "params": { "sync": { "objectId": DEMO_OBJECT_ID },
            "orderGuid": DEMO_ORDER_978, "payments": [{ "amount": "978,00", "currency": CUR }] } }),
        json!({ "taskType": "PayOrder", "params": { "sync": { "objectId": DEMO_OBJECT_ID },
            "payments": [] } }),
        json!({ "taskType": "GetTaskResponse", "params": { "async": { "objectId": 1 },
            "taskGuid": "x" } }),
        json!([1, 2]),
    ] {
        let v = w.call(DEMO_TOKEN, bad.clone()).await;
        assert_eq!(ws_code(&v), "BadRequest", "{bad} → {v}");
    }
    assert!(w.sim.ledger().is_empty());
}

#[tokio::test]
async fn async_ack_awaiting_then_answer() {
    let w = Wsa::demo().await; // demo restaurant: async_delay_ms = 200
    let v = w
        .call(
            DEMO_TOKEN,
            json!({ "taskType": "PayOrder", "params": {
                "async": { "objectId": DEMO_OBJECT_ID, "timeout": 5 },
                "orderGuid": DEMO_ORDER_978, "payments": pay_line(num("978.00")) } }),
        )
        .await;
    assert!(
        v.get("error").is_none() && v.get("taskResponse").is_none(),
        "{v}"
    );
    let guid = v["responseCommon"]["taskGuid"]
        .as_str()
        .expect("taskGuid")
        .to_string();
    assert_eq!(v["responseCommon"]["taskType"], "PayOrder");

    let r = w.get_task(DEMO_TOKEN, &guid).await;
    assert_eq!(ws_code(&r), "AwaitingAnswer");
    assert_eq!(r["responseCommon"]["taskType"], "GetTaskResponse");
    assert_eq!(r["responseCommon"]["objectId"], DEMO_OBJECT_ID);
    assert_ne!(r["responseCommon"]["taskGuid"], guid.as_str());

    // Another aggregator cannot read it.
    let r = w.get_task(DEMO_V1_TOKEN, &guid).await;
    assert_eq!(ws_code(&r), "NotFound");

    let started = Instant::now();
    let answer = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r = w.get_task(DEMO_TOKEN, &guid).await;
        if ws_code(&r) != "AwaitingAnswer" {
            break r;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "never answered");
    };
    assert_eq!(answer["responseCommon"]["taskGuid"], guid.as_str());
    assert_eq!(answer["responseCommon"]["taskType"], "PayOrder");
    let order = &ok(&answer)["order"];
    assert_eq!(order["status"]["value"], "Complited");
    assert_eq!(order["price"]["total"].to_string(), "978.00");
    assert_eq!(order["price"]["summToPay"].to_string(), "0.00");
    // Verbatim on repeat.
    assert_eq!(w.get_task(DEMO_TOKEN, &guid).await, answer);

    let r = w
        .get_task(DEMO_TOKEN, "00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(ws_code(&r), "NotFound");
    assert_eq!(w.sim.ledger().len(), 1);
    assert_eq!(w.sim.ledger()[0].task_guid, guid);
}

#[tokio::test]
async fn v2_exact_less_more_and_tips() {
    let w = Wsa::demo().await;
    // Less.
    let v = w
        .pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            DEMO_ORDER_978,
            pay_line(num("977.99")),
        )
        .await;
    assert_eq!(ws_code(&v), "AgentError");
    assert_eq!(agent_code(&v), "WsaOrderError");
    assert_eq!(
        agent_desc(&v),
        "RkInternal: Кассовая станция [3373] Недостаточно средств для полной оплаты заказа"
    );
    // More (with an explicit cash station).
    let v = w
        .sync(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "PayOrder",
            json!({ "orderGuid": DEMO_ORDER_978, "cashStationId": 7,
                    "payments": pay_line(num("978.01")) }),
        )
        .await;
    assert_eq!(
        agent_desc(&v),
        "RkInternal: Кассовая станция [7] Сумма оплаты превышает сумму заказа"
    );
    // Unknown currency.
    let v = w
        .pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            DEMO_ORDER_978,
            json!([{ "amount": 978, "currency": "11111111-2222-3333-4444-555555555555" }]),
        )
        .await;
    assert_eq!(agent_code(&v), "WsaOrderError");
    assert!(agent_desc(&v).contains("Валюта"), "{v}");
    assert!(w.sim.ledger().is_empty());
    // Exact, split across two lines, plus a tips line that does not count.
    let v = w
        .pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            DEMO_ORDER_978,
            json!([
                { "amount": num("500.00"), "currency": CUR, "cardCode": "777" },
                { "amount": "478.00", "currency": CUR },
                { "amount": num("100.00"), "currency": DEMO_TIPS_CURRENCY_GUID },
            ]),
        )
        .await;
    let order = &ok(&v)["order"];
    assert_eq!(order["status"]["value"], "Complited");
    assert_eq!(order["status"]["isBillPrinted"], false);
    let o = w.sim.order(DEMO_OBJECT_ID, DEMO_ORDER_978).expect("order");
    assert_eq!(o.status, "Complited");
    assert_eq!(o.prepaid, dec(97800, 2));
    assert_eq!(o.payments.len(), 3);
    let ledger = w.sim.ledger();
    assert_eq!(ledger.len(), 3);
    assert!(ledger[0].card_code_present && !ledger[1].card_code_present);
    assert_eq!(ledger[2].currency, DEMO_TIPS_CURRENCY_GUID);
    assert_eq!(ledger[2].amount, dec(10000, 2));
    // Paying a closed order.
    let v = w
        .pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            DEMO_ORDER_978,
            pay_line(num("0")),
        )
        .await;
    assert!(agent_desc(&v).contains("уже закрыт"), "{v}");
    // String amount with full order requested.
    let v = w
        .sync(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "PayOrder",
            json!({ "orderGuid": DEMO_ORDER_1450_50, "isFullOrderRequired": true,
                    "payments": pay_line(json!("1450.50")) }),
        )
        .await;
    let order = &ok(&v)["order"];
    assert_eq!(order["orderGuid"], DEMO_ORDER_1450_50);
    assert_eq!(order["price"]["total"].to_string(), "1450.50");
    assert_eq!(order["appliedPayments"][0]["amount"].to_string(), "1450.50");
    assert_eq!(order["appliedPayments"][0]["payType"], "Card");
    // Unknown order.
    let v = w
        .pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "no-such-order",
            pay_line(num("1")),
        )
        .await;
    assert_eq!(agent_desc(&v), "RkInternal: Заказ не найден");
}

#[tokio::test]
async fn v1_prepayments() {
    let w = Wsa::demo().await;
    let (t, id, g) = (DEMO_V1_TOKEN, DEMO_V1_OBJECT_ID, DEMO_V1_ORDER_1000);
    let v = w.pay(t, id, g, pay_line(num("400.00"))).await;
    let order = &ok(&v)["order"];
    assert_eq!(order["status"]["value"], "Created");
    assert_eq!(order["price"]["summToPay"].to_string(), "600.00");
    // Overpay is rejected and nothing changes.
    let v = w.pay(t, id, g, pay_line(num("600.01"))).await;
    assert_eq!(agent_code(&v), "WsaOrderError");
    assert_eq!(
        agent_desc(&v),
        "RkInternal: Сумма предоплаты превышает сумму заказа"
    );
    assert_eq!(w.sim.order(id, g).expect("order").prepaid, dec(40000, 2));
    // CompleteOrder is v2-only.
    let v = w
        .sync(t, id, "CompleteOrder", json!({ "orderGuid": g }))
        .await;
    assert_eq!(agent_code(&v), "WsaCommandNotSupported");
    // Paying the rest closes it.
    let v = w.pay(t, id, g, pay_line(json!("600.00"))).await;
    assert_eq!(ok(&v)["order"]["status"]["value"], "Complited");
    let o = w.sim.order(id, g).expect("order");
    assert_eq!(o.prepaid, o.total);
    assert_eq!(w.sim.ledger().len(), 2);
    // GetOrder on v1 has no appliedPayments / waiterId.
    let v = w.sync(t, id, "GetOrder", json!({ "orderGuid": g })).await;
    let order = &ok(&v)["order"];
    assert!(order.get("appliedPayments").is_none());
    assert!(order.get("waiterId").is_none());
    assert_eq!(order["status"]["value"], "Complited");
}

#[tokio::test]
async fn full_discount_order() {
    let w = Wsa::demo().await;
    let v = w
        .pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            DEMO_ORDER_ZERO,
            pay_line(num("0.01")),
        )
        .await;
    assert!(agent_desc(&v).contains("превышает"), "{v}");
    let v = w
        .pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            DEMO_ORDER_ZERO,
            pay_line(num("0")),
        )
        .await;
    let order = &ok(&v)["order"];
    assert_eq!(order["status"]["value"], "Complited");
    assert_eq!(order["price"]["total"].to_string(), "0.00");
    assert_eq!(w.sim.ledger().len(), 1);
}

#[tokio::test]
async fn complete_order_rules() {
    let sim = WsaSim::new();
    sim.add_restaurant(SimRestaurant::new(1, AgentVersion::V2, "tok", CUR).with_language(Lang::En));
    let unpaid = sim.add_order(SimOrder::new(1, dec(10000, 2)).with_prepaid(dec(9999, 2)));
    let paid = sim.add_order(SimOrder::new(1, dec(10000, 2)).with_prepaid(dec(10000, 2)));
    let mut canceled = SimOrder::new(1, dec(500, 2));
    canceled.status = "Canceled".into();
    let canceled = sim.add_order(canceled);
    let w = Wsa::start(sim).await;

    let v = w
        .sync(
            "tok",
            1,
            "CompleteOrder",
            json!({ "orderGuid": unpaid.guid }),
        )
        .await;
    assert_eq!(
        agent_desc(&v),
        "RkInternal: Unable to close order, it is not fully paid"
    );
    // Kitchen tickets not printed: blocks once.
    w.sim.inject(
        Fault::new(FaultKind::CloseBlocked)
            .for_order(&paid.guid)
            .times(1),
    );
    let v = w
        .sync("tok", 1, "CompleteOrder", json!({ "orderGuid": paid.guid }))
        .await;
    assert!(agent_desc(&v).contains("kitchen tickets"), "{v}");
    let v = w
        .sync(
            "tok",
            1,
            "CompleteOrder",
            json!({ "orderGuid": paid.guid.to_uppercase() }),
        )
        .await;
    assert_eq!(ok(&v)["order"]["price"]["total"].to_string(), "100.00");
    assert_eq!(w.sim.order(1, &paid.guid).expect("o").status, "Complited");
    // Idempotent on a closed order.
    let v = w
        .sync("tok", 1, "CompleteOrder", json!({ "orderGuid": paid.guid }))
        .await;
    assert_eq!(ok(&v)["order"]["price"]["total"].to_string(), "100.00");
    let v = w
        .sync(
            "tok",
            1,
            "CompleteOrder",
            json!({ "orderGuid": canceled.guid }),
        )
        .await;
    assert!(agent_desc(&v).contains("canceled"), "{v}");
    assert!(w.sim.faults().is_empty());
}

#[tokio::test]
async fn order_state_faults_and_times() {
    let w = Wsa::demo().await;
    let g = DEMO_ORDER_2300;
    w.sim.inject(
        Fault::new(FaultKind::BillLocked)
            .for_object(DEMO_OBJECT_ID)
            .for_order(g)
            .times(2),
    );
    for _ in 0..2 {
        let v = w
            .pay(DEMO_TOKEN, DEMO_OBJECT_ID, g, pay_line(num("2300.00")))
            .await;
        assert_eq!(agent_code(&v), "WsaOrderError");
        assert!(agent_desc(&v).contains("заблокирован"), "{v}");
    }
    // GetOrder is not affected by an order-state fault.
    w.sim.inject(Fault::new(FaultKind::ShiftClosed).times(1));
    let v = w
        .sync(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "GetOrder",
            json!({ "orderGuid": g }),
        )
        .await;
    ok(&v);
    let v = w
        .pay(DEMO_TOKEN, DEMO_OBJECT_ID, g, pay_line(num("2300.00")))
        .await;
    assert!(agent_desc(&v).contains("смена"), "{v}");
    w.sim.inject(Fault::new(FaultKind::PrinterError).times(1));
    let v = w
        .pay(DEMO_TOKEN, DEMO_OBJECT_ID, g, pay_line(num("2300.00")))
        .await;
    assert!(
        matches!(agent_code(&v), "WsaOrderError" | "WsaFillingOrderError"),
        "{v}"
    );
    assert!(agent_desc(&v).contains("фискального регистратора"), "{v}");
    // CloseBlocked does not fire for a failing payment, and is consumed by the closing one.
    w.sim.inject(Fault::new(FaultKind::CloseBlocked).times(1));
    let v = w
        .pay(DEMO_TOKEN, DEMO_OBJECT_ID, g, pay_line(num("1.00")))
        .await;
    assert!(agent_desc(&v).contains("Недостаточно"), "{v}");
    let v = w
        .pay(DEMO_TOKEN, DEMO_OBJECT_ID, g, pay_line(num("2300.00")))
        .await;
    assert!(agent_desc(&v).contains("сервис-чеки"), "{v}");
    assert!(w.sim.faults().is_empty());
    assert!(w.sim.ledger().is_empty());
    let v = w
        .pay(DEMO_TOKEN, DEMO_OBJECT_ID, g, pay_line(num("2300.00")))
        .await;
    ok(&v);
    assert_eq!(w.sim.requests("PayOrder"), 7);
    assert_eq!(w.sim.requests("GetOrder"), 1);
}

#[tokio::test]
async fn restaurant_and_order_flags_english() {
    let sim = WsaSim::new();
    let mut r = SimRestaurant::new(5, AgentVersion::V2, "t5", CUR).with_language(Lang::En);
    r.shift_open = false;
    sim.add_restaurant(r.clone());
    let o = sim.add_order(SimOrder::new(5, dec(1000, 2)));
    let locked = sim.add_order(SimOrder::new(5, dec(1000, 2)).locked_by(4));
    let w = Wsa::start(sim).await;

    let v = w.pay("t5", 5, &locked.guid, pay_line(num("10.00"))).await;
    assert!(agent_desc(&v).contains("station [4]"), "{v}");
    assert!(agent_desc(&v).contains("lock"), "{v}");
    let v = w.pay("t5", 5, &o.guid, pay_line(num("10.00"))).await;
    assert!(agent_desc(&v).to_lowercase().contains("shift"), "{v}");
    r.shift_open = true;
    r.printer_ok = false;
    w.sim.add_restaurant(r.clone());
    let v = w.pay("t5", 5, &o.guid, pay_line(num("10.00"))).await;
    assert!(agent_desc(&v).contains("printer"), "{v}");
    r.printer_ok = true;
    r.enforce_amounts = false;
    w.sim.add_restaurant(r);
    // A buggy POS accepts overpayment.
    let v = w.pay("t5", 5, &o.guid, pay_line(num("15.00"))).await;
    assert_eq!(ok(&v)["order"]["status"]["value"], "Complited");
    assert_eq!(w.sim.order(5, &o.guid).expect("o").prepaid, dec(1500, 2));
}

#[tokio::test]
async fn transport_faults() {
    let w = Wsa::demo().await;
    let g = DEMO_ORDER_1450_50;
    w.sim
        .inject(Fault::new(FaultKind::TaskLimitExceeded).times(1));
    w.sim.inject(Fault::new(FaultKind::InternalError).times(1));
    w.sim.inject(Fault::new(FaultKind::AuthFailed).times(1));
    for code in ["TaskLimitExceeded", "InternalError", "AuthFailed"] {
        let v = w
            .pay(DEMO_TOKEN, DEMO_OBJECT_ID, g, pay_line(num("1450.50")))
            .await;
        assert_eq!(ws_code(&v), code, "{v}");
    }
    // A fault naming another task type does not affect PayOrder.
    w.sim.inject(
        Fault::new(FaultKind::InternalError)
            .for_task("GetOrder")
            .times(1),
    );
    let v = w
        .sync(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "GetOrder",
            json!({ "orderGuid": g }),
        )
        .await;
    assert_eq!(ws_code(&v), "InternalError");
    // Slow but within the timeout: answered and applied.
    w.sim
        .inject(Fault::new(FaultKind::Slow { delay_ms: 150 }).times(1));
    let started = Instant::now();
    let v = w
        .pay(DEMO_TOKEN, DEMO_OBJECT_ID, g, pay_line(num("1450.50")))
        .await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    ok(&v);
    assert_eq!(w.sim.ledger().len(), 1);
    assert!(w.sim.faults().is_empty());
}

#[tokio::test]
async fn answer_lost_and_agent_timeout_sync() {
    let w = Wsa::demo().await;
    w.sim.inject(
        Fault::new(FaultKind::AnswerLost)
            .for_order(DEMO_ORDER_978)
            .times(1),
    );
    w.sim.inject(
        Fault::new(FaultKind::AgentTimeout)
            .for_order(DEMO_ORDER_2300)
            .times(1),
    );
    let started = Instant::now();
    let (lost, offline) = tokio::join!(
        w.pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            DEMO_ORDER_978,
            pay_line(num("978.00"))
        ),
        w.pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            DEMO_ORDER_2300,
            pay_line(num("2300.00"))
        ),
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(ws_code(&lost), "Timeout");
    assert_eq!(ws_code(&offline), "Timeout");
    // AnswerLost: applied; AgentTimeout: not.
    let ledger = w.sim.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].order_guid, DEMO_ORDER_978);
    assert_eq!(
        w.sim
            .order(DEMO_OBJECT_ID, DEMO_ORDER_978)
            .expect("o")
            .status,
        "Complited"
    );
    assert_eq!(
        w.sim
            .order(DEMO_OBJECT_ID, DEMO_ORDER_2300)
            .expect("o")
            .status,
        "Created"
    );
}

#[tokio::test]
async fn answer_lost_and_agent_timeout_async() {
    let sim = WsaSim::new();
    sim.add_restaurant(SimRestaurant::new(9, AgentVersion::V2, "t9", CUR).with_async_delay_ms(50));
    let a = sim.add_order(SimOrder::new(9, dec(100, 0)));
    let b = sim.add_order(SimOrder::new(9, dec(100, 0)));
    sim.inject(Fault::new(FaultKind::AnswerLost).for_order(&a.guid));
    sim.inject(Fault::new(FaultKind::AgentTimeout).for_order(&b.guid));
    let w = Wsa::start(sim).await;
    let mut guids = Vec::new();
    for o in [&a, &b] {
        let v = w
            .call(
                "t9",
                json!({ "taskType": "PayOrder", "params": {
                    "async": { "objectId": 9, "timeout": 1 },
                    "orderGuid": o.guid, "payments": pay_line(num("100")) } }),
            )
            .await;
        guids.push(
            v["responseCommon"]["taskGuid"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for g in &guids {
        assert_eq!(ws_code(&w.get_task("t9", g).await), "AwaitingAnswer");
    }
    // Applied although unanswered.
    assert_eq!(w.sim.ledger().len(), 1);
    assert_eq!(w.sim.order(9, &a.guid).expect("a").status, "Complited");
    tokio::time::sleep(Duration::from_millis(800)).await;
    for g in &guids {
        let r = w.get_task("t9", g).await;
        assert_eq!(ws_code(&r), "Timeout", "{r}");
        assert_eq!(r["responseCommon"]["taskGuid"], g.as_str());
        assert_eq!(r["responseCommon"]["taskType"], "PayOrder");
    }
    assert_eq!(w.sim.order(9, &b.guid).expect("b").status, "Created");
    assert_eq!(w.sim.ledger().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_full_payments_apply_once() {
    for (id, tok, g, amount) in [
        (DEMO_OBJECT_ID, DEMO_TOKEN, DEMO_ORDER_978, "978.00"),
        (
            DEMO_V1_OBJECT_ID,
            DEMO_V1_TOKEN,
            DEMO_V1_ORDER_1000,
            "1000.00",
        ),
    ] {
        let w = std::sync::Arc::new(Wsa::demo().await);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let w = w.clone();
            set.spawn(async move { w.pay(tok, id, g, pay_line(num(amount))).await });
        }
        let mut successes = 0;
        while let Some(r) = set.join_next().await {
            let v = r.expect("join");
            if v.get("error").is_none() {
                successes += 1;
            } else {
                assert_eq!(agent_code(&v), "WsaOrderError", "{v}");
            }
        }
        assert_eq!(successes, 1);
        let ledger = w.sim.ledger();
        assert_eq!(ledger.len(), 1);
        let o = w.sim.order(id, g).expect("order");
        assert_eq!(o.prepaid, o.total);
        assert_eq!(o.status, "Complited");
    }
}

#[tokio::test]
async fn get_order_and_list_shapes() {
    let w = Wsa::demo().await;
    let v = w
        .sync(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "GetOrder",
            json!({ "orderGuid": DEMO_ORDER_978 }),
        )
        .await;
    let order = &ok(&v)["order"];
    assert_eq!(order["orderGuid"], DEMO_ORDER_978);
    assert_eq!(order["status"]["value"], "Created");
    assert_eq!(order["price"]["total"].to_string(), "978.00");
    assert_eq!(order["price"]["summToPay"].to_string(), "978.00");
    assert_eq!(order["personsQuantity"], 2);
    assert_eq!(order["guests"].as_array().map(Vec::len), Some(2));
    assert_eq!(order["products"].as_array().map(Vec::len), Some(4));
    assert_eq!(order["products"][0]["price"].to_string(), "390.00");
    assert!(order["createdAt"].is_string());
    assert_eq!(order["appliedPayments"], json!([]));
    // Sum of dishes equals the total.
    let sum: Decimal = order["products"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let price: Decimal = p["price"].to_string().parse().unwrap_or_default();
            let qty: Decimal = p["quantity"].to_string().parse().unwrap_or_default();
            price * qty
        })
        .sum();
    assert_eq!(sum, dec(97800, 2));

    let v = w
        .sync(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "GetOrder",
            json!({ "orderGuid": "nope" }),
        )
        .await;
    assert_eq!(agent_code(&v), "WsaOrderError");
    assert_eq!(agent_desc(&v), "RkInternal: Заказ не найден");

    let v = w
        .sync(DEMO_TOKEN, DEMO_OBJECT_ID, "GetOrderList", json!({}))
        .await;
    let orders = ok(&v)["orders"].as_array().cloned().unwrap_or_default();
    assert_eq!(orders.len(), demo_order_guids().len());
    for ((guid, total), o) in demo_order_guids().into_iter().zip(&orders) {
        assert_eq!(o["orderGuid"], guid);
        assert_eq!(o["sum"].to_string(), total.to_string());
        assert_eq!(o["isFinished"], false);
    }
    w.pay(
        DEMO_TOKEN,
        DEMO_OBJECT_ID,
        DEMO_ORDER_ZERO,
        pay_line(num("0.00")),
    )
    .await;
    let v = w
        .sync(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "GetOrderList",
            json!({ "tableCode": "12" }),
        )
        .await;
    assert_eq!(ok(&v)["orders"].as_array().map(Vec::len), Some(1));
    let v = w
        .sync(DEMO_TOKEN, DEMO_OBJECT_ID, "GetOrderList", json!({}))
        .await;
    assert_eq!(ok(&v)["orders"].as_array().map(Vec::len), Some(3));
    let v = w
        .sync(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "GetOrderList",
            json!({ "withClosed": true }),
        )
        .await;
    let orders = ok(&v)["orders"].as_array().cloned().unwrap_or_default();
    assert_eq!(orders.len(), 4);
    assert_eq!(orders[3]["isFinished"], true);
    assert_eq!(orders[3]["unpaid"].to_string(), "0.00");

    let v = w
        .sync(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "GetOrderState",
            json!({ "orderGuid": DEMO_ORDER_ZERO }),
        )
        .await;
    assert_eq!(ok(&v)["order"]["status"]["value"], "Complited");
}

#[tokio::test]
async fn control_api() {
    use reqwest::Method;
    let w = Wsa::start(WsaSim::new()).await;
    let (st, v) = w
        .ctl(Method::POST, "/restaurants", Some("{oops".into()))
        .await;
    assert_eq!(st, 400);
    assert!(v["error"].is_string());

    let r = json!({ "object_id": 77, "agent_version": "V2", "token": "t77",
        "currencies": [{ "guid": CUR, "name": "Card" }, { "guid": "tips", "name": "Tips", "tips": true }],
        "language": "En", "async_delay_ms": 0 });
    let (st, v) = w
        .ctl(Method::POST, "/restaurants", Some(r.to_string()))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["shift_open"], true);
    assert_eq!(v["enforce_amounts"], true);

    let o = json!({ "object_id": 77, "total": 12.5, "table_code": "9",
        "guests": [{ "name": "G", "dishes": [{ "id": "1", "name": "Soup", "price": "12.50", "quantity": 1 }] }] });
    let (st, v) = w.ctl(Method::POST, "/orders", Some(o.to_string())).await;
    assert_eq!(st, 200, "{v}");
    let guid = v["guid"].as_str().unwrap_or("").to_string();
    assert!(!guid.is_empty());
    assert_eq!(v["total"], "12.5");
    assert_eq!(v["status"], "Created");

    let (st, v) = w
        .ctl(Method::GET, &format!("/orders/77/{guid}"), None)
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["guid"], guid.as_str());
    let (st, _) = w.ctl(Method::GET, "/orders/77/missing", None).await;
    assert_eq!(st, 404);
    let (st, _) = w.ctl(Method::GET, "/orders/x/missing", None).await;
    assert_eq!(st, 400);

    let f = json!({ "object_id": 77, "kind": "BillLocked", "times": 1 });
    let (st, _) = w.ctl(Method::POST, "/faults", Some(f.to_string())).await;
    assert_eq!(st, 200);
    let f = json!({ "kind": { "Slow": { "delay_ms": 10 } }, "task_type": "GetOrder" });
    let (st, _) = w.ctl(Method::POST, "/faults", Some(f.to_string())).await;
    assert_eq!(st, 200);
    let (_, v) = w.ctl(Method::GET, "/faults", None).await;
    assert_eq!(v.as_array().map(Vec::len), Some(2));
    let v = w.pay("t77", 77, &guid, pay_line(num("12.50"))).await;
    assert!(agent_desc(&v).starts_with("RkInternal: Order "), "{v}");
    assert!(agent_desc(&v).contains("station [2]"), "{v}");
    let (st, _) = w.ctl(Method::DELETE, "/faults", None).await;
    assert_eq!(st, 200);
    assert!(w.sim.faults().is_empty());

    let v = w.pay("t77", 77, &guid, pay_line(num("12.50"))).await;
    ok(&v);
    let (_, v) = w.ctl(Method::GET, "/ledger", None).await;
    assert_eq!(v[0]["amount"], "12.50");
    assert_eq!(v[0]["order_guid"], guid.as_str());
    let (_, v) = w.ctl(Method::GET, "/requests", None).await;
    assert_eq!(v["PayOrder"], 2);

    let (st, _) = w.ctl(Method::POST, "/reset", None).await;
    assert_eq!(st, 200);
    assert!(w.sim.ledger().is_empty());
    assert!(w.sim.restaurants().is_empty());
    assert_eq!(w.sim.requests("PayOrder"), 0);
}

#[tokio::test]
async fn demo_reset_restores_orders() {
    let w = Wsa::demo().await;
    w.pay(
        DEMO_TOKEN,
        DEMO_OBJECT_ID,
        DEMO_ORDER_978,
        pay_line(num("978.00")),
    )
    .await;
    w.sim.reset();
    let o = w.sim.order(DEMO_OBJECT_ID, DEMO_ORDER_978).expect("order");
    assert_eq!(o.status, "Created");
    assert_eq!(o.guests.len(), 2);
    assert_eq!(w.sim.restaurants().len(), 2);
    let tips = w
        .sim
        .restaurants()
        .into_iter()
        .flat_map(|r| r.currencies)
        .filter(|c: &SimCurrency| c.tips)
        .count();
    assert_eq!(tips, 1);
}

#[tokio::test]
async fn stored_ws_error_is_the_task_s_own_answer() {
    let w = Wsa::demo().await;
    w.sim
        .inject(Fault::new(FaultKind::StoredWsError(StoredWsError::License)).times(1));
    let ack = w
        .call(
            DEMO_TOKEN,
            json!({ "taskType": "PayOrder", "params": {
                "async": { "objectId": DEMO_OBJECT_ID, "timeout": 5 },
                "orderGuid": DEMO_ORDER_978, "payments": pay_line(num("978.00")) } }),
        )
        .await;
    assert!(ack.get("error").is_none(), "an ordinary ack: {ack}");
    let guid = ack["responseCommon"]["taskGuid"]
        .as_str()
        .unwrap()
        .to_string();
    // Stored at once, with the PayOrder's responseCommon, and never executed.
    let r = w.get_task(DEMO_TOKEN, &guid).await;
    assert_eq!(ws_code(&r), "License", "{r}");
    assert_eq!(r["error"]["wsError"]["extCode"], "WsAgent");
    assert_eq!(r["responseCommon"]["taskGuid"], guid.as_str());
    assert_eq!(r["responseCommon"]["taskType"], "PayOrder");
    assert!(w.sim.ledger().is_empty());
    // Sync: the same error is the answer; the fault was used up, so the next one pays.
    w.sim
        .inject(Fault::new(FaultKind::StoredWsError(StoredWsError::WsAgentNotSelected)).times(1));
    let v = w
        .pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            DEMO_ORDER_978,
            pay_line(num("978.00")),
        )
        .await;
    assert_eq!(ws_code(&v), "WsAgentNotSelected", "{v}");
    assert_eq!(v["responseCommon"]["taskType"], "PayOrder");
    let v = w
        .pay(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            DEMO_ORDER_978,
            pay_line(num("978.00")),
        )
        .await;
    ok(&v);
    assert_eq!(w.sim.ledger().len(), 1);
}

#[tokio::test]
async fn http_level_faults_answer_before_the_task_and_apply_nothing() {
    let w = Wsa::demo().await;
    let elsewhere = "http://elsewhere.invalid/wsserverlp";
    // The redirect for this order only; the proxy page for any PayOrder.
    w.sim.inject(
        Fault::new(FaultKind::Redirect {
            location: elsewhere.into(),
        })
        .for_order(DEMO_ORDER_978)
        .times(1),
    );
    w.sim
        .inject(Fault::new(FaultKind::Html { status: 502 }).times(1));
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let pay = |order: &str| {
        let body = json!({
            "taskType": "PayOrder",
            "params": {
                "sync": { "objectId": DEMO_OBJECT_ID, "timeout": 1 },
                "orderGuid": order,
                "payments": [{ "amount": "978.00", "currency": CUR }],
            },
        });
        no_redirects
            .post(format!("{}/wsserverlp/api/v2/aggregators/Create", w.base))
            .header("AggregatorAuthentication", DEMO_TOKEN)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
    };
    let r = pay(DEMO_ORDER_978).await.unwrap();
    assert_eq!(r.status().as_u16(), 307);
    assert_eq!(r.headers()["location"], elsewhere);
    let r = pay(DEMO_ORDER_978).await.unwrap();
    assert_eq!(r.status().as_u16(), 502);
    assert!(r.text().await.unwrap().starts_with("<html>"));
    assert!(w.sim.ledger().is_empty(), "nothing applied");
    assert!(w.sim.faults().is_empty(), "each fired once");
    let r = pay(DEMO_ORDER_978).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(w.sim.ledger().len(), 1, "then paid");
}

#[tokio::test]
async fn in_flight_counts_requests_per_restaurant_and_keeps_the_most_seen() {
    let w = Wsa::demo().await;
    w.sim
        .inject(Fault::new(FaultKind::Slow { delay_ms: 300 }).for_task("GetOrder"));
    let read = |guid: &'static str| {
        w.sync(
            DEMO_TOKEN,
            DEMO_OBJECT_ID,
            "GetOrder",
            json!({ "orderGuid": guid }),
        )
    };
    let watch = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        w.ctl(reqwest::Method::GET, "/in-flight", None).await
    };
    let (_, _, _, (status, during)) = tokio::join!(
        read(DEMO_ORDER_978),
        read(DEMO_ORDER_1450_50),
        read(DEMO_ORDER_2300),
        watch
    );
    assert_eq!(status, 200, "{during}");
    let object = DEMO_OBJECT_ID.to_string();
    assert_eq!(during["now"][&object], 3, "{during}");
    let (_, after) = w.ctl(reqwest::Method::GET, "/in-flight", None).await;
    assert_eq!(after["now"][&object], 0, "{after}");
    assert_eq!(after["max"][&object], 3, "{after}");
    assert!(
        after["max"].get(DEMO_V1_OBJECT_ID.to_string()).is_none(),
        "{after}"
    );
}
