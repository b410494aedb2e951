//! The WebSocket to Expirenza, one per Expirenza restaurant: `Authorization: Basic
//! base64(restoId:secretKey)`, the keepalive text frame `Resto <restoId> ping` (plus a
//! WebSocket ping) every `ping_interval_ms`, and reconnection after any drop, forever, with
//! jittered exponential backoff. Operations are handed to [`Handler::dispatch`], which runs
//! each in its own task: a drop never cancels work in flight, and its answer (an HTTP
//! callback) does not need the socket.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use posgate_core::RetryPolicy;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message};
use tracing::{debug, error, info, warn};

use crate::service::Handler;
use crate::wire::basic_auth;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that stayed up this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(30);

enum End {
    Stopped,
    Dropped(String),
}

fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

/// Keeps the restaurant connected until `stop` turns true.
pub async fn connection_loop(h: Arc<Handler>, mut stop: watch::Receiver<bool>) {
    let cfg = &h.cfg;
    let policy = RetryPolicy {
        initial_ms: cfg.reconnect_initial_ms.max(1),
        multiplier_pct: 200,
        max_delay_ms: cfg.reconnect_max_ms.max(cfg.reconnect_initial_ms),
        max_attempts: u32::MAX,
        jitter_pct: 20,
    };
    let mut failures = 0u32;
    loop {
        if stopping(&stop) {
            break;
        }
        let started = Instant::now();
        match connect(&h).await {
            Ok(ws) => {
                info!(restaurant = %h.name, resto = %cfg.resto_id, url = %cfg.ws_url, "connected to Expirenza");
                match session(&h, ws, &mut stop).await {
                    End::Stopped => break,
                    End::Dropped(why) => {
                        warn!(restaurant = %h.name, resto = %cfg.resto_id, reason = %why, in_flight = h.in_flight(), "Expirenza connection lost; reconnecting")
                    }
                }
                if started.elapsed() >= STABLE_AFTER {
                    failures = 0;
                }
            }
            Err(e) => {
                warn!(restaurant = %h.name, resto = %cfg.resto_id, url = %cfg.ws_url, error = %e, "cannot connect to Expirenza")
            }
        }
        failures = failures.saturating_add(1);
        let delay = policy.delay(failures, rand::random_range(0..=1_000_000u32));
        debug!(resto = %cfg.resto_id, delay_ms = delay.as_millis() as u64, "reconnecting after");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => {}
        }
    }
    info!(restaurant = %h.name, resto = %cfg.resto_id, "Expirenza connection stopped");
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(h: &Handler) -> Result<Ws, String> {
    let cfg = &h.cfg;
    let mut req = cfg
        .ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad ws_url: {e}"))?;
    let mut auth = HeaderValue::from_str(&basic_auth(&cfg.resto_id, cfg.secret_key.expose()))
        .map_err(|_| "resto_id/secret_key cannot be sent in a header".to_string())?;
    auth.set_sensitive(true);
    req.headers_mut().insert("Authorization", auth);
    if !cfg.system_name.trim().is_empty()
        && let Ok(v) = HeaderValue::from_str(&format!("system={}", cfg.system_name.trim()))
    {
        req.headers_mut().insert("cookie", v);
    }
    // Frames above our own limit are still read (and answered with FAIL); far bigger ones
    // close the connection.
    let hard = cfg.max_frame_bytes.saturating_mul(16).max(1 << 20);
    let ws_cfg = WebSocketConfig::default()
        .max_message_size(Some(hard))
        .max_frame_size(Some(hard));
    let connecting = tokio_tungstenite::connect_async_with_config(req, Some(ws_cfg), true);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => Err(format!(
            "no handshake within {}s",
            CONNECT_TIMEOUT.as_secs()
        )),
        Ok(Ok((ws, _resp))) => Ok(ws),
        Ok(Err(WsError::Http(resp))) => {
            let status = resp.status();
            if status.as_u16() == 401 || status.as_u16() == 403 {
                error!(resto = %cfg.resto_id, %status, "Expirenza refused the credentials: check resto_id and secret_key");
            }
            Err(format!("handshake refused with HTTP {status}"))
        }
        Ok(Err(e)) => Err(e.to_string()),
    }
}

async fn session(h: &Arc<Handler>, mut ws: Ws, stop: &mut watch::Receiver<bool>) -> End {
    let cfg = &h.cfg;
    let every = Duration::from_millis(cfg.ping_interval_ms.max(1));
    let idle = Duration::from_millis(cfg.idle_timeout_ms);
    let mut ping = tokio::time::interval_at(Instant::now() + every, every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let keepalive = format!("Resto {} ping", cfg.resto_id);
    let mut last_rx = Instant::now();
    // Keepalive right away, like the official client does once connected.
    if let Err(e) = ws.send(Message::text(keepalive.clone())).await {
        return End::Dropped(format!("cannot send the keepalive: {e}"));
    }
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || stopping(stop) {
                    let _ = ws.close(None).await;
                    return End::Stopped;
                }
            }
            _ = ping.tick() => {
                if !idle.is_zero() && last_rx.elapsed() > idle {
                    return End::Dropped(format!("nothing received for {}s", idle.as_secs()));
                }
                if let Err(e) = ws.send(Message::text(keepalive.clone())).await {
                    return End::Dropped(format!("cannot send the keepalive: {e}"));
                }
                if let Err(e) = ws.send(Message::Ping(Bytes::new())).await {
                    return End::Dropped(format!("cannot send a ping: {e}"));
                }
            }
            msg = ws.next() => {
                let Some(msg) = msg else {
                    return End::Dropped("connection closed".into());
                };
                let msg = match msg {
                    Ok(m) => m,
                    Err(e) => return End::Dropped(e.to_string()),
                };
                last_rx = Instant::now();
                match msg {
                    Message::Text(t) => on_text(h, t.as_str()),
                    Message::Binary(b) => match std::str::from_utf8(&b) {
                        Ok(t) => on_text(h, t),
                        Err(_) => warn!(resto = %cfg.resto_id, bytes = b.len(), "binary frame that is not UTF-8; ignored"),
                    },
                    Message::Close(frame) => {
                        return End::Dropped(match frame {
                            Some(f) => format!("closed by Expirenza ({} {})", f.code, f.reason),
                            None => "closed by Expirenza".into(),
                        });
                    }
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                }
            }
        }
    }
}

fn on_text(h: &Arc<Handler>, text: &str) {
    let trimmed = text.trim();
    if trimmed.starts_with("Resto ") && trimmed.ends_with("ping") {
        debug!(resto = %h.cfg.resto_id, "keepalive echo");
        return;
    }
    if trimmed.is_empty() {
        return;
    }
    debug!(resto = %h.cfg.resto_id, bytes = text.len(), "operation frame");
    h.dispatch(text.to_string(), Instant::now());
}
