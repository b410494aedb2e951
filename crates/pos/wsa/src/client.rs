//! HTTP client for White Server API v2: one POST endpoint, the task chosen by `taskType`.
//!
//! Async mode submits the task (`params.async`) and polls `GetTaskResponse` (sync) — soon at
//! first, then backing off to every `poll_interval_ms` ([`poll_wait`]) — while the answer is
//! `AwaitingAnswer`, until `task_timeout_s` plus a
//! margin; or, for a posting whose caller follows it itself ([`WsaClient::run_or_submit`]),
//! polls only for a short while and leaves it running, and each later check is one
//! [`WsaClient::look`]. Sync mode makes one call (`params.sync`) with an HTTP timeout of
//! `task_timeout_s` plus the margin.
//!
//! Every outcome is reduced to a [`TaskReply`]: the `taskResponse`, or a [`TaskFailure`] with a
//! [`Verdict`] (refused / unknown / transient), the POS code and text verbatim. HTTP follows the
//! one policy of [`posgate_pos_kit::http`]: transport failures before the request left
//! (connection refused, DNS, TLS) are transient; after it left (timeout, reset, unreadable
//! answer) the outcome is unknown; a redirect is never followed (the token would go with it) and
//! is refused `OTHER_ERROR` with its `Location`: nothing was booked, fix `base_url`.
//!
//! While polling, an answer that names our task (same `taskGuid` and `taskType`) is the task's
//! stored answer and is classified exactly like the same answer in sync mode, whatever its
//! error; an answer about another task, or a poll-level refusal we cannot tell apart from one,
//! leaves the task's outcome unknown ("its result cannot be read").
//!
//! Logged: task type, taskGuid, object id, outcome, elapsed. Never the token or a card code.

use std::time::Duration;

use posgate_pos_kit::http::HttpPolicy;
use posgate_pos_kit::{Failure, log_call};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use tokio::time::Instant;

use crate::classify::Verdict;
use crate::settings::{TaskMode, WsaSettings};
use crate::wire::{
    About, Envelope, GetTaskResponseParams, ModeKey, TaskParams, WsaError, task_body,
};
use posgate_core::Secret;

/// Path appended to `base_url`.
pub const CREATE_PATH: &str = "/wsserverlp/api/v2/aggregators/Create";
const AUTH_HEADER: &str = "AggregatorAuthentication";
/// The peer, as failure texts name it.
const PEER: &str = "White Server";
/// Upper bound on `timeout_margin_ms` (10 minutes).
const MAX_MARGIN_MS: u64 = 600_000;

/// Why a task did not produce a `taskResponse`: the kit's failure (code
/// `AgentError/WsaOrderError`, `Timeout`, `transport/connect`, `HTTP/502`, ...).
pub type TaskFailure = Failure;

impl From<WsaError> for Failure {
    /// A WSA error branch, classified; the POS's code and text verbatim.
    fn from(e: WsaError) -> Failure {
        let code = e.pos_code();
        let mut text = e.text();
        if text.is_empty() {
            text = format!("WSA {code} (no description)");
        }
        Failure {
            not_found: e.is_not_found(),
            rule: "wsa",
            ..Failure::ours(e.verdict(), code, text)
        }
    }
}

pub use posgate_core::pos::{FIRST_POLL, poll_wait};

/// A task submitted in async mode.
#[derive(Debug)]
pub enum Submitted {
    /// The acknowledgement already decides it (an error, or an immediate answer).
    Answered(TaskReply),
    /// The task runs; its `taskGuid`.
    Running(String),
}

/// One look at a submitted task.
#[derive(Debug)]
pub enum Look {
    /// Its answer: the `taskResponse`, or the failure (unknown when it cannot be read).
    Answered(Result<Value, TaskFailure>),
    /// Not answered yet (or the look itself failed for a passing reason): what was said.
    Running(String),
}

/// The result of one task.
#[derive(Debug, Clone)]
pub struct TaskReply {
    /// The task's `taskGuid`, whenever the server told it.
    pub task_guid: Option<String>,
    pub result: Result<Value, TaskFailure>,
}

/// A WSA client for one restaurant. Cheap to clone; shares the adapter's HTTP connection pool.
/// Its `Debug` shows the token redacted (a [`Secret`]).
#[derive(Clone, Debug)]
pub struct WsaClient {
    http: reqwest::Client,
    url: String,
    token: Secret,
    object_id: i64,
    mode: TaskMode,
    task_timeout_s: u64,
    margin: Duration,
    poll_interval: Duration,
}

