//! Generated gRPC code for posgate's two contracts:
//! - `PaymentService`: what internal services call.
//! - `PosAdapter`: what every POS adapter serves.
//! - `RestaurantService`: the restaurant registry (operators).
//!
//! [`convert`] is the one translation between these messages and the domain's POS types.
pub mod convert;

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("posgate.v1");
}

pub use v1::*;
