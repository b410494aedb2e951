//! Posting answers to Expirenza: `POST <base>/callback/<operation>` with `restoId`,
//! `signature` = Base64(HMAC-SHA256(secretKey, exact body bytes)) and
//! `Content-Type: application/json`.
//!
//! 2xx is delivered. 4xx (Expirenza refused the body: signature, schema, rID) is logged with
//! Expirenza's `{errCode, errText, errTitle, errType, fieldErrors}` and not resent: the same
//! bytes would be refused again. 5xx and transport errors are resent, the same bytes, with
//! jittered backoff, until the operation's window (80 s from its arrival) runs out.

use std::time::Duration;

use posgate_core::{RetryPolicy, Secret};
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::wire::{ErrorBody, sign};

/// What became of one callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// 2xx after `attempts` POSTs.
    Delivered { attempts: u32 },
    /// 4xx: refused; not resent.
    Rejected { status: u16, error: String },
    /// 5xx/transport errors until the window closed.
    GaveUp { attempts: u32, last_error: String },
}

/// Sends one restaurant's callbacks.
#[derive(Clone)]
pub struct CallbackClient {
    http: reqwest::Client,
    base: String,
    resto_id: String,
    secret: Secret,
    system_name: String,
    timeout: Duration,
    retry: RetryPolicy,
}

impl CallbackClient {
    pub fn new(
        http: reqwest::Client,
        base: &str,
        resto_id: &str,
        secret: Secret,
        system_name: &str,
        timeout_ms: u64,
        retry_initial_ms: u64,
    ) -> Self {
        CallbackClient {
            http,
            base: base.trim().trim_end_matches('/').to_string(),
            resto_id: resto_id.to_string(),
            secret,
            system_name: system_name.trim().to_string(),
            timeout: Duration::from_millis(timeout_ms.max(100)),
            retry: RetryPolicy {
                initial_ms: retry_initial_ms.max(1),
                multiplier_pct: 200,
                max_delay_ms: 5_000,
                max_attempts: u32::MAX,
                jitter_pct: 20,
            },
        }
    }

    pub fn url(&self, operation: &str) -> String {
        format!("{}/callback/{operation}", self.base)
    }

    /// Posts `body` (already serialised: these exact bytes are signed and sent) and resends
    /// on 5xx/transport errors until `window_end`.
    pub async fn deliver(
        &self,
        operation: &str,
        rid: &str,
        body: &[u8],
        window_end: Instant,
    ) -> Delivery {
        let url = self.url(operation);
        let signature = sign(self.secret.expose(), body);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let remaining = window_end.saturating_duration_since(Instant::now());
            let mut req = self
                .http
                .post(&url)
                .header("Content-Type", "application/json")
                .header("restoId", &self.resto_id)
                .header("signature", &signature)
                .timeout(self.timeout.min(remaining.max(Duration::from_millis(100))))
                .body(body.to_vec());
            if !self.system_name.is_empty() {
                req = req.header("cookie", format!("system={}", self.system_name));
            }
            debug!(operation, rid, attempt = attempts, body = %String::from_utf8_lossy(body), "posting callback");
            let last_error = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let text = resp.bytes().await.unwrap_or_default();
                    if (200..300).contains(&status) {
                        info!(operation, rid, attempts, "callback delivered");
                        return Delivery::Delivered { attempts };
                    }
                    let detail = ErrorBody::parse(&text)
                        .map(|e| e.summary())
                        .unwrap_or_else(|| truncate(&String::from_utf8_lossy(&text), 500));
                    if (400..500).contains(&status) {
                        error!(
                            operation,
                            rid,
                            status,
                            error = %detail,
                            "Expirenza refused the callback; not resending the same body"
                        );
                        return Delivery::Rejected {
                            status,
                            error: detail,
                        };
                    }
                    format!("HTTP {status}: {detail}")
                }
                Err(e) => format!("transport error: {e}"),
            };
            let delay = self
                .retry
                .delay(attempts, rand::random_range(0..=1_000_000u32));
            if Instant::now() + delay >= window_end {
                error!(
                    operation,
                    rid,
                    attempts,
                    error = %last_error,
                    "callback not delivered within Expirenza's window; giving up"
                );
                return Delivery::GaveUp {
                    attempts,
                    last_error,
                };
            }
            warn!(operation, rid, attempts, error = %last_error, retry_in_ms = delay.as_millis() as u64, "callback failed; resending");
            tokio::time::sleep(delay).await;
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
