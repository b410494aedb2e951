//! The POS adapters this binary runs: the registration list a new POS is added to (one line),
//! read by `posgate serve <name>` and `posgate up`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use posgate_grpc::Health;
use posgate_pos_kit::{AdapterConfig, AdapterProcess};
use tokio::net::TcpListener;

/// A stop signal the adapter serves until.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;
type Serving = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// One POS adapter: its name (config section, `posgate serve` name), what to call it, how to
/// read its configuration and how to serve it (reporting through a health of
/// [`posgate_grpc::adapter_health`] the caller holds for its `/readyz`).
pub struct PosAdapter {
    pub name: &'static str,
    pub title: &'static str,
    pub load: fn(Option<&Path>) -> anyhow::Result<AdapterConfig>,
    pub serve: fn(AdapterConfig, TcpListener, Health, Stop) -> Serving,
}

fn serve_boxed<C: AdapterProcess>(
    cfg: AdapterConfig,
    listener: TcpListener,
    health: Health,
    stop: Stop,
) -> Serving {
    Box::pin(posgate_pos_kit::serve_adapter_with::<C>(
        cfg, listener, health, stop,
    ))
}

const fn entry<C: AdapterProcess>() -> PosAdapter {
    PosAdapter {
        name: C::NAME,
        title: C::TITLE,
        load: posgate_pos_kit::load_config::<C>,
        serve: serve_boxed::<C>,
    }
}

/// Every POS adapter, in the order `posgate up` starts them.
pub const POS_ADAPTERS: &[PosAdapter] = &[
    entry::<posgate_wsa::WsaConnector>(),
    entry::<posgate_delivery::DeliveryConnector>(),
    entry::<posgate_tillypad::TillypadConnector>(),
];

/// The adapter called `name`.
pub fn named(name: &str) -> Option<&'static PosAdapter> {
    POS_ADAPTERS.iter().find(|a| a.name == name)
}
