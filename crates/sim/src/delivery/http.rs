//! HTTP layer: the OAuth2 token endpoint, the r_k Delivery orders API and the
//! `/_sim/delivery/` control API.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, RawQuery, State as AxState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use tracing::{debug, info};

use super::DeliverySim;
use super::engine::{self, ApiError, ERR_WS, Search};
use super::model::{
    Fault, FaultKind, Lang, LedgerEntry, SimClient, SimOrder, SimRestaurant, endpoint,
};
use super::state::State;
use super::texts;
use crate::control::{self, ok_json, parse_body, to_json};

/// OAuth2 token endpoint (served on the same port as the API).
pub const TOKEN_PATH: &str = "/connect/token";
/// Orders collection; single orders are `{ORDERS_PATH}/{orderId}`.
pub const ORDERS_PATH: &str = "/orders/api/v1/orders";
/// Prefix of the control API.
pub const CONTROL_PREFIX: &str = "/_sim/delivery";

/// `GET /_sim/delivery/`: this control API, described ([`crate::index`]).
pub fn control_index() -> Value {
    use crate::index::{self as ix, endpoint as ep};
    let faults = FaultKind::examples()
        .into_iter()
        .map(|(k, does)| ix::fault_example(&Fault::new(k).times(1), does))
        .collect();
    ix::index(
        "delivery",
        CONTROL_PREFIX,
        "r_k Delivery REST (/connect/token, /orders/api/v1/orders/...)",
        [
            ep("GET", "", "this index"),
            ep("POST", "/clients", "adds an API client (SimClient) → it"),
            ep("GET", "/clients", "→ [SimClient]"),
            ep(
                "POST",
                "/restaurants",
                "adds a restaurant (SimRestaurant) → it",
            ),
            ep("GET", "/restaurants", "→ [SimRestaurant]"),
            ep(
                "POST",
                "/orders",
                "adds an order (SimOrder; ids generated if empty) → it",
            ),
            ep("GET", "/orders", "→ [SimOrder]"),
            ep("GET", "/orders/{order_id}", "→ SimOrder or 404"),
            ep(
                "POST",
                "/orders/{order_id}/status",
                "sets the order's status → the order",
            )
            .body(json!({"status_id": 4})),
        ]
        .into_iter()
        .chain(ix::fault_rule_endpoints())
        .chain([
            ep("GET", "/ledger", "→ [LedgerEntry]: what was posted"),
            ep(
                "GET",
                "/requests",
                "→ {\"requests\": {\"pay\": 2, ...}, \"tokens_issued\": n}",
            ),
            ep(
                "POST",
                "/tokens/expire",
                "every issued token now gets 401 → {\"ok\": true}",
            ),
            ep(
                "POST",
                "/reset",
                "initial data; no faults, ledger, tokens or counters → {\"ok\": true}",
            ),
        ])
        .collect(),
        "POST /_sim/delivery/faults with a Fault: order_id null = any order, endpoint null = pay and complete for r_keeper faults (complete only for CloseBlocked), pay for the rest; times null = until cleared",
        faults,
    )
}

pub(crate) fn router(sim: DeliverySim) -> Router {
    let control = Router::new()
        .route("/clients", post(ctl_add_client).get(ctl_clients))
        .route(
            "/restaurants",
            post(ctl_add_restaurant).get(ctl_restaurants),
        )
        .route("/orders", post(ctl_add_order).get(ctl_orders))
        .route("/orders/{order_id}", get(ctl_get_order))
        .route("/orders/{order_id}/status", post(ctl_set_status))
        .route("/ledger", get(control::ledger::<DeliverySim>))
        .route("/requests", get(ctl_requests))
        .route("/tokens/expire", post(ctl_expire_tokens));
    let api = Router::new()
        .route(TOKEN_PATH, post(token))
        .route(ORDERS_PATH, get(search_orders).post(create_order))
        .route(&format!("{ORDERS_PATH}/{{order_id}}"), get(get_order))
        .route(&format!("{ORDERS_PATH}/{{order_id}}/pay"), put(pay))
        .route(
            &format!("{ORDERS_PATH}/{{order_id}}/complete"),
            put(complete),
        );
    control::mount(api, control, sim)
}

control::controlled_by_rules!(
    DeliverySim,
    prefix: CONTROL_PREFIX,
    index: control_index,
    fault: Fault,
    entry: LedgerEntry
);

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

