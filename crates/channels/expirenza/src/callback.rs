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
    /// on 5xx/transport errors until `window_end`; counts the outcome
    /// ([`crate::metric_definitions::CALLBACK_DELIVERIES`]).
    pub async fn deliver(
        &self,
        operation: &str,
        rid: &str,
        body: &[u8],
        window_end: Instant,
    ) -> Delivery {
        let (d, attempts) = self.post(operation, rid, body, window_end).await;
        crate::metric_definitions::callback_delivery(operation, &d, attempts);
        d
    }

    /// [`CallbackClient::deliver`] without the counting: the outcome and the POSTs it took.
    async fn post(
        &self,
        operation: &str,
        rid: &str,
        body: &[u8],
        window_end: Instant,
    ) -> (Delivery, u32) {
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
                        return (Delivery::Delivered { attempts }, attempts);
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
                        return (
                            Delivery::Rejected {
                                status,
                                error: detail,
                            },
                            attempts,
                        );
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
                return (
                    Delivery::GaveUp {
                        attempts,
                        last_error,
                    },
                    attempts,
                );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric_definitions::{CALLBACK_ATTEMPTS, CALLBACK_DELIVERIES};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An HTTP server answering `/callback/<operation>` with the status the operation names
    /// (`ok` 200, `refused` 400, `down` 503), then closing.
    async fn stub() -> std::net::SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]);
                    let status = match head.split(' ').nth(1) {
                        Some("/callback/ok") => "200 OK",
                        Some("/callback/refused") => "400 Bad Request",
                        _ => "503 Service Unavailable",
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = s.write_all(answer.as_bytes()).await;
                });
            }
        });
        addr
    }

    fn series(page: &str, name: &str, labels: &str) -> String {
        let prefix = format!("{name}{{{labels}}} ");
        page.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or("absent")
            .to_string()
    }

    #[test]
    fn each_callback_is_counted_by_operation_and_result() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        metrics::with_local_recorder(&recorder, || {
            rt.block_on(async {
                let addr = stub().await;
                let client = CallbackClient::new(
                    reqwest::Client::new(),
                    &format!("http://{addr}"),
                    "resto-1",
                    Secret::new("key"),
                    "",
                    1_000,
                    50,
                );
                let soon = || Instant::now() + Duration::from_millis(400);
                let d = client.deliver("ok", "r1", b"{}", soon()).await;
                assert_eq!(d, Delivery::Delivered { attempts: 1 });
                let d = client.deliver("refused", "r2", b"{}", soon()).await;
                assert!(matches!(d, Delivery::Rejected { status: 400, .. }), "{d:?}");
                let d = client.deliver("down", "r3", b"{}", soon()).await;
                let Delivery::GaveUp { attempts, .. } = d else {
                    panic!("{d:?}")
                };
                assert!(attempts > 1, "resent before giving up: {attempts}");
                let page = handle.render();
                for (op, result) in [
                    ("ok", "delivered"),
                    ("refused", "rejected"),
                    ("down", "gave_up"),
                ] {
                    let labels = format!("operation=\"{op}\",result=\"{result}\"");
                    assert_eq!(series(&page, CALLBACK_DELIVERIES, &labels), "1", "{page}");
                }
                assert_eq!(
                    series(&page, CALLBACK_ATTEMPTS, "operation=\"down\""),
                    attempts.to_string(),
                    "{page}"
                );
            })
        });
    }
}
