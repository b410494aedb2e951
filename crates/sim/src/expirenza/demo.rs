//! Demo data: the one restaurant `posgate up` and `posgate-sim --demo` connect as.

use super::model::SimResto;

/// The demo restaurant's Expirenza id.
pub const DEMO_RESTO_ID: &str = "demo-resto";
/// The demo restaurant's secret key.
pub const DEMO_SECRET_KEY: &str = "demo-expirenza-secret";

/// The restaurants a demo simulator starts with (and goes back to on reset).
pub(super) fn restaurants() -> Vec<SimResto> {
    vec![SimResto::new(DEMO_RESTO_ID, DEMO_SECRET_KEY)]
}
