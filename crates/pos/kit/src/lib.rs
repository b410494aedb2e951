//! The posgate adapter kit: what every POS adapter shares, written once.
//!
//! Why it exists: each adapter (r_keeper WSA, r_k Delivery, Tillypad) used to build its own HTTP
//! client and classify its own transport failures, and the copies drifted — only one of them
//! refused redirects, so a 307 re-posted a payment (with its credentials) to a host nobody
//! configured and a payment was reported closed while the POS booked nothing. Whatever must
//! behave the same for every POS lives here.
//!
//! Today the kit holds [`http`]: the one HTTP client policy (timeouts, no redirects, rustls
//! with the restaurant's own CA bundle, checked by [`check_ca_pem`], a posgate user agent) and
//! the one reading of what a failed exchange means ("not sent" / "sent, outcome unknown" /
//! "refused: fix the configuration"); and [`connection`]: a restaurant's connection read into
//! the adapter's settings (every error naming the setting, never quoting a value), the
//! settings table `Describe` reports, and the cache of what was built from it. Issue 11 grows
//! it into the full adapter kit (a `PosConnector` trait, the generic gRPC server, a conformance
//! suite); those are deliberately not here yet.
#![forbid(unsafe_code)]

pub mod connection;
pub mod http;

pub use connection::{
    CONNECTION_CACHE_CAPACITY, ConnectionCache, Restaurants, Setting, read_settings,
    refuse_misplaced, setting_specs,
};
pub use http::{Fate, HttpAnswer, HttpFailure, HttpPolicy, check_ca_pem, read_ca_bundle, send};
