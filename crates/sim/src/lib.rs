//! # posgate-sim — simulators of POS vendor APIs
//!
//! Test doubles that speak the vendors' wire protocols over real HTTP so that posgate's
//! adapters can be exercised end-to-end without a restaurant. Each simulator is a sibling
//! module with a JSON control API under `/_sim/<name>/`, fault injection and a ledger:
//!
//! * [`wsa`] — r_keeper **White Server API v2** (`/wsserverlp/api/v2/aggregators/Create`);
//! * [`delivery`] — **r_k Delivery** REST (`/connect/token`, `/orders/api/v1/orders/…`);
//! * [`tillypad`] — **Tillypad XL** (`/post-guest`, `/pay-guest`);
//! * [`expirenza`] — the **Expirenza** pay-at-table platform (WebSocket
//!   `/restaurantEntryPoint`, signed callbacks on `/callback/<operation>`).
//!
//! [`all::Simulators`] serves them all on one port. `GET /_sim/<name>/` answers a JSON
//! index of that simulator's control API ([`index`]).
//!
//! Every simulator has the same layout: `mod.rs` (docs, the handle, re-exports), `model.rs`
//! (data types, faults), `state.rs` (the shared mutable state), `engine.rs` (what each request
//! does), `http.rs` (the vendor's routes and the control API), `demo.rs` and `texts.rs`
//! (error texts). What their control APIs and serving share is written once in `control`
//! (crate-private); other shared helpers live in [`util`] (exact decimal (de)serialisation,
//! loopback spawning, the lost-answer body).
//!
//! The binary `posgate-sim --listen 127.0.0.1:8090 [--demo]` serves every simulator.

pub mod all;
mod control;
pub mod delivery;
pub mod expirenza;
mod faults;
pub mod index;
pub mod tillypad;
#[cfg(feature = "tls")]
pub mod tls;
pub mod util;
pub mod wsa;
