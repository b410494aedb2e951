//! `posgate restaurant …` against a running payment service: declare, import, show, list and
//! disable restaurants as an operator would, and never see a secret printed.

use std::process::Command;

use posgate_tests::{OPERATOR_TOKEN, Options, Stack};

const SECRET: &str = "wsa-token-PLANTED-cli-3b1f";

fn cli(s: &Stack, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_posgate"))
        .arg("restaurant")
        .args(args)
        .env("POSGATE_SERVER", format!("http://{}", s.payments_addr))
        .env("POSGATE_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .output()
        .expect("run posgate");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "a secret was printed"
    );
    (out.status.success(), stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_declares_imports_lists_and_disables_restaurants() {
    let s = Stack::start_with(Options::empty_registry()).await;
    let secret_file = s.dir.join("wsa-token");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let secret_arg = format!("token={}", secret_file.display());
    let (ok, out, err) = cli(
        &s,
        &[
            "add",
            "kyiv-1",
            "--name",
            "Kyiv 1",
            "--pos",
            "wsa",
            "--currency",
            "UAH",
            "--set",
            "base_url=https://ws.ucs.ru",
            "--set",
            "object_id=199990246",
            "--set",
            "agent_version=v2",
            "--set",
            "currency_guid=5f9d3e8a-2c41-4b7e-9d1a-6c0b8e7f1a20",
            "--secret-file",
            &secret_arg,
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["restaurant_id"], "kyiv-1");
    assert_eq!(v["pos_settings"]["object_id"], "199990246");
    assert_eq!(v["pos_secrets_set"], serde_json::json!(["token"]));
    assert_eq!(v["version"], 1);

    // A bad field is named, and the command fails.
    let (ok, _, err) = cli(
        &s,
        &[
            "add",
            "bad-1",
            "--name",
            "B",
            "--pos",
            "iiko",
            "--currency",
            "UAH",
        ],
    );
    assert!(!ok);
    assert!(err.contains("spec.pos_kind"), "{err}");

    // Import: creates what is new, updates what exists (secrets from files beside the file).
    let file = s.dir.join("restaurants.toml");
    std::fs::write(
        &file,
        r#"
[restaurants.kyiv-1]
display_name = "Kyiv 1 (renamed)"
pos_kind = "wsa"
currency = "UAH"
pos_settings = { base_url = "https://ws.ucs.ru", object_id = 199990246, agent_version = "v2", currency_guid = "5f9d3e8a-2c41-4b7e-9d1a-6c0b8e7f1a20", mode = "sync" }

[restaurants.lviv-1]
display_name = "Lviv 1"
pos_kind = "wsa"
currency = "UAH"
currency_scale = 2
pos_settings = { base_url = "https://ws.ucs.ru", object_id = 199990300, agent_version = "v1", currency_guid = "5f9d3e8a-2c41-4b7e-9d1a-6c0b8e7f1a20" }
pos_secret_files = { token = "wsa-token" }
[restaurants.lviv-1.expirenza]
resto_id = "resto-lviv"
ws_url = "wss://api.shaketopay.com.ua/restaurantEntryPoint"
callback_base_url = "https://api.shaketopay.com.ua"
secret_key_file = "wsa-token"
tables = [1, 2, "12a"]
"#,
    )
    .unwrap();
    let (ok, out, err) = cli(&s, &["import", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("Kyiv 1 (renamed)"), "{out}");
    assert!(out.contains("lviv-1"), "{out}");
    assert!(out.contains("key set"), "{out}");

    let (ok, out, _) = cli(&s, &["show", "kyiv-1", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["pos_settings"]["mode"], "sync");
    assert_eq!(v["pos_secrets_set"], serde_json::json!(["token"]), "kept");
    let (ok, out, _) = cli(&s, &["show", "lviv-1", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["expirenza"]["resto_id"], "resto-lviv");
    assert_eq!(v["expirenza"]["secret_key_set"], true);
    assert_eq!(
        v["expirenza"]["tables"],
        serde_json::json!(["1", "2", "12a"]),
        "numbers taken as written"
    );

    let (ok, _, _) = cli(&s, &["disable", "lviv-1"]);
    assert!(ok);
    let (_, out, _) = cli(&s, &["list"]);
    assert!(out.contains("kyiv-1") && !out.contains("lviv-1"), "{out}");
    let (_, out, _) = cli(&s, &["list", "--all"]);
    assert!(out.contains("lviv-1") && out.contains("DISABLED"), "{out}");

    // Without an operator token: refused, saying so.
    let out = Command::new(env!("CARGO_BIN_EXE_posgate"))
        .args(["restaurant", "list"])
        .env("POSGATE_SERVER", format!("http://{}", s.payments_addr))
        .env("POSGATE_OPERATOR_TOKEN", posgate_tests::CLI_TOKEN)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PermissionDenied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_rotate_moves_every_secret_to_the_new_key() {
    let s = Stack::start_with(Options::empty_registry()).await;
    let secret_file = s.dir.join("wsa-token");
    std::fs::write(&secret_file, SECRET).unwrap();
    let secret_arg = format!("token={}", secret_file.display());
    let (ok, _, err) = cli(
        &s,
        &[
            "add",
            "rot-1",
            "--name",
            "Rotated",
            "--pos",
            "wsa",
            "--currency",
            "UAH",
            "--set",
            "base_url=https://ws.ucs.ru",
            "--set",
            "object_id=1",
            "--set",
            "agent_version=v2",
            "--set",
            "currency_guid=5f9d3e8a-2c41-4b7e-9d1a-6c0b8e7f1a20",
            "--secret-file",
            &secret_arg,
        ],
    );
    assert!(ok, "{err}");
    let new_key = "bmV3LWtleS1wb3NnYXRlLXNlY3JldHMtMzItYnl0ZXM=";
    let rotate = |active: &str| {
        Command::new(env!("CARGO_BIN_EXE_posgate"))
            .args(["secrets", "rotate", "--config"])
            .arg(&s.config_path)
            .env("POSGATE_SECRETS__ACTIVE", active)
            .env("POSGATE_SECRETS__KEYS__T2", new_key)
            .output()
            .unwrap()
    };
    let out = rotate("t2");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("secrets of 1 restaurants re-encrypted"),
        "{text}"
    );
    assert!(!text.contains(SECRET));
    // Only the new key is needed now.
    let only_new = std::sync::Arc::new(
        posgate_payments::secrets::Keyring::new("t2", b"new-key-posgate-secrets-32-bytes").unwrap(),
    );
    let db = posgate_payments::PaymentsConfig::load(Some(&s.config_path))
        .unwrap()
        .database_url;
    let rec = posgate_payments::store::Store::open(&db, only_new)
        .await
        .unwrap()
        .registry()
        .get("rot-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.spec.pos_secrets["token"].expose(), SECRET);
    // A second run finds nothing left.
    let out = rotate("t2");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("secrets of 0 restaurants"));
}
