//! HTTP layer: the WSA `Create` endpoint and the `/_sim/wsa/` control API.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tracing::{debug, info, warn};

use super::WsaSim;
use super::engine::{self, Common, TaskError};
use super::model::{Fault, FaultKind, LedgerEntry, SimOrder, SimRestaurant};
use super::state::{State, TaskEntry};
use super::task::{self, AgentTask, GET_TASK_RESPONSE, Mode, Request};
use crate::control::{self, ok_json, parse_body, to_json};

/// Path of the single WSA submit endpoint.
pub const CREATE_PATH: &str = "/wsserverlp/api/v2/aggregators/Create";
/// Prefix of the control API.
pub const CONTROL_PREFIX: &str = "/_sim/wsa";

/// `GET /_sim/wsa/`: this control API, described ([`crate::index`]).
pub fn control_index() -> Value {
    use crate::index::{self as ix, endpoint as ep};
    let faults = FaultKind::examples()
        .into_iter()
        .map(|(k, does)| ix::fault_example(&Fault::new(k).times(1), does))
        .collect();
    ix::index(
        "wsa",
        CONTROL_PREFIX,
        "r_keeper White Server API v2 (POST /wsserverlp/api/v2/aggregators/Create)",
        [
            ep("GET", "", "this index"),
            ep(
                "POST",
                "/restaurants",
                "adds a restaurant (SimRestaurant, shaped as GET /restaurants lists them) → it",
            ),
            ep("GET", "/restaurants", "→ [SimRestaurant]"),
            ep(
                "POST",
                "/orders",
                "adds an order (SimOrder, shaped as GET /orders lists them; guid generated if empty) → it",
            ),
            ep("GET", "/orders", "→ [SimOrder]"),
            ep("GET", "/orders/{object_id}/{guid}", "→ SimOrder or 404"),
        ]
        .into_iter()
        .chain(ix::fault_rule_endpoints())
        .chain([            ep("GET", "/ledger", "→ [LedgerEntry]: what was posted"),
            ep(
                "GET",
                "/requests",
                "→ {\"PayOrder\": 3, ...}: tasks received per type",
            ),
            ep(
                "GET",
                "/in-flight",
                "→ {\"now\": {objectId: n}, \"max\": {objectId: n}}: requests being answered per restaurant now, and the most at once since the start",
            ),
            ep(
                "POST",
                "/reset",
                "back to the initial data; no faults, ledger, tasks or counters → {\"ok\": true}",
            ),
        ])
        .collect(),
        "POST /_sim/wsa/faults with a Fault: object_id / order_guid null = any, task_type null = PayOrder (transport faults) or PayOrder and CompleteOrder (order-state faults), times null = until cleared",
        faults,
    )
}

pub(crate) fn router(sim: WsaSim) -> Router {
    let control = Router::new()
        .route(
            "/restaurants",
            post(ctl_add_restaurant).get(ctl_restaurants),
        )
        .route("/orders", post(ctl_add_order).get(ctl_orders))
        .route("/orders/{object_id}/{guid}", get(ctl_get_order))
        .route("/ledger", get(control::ledger::<WsaSim>))
        .route("/requests", get(ctl_requests))
        .route("/in-flight", get(ctl_in_flight));
    control::mount(Router::new().route(CREATE_PATH, post(create)), control, sim)
}

control::controlled_by_rules!(
    WsaSim,
    prefix: CONTROL_PREFIX,
    index: control_index,
    fault: Fault,
    entry: LedgerEntry
);

fn extract_token(headers: &HeaderMap) -> Option<String> {
    let raw = headers
        .get("AggregatorAuthentication")?
        .to_str()
        .ok()?
        .trim();
    let tok = raw
        .strip_prefix("Token ")
        .or_else(|| raw.strip_prefix("token "))
        .unwrap_or(raw)
        .trim();
    (!tok.is_empty()).then(|| tok.to_string())
}

fn token_known(st: &State, token: Option<&str>) -> bool {
    token.is_some_and(|t| st.restaurants.values().any(|r| r.cfg.token == t))
}

/// Aggregator authentication + agent licence for `object_id`.
fn authorize(st: &State, token: Option<&str>, object_id: i64) -> Result<(), TaskError> {
    let auth_failed = || TaskError::ws("AuthFailed", "Authentication failed");
    let Some(tok) = token else {
        return Err(auth_failed());
    };
    match st.restaurants.get(&object_id) {
        Some(r) if r.cfg.token == tok => Ok(()),
        Some(_) => Err(auth_failed()),
        None if token_known(st, token) => Err(TaskError::license(Some(object_id))),
        None => Err(auth_failed()),
    }
}

