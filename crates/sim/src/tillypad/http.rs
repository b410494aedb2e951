//! HTTP layer: Tillypad's calls (at the root and under `/tillypad-api/{client}`) and the
//! `/_sim/tillypad/` control API.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tracing::{debug, info};

use super::TillypadSim;
use super::demo;
use super::engine;
use super::model::{Fault, FaultKind, LedgerEntry, SimSettings, SimTab};
use super::state::norm_id;
use super::texts::Text;
use crate::control::{self, parse_body, to_json};

/// Prefix of the control API.
pub const CONTROL_PREFIX: &str = "/_sim/tillypad";
/// `POST /pay-guest`.
pub const PAY_GUEST_PATH: &str = "/pay-guest";
/// `POST /post-guest`.
pub const POST_GUEST_PATH: &str = "/post-guest";

/// `GET /_sim/tillypad/`: this control API, described ([`crate::index`]).
pub fn control_index() -> Value {
    use crate::index::{self as ix, endpoint as ep};
    let faults = FaultKind::examples()
        .into_iter()
        .map(|(k, does)| ix::fault_example(&Fault::new(k).times(1), does))
        .collect();
    ix::index(
        "tillypad",
        CONTROL_PREFIX,
        "Tillypad XL web API (/post-guest, /pay-guest, /get-menu, ...), also under /tillypad-api/{client}/",
        [
            ep("GET", "", "this index"),
            ep(
                "POST",
                "/tabs",
                "adds a guest tab (SimTab, shaped as GET /tabs lists them; gest_id generated if empty) → it",
            ),
            ep("GET", "/tabs", "→ [SimTab]"),
            ep("GET", "/tabs/{gest_id}", "→ SimTab or 404"),
            ep(
                "POST",
                "/tabs/{gest_id}/send-to-payment",
                "a cashier prints a precheck of every item not in one → {\"precheck_id\"} (409 if none)",
            ),
            ep(
                "POST",
                "/tabs/{gest_id}/start-payment",
                "unpaid prechecks become \"payment started\" → the tab",
            ),
            ep(
                "POST",
                "/tabs/{gest_id}/pay-at-terminal",
                "every precheck paid at a terminal; closed if nothing is left → the tab",
            )
            .body(json!({"pay_type_id": null})),
            ep("POST", "/business-day", "opens or closes the business day")
                .body(json!({"open": false})),
            ep(
                "GET",
                "/settings",
                "→ SimSettings (error status, language, points, pay types)",
            ),
            ep(
                "POST",
                "/settings",
                "replaces SimSettings (shaped as GET /settings) → them",
            ),
        ]
        .into_iter()
        .chain(ix::fault_rule_endpoints())
        .chain([            ep(
                "GET",
                "/ledger",
                "→ [LedgerEntry]: every /pay-guest that paid, with its delete-prechecks mode",
            ),
            ep(
                "GET",
                "/requests",
                "→ {\"/pay-guest\": 3, ...}: calls received per path",
            ),
            ep(
                "POST",
                "/reset",
                "back to the initial data; no faults, ledger or counters → {\"ok\": true}",
            ),
        ])
        .collect(),
        "POST /_sim/tillypad/faults with a Fault: gest_id null = any tab, path null = /pay-guest; the first matching rule fires; times null = until cleared",
        faults,
    )
}

pub(crate) fn router(sim: TillypadSim) -> Router {
    let api = || {
        Router::new()
            .route(PAY_GUEST_PATH, post(pay_guest))
            .route(POST_GUEST_PATH, post(post_guest))
            .route("/get-menu", get(get_menu))
            .route("/get-client-by-phone", get(get_client_by_phone))
            .route("/post-client", post(post_client))
    };
    let control = Router::new()
        .route("/tabs", post(ctl_add_tab).get(ctl_tabs))
        .route("/tabs/{id}", get(ctl_tab))
        .route("/tabs/{id}/send-to-payment", post(ctl_send_to_payment))
        .route("/tabs/{id}/start-payment", post(ctl_start_payment))
        .route("/tabs/{id}/pay-at-terminal", post(ctl_pay_at_terminal))
        .route("/business-day", post(ctl_business_day))
        .route("/settings", post(ctl_set_settings).get(ctl_settings))
        .route("/ledger", get(control::ledger::<TillypadSim>))
        .route("/requests", get(ctl_requests));
    let api = Router::new()
        .merge(api())
        .nest("/tillypad-api/{client}", api());
    control::mount(api, control, sim)
}

