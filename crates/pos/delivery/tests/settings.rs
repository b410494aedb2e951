//! A restaurant's connection read into r_k Delivery settings, through the public API: every
//! setting, its checks and the errors naming it, secrets never quoted.

use posgate_delivery::settings::*;
use posgate_pos_kit::Setting;
use posgate_pos_kit::clock::parse_offset;
use posgate_proto::v1::PosConnection;
use time::UtcOffset;

/// A value of every optional setting, unlike its default, in table order (`ca_pem`: a
/// real certificate is put in its place).
const SAMPLES: &[(&str, &str)] = &[
    ("base_url", "https://DELIVERY.ucs.ru/"),
    ("auth_url", "http://127.0.0.1:8091"),
    ("scopes", "orders menu"),
    ("currency_name", "Online"),
    ("utc_offset", "+03:00"),
    ("restaurant_guid", "8a3c1f6e-52d4-4b8e-9c71-0e2f4d5a6b70"),
    ("list_bills", "false"),
    ("list_lookback_hours", "6"),
    ("read_timeout_ms", "1500"),
    ("write_timeout_ms", "2500"),
    ("settle_margin_ms", "700"),
    ("ca_pem", ""),
];

/// A real CA certificate (PEM) for the `ca_pem` setting.
fn ca_pem_sample() -> String {
    posgate_sim::tls::TestCa::new().ca_pem
}

const SECRET: &str = "s3cr3t-Client-Value";

/// The required settings only: a secret in `secrets`, the rest in `settings`.
fn required_only() -> PosConnection {
    let mut c = PosConnection {
        currency_scale: 2,
        version: 1,
        ..Default::default()
    };
    for s in SETTINGS.iter().filter(|s| s.required) {
        if s.secret {
            c.secrets.insert(s.name.into(), SECRET.into());
        } else {
            c.settings
                .insert(s.name.into(), format!("{}-value", s.name));
        }
    }
    c
}

fn with(extra: &[(&str, &str)]) -> Result<DeliverySettings, String> {
    let mut c = required_only();
    for (k, v) in extra {
        c.settings.insert(k.to_string(), v.to_string());
    }
    DeliverySettings::from_connection(&c)
}

#[test]
fn the_settings_table_names_exactly_the_struct_fields() {
    let mut fields = posgate_pos_kit::field_names::<DeliverySettings>().to_vec();
    let mut table: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    assert!(fields.len() > 10, "{fields:?}");
    fields.sort_unstable();
    table.sort_unstable();
    let listed = table.len();
    table.dedup();
    assert_eq!(listed, table.len(), "a setting listed twice");
    assert_eq!(fields, table);
    for s in SETTINGS {
        assert!(
            !s.description.is_empty() && !s.description.contains('\n'),
            "{}: one line",
            s.name
        );
    }
    for (name, _) in NOT_IN_A_CONNECTION {
        assert!(!table.contains(name), "{name} is not a setting");
    }
}

#[test]
fn a_connection_of_exactly_the_required_settings_is_a_restaurant() {
    let r = DeliverySettings::from_connection(&required_only()).unwrap();
    assert_eq!(r.client_id, "client_id-value");
    assert_eq!(r.client_secret.expose(), SECRET);
    assert_eq!(r.currency_guid, "currency_guid-value");
    // The defaults; the production auth server implied.
    assert_eq!(r.base_url, DEFAULT_BASE_URL);
    assert_eq!(r.auth_url, DEFAULT_AUTH_URL);
    assert_eq!(r.scopes, "orders");
    assert_eq!(r.offset(), Some(UtcOffset::UTC));
    assert!(r.list_bills);
    assert_eq!((r.read_timeout_ms, r.write_timeout_ms), (30_000, 190_000));
    assert!(!format!("{r:?}").contains(SECRET));
}

#[test]
fn a_connection_missing_a_required_setting_is_refused_naming_it() {
    let required: Vec<&Setting> = SETTINGS.iter().filter(|s| s.required).collect();
    assert_eq!(required.len(), 3);
    for s in required {
        let mut c = required_only();
        c.settings.remove(s.name);
        c.secrets.remove(s.name);
        let e = DeliverySettings::from_connection(&c).unwrap_err();
        assert_eq!(e, format!("setting {:?} is required", s.name));
        // Present but blank is missing too.
        let mut c = required_only();
        if s.secret {
            c.secrets.insert(s.name.into(), String::new());
        } else {
            c.settings.insert(s.name.into(), "  ".into());
        }
        let e = DeliverySettings::from_connection(&c).unwrap_err();
        assert_eq!(e, format!("setting {:?} is required", s.name));
    }
}

#[test]
fn every_optional_connection_setting_is_read() {
    let optional: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| !s.required)
        .map(|s| s.name)
        .collect();
    let sampled: Vec<&str> = SAMPLES.iter().map(|(n, _)| *n).collect();
    assert_eq!(optional, sampled, "a sample for every optional setting");
    let plain = format!("{:?}", with(&[]).unwrap());
    for (name, value) in SAMPLES {
        let value = if *name == "ca_pem" {
            ca_pem_sample()
        } else {
            value.to_string()
        };
        let r = with(&[(name, &value)]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_ne!(format!("{r:?}"), plain, "{name} changed nothing");
    }
    // All together, names in any case (read like the environment's).
    let upper: Vec<(String, &str)> = SAMPLES
        .iter()
        .filter(|(n, _)| *n != "ca_pem")
        .map(|(n, v)| (n.to_ascii_uppercase(), *v))
        .collect();
    let upper: Vec<(&str, &str)> = upper.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let r = with(&upper).unwrap();
    assert_eq!(r.auth_url, "http://127.0.0.1:8091");
    assert_eq!(r.offset(), parse_offset("+03:00"));
    assert!(!r.list_bills);
    assert_eq!((r.read_timeout_ms, r.write_timeout_ms), (1500, 2500));
    assert_eq!(r.settle_ms(), 3200);
}

