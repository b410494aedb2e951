//! What every simulator's control API (`/_sim/<name>/`) and serving have in common, written
//! once: JSON answers and `{"error": ...}` errors, the body parser, the routes whose meaning
//! is the same in all four (the index, `faults` — POST adds, GET lists, DELETE clears —
//! `ledger` and `reset`) over any [`Controlled`] simulator, and the `serve` /
//! `serve_with_shutdown` / `spawn` methods of each handle ([`serving!`]).
//! [`controlled_by_rules!`] implements [`Controlled`] for the three simulators whose faults
//! are rule lists; Expirenza (fault counters) implements it by hand.

use std::future::Future;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A simulator handle, as its control API sees it.
pub(crate) trait Controlled: Clone + Send + Sync + 'static {
    /// `/_sim/<name>`.
    const PREFIX: &'static str;
    /// The body of `POST faults`.
    type Fault: DeserializeOwned + Serialize + Send;
    /// What `GET faults` answers.
    type Faults: Serialize;

    /// `GET /_sim/<name>/` ([`crate::index`]).
    fn index() -> Value;
    /// `POST faults`: adds the rule (or sets the counters).
    fn add_fault(&self, f: Self::Fault);
    fn list_faults(&self) -> Self::Faults;
    fn remove_faults(&self);
    /// `POST reset`.
    fn reset_all(&self);
    /// When a graceful shutdown starts (open sockets would hold it forever).
    fn on_shutdown(&self) {}
}

/// A simulator with a ledger of what it applied (`GET ledger`).
pub(crate) trait Ledgered: Controlled {
    type Entry: Serialize;
    fn ledger_entries(&self) -> Vec<Self::Entry>;
}

pub(crate) fn ok_json(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

/// `{"ok": true}`.
pub(crate) fn ok() -> Response {
    ok_json(json!({ "ok": true }))
}

/// `{"error": msg}` with `status`.
pub(crate) fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Response {
    match serde_json::to_value(v) {
        Ok(v) => ok_json(v),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A control body, or the 400 answer that says why it is not one.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("invalid JSON body: {e}"),
        ))
    })
}

/// The whole router: `api` (the vendor's routes) plus `control` (the simulator's own
/// control routes) with the shared ones added, under [`Controlled::PREFIX`] (the index
/// answers both with and without the trailing `/`).
pub(crate) fn mount<S: Controlled>(api: Router<S>, control: Router<S>, sim: S) -> Router {
    let control = control
        .route("/", get(index::<S>))
        .route(
            "/faults",
            post(add_fault::<S>)
                .get(faults::<S>)
                .delete(clear_faults::<S>),
        )
        .route("/reset", post(reset::<S>));
    api.route(&format!("{}/", S::PREFIX), get(index::<S>))
        .nest(S::PREFIX, control)
        .with_state(sim)
}

/// `GET ledger`.
pub(crate) async fn ledger<S: Ledgered>(State(sim): State<S>) -> Response {
    to_json(&sim.ledger_entries())
}

async fn index<S: Controlled>() -> Response {
    ok_json(S::index())
}

async fn add_fault<S: Controlled>(State(sim): State<S>, body: Bytes) -> Response {
    match parse_body::<S::Fault>(&body) {
        Ok(f) => {
            let answer = to_json(&f);
            sim.add_fault(f);
            answer
        }
        Err(resp) => *resp,
    }
}

async fn faults<S: Controlled>(State(sim): State<S>) -> Response {
    to_json(&sim.list_faults())
}

async fn clear_faults<S: Controlled>(State(sim): State<S>) -> Response {
    sim.remove_faults();
    ok()
}

async fn reset<S: Controlled>(State(sim): State<S>) -> Response {
    sim.reset_all();
    ok()
}

/// Serves `router` on `listener` until `shutdown` completes (graceful), telling `sim` when
/// the shutdown starts.
pub(crate) async fn serve<S: Controlled>(
    sim: S,
    router: Router,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shutdown = async move {
        shutdown.await;
        sim.on_shutdown();
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// [`Controlled`] and [`Ledgered`] for a simulator whose faults are a list of rules
/// (`inject`, `faults`, `clear_faults`) and that keeps a `ledger`: WSA, r_k Delivery,
/// Tillypad.
macro_rules! controlled_by_rules {
    ($sim:ty, prefix: $prefix:expr, index: $index:path, fault: $fault:ty, entry: $entry:ty) => {
        impl $crate::control::Controlled for $sim {
            const PREFIX: &'static str = $prefix;
            type Fault = $fault;
            type Faults = Vec<$fault>;

            fn index() -> serde_json::Value {
                $index()
            }

            fn add_fault(&self, f: $fault) {
                self.inject(f);
            }

            fn list_faults(&self) -> Vec<$fault> {
                self.faults()
            }

            fn remove_faults(&self) {
                self.clear_faults();
            }

            fn reset_all(&self) {
                self.reset();
            }
        }

        impl $crate::control::Ledgered for $sim {
            type Entry = $entry;

            fn ledger_entries(&self) -> Vec<$entry> {
                self.ledger()
            }
        }
    };
}
pub(crate) use controlled_by_rules;

/// `serve`, `serve_with_shutdown` and `spawn` of a [`Controlled`] simulator handle with a
/// `router()`; `$name` names it in the log if it stops with an error.
macro_rules! serving {
    ($name:literal) => {
        /// Serves on `listener` until the process ends.
        pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
            self.serve_with_shutdown(listener, std::future::pending())
                .await
        }

        /// Serves on `listener` until `shutdown` completes (graceful; open sockets, if
        /// any, are dropped when it starts).
        pub async fn serve_with_shutdown(
            self,
            listener: tokio::net::TcpListener,
            shutdown: impl std::future::Future<Output = ()> + Send + 'static,
        ) -> std::io::Result<()> {
            let router = self.router();
            $crate::control::serve(self, router, listener, shutdown).await
        }

        /// Binds `127.0.0.1:0`, serves in a background task, returns the address.
        pub async fn spawn(self) -> std::io::Result<std::net::SocketAddr> {
            $crate::util::spawn_on_loopback($name, move |l| self.serve(l)).await
        }
    };
}
pub(crate) use serving;