control::controlled_by_rules!(
    TillypadSim,
    prefix: CONTROL_PREFIX,
    index: control_index,
    fault: Fault,
    entry: LedgerEntry
);

// ------------------------------------------------------------------------------------------
// Tillypad calls
// ------------------------------------------------------------------------------------------

fn json_body(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

/// A business error: the text as a bare JSON string, with the configured status.
fn error_text(sim: &TillypadSim, t: Text, status: Option<u16>) -> Response {
    let (lang, configured) = {
        let st = sim.lock();
        (st.settings.language, st.settings.error_status)
    };
    let status = StatusCode::from_u16(status.unwrap_or(configured)).unwrap_or(StatusCode::OK);
    json_body(status, &Value::String(t.render(lang).to_string()))
}

fn raw_text(sim: &TillypadSim, text: &str, status: Option<u16>) -> Response {
    let configured = sim.lock().settings.error_status;
    let status = StatusCode::from_u16(status.unwrap_or(configured)).unwrap_or(StatusCode::OK);
    json_body(status, &Value::String(text.to_string()))
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"))
}

/// A response whose body fails: the connection is dropped without a (complete) answer.
fn dropped() -> Response {
    (StatusCode::OK, crate::util::lost_answer_body()).into_response()
}

fn html(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<html><head><title>{status}</title></head><body><h1>{status}</h1><p>nginx</p></body></html>"
        ),
    )
        .into_response()
}

fn empty(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, Body::empty()).into_response()
}

/// The whole `/pay-guest` under the state lock: parse, check, apply.
fn process_pay(sim: &TillypadSim, mode: Option<&str>, body: &Bytes) -> Response {
    let result = (|| {
        let mode = engine::parse_mode(mode)?;
        let v: Value = serde_json::from_slice(body).map_err(|_| Text::BadRequest)?;
        let req = engine::parse_pay(&v)?;
        let mut st = sim.lock();
        engine::pay_guest(&mut st, mode, &req).map(|out| (req, mode, out))
    })();
    match result {
        Ok((req, mode, out)) => {
            info!(gest_id = %req.gest_id, mode, pay_sum = ?req.pay_sum, "Tillypad /pay-guest applied");
            json_body(StatusCode::OK, &out)
        }
        Err(t) => {
            info!(error = ?t, "Tillypad /pay-guest refused");
            error_text(sim, t, None)
        }
    }
}

fn gest_id_of(body: &Bytes) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("Payment")?
        .get("gest_ID")?
        .as_str()
        .map(ToString::to_string)
}

