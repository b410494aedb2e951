//! Compiles `proto/` with protox (pure Rust), so no system `protoc` is needed, and keeps the
//! encoded file descriptor set for gRPC server reflection (`posgate_proto::FILE_DESCRIPTOR_SET`).
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto");
    let files = [
        "posgate/v1/payments.proto",
        "posgate/v1/adapter.proto",
        "posgate/v1/restaurants.proto",
    ];
    let fds = protox::compile(files, [root])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("posgate_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Small per-call buffers (see src/codec.rs).
        .codec_path("crate::codec::Codec1K")
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed={root}");
    Ok(())
}
