//! What a platform team holds on to, over the real ports of a running stack (WSA simulator,
//! WSA adapter, payment service): the standard gRPC health service answering probes with no
//! token, and turning `NOT_SERVING` the moment a stop begins; server reflection for any caller
//! with a token; the admin port's `/metrics` after one payment, `/livez` and `/readyz`.

use std::time::Duration;

use posgate_grpc::CallerToken;
use posgate_proto::v1 as pb;
use posgate_tests::{CLI_TOKEN, Options, PAYMENTS_TOKEN, Stack, metric_series as series};
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
    let open = [
        posgate_core::PaymentState::Accepted,
        posgate_core::PaymentState::Posting,
    ];
    assert_eq!(
        store.check_health(&open).await.expect("migrated: healthy"),
        vec![],
        "no payment yet"
    );
    // An older schema (its newest migration undone in the books) is not this build's.
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let err = store.check_health(&open).await.unwrap_err().to_string();
    assert!(err.contains("not migrated"), "{err}");
    // A newer schema (a newer build migrated the database under this one) is not this build's
    // either: this replica must stop taking work.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
         VALUES (9998, 'from a newer build', CURRENT_TIMESTAMP, 1, x'00', 0),
                (9999, 'from a newer build', CURRENT_TIMESTAMP, 1, x'00', 0)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    let err = store.check_health(&open).await.unwrap_err().to_string();
    assert!(err.contains("newer than this build"), "{err}");
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The services a server lists through reflection v1 (`grpcurl list`), asked with `token`.
async fn list_v1(addr: std::net::SocketAddr, token: &str) -> Result<Vec<String>, tonic::Status> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut c = ServerReflectionClient::with_interceptor(channel(addr), CallerToken::bearer(token));
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = c
        .server_reflection_info(futures::stream::iter([req]))
        .await?
        .into_inner();
    let answer = answers.message().await?.expect("one answer");
    match answer.message_response {
        Some(MessageResponse::ListServicesResponse(l)) => {
            let mut names: Vec<String> = l.service.into_iter().map(|s| s.name).collect();
            names.sort();
            Ok(names)
        }
        other => panic!("not a service list: {other:?}"),
    }
}

/// The same through v1alpha, for older clients; also describes a service's file.
async fn list_v1alpha(addr: std::net::SocketAddr, token: &str) -> (Vec<String>, Vec<Vec<u8>>) {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    let mut c = ServerReflectionClient::with_interceptor(channel(addr), CallerToken::bearer(token));
    let reqs = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("posgate.v1.PaymentService".into()),
    ]
    .map(|m| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(m),
    });
    let mut answers = c
        .server_reflection_info(futures::stream::iter(reqs))
        .await
        .expect("v1alpha reflection")
        .into_inner();
    let (mut names, mut files) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        match answers
            .message()
            .await
            .expect("answer")
            .expect("one")
            .message_response
        {
            Some(MessageResponse::ListServicesResponse(l)) => {
                names = l.service.into_iter().map(|s| s.name).collect();
            }
            Some(MessageResponse::FileDescriptorResponse(f)) => files = f.file_descriptor_proto,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    names.sort();
    (names, files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_each_servers_services_to_callers_with_a_token() {
    let s = Stack::start().await;
    assert_eq!(
        list_v1(s.payments_addr, CLI_TOKEN)
            .await
            .expect("reflection with a token"),
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "posgate.v1.ChannelService",
            "posgate.v1.PaymentService",
            "posgate.v1.RestaurantService",
        ]
    );
    let (names, files) = list_v1alpha(s.payments_addr, CLI_TOKEN).await;
    assert!(
        names.contains(&"grpc.reflection.v1alpha.ServerReflection".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"posgate.v1.PaymentService".to_string()),
        "{names:?}"
    );
    assert!(
        files
            .iter()
            .any(|f| String::from_utf8_lossy(f).contains("posgate/v1/payments.proto")),
        "the file describing PaymentService comes back"
    );
    // The adapter describes what it serves, to any caller with a token (not only payments).
    assert_eq!(
        list_v1(s.adapter_addr, PAYMENTS_TOKEN)
            .await
            .expect("adapter reflection"),
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "posgate.v1.PosAdapter",
        ]
    );
    assert!(list_v1(s.adapter_addr, CLI_TOKEN).await.is_ok());
    // No token, or a wrong one: nothing is said about the port.
    for token in ["", "not-a-token"] {
        let err = list_v1(s.payments_addr, token).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{token:?}");
    }
}

