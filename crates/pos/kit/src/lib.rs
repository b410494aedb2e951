//! The posgate adapter kit: what every POS adapter shares, written once.
//!
//! Why it exists: each adapter (r_keeper WSA, r_k Delivery, Tillypad) used to build its own HTTP
//! client and classify its own transport failures, and the copies drifted — only one of them
//! refused redirects, so a 307 re-posted a payment (with its credentials) to a host nobody
//! configured and a payment was reported closed while the POS booked nothing. Whatever must
//! behave the same for every POS lives here.
//!
//! A POS integration implements [`PosConnector`] ([`connector`]): its settings table, how to
//! build a restaurant from its connection, and the five questions (get bill, list bills, post
//! payment, close bill, check payment) in domain types. The kit does the rest once:
//! - [`server`]: the one `posgate.v1.PosAdapter` gRPC server over any connector (connection
//!   reading and caching, field checks naming the field, amounts at the restaurant's scale,
//!   the wire form of bills and answers, logging);
//! - [`run`]: an adapter's configuration section and its whole `main`;
//! - [`http`]: the one HTTP client policy (timeouts, no redirects, rustls with the restaurant's
//!   own CA bundle, checked by [`check_ca_pem`], a posgate user agent) and the one reading of
//!   what a failed exchange means ("not sent" / "sent, outcome unknown" / "refused: fix the
//!   configuration");
//! - [`failure`]: one failed call to a POS ([`Failure`]: verdict, the POS's code and text) and
//!   its readings — from a failed exchange, from an unreadable answer, as posgate's
//!   `PosFailure` and outcome — and the one log line of a call;
//! - [`lenient`]: lenient reading of POS answers (a field under several names and in any case,
//!   money from numbers or strings, serde helpers that never fail, bodies in windows-1251,
//!   HTML error pages, GUIDs);
//! - [`answers`]: the engine of an ordered table that says what an HTTP error answer (status,
//!   error code, message) means, read or write ([`answers::Op`]);
//! - [`clock`]: a UTC offset from a setting, an instant written at it;
//! - [`words`]: ordered tables of text fragments that classify what a POS said (RU, UK, EN);
//! - [`oauth`]: OAuth2 client credentials, the token cached until shortly before it expires;
//! - [`connection`]: a restaurant's connection read into the connector's settings type (every
//!   error naming the setting, never quoting a value), and the cache of what was built from it;
//! - [`common`]: the settings every POS kind accepts (`trace_headers`), read by the kit;
//! - [`metric_definitions`]: the adapters' own metrics (each POS HTTP exchange, timed);
//! - `testkit` (feature `testkit`, test builds only): what every POS adapter's tests share —
//!   the gRPC client sending a restaurant's connection, starting an adapter, connection and
//!   request builders, a canned HTTP POS, a TLS front, and (feature `e2e`) the payment service
//!   in front of an adapter;
//! - `conformance` (feature `conformance`, test builds only): the suite of cases every POS
//!   adapter runs against its simulator over gRPC.
//!
//! The "was the posting applied?" comparison is in the domain core
//! (`posgate_core::pos::judge_posting`), shared with the payment engine.
#![forbid(unsafe_code)]

pub mod answers;
pub mod clock;
pub mod common;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod connection;
pub mod connector;
pub mod failure;
pub mod http;
pub mod lenient;
pub mod metric_definitions;
pub mod oauth;
pub mod run;
pub mod server;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod words;

pub use common::{COMMON_SETTINGS, CommonSettings};
pub use connection::{
    CONNECTION_CACHE_CAPACITY, ConnectionCache, Setting, field_names, read_settings,
    refuse_misplaced, setting_specs,
};
pub use connector::{
    Findings, Invalid, Listed, PosConnector, TenderLine, checked, dish, guid_id, one_guest,
    path_id, tender_lines, tips_not_booked,
};
pub use failure::{Failure, REFUSED, log_call, logged, unreadable_verdict};
pub use http::{
    Fate, HostLimits, HttpAnswer, HttpFailure, HttpPolicy, PosCall, check_ca_pem, read_ca_bundle,
    send,
};
/// jemalloc for an adapter's binary: `posgate_pos_kit::global_allocator!();` in its `main.rs`
/// (see `posgate_grpc::alloc`).
pub use posgate_grpc::global_allocator;
pub use run::{
    AdapterConfig, AdapterProcess, load_config, main, serve, serve_adapter, serve_adapter_with,
};
pub use server::AdapterServer;
