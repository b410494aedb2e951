//! Every simulator on one port. Their routes do not overlap (`/wsserverlp/…`, `/orders/…` and
//! `/connect/token`, `/pay-guest`…, `/restaurantEntryPoint` and `/callback/…`, each control API
//! under its own `/_sim/<name>/`), so one listener serves them all: what `posgate up` and
//! `posgate-sim --demo` run.

use std::future::Future;

use axum::Router;

use crate::delivery::DeliverySim;
use crate::expirenza::ExpirenzaSim;
use crate::tillypad::TillypadSim;
use crate::wsa::WsaSim;

#[derive(Clone, Default)]
pub struct Simulators {
    pub wsa: WsaSim,
    pub delivery: DeliverySim,
    pub tillypad: TillypadSim,
    pub expirenza: ExpirenzaSim,
}

impl Simulators {
    /// Every simulator with its demo restaurants and bills.
    pub fn with_demo_data() -> Self {
        Simulators {
            wsa: WsaSim::with_demo_data(),
            delivery: DeliverySim::with_demo_data(),
            tillypad: TillypadSim::with_demo_data(),
            expirenza: ExpirenzaSim::with_demo_data(),
        }
    }

    pub fn router(&self) -> Router {
        self.wsa
            .router()
            .merge(self.delivery.router())
            .merge(self.tillypad.router())
            .merge(self.expirenza.router())
    }

    pub async fn serve_with_shutdown(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Open WebSockets would hold a graceful shutdown forever: drop them when it starts.
        let expirenza = self.expirenza.clone();
        let shutdown = async move {
            shutdown.await;
            expirenza.drop_connections();
        };
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_simulator_answers_on_one_port() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            Simulators::with_demo_data().serve_with_shutdown(listener, std::future::pending()),
        );
        let http = reqwest::Client::new();
        for name in ["wsa", "delivery", "tillypad", "expirenza"] {
            let r = http
                .post(format!("http://{addr}/_sim/{name}/reset"))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{name}: {}", r.status());
        }
    }
}