async fn pay_guest(
    AxState(sim): AxState<TillypadSim>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mode = q.get("delete-prechecks").cloned();
    let gest = gest_id_of(&body);
    let fault = {
        let mut st = sim.lock();
        st.count(PAY_GUEST_PATH);
        if st.settings.require_json_content_type && !is_json_content_type(&headers) {
            drop(st);
            return error_text(&sim, Text::BadContentType, Some(415));
        }
        st.take_fault(PAY_GUEST_PATH, gest.as_deref(), |k| {
            !matches!(k, FaultKind::PrinterError)
        })
    };
    if let Some(f) = &fault {
        debug!(fault = ?f, "Tillypad fault fired");
    }
    match fault {
        None => process_pay(&sim, mode.as_deref(), &body),
        Some(FaultKind::Dropped) => dropped(),
        Some(FaultKind::Redirect { location }) => crate::faults::redirect(&location),
        Some(FaultKind::Text { text, status }) => raw_text(&sim, &text, status),
        Some(FaultKind::Html { status, applied }) => {
            if applied {
                process_pay(&sim, mode.as_deref(), &body);
            }
            html(status)
        }
        Some(FaultKind::Empty { status, applied }) => {
            if applied {
                process_pay(&sim, mode.as_deref(), &body);
            }
            empty(status)
        }
        Some(FaultKind::AnswerLost { hang_ms }) => {
            process_pay(&sim, mode.as_deref(), &body);
            if hang_ms > 0 {
                tokio::time::sleep(Duration::from_millis(hang_ms)).await;
            }
            dropped()
        }
        Some(FaultKind::Slow { delay_ms }) => {
            // The work is done in its own task: a client that gives up does not stop it.
            let (tx, rx) = tokio::sync::oneshot::channel();
            let sim2 = sim.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                let _ = tx.send(process_pay(&sim2, mode.as_deref(), &body));
            });
            rx.await.unwrap_or_else(|_| dropped())
        }
        Some(FaultKind::PrinterError) => process_pay(&sim, mode.as_deref(), &body),
    }
}

async fn post_guest(
    AxState(sim): AxState<TillypadSim>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = {
        let mut st = sim.lock();
        st.count(POST_GUEST_PATH);
        if st.settings.require_json_content_type && !is_json_content_type(&headers) {
            drop(st);
            return error_text(&sim, Text::BadContentType, Some(415));
        }
        st.take_fault(POST_GUEST_PATH, None, |_| true)
    };
    match fault {
        Some(FaultKind::Dropped) => return dropped(),
        Some(FaultKind::Redirect { location }) => return crate::faults::redirect(&location),
        Some(FaultKind::Text { text, status }) => return raw_text(&sim, &text, status),
        Some(FaultKind::Html { status, .. }) => return html(status),
        Some(FaultKind::Empty { status, .. }) => return empty(status),
        _ => {}
    }
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|_| Text::BadRequest)
        .and_then(|v| engine::parse_post_guest(&v));
    match parsed {
        Ok(tab) => {
            let tab = sim.lock().insert_tab(tab);
            info!(gest_id = %tab.gest_id, total = %tab.total(), "Tillypad /post-guest created a tab");
            json_body(StatusCode::OK, &json!({ "gest_ID": tab.gest_id }))
        }
        Err(t) => error_text(&sim, t, None),
    }
}

