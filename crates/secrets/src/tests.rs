use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use posgate_core::Secret;

use super::*;

const K1: [u8; 32] = [0x11; 32];
const K2: [u8; 32] = *b"0123456789abcdef0123456789ABCDEF";
const PLACE: &str = "payments.tenders.card_code/p-1/0";

fn ring1() -> Keyring {
    Keyring::new("k1", &K1).unwrap()
}

fn config(keys: &[(&str, &[u8])], active: Option<&str>) -> SecretsConfig {
    SecretsConfig {
        active: active.map(str::to_string),
        keys: keys
            .iter()
            .map(|(id, k)| (id.to_string(), Secret::new(STANDARD.encode(k))))
            .collect(),
        ..SecretsConfig::default()
    }
}

#[test]
fn seals_and_opens_with_a_fresh_nonce_each_time() {
    let r = ring1();
    for plain in ["4111-2222", "", "картка №5 / картка ✓"] {
        let a = r.seal(plain, PLACE).unwrap();
        let b = r.seal(plain, PLACE).unwrap();
        assert!(a.starts_with("v1:k1:"), "{a}");
        assert!(is_sealed(&a) && key_id(&a) == Some("k1"));
        assert_ne!(a, b, "a random nonce per value");
        assert!(plain.is_empty() || !a.contains(plain));
        assert!(a.is_ascii() && !a.contains(['\'', '"', '\n', ' ']));
        assert_eq!(r.open(&a, PLACE).unwrap(), plain);
        assert_eq!(r.open(&b, PLACE).unwrap(), plain);
    }
}

#[test]
fn an_unknown_key_id_is_named() {
    let sealed = Keyring::new("old-2024", &K2)
        .unwrap()
        .seal("4111", PLACE)
        .unwrap();
    let err = ring1().open(&sealed, PLACE).unwrap_err();
    assert_eq!(
        err,
        SecretsError::UnknownKey {
            id: "old-2024".into(),
            have: "k1".into()
        }
    );
    assert!(err.to_string().contains("\"old-2024\""), "{err}");
}

#[test]
fn a_tampered_value_does_not_open() {
    let r = ring1();
    let sealed = r.seal("4111-2222", PLACE).unwrap();
    let (head, body) = sealed.split_at("v1:k1:".len());
    // Every single-character change of the body: nonce, ciphertext and tag are all covered.
    for i in 0..body.len() {
        let mut b = body.as_bytes().to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        let t = format!("{head}{}", String::from_utf8(b).unwrap());
        assert!(r.open(&t, PLACE).is_err(), "changed at {i}");
    }
    // Shortened, lengthened, or moved to another key id of the ring.
    assert!(r.open(&sealed[..sealed.len() - 2], PLACE).is_err());
    assert!(r.open(&format!("{sealed}AAAA"), PLACE).is_err());
    let both = ring1().with_old("k2", &K2).unwrap();
    let moved = sealed.replacen("v1:k1:", "v1:k2:", 1);
    assert_eq!(
        both.open(&moved, PLACE),
        Err(SecretsError::Decrypt { id: "k2".into() })
    );
}

#[test]
fn a_value_copied_to_another_place_does_not_open() {
    let r = ring1();
    let sealed = r
        .seal("4111-2222", "payments.tenders.card_code/p-1/0")
        .unwrap();
    for other in [
        "payments.tenders.card_code/p-2/0",
        "payments.tenders.card_code/p-1/1",
        "restaurants.token/p-1/0",
        "",
    ] {
        let err = r.open(&sealed, other).unwrap_err();
        assert_eq!(err, SecretsError::Decrypt { id: "k1".into() }, "{other}");
        assert!(err.to_string().contains("copied from another place"));
    }
}

#[test]
fn rotation_old_values_open_and_rewrap_moves_them_to_the_active_key() {
    let before = ring1();
    let old = before.seal("4111-2222", PLACE).unwrap();
    // k2 becomes active; k1 stays to open what it sealed.
    let rotated = Keyring::new("k2", &K2)
        .unwrap()
        .with_old("k1", &K1)
        .unwrap();
    assert_eq!(rotated.active_id(), "k2");
    assert_eq!(rotated.open(&old, PLACE).unwrap(), "4111-2222");
    assert!(rotated.is_stale(&old));
    let new = rotated.rewrap(&old, PLACE).unwrap();
    assert_eq!(key_id(&new), Some("k2"));
    assert!(!rotated.is_stale(&new));
    assert!(
        !rotated.is_stale("plain text"),
        "not sealed: nothing to rewrap"
    );
    // Once everything is rewrapped, the old key can go.
    let only_new = Keyring::new("k2", &K2).unwrap();
    assert_eq!(only_new.open(&new, PLACE).unwrap(), "4111-2222");
    assert!(matches!(
        only_new.open(&old, PLACE),
        Err(SecretsError::UnknownKey { .. })
    ));
    // Rewrapping keeps the place binding.
    assert!(rotated.rewrap(&old, "elsewhere").is_err());
}

#[test]
fn debug_never_shows_key_material() {
    let cfg = config(&[("k1", &K1), ("k2", &K2)], Some("k2"));
    let ring = cfg.keyring().unwrap();
    let printed = format!("{ring:?} {ring:#?} {cfg:?} {cfg:#?}");
    for k in [&K1, &K2] {
        let b64 = STANDARD.encode(k);
        let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
        let decimal = format!("{:?}", k.as_slice());
        for leak in [&b64[..12], &hex[..12], &decimal[..16]] {
            assert!(!printed.contains(leak), "{leak} in {printed}");
        }
    }
    assert!(!printed.contains("0123456789"), "{printed}");
    assert!(
        printed.contains("k1") && printed.contains("k2"),
        "ids are shown"
    );
}

