//! The restaurant registry over real gRPC: operators declare restaurants at run time; every
//! field is checked and named; secrets are write-only and sealed at rest; a change made through
//! one replica is seen by every replica at once; only operators may call it.

use std::collections::HashMap;
use std::net::SocketAddr;

use posgate_grpc::CallerToken;
use posgate_proto::v1::restaurant_service_client::RestaurantServiceClient;
use posgate_proto::v1::{self as pb};
use posgate_tests::{CLI_TOKEN, EXPIRENZA_TOKEN, OPERATOR_TOKEN, Options, Stack, fresh_postgres};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Registry = RestaurantServiceClient<InterceptedService<Channel, CallerToken>>;

fn registry(addr: SocketAddr, token: &str) -> Registry {
    RestaurantServiceClient::with_interceptor(
        Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy(),
        CallerToken::bearer(token),
    )
}

const TOKEN: &str = "wsa-token-PLANTED-7f3a";
const EXPIRENZA_KEY: &str = "expirenza-key-PLANTED-5d0e";

fn spec() -> pb::RestaurantSpec {
    pb::RestaurantSpec {
        display_name: "Кафе «Пузата хата», Хрещатик".into(),
        pos_kind: "wsa".into(),
        currency: "UAH".into(),
        currency_scale: 2,
        pos_settings: HashMap::from([
            ("base_url".into(), "https://ws.ucs.ru".into()),
            ("object_id".into(), "199990246".into()),
            ("agent_version".into(), "v2".into()),
            (
                "currency_guid".into(),
                "5f9d3e8a-2c41-4b7e-9d1a-6c0b8e7f1a20".into(),
            ),
        ]),
        pos_secrets: HashMap::from([("token".into(), TOKEN.into())]),
        expirenza: Some(pb::ExpirenzaChannel {
            resto_id: "resto-42".into(),
            ws_url: "wss://api.shaketopay.com.ua/restaurantEntryPoint".into(),
            callback_base_url: "https://api.shaketopay.com.ua".into(),
            secret_key: EXPIRENZA_KEY.into(),
            tips: "separate".into(),
            tables: vec!["1".into(), "12".into(), "VIP-3".into()],
        }),
    }
}

fn create(id: &str, spec: pb::RestaurantSpec) -> pb::CreateRestaurantRequest {
    pb::CreateRestaurantRequest {
        restaurant_id: id.into(),
        spec: Some(spec),
    }
}

fn no_secret_in(what: &str, text: &str) {
    for s in [TOKEN, EXPIRENZA_KEY] {
        assert!(!text.contains(s), "{what} shows a secret");
    }
}

