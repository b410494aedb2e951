//! `posgate secrets rotate`: after a new key was added and made active (and every replica
//! restarted with it), re-encrypts what is still sealed under an old key — card codes of
//! payments and the registry's POS secrets and Expirenza keys — so the old key can be removed.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use posgate_payments::PaymentsConfig;
use posgate_payments::store::Store;

#[derive(Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    cmd: SecretsCmd,
}

#[derive(Subcommand)]
enum SecretsCmd {
    /// Re-encrypt every stored secret under the active key of `[secrets]`.
    Rotate {
        /// The payment service's config (database and keys).
        #[arg(long, env = "POSGATE_CONFIG")]
        config: Option<PathBuf>,
    },
}

pub async fn run(a: SecretsArgs) -> anyhow::Result<()> {
    match a.cmd {
        SecretsCmd::Rotate { config } => {
            let cfg = PaymentsConfig::load(config.as_deref())?;
            let keys = Arc::new(cfg.secrets.keyring()?);
            let active = keys.active_id().to_string();
            let store = Store::open(&cfg.database_url, keys).await?;
            let cards = store.rewrap_card_codes().await?;
            let registry = store.registry().rewrap_secrets().await?;
            println!(
                "active key {active:?}: card codes of {} payments and secrets of {} restaurants re-encrypted",
                cards.changed, registry.changed
            );
            let failed: Vec<String> = cards
                .failed
                .iter()
                .map(|id| format!("payment {id}"))
                .chain(registry.failed.iter().map(|id| format!("restaurant {id}")))
                .collect();
            anyhow::ensure!(
                failed.is_empty(),
                "could not open (their key is not configured?), left as they were; keep the old key: {}",
                failed.join(", ")
            );
            println!("nothing is sealed under another key any more: old keys can be removed");
            Ok(())
        }
    }
}
