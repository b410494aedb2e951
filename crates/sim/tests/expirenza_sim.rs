//! Drives the Expirenza platform simulator over a real WebSocket and real HTTP, playing the
//! restaurant's side by hand.

use std::time::{Duration, Instant};

use base64::Engine;
use futures::{SinkExt, StreamExt};
use posgate_sim::expirenza::validate::sign;
use posgate_sim::expirenza::{
    DEMO_RESTO_ID, DEMO_SECRET_KEY, ExpirenzaSim, PaymentStatus, RidStyle, SimResto,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const T: Duration = Duration::from_secs(5);

struct Platform {
    sim: ExpirenzaSim,
    base: String,
    http: reqwest::Client,
}

impl Platform {
    async fn start() -> Self {
        let sim = ExpirenzaSim::with_demo_data();
        let addr = sim.clone().spawn().await.expect("bind");
        Platform {
            sim,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    async fn connect_as(&self, resto: &str, secret: &str) -> Result<Ws, String> {
        let url = format!(
            "{}/restaurantEntryPoint",
            self.base.replace("http://", "ws://")
        );
        let mut req = url.into_client_request().map_err(|e| e.to_string())?;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{resto}:{secret}"));
        req.headers_mut()
            .insert("Authorization", format!("Basic {basic}").parse().unwrap());
        req.headers_mut()
            .insert("cookie", "system=test".parse().unwrap());
        tokio_tungstenite::connect_async(req)
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| e.to_string())
    }

    async fn connect(&self) -> Ws {
        let ws = self
            .connect_as(DEMO_RESTO_ID, DEMO_SECRET_KEY)
            .await
            .expect("connect");
        assert!(self.sim.wait_connected(DEMO_RESTO_ID, T).await);
        ws
    }

    /// POSTs a callback signed over exactly `body`.
    async fn post(&self, op: &str, body: &str, signature: Option<&str>) -> (u16, String) {
        let sig = signature
            .map(str::to_string)
            .unwrap_or_else(|| sign(DEMO_SECRET_KEY, body.as_bytes()));
        self.post_as(op, Some(DEMO_RESTO_ID), Some(&sig), body)
            .await
    }

    /// POSTs a callback with these `restoId` and `signature` headers (absent if `None`).
    async fn post_as(
        &self,
        op: &str,
        resto: Option<&str>,
        signature: Option<&str>,
        body: &str,
    ) -> (u16, String) {
        let mut req = self
            .http
            .post(format!("{}/callback/{op}", self.base))
            .header("Content-Type", "application/json");
        if let Some(r) = resto {
            req = req.header("restoId", r);
        }
        if let Some(s) = signature {
            req = req.header("signature", s);
        }
        let resp = req.body(body.to_string()).send().await.expect("post");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }
}

async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(T, ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("ok");
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).expect("json frame");
        }
    }
}

fn is_legacy_rid(r: &str) -> bool {
    // 2021-03-13 00:32:04.942046#UP57RxE
    let Some((ts, suffix)) = r.split_once('#') else {
        return false;
    };
    suffix.len() == 7 && ts.len() == 26 && ts.as_bytes()[10] == b' ' && ts.as_bytes()[19] == b'.'
}