/// Counts a request as in flight for its restaurant until it is answered (or dropped).
struct InFlight {
    sim: WsaSim,
    object_id: i64,
}

impl InFlight {
    fn enter(sim: &WsaSim, object_id: i64) -> InFlight {
        let mut st = sim.lock();
        let n = st.in_flight.entry(object_id).or_default();
        *n += 1;
        let n = *n;
        let max = st.max_in_flight.entry(object_id).or_default();
        *max = (*max).max(n);
        InFlight {
            sim: sim.clone(),
            object_id,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut st = self.sim.lock();
        if let Some(n) = st.in_flight.get_mut(&self.object_id) {
            *n = n.saturating_sub(1);
        }
    }
}

async fn create(AxState(sim): AxState<WsaSim>, headers: HeaderMap, body: Bytes) -> Response {
    let task_guid = uuid::Uuid::new_v4().to_string();
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            warn!(error = %e, "WSA request is not JSON");
            let common = Common {
                task_guid,
                task_type: String::new(),
                object_id: None,
                agent_guid: None,
            };
            let env = engine::envelope(&common, &Err(TaskError::bad_request()));
            return (StatusCode::BAD_REQUEST, Json(env)).into_response();
        }
    };
    let task_type = task::task_type_of(&body).unwrap_or_default().to_string();
    let token = extract_token(&headers);
    let mut common = Common {
        task_guid,
        task_type: task_type.clone(),
        object_id: task::object_id_of(&body),
        agent_guid: None,
    };
    let _in_flight = common.object_id.map(|o| InFlight::enter(&sim, o));
    {
        let mut st = sim.lock();
        if !task_type.is_empty() {
            *st.requests.entry(task_type.clone()).or_default() += 1;
        }
        if let Some(tp) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
            if st.traceparents.len() >= super::state::MAX_TRACEPARENTS {
                st.traceparents.pop_front();
            }
            st.traceparents
                .push_back((task_type.clone(), tp.to_string()));
        }
        if !token_known(&st, token.as_deref()) {
            info!(task_type, "WSA task rejected: AuthFailed");
            let err = TaskError::ws("AuthFailed", "Authentication failed");
            return ok_json(engine::envelope(&common, &Err(err)));
        }
    }
    let req = match task::parse(&body) {
        Ok(r) => r,
        Err(task::BadRequest(msg)) => {
            warn!(task_type, %msg, "WSA request rejected: BadRequest");
            return ok_json(engine::envelope(&common, &Err(TaskError::bad_request())));
        }
    };
    // HTTP-level faults: a proxy or a moved server answers before White Server sees the task.
    let (object_id, order_guid) = match &req {
        Request::Agent(t) => (Some(t.object_id), t.kind.order_guid().map(str::to_string)),
        Request::GetTaskResponse { object_id, .. } => (*object_id, None),
    };
    let http_fault = sim.lock().take_fault(
        object_id,
        order_guid.as_deref(),
        &task_type,
        FaultKind::is_http_answer,
    );
    match http_fault {
        Some(FaultKind::Redirect { location }) => return crate::faults::redirect(&location),
        Some(FaultKind::Html { status }) => return crate::faults::html_page(status),
        _ => {}
    }
    match req {
        Request::GetTaskResponse {
            task_guid,
            object_id,
        } => {
            common.object_id = object_id;
            ok_json(get_task_response(
                &sim,
                common,
                token.as_deref(),
                &task_guid,
            ))
        }
        Request::Agent(t) => ok_json(run_agent_task(&sim, common, token.as_deref(), t).await),
    }
}

fn get_task_response(sim: &WsaSim, mut common: Common, token: Option<&str>, wanted: &str) -> Value {
    let mut st = sim.lock();
    let fault = st.take_fault(common.object_id, None, GET_TASK_RESPONSE, |k| {
        matches!(
            k,
            FaultKind::AuthFailed | FaultKind::TaskLimitExceeded | FaultKind::InternalError
        )
    });
    if let Some(err) = fault.as_ref().and_then(transport_error) {
        return engine::envelope(&common, &Err(err));
    }
    let not_found = |common: &Common| {
        engine::envelope(
            common,
            &Err(TaskError::ws(
                "NotFound",
                format!("Task {wanted} not found"),
            )),
        )
    };
    let Some(entry) = st.tasks.get(wanted.trim()) else {
        return not_found(&common);
    };
    if Some(entry.owner_token.as_str()) != token {
        // Only the aggregator that created a task may read its result.
        return not_found(&common);
    }
    if let Some((at, answer)) = &entry.answer
        && !entry.lost
        && *at <= entry.deadline
    {
        return answer.clone();
    }
    if Instant::now() >= entry.deadline {
        return entry.timeout_envelope.clone();
    }
    common.object_id = Some(entry.object_id);
    common.agent_guid.clone_from(&entry.agent_guid);
    engine::envelope(
        &common,
        &Err(TaskError::ws(
            "AwaitingAnswer",
            "The task is being processed by the agent",
        )),
    )
}