fn with_request_id(mut resp: Response, request_id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

fn json_response(status: u16, body: Value, request_id: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    with_request_id((status, Json(body)).into_response(), request_id)
}

fn api_error(e: &ApiError, request_id: &str) -> Response {
    json_response(e.status, e.body(request_id), request_id)
}

fn unauthorized(request_id: &str) -> Response {
    let mut resp = StatusCode::UNAUTHORIZED.into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    with_request_id(resp, request_id)
}

/// Headers go out, then the connection breaks: the answer is lost.
fn aborted(request_id: &str) -> Response {
    let mut resp = Response::new(crate::util::lost_answer_body());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    with_request_id(resp, request_id)
}

type Outcome = Result<(u16, Value), ApiError>;

// ---------------------------------------------------------------------------------------
// Request pipeline: count, request id, auto-accept tick, bearer check, transport faults.
// ---------------------------------------------------------------------------------------

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let raw = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = raw.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Counts the request and gives it a request id; checks the bearer token unless `None`.
fn begin(
    sim: &DeliverySim,
    ep: &str,
    headers: Option<&HeaderMap>,
) -> Result<String, Box<Response>> {
    let mut st = sim.lock();
    st.count(ep);
    let rid = st.next_request_id();
    st.tick(Instant::now(), &super::now_text());
    if let Some(h) = headers {
        let ok = bearer(h).is_some_and(|t| st.token_valid(t));
        if !ok {
            debug!(endpoint = ep, request_id = %rid, "r_k Delivery: 401 (missing, unknown or expired bearer)");
            return Err(Box::new(unauthorized(&rid)));
        }
    }
    Ok(rid)
}

fn order_lang(st: &State, order_id: Option<&str>) -> Lang {
    order_id
        .and_then(|id| st.orders.get(id))
        .map_or(Lang::Ru, |e| engine::lang_station(st, &e.order).0)
}

/// Runs `exec` on the locked state, with the transport faults of this endpoint applied.
async fn run<F>(sim: &DeliverySim, ep: &str, order_id: Option<&str>, rid: &str, exec: F) -> Response
where
    F: FnOnce(&mut State, &str) -> Outcome + Send,
{
    run_with(sim, ep, order_id, rid, api_error, exec).await
}

/// [`run`] with its own rendering of the refusals `exec` returns.
async fn run_with<F>(
    sim: &DeliverySim,
    ep: &str,
    order_id: Option<&str>,
    rid: &str,
    render: fn(&ApiError, &str) -> Response,
    exec: F,
) -> Response
where
    F: FnOnce(&mut State, &str) -> Outcome + Send,
{
    let (fault, lang) = {
        let mut st = sim.lock();
        let f = st.take_fault(ep, order_id, |k| !k.is_order_state());
        (f, order_lang(&st, order_id))
    };
    if let Some(f) = &fault {
        debug!(endpoint = ep, request_id = rid, fault = ?f, "r_k Delivery: fault fired");
    }
    let exec_now = |exec: F| {
        let mut st = sim.lock();
        st.tick(Instant::now(), &super::now_text());
        let out = exec(&mut st, rid);
        match &out {
            Ok((status, _)) => info!(
                endpoint = ep,
                order_id = order_id.unwrap_or(""),
                request_id = rid,
                status,
                "r_k Delivery request handled"
            ),
            Err(e) => {
                info!(endpoint = ep, order_id = order_id.unwrap_or(""), request_id = rid, status = e.status, code = %e.code, msg = %e.msg, "r_k Delivery request refused")
            }
        }
        out
    };
    let respond = |out: Outcome| match out {
        Ok((status, body)) => json_response(status, body, rid),
        Err(e) => render(&e, rid),
    };
    match fault {
        Some(FaultKind::Latency { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            respond(exec_now(exec))
        }
        Some(FaultKind::Unavailable) => with_request_id(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
            )
                .into_response(),
            rid,
        ),
        Some(FaultKind::Redirect { location }) => {
            with_request_id(crate::faults::redirect(&location), rid)
        }
        Some(FaultKind::RateLimited) => api_error(
            &ApiError::new(
                429,
                "ERR_TOO_MANY_REQUESTS",
                "Too many requests, try again later",
            ),
            rid,
        ),
        Some(FaultKind::InternalError) => api_error(
            &ApiError::new(
                500,
                "ERR_INTERNAL_SERVER_ERROR",
                "An unexpected error occurred",
            ),
            rid,
        ),
        Some(FaultKind::RequestTimedOut) => api_error(
            &ApiError::new(500, ERR_WS, texts::request_timed_out(lang)),
            rid,
        ),
        Some(FaultKind::TimedOutButApplied) => match exec_now(exec) {
            Ok(_) => api_error(
                &ApiError::new(500, ERR_WS, texts::request_timed_out(lang)),
                rid,
            ),
            Err(e) => render(&e, rid),
        },
        Some(FaultKind::AnswerLost) => {
            let _ = exec_now(exec);
            aborted(rid)
        }
        Some(FaultKind::AnswerDelayed { delay_ms }) => {
            let out = exec_now(exec);
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            respond(out)
        }
        _ => respond(exec_now(exec)),
    }
}

// ---------------------------------------------------------------------------------------
// OAuth2 token endpoint
// ---------------------------------------------------------------------------------------

fn oauth_error(error: &str, rid: &str) -> Response {
    json_response(400, json!({ "error": error }), rid)
}

/// Token refusals have the OAuth2 shape `{"error": "invalid_client"}`.
fn render_token_error(e: &ApiError, rid: &str) -> Response {
    if e.status == 400 {
        info!(request_id = rid, error = %e.code, "r_k Delivery auth: token refused");
        oauth_error(&e.code, rid)
    } else {
        api_error(e, rid)
    }
}

async fn token(
    AxState(sim): AxState<DeliverySim>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let rid = match begin(&sim, endpoint::TOKEN, None) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let Ok(Form(form)) = form else {
        return oauth_error("invalid_request", &rid);
    };
    run_with(
        &sim,
        endpoint::TOKEN,
        None,
        &rid,
        render_token_error,
        move |st, _| {
            let get = |k: &str| form.get(k).map(|v| v.trim()).unwrap_or("");
            if get("grant_type") != "client_credentials" {
                return Err(ApiError::new(400, "unsupported_grant_type", ""));
            }
            let client = st.clients.get(get("client_id")).cloned();
            let Some(client) = client.filter(|c| c.client_secret == get("client_secret")) else {
                return Err(ApiError::new(400, "invalid_client", ""));
            };
            let scopes = if get("scopes").is_empty() {
                get("scope")
            } else {
                get("scopes")
            };
            if !scopes.is_empty() && !scopes.split([' ', ',']).any(|s| s == "orders") {
                return Err(ApiError::new(400, "invalid_scope", ""));
            }
            let lifetime = client.token_lifetime_s;
            let token = st.issue_token(Duration::from_secs(lifetime));
            Ok((
                200,
                json!({
                    "access_token": token,
                    "expires_in": lifetime,
                    "token_type": "Bearer",
                    "scope": "orders",
                }),
            ))
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------
// Orders API
// ---------------------------------------------------------------------------------------

async fn get_order(
    AxState(sim): AxState<DeliverySim>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let rid = match begin(&sim, endpoint::GET_ORDER, Some(&headers)) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let id = order_id.clone();
    run(
        &sim,
        endpoint::GET_ORDER,
        Some(&order_id),
        &rid,
        move |st, _| {
            let o = st
                .orders
                .get(&id)
                .map(|e| e.order.clone())
                .ok_or_else(|| ApiError::not_found(&id))?;
            Ok((200, json!({ "result": engine::order_json(st, &o) })))
        },
    )
    .await
}

async fn search_orders(
    AxState(sim): AxState<DeliverySim>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let rid = match begin(&sim, endpoint::SEARCH_ORDERS, Some(&headers)) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let pairs = parse_query(query.as_deref().unwrap_or(""));
    run(&sim, endpoint::SEARCH_ORDERS, None, &rid, move |st, _| {
        let search = Search::from_query(&pairs)?;
        let mut found: Vec<(u64, SimOrder)> = st
            .orders
            .values()
            .filter(|e| search.matches(&e.order))
            .map(|e| (e.seq, e.order.clone()))
            .collect();
        found.sort_by_key(|(seq, _)| *seq);
        if search.descending {
            found.reverse();
        }
        let items: Vec<Value> = found
            .iter()
            .map(|(_, o)| engine::order_json(st, o))
            .collect();
        let total = items.len();
        Ok((
            200,
            json!({ "result": { "items": items, "totalCount": total } }),
        ))
    })
    .await
}

async fn create_order(
    AxState(sim): AxState<DeliverySim>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rid = match begin(&sim, endpoint::CREATE_ORDER, Some(&headers)) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return api_error(
                &ApiError::validation(vec![("$".into(), format!("Invalid JSON: {e}"))]),
                &rid,
            );
        }
    };
    let sim2 = sim.clone();
    run(&sim, endpoint::CREATE_ORDER, None, &rid, move |st, _| {
        let order = engine::create(st, &body)?;
        let added = sim2.insert_order(st, order);
        Ok((201, json!({ "result": { "orderId": added.order_id } })))
    })
    .await
}

async fn pay(
    AxState(sim): AxState<DeliverySim>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rid = match begin(&sim, endpoint::PAY, Some(&headers)) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return api_error(
                &ApiError::validation(vec![("$".into(), format!("Invalid JSON: {e}"))]),
                &rid,
            );
        }
    };
    let id = order_id.clone();
    run(
        &sim,
        endpoint::PAY,
        Some(&order_id),
        &rid,
        move |st, rid| {
            engine::pay(st, &id, &body, rid, &super::now_text())?;
            Ok((200, json!({ "result": {} })))
        },
    )
    .await
}

