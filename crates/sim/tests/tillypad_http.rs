//! Drives the Tillypad simulator over real HTTP.

use std::time::Duration;

use posgate_sim::tillypad::{
    DEMO_PAY_TYPE_ID, DEMO_POINTS_DISCOUNT_TYPE_ID, DEMO_POINTS_TYPE_ID, DEMO_PREPAID_PAY_TYPE_ID,
    DEMO_SALE_PROPERTY_ID, DEMO_TAB_978, DEMO_TAB_POINTS, DEMO_TAB_PRECHECK, DEMO_TAB_PREPAID,
    Fault, FaultKind, Lang, PrecheckStatus, SimItem, SimTab, TillypadSim, demo_tabs, tab_state,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const SUM_DIFFERS: &str = "Сумма интернет-оплаты не может отличаться от итоговой суммы счета";
const IN_PAYMENT: &str = "Счет уже передан в оплату";
const NO_PAY_TYPE: &str =
    "Для проведения оплаты должен присутствовать либо payType_ID, либо gsdlv_pytp_ID_Prepaid";

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

/// A client that shows a redirect instead of following it.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Tp {
    sim: TillypadSim,
    http: reqwest::Client,
    base: String,
}

/// An answer: status, raw body, parsed JSON (Null when not JSON).
struct Ans {
    status: u16,
    raw: String,
    json: Value,
}

impl Ans {
    fn error(&self) -> &str {
        self.json
            .as_str()
            .unwrap_or_else(|| panic!("not an error string: {}", self.raw))
    }
}

impl Tp {
    async fn start(sim: TillypadSim) -> Self {
        let addr = sim.clone().spawn().await.expect("bind");
        Self {
            sim,
            http: reqwest::Client::new(),
            base: format!("http://{addr}"),
        }
    }

    async fn demo() -> Self {
        Self::start(TillypadSim::with_demo_data()).await
    }

    async fn post_raw(&self, path: &str, ct: Option<&str>, body: String) -> Ans {
        let mut rb = self.http.post(format!("{}{path}", self.base)).body(body);
        if let Some(ct) = ct {
            rb = rb.header("Content-Type", ct);
        }
        let resp = rb.send().await.expect("send");
        let status = resp.status().as_u16();
        let raw = resp.text().await.expect("body");
        let json = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Ans { status, raw, json }
    }

    async fn post(&self, path: &str, body: Value) -> Ans {
        self.post_raw(path, Some("application/json"), body.to_string())
            .await
    }

    async fn get(&self, path: &str) -> Ans {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("send");
        let status = resp.status().as_u16();
        let raw = resp.text().await.expect("body");
        let json = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Ans { status, raw, json }
    }

    /// `/pay-guest` with a raw JSON body (numbers keep their text).
    async fn pay_raw(&self, mode: Option<u8>, body: &str) -> Ans {
        let path = match mode {
            Some(m) => format!("/pay-guest?delete-prechecks={m}"),
            None => "/pay-guest".to_string(),
        };
        self.post_raw(&path, Some("application/json"), body.to_string())
            .await
    }

