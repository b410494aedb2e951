//! What a platform team holds on to, over the real ports of a running stack (WSA simulator,
//! WSA adapter, payment service): the standard gRPC health service answering probes with no
//! token, and turning `NOT_SERVING` the moment a stop begins.

use std::time::Duration;

use posgate_proto::v1 as pb;
use posgate_tests::{Options, Stack};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect_lazy()
}

async fn check(h: &mut HealthClient<Channel>, service: &str) -> ServingStatus {
    let status = h
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .unwrap_or_else(|e| panic!("health check of {service:?}: {e}"))
        .into_inner()
        .status;
    ServingStatus::try_from(status).expect("a known status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_probes_without_a_token_and_turns_not_serving_when_stopping() {
    let mut s = Stack::start_with(Options {
        drain_ms: 1_500,
        ..Options::default()
    })
    .await;

    // No token on these channels: the payment service itself refuses such a caller...
    let refused = posgate_tests::client_for(s.payments_addr, "")
        .list_payments(pb::ListPaymentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    // ...but its health answers, for the server and for each of its services.
    let mut payments = HealthClient::new(channel(s.payments_addr));
    for service in [
        "",
        "posgate.v1.PaymentService",
        "posgate.v1.RestaurantService",
        "posgate.v1.ChannelService",
    ] {
        assert_eq!(
            check(&mut payments, service).await,
            ServingStatus::Serving,
            "{service:?}"
        );
    }
    let unknown = payments
        .check(HealthCheckRequest {
            service: "posgate.v1.Nothing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    // The adapter's health too (served by posgate_grpc::serve_adapter).
    let mut adapter = HealthClient::new(channel(s.adapter_addr));
    for service in ["", "posgate.v1.PosAdapter"] {
        assert_eq!(
            check(&mut adapter, service).await,
            ServingStatus::Serving,
            "adapter {service:?}"
        );
    }

    // A stop begins: a watcher hears NOT_SERVING and its stream ends (so it cannot hold the
    // server open); a probe during the drain window gets NOT_SERVING.
    let mut watch = payments
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("watch answers").expect("one");
    assert_eq!(first.status, ServingStatus::Serving as i32);
    s.signal_stop_payments();
    let heard = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("the watcher hears of the stop")
        .expect("a message")
        .expect("one");
    assert_eq!(heard.status, ServingStatus::NotServing as i32);
    let end = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("the stream ends");
    assert!(matches!(end, Ok(None)), "{end:?}");
    assert_eq!(
        check(&mut payments, "posgate.v1.PaymentService").await,
        ServingStatus::NotServing
    );
    let started = tokio::time::Instant::now();
    s.stop_payments().await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the stop finished: nothing held the server open"
    );
    assert!(
        payments.check(HealthCheckRequest::default()).await.is_err(),
        "stopped: no answer at all"
    );
}

#[tokio::test]
async fn the_database_check_wants_this_builds_schema() {
    let dir = std::env::temp_dir().join(format!("posgate-health-db-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("p.db").display());
    let store = posgate_payments::store::Store::open(&url, posgate_tests::keyring())
        .await
        .expect("open");
    store.check_health().await.expect("migrated: healthy");
    // An older schema (its newest migration undone in the books) is not this build's.
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let err = store.check_health().await.unwrap_err().to_string();
    assert!(err.contains("not migrated"), "{err}");
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}
