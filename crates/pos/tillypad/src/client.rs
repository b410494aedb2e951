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

use posgate_core::Substate;
use posgate_pos_kit::http::{Fate, HttpFailure, HttpPolicy};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::time::Instant;

use crate::classify::{Verdict, classify_text};
use crate::settings::TillypadSettings;
use crate::wire::{Answer, PayGuest, parse_answer};

/// Path appended to `base_url`.
pub const PAY_GUEST_PATH: &str = "/pay-guest";

/// Why `/pay-guest` did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayFailure {
    pub verdict: Verdict,
    /// `HTTP/200` (the status an error text came with), `transport/connect`, ...
    pub code: String,
    /// What Tillypad said, verbatim; or our description of a transport failure.
    pub text: String,
    /// The tab is unknown to Tillypad.
    pub not_found: bool,
    /// The classification row (or transport class), for logs.
    pub rule: &'static str,
}

impl PayFailure {
    fn ours(verdict: Verdict, code: impl Into<String>, text: impl Into<String>) -> Self {
        PayFailure {
            verdict,
            code: code.into(),
            text: text.into(),
            not_found: false,
            rule: "transport",
        }
    }
}

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
        let started = Instant::now();
        let reply = self.exchange(mode, p).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &reply {
            Ok(s) => tracing::info!(
                gest_id = %p.gest_id,
                mode,
                outcome = "applied",
                applied = s.applied_discount_sums.is_some(),
                elapsed_ms,
                "tillypad /pay-guest"
            ),
            Err(f) => tracing::warn!(
                gest_id = %p.gest_id,
                mode,
                outcome = ?f.verdict,
                rule = f.rule,
                code = %f.code,
                text = %f.text,
                elapsed_ms,
                "tillypad /pay-guest failed"
            ),
        }
        reply
    }

    async fn exchange(&self, mode: u8, p: &PayGuest) -> PayReply {
        let body = serde_json::to_vec(&p.body()).map_err(|e| {
            PayFailure::ours(
                Verdict::Rejected(Substate::OtherError),
                "tillypad/serialize",
                e.to_string(),
            )
        })?;
        let url = format!("{}{PAY_GUEST_PATH}?delete-prechecks={mode}", self.base);
        let answer = posgate_pos_kit::send(self.http.post(url).body(body), "Tillypad")
            .await
            .map_err(transport_failure)?;
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
        Answer::Success { .. } => Err(PayFailure::ours(
            Verdict::Unknown,
            code,
            format!(
                "Tillypad answered HTTP {status} with a success body: {}",
                String::from_utf8_lossy(bytes)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ),
        )),
        Answer::Error { text, plain } => {
            let c = classify_text(&text);
            if plain && !c.recognised() {
                // A plain-text body nobody recognises: as unreadable as HTML.
                return Err(unreadable(status, "a plain-text body", &text));
            }
            let shown = if text.trim().is_empty() {
                "(an empty error text)".to_string()
            } else {
                text
            };
            Err(PayFailure {
                verdict: c.verdict,
                code,
                text: shown,
                not_found: c.not_found,
                rule: c.rule,
            })
        }
        Answer::Unreadable { why, snippet } => Err(unreadable(status, &why, &snippet)),
    }
}

fn unreadable(status: u16, why: &str, snippet: &str) -> PayFailure {
    let verdict = match status {
        429 => Verdict::Transient,
        408 => Verdict::Unknown,
        // A refusal of the request itself (bad path, auth at a relay; a 3xx never gets here,
        // the kit refuses it first): it never ran.
        300..=499 => Verdict::Rejected(Substate::OtherError),
        // 2xx / 5xx / anything else: it may have run.
        _ => Verdict::Unknown,
    };
    let shown: String = snippet.chars().take(300).collect();
    PayFailure {
        verdict,
        code: format!("HTTP/{status}"),
        text: if shown.is_empty() {
            format!("unreadable Tillypad answer (HTTP {status}, {why})")
        } else {
            format!("unreadable Tillypad answer (HTTP {status}, {why}): {shown}")
        },
        not_found: false,
        rule: "unreadable",
    }
}

/// A failed exchange (no answer, an unreadable one, a redirect), by the kit's reading.
fn transport_failure(f: HttpFailure) -> PayFailure {
    let verdict = match f.fate {
        Fate::NotSent => Verdict::Transient,
        Fate::Unknown => Verdict::Unknown,
        Fate::Refused => Verdict::Rejected(Substate::OtherError),
    };
    PayFailure {
        rule: if f.location.is_some() {
            "redirect"
        } else {
            "transport"
        },
        ..PayFailure::ours(verdict, f.code, f.text)
    }
}
