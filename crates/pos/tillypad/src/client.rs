//! HTTP client for Tillypad's `POST /pay-guest`.
//!
//! Every exchange is reduced to a [`PayReply`]: the success lists, or a [`PayFailure`] with a
//! [`Verdict`] (refused / unknown / not applied), a code and the text verbatim.
//!
//! * Transport, as [`posgate_pos_kit::http`] reads it: a failed or timed-out **connect** means
//!   nothing was sent → not applied. Anything after the request left (timeout, reset, a body
//!   that cannot be read) → unknown. Each `/pay-guest` uses a fresh connection (no pooling): a
//!   pooled connection the server has just closed would turn into an ambiguous "connection
//!   closed" after sending, where a fresh one fails cleanly at connect.
//! * The HTTP status is not documented, so it does not decide alone: an error string is an
//!   error whatever the status; the success object counts only with a 2xx.
//! * Bodies we cannot read: with a 2xx or 5xx the request may have been applied → unknown;
//!   a 4xx (but 408/429) is a refusal of the request itself → rejected `OTHER_ERROR`;
//!   429 → not applied. A plain-text body that a specific classification row recognises is
//!   taken as that refusal.
//! * Redirects are never followed (a 307/308 would re-send the payment elsewhere): the kit
//!   refuses a 3xx, rejected `OTHER_ERROR` with its `Location`, so that someone fixes `base_url`.
//!
//! Logged: restaurant-independent call facts (gest_ID, mode, status, outcome, elapsed).

use std::time::Duration;

use posgate_pos_kit::http::HttpPolicy;
use posgate_pos_kit::{Failure, logged};
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use crate::classify::{Verdict, classify_text};
use crate::settings::TillypadSettings;
use crate::wire::{Answer, PayGuest, decode, parse_answer};
use posgate_pos_kit::lenient::snippet;

/// Path appended to `base_url`.
pub const PAY_GUEST_PATH: &str = "/pay-guest";
/// The peer, as failure texts and logs name it.
const PEER: &str = "Tillypad";

/// Why `/pay-guest` did not succeed: the kit's failure, its `rule` the classification row (or
/// `transport`, `redirect`, `unreadable`).
pub type PayFailure = Failure;

/// A successful `/pay-guest`: the lists as received (`None`: absent).
#[derive(Debug, Clone, PartialEq)]
pub struct PaySuccess {
    pub discount_sums: Option<serde_json::Value>,
    pub applied_discount_sums: Option<serde_json::Value>,
}

pub type PayReply = Result<PaySuccess, PayFailure>;

/// A Tillypad client for one restaurant.
#[derive(Clone, Debug)]
pub struct TillypadClient {
    http: reqwest::Client,
    base: String,
}

impl TillypadClient {
    /// The client of a restaurant's checked settings, on the kit's policy: JSON headers, its
    /// connect and request timeouts and CA bundle, no redirects, no connection reuse (see the
    /// module docs).
    pub fn new(r: &TillypadSettings) -> Result<Self, String> {
        let http = HttpPolicy::new("tillypad")
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .header(ACCEPT, "application/json")
            .connect_timeout(Duration::from_millis(r.connect_timeout_ms))
            .request_timeout(Duration::from_millis(r.request_timeout_ms))
            .fresh_connections()
            .trust_pem(r.ca_pem.as_deref())
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(TillypadClient {
            http,
            base: r.base_url.trim().trim_end_matches('/').to_string(),
        })
    }

    /// `POST /pay-guest?delete-prechecks=<mode>` with the body of `p`.
    pub async fn pay_guest(&self, mode: u8, p: &PayGuest) -> PayReply {
        let about = format!("gest_ID {} delete-prechecks={mode}", p.gest_id);
        let exchange = self.exchange(mode, p);
        logged(PEER, PAY_GUEST_PATH, &about, |_| None, exchange).await
    }

    async fn exchange(&self, mode: u8, p: &PayGuest) -> PayReply {
        let body = serde_json::to_vec(&p.body())
            .map_err(|e| Failure::unsendable("tillypad/serialize", e.to_string()))?;
        let url = format!("{}{PAY_GUEST_PATH}?delete-prechecks={mode}", self.base);
        let answer = posgate_pos_kit::send(self.http.post(url).body(body), PEER)
            .await
            .map_err(Failure::transport)?;
        interpret(answer.status.as_u16(), &answer.body)
    }
}

/// Decides a `/pay-guest` outcome from the HTTP status and the body.
pub fn interpret(status: u16, bytes: &[u8]) -> PayReply {
    let ok = (200..300).contains(&status);
    let code = format!("HTTP/{status}");
    match parse_answer(bytes) {
        Answer::Success {
            discount_sums,
            applied_discount_sums,
        } if ok => Ok(PaySuccess {
            discount_sums,
            applied_discount_sums,
        }),
        Answer::Success { .. } => Err(Failure::ours(
            Verdict::Unknown,
            code,
            format!(
                "Tillypad answered HTTP {status} with a success body: {}",
                snippet(&decode(bytes))
            ),
        )),
        Answer::Error { text, plain } => {
            let c = classify_text(&text);
            if plain && !c.recognised() {
                // A plain-text body nobody recognises: as unreadable as HTML.
                return Err(Failure::unreadable(
                    PEER,
                    status,
                    "a plain-text body",
                    &text,
                ));
            }
            let shown = if text.trim().is_empty() {
                "(an empty error text)".to_string()
            } else {
                text
            };
            Err(Failure {
                not_found: c.not_found,
                rule: c.rule,
                ..Failure::ours(c.verdict, code, shown)
            })
        }
        Answer::Unreadable { why, snippet } => {
            Err(Failure::unreadable(PEER, status, &why, &snippet))
        }
    }
}
