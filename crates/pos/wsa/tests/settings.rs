//! A restaurant's connection read into WSA settings, through the public API: every setting,
//! its checks and the errors naming it, the token never quoted.

use posgate_proto::v1::PosConnection;
use posgate_wsa::settings::*;
use std::path::Path;

/// A valid value for every setting in the table.
fn sample(name: &str) -> &'static str {
    match name {
        "base_url" => "https://ws.example",
        "token" => "tok-SECRET-42",
        "object_id" => "199990246",
        "agent_version" => "v2",
        "currency_guid" => "cur-1",
        "tips_currency_guid" => "tips-1",
        "ca_pem" => "", // checked by its own case below
        "cash_station_id" => "3",
        "cashier_id" => "12",
        "mode" => "sync",
        "task_timeout_s" => "30",
        "poll_interval_ms" => "100",
        "timeout_margin_ms" => "700",
        other => panic!("no sample value for setting {other:?}: add one"),
    }
}

/// A connection with the given settings, secrets going where the table says.
fn conn(names: &[&str]) -> PosConnection {
    let mut c = PosConnection {
        currency_scale: 2,
        version: 1,
        ..Default::default()
    };
    for n in names {
        let s = SETTINGS.iter().find(|s| s.name == *n).unwrap();
        let m = if s.secret {
            &mut c.secrets
        } else {
            &mut c.settings
        };
        m.insert(n.to_string(), sample(n).to_string());
    }
    c
}

fn required() -> Vec<&'static str> {
    SETTINGS
        .iter()
        .filter(|s| s.required)
        .map(|s| s.name)
        .collect()
}

#[test]
fn the_table_is_exactly_the_struct_s_fields() {
    let listed: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    assert_eq!(listed, posgate_pos_kit::field_names::<WsaSettings>());
    assert!(SETTINGS.iter().all(|s| !s.description.is_empty()));
}

#[test]
fn exactly_the_required_settings_make_a_restaurant() {
    let r = WsaSettings::read(&conn(&required())).unwrap();
    assert_eq!(r.object_id, 199990246);
    assert_eq!(r.token.expose(), "tok-SECRET-42");
    assert_eq!(r.agent_version, AgentVersion::V2);
    assert_eq!(r.mode, TaskMode::Async);
    assert_eq!((r.task_timeout_s, r.poll_interval_ms), (120, 500));
    assert!(r.ca_pem.is_none());
    assert!(
        !format!("{r:?}").contains("tok-SECRET-42"),
        "Debug hides the token"
    );
}

#[test]
fn a_missing_required_setting_is_named() {
    for missing in required() {
        let names: Vec<_> = required().into_iter().filter(|n| *n != missing).collect();
        let e = WsaSettings::read(&conn(&names)).unwrap_err();
        assert!(e.contains(&format!("{missing:?}")), "{missing}: {e}");
        assert!(!e.contains("tok-SECRET-42"), "{e}");
    }
}

#[test]
fn every_optional_setting_is_accepted() {
    for s in SETTINGS
        .iter()
        .filter(|s| !s.required && s.name != "ca_pem")
    {
        let mut names = required();
        names.push(s.name);
        let r = WsaSettings::read(&conn(&names));
        assert!(r.is_ok(), "{}: {:?}", s.name, r.err());
    }
    let all = [
        required(),
        vec!["mode", "task_timeout_s", "cash_station_id"],
    ]
    .concat();
    let r = WsaSettings::read(&conn(&all)).unwrap();
    assert_eq!(r.mode, TaskMode::Sync);
    assert_eq!(r.task_timeout_s, 30);
    assert_eq!(r.cash_station_id, Some(3));
    let mut long = conn(&required());
    long.settings.insert("task_timeout_s".into(), "500".into());
    let r = WsaSettings::read(&long).unwrap();
    assert_eq!(r.effective_task_timeout_s(), 180);
}

#[test]
fn unknown_and_misplaced_settings_are_refused_by_name() {
    for name in ["colour", "token_file", "ca_file", "currency_scale"] {
        let mut c = conn(&required());
        c.settings
            .insert(name.to_ascii_uppercase(), "/etc/passwd".into());
        let e = WsaSettings::read(&c).unwrap_err();
        assert!(e.contains(&format!("{name:?}")), "{e}");
        assert!(!e.contains("/etc/passwd"), "{e}");
    }
    // A secret sent as a plain setting.
    let mut c = conn(&required());
    let token = c.secrets.remove("token").unwrap();
    c.settings.insert("token".into(), token);
    let e = WsaSettings::read(&c).unwrap_err();
    assert!(e.contains("\"token\"") && e.contains("secrets"), "{e}");
    assert!(!e.contains("tok-SECRET-42"), "{e}");
}

