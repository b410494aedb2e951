//! HTTP layer: the WebSocket entry point, the callbacks and the `/_sim/expirenza/` control
//! API.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::ExpirenzaSim;
use super::engine::Incoming;
use super::model::{SimError, SimFaults, SimResto, SimSettings};
use super::state::Out;
use super::validate;
use crate::control::{self, Controlled, parse_body, to_json};
use crate::util::decimal as dec;

/// The WebSocket path.
pub const ENTRY_POINT: &str = "/restaurantEntryPoint";
/// Callbacks are `POST /callback/<operation>`.
pub const CALLBACK_PREFIX: &str = "/callback";
/// Prefix of the control API.
pub const CONTROL_PREFIX: &str = "/_sim/expirenza";

/// `GET /_sim/expirenza/`: this control API, described ([`crate::index`]).
pub fn control_index() -> Value {
    use crate::index::{self as ix, endpoint as ep};
    let faults = SimFaults::examples()
        .into_iter()
        .map(|(f, does)| {
            let body = serde_json::to_value(&f).unwrap_or_default();
            // The kind is the field the example sets.
            let kind = body
                .as_object()
                .and_then(|m| {
                    m.iter()
                        .find(|(_, v)| !v.is_null() && **v != json!(0))
                        .map(|(k, _)| k.clone())
                })
                .unwrap_or_default();
            ix::FaultExample { kind, does, body }
        })
        .collect();
    ix::index(
        "expirenza",
        CONTROL_PREFIX,
        "the Expirenza pay-at-table platform (WebSocket /restaurantEntryPoint, signed callbacks on /callback/<operation>)",
        vec![
            ep("GET", "", "this index"),
            ep("POST", "/restaurants", "adds a restaurant (SimResto, shaped as GET /restaurants lists them) → it"),
            ep("GET", "/restaurants", "→ [SimResto]"),
            ep("GET", "/connections", "→ [ConnectionInfo]"),
            ep("POST", "/drop", "drops every WebSocket without a close frame → {\"dropped\": n}"),
            ep("POST", "/operations", "pushes an operation frame (rID generated if absent) → {\"rid\"}").body(json!({"resto_id": "demo-resto", "operation": {"operation": "checkWork"}})),
            ep("POST", "/raw", "pushes a raw text frame → {\"ok\": true}").body(json!({"resto_id": "demo-resto", "text": "not JSON"})),
            ep("POST", "/pay", "a guest pays: charged first, then payBill (repeated on retriable answers) → GuestPayment").body(json!({"resto_id": "demo-resto", "bill_id": "<bill>", "sum": "978.00", "tips": "0"})),
            ep("GET", "/payments", "→ [GuestPayment]"),
            ep("GET", "/callbacks", "→ every callback received, accepted or not"),
            ep("GET", "/sent", "→ every operation frame sent"),
            ep("GET", "/pings", "→ keepalive frames received"),
            ep("GET", "/notifications", "→ what staff were told"),
            ep("GET", "/settings", "→ SimSettings"),
            ep("POST", "/settings", "replaces SimSettings (shaped as GET /settings) → them"),
            ep("POST", "/faults", "sets the fault counters (SimFaults) → them; see faults.kinds"),
            ep("GET", "/faults", "→ SimFaults, counters as they count down"),
            ep("DELETE", "/faults", "clears every fault → {\"ok\": true}"),
            ep("POST", "/reset", "restaurants as built; no records, faults or payments → {\"ok\": true}"),
        ],
        "POST /_sim/expirenza/faults with SimFaults: counters that go down as they fire; several can be set in one body; the body replaces the current faults",
        faults,
    )
}

pub(crate) fn router(sim: ExpirenzaSim) -> Router {
    let control = Router::new()
        .route("/restaurants", post(ctl_add_resto).get(ctl_restos))
        .route("/connections", get(ctl_connections))
        .route("/drop", post(ctl_drop))
        .route("/operations", post(ctl_operation))
        .route("/raw", post(ctl_raw))
        .route("/pay", post(ctl_pay))
        .route("/payments", get(ctl_payments))
        .route("/callbacks", get(ctl_callbacks))
        .route("/sent", get(ctl_sent))
        .route("/pings", get(ctl_pings))
        .route("/notifications", get(ctl_notifications))
        .route("/settings", get(ctl_settings).post(ctl_set_settings));
    let api = Router::new()
        .route(ENTRY_POINT, get(ws_entry))
        .route(&format!("{CALLBACK_PREFIX}/{{operation}}"), post(callback));
    control::mount(api, control, sim)
}

impl Controlled for ExpirenzaSim {
    const PREFIX: &'static str = CONTROL_PREFIX;
    type Fault = SimFaults;
    type Faults = SimFaults;

    fn index() -> Value {
        control_index()
    }

    fn add_fault(&self, f: SimFaults) {
        self.set_faults(f);
    }

    fn list_faults(&self) -> SimFaults {
        self.faults()
    }

    fn remove_faults(&self) {
        self.clear_faults();
    }

    fn reset_all(&self) {
        self.reset();
    }

    fn on_shutdown(&self) {
        self.drop_connections();
    }
}

fn header_text(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string())
}

async fn ws_entry(
    AxState(sim): AxState<ExpirenzaSim>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let creds = header_text(&headers, header::AUTHORIZATION.as_str())
        .as_deref()
        .and_then(validate::basic_credentials);
    let resto = match creds {
        Some((resto, secret)) if sim.authenticate(&resto, &secret) => resto,
        Some(_) => return unauthorized(),
        None => {
            sim.note_auth_failure();
            return unauthorized();
        }
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let cookie = header_text(&headers, header::COOKIE.as_str());
    ws.on_upgrade(move |socket| connection(sim, socket, resto, cookie))
}

fn unauthorized() -> Response {
    warn!("Expirenza sim: WebSocket authentication failed");
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"expirenza\"")],
        "Unauthorized",
    )
        .into_response()
}

