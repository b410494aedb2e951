//! gRPC server reflection (`grpc.reflection.v1`, and `v1alpha` for older clients), served by
//! `tonic-reflection` from posgate's own file descriptor set
//! ([`posgate_proto::FILE_DESCRIPTOR_SET`]) and the health service's.
//!
//! Why it exists: `grpcurl list`, `grpcurl describe` and grpcui work against a running service
//! without a copy of the `.proto` files, which is how an on-call engineer pokes at it.
//!
//! **Who may use it**: any authenticated caller (any valid token) by default — a row with
//! [`crate::ANY_CALLER`] in [`crate::DEFAULT_ALLOW`]. The schema is no secret (it is in the
//! repository), but an unauthenticated port should tell a stranger nothing about what it
//! serves, and everyone who needs it already holds a token. Narrow it in `[auth.allow]`
//! (`"grpc.reflection.v1.ServerReflection" = ["operator"]`). Each server describes only the
//! services it serves.

use tonic_reflection::server::v1::{ServerReflection as V1, ServerReflectionServer as V1Server};
use tonic_reflection::server::v1alpha::{
    ServerReflection as V1Alpha, ServerReflectionServer as V1AlphaServer,
};

/// The full names of the reflection services.
pub const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
pub const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";
/// The full name of the health service.
pub const HEALTH: &str = "grpc.health.v1.Health";

fn builder<'a>(services: &[&str], own: &str) -> tonic_reflection::server::Builder<'a> {
    let mut b = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(posgate_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name(HEALTH)
        .with_service_name(own);
    for s in services {
        b = b.with_service_name(*s);
    }
    b
}

/// The v1 and v1alpha reflection services of a server that serves `services` (full names,
/// `posgate.v1.PaymentService`) besides health and reflection.
pub fn reflection(
    services: &[&str],
) -> anyhow::Result<(V1Server<impl V1>, V1AlphaServer<impl V1Alpha>)> {
    let v1 = builder(services, REFLECTION_V1)
        .build_v1()
        .map_err(|e| anyhow::anyhow!("gRPC reflection: {e}"))?;
    let v1alpha = builder(services, REFLECTION_V1ALPHA)
        .build_v1alpha()
        .map_err(|e| anyhow::anyhow!("gRPC reflection: {e}"))?;
    Ok((v1, v1alpha))
}
