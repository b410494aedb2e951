//! HTTP client for the r_k Delivery orders API.
//!
//! Every call carries `Authorization: Bearer <token>` from the restaurant's [`TokenSource`];
//! a 401 drops the token and the call is made once more with a new one (a 401 means the
//! request was refused before anything ran, so repeating even a `/pay` is safe). Every
//! outcome is reduced to the answer's JSON or a [`Failure`] classified by [`crate::classify`].
//!
//! Logged: the call, the order id, the HTTP status, r_k Delivery's `requestId`, the outcome and
//! the elapsed time. Never the token or the client secret.

use std::time::Duration;

use posgate_pos_kit::answers::read_json;
use posgate_pos_kit::http::HttpPolicy;
use posgate_pos_kit::lenient::ErrorBody;
use posgate_pos_kit::logged;
use posgate_pos_kit::oauth::{ClientCredentials, TokenSource, token_url};
use posgate_rkeeper::Verdict;
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

use crate::classify::{Failure, Op, ROWS};
use crate::settings::DeliverySettings;
use crate::wire::{Order, PayLine, field, orders_of_search, pay_body};

/// Orders collection path; one order is `{ORDERS_PATH}/{orderId}`.
pub const ORDERS_PATH: &str = "/orders/api/v1/orders";
/// Path of the token endpoint on the auth server.
pub const TOKEN_PATH: &str = "/connect/token";
const PEER: &str = "r_k Delivery";

/// A successful answer: its JSON body and r_k Delivery's `requestId` (`x-request-id`).
pub use posgate_pos_kit::answers::JsonAnswer as Answer;

/// An HTTP client (the kit's policy; also the token client's): pooled connections, a connect
/// timeout, no redirects, no overall timeout (each request sets its own), trusting `ca_pem`
/// beside the public roots.
pub fn http_client(ca_pem: Option<&str>) -> Result<reqwest::Client, reqwest::Error> {
    HttpPolicy::new("delivery")
        .header(ACCEPT, "application/json")
        .trust_pem(ca_pem)
        .build()
}

/// An r_k Delivery client for one restaurant, with its token cache.
#[derive(Debug)]
pub struct DeliveryClient {
    http: reqwest::Client,
    base: String,
    auth: TokenSource,
    read_timeout: Duration,
    write_timeout: Duration,
}

impl DeliveryClient {
    pub fn new(http: reqwest::Client, r: &DeliverySettings) -> Self {
        let read_timeout = Duration::from_millis(r.read_timeout_ms.max(1));
        let creds = ClientCredentials {
            token_url: token_url(&r.auth_url, TOKEN_PATH),
            client_id: r.client_id.clone(),
            client_secret: r.client_secret.clone(),
            scopes: ("scopes", r.scopes.clone()),
        };
        let auth = TokenSource::new(
            http.clone(),
            creds,
            read_timeout,
            "the r_k Delivery auth server",
        );
        DeliveryClient {
            http,
            base: r.base_url.trim().trim_end_matches('/').to_string(),
            auth,
            read_timeout,
            write_timeout: Duration::from_millis(r.write_timeout_ms.max(1)),
        }
    }

    /// `GET /orders/{orderId}`.
    pub async fn get_order(&self, order_id: &str) -> Result<(Order, Option<String>), Failure> {
        let path = format!("{ORDERS_PATH}/{order_id}");
        let a = self.call(Op::Read, &path, &[], None, "get order").await?;
        match Order::from_answer(&a.value) {
            Some(o) => Ok((o, a.request_id)),
            None => Err(unreadable(
                "delivery/unreadable_order",
                "the answer to GET order has no readable order",
                a,
            )),
        }
    }

    /// `GET /orders?...`: the raw order objects found.
    pub async fn search(&self, query: &[(String, String)]) -> Result<Vec<Value>, Failure> {
        let a = self
            .call(Op::Read, ORDERS_PATH, query, None, "search orders")
            .await?;
        match orders_of_search(&a.value) {
            Some(rows) => Ok(rows),
            None => Err(unreadable(
                "delivery/unreadable_search",
                "the answer to the order search has no list of orders",
                a,
            )),
        }
    }

    /// `PUT /orders/{orderId}/pay`; the `requestId` of the exchange when known.
    pub async fn pay(&self, order_id: &str, lines: &[PayLine]) -> Result<Option<String>, Failure> {
        let body =
            pay_body(lines).map_err(|e| Failure::unsendable("adapter/serialize", e.to_string()))?;
        let path = format!("{ORDERS_PATH}/{order_id}/pay");
        let a = self.call(Op::Write, &path, &[], Some(body), "pay").await?;
        Ok(a.request_id)
    }

    /// `PUT /orders/{orderId}/complete`; the `requestId` of the exchange when known.
    pub async fn complete(&self, order_id: &str) -> Result<Option<String>, Failure> {
        let path = format!("{ORDERS_PATH}/{order_id}/complete");
        let a = self.call(Op::Write, &path, &[], None, "complete").await?;
        Ok(a.request_id)
    }

    /// One exchange, logged: a read is a `GET`, a write a `PUT`.
    async fn call(
        &self,
        op: Op,
        path: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
        what: &'static str,
    ) -> Result<Answer, Failure> {
        let exchange = self.exchange(op, path, query, body);
        logged(PEER, what, path, |a| a.request_id.as_deref(), exchange).await
    }

    async fn exchange(
        &self,
        op: Op,
        path: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, Failure> {
        let url = format!("{}{path}", self.base);
        let (method, timeout) = match op {
            Op::Read => (Method::GET, self.read_timeout),
            Op::Write => (Method::PUT, self.write_timeout),
        };
        let request = |bearer| {
            let rb = self
                .http
                .request(method.clone(), &url)
                .header(AUTHORIZATION, bearer)
                .timeout(timeout)
                .query(query);
            match &body {
                Some(b) => rb
                    .header(CONTENT_TYPE, "application/json; charset=utf-8")
                    .body(b.clone()),
                None => rb.body(Vec::new()),
            }
        };
        // A 401 gets a new token and the same request once more (the kit's OAuth2 source).
        let answer = self.auth.send(PEER, op, request).await?;
        read_json(&answer, ROWS, op, PEER, error_in_ok).map_err(|f| match answer.status.as_u16() {
            401 => Failure {
                text: format!(
                    "r_k Delivery refused a freshly issued token (HTTP 401); check the client's scopes and rights. {}",
                    f.text
                ),
                ..f
            },
            _ => f,
        })
    }
}

/// A 2xx answer without what was asked for: passing (nothing changed), its `requestId` kept.
fn unreadable(code: &str, text: &str, a: Answer) -> Failure {
    Failure::ours(Verdict::Transient, code, text).with_request_id(a.request_id)
}

/// An error inside a 2xx answer: a body with both a code and a message and no `result` (an
/// order object never looks like that).
fn error_in_ok(v: &Value) -> Option<ErrorBody> {
    if field(v, "result").is_some() {
        return None;
    }
    ErrorBody::from_value(v).filter(|e| e.code.is_some() && e.msg.is_some())
}
