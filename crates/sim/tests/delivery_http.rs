//! Drives the r_k Delivery simulator over real HTTP. The tests live in `mod delivery` so that
//! `cargo test -p posgate-sim delivery` selects them.

mod delivery {
    use std::collections::HashSet;
    use std::time::Duration;

    use posgate_sim::delivery::{
        DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CURRENCY_GUID, DEMO_ORDER_1290, DEMO_ORDER_NEW,
        DEMO_ORDER_WAITING, DEMO_ORDER_ZERO, DEMO_RESTAURANT_ID, DeliverySim, Fault, FaultKind,
        Lang, LedgerKind, SimClient, SimOrder, SimRestaurant, endpoint, status,
    };
    use rust_decimal::Decimal;
    use serde_json::{Value, json};

    const PAID_AT: &str = "2022-04-05T15:12:58.658+03:00";

    struct Dl {
        sim: DeliverySim,
        http: reqwest::Client,
        base: String,
    }

    struct Reply {
        status: u16,
        json: Value,
        request_id: String,
    }

    impl Dl {
        async fn start(sim: DeliverySim) -> Self {
            let addr = sim.clone().spawn().await.expect("bind");
            Dl {
                sim,
                http: reqwest::Client::new(),
                base: format!("http://{addr}"),
            }
        }

        async fn demo() -> Self {
            Self::start(DeliverySim::with_demo_data()).await
        }

