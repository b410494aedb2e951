//! A hostile or broken caller: every path refuses what it must not take with `INVALID_ARGUMENT`
//! naming the field, before anything reaches a POS or a log line.

use posgate_proto::v1::{self as pb};
use posgate_sim::wsa::DEMO_ORDER_978;
use posgate_tests::{Stack, pay};
use tonic::Code;

/// Ids that would forge a log line or display as something else.
const UNSAFE: &[&str] = &[
    "b1\nforged",
    "b\u{202E}1",
    "b1\u{0}",
    "b\u{2066}1",
    "b1\u{2028}x",
];

fn assert_invalid<T: std::fmt::Debug>(r: Result<T, tonic::Status>, field: &str) {
    let err = r.expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().starts_with(field),
        "{field}: {}",
        err.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_and_bidi_characters_are_refused_on_every_path() {
    let s = Stack::start().await;
    let mut c = s.client();
    for v in UNSAFE {
        let v = v.to_string();
        assert_invalid(
            c.get_bill(pb::GetBillRequest {
                restaurant_id: "demo".into(),
                bill_id: v.clone(),
            })
            .await,
            "bill_id",
        );
        assert_invalid(
            c.get_bill(pb::GetBillRequest {
                restaurant_id: v.clone(),
                bill_id: DEMO_ORDER_978.into(),
            })
            .await,
            "restaurant_id",
        );
        assert_invalid(
            c.close_bill(pb::CloseBillRequest {
                restaurant_id: "demo".into(),
                bill_id: v.clone(),
            })
            .await,
            "bill_id",
        );
        assert_invalid(
            c.list_bills(pb::ListBillsRequest {
                restaurant_id: "demo".into(),
                table: v.clone(),
            })
            .await,
            "table",
        );
        assert_invalid(
            c.get_payment(pb::GetPaymentRequest {
                payment_id: v.clone(),
            })
            .await,
            "payment_id",
        );
        assert_invalid(
            c.list_payments(pb::ListPaymentsRequest {
                bill_id: v.clone(),
                ..Default::default()
            })
            .await,
            "bill_id",
        );
        assert_invalid(c.pay_bill(pay("k", "demo", &v, "978.00")).await, "bill_id");
        let mut p = pay("k", "demo", DEMO_ORDER_978, "978.00");
        p.fiscal_data.insert(v.clone(), "x".into());
        assert_invalid(c.pay_bill(p).await, "fiscal_data[");
    }
    for task in ["GetOrder", "GetOrderList", "PayOrder"] {
        assert_eq!(s.sim.requests(task), 0, "no {task} reached the POS");
    }
}

/// `PayBillRequest` with bytes where the contract has strings: lets a test send a request that
/// is not valid UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct RawPayBill {
    #[prost(bytes = "vec", tag = "1")]
    idempotency_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    restaurant_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    bill_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    amount: Vec<u8>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_request_is_invalid_argument_and_nothing_is_kept() {
    let s = Stack::start().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", s.payments_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut req = tonic::Request::new(RawPayBill {
        idempotency_key: b"k-\xff\xfe".to_vec(),
        restaurant_id: b"demo".to_vec(),
        bill_id: DEMO_ORDER_978.as_bytes().to_vec(),
        amount: b"978.00".to_vec(),
    });
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", posgate_tests::CLI_TOKEN)
            .parse()
            .unwrap(),
    );
    let err = grpc
        .unary::<_, pb::Payment, _>(
            req,
            "/posgate.v1.PaymentService/PayBill".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("UTF-8"), "{}", err.message());
    let listed = s
        .client()
        .list_payments(pb::ListPaymentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.payments.is_empty(), "nothing was kept");
    assert_eq!(s.sim.requests("PayOrder"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_payments_pages_with_its_own_tokens_only() {
    let s = Stack::start().await;
    let mut c = s.client();
    for (i, total) in ["10.00", "20.00", "30.00"].iter().enumerate() {
        let bill = s.add_order(posgate_sim::wsa::DEMO_OBJECT_ID, total);
        c.pay_bill(pay(&format!("page-{i}"), "demo", &bill, total))
            .await
            .unwrap();
    }
    for bad in [
        "garbage",
        "' OR 1=1 --",
        "00000000-0000-0000-0000-00000000000g",
    ] {
        assert_invalid(
            c.list_payments(pb::ListPaymentsRequest {
                page_token: bad.into(),
                ..Default::default()
            })
            .await,
            "page_token",
        );
    }
    // A huge page size is served as the largest page, not refused and not unbounded.
    let all = c
        .list_payments(pb::ListPaymentsRequest {
            page_size: u32::MAX,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.payments.len(), 3);
    // Pages of one follow each other through their tokens and end.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .list_payments(pb::ListPaymentsRequest {
                page_size: 1,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.payments.len() <= 1);
        seen.extend(page.payments.into_iter().map(|p| p.payment_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    let mut ids: Vec<_> = all.payments.into_iter().map(|p| p.payment_id).collect();
    ids.sort();
    seen.sort();
    assert_eq!(seen, ids);
}