fn transport_error(kind: &FaultKind) -> Option<TaskError> {
    match kind {
        FaultKind::AuthFailed => Some(TaskError::ws("AuthFailed", "Authentication failed")),
        FaultKind::TaskLimitExceeded => Some(TaskError::ws(
            "TaskLimitExceeded",
            "Task limit exceeded for the agent, try again later",
        )),
        FaultKind::InternalError => Some(TaskError::ws("InternalError", "Internal server error")),
        _ => None,
    }
}

/// Executes the task against the state and renders the full envelope.
fn exec(sim: &WsaSim, common: &Common, t: &AgentTask) -> Value {
    let mut st = sim.lock();
    let outcome = engine::execute(
        &mut st,
        &common.task_guid,
        &common.task_type,
        t.object_id,
        &t.kind,
    );
    match &outcome {
        Ok(_) => info!(
            task_type = %common.task_type,
            task_guid = %common.task_guid,
            object_id = t.object_id,
            order_guid = t.kind.order_guid().unwrap_or(""),
            "WSA task executed"
        ),
        Err(e) => info!(
            task_type = %common.task_type,
            task_guid = %common.task_guid,
            object_id = t.object_id,
            order_guid = t.kind.order_guid().unwrap_or(""),
            error = ?e,
            "WSA task failed"
        ),
    }
    engine::envelope(common, &outcome)
}

fn set_answer(sim: &WsaSim, task_guid: &str, answer: Value) {
    let mut st = sim.lock();
    if let Some(e) = st.tasks.get_mut(task_guid) {
        e.answer = Some((Instant::now(), answer));
    }
}