async fn complete(
    AxState(sim): AxState<DeliverySim>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let rid = match begin(&sim, endpoint::COMPLETE, Some(&headers)) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let id = order_id.clone();
    run(
        &sim,
        endpoint::COMPLETE,
        Some(&order_id),
        &rid,
        move |st, rid| {
            engine::complete(st, &id, rid, &super::now_text())?;
            Ok((200, json!({ "result": {} })))
        },
    )
    .await
}

/// `a=1&b=2&b=3` → pairs, percent-decoded (`+` is a space).
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// Control API
// ---------------------------------------------------------------------------------------

async fn ctl_add_client(AxState(sim): AxState<DeliverySim>, body: Bytes) -> Response {
    match parse_body::<SimClient>(&body) {
        Ok(c) => {
            sim.add_client(c.clone());
            to_json(&c)
        }
        Err(resp) => *resp,
    }
}

async fn ctl_clients(AxState(sim): AxState<DeliverySim>) -> Response {
    to_json(&sim.clients())
}

async fn ctl_add_restaurant(AxState(sim): AxState<DeliverySim>, body: Bytes) -> Response {
    match parse_body::<SimRestaurant>(&body) {
        Ok(r) => {
            sim.add_restaurant(r.clone());
            to_json(&r)
        }
        Err(resp) => *resp,
    }
}

