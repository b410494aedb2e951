//! `posgate-wsa --config posgate.toml`: the r_keeper WSA POS adapter as a gRPC server.

posgate_pos_kit::global_allocator!();

fn main() -> anyhow::Result<()> {
    posgate_pos_kit::main::<posgate_wsa::WsaConnector>()
}
