//! The token endpoint's URL and the reading of its answers, through the public API.

use std::time::Duration;

use posgate_core::Secret;
use posgate_delivery::auth::*;

#[test]
fn token_urls() {
    assert_eq!(
        token_url("https://auth-delivery.ucs.ru"),
        "https://auth-delivery.ucs.ru/connect/token"
    );
    assert_eq!(
        token_url("http://x:1/connect/token/"),
        "http://x:1/connect/token"
    );
}

#[test]
fn debug_hides_the_secret() {
    let t = TokenSource::new(
        posgate_delivery::client::http_client(None).unwrap(),
        "http://x",
        "cid",
        Secret::new("super-secret"),
        "orders",
        Duration::from_secs(1),
    );
    assert!(!format!("{t:?}").contains("super-secret"));
}