async fn run_agent_task(
    sim: &WsaSim,
    mut common: Common,
    token: Option<&str>,
    t: AgentTask,
) -> Value {
    common.object_id = Some(t.object_id);
    let (fault, async_delay) = {
        let mut st = sim.lock();
        if let Err(e) = authorize(&st, token, t.object_id) {
            info!(task_type = %common.task_type, object_id = t.object_id, error = ?e, "WSA task rejected");
            return engine::envelope(&common, &Err(e));
        }
        let (agent_guid, delay) = match st.restaurants.get(&t.object_id) {
            Some(r) => (r.agent_guid.clone(), r.cfg.async_delay_ms),
            None => return engine::envelope(&common, &Err(TaskError::license(Some(t.object_id)))),
        };
        common.agent_guid = Some(agent_guid);
        let fault = st.take_fault(
            Some(t.object_id),
            t.kind.order_guid(),
            &common.task_type,
            |k| !k.is_order_state() && !k.is_http_answer(),
        );
        (fault, Duration::from_millis(delay))
    };
    if let Some(f) = &fault {
        debug!(task_type = %common.task_type, fault = ?f, "WSA transport fault fired");
    }
    if let Some(err) = fault.as_ref().and_then(transport_error) {
        return engine::envelope(&common, &Err(err));
    }
    let timeout = Duration::from_secs(t.timeout_s);
    let timeout_env = engine::envelope(&common, &Err(TaskError::timeout(t.timeout_s)));
    let owner = token.unwrap_or_default().to_string();

    if let Some(FaultKind::StoredWsError(e)) = &fault {
        // The task is taken but never runs: its answer is the error, sync or stored.
        let answer = engine::envelope(&common, &Err(TaskError::stored(*e, t.object_id)));
        let now = Instant::now();
        sim.lock().store_task(
            common.task_guid.clone(),
            TaskEntry {
                owner_token: owner,
                object_id: t.object_id,
                agent_guid: common.agent_guid.clone(),
                created: now,
                deadline: now + timeout,
                answer: Some((now, answer.clone())),
                lost: false,
                timeout_envelope: timeout_env,
            },
        );
        return match t.mode {
            Mode::Sync => answer,
            Mode::Async => engine::ack(&common),
        };
    }

    match t.mode {
        Mode::Sync => {
            let answer = match fault {
                Some(FaultKind::AgentTimeout) => {
                    tokio::time::sleep(timeout).await;
                    timeout_env.clone()
                }
                Some(FaultKind::AnswerLost) => {
                    exec(sim, &common, &t);
                    tokio::time::sleep(timeout).await;
                    timeout_env.clone()
                }
                Some(FaultKind::Slow { delay_ms }) => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let (sim2, common2, t2) = (sim.clone(), common.clone(), t.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                        let _ = tx.send(exec(&sim2, &common2, &t2));
                    });
                    match tokio::time::timeout(timeout, rx).await {
                        Ok(Ok(v)) => v,
                        _ => timeout_env.clone(),
                    }
                }
                _ => exec(sim, &common, &t),
            };
            let now = Instant::now();
            sim.lock().store_task(
                common.task_guid.clone(),
                TaskEntry {
                    owner_token: owner,
                    object_id: t.object_id,
                    agent_guid: common.agent_guid.clone(),
                    created: now,
                    deadline: now,
                    answer: Some((now, answer.clone())),
                    lost: false,
                    timeout_envelope: timeout_env,
                },
            );
            answer
        }
        Mode::Async => {
            let now = Instant::now();
            let lost = matches!(fault, Some(FaultKind::AnswerLost));
            sim.lock().store_task(
                common.task_guid.clone(),
                TaskEntry {
                    owner_token: owner,
                    object_id: t.object_id,
                    agent_guid: common.agent_guid.clone(),
                    created: now,
                    deadline: now + timeout,
                    answer: None,
                    lost,
                    timeout_envelope: timeout_env,
                },
            );
            let exec_after = match fault {
                Some(FaultKind::AgentTimeout) => None,
                Some(FaultKind::AnswerLost) => Some(async_delay.min(timeout)),
                Some(FaultKind::Slow { delay_ms }) => {
                    Some(async_delay.saturating_add(Duration::from_millis(delay_ms)))
                }
                _ => Some(async_delay),
            };
            match exec_after {
                None => {}
                Some(d) if d.is_zero() => {
                    let answer = exec(sim, &common, &t);
                    set_answer(sim, &common.task_guid, answer);
                }
                Some(d) => {
                    let (sim2, common2) = (sim.clone(), common.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep(d).await;
                        let answer = exec(&sim2, &common2, &t);
                        set_answer(&sim2, &common2.task_guid, answer);
                    });
                }
            }
            engine::ack(&common)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Control API
// ---------------------------------------------------------------------------------------

async fn ctl_add_restaurant(AxState(sim): AxState<WsaSim>, body: Bytes) -> Response {
    match parse_body::<SimRestaurant>(&body) {
        Ok(r) => {
            sim.add_restaurant(r.clone());
            to_json(&r)
        }
        Err(resp) => *resp,
    }
}

async fn ctl_restaurants(AxState(sim): AxState<WsaSim>) -> Response {
    to_json(&sim.restaurants())
}

async fn ctl_add_order(AxState(sim): AxState<WsaSim>, body: Bytes) -> Response {
    match parse_body::<SimOrder>(&body) {
        Ok(o) => to_json(&sim.add_order(o)),
        Err(resp) => *resp,
    }
}

async fn ctl_orders(AxState(sim): AxState<WsaSim>) -> Response {
    to_json(&sim.orders())
}

async fn ctl_get_order(
    AxState(sim): AxState<WsaSim>,
    Path((object_id, guid)): Path<(String, String)>,
) -> Response {
    let Ok(object_id) = object_id.parse::<i64>() else {
        return control::error(StatusCode::BAD_REQUEST, "object_id must be an integer");
    };
    match sim.order(object_id, &guid) {
        Some(o) => to_json(&o),
        None => control::error(StatusCode::NOT_FOUND, "order not found"),
    }
}

async fn ctl_requests(AxState(sim): AxState<WsaSim>) -> Response {
    let counts: BTreeMap<String, usize> = sim.lock().requests.clone().into_iter().collect();
    to_json(&counts)
}

/// How hard posgate leans on each restaurant's POS: requests being answered now, and the most
/// at once (a benchmark checks no restaurant saw more than its in-flight limit).
async fn ctl_in_flight(AxState(sim): AxState<WsaSim>) -> Response {
    let st = sim.lock();
    let by_object = |m: &std::collections::HashMap<i64, usize>| -> BTreeMap<String, usize> {
        m.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    to_json(&serde_json::json!({
        "now": by_object(&st.in_flight),
        "max": by_object(&st.max_in_flight),
    }))
}