#[test]
fn keys_come_from_config_values_and_files() {
    let dir = std::env::temp_dir().join(format!("posgate-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("k2.key");
    std::fs::write(&file, format!("{}\n", STANDARD.encode(K2))).unwrap();
    let mut cfg = config(&[("k1", &K1)], Some("k2"));
    cfg.key_files = BTreeMap::from([("k2".to_string(), file.clone())]);
    let ring = cfg.keyring().unwrap();
    let sealed = ring.seal("x", PLACE).unwrap();
    assert_eq!(key_id(&sealed), Some("k2"));
    // The same key given directly opens it: the file's newline is not part of the key.
    let direct = config(&[("k2", &K2)], Some("k2")).keyring().unwrap();
    assert_eq!(direct.open(&sealed, PLACE).unwrap(), "x");
    // A key in both places, or a file that cannot be read, is refused naming the id.
    cfg.keys
        .insert("k2".into(), Secret::new(STANDARD.encode(K2)));
    assert!(matches!(cfg.keyring(), Err(SecretsError::BadKey { id, .. }) if id == "k2"));
    cfg.keys.remove("k2");
    cfg.key_files
        .insert("k2".into(), dir.join("missing").to_path_buf());
    let err = cfg.keyring().unwrap_err().to_string();
    assert!(err.contains("\"k2\"") && err.contains("missing"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_service_without_a_key_is_told_which_setting_to_set() {
    let err = SecretsConfig::default().keyring().unwrap_err();
    assert_eq!(err, SecretsError::NoKey);
    let text = err.to_string();
    for setting in [
        "[secrets] active",
        "POSGATE_SECRETS__KEYS__",
        "key_files",
        "dev_key",
    ] {
        assert!(text.contains(setting), "{setting} in {text}");
    }
    // Keys but no active one, or an active one that is not there.
    let err = config(&[("k1", &K1)], None).keyring().unwrap_err();
    assert!(
        err.to_string().contains("[secrets] active is not set"),
        "{err}"
    );
    let err = config(&[("k1", &K1)], Some("k9")).keyring().unwrap_err();
    assert_eq!(
        err,
        SecretsError::ActiveMissing {
            id: "k9".into(),
            have: "k1".into()
        }
    );
}

#[test]
fn a_bad_key_is_refused_without_quoting_it() {
    for (value, why) in [
        ("c2VjcmV0LWtleS10b28tc2hvcnQ=", "must be 32"),
        ("not base64 at all: s3cr3t!", "not base64"),
        ("", "must be 32"),
    ] {
        let mut cfg = config(&[], Some("k1"));
        cfg.keys.insert("k1".into(), Secret::new(value));
        let err = cfg.keyring().unwrap_err().to_string();
        assert!(err.contains(why) && err.contains("\"k1\""), "{err}");
        assert!(value.is_empty() || !err.contains(value), "{err}");
        assert!(!err.contains("s3cr3t") && !err.contains('!'), "{err}");
    }
    for id in ["K1", "a:b", "", "with space", &"x".repeat(33)] {
        assert!(
            matches!(Keyring::new(id, &K1), Err(SecretsError::BadKey { .. })),
            "{id:?}"
        );
    }
}

#[test]
fn the_dev_key_only_when_asked_for() {
    let ring = SecretsConfig::dev().keyring().unwrap();
    assert_eq!(ring.active_id(), DEV_KEY_ID);
    // With a real active key, the dev key only opens what it sealed before.
    let dev_sealed = ring.seal("4111", PLACE).unwrap();
    let mut cfg = config(&[("k1", &K1)], Some("k1"));
    cfg.dev_key = true;
    let ring = cfg.keyring().unwrap();
    assert_eq!(ring.active_id(), "k1");
    assert_eq!(ring.open(&dev_sealed, PLACE).unwrap(), "4111");
    assert_eq!(
        key_id(&ring.rewrap(&dev_sealed, PLACE).unwrap()),
        Some("k1")
    );
    // A configured key may not pose as the dev key.
    let mut cfg = config(&[("dev", &K1)], None);
    cfg.dev_key = true;
    assert!(matches!(cfg.keyring(), Err(SecretsError::BadKey { id, .. }) if id == "dev"));
}

#[test]
fn malformed_values_are_errors_not_panics() {
    let r = ring1();
    for bad in [
        "",
        "4111-2222",
        "v1:",
        "v1:k1",
        "v1:k1:",
        "v1:k1:%%%",
        "v1::AAAA",
        "v1:K1:AAAA",
        "v2:k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1:k1:AAAAAAAA",
    ] {
        assert!(
            matches!(r.open(bad, PLACE), Err(SecretsError::Format(_))),
            "{bad:?}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn any_text_opens_to_an_error_or_its_value(s in "\\PC{0,80}", plain in "\\PC{0,40}") {
        let r = ring1();
        let _ = r.open(&s, PLACE);
        let _ = r.open(&format!("v1:k1:{s}"), PLACE);
        let sealed = r.seal(&plain, PLACE).unwrap();
        proptest::prop_assert_eq!(r.open(&sealed, PLACE).unwrap(), plain);
    }
}

/// What `f` logs, as text.
fn logged(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let sink = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(sub, f);
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn the_dev_key_is_announced_loudly_and_a_real_one_quietly() {
    let log = logged(|| {
        SecretsConfig::dev().keyring().unwrap();
    });
    assert!(
        log.contains("WARN") && log.contains("PUBLIC development key"),
        "{log}"
    );
    let log = logged(|| {
        config(&[("k1", &K1)], Some("k1")).keyring().unwrap();
    });
    assert!(log.is_empty(), "{log}");
}
