//! The one trait a POS integration implements: its restaurant settings, and the five questions
//! posgate asks a POS, in domain types (`posgate_core::pos`).
//!
//! Why it exists: everything around those questions — the gRPC contract, reading and caching a
//! restaurant's connection, checking amounts, ids and tenders, the wire form of bills and
//! answers, logging — is the same for every POS and lives in the kit's [`crate::server`]. A
//! connector is what is truly its own: how to ask its POS and how to read the answers.

use posgate_core::pos::{Bill, Capabilities, Check, PosFailure, PosReply, Posting};
use posgate_proto::v1::PosConnection;

use crate::connection::Setting;

/// A request the connector refuses as malformed for its POS, naming the field
/// (`"pos_options.pay_type_id: ..."`): `INVALID_ARGUMENT`, nothing is sent to the POS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn field(field: &str, why: impl std::fmt::Display) -> Invalid {
        Invalid(format!("{field}: {why}"))
    }
}

/// A POS integration. One value serves every restaurant of its kind: a restaurant arrives with
/// each call as its connection, built into [`PosConnector::Restaurant`] once and kept while the
/// connection is unchanged (see [`crate::ConnectionCache`]).
#[tonic::async_trait]
pub trait PosConnector: Send + Sync + 'static {
    /// `Describe.pos_kind`, as restaurants name it in the registry (`"r_keeper_wsa"`).
    const KIND: &'static str;
    /// The connection settings this POS takes (`Describe.settings`).
    const SETTINGS: &'static [Setting];

    /// A restaurant ready to be served: its checked settings, its HTTP client, its caches.
    type Restaurant: Send + Sync + 'static;

    /// Builds a restaurant from its connection (settings, secrets, `currency_scale`). The error
    /// names the setting (`setting "base_url" ...`) and never quotes a value.
    fn connect(&self, connection: &PosConnection) -> Result<Self::Restaurant, String>;

    /// What this restaurant's POS can do.
    fn capabilities(&self, restaurant: &Self::Restaurant) -> Capabilities;

    /// The bill id as this POS takes it, or why it cannot be one (said after `bill_id: `).
    /// Default: any non-blank id, trimmed.
    fn bill_id(&self, raw: &str) -> Result<String, String> {
        let id = raw.trim();
        if id.is_empty() {
            return Err("is required".into());
        }
        Ok(id.to_string())
    }

    /// The bill as the POS shows it now, or the POS's refusal.
    async fn get_bill(
        &self,
        restaurant: &Self::Restaurant,
        bill_id: &str,
    ) -> Result<Bill, PosFailure>;

    /// Open bills (of one table when `table` is given); a failure after some bills were read
    /// comes with them. Default: this POS cannot list bills.
    async fn list_bills(
        &self,
        _restaurant: &Self::Restaurant,
        _table: Option<&str>,
    ) -> (Vec<Bill>, Option<PosFailure>) {
        (
            Vec::new(),
            Some(PosFailure::ours(
                posgate_core::Substate::OtherError,
                "pos/unsupported",
                format!("{} cannot list bills", Self::KIND),
            )),
        )
    }

    /// Posts a payment. The kit has checked the amounts at the restaurant's scale, that the
    /// tenders add up, and that points/tips are only sent to a POS that says it takes them.
    async fn post_payment(
        &self,
        restaurant: &Self::Restaurant,
        posting: &Posting,
    ) -> Result<PosReply, Invalid>;

    /// Closes a paid bill (idempotent: a bill already closed is a success).
    async fn close_bill(
        &self,
        restaurant: &Self::Restaurant,
        bill_id: &str,
        payment_id: &str,
    ) -> PosReply;

    /// After an unknown outcome: is the unanswered posting there? Never posts.
    async fn check_payment(&self, restaurant: &Self::Restaurant, check: &Check) -> PosReply;
}