async fn ctl_restaurants(AxState(sim): AxState<DeliverySim>) -> Response {
    to_json(&sim.restaurants())
}

async fn ctl_add_order(AxState(sim): AxState<DeliverySim>, body: Bytes) -> Response {
    match parse_body::<SimOrder>(&body) {
        Ok(o) => to_json(&sim.add_order(o)),
        Err(resp) => *resp,
    }
}

async fn ctl_orders(AxState(sim): AxState<DeliverySim>) -> Response {
    to_json(&sim.orders())
}

async fn ctl_get_order(
    AxState(sim): AxState<DeliverySim>,
    Path(order_id): Path<String>,
) -> Response {
    match sim.order(&order_id) {
        Some(o) => to_json(&o),
        None => control::error(StatusCode::NOT_FOUND, "order not found"),
    }
}

#[derive(serde::Deserialize)]
struct SetStatus {
    status_id: u8,
}

async fn ctl_set_status(
    AxState(sim): AxState<DeliverySim>,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Response {
    let s = match parse_body::<SetStatus>(&body) {
        Ok(s) => s,
        Err(resp) => return *resp,
    };
    if !super::model::status::is_known(s.status_id) {
        return control::error(StatusCode::BAD_REQUEST, "status_id must be one of 1..=13");
    }
    match sim.set_status(&order_id, s.status_id) {
        Some(o) => to_json(&o),
        None => control::error(StatusCode::NOT_FOUND, "order not found"),
    }
}

async fn ctl_requests(AxState(sim): AxState<DeliverySim>) -> Response {
    let (counts, issued) = {
        let st = sim.lock();
        let counts: BTreeMap<String, usize> = st.requests.clone().into_iter().collect();
        (counts, st.tokens_issued)
    };
    ok_json(json!({ "requests": counts, "tokens_issued": issued }))
}

async fn ctl_expire_tokens(AxState(sim): AxState<DeliverySim>) -> Response {
    sim.expire_tokens();
    control::ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs() {
        let p = parse_query("includeStatusIds=4&includeStatusIds=5&q=a+b%2Fc&x");
        assert_eq!(p.len(), 4);
        assert_eq!(p[1], ("includeStatusIds".into(), "5".into()));
        assert_eq!(p[2].1, "a b/c");
        assert_eq!(p[3], ("x".into(), String::new()));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