    async fn pay(
        &self,
        mode: Option<u8>,
        tab: &str,
        sum: &str,
        pay_type: Option<&str>,
        points: Option<&str>,
    ) -> Ans {
        let pt = pay_type
            .map(|p| format!(r#", "payType_ID": "{p}""#))
            .unwrap_or_default();
        let ds = points
            .map(|p| format!(r#", "DiscountSum": {{"sum": {p}}}"#))
            .unwrap_or_default();
        self.pay_raw(
            mode,
            &format!(r#"{{"Payment": {{"gest_ID": "{tab}", "paySum": {sum}{pt}}}{ds}}}"#),
        )
        .await
    }
}

/// Named `tillypad::…` so that `cargo test -p posgate-sim tillypad` selects them.
mod tillypad {
    use super::*;

    #[tokio::test]
    async fn demo_tabs_have_their_totals() {
        let tp = Tp::demo().await;
        for (id, total) in demo_tabs() {
            let t = tp.sim.tab(id).expect("demo tab");
            assert_eq!(t.total(), total, "{id}");
            assert_eq!(t.state, tab_state::OPEN);
        }
        let prepaid = tp.sim.tab(DEMO_TAB_PREPAID).unwrap();
        assert_eq!(
            prepaid.prepaid_pay_type_id.as_deref(),
            Some(DEMO_PREPAID_PAY_TYPE_ID)
        );
        let pre = tp.sim.tab(DEMO_TAB_PRECHECK).unwrap();
        assert_eq!(pre.prechecks.len(), 1);
        assert!(pre.unsent_items().is_empty());
    }

    #[tokio::test]
    async fn post_guest_creates_a_tab_and_validates_guids() {
        let tp = Tp::demo().await;
        let body = json!({
            "gest_gsst_ID": 3,
            "gest_Comment": ", Сдача с суммы:3000",
            "gest_DateOpen": "2020-10-12T12:00:00",
            "gest_Count": "2",
            "gest_dvsn_ID": "C21850A8-238E-B947-B9D0-CAF27739EDB1",
            "gest_Name": "S404095",
            "gest_IsDelivery": "1",
            "guestDeliveries": {"gsdlv_pytp_ID_Prepaid": DEMO_PREPAID_PAY_TYPE_ID, "gsdlv_dlvrst_ID": 2},
            "orders": [{"ordr_orst_ID": 0, "orderItems": [
                {"orit_mitm_ID": "a1b2c3d4-0001-4000-8000-000000000001", "orit_Count": "2", "orit_Price": "390.00"},
                {"orit_mitm_ID": "A1B2C3D4-0002-4000-8000-000000000002", "orit_Count": 1, "orit_Price": 198}
            ]}]
        });
        let a = tp.post("/post-guest", body.clone()).await;
        assert_eq!(a.status, 200, "{}", a.raw);
        let id = a.json["gest_ID"].as_str().expect("gest_ID").to_string();
        assert_eq!(id, id.to_uppercase());
        let t = tp.sim.tab(&id).expect("created");
        assert_eq!(t.total(), dec("978.00"));
        assert_eq!(t.state, tab_state::PREPARATION);
        assert_eq!(t.name, "S404095");
        assert_eq!(
            t.prepaid_pay_type_id.as_deref(),
            Some(DEMO_PREPAID_PAY_TYPE_ID)
        );
        // Paid without payType_ID: the prepaid pay type.
        let p = tp.pay(None, &id, "978.00", None, None).await;
        assert_eq!(p.status, 200, "{}", p.raw);
        assert_eq!(
            tp.sim.ledger_of(&id)[0].pay_type_id,
            DEMO_PREPAID_PAY_TYPE_ID
        );

        // Under a relay-style prefix too; a bad GUID is an error string.
        let mut bad = body;
        bad["orders"][0]["orderItems"][0]["orit_mitm_ID"] = json!("not-a-guid");
        let a = tp.post("/tillypad-api/Client/post-guest", bad).await;
        assert_eq!(a.error(), "Неверный формат запроса");
        assert_eq!(tp.sim.requests("/post-guest"), 2);
    }

    #[tokio::test]
    async fn pays_exactly_once_and_a_paid_tab_is_closed() {
        let tp = Tp::demo().await;
        let a = tp
            .pay(None, DEMO_TAB_978, "978.00", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(
            a.json,
            json!({"DiscountSums": [], "AppliedDiscountSums": []})
        );
        let t = tp.sim.tab(DEMO_TAB_978).unwrap();
        assert!(t.is_closed());
        assert_eq!(t.receipts.len(), 1);
        assert_eq!(t.prepaid_pay_type_id.as_deref(), Some(DEMO_PAY_TYPE_ID));
        let l = tp.sim.ledger();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].pay_sum, dec("978.00"));
        assert_eq!(l[0].delete_prechecks, 0);
        // Tillypad documents no idempotency: the same call again is refused.
        let again = tp
            .pay(None, DEMO_TAB_978, "978.00", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!(again.error(), "Гостевой счет закрыт");
        assert_eq!(tp.sim.ledger().len(), 1);
        assert_eq!(tp.sim.requests("pay-guest"), 2);
    }

    #[tokio::test]
    async fn exact_sum_pay_type_and_request_errors() {
        let tp = Tp::demo().await;
        let a = tp
            .pay(
                Some(0),
                DEMO_TAB_978,
                "977.99",
                Some(DEMO_PAY_TYPE_ID),
                None,
            )
            .await;
        assert_eq!((a.status, a.error()), (200, SUM_DIFFERS));
        let a = tp.pay(Some(0), DEMO_TAB_978, "978.00", None, None).await;
        assert_eq!(a.error(), NO_PAY_TYPE);
        let a = tp
            .pay(
                Some(0),
                DEMO_TAB_978,
                "978",
                Some("00000000-0000-0000-0000-000000000001"),
                None,
            )
            .await;
        assert_eq!(a.error(), "Тип оплаты не найден");
        let a = tp
            .pay(
                Some(0),
                "00000000-0000-0000-0000-00000000dead",
                "1",
                Some(DEMO_PAY_TYPE_ID),
                None,
            )
            .await;
        assert_eq!(a.error(), "Гостевой счет не найден");
        let a = tp
            .pay_raw(Some(0), r#"{"Payment": {"gest_ID": "x"}}"#)
            .await;
        assert_eq!(a.error(), "Неверный формат запроса");
        let a = tp.pay_raw(Some(0), "not json").await;
        assert_eq!(a.error(), "Неверный формат запроса");
        let a = tp
            .pay(Some(7), DEMO_TAB_978, "978", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!(a.error(), "Неверное значение параметра delete-prechecks");
        let a = tp
            .post_raw(
                "/pay-guest",
                Some("text/plain"),
                format!(r#"{{"Payment": {{"gest_ID": "{DEMO_TAB_978}"}}}}"#),
            )
            .await;
        assert_eq!(a.status, 415);
        // The prepaid tab pays without a payType_ID; the sum is compared at 2 decimals.
        let a = tp.pay(None, DEMO_TAB_PREPAID, "1450.5", None, None).await;
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(tp.sim.ledger().len(), 1, "only the good payment applied");
        assert!(!tp.sim.tab(DEMO_TAB_978).unwrap().is_closed());
    }

    #[tokio::test]
    async fn mode_0_keeps_prechecks_and_refuses_a_tab_all_in_payment() {
        let tp = Tp::demo().await;
        let a = tp
            .pay(
                Some(0),
                DEMO_TAB_PRECHECK,
                "640.00",
                Some(DEMO_PAY_TYPE_ID),
                None,
            )
            .await;
        assert_eq!(a.error(), IN_PAYMENT);
        // Absent = 0.
        let a = tp
            .pay(
                None,
                DEMO_TAB_PRECHECK,
                "640.00",
                Some(DEMO_PAY_TYPE_ID),
                None,
            )
            .await;
        assert_eq!(a.error(), IN_PAYMENT);
        assert!(tp.sim.ledger().is_empty());

        // A tab with one item in a precheck and one not: points reach only the unsent item.
        let tab = tp.sim.add_tab(SimTab::new(vec![
            SimItem::new(
                "A1B2C3D4-0001-4000-8000-000000000001",
                "a",
                dec("300"),
                dec("1"),
            ),
            SimItem::new(
                "A1B2C3D4-0002-4000-8000-000000000002",
                "b",
                dec("100"),
                dec("1"),
            ),
        ]));
        tp.sim.update_tab(&tab.gest_id, |t| {
            t.prechecks.push(posgate_sim::tillypad::SimPrecheck {
                id: "P1".into(),
                items: vec![0],
                status: PrecheckStatus::Unpaid,
            })
        });
        let a = tp
            .pay(
                Some(0),
                &tab.gest_id,
                "250.00",
                Some(DEMO_PAY_TYPE_ID),
                Some("150"),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(a.json["AppliedDiscountSums"][0]["sum"].to_string(), "100");
        let t = tp.sim.tab(&tab.gest_id).unwrap();
        assert!(t.is_closed());
        assert!(
            t.prechecks.iter().any(|p| p.id == "P1"),
            "mode 0 deletes nothing"
        );
        assert!(t.prechecks.iter().all(|p| p.status == PrecheckStatus::Paid));
    }

    #[tokio::test]
    async fn mode_1_deletes_all_prechecks_unless_one_is_paid() {
        let tp = Tp::demo().await;
        let a = tp
            .pay(
                Some(1),
                DEMO_TAB_PRECHECK,
                "640.00",
                Some(DEMO_PAY_TYPE_ID),
                None,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);
        let t = tp.sim.tab(DEMO_TAB_PRECHECK).unwrap();
        assert!(t.is_closed());
        assert!(
            !t.prechecks.iter().any(|p| p.id.starts_with("E1F2")),
            "deleted"
        );

        // A paid precheck: refused as already paid.
        let tab = tp.sim.add_tab(SimTab::new(vec![
            SimItem::new(
                "A1B2C3D4-0001-4000-8000-000000000001",
                "a",
                dec("300"),
                dec("1"),
            ),
            SimItem::new(
                "A1B2C3D4-0002-4000-8000-000000000002",
                "b",
                dec("100"),
                dec("1"),
            ),
        ]));
        let resp = tp
            .post(
                &format!("/_sim/tillypad/tabs/{}/send-to-payment", tab.gest_id),
                json!({}),
            )
            .await;
        assert_eq!(resp.status, 200, "{}", resp.raw);
        let resp = tp
            .post(
                &format!("/_sim/tillypad/tabs/{}/pay-at-terminal", tab.gest_id),
                json!({}),
            )
            .await;
        assert_eq!(resp.status, 200, "{}", resp.raw);
        assert!(resp.json["state"] == json!(tab_state::CLOSED));
        // Reopen it with a new item outside any precheck.
        tp.sim.update_tab(&tab.gest_id, |t| {
            t.state = tab_state::OPEN;
            t.items.push(SimItem::new(
                "A1B2C3D4-0003-4000-8000-000000000003",
                "c",
                dec("50"),
                dec("1"),
            ));
        });
        let a = tp
            .pay(Some(1), &tab.gest_id, "50.00", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!(a.error(), "Счет уже оплачен");
        // Mode 2 keeps the paid precheck and pays the rest.
        let a = tp
            .pay(Some(2), &tab.gest_id, "50.00", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(tp.sim.paid_total(&tab.gest_id), dec("50.00"));
    }

    #[tokio::test]
    async fn mode_2_cancels_unpaid_and_started_prechecks() {
        let tp = Tp::demo().await;
        let started = tp
            .post(
                &format!("/_sim/tillypad/tabs/{DEMO_TAB_PRECHECK}/start-payment"),
                json!({}),
            )
            .await;
        assert_eq!(started.json["prechecks"][0]["status"], "PaymentStarted");
        let a = tp
            .pay(
                Some(2),
                DEMO_TAB_PRECHECK,
                "600.00",
                Some(DEMO_PAY_TYPE_ID),
                Some("40.00"),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(a.json["DiscountSums"][0]["type_ID"], DEMO_POINTS_TYPE_ID);
        assert_eq!(a.json["DiscountSums"][0]["sum"].to_string(), "40.00");
        assert_eq!(
            a.json["AppliedDiscountSums"][0]["type_ID"],
            DEMO_POINTS_DISCOUNT_TYPE_ID
        );
        let t = tp.sim.tab(DEMO_TAB_PRECHECK).unwrap();
        assert_eq!(
            t.prechecks.len(),
            1,
            "the old precheck is gone, the new one paid"
        );
        assert_eq!(t.prechecks[0].status, PrecheckStatus::Paid);
        let l = tp.sim.ledger();
        assert_eq!(l[0].delete_prechecks, 2);
        assert_eq!(l[0].pay_sum, dec("600.00"));
    }

    #[tokio::test]
    async fn points_are_capped_and_reported() {
        let tp = Tp::demo().await;
        // 2300 − 600 declared; the guest has only 500 points: 500 applied.
        let a = tp
            .pay(
                Some(2),
                DEMO_TAB_POINTS,
                "1700.00",
                Some(DEMO_PAY_TYPE_ID),
                Some("600.00"),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(a.json["DiscountSums"][0]["sum"].to_string(), "600.00");
        assert_eq!(
            a.json["AppliedDiscountSums"][0]["sum"].to_string(),
            "500.00"
        );
        let l = &tp.sim.ledger()[0];
        assert_eq!(l.discount.as_ref().map(|d| d.sum), Some(dec("600")));
        assert_eq!(l.applied.as_ref().map(|d| d.sum), Some(dec("500")));
        assert_eq!(
            tp.sim.tab(DEMO_TAB_POINTS).unwrap().discount_note,
            Some(dec("600.00"))
        );

        // Points not set up: nothing applied, AppliedDiscountSums absent. GuestDiscountPoints works.
        let tp = Tp::demo().await;
        tp.sim.update_settings(|s| s.points_enabled = false);
        let a = tp
            .pay_raw(
                Some(0),
                &format!(
                    r#"{{"Payment": {{"gest_ID": "{DEMO_TAB_978}", "paySum": 878.00, "payType_ID": "{DEMO_PAY_TYPE_ID}"}},
                        "GuestDiscountPoints": {{"type_ID": "{DEMO_POINTS_TYPE_ID}", "sum": 100}}}}"#
                ),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);
        assert!(a.json.get("AppliedDiscountSums").is_none(), "{}", a.raw);
        assert_eq!(tp.sim.ledger()[0].applied, None);
        let a = tp
            .pay(
                Some(0),
                DEMO_TAB_POINTS,
                "2200",
                Some(DEMO_PAY_TYPE_ID),
                Some("100"),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);

        // An unknown points type.
        let tp = Tp::demo().await;
        let a = tp
            .pay_raw(
                Some(0),
                &format!(
                    r#"{{"Payment": {{"gest_ID": "{DEMO_TAB_978}", "paySum": 878, "payType_ID": "{DEMO_PAY_TYPE_ID}"}},
                        "DiscountSum": {{"type_ID": "00000000-0000-0000-0000-000000000001", "sum": 100}}}}"#
                ),
            )
            .await;
        assert_eq!(a.error(), "Тип баллов не найден");
    }

    #[tokio::test]
    async fn discount_only_without_pay_sum() {
        let tp = Tp::demo().await;
        let a = tp
            .pay_raw(
                Some(0),
                &format!(
                    r#"{{"Payment": {{"gest_ID": "{DEMO_TAB_POINTS}", "payType_ID": "{DEMO_PAY_TYPE_ID}"}}, "DiscountSum": {{"sum": 100}}}}"#
                ),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);
        let t = tp.sim.tab(DEMO_TAB_POINTS).unwrap();
        assert!(!t.is_closed());
        assert!(t.receipts.is_empty());
        assert_eq!(t.points_applied, dec("100"));
        assert!(tp.sim.ledger().is_empty());
    }

    #[tokio::test]
    async fn business_day_closed_error_status_and_language() {
        let tp = Tp::demo().await;
        let r = tp
            .post("/_sim/tillypad/business-day", json!({"open": false}))
            .await;
        assert_eq!(r.status, 200);
        let a = tp
            .pay(None, DEMO_TAB_978, "978", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!(
            (a.status, a.error()),
            (200, "Бизнес-день закрыт. Изменение счетов невозможно")
        );
        tp.sim.set_business_day_open(true);

        for status in [400, 409, 500] {
            tp.sim.set_error_status(status);
            let a = tp
                .pay(None, DEMO_TAB_978, "1", Some(DEMO_PAY_TYPE_ID), None)
                .await;
            assert_eq!((a.status, a.error()), (status, SUM_DIFFERS));
        }
        tp.sim.set_language(Lang::En);
        let a = tp
            .pay(None, DEMO_TAB_PRECHECK, "640", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!(a.error(), "The bill has already been sent for payment");
        // Settings over the control API.
        let s = tp.get("/_sim/tillypad/settings").await;
        assert_eq!(s.json["error_status"], 500);
        assert_eq!(s.json["language"], "En");
        let mut s = s.json;
        s["error_status"] = json!(200);
        s["language"] = json!("Ru");
        tp.post("/_sim/tillypad/settings", s).await;
        let a = tp
            .pay(None, DEMO_TAB_PRECHECK, "640", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!((a.status, a.error()), (200, IN_PAYMENT));
        assert!(tp.sim.ledger().is_empty());
    }

    #[tokio::test]
    async fn answer_lost_applies_and_drops_the_connection() {
        let tp = Tp::demo().await;
        tp.sim
            .inject(Fault::new(FaultKind::AnswerLost { hang_ms: 0 }).times(1));
        let r = tp
            .http
            .post(format!("{}/pay-guest?delete-prechecks=0", tp.base))
            .header("Content-Type", "application/json")
            .body(format!(
                r#"{{"Payment": {{"gest_ID": "{DEMO_TAB_978}", "paySum": 978.00, "payType_ID": "{DEMO_PAY_TYPE_ID}"}}}}"#
            ))
            .send()
            .await;
        let failed = match r {
            Err(_) => true,
            Ok(resp) => resp.bytes().await.is_err(),
        };
        assert!(failed, "the answer must be lost");
        assert_eq!(tp.sim.ledger().len(), 1, "but the payment was applied");
        assert!(tp.sim.faults().is_empty(), "times counted down");

        // Hanging: the client gives up, the payment stands.
        let tp = Tp::demo().await;
        tp.sim.inject(
            Fault::new(FaultKind::AnswerLost { hang_ms: 5_000 })
                .for_tab(DEMO_TAB_978.to_lowercase())
                .times(1),
        );
        let r = tp
            .http
            .post(format!("{}/pay-guest", tp.base))
            .header("Content-Type", "application/json")
            .timeout(Duration::from_millis(300))
            .body(format!(
                r#"{{"Payment": {{"gest_ID": "{DEMO_TAB_978}", "paySum": 978.00, "payType_ID": "{DEMO_PAY_TYPE_ID}"}}}}"#
            ))
            .send()
            .await;
        assert!(r.is_err());
        assert_eq!(tp.sim.ledger().len(), 1);
    }

    #[tokio::test]
    async fn transport_faults() {
        let tp = Tp::demo().await;
        let pay = || tp.pay(None, DEMO_TAB_978, "978.00", Some(DEMO_PAY_TYPE_ID), None);

        // Dropped: nothing applied.
        tp.sim.inject(Fault::new(FaultKind::Dropped).times(1));
        let r = tp
            .http
            .post(format!("{}/pay-guest", tp.base))
            .header("Content-Type", "application/json")
            .body(format!(
                r#"{{"Payment": {{"gest_ID": "{DEMO_TAB_978}", "paySum": 978.00, "payType_ID": "{DEMO_PAY_TYPE_ID}"}}}}"#
            ))
            .send()
            .await;
        assert!(match r {
            Err(_) => true,
            Ok(resp) => resp.bytes().await.is_err(),
        });
        assert!(tp.sim.ledger().is_empty());

        // HTML from a proxy, not applied; an empty 200, applied.
        tp.sim.inject(
            Fault::new(FaultKind::Html {
                status: 502,
                applied: false,
            })
            .times(1),
        );
        let a = pay().await;
        assert_eq!(a.status, 502);
        assert!(a.raw.contains("<html>"));
        assert!(tp.sim.ledger().is_empty());
        // 307 to another host, not applied.
        let elsewhere = "http://elsewhere.invalid/pay-guest";
        tp.sim.inject(
            Fault::new(FaultKind::Redirect {
                location: elsewhere.into(),
            })
            .times(1),
        );
        let r = no_redirects()
            .post(format!("{}/pay-guest", tp.base))
            .header("Content-Type", "application/json")
            .body(format!(
                r#"{{"Payment": {{"gest_ID": "{DEMO_TAB_978}", "paySum": 978.00, "payType_ID": "{DEMO_PAY_TYPE_ID}"}}}}"#
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 307);
        assert_eq!(r.headers()["location"], elsewhere);
        assert!(tp.sim.ledger().is_empty());
        tp.sim.inject(
            Fault::new(FaultKind::Empty {
                status: 200,
                applied: true,
            })
            .times(1),
        );
        let a = pay().await;
        assert_eq!((a.status, a.raw.as_str()), (200, ""));
        assert_eq!(tp.sim.ledger().len(), 1);

        // Text and printer faults on another tab.
        let tab = tp.sim.add_tab(SimTab::new(vec![SimItem::new(
            "A1B2C3D4-0001-4000-8000-000000000001",
            "a",
            dec("10"),
            dec("1"),
        )]));
        tp.sim.inject(
            Fault::new(FaultKind::Text {
                text: "Смена закрыта".into(),
                status: Some(503),
            })
            .times(1),
        );
        tp.sim.inject(Fault::new(FaultKind::PrinterError).times(1));
        let a = tp
            .pay(None, &tab.gest_id, "10", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!((a.status, a.error()), (503, "Смена закрыта"));
        let a = tp
            .pay(None, &tab.gest_id, "10", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!(
            a.error(),
            "Ошибка фискального регистратора: нет связи с устройством"
        );
        let a = tp
            .pay(None, &tab.gest_id, "10", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);

        // Slow: answered late, applied even if the client gives up first.
        let tp = Tp::demo().await;
        tp.sim
            .inject(Fault::new(FaultKind::Slow { delay_ms: 300 }).times(1));
        let r = tp
            .http
            .post(format!("{}/pay-guest", tp.base))
            .header("Content-Type", "application/json")
            .timeout(Duration::from_millis(100))
            .body(format!(
                r#"{{"Payment": {{"gest_ID": "{DEMO_TAB_978}", "paySum": 978.00, "payType_ID": "{DEMO_PAY_TYPE_ID}"}}}}"#
            ))
            .send()
            .await;
        assert!(r.is_err());
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(tp.sim.ledger().len(), 1);
    }

    #[tokio::test]
    async fn control_api_faults_ledger_requests_reset() {
        let tp = Tp::demo().await;
        let f = tp
            .post(
                "/_sim/tillypad/faults",
                json!({"kind": {"Html": {"status": 504}}, "times": 2}),
            )
            .await;
        assert_eq!(f.status, 200, "{}", f.raw);
        assert_eq!(
            tp.get("/_sim/tillypad/faults")
                .await
                .json
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let d = tp
            .http
            .delete(format!("{}/_sim/tillypad/faults", tp.base))
            .send()
            .await
            .unwrap();
        assert_eq!(d.status().as_u16(), 200);
        assert!(tp.sim.faults().is_empty());

        let t = tp
            .post(
                "/_sim/tillypad/tabs",
                json!({"items": [{"menu_item_id": "A1B2C3D4-0001-4000-8000-000000000001", "price": "12.50", "count": 2}]}),
            )
            .await;
        let id = t.json["gest_id"].as_str().unwrap().to_string();
        assert_eq!(
            tp.get(&format!("/_sim/tillypad/tabs/{id}")).await.json["gest_id"],
            id
        );
        assert_eq!(tp.get("/_sim/tillypad/tabs/nope").await.status, 404);
        let a = tp
            .pay(None, &id, "25.00", Some(DEMO_PAY_TYPE_ID), None)
            .await;
        assert_eq!(a.status, 200, "{}", a.raw);
        let l = tp.get("/_sim/tillypad/ledger").await;
        assert_eq!(l.json[0]["pay_sum"], "25.00");
        let r = tp.get("/_sim/tillypad/requests").await;
        assert_eq!(r.json["/pay-guest"], 1);
        assert_eq!(tp.post("/_sim/tillypad/reset", json!({})).await.status, 200);
        assert!(tp.sim.ledger().is_empty());
        assert!(tp.sim.tab(&id).is_none());
        assert!(tp.sim.tab(DEMO_TAB_978).is_some());
        assert_eq!(tp.sim.requests("/pay-guest"), 0);
    }

    #[tokio::test]
    async fn menu_and_clients() {
        let tp = Tp::demo().await;
        let m = tp
            .get(&format!(
                "/get-menu?sale-property-id={DEMO_SALE_PROPERTY_ID}"
            ))
            .await;
        assert_eq!(m.json["MenuItems"].as_array().map(Vec::len), Some(6));
        let id = m.json["MenuItems"][0]["mitm_mgrp_ID"]
            .as_str()
            .unwrap()
            .to_string();
        let g = tp.get(&format!("/get-menu?id={id}")).await;
        assert_eq!(g.json["MenuGroups"][0]["mgrp_Name"], "Кухня");
        assert!(
            tp.get("/get-client-by-phone?phone=79990001122")
                .await
                .json
                .is_null()
        );
        let c = tp
            .post(
                "/post-client",
                json!({"clnt_Name": "Анна", "clientPhones": [{"clph_Phone": "+7 999 000-11-22"}]}),
            )
            .await;
        assert!(c.json["clnt_ID"].is_string());
        let found = tp.get("/get-client-by-phone?phone=79990001122").await;
        assert_eq!(found.json["clnt_Name"], "Анна");
    }
}
