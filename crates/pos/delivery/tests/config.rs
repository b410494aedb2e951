//! The adapter's configuration file: only where to listen; a restaurants section is refused
//! with directions, its secrets never quoted.

use posgate_delivery::DeliveryConnector;
use posgate_pos_kit::AdapterProcess;

fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<posgate_pos_kit::AdapterConfig> {
    posgate_pos_kit::load_config::<DeliveryConnector>(path)
}

const DEFAULT_LISTEN: std::net::SocketAddr = DeliveryConnector::DEFAULT_LISTEN;

/// A `posgate.toml` with `body` in a directory of its own.
fn config_file(name: &str, body: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "posgate-delivery-config-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("posgate.toml");
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn the_config_file_says_only_where_to_listen() {
    let path = config_file("listen", "[delivery]\nlisten = \"127.0.0.1:1234\"\n");
    let cfg = load_config(Some(&path)).unwrap();
    assert_eq!(cfg.listen, "127.0.0.1:1234".parse().unwrap());
    let path = config_file("default", "[wsa]\nlisten = \"127.0.0.1:1\"\n");
    assert_eq!(load_config(Some(&path)).unwrap().listen, DEFAULT_LISTEN);
    // A restaurant section is refused with directions, its secret never quoted.
    let path = config_file(
        "restaurants",
        "[delivery.restaurants.dl]\nclient_id = \"c\"\nclient_secret = \"s3cr3t-VALUE\"\n",
    );
    let e = format!("{:#}", load_config(Some(&path)).unwrap_err());
    assert!(
        e.contains("[delivery.restaurants] is no longer read"),
        "{e}"
    );
    assert!(e.contains("posgate restaurant import"), "{e}");
    assert!(!e.contains("s3cr3t-VALUE"), "{e}");
}
