//! OAuth2 client credentials, for any POS API behind them (r_k Delivery's today): the token
//! request, a cache of the token, and the bearer header.
//!
//! Why it exists: the grant is the same for every vendor that uses it — `POST` a form with
//! `client_id`, `client_secret`, `grant_type=client_credentials` and the scopes, read
//! `access_token` and `expires_in` — and so are the rules around it, which are easy to get
//! wrong: the token is cached until shortly before `expires_in` runs out (a fifth of its
//! lifetime, at most a minute, early), fetched by one caller at a time, and dropped when the
//! API answers 401 so that the next call fetches a new one. Neither the secret nor the token
//! is ever logged. A token request changes nothing, so whatever goes wrong with it is never an
//! unknown outcome: refused credentials are refused `OTHER_ERROR` (with a hint of the setting
//! to fix), anything else is transient. Codes start with `auth/`.

use std::time::Duration;

use posgate_core::Secret;
use posgate_core::pos::Verdict;
use reqwest::RequestBuilder;
use reqwest::header::HeaderValue;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::answers::Op;
use crate::failure::{Failure, REFUSED};
use crate::http::HttpAnswer;
use crate::lenient::{decimal_of, field, text_of};

/// Lifetime assumed when the answer has no usable `expires_in` (a 401 refreshes earlier).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
const MAX_EARLY: Duration = Duration::from_secs(60);

/// One set of client credentials and where to exchange them.
#[derive(Clone)]
pub struct ClientCredentials {
    /// The token endpoint ([`token_url`]).
    pub token_url: String,
    pub client_id: String,
    /// Never logged.
    pub client_secret: Secret,
    /// The scopes form field and its value (`("scope", "orders")`; r_k Delivery names the
    /// field `scopes`).
    pub scopes: (&'static str, String),
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
}

/// Fetches and caches the bearer token of one set of client credentials.
pub struct TokenSource {
    http: reqwest::Client,
    creds: ClientCredentials,
    timeout: Duration,
    /// The auth server, as failure texts and logs name it ("the r_k Delivery auth server").
    peer: &'static str,
    cached: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("url", &self.creds.token_url)
            .field("client_id", &self.creds.client_id)
            .field("client_secret", &self.creds.client_secret)
            .finish()
    }
}

/// `{auth_url}{token_path}`, unless `auth_url` already names the endpoint.
pub fn token_url(auth_url: &str, token_path: &str) -> String {
    let base = auth_url.trim().trim_end_matches('/');
    if base.ends_with(token_path) {
        base.to_string()
    } else {
        format!("{base}{token_path}")
    }
}

