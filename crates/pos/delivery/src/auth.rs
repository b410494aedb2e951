//! OAuth2 client credentials for r_k Delivery: `POST {auth_url}/connect/token` with a form
//! body (`client_id`, `client_secret`, `grant_type=client_credentials`, `scopes=orders`).
//!
//! The token is cached until shortly before `expires_in` runs out (a fifth of its lifetime,
//! at most a minute, early), fetched by one caller at a time, and dropped when the API answers
//! 401 so the next call fetches a new one. Neither the secret nor the token is ever logged.

use std::time::Duration;

use posgate_core::{Secret, Substate};
use posgate_rkeeper::Verdict;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::classify::{Failure, Op, transport};
use crate::wire::{decimal_of, field, text_of};

/// Path of the token endpoint on the auth server.
pub const TOKEN_PATH: &str = "/connect/token";
/// Lifetime assumed when the answer has no usable `expires_in` (a 401 refreshes earlier).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
const MAX_EARLY: Duration = Duration::from_secs(60);

#[derive(Clone)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
}

/// Fetches and caches the bearer token of one set of client credentials.
pub struct TokenSource {
    http: reqwest::Client,
    url: String,
    client_id: String,
    client_secret: Secret,
    scopes: String,
    timeout: Duration,
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

/// `{auth_url}/connect/token`, unless `auth_url` already names the endpoint.
pub fn token_url(auth_url: &str) -> String {
    let base = auth_url.trim().trim_end_matches('/');
    if base.ends_with(TOKEN_PATH) {
        base.to_string()
    } else {
        format!("{base}{TOKEN_PATH}")
    }
}

impl TokenSource {
    pub fn new(
        http: reqwest::Client,
        auth_url: &str,
        client_id: impl Into<String>,
        client_secret: Secret,
        scopes: impl Into<String>,
        timeout: Duration,
    ) -> Self {
        TokenSource {
            http,
            url: token_url(auth_url),
            client_id: client_id.into(),
            client_secret,
            scopes: scopes.into(),
            timeout,
            cached: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a new one.
    pub async fn get(&self) -> Result<Secret, Failure> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        let early = (lifetime / 5).min(MAX_EARLY);
        *cached = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(early),
        });
        Ok(token)
    }

    /// Drops `used` from the cache (after the API refused it with 401).
    pub async fn invalidate(&self, used: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &c.token == used) {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<(Secret, Duration), Failure> {
        let started = Instant::now();
        let form = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("grant_type", "client_credentials"),
            ("scopes", self.scopes.as_str()),
        ];
        let result = self.exchange(&form).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok((_, lifetime)) => tracing::info!(
                client_id = %self.client_id,
                expires_in_s = lifetime.as_secs(),
                elapsed_ms,
                "r_k Delivery token obtained"
            ),
            Err(f) => tracing::warn!(
                client_id = %self.client_id,
                code = %f.code,
                text = %f.text,
                elapsed_ms,
                "r_k Delivery token request failed"
            ),
        }
        result
    }

    async fn exchange(&self, form: &[(&str, &str)]) -> Result<(Secret, Duration), Failure> {
        let rb = self.http.post(&self.url).timeout(self.timeout).form(form);
        let answer = posgate_pos_kit::send(rb, "the r_k Delivery auth server")
            .await
            // Nothing was written to any order: an auth failure is never an unknown outcome
            // (a redirect stays a refusal: the secret is not sent there, fix auth_url).
            .map_err(|f| as_transient(transport(f, Op::Read)))?;
        let status = answer.status.as_u16();
        let bytes = answer.body;
        let v: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            let token = v
                .as_ref()
                .and_then(|v| field(v, "access_token"))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|t| !t.is_empty());
            let Some(token) = token else {
                return Err(Failure::ours(
                    Verdict::Transient,
                    "auth/no_token",
                    format!(
                        "the r_k Delivery auth server answered HTTP {status} without an access_token"
                    ),
                ));
            };
            let lifetime = v
                .as_ref()
                .and_then(|v| field(v, "expires_in"))
                .and_then(decimal_of)
                .and_then(|d| d.trunc().to_u64())
                .filter(|s| *s > 0)
                .map_or(DEFAULT_LIFETIME, Duration::from_secs);
            return Ok((Secret::new(token), lifetime));
        }
        let error = v.as_ref().and_then(|v| field(v, "error")).and_then(text_of);
        let desc = v
            .as_ref()
            .and_then(|v| field(v, "error_description"))
            .and_then(text_of);
        let what = match (&error, &desc) {
            (Some(e), Some(d)) => format!("{e}: {d}"),
            (Some(e), None) => e.clone(),
            (None, _) => String::from_utf8_lossy(&bytes).chars().take(200).collect(),
        };
        match status {
            400 | 401 | 403 => {
                let hint = match error.as_deref() {
                    Some("invalid_client") | Some("unauthorized_client") | None => {
                        "check client_id and client_secret"
                    }
                    Some("invalid_scope") => "check scopes",
                    Some(_) => "check the auth settings",
                };
                Err(Failure::ours(
                    Verdict::Rejected(Substate::OtherError),
                    format!("auth/{}", error.as_deref().unwrap_or("refused")),
                    format!(
                        "the r_k Delivery auth server refused the client credentials (HTTP {status} {what}); {hint} of this restaurant"
                    ),
                ))
            }
            _ => Err(Failure::ours(
                Verdict::Transient,
                format!("auth/HTTP/{status}"),
                format!("the r_k Delivery auth server failed (HTTP {status}): {what}"),
            )),
        }
    }
}

/// A token request changes nothing: whatever went wrong, nothing was applied.
fn as_transient(mut f: Failure) -> Failure {
    if f.verdict == Verdict::Unknown {
        f.verdict = Verdict::Transient;
    }
    f.code = format!("auth/{}", f.code);
    f
}