async fn lifecycle(s: &Stack) {
    let mut r = registry(s.payments_addr, OPERATOR_TOKEN);
    let made = r
        .create_restaurant(create("kyiv-1", spec()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(made.restaurant_id, "kyiv-1");
    assert_eq!(made.version, 1);
    assert!(made.enabled);
    assert_eq!(made.pos_secrets_set, vec!["token"]);
    let e = made.expirenza.clone().unwrap();
    assert!(e.secret_key_set);
    assert_eq!(e.resto_id, "resto-42");
    assert_eq!(e.tables, ["1", "12", "VIP-3"]);
    no_secret_in("the created answer", &format!("{made:?}"));

    let err = r
        .create_restaurant(create("kyiv-1", spec()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");

    // An update replaces the description; secrets not named stay.
    let mut changed = spec();
    changed.display_name = "Пузата хата".into();
    changed
        .pos_settings
        .insert("object_id".into(), "199990247".into());
    changed.pos_secrets.clear();
    changed.expirenza.as_mut().unwrap().secret_key.clear();
    let up = r
        .update_restaurant(pb::UpdateRestaurantRequest {
            restaurant_id: "kyiv-1".into(),
            spec: Some(changed.clone()),
            clear_secrets: vec![],
            expected_version: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(up.version, 2);
    assert_eq!(up.display_name, "Пузата хата");
    assert_eq!(up.pos_settings["object_id"], "199990247");
    assert_eq!(up.pos_secrets_set, vec!["token"], "kept unless cleared");
    assert!(
        up.expirenza.unwrap().secret_key_set,
        "an empty key keeps the stored one"
    );

    // Clearing a secret the POS needs is refused by its adapter, naming it; nothing changes.
    let err = r
        .update_restaurant(pb::UpdateRestaurantRequest {
            restaurant_id: "kyiv-1".into(),
            spec: Some(changed.clone()),
            clear_secrets: vec!["token".into()],
            expected_version: 2,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().starts_with("spec.pos_settings"),
        "{}",
        err.message()
    );
    assert!(err.message().contains("token"), "{}", err.message());

    // The stored secrets still open (they are what the adapters will be sent).
    let rec = posgate_payments::store::Store::open(&stack_db(s), posgate_tests::keyring())
        .await
        .unwrap()
        .registry()
        .get("kyiv-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.spec.pos_secrets["token"].expose(), TOKEN);
    assert_eq!(
        rec.spec.expirenza.unwrap().secret_key.expose(),
        EXPIRENZA_KEY
    );

    // Optimistic concurrency: a stale version is refused.
    let err = r
        .update_restaurant(pb::UpdateRestaurantRequest {
            restaurant_id: "kyiv-1".into(),
            spec: Some(changed),
            clear_secrets: vec![],
            expected_version: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");

    let got = r
        .get_restaurant(pb::GetRestaurantRequest {
            restaurant_id: "kyiv-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.version, 2);
    no_secret_in("get", &format!("{got:?}"));

    let err = r
        .get_restaurant(pb::GetRestaurantRequest {
            restaurant_id: "nowhere".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Paging and disabling.
    for id in ["lviv-1", "odesa-1"] {
        r.create_restaurant(create(id, spec())).await.unwrap();
    }
    let off = r
        .disable_restaurant(pb::DisableRestaurantRequest {
            restaurant_id: "lviv-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!off.enabled);
    let list = |include_disabled, page_size, page_token: String| pb::ListRestaurantsRequest {
        include_disabled,
        page_size,
        page_token,
    };
    let enabled = r
        .list_restaurants(list(false, 0, String::new()))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = enabled
        .restaurants
        .iter()
        .map(|r| r.restaurant_id.as_str())
        .collect();
    assert_eq!(ids, vec!["kyiv-1", "odesa-1"]);
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = r
            .list_restaurants(list(true, 2, token))
            .await
            .unwrap()
            .into_inner();
        all.extend(page.restaurants.into_iter().map(|r| r.restaurant_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(all, vec!["kyiv-1", "lviv-1", "odesa-1"]);
}

fn stack_db(s: &Stack) -> String {
    posgate_payments::PaymentsConfig::load(Some(&s.config_path))
        .unwrap()
        .database_url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_declare_restaurants_at_run_time_on_sqlite() {
    let s = Stack::start_with(Options::empty_registry()).await;
    lifecycle(&s).await;
    // No secret in the database file, its WAL or its shared memory, in any form.
    for suffix in ["", "-wal", "-shm"] {
        let f = s.dir.join(format!("posgate.db{suffix}"));
        if let Ok(bytes) = std::fs::read(&f) {
            let text = String::from_utf8_lossy(&bytes);
            no_secret_in(&f.display().to_string(), &text);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_declare_restaurants_at_run_time_on_postgres() {
    let Some(pg) = fresh_postgres().await else {
        return;
    };
    let s = Stack::start_with(Options {
        database_url: Some(pg.url.clone()),
        ..Options::empty_registry()
    })
    .await;
    lifecycle(&s).await;
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&pg.url).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT concat_ws('|', id, display_name, pos_settings, pos_secrets, expirenza) FROM restaurants",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    for (row,) in rows {
        no_secret_in("a restaurants row", &row);
    }
    drop(c);
    drop(s);
    pg.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restaurant_made_through_one_replica_is_seen_by_another_at_once() {
    let mut s = Stack::start().await;
    s.add_payments_replica().await;
    let other = s.replica_addrs[0];
    registry(s.payments_addr, OPERATOR_TOKEN)
        .create_restaurant(create("kharkiv-1", spec()))
        .await
        .unwrap();
    let seen = registry(other, OPERATOR_TOKEN)
        .get_restaurant(pb::GetRestaurantRequest {
            restaurant_id: "kharkiv-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.version, 1);
    registry(other, OPERATOR_TOKEN)
        .disable_restaurant(pb::DisableRestaurantRequest {
            restaurant_id: "kharkiv-1".into(),
        })
        .await
        .unwrap();
    let back = registry(s.payments_addr, OPERATOR_TOKEN)
        .get_restaurant(pb::GetRestaurantRequest {
            restaurant_id: "kharkiv-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!back.enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_operators_may_call_the_registry() {
    let s = Stack::start().await;
    for (who, token) in [("cli", CLI_TOKEN), ("expirenza", EXPIRENZA_TOKEN)] {
        let mut r = registry(s.payments_addr, token);
        let err = r
            .create_restaurant(create("x-1", spec()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{who}");
        assert!(err.message().contains("RestaurantService/CreateRestaurant"));
        let err = r
            .list_restaurants(pb::ListRestaurantsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{who}");
    }
    let err = registry(s.payments_addr, "")
        .list_restaurants(pb::ListRestaurantsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_field_is_named_and_nothing_is_kept() {
    let s = Stack::start_with(Options::empty_registry()).await;
    let mut r = registry(s.payments_addr, OPERATOR_TOKEN);
    type Tweak = fn(&mut pb::CreateRestaurantRequest);
    let cases: Vec<(&str, Tweak)> = vec![
        ("restaurant_id", |c| c.restaurant_id = "bad\nid".into()),
        ("restaurant_id", |c| c.restaurant_id = String::new()),
        ("spec:", |c| c.spec = None),
        ("spec.display_name", |c| {
            c.spec.as_mut().unwrap().display_name = " ".into()
        }),
        ("spec.display_name", |c| {
            c.spec.as_mut().unwrap().display_name = "Caf\u{202E}e".into()
        }),
        ("spec.pos_kind", |c| {
            c.spec.as_mut().unwrap().pos_kind = "iiko".into()
        }),
        ("spec.currency", |c| {
            c.spec.as_mut().unwrap().currency = "uah".into()
        }),
        ("spec.currency", |c| {
            c.spec.as_mut().unwrap().currency = "HRYVNIA".into()
        }),
        ("spec.currency_scale", |c| {
            c.spec.as_mut().unwrap().currency_scale = 9
        }),
        ("spec.pos_settings[", |c| {
            c.spec
                .as_mut()
                .unwrap()
                .pos_settings
                .insert("base url".into(), "x".into());
        }),
        ("spec.pos_settings[base_url]", |c| {
            c.spec
                .as_mut()
                .unwrap()
                .pos_settings
                .insert("base_url".into(), "http://x\n".into());
        }),
        ("spec.pos_secrets[", |c| {
            c.spec
                .as_mut()
                .unwrap()
                .pos_secrets
                .insert(String::new(), "x".into());
        }),
        ("spec.expirenza.resto_id", |c| {
            c.spec
                .as_mut()
                .unwrap()
                .expirenza
                .as_mut()
                .unwrap()
                .resto_id = String::new()
        }),
        ("spec.expirenza.ws_url", |c| {
            c.spec.as_mut().unwrap().expirenza.as_mut().unwrap().ws_url = "https://x".into()
        }),
        ("spec.expirenza.callback_base_url", |c| {
            c.spec
                .as_mut()
                .unwrap()
                .expirenza
                .as_mut()
                .unwrap()
                .callback_base_url = "ftp://x".into()
        }),
        ("spec.expirenza.tips", |c| {
            c.spec.as_mut().unwrap().expirenza.as_mut().unwrap().tips = "all".into()
        }),
        ("spec.expirenza.tables[1]", |c| {
            c.spec.as_mut().unwrap().expirenza.as_mut().unwrap().tables[1] = " ".into()
        }),
        ("spec.expirenza.tables[2]", |c| {
            c.spec.as_mut().unwrap().expirenza.as_mut().unwrap().tables[2] = "1".into()
        }),
        ("spec.expirenza.tables[0]", |c| {
            c.spec.as_mut().unwrap().expirenza.as_mut().unwrap().tables[0] = "7\u{202E}".into()
        }),
        // What only the POS kind's adapter knows: a required setting, an unknown one, a value.
        ("spec.pos_settings", |c| {
            c.spec
                .as_mut()
                .unwrap()
                .pos_settings
                .remove("currency_guid");
        }),
        ("spec.pos_settings", |c| {
            c.spec
                .as_mut()
                .unwrap()
                .pos_settings
                .insert("colour".into(), "red".into());
        }),
        ("spec.pos_settings", |c| {
            c.spec
                .as_mut()
                .unwrap()
                .pos_settings
                .insert("agent_version".into(), "v9".into());
        }),
    ];
    for (field, tweak) in cases {
        let mut req = create("ok-1", spec());
        tweak(&mut req);
        let err = r.create_restaurant(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            err.message().starts_with(field),
            "{field}: {}",
            err.message()
        );
        no_secret_in("an error", err.message());
    }
    let list = r
        .list_restaurants(pb::ListRestaurantsRequest {
            include_disabled: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(list.restaurants.is_empty(), "nothing was kept");
}