#[test]
fn bad_values_name_the_setting_and_never_quote_the_value() {
    let cases = [
        ("object_id", "not-a-number-SECRET"),
        ("agent_version", "v9-SECRET"),
        ("mode", "fast-SECRET"),
        ("base_url", "ftp://host-SECRET"),
        ("token", ""),
        ("token", "line\nbreak-SECRET"),
        ("currency_guid", " "),
        ("tips_currency_guid", " "),
        ("ca_pem", "no certificate here SECRET"),
        // PEM, but not a certificate the TLS stack takes (was "builder error" later).
        (
            "ca_pem",
            "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n",
        ),
        ("poll_interval_ms", "0"),
    ];
    for (name, value) in cases {
        let mut c = conn(&required());
        let m = if name == "token" {
            &mut c.secrets
        } else {
            &mut c.settings
        };
        m.insert(name.into(), value.into());
        let e = WsaSettings::read(&c).unwrap_err();
        assert!(e.starts_with(&format!("setting {name:?} ")), "{name}: {e}");
        assert!(!e.contains("SECRET"), "{name}: {e}");
    }
}

/// The demo restaurants `posgate up` declares are valid WSA connections.
#[test]
fn the_shipped_demo_restaurants_are_valid_connections() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../deploy/restaurants.toml");
    let doc: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let text_of = |v: &toml::Value| match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut seen = 0;
    for (id, r) in doc["restaurants"].as_table().unwrap() {
        if r["pos_kind"].as_str() != Some("wsa") {
            continue;
        }
        let table = |k: &str| {
            r.get(k)
                .and_then(|t| t.as_table())
                .map(|t| t.iter().map(|(k, v)| (k.clone(), text_of(v))).collect())
                .unwrap_or_default()
        };
        let conn = PosConnection {
            settings: table("pos_settings"),
            secrets: table("pos_secrets"),
            currency_scale: 2,
            version: 1,
        };
        WsaSettings::read(&conn).unwrap_or_else(|e| panic!("{id}: {e}"));
        seen += 1;
    }
    assert_eq!(seen, 2, "demo and demo-v1");
}

/// The shipped config has a `[wsa]` section the kit reads (no restaurants in it).
#[test]
fn the_shipped_deploy_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../deploy/posgate.toml");
    let cfg = posgate_pos_kit::load_config::<posgate_wsa::WsaConnector>(Some(&path)).unwrap();
    assert_eq!(cfg.listen.port(), 50061);
    assert_eq!(cfg.max_connections_per_host, 256);
}

#[test]
fn the_bound_on_exchanges_per_pos_server_is_read_and_zero_is_refused() {
    let dir = std::env::temp_dir().join(format!("posgate-wsa-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("posgate.toml");
    let load = |text: &str| {
        std::fs::write(&path, text).unwrap();
        posgate_pos_kit::load_config::<posgate_wsa::WsaConnector>(Some(&path))
    };
    let cfg = load("[wsa]\nmax_connections_per_host = 32\n").unwrap();
    assert_eq!(cfg.max_connections_per_host, 32);
    let cfg = load("[wsa]\n").unwrap();
    assert_eq!(
        cfg.max_connections_per_host,
        posgate_pos_kit::HostLimits::DEFAULT_MAX
    );
    let e = load("[wsa]\nmax_connections_per_host = 0\n").unwrap_err();
    assert!(
        format!("{e:#}").contains("max_connections_per_host"),
        "{e:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_client_of_the_settings_never_shows_the_token() {
    let r: WsaSettings = serde_json::from_value(serde_json::json!({
        "base_url": "http://127.0.0.1:1", "token": "super-secret-token", "object_id": 1,
        "agent_version": "v2", "currency_guid": "c"
    }))
    .unwrap();
    let http = posgate_wsa::client::http_client(None).unwrap();
    let c = posgate_wsa::client::WsaClient::new(http, &r);
    let shown = format!("{c:?}");
    assert!(shown.contains("127.0.0.1:1"), "{shown}");
    assert!(!shown.contains("super-secret-token"), "{shown}");
}
