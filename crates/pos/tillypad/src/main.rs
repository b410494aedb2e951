//! `posgate-tillypad --config posgate.toml`: the Tillypad XL POS adapter as a gRPC server.

posgate_pos_kit::global_allocator!();

fn main() -> anyhow::Result<()> {
    posgate_pos_kit::main::<posgate_tillypad::TillypadConnector>()
}
