//! A unary gRPC call that holds little while it waits: the request is encoded before the call
//! starts and sent as one complete body, and the answer is collected whole and decoded once.
//!
//! Why: the payment service keeps one adapter call open per payment in flight for as long as
//! the POS takes (seconds; 10,000 at once at a dinner peak). tonic's generated client holds
//! ~3 KiB of call state for that whole time (its request-encoding and response-decoding streams,
//! nested), and hyper runs the streamed request body as a task of its own (~1.2 KiB) until the
//! connection sends it: ~40 MiB at 10,000 in flight (heaptrack, `posgate bench`). Here the call
//! holds the channel's response future and then the collected body.
//!
//! Everything that is not about holding less is tonic's: the [`Channel`] (connections,
//! HTTP/2, `grpc-timeout`, reconnects, origin, user agent), the [`Interceptor`] that adds a
//! call's token and trace, and [`Status`] read from headers and trailers. What a server may
//! answer and how it reads here:
//!
//! | answer | result |
//! |---|---|
//! | HTTP 200, one message, trailers `grpc-status: 0` | the message |
//! | `grpc-status` ≠ 0 in the headers (trailers-only) or in the trailers | that status (code, message, metadata) |
//! | HTTP status other than 200 without `grpc-status` | the code the gRPC spec maps it to |
//! | no `grpc-status` at all, no message, two messages, a compressed or undecodable message | `INTERNAL` |
//! | a message over `max_answer` bytes | `RESOURCE_EXHAUSTED` |
//! | the connection fails | tonic's mapping of the transport error (`UNAVAILABLE`, …) |

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use tonic::body::Body;
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::Service;

/// The gRPC message prefix: a compression flag and a big-endian length.
const PREFIX: usize = 5;

/// Calls `path` (`/package.Service/Method`) on `channel` with `request`, after `interceptor`,
/// and returns the answer's message (at most `max_answer` bytes). The request is encoded now;
/// the returned future owns everything it needs (see the module comment).
pub fn unary<Req, Resp>(
    channel: &Channel,
    interceptor: &mut impl Interceptor,
    path: &'static str,
    request: tonic::Request<Req>,
    max_answer: usize,
) -> BoxFuture<'static, Result<Resp, Status>>
where
    Req: prost::Message,
    Resp: prost::Message + Default + 'static,
{
    let prepared = prepare(interceptor, path, request);
    let mut channel = channel.clone();
    Box::pin(async move {
        let request = prepared?;
        std::future::poll_fn(|cx| channel.poll_ready(cx))
            .await
            .map_err(transport)?;
        let answer = channel.call(request).await.map_err(transport)?;
        read_answer(answer, max_answer).await
    })
}

/// The HTTP/2 request of a call: the interceptor's metadata as headers, the gRPC ones set, and
/// the message as one framed body.
fn prepare<Req: prost::Message>(
    interceptor: &mut impl Interceptor,
    path: &'static str,
    request: tonic::Request<Req>,
) -> Result<http::Request<Body>, Status> {
    let (metadata, extensions, message) = request.into_parts();
    let (metadata, _, ()) = interceptor
        .call(tonic::Request::from_parts(metadata, extensions, ()))?
        .into_parts();
    let len = message.encoded_len();
    let len32 =
        u32::try_from(len).map_err(|_| Status::resource_exhausted("the request is over 4 GiB"))?;
    let mut frame = BytesMut::with_capacity(PREFIX + len);
    frame.put_u8(0);
    frame.put_u32(len32);
    message
        .encode(&mut frame)
        .map_err(|e| Status::internal(format!("cannot encode the request: {e}")))?;
    let mut headers = metadata.into_headers();
    headers.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    let mut req = http::Request::new(Body::new(Full::new(frame.freeze())));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = http::Uri::from_static(path);
    *req.version_mut() = http::Version::HTTP_2;
    *req.headers_mut() = headers;
    Ok(req)
}

