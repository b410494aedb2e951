//! # posgate-sim — simulators of POS vendor APIs
//!
//! Test doubles that speak the vendors' wire protocols over real HTTP so that posgate's
//! adapters can be exercised end-to-end without a restaurant. Each simulator is a sibling
//! module; today there is one:
//!
//! * [`wsa`] — r_keeper **White Server API v2** (`/wsserverlp/api/v2/aggregators/Create`),
//!   with a JSON control API under `/_sim/wsa/` and fault injection.
//!
//! Shared helpers live in [`util`] (exact decimal (de)serialisation).
//!
//! The binary `posgate-sim --listen 127.0.0.1:8090 [--demo]` serves the WSA simulator.

pub mod delivery;
pub mod expirenza;
pub mod tillypad;
pub mod util;
pub mod wsa;