async fn connection(
    sim: ExpirenzaSim,
    mut socket: WebSocket,
    resto: String,
    cookie: Option<String>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = sim.register_conn(&resto, cookie, tx);
    for g in sim.settings().greeting {
        if socket.send(Message::Text(g.into())).await.is_err() {
            sim.unregister_conn(id);
            return;
        }
    }
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Text(t)) => {
                    if socket.send(Message::Text(t.into())).await.is_err() {
                        break;
                    }
                }
                Some(Out::Drop) | None => {
                    info!(connection = id, "Expirenza sim: dropping the socket");
                    break;
                }
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) => sim.record_frame(id, &resto, t.as_str()),
                Some(Ok(Message::Binary(b))) => {
                    sim.record_frame(id, &resto, &String::from_utf8_lossy(&b))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => debug!(connection = id, "control frame"),
            },
        }
    }
    sim.unregister_conn(id);
}

async fn callback(
    AxState(sim): AxState<ExpirenzaSim>,
    Path(operation): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, reply) = sim.on_callback(Incoming {
        operation: &operation,
        resto_id: header_text(&headers, "restoId"),
        signature: header_text(&headers, "signature"),
        content_type: header_text(&headers, header::CONTENT_TYPE.as_str()),
        cookie: header_text(&headers, header::COOKIE.as_str()),
        body: &body,
    });
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply {
        None => code.into_response(),
        Some(v) => (code, Json(v)).into_response(),
    }
}

// ------------------------------------------------------------------------------------------
// Control API.
// ------------------------------------------------------------------------------------------

fn sim_error(e: SimError) -> Response {
    let status = match e {
        SimError::UnknownResto(_) => StatusCode::NOT_FOUND,
        SimError::NotConnected(_) => StatusCode::CONFLICT,
        SimError::BadOperation(_) => StatusCode::BAD_REQUEST,
    };
    control::error(status, e.to_string())
}

async fn ctl_add_resto(AxState(sim): AxState<ExpirenzaSim>, body: Bytes) -> Response {
    match parse_body::<SimResto>(&body) {
        Ok(r) => {
            sim.add_resto(r.clone());
            to_json(&r)
        }
        Err(r) => *r,
    }
}

async fn ctl_restos(AxState(sim): AxState<ExpirenzaSim>) -> Response {
    to_json(&sim.restos())
}

async fn ctl_connections(AxState(sim): AxState<ExpirenzaSim>) -> Response {
    to_json(&sim.connections())
}

async fn ctl_drop(AxState(sim): AxState<ExpirenzaSim>) -> Response {
    to_json(&json!({ "dropped": sim.drop_connections() }))
}

#[derive(Deserialize)]
struct OperationBody {
    resto_id: String,
    operation: Value,
}

async fn ctl_operation(AxState(sim): AxState<ExpirenzaSim>, body: Bytes) -> Response {
    match parse_body::<OperationBody>(&body) {
        Ok(b) => match sim.send_operation(&b.resto_id, b.operation) {
            Ok(rid) => to_json(&json!({ "rid": rid })),
            Err(e) => sim_error(e),
        },
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
struct RawBody {
    resto_id: String,
    text: String,
}

async fn ctl_raw(AxState(sim): AxState<ExpirenzaSim>, body: Bytes) -> Response {
    match parse_body::<RawBody>(&body) {
        Ok(b) => match sim.send_raw(&b.resto_id, b.text) {
            Ok(()) => to_json(&json!({ "ok": true })),
            Err(e) => sim_error(e),
        },
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
struct PayBody {
    resto_id: String,
    bill_id: String,
    #[serde(with = "dec")]
    sum: Decimal,
    #[serde(with = "dec", default)]
    tips: Decimal,
}

async fn ctl_pay(AxState(sim): AxState<ExpirenzaSim>, body: Bytes) -> Response {
    match parse_body::<PayBody>(&body) {
        Ok(b) => match sim.pay(&b.resto_id, &b.bill_id, b.sum, b.tips) {
            Ok(p) => to_json(&p),
            Err(e) => sim_error(e),
        },
        Err(r) => *r,
    }
}

async fn ctl_payments(AxState(sim): AxState<ExpirenzaSim>) -> Response {
    to_json(&sim.payments())
}

async fn ctl_callbacks(AxState(sim): AxState<ExpirenzaSim>) -> Response {
    to_json(&sim.callbacks())
}

async fn ctl_sent(AxState(sim): AxState<ExpirenzaSim>) -> Response {
    to_json(&sim.sent())
}

async fn ctl_pings(AxState(sim): AxState<ExpirenzaSim>) -> Response {
    to_json(&sim.pings())
}

async fn ctl_notifications(AxState(sim): AxState<ExpirenzaSim>) -> Response {
    to_json(&sim.notifications())
}

async fn ctl_settings(AxState(sim): AxState<ExpirenzaSim>) -> Response {
    to_json(&sim.settings())
}

async fn ctl_set_settings(AxState(sim): AxState<ExpirenzaSim>, body: Bytes) -> Response {
    match parse_body::<SimSettings>(&body) {
        Ok(s) => {
            sim.set_settings(s.clone());
            to_json(&s)
        }
        Err(r) => *r,
    }
}