fn transport(e: tonic::transport::Error) -> Status {
    Status::from_error(Box::new(e))
}

/// Reads an answer whole (see the module comment's table).
async fn read_answer<Resp>(answer: http::Response<Body>, max_answer: usize) -> Result<Resp, Status>
where
    Resp: prost::Message + Default,
{
    let (parts, body) = answer.into_parts();
    // Trailers-only: the status comes in the headers, and nothing follows.
    if let Some(status) = Status::from_header_map(&parts.headers) {
        return Err(match status.code() {
            Code::Ok => Status::internal("the answer carries no message"),
            _ => status,
        });
    }
    if parts.status != http::StatusCode::OK {
        return Err(from_http_status(parts.status));
    }
    let collected = Limited::new(body, max_answer.saturating_add(PREFIX))
        .collect()
        .await
        .map_err(|e| match e.downcast::<http_body_util::LengthLimitError>() {
            Ok(_) => Status::resource_exhausted(format!("the answer is over {max_answer} bytes")),
            Err(e) => Status::from_error(e),
        })?;
    let status = collected.trailers().and_then(Status::from_header_map);
    let data = collected.to_bytes();
    match status {
        Some(s) if s.code() == Code::Ok => decode(data),
        Some(s) => Err(s),
        None => Err(Status::internal("the answer ended without a grpc-status")),
    }
}

/// The one message of an answer's body.
fn decode<Resp: prost::Message + Default>(data: Bytes) -> Result<Resp, Status> {
    if data.len() < PREFIX {
        return Err(Status::internal("the answer carries no message"));
    }
    if data[0] != 0 {
        return Err(Status::internal(
            "the answer's message is compressed, and no compression was offered",
        ));
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    if data.len() - PREFIX != len {
        return Err(Status::internal(format!(
            "the answer's body is {} bytes after its prefix, which says {len}: one message expected",
            data.len() - PREFIX
        )));
    }
    Resp::decode(data.slice(PREFIX..))
        .map_err(|e| Status::internal(format!("cannot decode the answer: {e}")))
}

/// The code the gRPC spec gives an HTTP status that came without a `grpc-status`
/// (<https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md>).
fn from_http_status(status: http::StatusCode) -> Status {
    let code = match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(code, format!("HTTP status {status} without a grpc-status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(message: &[u8]) -> Bytes {
        let mut b = BytesMut::new();
        b.put_u8(0);
        b.put_u32(message.len() as u32);
        b.put_slice(message);
        b.freeze()
    }

    #[test]
    fn one_message_decodes_and_anything_else_is_internal() {
        let msg = prost_types::Duration {
            seconds: 7,
            nanos: 1,
        };
        let ok: prost_types::Duration =
            decode(framed(&prost::Message::encode_to_vec(&msg))).unwrap();
        assert_eq!(ok, msg);
        let two = [
            framed(&prost::Message::encode_to_vec(&msg)),
            framed(&prost::Message::encode_to_vec(&msg)),
        ]
        .concat();
        let mut compressed = framed(b"").to_vec();
        compressed[0] = 1;
        for (bad, why) in [
            (Bytes::new(), "no message"),
            (Bytes::from(two), "one message expected"),
            (Bytes::from(compressed), "compressed"),
            (framed(&[0xff, 0xff]), "cannot decode"),
        ] {
            let e = decode::<prost_types::Duration>(bad).unwrap_err();
            assert_eq!(e.code(), Code::Internal);
            assert!(e.message().contains(why), "{}", e.message());
        }
    }

    #[test]
    fn an_http_status_without_grpc_status_maps_as_the_spec_says() {
        for (http, code) in [
            (400, Code::Internal),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (429, Code::Unavailable),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
            (500, Code::Unknown),
        ] {
            let s = from_http_status(http::StatusCode::from_u16(http).unwrap());
            assert_eq!(s.code(), code, "{http}");
        }
    }
}