async fn scrape(admin: std::net::SocketAddr) -> String {
    let res = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .expect("scrape");
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    res.text().await.expect("page")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_payment_shows_on_the_metrics_page() {
    let s = Stack::start_with(Options {
        admin: true,
        ..Options::default()
    })
    .await;
    let admin = s.admin_addr.expect("admin port");
    let live = reqwest::get(format!("http://{admin}/livez")).await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = reqwest::get(format!("http://{admin}/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), "payments: serving\n");

    // Other tests of this binary record into the same process-wide recorder: compare figures
    // before and after this test's own payment.
    let before = scrape(admin).await;
    let bill = s.add_order(posgate_sim::wsa::DEMO_OBJECT_ID, "150.00");
    let p = s
        .client()
        .pay_bill(posgate_tests::pay("metrics-1", "demo", &bill, "150.00"))
        .await
        .expect("pay")
        .into_inner();
    assert_eq!(posgate_tests::state(&p), pb::PaymentState::Closed, "{p:?}");
    let refused = posgate_tests::client_for(s.payments_addr, "")
        .get_payment(pb::GetPaymentRequest {
            payment_id: p.payment_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let after = scrape(admin).await;

    let grew = |name: &str, labels: &[(&str, &str)]| {
        series(&after, name, labels) - series(&before, name, labels)
    };
    for (name, labels) in [
        // The payment's way through the states.
        (
            "posgate_payment_transitions_total",
            &[("state", "accepted")][..],
        ),
        ("posgate_payment_transitions_total", &[("state", "posting")]),
        (
            "posgate_payment_transitions_total",
            &[("state", "closed"), ("substate", "")],
        ),
        // PayBill's latency, by the state it answered.
        (
            "posgate_pay_bill_duration_seconds_count",
            &[("result", "closed")],
        ),
        // The POS calls, measured in the payment service's port, by kind/operation/result.
        (
            "posgate_pos_call_duration_seconds_count",
            &[("pos", "wsa"), ("operation", "get_bill"), ("result", "ok")],
        ),
        (
            "posgate_pos_call_duration_seconds_count",
            &[
                ("pos", "wsa"),
                ("operation", "post_payment"),
                ("result", "pending"),
            ],
        ),
        // WSA async: the posting's task answered a look.
        (
            "posgate_pos_call_duration_seconds_count",
            &[
                ("pos", "wsa"),
                ("operation", "check_payment"),
                ("result", "applied"),
            ],
        ),
        // gRPC calls by server, method and code: ours, the adapter's, and the refusal.
        (
            "posgate_grpc_server_requests_total",
            &[
                ("server", "payments"),
                ("method", "posgate.v1.PaymentService/PayBill"),
                ("code", "OK"),
            ],
        ),
        (
            "posgate_grpc_server_requests_total",
            &[
                ("server", "wsa"),
                ("method", "posgate.v1.PosAdapter/PostPayment"),
                ("code", "OK"),
            ],
        ),
        (
            "posgate_grpc_server_requests_total",
            &[
                ("server", "payments"),
                ("method", "posgate.v1.PaymentService/GetPayment"),
                ("code", "UNAUTHENTICATED"),
            ],
        ),
        ("posgate_restaurant_limiter_wait_seconds_count", &[]),
        // The store's operations, by query: the payment's insert and saves, group-committed.
        (
            "posgate_db_query_duration_seconds_count",
            &[("query", "insert"), ("result", "ok")],
        ),
        (
            "posgate_db_query_duration_seconds_count",
            &[("query", "save"), ("result", "ok")],
        ),
        ("posgate_db_write_batch_size_count", &[]),
    ] {
        assert!(
            grew(name, labels) >= 1.0,
            "{name} {labels:?} did not grow:\n{after}"
        );
    }
    for (kind, name) in [
        ("counter", "posgate_payment_transitions_total"),
        ("histogram", "posgate_pay_bill_duration_seconds"),
        ("histogram", "posgate_pos_call_duration_seconds"),
        ("histogram", "posgate_db_query_duration_seconds"),
        ("counter", "posgate_grpc_server_requests_total"),
        ("gauge", "posgate_payments_in_flight"),
        ("gauge", "posgate_payments_open"),
        ("gauge", "posgate_db_pool_connections"),
    ] {
        assert!(
            after.contains(&format!("# TYPE {name} {kind}")),
            "{name} is a {kind}:\n{after}"
        );
        assert!(
            after.contains(&format!("# HELP {name} ")),
            "{name} has help"
        );
    }
    assert!(
        after.contains("posgate_pos_call_duration_seconds_bucket{"),
        "latencies are histograms with buckets"
    );
    // The adapter's exchanges with the POS, by POS kind and HTTP status.
    assert!(
        grew(
            "posgate_pos_http_request_duration_seconds_count",
            &[("pos", "r_keeper_wsa"), ("result", "200")]
        ) >= 1.0,
        "{after}"
    );
    // Restaurant ids are no labels unless `[metrics] restaurant_label` says so; bill ids never.
    assert!(
        !after.contains("=\"demo\"") && !after.contains("restaurant_id="),
        "a restaurant id became a label"
    );
    assert!(!after.contains(&bill), "a bill id became a label");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_and_reconciliations_are_counted_by_cause() {
    use posgate_sim::wsa::{DEMO_OBJECT_ID, Fault, FaultKind};
    let s = Stack::start_with(Options {
        admin: true,
        task_timeout_s: 1,
        pay_wait_ms: 300,
        ..Options::default()
    })
    .await;
    let admin = s.admin_addr.expect("admin port");
    let before = scrape(admin).await;

    // The bill is in use at the till once: retried with that cause.
    let busy = s.add_order(DEMO_OBJECT_ID, "500.00");
    s.sim.inject(
        Fault::new(FaultKind::BillLocked)
            .for_order(busy.clone())
            .times(1),
    );
    // The agent never answers once: the outcome is unknown until the bill is read back.
    let silent = s.add_order(DEMO_OBJECT_ID, "75.50");
    s.sim.inject(
        Fault::new(FaultKind::AgentTimeout)
            .for_order(silent.clone())
            .times(1),
    );
    for (key, bill, amount) in [("busy", &busy, "500.00"), ("silent", &silent, "75.50")] {
        let p = s
            .client()
            .pay_bill(posgate_tests::pay(key, "demo", bill, amount))
            .await
            .expect("pay")
            .into_inner();
        let p = s.wait_until(&p.payment_id, 30, |p| p.r#final).await;
        assert_eq!(posgate_tests::state(&p), pb::PaymentState::Closed, "{p:?}");
    }
    let after = scrape(admin).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        series(&after, name, labels) - series(&before, name, labels)
    };
    for (name, labels) in [
        (
            "posgate_payment_retries_total",
            &[("cause", "BILL_IN_USE")][..],
        ),
        (
            "posgate_payment_transitions_total",
            &[("state", "retrying"), ("substate", "BILL_IN_USE")],
        ),
        (
            "posgate_payment_transitions_total",
            &[("state", "outcome_unknown")],
        ),
        ("posgate_payment_reconciliations_total", &[]),
        ("posgate_bill_reads_ahead_total", &[("result", "posted_on")]),
        (
            "posgate_pos_call_duration_seconds_count",
            &[("pos", "wsa"), ("operation", "check_payment")],
        ),
    ] {
        assert!(
            grew(name, labels) >= 1.0,
            "{name} {labels:?} did not grow:\n{after}"
        );
    }
}