/// An HTTP client (the kit's policy): pooled connections, a connect timeout, no redirects, no
/// overall timeout (each request sets its own), trusting `ca_pem` beside the public roots.
pub fn http_client(ca_pem: Option<&str>) -> Result<reqwest::Client, reqwest::Error> {
    HttpPolicy::new("wsa")
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .trust_pem(ca_pem)
        .build()
}

impl WsaClient {
    pub fn new(http: reqwest::Client, r: &WsaSettings) -> Self {
        WsaClient {
            http,
            url: format!("{}{CREATE_PATH}", r.base_url.trim().trim_end_matches('/')),
            token: r.token.clone(),
            object_id: r.object_id,
            mode: r.mode,
            task_timeout_s: r.effective_task_timeout_s(),
            margin: Duration::from_millis(r.timeout_margin_ms.min(MAX_MARGIN_MS)),
            poll_interval: Duration::from_millis(r.poll_interval_ms.max(1)),
        }
    }

    pub fn object_id(&self) -> i64 {
        self.object_id
    }

    /// How long the adapter waits for one task overall.
    pub fn task_deadline(&self) -> Duration {
        Duration::from_secs(self.task_timeout_s) + self.margin
    }

    /// Runs a task in the configured mode; reads ([`TaskParams::READ`]) always in sync mode.
    pub async fn run<P: TaskParams>(&self, params: &P) -> TaskReply {
        let started = Instant::now();
        let reply = match self.mode {
            TaskMode::Async if !P::READ => self.run_async(params).await,
            TaskMode::Sync | TaskMode::Async => self.run_sync(params).await,
        };
        let about = format!("object {}", self.object_id);
        let failure = reply.result.as_ref().err();
        log_call(
            PEER,
            P::TASK_TYPE,
            &about,
            reply.task_guid.as_deref(),
            started,
            failure,
        );
        reply
    }

    /// Runs a write task like [`WsaClient::run`], except that in async mode it waits for the
    /// answer for `inline` at most: a task still running then is left running
    /// ([`Submitted::Running`]) for the caller to [`WsaClient::look`] at later.
    pub async fn run_or_submit<P: TaskParams>(&self, params: &P, inline: Duration) -> Submitted {
        if self.mode == TaskMode::Sync || P::READ {
            return Submitted::Answered(self.run(params).await);
        }
        let started = Instant::now();
        let submitted = match self.submit(params).await {
            Submitted::Running(guid) => {
                let until = started + inline;
                match self.poll_until(&guid, P::TASK_TYPE, started, until).await {
                    Look::Answered(result) => Submitted::Answered(TaskReply {
                        task_guid: Some(guid),
                        result,
                    }),
                    Look::Running(_) => Submitted::Running(guid),
                }
            }
            answered => answered,
        };
        let about = format!("object {}", self.object_id);
        let (guid, failure) = match &submitted {
            Submitted::Answered(r) => (r.task_guid.as_deref(), r.result.as_ref().err()),
            Submitted::Running(guid) => (Some(guid.as_str()), None),
        };
        log_call(PEER, P::TASK_TYPE, &about, guid, started, failure);
        submitted
    }

    /// One `GetTaskResponse` call (no polling): the stored answer of `task_guid`, or
    /// `AwaitingAnswer` / `NotFound` / a transport failure.
    pub async fn get_task_response(&self, task_guid: &str) -> Result<Envelope, TaskFailure> {
        let started = Instant::now();
        let params = GetTaskResponseParams {
            task_guid: task_guid.to_string(),
        };
        let res = self
            .call(&params, ModeKey::Sync, self.task_deadline())
            .await;
        let about = format!(
            "object {} ({})",
            self.object_id,
            match &res {
                Ok(env) if env.task_response.is_some() => "answered".to_string(),
                Ok(env) => env
                    .error
                    .as_ref()
                    .map_or("empty".to_string(), WsaError::pos_code),
                Err(_) => "failed".to_string(),
            }
        );
        let task = GetTaskResponseParams::TASK_TYPE;
        log_call(
            PEER,
            task,
            &about,
            Some(task_guid),
            started,
            res.as_ref().err(),
        );
        res
    }

    async fn run_sync<P: TaskParams>(&self, params: &P) -> TaskReply {
        match self.call(params, ModeKey::Sync, self.task_deadline()).await {
            Err(f) => TaskReply {
                task_guid: None,
                result: Err(f),
            },
            Ok(env) => TaskReply {
                task_guid: env.task_guid.clone(),
                result: interpret(env),
            },
        }
    }

    async fn run_async<P: TaskParams>(&self, params: &P) -> TaskReply {
        let deadline = Instant::now() + self.task_deadline();
        match self.submit(params).await {
            Submitted::Answered(reply) => reply,
            Submitted::Running(guid) => {
                let result = self.poll(&guid, P::TASK_TYPE, deadline).await;
                TaskReply {
                    task_guid: Some(guid),
                    result,
                }
            }
        }
    }