fn is_hex_rid(r: &str) -> bool {
    r.len() == 32 && r.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn basic_auth_keepalive_and_both_rid_forms() {
    let p = Platform::start().await;
    let err = p
        .connect_as(DEMO_RESTO_ID, "wrong")
        .await
        .expect_err("wrong secret is refused");
    assert!(err.contains("401"), "{err}");
    assert!(p.connect_as("nobody", DEMO_SECRET_KEY).await.is_err());
    assert_eq!(p.sim.auth_failures(), 2);
    assert!(!p.sim.connected(DEMO_RESTO_ID));

    let mut ws = p.connect().await;
    assert_eq!(
        p.sim.connections()[0].cookie.as_deref(),
        Some("system=test")
    );
    ws.send(Message::text(format!("Resto {DEMO_RESTO_ID} ping")))
        .await
        .unwrap();
    let pings = p
        .sim
        .wait_for(T, |s| {
            let v = s.pings();
            (!v.is_empty()).then_some(v)
        })
        .await
        .unwrap();
    assert!(pings[0].well_formed, "{pings:?}");

    let r1 = p.sim.check_work(DEMO_RESTO_ID).unwrap();
    let r2 = p.sim.check_work(DEMO_RESTO_ID).unwrap();
    let f1 = next_frame(&mut ws).await;
    let f2 = next_frame(&mut ws).await;
    assert_eq!(f1["rID"], r1.as_str());
    assert_eq!(f2["rID"], r2.as_str());
    assert_eq!(f1["operation"], "checkWork");
    assert!(is_legacy_rid(&r1), "{r1}");
    assert!(is_hex_rid(&r2), "{r2}");
    p.sim.update_settings(|s| s.rid_style = RidStyle::Hex);
    assert!(is_hex_rid(&p.sim.check_work(DEMO_RESTO_ID).unwrap()));

    let body =
        json!({"rID": r1, "dateTime": "2024.05.01 12:00:00", "readyToWork": true}).to_string();
    let (status, text) = p.post("checkWork", &body, None).await;
    assert_eq!((status, text.as_str()), (200, ""), "200 with an empty body");
    let cb = p.sim.wait_callback(&r1, T).await.unwrap();
    assert!(cb.signature_ok);
    assert_eq!(cb.content_type.as_deref(), Some("application/json"));
    assert!(p.sim.sent().iter().any(|s| s.rid == r1 && s.answered));

    // Unknown restaurant: not allowed to push.
    assert!(p.sim.check_work("nobody").is_err());
    p.sim.add_resto(SimResto::new("r2", "s2"));
    assert!(p.sim.check_work("r2").is_err(), "r2 is not connected");
}

#[tokio::test]
async fn callbacks_are_verified_against_the_raw_body() {
    let p = Platform::start().await;
    let _ws = p.connect().await;
    let rid = p
        .sim
        .send_operation(
            DEMO_RESTO_ID,
            json!({"operation": "payBill", "billId": "B-1", "sum": 10}),
        )
        .unwrap();
    // Unusual spacing: signed as sent, it verifies.
    let spaced = format!(
        "{{ \"rID\" : \"{rid}\", \"billId\" : \"B-1\", \"state\" : \"FAIL\", \"substate\" : \"BILL_IN_USE\", \"guests\" : [] }}"
    );
    // The same JSON re-serialised compactly is other bytes: the signature does not fit.
    let compact = serde_json::to_string(&serde_json::from_str::<Value>(&spaced).unwrap()).unwrap();
    let sig = sign(DEMO_SECRET_KEY, spaced.as_bytes());
    let (status, text) = p.post("payBill", &compact, Some(&sig)).await;
    assert_eq!(status, 400, "{text}");
    let err: Value = serde_json::from_str(&text).unwrap();
    for k in ["errCode", "errText", "errTitle", "errType", "fieldErrors"] {
        assert!(err.get(k).is_some(), "{k}: {err}");
    }
    assert_eq!(err["errType"], "FULLSCREEN");
    assert_eq!(err["errTitle"], "Invalid signature");
    assert_eq!(err["fieldErrors"][0]["field"], "signature");
    let (status, _) = p.post("payBill", &spaced, Some(&sig)).await;
    assert_eq!(status, 200);

    // Identical repeat: accepted, flagged. Different body for the same rID: refused.
    let (status, _) = p.post("payBill", &spaced, Some(&sig)).await;
    assert_eq!(status, 200);
    let other = spaced.replace("BILL_IN_USE", "PRINTER_ERROR");
    let (status, _) = p.post("payBill", &other, None).await;
    assert_eq!(status, 400);
    let recs = p.sim.callbacks_for(&rid);
    assert_eq!(
        recs.iter()
            .map(|c| (c.status, c.duplicate, c.signature_ok))
            .collect::<Vec<_>>(),
        [
            (400, false, false),
            (200, false, true),
            (200, true, true),
            (400, true, true)
        ]
    );

    // Shape checks: FAIL without substate, guests not an array, orderNumber a string.
    let rid = p
        .sim
        .send_operation(
            DEMO_RESTO_ID,
            json!({"operation": "payBill", "billId": "B-2", "sum": 1}),
        )
        .unwrap();
    let bad =
        json!({"rID": rid, "billId": "B-2", "state": "FAIL", "guests": {}, "orderNumber": "7"})
            .to_string();
    let (status, text) = p.post("payBill", &bad, None).await;
    assert_eq!(status, 400);
    let err: Value = serde_json::from_str(&text).unwrap();
    let fields: Vec<&str> = err["fieldErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["substate", "orderNumber", "guests"]);
    // A rID that was never sent; a missing restoId.
    let (status, _) = p
        .post(
            "checkWork",
            &json!({"rID": "never", "dateTime": "2024.05.01 12:00:00", "readyToWork": true})
                .to_string(),
            None,
        )
        .await;
    assert_eq!(status, 400);
    let resp = p
        .http
        .post(format!("{}/callback/checkWork", p.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

/// How a refusal-table row signs its callback.
enum Sig {
    Demo,
    Missing,
    OtherKey,
}

/// What a refusal-table row expects.
enum Expect {
    /// 200, empty body, nothing recorded as wrong.
    Accepted,
    /// 400 with this `errTitle`; `errText` is the recorded errors joined by `; ` and
    /// `fieldErrors` are the same errors.
    Refused(&'static str, Vec<String>),
    /// An injected fault: status, `errTitle`, `errText`, `fieldErrors` and the recorded error.
    Injected(
        u16,
        &'static str,
        &'static str,
        Vec<&'static str>,
        &'static str,
    ),
}

#[tokio::test]
async fn every_refusal_answers_its_title_text_and_field_errors() {
    let p = Platform::start().await;
    let _ws = p.connect().await;
    p.sim.add_resto(SimResto::new("r2", "s2"));
    let _ws2 = p.connect_as("r2", "s2").await.expect("r2 connects");
    assert!(p.sim.wait_connected("r2", T).await);
    let cw = p.sim.check_work(DEMO_RESTO_ID).unwrap();
    let cw_r2 = p.sim.check_work("r2").unwrap();
    let pb = p
        .sim
        .send_operation(
            DEMO_RESTO_ID,
            json!({"operation": "payBill", "billId": "B-1", "sum": 1}),
        )
        .unwrap();
    let check_work = |rid: &str, ready: bool| {
        json!({"rID": rid, "dateTime": "2024.05.01 12:00:00", "readyToWork": ready}).to_string()
    };
    let pay_bill = |bill: &str| {
        json!({"rID": pb, "billId": bill, "state": "SUCCESS", "guests": []}).to_string()
    };
    let refused = |title, errors: &[&str]| {
        Expect::Refused(title, errors.iter().map(|e| e.to_string()).collect())
    };
    let fail_once: fn(&ExpirenzaSim) = |s| s.fail_next_callbacks(1);
    let reject_once: fn(&ExpirenzaSim) = |s| s.reject_next_callbacks(1);
    let me = Some(DEMO_RESTO_ID);
    let rows = [
        (
            Some(fail_once),
            "checkWork",
            me,
            Sig::Demo,
            check_work(&cw, true),
            Expect::Injected(
                500,
                "Server error",
                "Internal server error (simulated)",
                vec![],
                "simulated server error",
            ),
        ),
        (
            Some(reject_once),
            "checkWork",
            me,
            Sig::Demo,
            check_work(&cw, true),
            Expect::Injected(
                400,
                "Invalid request",
                "Invalid signature",
                vec!["signature: does not match the request body"],
                "signature: refused (simulated)",
            ),
        ),
        (
            None,
            "checkWork",
            None,
            Sig::Demo,
            check_work(&cw, true),
            refused("Invalid request", &["restoId: header is required"]),
        ),
        (
            None,
            "checkWork",
            Some("nobody"),
            Sig::Demo,
            check_work(&cw, true),
            refused(
                "Invalid request",
                &["restoId: unknown restaurant \"nobody\""],
            ),
        ),
        (
            None,
            "checkWork",
            me,
            Sig::Missing,
            check_work(&cw, true),
            refused("Invalid signature", &["signature: header is required"]),
        ),
        (
            None,
            "checkWork",
            me,
            Sig::OtherKey,
            check_work(&cw, true),
            refused(
                "Invalid signature",
                &["signature: does not match HMAC-SHA256 of the request body"],
            ),
        ),
        (
            None,
            "checkWork",
            me,
            Sig::Demo,
            "{".to_string(),
            refused("Invalid request", &["body is not JSON"]),
        ),
        (
            None,
            "checkWork",
            me,
            Sig::Demo,
            check_work("never", true),
            refused("Invalid request", &["rID: \"never\" was never sent"]),
        ),
        (
            None,
            "versionInfo",
            me,
            Sig::Demo,
            json!({"rID": cw_r2}).to_string(),
            refused(
                "Invalid request",
                &[
                    "rID: was sent to another restaurant",
                    "rID: was sent as \"checkWork\"",
                ],
            ),
        ),
        (
            None,
            "payBill",
            me,
            Sig::Demo,
            pay_bill("B-2"),
            Expect::Refused(
                "Invalid request",
                vec![format!("billId: payBill {pb} was for bill \"B-1\"")],
            ),
        ),
        (
            None,
            "checkWork",
            me,
            Sig::Demo,
            check_work(&cw, true),
            Expect::Accepted,
        ),
        (
            None,
            "checkWork",
            me,
            Sig::Demo,
            check_work(&cw, false),
            refused(
                "Invalid request",
                &["rID: already answered with a different body"],
            ),
        ),
    ];
    for (i, (before, op, resto, sig, body, expect)) in rows.into_iter().enumerate() {
        if let Some(f) = before {
            f(&p.sim);
        }
        let signature = match sig {
            Sig::Demo => Some(sign(DEMO_SECRET_KEY, body.as_bytes())),
            Sig::Missing => None,
            Sig::OtherKey => Some(sign("not-the-key", body.as_bytes())),
        };
        let (status, answer) = p.post_as(op, resto, signature.as_deref(), &body).await;
        let rec = p.sim.callbacks().pop().expect("recorded");
        assert_eq!(rec.status, status, "row {i}");
        let (want_status, title, text, field_errors, recorded) = match expect {
            Expect::Accepted => {
                assert_eq!(
                    (status, answer.as_str(), rec.errors.len()),
                    (200, "", 0),
                    "row {i}"
                );
                continue;
            }
            Expect::Refused(title, errors) => {
                (400, title, errors.join("; "), errors.clone(), errors)
            }
            Expect::Injected(status, title, text, field_errors, recorded) => (
                status,
                title,
                text.to_string(),
                field_errors.iter().map(|e| e.to_string()).collect(),
                vec![recorded.to_string()],
            ),
        };
        assert_eq!(
            (status, &rec.errors),
            (want_status, &recorded),
            "row {i}: {answer}"
        );
        let err: Value = serde_json::from_str(&answer).unwrap();
        let fields: Vec<String> = err["fieldErrors"]
            .as_array()
            .unwrap()
            .iter()
            .map(
                |f| match (f["field"].as_str().unwrap(), f["message"].as_str().unwrap()) {
                    ("", m) => m.to_string(),
                    (f, m) => format!("{f}: {m}"),
                },
            )
            .collect();
        assert_eq!(
            (err["errTitle"].as_str(), err["errText"].as_str(), fields),
            (Some(title), Some(text.as_str()), field_errors),
            "row {i}"
        );
    }
}

#[tokio::test]
async fn a_graceful_shutdown_drops_open_sockets_and_ends() {
    let sim = ExpirenzaSim::with_demo_data();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sim.clone().serve_with_shutdown(listener, async {
        let _ = stopped.await;
    }));
    let p = Platform {
        sim,
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    };
    let mut ws = p.connect().await;
    stop.send(()).unwrap();
    // An open WebSocket would hold a graceful shutdown forever: it is dropped instead.
    let ended = tokio::time::timeout(T, server).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
    let closed = tokio::time::timeout(T, async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(_) = m {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the socket ends");
}

#[tokio::test]
async fn faults_500_400_duplicate_delay_and_drop() {
    let p = Platform::start().await;
    let mut ws = p.connect().await;
    let rid = p.sim.check_work(DEMO_RESTO_ID).unwrap();
    let body =
        json!({"rID": rid, "dateTime": "2024.05.01 12:00:00", "readyToWork": true}).to_string();
    p.sim.fail_next_callbacks(1);
    let (status, text) = p.post("checkWork", &body, None).await;
    assert_eq!(status, 500);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["errType"],
        "FULLSCREEN"
    );
    p.sim.reject_next_callbacks(1);
    assert_eq!(p.post("checkWork", &body, None).await.0, 400);
    assert_eq!(p.post("checkWork", &body, None).await.0, 200);
    let _ = next_frame(&mut ws).await;

    p.sim.duplicate_next_frames(1);
    let rid = p.sim.check_work(DEMO_RESTO_ID).unwrap();
    assert_eq!(next_frame(&mut ws).await["rID"], rid.as_str());
    assert_eq!(next_frame(&mut ws).await["rID"], rid.as_str());

    p.sim.delay_next_frames(300, 1);
    let t0 = Instant::now();
    let rid = p.sim.check_work(DEMO_RESTO_ID).unwrap();
    assert_eq!(next_frame(&mut ws).await["rID"], rid.as_str());
    assert!(t0.elapsed() >= Duration::from_millis(290));

    assert_eq!(p.sim.drop_connections(), 1);
    let end = tokio::time::timeout(T, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => break,
                Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the socket is dropped");
    assert!(
        p.sim
            .wait_for(T, |s| (!s.connected(DEMO_RESTO_ID)).then_some(()))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn plays_expirenza_charge_first_then_repeat_pay_bill_until_done() {
    let p = Platform::start().await;
    p.sim.update_settings(|s| {
        s.retry_interval_ms = 100;
        s.max_attempts = 3;
    });
    let mut ws = p.connect().await;

    // Retriable FAIL → notified and re-sent with a new rID; SUCCESS ends it.
    let pay = p
        .sim
        .pay(
            DEMO_RESTO_ID,
            "B-9",
            Decimal::new(97800, 2),
            Decimal::new(1924, 2),
        )
        .unwrap();
    assert!(pay.charged);
    let f = next_frame(&mut ws).await;
    assert_eq!(f["operation"], "payBill");
    assert_eq!(f["billId"], "B-9");
    assert_eq!(f["sum"].to_string(), "978.00", "exact money text");
    assert_eq!(f["tips"].to_string(), "19.24");
    let rid1 = f["rID"].as_str().unwrap().to_string();
    let fail = json!({"rID": rid1, "billId": "B-9", "state": "FAIL", "substate": "CASHIERS_SHIFT_CLOSED", "stackTraceMessage": "shift closed", "guests": []}).to_string();
    assert_eq!(p.post("payBill", &fail, None).await.0, 200);
    let f = next_frame(&mut ws).await;
    let rid2 = f["rID"].as_str().unwrap().to_string();
    assert_ne!(rid1, rid2, "a new rID");
    let ok = json!({"rID": rid2, "billId": "B-9", "state": "SUCCESS", "guests": []}).to_string();
    assert_eq!(p.post("payBill", &ok, None).await.0, 200);
    let done = p.sim.wait_payment_settled(&pay.id, T).await.unwrap();
    assert_eq!(done.status, PaymentStatus::Succeeded);
    assert_eq!(done.attempts, [rid1, rid2]);
    let notes = p.sim.notifications();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, "CASHIERS_SHIFT_CLOSED");

    // OTHER_ERROR stops at once.
    let pay = p
        .sim
        .pay(DEMO_RESTO_ID, "B-10", Decimal::ONE, Decimal::ZERO)
        .unwrap();
    let f = next_frame(&mut ws).await;
    let body = json!({"rID": f["rID"], "billId": "B-10", "state": "FAIL", "substate": "OTHER_ERROR", "guests": []}).to_string();
    assert_eq!(p.post("payBill", &body, None).await.0, 200);
    let done = p.sim.wait_payment_settled(&pay.id, T).await.unwrap();
    assert_eq!(done.status, PaymentStatus::Failed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        p.sim.payment(&pay.id).unwrap().attempts.len(),
        1,
        "not retried"
    );

    // Retries run out after max_attempts.
    let pay = p
        .sim
        .pay(DEMO_RESTO_ID, "B-11", Decimal::ONE, Decimal::ZERO)
        .unwrap();
    for _ in 0..3 {
        let f = next_frame(&mut ws).await;
        let body = json!({"rID": f["rID"], "billId": "B-11", "state": "FAIL", "substate": "PRINTER_ERROR", "guests": []}).to_string();
        assert_eq!(p.post("payBill", &body, None).await.0, 200);
    }
    let done = p.sim.wait_payment_settled(&pay.id, T).await.unwrap();
    assert_eq!(done.status, PaymentStatus::Exhausted);
    assert!(
        p.sim
            .notifications()
            .iter()
            .any(|n| n.kind == "RETRIES_EXHAUSTED")
    );
}

#[tokio::test]
async fn deadline_no_answer_retry_and_late_callbacks() {
    let p = Platform::start().await;
    p.sim.update_settings(|s| {
        s.deadline_ms = 300;
        s.retry_interval_ms = 50;
    });
    let mut ws = p.connect().await;
    let pay = p
        .sim
        .pay(DEMO_RESTO_ID, "B-1", Decimal::TEN, Decimal::ZERO)
        .unwrap();
    let rid1 = next_frame(&mut ws).await["rID"]
        .as_str()
        .unwrap()
        .to_string();
    // No answer: expired, staff told, payBill sent again.
    let rid2 = next_frame(&mut ws).await["rID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(rid1, rid2);
    assert!(p.sim.sent().iter().any(|s| s.rid == rid1 && s.expired));
    assert!(p.sim.notifications().iter().any(|n| n.kind == "NO_ANSWER"));
    // The late answer to the first is refused.
    let late = json!({"rID": rid1, "billId": "B-1", "state": "SUCCESS", "guests": []}).to_string();
    let (status, text) = p.post("payBill", &late, None).await;
    assert_eq!(status, 400, "{text}");
    assert!(p.sim.callbacks_for(&rid1)[0].late);
    let ok = json!({"rID": rid2, "billId": "B-1", "state": "SUCCESS", "guests": []}).to_string();
    assert_eq!(p.post("payBill", &ok, None).await.0, 200);
    assert_eq!(
        p.sim.wait_payment_settled(&pay.id, T).await.unwrap().status,
        PaymentStatus::Succeeded
    );
}

#[tokio::test]
async fn control_api() {
    let p = Platform::start().await;
    let mut ws = p.connect().await;
    let url = |path: &str| format!("{}/_sim/expirenza{path}", p.base);
    let r: Value = p
        .http
        .post(url("/pay"))
        .json(&json!({"resto_id": DEMO_RESTO_ID, "bill_id": "B-5", "sum": "12.50"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["sum"], "12.50");
    assert_eq!(r["status"], "pending");
    let f = next_frame(&mut ws).await;
    assert_eq!(f["sum"].to_string(), "12.50");
    let r: Value = p
        .http
        .post(url("/operations"))
        .json(&json!({"resto_id": DEMO_RESTO_ID, "operation": {"operation": "getBill", "tableNumber": "12"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rid = r["rid"].as_str().unwrap();
    assert_eq!(next_frame(&mut ws).await["rID"], rid);
    let resp = p
        .http
        .post(url("/raw"))
        .json(&json!({"resto_id": DEMO_RESTO_ID, "text": "{\"rID\":\"raw-1\",\"operation\":\"payBill\""}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let sent: Value = p
        .http
        .get(url("/sent"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(sent.as_array().unwrap().iter().any(|s| s["rid"] == "raw-1"));
    let resp = p
        .http
        .post(url("/faults"))
        .json(&json!({"fail_callbacks": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(p.sim.faults().fail_callbacks, 2);
    let resp = p
        .http
        .post(url("/operations"))
        .json(&json!({"resto_id": "nobody", "operation": {"operation": "checkWork"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let conns: Value = p
        .http
        .get(url("/connections"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(conns.as_array().unwrap().len(), 1);
    let r: Value = p
        .http
        .post(url("/drop"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["dropped"], 1);
    let resp = p.http.post(url("/reset")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(p.sim.payments().is_empty());
    assert_eq!(p.sim.restos().len(), 1);
}
