//! Generated gRPC code for posgate's two contracts:
//! - `PaymentService`: what internal services call.
//! - `PosAdapter`: what every POS adapter serves.
//! - `RestaurantService`: the restaurant registry (operators).
#![allow(clippy::all, missing_docs)]

pub mod v1 {
    tonic::include_proto!("posgate.v1");
}

pub use v1::*;
