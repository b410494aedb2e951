//! The lean unary call (`posgate_grpc::unary`) against real servers: tonic's (health, and its
//! router's refusal of an unknown method) and a hand-made HTTP/2 server that answers what
//! tonic never would (an HTTP error page, two messages, no trailers).

use std::time::Duration;

use axum::body::Body as AxumBody;
use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::StreamBody;
use posgate_grpc::unary::unary;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse, health_check_response};

const CHECK: &str = "/grpc.health.v1.Health/Check";
const MAX: usize = 1024 * 1024;

async fn listener() -> (tokio::net::TcpListener, Channel) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    (listener, channel)
}

/// tonic's health service, with `served` SERVING.
async fn health_server(served: &str) -> Channel {
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(served, tonic_health::ServingStatus::Serving)
        .await;
    let (listener, channel) = listener().await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(posgate_grpc::incoming(listener)),
    );
    channel
}

fn no_interceptor(r: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
    Ok(r)
}

fn check(service: &str) -> tonic::Request<HealthCheckRequest> {
    let mut r = tonic::Request::new(HealthCheckRequest {
        service: service.into(),
    });
    r.set_timeout(Duration::from_secs(5));
    r
}

#[tokio::test]
async fn a_tonic_server_s_answers_and_refusals_read_as_tonic_s_own_client_reads_them() {
    let channel = health_server("posgate.v1.PaymentService").await;
    let ok: HealthCheckResponse = unary(
        &channel,
        &mut no_interceptor,
        CHECK,
        check("posgate.v1.PaymentService"),
        MAX,
    )
    .await
    .unwrap();
    assert_eq!(
        ok.status,
        health_check_response::ServingStatus::Serving as i32
    );

    // A refusal with its message, as the server said it.
    let e =
        unary::<_, HealthCheckResponse>(&channel, &mut no_interceptor, CHECK, check("nope"), MAX)
            .await
            .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    assert_eq!(e.message(), "service not registered");

    // A method the server does not have: tonic's router answers trailers-only.
    let e = unary::<_, HealthCheckResponse>(
        &channel,
        &mut no_interceptor,
        "/grpc.health.v1.Health/Nope",
        check(""),
        MAX,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented, "{e:?}");

    // An answer over the limit is refused, not read whole.
    let e = unary::<_, HealthCheckResponse>(
        &channel,
        &mut no_interceptor,
        CHECK,
        check("posgate.v1.PaymentService"),
        1,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");

    // An interceptor's refusal: nothing is sent.
    let mut refuse = |_: tonic::Request<()>| Err(Status::unauthenticated("no token"));
    let e = unary::<_, HealthCheckResponse>(&channel, &mut refuse, CHECK, check(""), MAX)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    let (listener, channel) = listener().await;
    drop(listener);
    let e = unary::<_, HealthCheckResponse>(&channel, &mut no_interceptor, CHECK, check(""), MAX)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
}

fn frame(message: &impl prost::Message) -> Bytes {
    let body = message.encode_to_vec();
    let mut b = BytesMut::new();
    b.put_u8(0);
    b.put_u32(body.len() as u32);
    b.put_slice(&body);
    b.freeze()
}

fn grpc_answer(data: Vec<Bytes>, status: Option<&'static str>) -> axum::response::Response {
    let mut frames: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = data
        .into_iter()
        .map(|d| Ok(http_body::Frame::data(d)))
        .collect();
    if let Some(s) = status {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static(s));
        frames.push(Ok(http_body::Frame::trailers(trailers)));
    }
    let body = AxumBody::new(StreamBody::new(futures::stream::iter(frames)));
    http::Response::builder()
        .header("content-type", "application/grpc")
        .body(body)
        .unwrap()
}

/// An HTTP/2 server answering each path as no tonic server would, and echoing the
/// `authorization` it received (as a health status message's service name is not: a
/// `prost_types::Value` string).
async fn odd_server() -> Channel {
    use axum::routing::post;
    let echo = |headers: http::HeaderMap| async move {
        let seen = headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let te = headers.get("te").map(|v| v.to_str().unwrap().to_string());
        let ct = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        let timeout = headers.get("grpc-timeout").is_some();
        let v = prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue(format!(
                "{seen}|{te:?}|{ct:?}|{timeout}"
            ))),
        };
        grpc_answer(vec![frame(&v)], Some("0"))
    };
    let v = prost_types::Value {
        kind: Some(prost_types::value::Kind::BoolValue(true)),
    };
    let (one, two) = (frame(&v), frame(&v));
    let app = axum::Router::new()
        .route("/t.T/Echo", post(echo))
        .route(
            "/t.T/Busy",
            post(|| async {
                http::Response::builder()
                    .status(503)
                    .header("content-type", "text/html")
                    .body(AxumBody::from("<html>Service Unavailable</html>"))
                    .unwrap()
            }),
        )
        .route(
            "/t.T/Two",
            post(move || {
                let (one, two) = (one.clone(), two.clone());
                async move { grpc_answer(vec![one, two], Some("0")) }
            }),
        )
        .route(
            "/t.T/NoStatus",
            post(move || {
                let v = v;
                async move { grpc_answer(vec![frame(&v)], None) }
            }),
        )
        .route(
            "/t.T/Refused",
            post(|| async { grpc_answer(vec![], Some("9")) }),
        );
    let (listener, channel) = listener().await;
    tokio::spawn(async move { axum::serve(listener, app).await });
    channel
}

fn value(v: &str) -> tonic::Request<prost_types::Value> {
    let mut r = tonic::Request::new(prost_types::Value {
        kind: Some(prost_types::value::Kind::StringValue(v.into())),
    });
    r.set_timeout(Duration::from_secs(5));
    r
}

#[tokio::test]
async fn answers_no_tonic_server_gives_are_named_not_misread() {
    let channel = odd_server().await;
    let mut token = |mut r: tonic::Request<()>| {
        r.metadata_mut()
            .insert("authorization", "Bearer t-1".parse().unwrap());
        Ok(r)
    };
    let echoed: prost_types::Value = unary(&channel, &mut token, "/t.T/Echo", value("x"), MAX)
        .await
        .unwrap();
    assert_eq!(
        echoed.kind,
        Some(prost_types::value::Kind::StringValue(
            "Bearer t-1|Some(\"trailers\")|Some(\"application/grpc\")|true".into()
        ))
    );

    for (path, code, says) in [
        ("/t.T/Busy", Code::Unavailable, "503"),
        ("/t.T/Two", Code::Internal, "one message expected"),
        ("/t.T/NoStatus", Code::Internal, "without a grpc-status"),
        ("/t.T/Refused", Code::FailedPrecondition, ""),
    ] {
        let e = unary::<_, prost_types::Value>(&channel, &mut token, path, value("x"), MAX)
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{path}: {e:?}");
        assert!(e.message().contains(says), "{path}: {e:?}");
    }
}
