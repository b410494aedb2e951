//! The kit's HTTP policy over TLS: a restaurant's own certificate authority is trusted when it
//! is given, and a certificate nobody trusts is refused with its cause, nothing sent.

use std::net::SocketAddr;
use std::time::Duration;

use posgate_pos_kit::http::restaurant_client;
use posgate_pos_kit::{Fate, HttpPolicy, check_ca_pem, read_ca_bundle, send};
use posgate_sim::tls::{TestCa, front};
use tokio::net::TcpListener;

/// A plain HTTP server answering `hello` to anything.
async fn plain() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "hello" });
    tokio::spawn(async move { axum::serve(l, app).await });
    addr
}

fn policy() -> HttpPolicy {
    HttpPolicy::new("kit-test").connect_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn a_restaurants_own_ca_is_trusted_when_given() {
    let ca = TestCa::new();
    let tls = front(plain().await, &ca).await;
    let client = policy().trust_pem(Some(&ca.ca_pem)).build().unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("https://{host}:{}/x", tls.port());
        let a = send(client.get(&url), "POS").await.unwrap();
        assert_eq!(a.status, 200, "{host}");
        assert_eq!(a.body, b"hello");
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_with_its_cause_and_nothing_sent() {
    let ca = TestCa::new();
    let other = TestCa::new();
    let tls = front(plain().await, &ca).await;
    let url = format!("https://127.0.0.1:{}/pay", tls.port());
    // No CA given, and another restaurant's CA: both refuse this server's certificate.
    for pem in [None, Some(other.ca_pem.as_str())] {
        let client = policy().trust_pem(pem).build().unwrap();
        let f = send(client.post(&url).body("x"), "White Server")
            .await
            .unwrap_err();
        assert_eq!(f.fate, Fate::Refused, "{f:?}");
        assert_eq!(f.code, "transport/tls", "{f:?}");
        assert!(f.text.contains("certificate"), "{}", f.text);
        assert!(
            f.text.contains("invalid peer certificate"),
            "the cause: {}",
            f.text
        );
        assert!(
            f.text.contains("ca_pem") && f.text.contains("registry"),
            "what to fix, the restaurant's setting in the registry: {}",
            f.text
        );
    }
}

#[tokio::test]
async fn plain_http_still_works_and_a_refused_connection_is_not_a_tls_failure() {
    let a = send(
        policy()
            .build()
            .unwrap()
            .get(format!("http://{}/", plain().await)),
        "POS",
    )
    .await
    .unwrap();
    assert_eq!(a.body, b"hello");
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let f = send(
        policy()
            .build()
            .unwrap()
            .get(format!("https://127.0.0.1:{port}/")),
        "POS",
    )
    .await
    .unwrap_err();
    assert_eq!(
        (f.fate, f.code.as_str()),
        (Fate::NotSent, "transport/connect")
    );
}

#[test]
fn a_ca_bundle_is_read_or_refused_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("posgate-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("ca.pem");
    std::fs::write(&good, TestCa::new().ca_pem).unwrap();
    assert!(read_ca_bundle(&good).unwrap().contains("BEGIN CERTIFICATE"));
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let e = read_ca_bundle(&junk).unwrap_err();
    assert!(e.contains("junk.pem"), "{e}");
    let unusable = dir.join("unusable.pem");
    std::fs::write(&unusable, NOT_A_CERTIFICATE).unwrap();
    let e = read_ca_bundle(&unusable).unwrap_err();
    assert!(
        e.contains("unusable.pem") && e.contains("cannot be trusted"),
        "{e}"
    );
    let e = read_ca_bundle(&dir.join("missing.pem")).unwrap_err();
    assert!(e.contains("missing.pem"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A block that is PEM but whose content is not a certificate rustls reads.
const NOT_A_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----\nMIIBAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n";

#[test]
fn an_inline_ca_bundle_is_checked_as_the_tls_stack_reads_it() {
    let ca = TestCa::new();
    check_ca_pem(&ca.ca_pem).unwrap();
    // Two authorities in one bundle.
    check_ca_pem(&format!("{}{}", ca.ca_pem, TestCa::new().ca_pem)).unwrap();
    for (pem, says) in [
        ("", "no readable PEM certificate"),
        ("SECRET not a certificate", "no readable PEM certificate"),
        // Parses as PEM, refused only when a client is built with it.
        (NOT_A_CERTIFICATE, "cannot be trusted"),
    ] {
        let e = check_ca_pem(pem).unwrap_err();
        assert!(e.contains(says), "{pem:?}: {e}");
        assert!(!e.contains("SECRET") && !e.contains("MIIB"), "{e}");
    }
    // The PEM block parses: without the client check it would pass.
    assert_eq!(
        reqwest::Certificate::from_pem_bundle(NOT_A_CERTIFICATE.as_bytes())
            .map(|c| c.len())
            .ok(),
        Some(1)
    );
}

#[tokio::test]
async fn a_restaurant_gets_the_shared_client_unless_it_brings_its_own_ca() {
    let ca = TestCa::new();
    let tls = front(plain().await, &ca).await;
    let url = format!("https://localhost:{}/x", tls.port());
    let shared = policy().build().unwrap();
    let build = |pem: Option<&str>| policy().trust_pem(pem).build();
    // No CA of its own: the shared client, nothing built.
    let c = restaurant_client(&shared, None, |_| panic!("built a client")).unwrap();
    let f = send(c.get(&url), "POS").await.unwrap_err();
    assert_eq!(f.code, "transport/tls", "{f:?}");
    // Its own CA: a client trusting it.
    let c = restaurant_client(&shared, Some(&ca.ca_pem), build).unwrap();
    assert_eq!(send(c.get(&url), "POS").await.unwrap().body, b"hello");
    // A bundle the TLS stack refuses: the error names the setting, never the bundle.
    let e = restaurant_client(&shared, Some(NOT_A_CERTIFICATE), build).unwrap_err();
    assert!(
        e.starts_with("setting \"ca_pem\" cannot be trusted: "),
        "{e}"
    );
    assert!(!e.contains("MIIB"), "{e}");
}
