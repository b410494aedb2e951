//! Generated gRPC code for posgate's two contracts:
//! - `PaymentService`: what internal services call.
//! - `PosAdapter`: what every POS adapter serves.
//! - `RestaurantService`: the restaurant registry (operators).
//!
//! [`FILE_DESCRIPTOR_SET`] describes them all, for gRPC server reflection.
//!
//! [`convert`] is the one translation between these messages and the domain's POS types.
pub mod codec;
pub mod convert;

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("posgate.v1");
}

pub use v1::*;

/// posgate's protobuf files (every message and service of `posgate.v1`, with their imports),
/// as an encoded `FileDescriptorSet`: what gRPC server reflection describes (`grpcurl list`).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/posgate_descriptor.bin"));