    /// Submits a task in async mode: its answer when the acknowledgement carries one (an error:
    /// auth, licence, limits; or an immediate answer), else the `taskGuid` of the running task.
    pub async fn submit<P: TaskParams>(&self, params: &P) -> Submitted {
        let ack = match self
            .call(params, ModeKey::Async, self.task_deadline())
            .await
        {
            Err(f) => {
                return Submitted::Answered(TaskReply {
                    task_guid: None,
                    result: Err(f),
                });
            }
            Ok(env) => env,
        };
        let task_guid = ack.task_guid.clone();
        if ack.error.is_some() || ack.task_response.is_some() {
            return Submitted::Answered(TaskReply {
                task_guid,
                result: interpret(ack),
            });
        }
        match task_guid {
            Some(guid) => {
                tracing::debug!(task = P::TASK_TYPE, task_guid = %guid, "wsa task submitted");
                Submitted::Running(guid)
            }
            None => Submitted::Answered(TaskReply {
                task_guid: None,
                result: Err(TaskFailure::ours(
                    Verdict::Unknown,
                    "WSA/NoTaskGuid",
                    "the task was accepted without a taskGuid; its result cannot be fetched",
                )),
            }),
        }
    }

    /// The longest wait between two looks at a running task (`poll_interval_ms`).
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    /// Polls `GetTaskResponse` until the task's answer or the deadline.
    async fn poll(
        &self,
        guid: &str,
        task_type: &str,
        deadline: Instant,
    ) -> Result<Value, TaskFailure> {
        match self
            .poll_until(guid, task_type, Instant::now(), deadline)
            .await
        {
            Look::Answered(result) => result,
            Look::Running(last) => Err(TaskFailure::ours(
                Verdict::Unknown,
                "AwaitingAnswer",
                format!(
                    "WSA gave no answer for task {guid} within {} s (last: {last})",
                    self.task_deadline().as_secs()
                ),
            )),
        }
    }

    /// Looks at the task submitted at `submitted` — soon, then backing off ([`poll_wait`]) —
    /// until it answers or `until` (the last look at `until`): its answer, or what was last said.
    pub async fn poll_until(
        &self,
        guid: &str,
        task_type: &str,
        submitted: Instant,
        until: Instant,
    ) -> Look {
        let mut last = String::from("AwaitingAnswer");
        loop {
            let now = Instant::now();
            if now >= until {
                return Look::Running(last);
            }
            let wait = poll_wait(now - submitted, self.poll_interval);
            tokio::time::sleep(wait.min(until - now)).await;
            let remaining = until.saturating_duration_since(Instant::now());
            match self
                .look(guid, task_type, remaining.max(Duration::from_secs(1)))
                .await
            {
                Look::Answered(result) => return Look::Answered(result),
                Look::Running(said) => last = said,
            }
        }
    }

    /// One look at a submitted task (`GetTaskResponse`): its answer (classified as the same
    /// answer to a sync task; an answer that cannot be read is an unknown outcome), or what
    /// the server said while it runs. One look is what posgate's engine makes each time it
    /// checks a posting answered "pending"; [`WsaClient::poll`] makes them in a loop.
    pub async fn look(&self, guid: &str, task_type: &str, timeout: Duration) -> Look {
        let params = GetTaskResponseParams {
            task_guid: guid.to_string(),
        };
        let env = match self.call(&params, ModeKey::Sync, timeout).await {
            Ok(env) => env,
            // A redirect (or a request we cannot build) will not go away by polling.
            Err(f) if f.is_refusal() => {
                return Look::Answered(Err(cannot_read(guid, f.code, &f.text)));
            }
            // The poll failed, not the task: look again.
            Err(f) => return Look::Running(format!("{}: {}", f.code, f.text)),
        };
        match poll_step(&env, guid, task_type) {
            PollStep::Answer => Look::Answered(interpret(env)),
            PollStep::Again => Look::Running(env.error.as_ref().map_or_else(
                || "an answer with neither taskResponse nor error".into(),
                |e| format!("{}: {}", e.pos_code(), e.text()),
            )),
            PollStep::CannotRead => {
                let err = env.error.as_ref();
                let whose = (env.about(guid, task_type) == About::Other).then(|| {
                    format!(
                        "the answer is about task {} ({}), not this one",
                        env.task_guid.as_deref().unwrap_or("?"),
                        env.task_type.as_deref().unwrap_or("?")
                    )
                });
                // The POS's own code and text, verbatim, whenever it gave them.
                let (code, said) = match err {
                    Some(e) => (e.pos_code(), Some(e.text())),
                    None => ("WSA/OtherTask".to_string(), None),
                };
                let text = [whose, said]
                    .into_iter()
                    .flatten()
                    .filter(|t| !t.is_empty())
                    .collect::<Vec<_>>()
                    .join(": ");
                Look::Answered(Err(cannot_read(guid, code, &text)))
            }
        }
    }