/// `Authorization: Bearer <token>`, marked sensitive (never logged by the HTTP stack).
pub fn bearer(token: &Secret) -> Result<HeaderValue, Failure> {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
        Failure::unsendable(
            "auth/token",
            "the access token is not a valid HTTP header value",
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

impl TokenSource {
    /// Each token request times out after `timeout`.
    pub fn new(
        http: reqwest::Client,
        creds: ClientCredentials,
        timeout: Duration,
        peer: &'static str,
    ) -> Self {
        TokenSource {
            http,
            creds,
            timeout,
            peer,
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

    /// Sends the request `build` makes with the bearer header to `peer`. An answer 401 drops
    /// the token and the request goes once more with a new one (a 401 refused it before
    /// anything ran, so even a write may be repeated); the answer after that is returned,
    /// whatever it is. A failed exchange is read as a call of kind `op`.
    pub async fn send(
        &self,
        peer: &str,
        op: Op,
        build: impl Fn(HeaderValue) -> RequestBuilder,
    ) -> Result<HttpAnswer, Failure> {
        let mut refreshed = false;
        loop {
            let token = self.get().await?;
            let answer = crate::http::send(build(bearer(&token)?), peer)
                .await
                .map_err(|f| Failure::transport(f).of(op))?;
            if answer.status.as_u16() != 401 || refreshed {
                return Ok(answer);
            }
            self.invalidate(&token).await;
            refreshed = true;
            tracing::info!(peer, "answered 401: refreshing the token once");
        }
    }

    async fn fetch(&self) -> Result<(Secret, Duration), Failure> {
        let started = Instant::now();
        let c = &self.creds;
        let form = [
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.expose()),
            ("grant_type", "client_credentials"),
            (c.scopes.0, c.scopes.1.as_str()),
        ];
        let result = self.exchange(&form).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok((_, lifetime)) => tracing::info!(
                peer = self.peer,
                client_id = %c.client_id,
                expires_in_s = lifetime.as_secs(),
                elapsed_ms,
                "access token obtained"
            ),
            Err(f) => tracing::warn!(
                peer = self.peer,
                client_id = %c.client_id,
                code = %f.code,
                text = %f.text,
                elapsed_ms,
                "access token request failed"
            ),
        }
        result
    }

    async fn exchange(&self, form: &[(&str, &str)]) -> Result<(Secret, Duration), Failure> {
        let peer = self.peer;
        let rb = self
            .http
            .post(&self.creds.token_url)
            .timeout(self.timeout)
            .form(form);
        let answer = crate::http::send(rb, peer)
            .await
            // Nothing was written anywhere: never an unknown outcome (a redirect stays a
            // refusal: the secret is not sent there, fix the auth URL).
            .map_err(|f| {
                let f = Failure::transport(f).read_only();
                Failure {
                    code: format!("auth/{}", f.code),
                    ..f
                }
            })?;
        let status = answer.status.as_u16();
        let v: Option<Value> = serde_json::from_slice(&answer.body).ok();
        let at = |k: &str| v.as_ref().and_then(|v| field(v, k));
        if (200..300).contains(&status) {
            let token = at("access_token")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|t| !t.is_empty());
            let Some(token) = token else {
                return Err(Failure::ours(
                    Verdict::Transient,
                    "auth/no_token",
                    format!("{peer} answered HTTP {status} without an access_token"),
                ));
            };
            let lifetime = at("expires_in")
                .and_then(decimal_of)
                .and_then(|d| d.trunc().to_u64())
                .filter(|s| *s > 0)
                .map_or(DEFAULT_LIFETIME, Duration::from_secs);
            return Ok((Secret::new(token), lifetime));
        }
        let error = at("error").and_then(text_of);
        let what = match (&error, at("error_description").and_then(text_of)) {
            (Some(e), Some(d)) => format!("{e}: {d}"),
            (Some(e), None) => e.clone(),
            (None, _) => crate::lenient::snippet(&String::from_utf8_lossy(&answer.body)),
        };
        if !matches!(status, 400 | 401 | 403) {
            return Err(Failure::ours(
                Verdict::Transient,
                format!("auth/HTTP/{status}"),
                format!("{peer} failed (HTTP {status}): {what}"),
            ));
        }
        let hint = match error.as_deref() {
            Some("invalid_client") | Some("unauthorized_client") | None => {
                "check client_id and client_secret"
            }
            Some("invalid_scope") => "check scopes",
            Some(_) => "check the auth settings",
        };
        Err(Failure::ours(
            REFUSED,
            format!("auth/{}", error.as_deref().unwrap_or("refused")),
            format!(
                "{peer} refused the client credentials (HTTP {status} {what}); {hint} of this restaurant"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_urls() {
        assert_eq!(
            token_url("https://auth-delivery.ucs.ru", "/connect/token"),
            "https://auth-delivery.ucs.ru/connect/token"
        );
        assert_eq!(
            token_url("http://x:1/connect/token/", "/connect/token"),
            "http://x:1/connect/token"
        );
    }

    #[test]
    fn debug_hides_the_secret_and_the_bearer_is_sensitive() {
        let t = TokenSource::new(
            reqwest::Client::new(),
            ClientCredentials {
                token_url: "http://x/connect/token".into(),
                client_id: "cid".into(),
                client_secret: Secret::new("super-secret"),
                scopes: ("scopes", "orders".into()),
            },
            Duration::from_secs(1),
            "the auth server",
        );
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("super-secret") && shown.contains("cid"),
            "{shown}"
        );
        let b = bearer(&Secret::new("tok")).unwrap();
        assert!(b.is_sensitive());
        assert_eq!(b.to_str().unwrap(), "Bearer tok");
        assert_eq!(bearer(&Secret::new("a\nb")).unwrap_err().code, "auth/token");
    }
}
