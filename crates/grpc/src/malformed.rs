//! A request that is not a valid protobuf message (a string field that is not UTF-8, a broken
//! varint, a truncated body) is the caller's fault: `INVALID_ARGUMENT`, not tonic's `INTERNAL`.
//!
//! tonic's prost codec reports every decode failure as `INTERNAL` — right for a client reading
//! a server's broken answer (the engine must then treat a posting as "outcome unknown"), wrong
//! for a server reading a caller's broken request. The codec cannot tell the two apart, so the
//! server side says it here: a unary request that fails to decode gets a trailers-only answer
//! (tonic keeps the `Status` in its extensions) whose `grpc-status` this layer turns from 13
//! into 3, keeping tonic's message.

use std::task::{Context, Poll};

use futures::TryFutureExt;

/// How prost's `DecodeError` reads.
const DECODE_FAILURE: &str = "failed to decode Protobuf message";
const INVALID_ARGUMENT: http::HeaderValue = http::HeaderValue::from_static("3");

/// Tower layer: answers undecodable requests with `INVALID_ARGUMENT`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MalformedRequestLayer;

impl<S> tower::Layer<S> for MalformedRequestLayer {
    type Service = MalformedRequest<S>;

    fn layer(&self, inner: S) -> MalformedRequest<S> {
        MalformedRequest(inner)
    }
}

#[derive(Clone, Debug)]
pub struct MalformedRequest<S>(S);

impl<S, B, R> tower::Service<http::Request<B>> for MalformedRequest<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = futures::future::MapOk<S::Future, fn(http::Response<R>) -> http::Response<R>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.0.call(req).map_ok(reclassify::<R>)
    }
}

fn reclassify<R>(mut res: http::Response<R>) -> http::Response<R> {
    let undecodable = res.extensions().get::<tonic::Status>().is_some_and(|s| {
        s.code() == tonic::Code::Internal && s.message().starts_with(DECODE_FAILURE)
    });
    if undecodable {
        res.headers_mut().insert("grpc-status", INVALID_ARGUMENT);
        if let Some(s) = res.extensions_mut().remove::<tonic::Status>() {
            res.extensions_mut()
                .insert(tonic::Status::invalid_argument(s.message().to_string()));
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn answer(code: Code, message: &str) -> http::Response<()> {
        tonic::Status::new(code, message).into_http()
    }

    #[test]
    fn only_a_decode_failure_becomes_invalid_argument() {
        let bad =
            "failed to decode Protobuf message: invalid string value: data is not UTF-8 encoded";
        let r = reclassify(answer(Code::Internal, bad));
        assert_eq!(r.headers()["grpc-status"], "3");
        let status = tonic::Status::from_header_map(r.headers()).unwrap();
        assert_eq!(status.message(), bad);
        for (code, msg, header) in [
            (Code::Internal, "payment store: disk full", "13"),
            (Code::Unavailable, bad, "14"),
            (Code::NotFound, "", "5"),
        ] {
            let r = reclassify(answer(code, msg));
            assert_eq!(r.headers()["grpc-status"], header);
        }
    }
}
