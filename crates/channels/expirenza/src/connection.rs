//! The WebSocket to Expirenza, one per Expirenza restaurant: `Authorization: Basic
//! base64(restoId:secretKey)`, the keepalive text frame `Resto <restoId> ping` (plus a
//! WebSocket ping) every `ping_interval_ms`, and reconnection after any drop, forever, with
//! jittered exponential backoff. Operations are handed to [`Handler::dispatch`], which runs
//! each in its own task: a drop never cancels work in flight, and its answer (an HTTP
//! callback) does not need the socket.
//!
//! The `Authorization` header never passes through tungstenite: tungstenite logs the whole
//! upgrade request at TRACE (`tungstenite::handshake::client`, via the `log` bridge), and
//! that would print the Basic credentials under any subscriber that lets TRACE through. The
//! TLS layer is set up here, and [`WithAuthorization`] adds the header line to the request's
//! bytes on their way to the socket, below tungstenite and above TLS.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use posgate_core::RetryPolicy;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri};
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

use crate::metric_definitions::ConnectionGauge;

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
    let mut gauge = ConnectionGauge::new();
    loop {
        if stopping(&stop) {
            break;
        }
        let started = Instant::now();
        match connect(&h).await {
            Ok(ws) => {
                gauge.connected();
                info!(restaurant = %h.name, resto = %cfg.resto_id, url = %cfg.ws_url, "connected to Expirenza");
                match session(&h, ws, &mut stop).await {
                    End::Stopped => break,
                    End::Dropped(why) => {
                        gauge.disconnected();
                        warn!(restaurant = %h.name, resto = %cfg.resto_id, reason = %why, in_flight = h.in_flight(), "Expirenza connection lost; reconnecting")
                    }
                }
                if started.elapsed() >= STABLE_AFTER {
                    failures = 0;
                }
            }
            Err(e) => {
                gauge.failed();
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

type Ws = tokio_tungstenite::WebSocketStream<WithAuthorization<MaybeTlsStream<TcpStream>>>;

async fn connect(h: &Handler) -> Result<Ws, String> {
    let cfg = &h.cfg;
    let mut req = cfg
        .ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad ws_url: {e}"))?;
    let auth = basic_auth(&cfg.resto_id, cfg.secret_key.expose());
    if HeaderValue::from_str(&auth).is_err() {
        return Err("resto_id/secret_key cannot be sent in a header".to_string());
    }
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
    let connecting = async {
        let stream = open_stream(req.uri(), cfg.ca_pem.as_deref()).await?;
        tokio_tungstenite::client_async_with_config(
            req,
            WithAuthorization::new(stream, &auth),
            Some(ws_cfg),
        )
        .await
    };
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

// ------------------------------------------------------------------------------------------
// The socket under the WebSocket: TCP, TLS for wss, and the Authorization header.
// ------------------------------------------------------------------------------------------

/// TCP to the URL's host, TLS for `wss` (webpki roots, and `ca_pem` when the restaurant names
/// its own authority).
async fn open_stream(
    uri: &Uri,
    ca_pem: Option<&str>,
) -> Result<MaybeTlsStream<TcpStream>, WsError> {
    use tokio_tungstenite::tungstenite::error::{TlsError, UrlError};
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(WsError::Url(UrlError::UnsupportedUrlScheme)),
    };
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .filter(|h| !h.is_empty())
        .ok_or(WsError::Url(UrlError::NoHostName))?;
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = TcpStream::connect((host, port)).await?;
    let _ = tcp.set_nodelay(true);
    if !tls {
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| WsError::Tls(TlsError::InvalidDnsName))?;
    let stream = tls_connector(ca_pem)?.connect(name, tcp).await?;
    Ok(MaybeTlsStream::Rustls(stream))
}

fn tls_connector(ca_pem: Option<&str>) -> Result<tokio_rustls::TlsConnector, WsError> {
    static PUBLIC: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let public_roots = || {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        roots
    };
    let config = match ca_pem {
        None => PUBLIC
            .get_or_init(|| {
                Arc::new(
                    ClientConfig::builder()
                        .with_root_certificates(public_roots())
                        .with_no_client_auth(),
                )
            })
            .clone(),
        Some(pem) => {
            use tokio_rustls::rustls::pki_types::CertificateDer;
            use tokio_rustls::rustls::pki_types::pem::PemObject;
            let mut roots = public_roots();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert =
                    cert.map_err(|e| WsError::Io(std::io::Error::other(format!("ca_file: {e}"))))?;
                roots
                    .add(cert)
                    .map_err(|e| WsError::Io(std::io::Error::other(format!("ca_file: {e}"))))?;
            }
            Arc::new(
                ClientConfig::builder()
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            )
        }
    };
    Ok(tokio_rustls::TlsConnector::from(config))
}

/// The longest upgrade request we hold while looking for its end.
const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// Adds `Authorization: <value>` to the first HTTP request head written through it (the
/// WebSocket upgrade), just before the blank line that ends the headers; everything else
/// passes through untouched.
pub(crate) struct WithAuthorization<S> {
    inner: S,
    /// The header line still to add; `None` once added.
    line: Option<Vec<u8>>,
    /// The request head seen so far, until its end.
    head: Vec<u8>,
    /// Bytes accepted from the caller, not yet written to `inner`.
    out: Vec<u8>,
    written: usize,
}

impl<S> WithAuthorization<S> {
    pub(crate) fn new(inner: S, value: &str) -> Self {
        WithAuthorization {
            inner,
            line: Some(format!("Authorization: {value}\r\n").into_bytes()),
            head: Vec::new(),
            out: Vec::new(),
            written: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> WithAuthorization<S> {
    /// Writes what `out` still holds.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.out.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WithAuthorization<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WithAuthorization<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let me = self.get_mut();
        ready!(me.poll_drain(cx))?;
        let Some(line) = me.line.take() else {
            return Pin::new(&mut me.inner).poll_write(cx, buf);
        };
        me.head.extend_from_slice(buf);
        match me.head.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(end) => {
                // After the last header's CRLF, before the blank line.
                let at = end + 2;
                me.out.extend_from_slice(&me.head[..at]);
                me.out.extend_from_slice(&line);
                me.out.extend_from_slice(&me.head[at..]);
                me.head = Vec::new();
                // Start writing; whatever is left goes out on the next write or flush.
                if let Poll::Ready(Err(e)) = me.poll_drain(cx) {
                    return Poll::Ready(Err(e));
                }
            }
            None if me.head.len() > MAX_REQUEST_HEAD => {
                return Poll::Ready(Err(std::io::Error::other(
                    "the WebSocket upgrade request has no end of headers",
                )));
            }
            None => me.line = Some(line),
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        ready!(me.poll_drain(cx))?;
        Pin::new(&mut me.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let me = self.get_mut();
        ready!(me.poll_drain(cx))?;
        Pin::new(&mut me.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_header_is_added_to_the_request_head_only() {
        let (client, mut server) = tokio::io::duplex(16);
        let mut w = WithAuthorization::new(client, "Basic c2VjcmV0");
        let writing = async move {
            // In pieces, the end of the head split across writes, a body after it.
            for part in [
                &b"GET /x HTTP/1.1\r\nHost: h\r"[..],
                b"\n\r",
                b"\n",
                b"frame",
            ] {
                w.write_all(part).await.unwrap();
            }
            w.flush().await.unwrap();
            w.shutdown().await.unwrap();
        };
        let reading = async move {
            let mut got = String::new();
            server.read_to_string(&mut got).await.unwrap();
            got
        };
        let ((), got) = tokio::join!(writing, reading);
        assert_eq!(
            got,
            "GET /x HTTP/1.1\r\nHost: h\r\nAuthorization: Basic c2VjcmV0\r\n\r\nframe"
        );
    }
}