async fn get_menu(
    AxState(sim): AxState<TillypadSim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    sim.lock().count("/get-menu");
    if let Some(id) = q.get("id") {
        return if norm_id(id) == demo::DEMO_MENU_GROUP_ID {
            json_body(
                StatusCode::OK,
                &json!({ "MenuGroups": [demo::menu_group()] }),
            )
        } else {
            json_body(StatusCode::OK, &json!({ "MenuGroups": [] }))
        };
    }
    match q.get("sale-property-id") {
        Some(id) if norm_id(id) == demo::DEMO_SALE_PROPERTY_ID => {
            json_body(StatusCode::OK, &demo::menu())
        }
        Some(id) if engine::is_guid(id) => json_body(
            StatusCode::OK,
            &json!({ "MenuItems": [], "MenuGroups": [] }),
        ),
        _ => error_text(&sim, Text::BadRequest, None),
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

async fn get_client_by_phone(
    AxState(sim): AxState<TillypadSim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut st = sim.lock();
    st.count("/get-client-by-phone");
    let Some(phone) = q.get("phone").map(|p| digits(p)).filter(|p| !p.is_empty()) else {
        drop(st);
        return error_text(&sim, Text::BadRequest, None);
    };
    let found = st.clients.iter().find(|c| {
        c.get("clientPhones")
            .and_then(Value::as_array)
            .is_some_and(|ps| {
                ps.iter().any(|p| {
                    p.get("clph_Phone")
                        .and_then(Value::as_str)
                        .is_some_and(|s| digits(s) == phone)
                })
            })
    });
    json_body(StatusCode::OK, found.unwrap_or(&Value::Null))
}

async fn post_client(AxState(sim): AxState<TillypadSim>, body: Bytes) -> Response {
    let mut st = sim.lock();
    st.count("/post-client");
    let Ok(Value::Object(mut c)) = serde_json::from_slice::<Value>(&body) else {
        drop(st);
        return error_text(&sim, Text::BadRequest, None);
    };
    let id = norm_id(&uuid::Uuid::new_v4().to_string());
    c.insert("clnt_ID".into(), Value::String(id.clone()));
    st.clients.push(Value::Object(c));
    json_body(StatusCode::OK, &json!({ "clnt_ID": id }))
}

// ------------------------------------------------------------------------------------------
// Control API
// ------------------------------------------------------------------------------------------

fn tab_or_404(tab: Option<SimTab>) -> Response {
    match tab {
        Some(t) => to_json(&t),
        None => control::error(StatusCode::NOT_FOUND, "tab not found"),
    }
}

async fn ctl_add_tab(AxState(sim): AxState<TillypadSim>, body: Bytes) -> Response {
    match parse_body::<SimTab>(&body) {
        Ok(t) => to_json(&sim.add_tab(t)),
        Err(resp) => *resp,
    }
}

async fn ctl_tabs(AxState(sim): AxState<TillypadSim>) -> Response {
    to_json(&sim.tabs())
}

async fn ctl_tab(AxState(sim): AxState<TillypadSim>, Path(id): Path<String>) -> Response {
    tab_or_404(sim.tab(&id))
}

async fn ctl_send_to_payment(
    AxState(sim): AxState<TillypadSim>,
    Path(id): Path<String>,
) -> Response {
    match sim.send_to_payment(&id) {
        Some(Some(p)) => to_json(&json!({ "precheck_id": p })),
        Some(None) => control::error(StatusCode::CONFLICT, "nothing left to send to payment"),
        None => control::error(StatusCode::NOT_FOUND, "tab not found"),
    }
}

async fn ctl_start_payment(AxState(sim): AxState<TillypadSim>, Path(id): Path<String>) -> Response {
    tab_or_404(sim.start_payment(&id))
}

#[derive(serde::Deserialize, Default)]
struct TerminalPay {
    #[serde(default)]
    pay_type_id: Option<String>,
}

async fn ctl_pay_at_terminal(
    AxState(sim): AxState<TillypadSim>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let req = if body.is_empty() {
        TerminalPay::default()
    } else {
        match parse_body::<TerminalPay>(&body) {
            Ok(r) => r,
            Err(resp) => return *resp,
        }
    };
    tab_or_404(sim.pay_at_terminal(&id, req.pay_type_id.as_deref()))
}

#[derive(serde::Deserialize)]
struct BusinessDay {
    open: bool,
}

async fn ctl_business_day(AxState(sim): AxState<TillypadSim>, body: Bytes) -> Response {
    match parse_body::<BusinessDay>(&body) {
        Ok(b) => {
            sim.set_business_day_open(b.open);
            to_json(&json!({ "open": b.open }))
        }
        Err(resp) => *resp,
    }
}

async fn ctl_settings(AxState(sim): AxState<TillypadSim>) -> Response {
    to_json(&sim.settings())
}

async fn ctl_set_settings(AxState(sim): AxState<TillypadSim>, body: Bytes) -> Response {
    match parse_body::<SimSettings>(&body) {
        Ok(s) => {
            sim.set_settings(s.clone());
            to_json(&s)
        }
        Err(resp) => *resp,
    }
}

async fn ctl_requests(AxState(sim): AxState<TillypadSim>) -> Response {
    let counts: BTreeMap<String, usize> = sim.lock().requests.clone().into_iter().collect();
    to_json(&counts)
}