#[test]
fn a_connection_never_names_a_file_an_unknown_setting_or_a_secret_in_the_open() {
    // name, value, sent as a secret, the setting the error names, what it says.
    let refused = [
        (
            "client_secret_file",
            "/etc/shadow",
            false,
            "client_secret_file",
            "not accepted from a connection",
        ),
        (
            "client_secret_file",
            "/etc/shadow",
            true,
            "client_secret_file",
            "not accepted from a connection",
        ),
        ("ca_file", "/etc/ssl/ca.pem", false, "ca_file", "ca_pem"),
        (
            "currency_scale",
            "3",
            false,
            "currency_scale",
            "its currency_scale",
        ),
        ("colour", "red", false, "colour", "unknown"),
        ("client_secret", SECRET, false, "client_secret", "secrets"),
        ("CLIENT_SECRET", SECRET, false, "client_secret", "secrets"),
        (
            "read_timeout_ms",
            "SECRET-abc",
            false,
            "read_timeout_ms",
            "cannot read",
        ),
        (
            "list_bills",
            "SECRET-abc",
            false,
            "list_bills",
            "cannot read",
        ),
        ("utc_offset", "Moscow", false, "utc_offset", "+03:00"),
        ("auth_url", "ftp://x", false, "auth_url", "http://"),
        (
            "base_url",
            "http://127.0.0.1:8090",
            false,
            "auth_url",
            "is required when base_url",
        ),
        (
            "write_timeout_ms",
            "0",
            false,
            "write_timeout_ms",
            "positive",
        ),
        (
            "ca_pem",
            "not a certificate SECRET-abc",
            false,
            "ca_pem",
            "PEM",
        ),
        // PEM, but not a certificate the TLS stack takes.
        (
            "ca_pem",
            "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n",
            false,
            "ca_pem",
            "cannot be trusted",
        ),
    ];
    for (name, value, secret, names, says) in refused {
        let mut c = required_only();
        if secret {
            c.secrets.insert(name.into(), value.into());
        } else {
            if name.eq_ignore_ascii_case("client_secret") {
                c.secrets.clear();
            }
            c.settings.insert(name.into(), value.into());
        }
        let e = DeliverySettings::from_connection(&c).unwrap_err();
        assert!(
            e.contains(&format!("\"{names}\"")) || e.contains(&format!("`{names}`")),
            "{name}: {e}"
        );
        assert!(e.contains(says), "{name}: {e}");
        assert!(
            !e.contains(SECRET) && !e.contains("SECRET-abc"),
            "{name}: {e}"
        );
    }
}

#[test]
fn auth_url_is_derived_only_from_the_production_base_url() {
    for prod in [
        "https://delivery.ucs.ru",
        " https://DELIVERY.ucs.ru/ ",
        "https://delivery.ucs.ru:443",
    ] {
        let r = with(&[("base_url", prod)]).unwrap();
        assert_eq!(r.auth_url, DEFAULT_AUTH_URL, "{prod}");
        let r = with(&[("base_url", prod), ("auth_url", "  ")]).unwrap();
        assert_eq!(r.auth_url, DEFAULT_AUTH_URL, "{prod}: blank is unset");
    }
    for other in [
        "http://127.0.0.1:8090",
        "http://delivery.ucs.ru",
        "https://delivery.ucs.ru:8443",
        "https://delivery.ucs.ru.example.com",
        "https://test.delivery.ucs.ru",
        "https://delivery.ucs.ru/proxy",
        "not a url",
    ] {
        let e = with(&[("base_url", other), ("auth_url", "  ")]).unwrap_err();
        assert!(
            e.starts_with("setting \"auth_url\" is required when base_url is not the r_k Delivery production host"),
            "{other}: {e}"
        );
    }
    let e = with(&[("base_url", "ftp://x"), ("auth_url", "http://a")]).unwrap_err();
    assert_eq!(
        e,
        "setting \"base_url\" must start with http:// or https://"
    );
    // Named explicitly: kept as given, whatever base_url is.
    for base in ["http://127.0.0.1:8090", DEFAULT_BASE_URL] {
        let r = with(&[("base_url", base), ("auth_url", "http://127.0.0.1:8091")]).unwrap();
        assert_eq!(r.auth_url, "http://127.0.0.1:8091");
    }
}

#[test]
fn settle_is_the_write_timeout_plus_the_margin() {
    assert_eq!(
        with(&[]).unwrap().settle_ms(),
        190_000 + DEFAULT_SETTLE_MARGIN_MS
    );
    let r = with(&[("write_timeout_ms", "800"), ("settle_margin_ms", "200")]).unwrap();
    assert_eq!(r.settle_ms(), 1_000);
}

#[test]
fn a_ca_bundle_is_checked_when_read() {
    let r = with(&[("ca_pem", &ca_pem_sample())]).unwrap();
    assert!(r.ca_pem.unwrap().contains("BEGIN CERTIFICATE"));
    let e = with(&[("ca_pem", "garbage")]).unwrap_err();
    assert!(
        e.contains("\"ca_pem\" holds no readable PEM certificate"),
        "{e}"
    );
}