        async fn token_raw(&self, id: &str, secret: &str) -> (u16, Value) {
            let resp = self
                .http
                .post(format!("{}/connect/token", self.base))
                .form(&[
                    ("client_id", id),
                    ("client_secret", secret),
                    ("grant_type", "client_credentials"),
                    ("scopes", "orders"),
                ])
                .send()
                .await
                .expect("send");
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Value::Null))
        }

        async fn token(&self) -> String {
            let (status, v) = self.token_raw(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await;
            assert_eq!(status, 200, "{v}");
            v["access_token"].as_str().expect("token").to_string()
        }

        async fn call(
            &self,
            method: reqwest::Method,
            path: &str,
            token: Option<&str>,
            body: Option<String>,
        ) -> Reply {
            let mut rb = self.http.request(method, format!("{}{path}", self.base));
            if let Some(t) = token {
                rb = rb.bearer_auth(t);
            }
            if let Some(b) = body {
                rb = rb.header("content-type", "application/json").body(b);
            }
            let resp = rb.send().await.expect("send");
            let status = resp.status().as_u16();
            let request_id = resp
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let text = resp.text().await.unwrap_or_default();
            Reply {
                status,
                json: serde_json::from_str(&text).unwrap_or(Value::Null),
                request_id,
            }
        }

        async fn get(&self, token: &str, order: &str) -> Reply {
            self.call(
                reqwest::Method::GET,
                &format!("/orders/api/v1/orders/{order}"),
                Some(token),
                None,
            )
            .await
        }

        async fn pay_raw(&self, token: &str, order: &str, body: &str) -> Reply {
            self.call(
                reqwest::Method::PUT,
                &format!("/orders/api/v1/orders/{order}/pay"),
                Some(token),
                Some(body.to_string()),
            )
            .await
        }

        async fn pay(&self, token: &str, order: &str, amount: &str) -> Reply {
            let body = format!(
                r#"[{{"code":"{DEMO_CURRENCY_GUID}","amount":{amount},"paidAt":"{PAID_AT}","name":""}}]"#
            );
            self.pay_raw(token, order, &body).await
        }

        async fn complete(&self, token: &str, order: &str) -> Reply {
            self.call(
                reqwest::Method::PUT,
                &format!("/orders/api/v1/orders/{order}/complete"),
                Some(token),
                None,
            )
            .await
        }
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn is_error(r: &Reply, status: u16, code: &str) {
        assert_eq!(r.status, status, "{}", r.json);
        assert_eq!(r.json["code"], code, "{}", r.json);
        assert!(
            r.json["msg"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            r.json
        );
        assert!(r.json["requestId"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(
            r.json.get("errors").is_some(),
            "errors is always present: {}",
            r.json
        );
    }

    #[tokio::test]
    async fn tokens_bad_credentials_missing_and_expired_bearers() {
        let d = Dl::demo().await;
        let (status, v) = d.token_raw(DEMO_CLIENT_ID, "wrong").await;
        assert_eq!((status, v["error"].as_str()), (400, Some("invalid_client")));
        let (status, v) = d.token_raw("nobody", DEMO_CLIENT_SECRET).await;
        assert_eq!((status, v["error"].as_str()), (400, Some("invalid_client")));
        // Not a form body.
        let resp = d
            .http
            .post(format!("{}/connect/token", d.base))
            .json(&json!({"client_id": DEMO_CLIENT_ID}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        let (status, v) = d.token_raw(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).await;
        assert_eq!(status, 200);
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["expires_in"], 3600);
        let token = v["access_token"].as_str().unwrap().to_string();
        assert_eq!(d.sim.tokens_issued(), 1);
        assert_eq!(d.sim.requests(endpoint::TOKEN), 4);

        assert_eq!(d.get(&token, DEMO_ORDER_1290).await.status, 200);
        let r = d
            .call(
                reqwest::Method::GET,
                "/orders/api/v1/orders/1002",
                None,
                None,
            )
            .await;
        assert_eq!(r.status, 401);
        assert_eq!(d.get("made-up", DEMO_ORDER_1290).await.status, 401);
        d.sim.expire_tokens();
        assert_eq!(d.get(&token, DEMO_ORDER_1290).await.status, 401);

        // A short lifetime runs out.
        d.sim
            .add_client(SimClient::new("short", "s").with_token_lifetime_s(1));
        let (_, v) = d.token_raw("short", "s").await;
        assert_eq!(v["expires_in"], 1);
        let t = v["access_token"].as_str().unwrap().to_string();
        assert_eq!(d.get(&t, DEMO_ORDER_1290).await.status, 200);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(d.get(&t, DEMO_ORDER_1290).await.status, 401);
    }

    #[tokio::test]
    async fn get_order_shows_the_documented_fields_with_exact_money() {
        let d = Dl::demo().await;
        let t = d.token().await;
        let r = d.get(&t, DEMO_ORDER_1290).await;
        assert_eq!(r.status, 200);
        let o = &r.json["result"];
        assert_eq!(o["orderId"], "1002");
        assert_eq!(o["orderStatusId"], 4);
        assert_eq!(o["orderStatusName"], "Передан на кухню");
        assert_eq!(o["restaurantId"], DEMO_RESTAURANT_ID);
        assert_eq!(o["tableCode"], "12");
        assert_eq!(o["dishList"].as_array().unwrap().len(), 2);
        assert_eq!(o["isPaid"], false);
        assert_eq!(o["payments"], json!([]));
        // Exact decimal text on the wire.
        let text = serde_json::to_string(o).unwrap();
        assert!(text.contains(r#""amount":1290.00"#), "{text}");
        assert!(text.contains(r#""fullAmount":1350.00"#), "{text}");

        let r = d.get(&t, "999999").await;
        is_error(&r, 404, "ERR_NOT_FOUND");
        // The documented API has no paid state: a restaurant can hide the extension.
        d.sim.add_restaurant(
            SimRestaurant::new(DEMO_RESTAURANT_ID, DEMO_CURRENCY_GUID).with_expose_payments(false),
        );
        let o = d.get(&t, DEMO_ORDER_1290).await.json;
        assert!(o["result"].get("payments").is_none() && o["result"].get("isPaid").is_none());
    }

    #[tokio::test]
    async fn pay_then_complete_and_the_ledger() {
        let d = Dl::demo().await;
        let t = d.token().await;
        // Completing an unpaid order: HTTP 500 rk7_close_order.
        let r = d.complete(&t, DEMO_ORDER_1290).await;
        is_error(&r, 500, "rk7_close_order");
        assert!(
            r.json["msg"]
                .as_str()
                .unwrap()
                .contains("не полностью оплачен"),
            "{}",
            r.json
        );
        // Wrong sums.
        let r = d.pay(&t, DEMO_ORDER_1290, "1000.00").await;
        is_error(&r, 400, "ERR_EXTERNAL_ERROR_WS");
        let msg = r.json["msg"].as_str().unwrap();
        assert!(
            msg.starts_with("WS Error: Error Code: WsaOrderError. RkInternal: "),
            "{msg}"
        );
        assert!(msg.contains("Недостаточно"), "{msg}");
        let r = d.pay(&t, DEMO_ORDER_1290, "1300.00").await;
        assert!(
            r.json["msg"].as_str().unwrap().contains("превышает"),
            "{}",
            r.json
        );
        assert!(d.sim.ledger().is_empty());
        // The exact amount.
        let r = d.pay(&t, DEMO_ORDER_1290, "1290.00").await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(r.json, json!({"result": {}}));
        assert!(!r.request_id.is_empty());
        let o = d.get(&t, DEMO_ORDER_1290).await.json;
        assert_eq!(o["result"]["isPaid"], true);
        assert_eq!(
            o["result"]["orderStatusId"], 4,
            "paying does not change the status"
        );
        // Paying again is refused.
        let r = d.pay(&t, DEMO_ORDER_1290, "1290.00").await;
        is_error(&r, 400, "ERR_EXTERNAL_ERROR_WS");
        let r = d.complete(&t, DEMO_ORDER_1290).await;
        assert_eq!(r.status, 200, "{}", r.json);
        let o = d.sim.order(DEMO_ORDER_1290).unwrap();
        assert_eq!(o.status_id, status::COMPLETED);
        assert!(o.completed_at.is_some());
        // Final status refuses everything.
        let r = d.complete(&t, DEMO_ORDER_1290).await;
        is_error(&r, 400, "ERR_INVALID_ORDER_STATUS");
        assert_eq!(r.json["msg"], "Order have FINAL 11 status");
        let r = d.pay(&t, DEMO_ORDER_1290, "1290.00").await;
        assert_eq!(r.json["msg"], "Order have FINAL 11 status");

        let ledger = d.sim.ledger();
        assert_eq!(ledger.len(), 2, "{ledger:?}");
        assert_eq!(ledger[0].kind, LedgerKind::Pay);
        assert_eq!(ledger[0].amount, dec("1290.00"));
        assert_eq!(ledger[0].lines[0].paid_at, PAID_AT);
        assert_eq!(ledger[1].kind, LedgerKind::Complete);
        assert_eq!(d.sim.pays(DEMO_ORDER_1290), 1);
        assert_eq!(d.sim.completes(DEMO_ORDER_1290), 1);
        assert_eq!(d.sim.requests(endpoint::PAY), 5);
    }

    #[tokio::test]
    async fn pay_validation_and_currencies() {
        let d = Dl::demo().await;
        let t = d.token().await;
        let obj =
            format!(r#"{{"code":"{DEMO_CURRENCY_GUID}","amount":1290.00,"paidAt":"{PAID_AT}"}}"#);
        is_error(
            &d.pay_raw(&t, DEMO_ORDER_1290, &obj).await,
            400,
            "ERR_VALIDATION",
        );
        is_error(
            &d.pay_raw(&t, DEMO_ORDER_1290, "[]").await,
            400,
            "ERR_VALIDATION",
        );
        is_error(
            &d.pay_raw(&t, DEMO_ORDER_1290, "not json").await,
            400,
            "ERR_VALIDATION",
        );
        let no_tz = format!(
            r#"[{{"code":"{DEMO_CURRENCY_GUID}","amount":1290.00,"paidAt":"2022-04-05T15:12:58.658"}}]"#
        );
        let r = d.pay_raw(&t, DEMO_ORDER_1290, &no_tz).await;
        is_error(&r, 400, "ERR_VALIDATION");
        assert!(r.json["errors"]["[0].paidAt"].is_array(), "{}", r.json);
        let string_amount = format!(
            r#"[{{"code":"{DEMO_CURRENCY_GUID}","amount":"1290.00","paidAt":"{PAID_AT}"}}]"#
        );
        is_error(
            &d.pay_raw(&t, DEMO_ORDER_1290, &string_amount).await,
            400,
            "ERR_VALIDATION",
        );
        let other = format!(
            r#"[{{"code":"{{00000000-0000-0000-0000-000000000000}}","amount":1290.00,"paidAt":"{PAID_AT}"}}]"#
        );
        let r = d.pay_raw(&t, DEMO_ORDER_1290, &other).await;
        is_error(&r, 400, "ERR_EXTERNAL_ERROR_WS");
        assert!(
            r.json["msg"].as_str().unwrap().contains("Валюта"),
            "{}",
            r.json
        );
        // GUIDs compare without case or braces; two lines add up.
        let split = format!(
            r#"[{{"code":"{{{}}}","amount":1000.00,"paidAt":"{PAID_AT}"}},{{"code":"{DEMO_CURRENCY_GUID}","amount":290,"paidAt":"{PAID_AT}","name":"Online"}}]"#,
            DEMO_CURRENCY_GUID.to_lowercase()
        );
        let r = d.pay_raw(&t, DEMO_ORDER_1290, &split).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(d.sim.ledger()[0].lines.len(), 2);
        assert!(d.sim.order(DEMO_ORDER_1290).unwrap().is_paid());
    }

    #[tokio::test]
    async fn zero_order_is_paid_with_zero() {
        let d = Dl::demo().await;
        let t = d.token().await;
        let r = d.pay(&t, DEMO_ORDER_ZERO, "1.00").await;
        assert!(
            r.json["msg"].as_str().unwrap().contains("превышает"),
            "{}",
            r.json
        );
        let r = d.pay(&t, DEMO_ORDER_ZERO, "0").await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert_eq!(
            d.get(&t, DEMO_ORDER_ZERO).await.json["result"]["isPaid"],
            true
        );
        assert_eq!(d.complete(&t, DEMO_ORDER_ZERO).await.status, 200);
    }

    #[tokio::test]
    async fn orders_before_the_kitchen_cannot_be_paid_and_auto_accept_moves_them() {
        let d = Dl::demo().await;
        let t = d.token().await;
        for order in [DEMO_ORDER_NEW, DEMO_ORDER_WAITING] {
            let r = d.pay(&t, order, "978.00").await;
            is_error(&r, 400, "ERR_ORDER_NOT_IN_RESTAURANT");
            let r = d.complete(&t, order).await;
            is_error(&r, 400, "ERR_ORDER_NOT_IN_RESTAURANT");
        }
        let quick = d
            .sim
            .add_order(SimOrder::new(status::NEW, dec("100.00")).auto_advance_after_ms(500));
        assert!(quick.order_id.parse::<u64>().unwrap() >= 5001);
        assert_eq!(quick.restaurant_id, DEMO_RESTAURANT_ID);
        assert_eq!(
            d.get(&t, &quick.order_id).await.json["result"]["orderStatusId"],
            1
        );
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            d.get(&t, &quick.order_id).await.json["result"]["orderStatusId"],
            4
        );
        assert_eq!(d.pay(&t, &quick.order_id, "100.00").await.status, 200);
        // An operator moves the waiting one.
        d.sim
            .set_status(DEMO_ORDER_WAITING, status::TRANSFERRED_TO_KITCHEN);
        assert_eq!(d.pay(&t, DEMO_ORDER_WAITING, "540.00").await.status, 200);
        // Cancelled is final too.
        d.sim.set_status(DEMO_ORDER_NEW, status::CANCELLED);
        assert_eq!(
            d.pay(&t, DEMO_ORDER_NEW, "978.00").await.json["msg"],
            "Order have FINAL 12 status"
        );
    }

    #[tokio::test]
    async fn rkeeper_faults_are_wrapped_in_err_external_error_ws() {
        let d = Dl::demo().await;
        for lang in [Lang::Ru, Lang::En] {
            d.sim.reset();
            let t = d.token().await;
            d.sim.add_restaurant(
                SimRestaurant::new(DEMO_RESTAURANT_ID, DEMO_CURRENCY_GUID).with_language(lang),
            );
            for kind in [
                FaultKind::BillLocked,
                FaultKind::ShiftClosed,
                FaultKind::PrinterError,
            ] {
                d.sim.inject(Fault::new(kind.clone()).times(1));
                let r = d.pay(&t, DEMO_ORDER_1290, "1290.00").await;
                is_error(&r, 400, "ERR_EXTERNAL_ERROR_WS");
                let msg = r.json["msg"].as_str().unwrap();
                assert!(msg.starts_with("WS Error: Error Code: Wsa"), "{msg}");
                assert!(msg.contains("RkInternal: "), "{kind:?} {lang:?}: {msg}");
                assert!(d.sim.faults().is_empty(), "used up");
            }
            // CloseBlocked acts on /complete only.
            d.sim.inject(Fault::new(FaultKind::CloseBlocked).times(1));
            assert_eq!(d.pay(&t, DEMO_ORDER_1290, "1290.00").await.status, 200);
            let r = d.complete(&t, DEMO_ORDER_1290).await;
            is_error(&r, 400, "ERR_EXTERNAL_ERROR_WS");
            let msg = r.json["msg"].as_str().unwrap();
            assert!(
                msg.contains("сервис-чеки") || msg.contains("kitchen tickets"),
                "{msg}"
            );
            assert_eq!(d.complete(&t, DEMO_ORDER_1290).await.status, 200);
        }
    }

    #[tokio::test]
    async fn request_ids_are_unique() {
        let d = Dl::demo().await;
        let t = d.token().await;
        let mut ids = HashSet::new();
        for _ in 0..20 {
            let r = d.pay(&t, DEMO_ORDER_1290, "1.00").await;
            let id = r.json["requestId"].as_str().unwrap().to_string();
            assert_eq!(id, r.request_id, "body and header agree");
            assert!(id.starts_with("0H") && id.contains(':'), "{id}");
            ids.insert(id);
        }
        assert_eq!(ids.len(), 20);
    }

    #[tokio::test]
    async fn transport_faults() {
        let d = Dl::demo().await;
        let t = d.token().await;
        // Request timed out: nothing applied.
        d.sim
            .inject(Fault::new(FaultKind::RequestTimedOut).times(1));
        let r = d.pay(&t, DEMO_ORDER_1290, "1290.00").await;
        is_error(&r, 500, "ERR_EXTERNAL_ERROR_WS");
        assert!(
            r.json["msg"]
                .as_str()
                .unwrap()
                .starts_with("Request timed out")
        );
        assert_eq!(d.sim.pays(DEMO_ORDER_1290), 0);
        // 429, 503, 500: nothing applied.
        d.sim.inject(Fault::new(FaultKind::RateLimited).times(1));
        assert_eq!(d.pay(&t, DEMO_ORDER_1290, "1290.00").await.status, 429);
        d.sim.inject(Fault::new(FaultKind::Unavailable).times(1));
        assert_eq!(d.pay(&t, DEMO_ORDER_1290, "1290.00").await.status, 503);
        d.sim.inject(Fault::new(FaultKind::InternalError).times(1));
        assert_eq!(d.pay(&t, DEMO_ORDER_1290, "1290.00").await.status, 500);
        // 307 to another host (shown, not followed): nothing applied.
        let elsewhere = "http://elsewhere.invalid/orders";
        d.sim.inject(
            Fault::new(FaultKind::Redirect {
                location: elsewhere.into(),
            })
            .times(1),
        );
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .put(format!(
                "{}/orders/api/v1/orders/{DEMO_ORDER_1290}/pay",
                d.base
            ))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body(format!(
                r#"[{{"code":"{DEMO_CURRENCY_GUID}","amount":1290.00,"paidAt":"{PAID_AT}"}}]"#
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 307);
        assert_eq!(r.headers()["location"], elsewhere);
        assert_eq!(d.sim.pays(DEMO_ORDER_1290), 0);
        // Applied, but the answer is lost.
        d.sim.inject(Fault::new(FaultKind::AnswerLost).times(1));
        let body =
            format!(r#"[{{"code":"{DEMO_CURRENCY_GUID}","amount":1290.00,"paidAt":"{PAID_AT}"}}]"#);
        let lost = async {
            let resp = d
                .http
                .put(format!(
                    "{}/orders/api/v1/orders/{DEMO_ORDER_1290}/pay",
                    d.base
                ))
                .bearer_auth(&t)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            resp.bytes().await
        }
        .await;
        assert!(lost.is_err(), "the answer never arrives complete");
        assert_eq!(d.sim.pays(DEMO_ORDER_1290), 1, "but it was applied");
        // Applied, then "Request timed out".
        let o = d.sim.add_order(SimOrder::new(4, dec("10.00")));
        d.sim.inject(
            Fault::new(FaultKind::TimedOutButApplied)
                .for_order(&o.order_id)
                .times(1),
        );
        let r = d.pay(&t, &o.order_id, "10.00").await;
        is_error(&r, 500, "ERR_EXTERNAL_ERROR_WS");
        assert_eq!(d.sim.pays(&o.order_id), 1);
        // Applied at once, answered late.
        let o = d.sim.add_order(SimOrder::new(4, dec("20.00")));
        d.sim
            .inject(Fault::new(FaultKind::AnswerDelayed { delay_ms: 2_000 }).times(1));
        let late = d
            .http
            .put(format!(
                "{}/orders/api/v1/orders/{}/pay",
                d.base, o.order_id
            ))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .timeout(Duration::from_millis(300))
            .body(format!(
                r#"[{{"code":"{DEMO_CURRENCY_GUID}","amount":20.00,"paidAt":"{PAID_AT}"}}]"#
            ))
            .send()
            .await;
        assert!(late.is_err_and(|e| e.is_timeout()));
        assert_eq!(d.sim.pays(&o.order_id), 1);
        // Latency on reads when asked for.
        d.sim.inject(
            Fault::new(FaultKind::Latency { delay_ms: 150 })
                .for_endpoint(endpoint::GET_ORDER)
                .times(1),
        );
        let started = std::time::Instant::now();
        assert_eq!(d.get(&t, DEMO_ORDER_1290).await.status, 200);
        assert!(started.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test]
    async fn search_and_create() {
        let d = Dl::demo().await;
        let t = d.token().await;
        let r = d
            .call(
                reqwest::Method::GET,
                "/orders/api/v1/orders?includeStatusIds=4&includeStatusIds=5&sortOrder=asc",
                Some(&t),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        let ids: Vec<&str> = r.json["result"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["orderId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["1002", "1003", "1005"]);
        let r = d
            .call(
                reqwest::Method::GET,
                "/orders/api/v1/orders?includeStatusIds=4,5&tableCode=12",
                Some(&t),
                None,
            )
            .await;
        assert_eq!(r.json["result"]["totalCount"], 1);
        let r = d
            .call(
                reqwest::Method::GET,
                "/orders/api/v1/orders?includeStatusIds=x",
                Some(&t),
                None,
            )
            .await;
        is_error(&r, 400, "ERR_VALIDATION");

        let create = |body: Value| {
            d.call(
                reqwest::Method::POST,
                "/orders/api/v1/orders",
                Some(&t),
                Some(body.to_string()),
            )
        };
        let r = create(json!({
            "restaurantId": DEMO_RESTAURANT_ID,
            "expeditionType": "pickup",
            "expectedAt": "2022-04-05T18:00:00+03:00",
            "dishList": [{"id": "d1", "name": "Борщ", "price": 390.00, "quantity": 2}],
        }))
        .await;
        assert_eq!(r.status, 201, "{}", r.json);
        let id = r.json["result"]["orderId"].as_str().unwrap().to_string();
        let o = d.sim.order(&id).unwrap();
        assert_eq!(o.amount, dec("780.00"));
        assert_eq!(o.status_id, status::NEW);
        assert_eq!(
            o.auto_advance_ms,
            Some(5_000),
            "the restaurant auto-accepts"
        );
        let r = create(json!({
            "restaurantId": DEMO_RESTAURANT_ID,
            "expectedAt": "2022-04-05T18:00:00",
            "dishList": [],
        }))
        .await;
        is_error(&r, 400, "ERR_VALIDATION");
        assert!(r.json["errors"]["expectedAt"].is_array());
        assert!(r.json["errors"]["dishList"].is_array());
    }

    #[tokio::test]
    async fn control_api() {
        let d = Dl::demo().await;
        let ctl = |p: &str| format!("{}/_sim/delivery{p}", d.base);
        let r: Value = d
            .http
            .post(ctl("/faults"))
            .json(&json!({"kind": {"Latency": {"delay_ms": 10}}, "endpoint": "pay", "times": 1}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["times"], 1);
        assert_eq!(d.sim.faults().len(), 1);
        let r: Value = d
            .http
            .post(ctl("/orders"))
            .json(&json!({"status_id": 4, "amount": "55.50", "table_code": "7"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = r["order_id"].as_str().unwrap().to_string();
        assert_eq!(r["amount"], "55.50");
        let r = d
            .http
            .post(ctl(&format!("/orders/{id}/status")))
            .json(&json!({"status_id": 12}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(d.sim.order(&id).unwrap().status_id, 12);
        let r = d
            .http
            .post(ctl(&format!("/orders/{id}/status")))
            .json(&json!({"status_id": 14}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let t = d.token().await;
        d.pay(&t, DEMO_ORDER_1290, "1290.00").await;
        let ledger: Value = d
            .http
            .get(ctl("/ledger"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ledger[0]["kind"], "Pay");
        assert_eq!(ledger[0]["amount"], "1290.00");
        let req: Value = d
            .http
            .get(ctl("/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(req["requests"]["pay"], 1);
        assert_eq!(req["tokens_issued"], 1);
        let r = d.http.post(ctl("/tokens/expire")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(d.get(&t, DEMO_ORDER_1290).await.status, 401);
        d.http.post(ctl("/reset")).send().await.unwrap();
        assert!(d.sim.ledger().is_empty());
        assert!(d.sim.order(&id).is_none());
        assert_eq!(d.sim.orders().len(), 5);
        let bad = d.http.post(ctl("/orders")).body("{").send().await.unwrap();
        assert_eq!(bad.status().as_u16(), 400);
    }
}

/// The r_k Delivery and WSA simulators can share one port (as `posgate up` may run them).
#[tokio::test]
async fn delivery_router_merges_with_the_wsa_router() {
    let wsa = posgate_sim::wsa::WsaSim::with_demo_data();
    let dl = posgate_sim::delivery::DeliverySim::with_demo_data();
    let app = wsa.router().merge(dl.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum_serve(listener, app).await });
    let http = reqwest::Client::new();
    let token = http
        .post(format!("http://{addr}/connect/token"))
        .form(&[
            ("client_id", posgate_sim::delivery::DEMO_CLIENT_ID),
            ("client_secret", posgate_sim::delivery::DEMO_CLIENT_SECRET),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status().as_u16(), 200);
    let wsa_ledger = http
        .get(format!("http://{addr}/_sim/wsa/ledger"))
        .send()
        .await
        .unwrap();
    assert_eq!(wsa_ledger.status().as_u16(), 200);
}

async fn axum_serve(listener: tokio::net::TcpListener, app: axum::Router) {
    let _ = axum::serve(listener, app).await;
}
