//! `posgate-delivery --config posgate.toml`: the r_k Delivery POS adapter as a gRPC server.

posgate_pos_kit::global_allocator!();

fn main() -> anyhow::Result<()> {
    posgate_pos_kit::main::<posgate_delivery::DeliveryConnector>()
}
