//! A restaurant's connection read into Tillypad settings, through the public API: every
//! setting, its checks and the errors naming it.

use posgate_pos_kit::testkit::connection as conn;
use posgate_tillypad::settings::*;
use posgate_tillypad::wire::PointsField;

const PAY: &str = "3E2A6F10-8C4B-4D7A-9B15-2F6C0D1A7E01";

/// A valid value, not the default, of every setting in the table.
fn sample(name: &str, ca_pem: &str) -> String {
    match name {
        "base_url" => "https://10.0.0.5:8090".into(),
        "ca_pem" => ca_pem.into(),
        "default_pay_type_id" => PAY.into(),
        "allow_prepaid_pay_type" => "true".into(),
        "default_points_type_id" => "60D367B5-15D2-D24D-8A74-A28F40C8CB9D".into(),
        "points_field" => "GuestDiscountPoints".into(),
        "delete_prechecks" => "2".into(),
        "connect_timeout_ms" => "700".into(),
        "request_timeout_ms" => "9000".into(),
        other => panic!("no sample value for setting {other:?}: add one"),
    }
}

#[test]
fn the_settings_table_matches_the_struct() {
    let mut fields = posgate_pos_kit::field_names::<TillypadSettings>().to_vec();
    assert!(fields.contains(&"base_url"), "{fields:?}");
    let mut listed: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    fields.sort_unstable();
    listed.sort_unstable();
    let before = listed.len();
    listed.dedup();
    assert_eq!(before, listed.len(), "a name is listed twice");
    assert_eq!(fields, listed, "SETTINGS = TillypadSettings' fields");
    for s in SETTINGS {
        assert!(
            !s.description.is_empty() && !s.description.contains('\n'),
            "{s:?}"
        );
        assert!(!s.secret, "Tillypad takes no credentials: {s:?}");
    }

    let ca = posgate_sim::tls::TestCa::new();
    let with = |names: &[&str], extra: &[(&str, &str)]| {
        let mut c = conn(extra, &[]);
        for n in names {
            c.settings.insert(n.to_string(), sample(n, &ca.ca_pem));
        }
        TillypadSettings::from_connection(&c)
    };
    let required: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| s.required)
        .map(|s| s.name)
        .collect();

    // Exactly the required settings build a restaurant with the defaults.
    let r = with(&required, &[]).unwrap();
    assert_eq!(r.delete_prechecks, DeletePrechecks::Keep);
    assert_eq!(r.connect_timeout_ms, 3_000);

    // A missing required one is named.
    for name in &required {
        let without: Vec<&str> = required.iter().copied().filter(|n| n != name).collect();
        let e = with(&without, &[]).unwrap_err();
        assert_eq!(e, format!("setting {name:?} is required"));
    }

    // Every optional one is accepted, and read (not ignored).
    for s in SETTINGS.iter().filter(|s| !s.required) {
        let mut names = required.clone();
        names.push(s.name);
        let r = with(&names, &[]).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let default = with(&required, &[]).unwrap();
        assert_ne!(
            format!("{r:?}"),
            format!("{default:?}"),
            "{} was not read",
            s.name
        );
    }
    let all: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    let r = with(&all, &[]).unwrap();
    assert_eq!(r.delete_prechecks, DeletePrechecks::DeleteUnpaid);
    assert_eq!(r.points_field, PointsField::GuestDiscountPoints);
    assert!(r.allow_prepaid_pay_type);
    assert_eq!(r.ca_pem.as_deref(), Some(ca.ca_pem.as_str()));

    // An unknown name (the retired static-only ones too) is refused by name.
    for name in ["object_id", "ca_file", "currency_scale"] {
        let e = with(&required, &[(name, "3")]).unwrap_err();
        assert!(
            e.starts_with(&format!("setting {name:?} is unknown to Tillypad")),
            "{e}"
        );
    }
}

#[test]
fn bad_values_name_the_setting_and_never_quote_it() {
    let base = ("base_url", "http://127.0.0.1:8090");
    TillypadSettings::from_connection(&conn(&[base], &[])).unwrap();
    for (settings, named) in [
        (vec![("base_url", "ftp://x-SECRET")], "base_url"),
        (
            vec![base, ("default_pay_type_id", "card-SECRET")],
            "default_pay_type_id",
        ),
        (
            vec![base, ("default_points_type_id", "7-SECRET")],
            "default_points_type_id",
        ),
        (
            vec![base, ("delete_prechecks", "7-SECRET")],
            "delete_prechecks",
        ),
        (vec![base, ("points_field", "SECRET")], "points_field"),
        (
            vec![base, ("allow_prepaid_pay_type", "yes SECRET")],
            "allow_prepaid_pay_type",
        ),
        (
            vec![base, ("connect_timeout_ms", "-1")],
            "connect_timeout_ms",
        ),
        (
            vec![base, ("request_timeout_ms", "100")],
            "connect_timeout_ms",
        ),
        (vec![base, ("ca_pem", "not a certificate SECRET")], "ca_pem"),
        // PEM, but not a certificate the TLS stack takes.
        (
            vec![
                base,
                (
                    "ca_pem",
                    "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n",
                ),
            ],
            "ca_pem",
        ),
    ] {
        let e = TillypadSettings::from_connection(&conn(&settings, &[])).unwrap_err();
        assert!(
            e.starts_with(&format!("setting {named:?}")),
            "{settings:?}: {e}"
        );
        assert!(!e.contains("SECRET"), "{e}");
    }

    // Nothing of Tillypad's is a secret: a setting sent as one is refused, unquoted.
    let e =
        TillypadSettings::from_connection(&conn(&[], &[("base_url", "http://SECRET-host:8090")]))
            .unwrap_err();
    assert!(e.contains("\"base_url\" is not a secret"), "{e}");
    assert!(!e.contains("SECRET"), "{e}");
    let e =
        TillypadSettings::from_connection(&conn(&[base], &[("token", "SECRET-1")])).unwrap_err();
    assert!(e.contains("token") && !e.contains("SECRET-1"), "{e}");
}

/// The tab id of every call: a GUID (Tillypad's `gest_ID`), sent without braces.
#[test]
fn gest_id_must_be_a_guid() {
    use posgate_pos_kit::PosConnector;
    let c = posgate_tillypad::TillypadConnector::new();
    assert_eq!(
        c.bill_id(" {8F0E6B52-3C1D-4A7E-9B20-000000000978} ")
            .unwrap(),
        "8F0E6B52-3C1D-4A7E-9B20-000000000978"
    );
    assert_eq!(c.bill_id(" ").unwrap_err(), "is required");
    assert!(c.bill_id("12").unwrap_err().contains("GUID"));
}