    /// One HTTP exchange: sends the body, reads and parses the answer.
    async fn call<P: TaskParams>(
        &self,
        params: &P,
        mode: ModeKey,
        timeout: Duration,
    ) -> Result<Envelope, TaskFailure> {
        let unsendable =
            |e: serde_json::Error| Failure::unsendable("adapter/serialize", e.to_string());
        // The JSON tree is a temporary: only its bytes are held while the POS answers.
        let body = serde_json::to_vec(
            &task_body(params, mode, self.object_id, self.task_timeout_s).map_err(unsendable)?,
        )
        .map_err(unsendable)?;
        let mut token = HeaderValue::from_str(self.token.expose()).map_err(|_| {
            Failure::unsendable(
                "adapter/token",
                "the configured token is not a valid HTTP header value",
            )
        })?;
        token.set_sensitive(true);
        let rb = self
            .http
            .post(&self.url)
            .header(AUTH_HEADER, token)
            .timeout(timeout)
            .body(body);
        let answer = posgate_pos_kit::send(rb, PEER)
            .await
            .map_err(Failure::transport)?;
        Envelope::parse(&answer.body).map_err(|e| {
            let body = String::from_utf8_lossy(&answer.body);
            Failure::unreadable("WSA", answer.status.as_u16(), &e.to_string(), &body)
        })
    }
}

/// A taskResponse is success; an error is classified; neither is an unknown outcome.
fn interpret(env: Envelope) -> Result<Value, TaskFailure> {
    if let Some(e) = env.error {
        return Err(e.into());
    }
    env.task_response.ok_or_else(|| {
        TaskFailure::ours(
            Verdict::Unknown,
            "WSA/NoResult",
            "the answer carried neither taskResponse nor error",
        )
    })
}

/// What one `GetTaskResponse` answer means while polling for task `guid` of `task_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PollStep {
    /// The task's own answer: classified like the same answer to a sync task.
    Answer,
    /// Not stored yet, or the poll itself failed for a passing reason: poll again.
    Again,
    /// We cannot read the task's result: its outcome stays unknown.
    CannotRead,
}

/// wsError codes (normalised) that, without an agent part, are about the poll itself and
/// pass: the result is not stored yet (`NotFound`), or the server is busy.
const POLL_AGAIN: &[&str] = &[
    "awaitinganswer",
    "notfound",
    "tasklimitexceeded",
    "internalerror",
];
/// wsError codes that, in an answer that does not name our task, refuse the poll itself:
/// we cannot read results at all.
const POLL_REFUSED: &[&str] = &["authfailed", "license", "badrequest", "wsagentnotselected"];

fn poll_step(env: &Envelope, guid: &str, task_type: &str) -> PollStep {
    let about = env.about(guid, task_type);
    let err = env.error.as_ref();
    let code = err.map(WsaError::ws_code_norm).unwrap_or_default();
    let ws_only = err.is_some_and(|e| !e.has_agent_part());
    if err.is_some_and(WsaError::is_awaiting_answer) {
        return PollStep::Again;
    }
    match about {
        // The stored answer of our task, whatever it carries (a licence or auth error
        // included): exactly what the same answer means in sync mode.
        About::Ours if env.task_response.is_some() || err.is_some() => PollStep::Answer,
        _ if ws_only && POLL_AGAIN.contains(&code.as_str()) => PollStep::Again,
        About::Other => PollStep::CannotRead,
        _ if ws_only && POLL_REFUSED.contains(&code.as_str()) => PollStep::CannotRead,
        // Nothing says whose answer it is: a taskResponse, an agent error, a timeout are
        // the task's (a poll has no such answers of its own).
        _ if env.task_response.is_some() || err.is_some() => PollStep::Answer,
        _ => PollStep::Again,
    }
}

/// The task was submitted but its result cannot be read.
fn cannot_read(guid: &str, code: String, why: &str) -> TaskFailure {
    let text = format!("task {guid} was submitted but its result cannot be read: {why}");
    Failure::ours(Verdict::Unknown, code, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpret_without_result_or_error_is_unknown() {
        let f = interpret(Envelope::default()).unwrap_err();
        assert_eq!(f.verdict, Verdict::Unknown);
    }
}
