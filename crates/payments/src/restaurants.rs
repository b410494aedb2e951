//! The `RestaurantService` gRPC API: operators declare restaurants at run time.
//!
//! Each field is checked and named when wrong (`INVALID_ARGUMENT`); the POS kind must be one the
//! service has an adapter for. Answers never carry a secret, only which secrets are set.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use posgate_core::request::{is_unsafe_char, validate_id};
use posgate_core::{FieldError, Secret};
use posgate_proto::v1::restaurant_service_server::RestaurantService;
use posgate_proto::v1::{self as pb};
use tonic::{Request, Response, Status};
use tracing::info;

use crate::adapters::Adapters;
use crate::config::PaymentsConfig;
use crate::convert::rfc3339;
use crate::engine::now_ms;
use crate::registry::{
    ExpirenzaChannel, Registry, RegistryError, RestaurantRecord, RestaurantSpec,
};

/// Most settings (plain or secret) one restaurant may have, and the longest value.
const MAX_SETTINGS: usize = 64;
const MAX_SETTING_LEN: usize = 4_096;
/// Most tables an Expirenza channel may list, and the longest table name.
const MAX_TABLES: usize = 2_000;
const MAX_TABLE_LEN: usize = 64;
/// Largest currency scale (digits after the dot) any currency uses.
const MAX_SCALE: u32 = 4;
const MAX_PAGE: u32 = 500;

pub struct RestaurantsApi {
    pub(crate) registry: Registry,
    pub(crate) cfg: Arc<PaymentsConfig>,
    pub(crate) adapters: Adapters,
}

fn invalid(e: FieldError) -> Status {
    Status::invalid_argument(e.to_string())
}

fn registry_status(e: RegistryError) -> Status {
    match e {
        RegistryError::Exists(_) => Status::already_exists(e.to_string()),
        RegistryError::NotFound(_) => Status::not_found(format!("restaurant_id: {e}")),
        RegistryError::VersionMismatch { .. } => Status::aborted(e.to_string()),
        RegistryError::Store(s) => {
            tracing::warn!(error = %s, "registry store error");
            Status::internal(format!("registry: {s}"))
        }
    }
}

/// A display name or a setting value: bounded, no control or bidi-override characters.
fn text(field: &str, v: &str, max: usize) -> Result<(), FieldError> {
    if v.len() > max {
        return Err(FieldError::new(
            field,
            format!("is longer than {max} bytes"),
        ));
    }
    if v.chars().any(is_unsafe_char) {
        return Err(FieldError::new(
            field,
            "has control or bidirectional-override characters",
        ));
    }
    Ok(())
}

fn settings(
    field: &str,
    m: &HashMap<String, String>,
) -> Result<BTreeMap<String, String>, FieldError> {
    if m.len() > MAX_SETTINGS {
        return Err(FieldError::new(
            field,
            format!("more than {MAX_SETTINGS} entries"),
        ));
    }
    let mut out = BTreeMap::new();
    for (k, v) in m {
        let valid_key = !k.is_empty()
            && k.len() <= 64
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(FieldError::new(
                format!("{field}[{}]", k.escape_debug()),
                "a key is letters, digits and _ (at most 64)",
            ));
        }
        text(&format!("{field}[{k}]"), v, MAX_SETTING_LEN)?;
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

/// An Expirenza channel's tables: each named (no blanks, no repeats), bounded.
fn tables(v: &[String]) -> Result<Vec<String>, FieldError> {
    if v.len() > MAX_TABLES {
        return Err(FieldError::new(
            "spec.expirenza.tables",
            format!("more than {MAX_TABLES} tables"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in v.iter().enumerate() {
        let field = format!("spec.expirenza.tables[{i}]");
        if t.trim().is_empty() || t.trim() != t {
            return Err(FieldError::new(
                field,
                "is a table name: not blank, no surrounding spaces",
            ));
        }
        text(&field, t, MAX_TABLE_LEN)?;
        if !seen.insert(t.as_str()) {
            return Err(FieldError::new(field, format!("{t:?} is listed twice")));
        }
    }
    Ok(v.to_vec())
}

fn url(field: &str, v: &str, schemes: &[&str]) -> Result<(), FieldError> {
    text(field, v, 2_000)?;
    if !schemes.iter().any(|s| v.starts_with(s)) || v.contains(char::is_whitespace) {
        return Err(FieldError::new(
            field,
            format!("is not a URL starting with {}", schemes.join(" or ")),
        ));
    }
    Ok(())
}

impl RestaurantsApi {
    /// The spec of a request, every field checked and named.
    fn spec(&self, s: Option<pb::RestaurantSpec>) -> Result<RestaurantSpec, FieldError> {
        let s = s.ok_or_else(|| FieldError::new("spec", "is required"))?;
        if s.display_name.trim().is_empty() {
            return Err(FieldError::new("spec.display_name", "is required"));
        }
        text("spec.display_name", &s.display_name, 200)?;
        if !self.cfg.adapters.contains_key(&s.pos_kind) {
            return Err(FieldError::new(
                "spec.pos_kind",
                format!(
                    "{:?} is not a POS kind this service has an adapter for ({})",
                    s.pos_kind,
                    self.cfg
                        .adapters
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if s.currency.len() != 3 || !s.currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(FieldError::new(
                "spec.currency",
                "is an ISO 4217 code: three capital letters (UAH, KZT, JOD)",
            ));
        }
        if s.currency_scale > MAX_SCALE {
            return Err(FieldError::new(
                "spec.currency_scale",
                format!("is at most {MAX_SCALE}"),
            ));
        }
        let pos_settings = settings("spec.pos_settings", &s.pos_settings)?;
        let pos_secrets = settings("spec.pos_secrets", &s.pos_secrets)?
            .into_iter()
            .map(|(k, v)| (k, Secret::new(v)))
            .collect();
        let expirenza = match s.expirenza {
            None => None,
            Some(e) => {
                validate_id("spec.expirenza.resto_id", &e.resto_id)?;
                url("spec.expirenza.ws_url", &e.ws_url, &["wss://", "ws://"])?;
                url(
                    "spec.expirenza.callback_base_url",
                    &e.callback_base_url,
                    &["https://", "http://"],
                )?;
                text("spec.expirenza.secret_key", &e.secret_key, 1_000)?;
                let tips = match e.tips.as_str() {
                    "" | "separate" => "separate",
                    "none" => "none",
                    _ => {
                        return Err(FieldError::new(
                            "spec.expirenza.tips",
                            "is \"separate\" or \"none\"",
                        ));
                    }
                };
                Some(ExpirenzaChannel {
                    resto_id: e.resto_id,
                    ws_url: e.ws_url,
                    callback_base_url: e.callback_base_url,
                    secret_key: Secret::new(e.secret_key),
                    tips: tips.to_string(),
                    tables: tables(&e.tables)?,
                })
            }
        };
        Ok(RestaurantSpec {
            display_name: s.display_name,
            pos_kind: s.pos_kind,
            currency: s.currency,
            currency_scale: s.currency_scale,
            pos_settings,
            pos_secrets,
            expirenza,
        })
    }
}

impl RestaurantsApi {
    /// Asks the POS kind's adapter whether it can serve the restaurant with these settings
    /// (it reads them as it will on every call, without calling the POS): a bad or missing
    /// setting is the caller's, named; an adapter that cannot be asked refuses the change.
    async fn check_with_adapter(&self, id: &str, spec: &RestaurantSpec) -> Result<(), Status> {
        let Some(mut client) = self.adapters.client_for_kind(&spec.pos_kind) else {
            return Err(Status::invalid_argument(format!(
                "spec.pos_kind: no adapter serves {:?}",
                spec.pos_kind
            )));
        };
        let connection = pb::PosConnection {
            settings: spec.pos_settings.clone().into_iter().collect(),
            secrets: spec
                .pos_secrets
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect(),
            currency_scale: spec.currency_scale,
            version: 0,
        };
        match client
            .describe(self.adapters.request(pb::DescribeRequest {
                restaurant_id: id.to_string(),
                connection: Some(connection),
            }))
            .await
        {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::InvalidArgument => {
                Err(Status::invalid_argument(format!(
                    "spec.pos_settings: the {} adapter refused them: {}",
                    spec.pos_kind,
                    s.message()
                )))
            }
            Err(s) => Err(Status::unavailable(format!(
                "the {} adapter could not check the settings, nothing was changed: {}",
                spec.pos_kind,
                s.message()
            ))),
        }
    }
}

/// The restaurant as answered: secrets left out, only their names.
pub fn restaurant_to_pb(r: &RestaurantRecord) -> pb::Restaurant {
    let s = &r.spec;
    pb::Restaurant {
        restaurant_id: r.id.clone(),
        display_name: s.display_name.clone(),
        pos_kind: s.pos_kind.clone(),
        currency: s.currency.clone(),
        currency_scale: s.currency_scale,
        pos_settings: s.pos_settings.clone().into_iter().collect(),
        pos_secrets_set: s.pos_secrets.keys().cloned().collect(),
        expirenza: s.expirenza.as_ref().map(|e| pb::ExpirenzaChannelView {
            resto_id: e.resto_id.clone(),
            ws_url: e.ws_url.clone(),
            callback_base_url: e.callback_base_url.clone(),
            secret_key_set: !e.secret_key.is_empty(),
            tips: e.tips.clone(),
            tables: e.tables.clone(),
        }),
        enabled: r.enabled,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
        version: u64::try_from(r.version).unwrap_or_default(),
    }
}

#[tonic::async_trait]
impl RestaurantService for RestaurantsApi {
    async fn create_restaurant(
        &self,
        req: Request<pb::CreateRestaurantRequest>,
    ) -> Result<Response<pb::Restaurant>, Status> {
        let r = req.into_inner();
        validate_id("restaurant_id", &r.restaurant_id).map_err(invalid)?;
        let spec = self.spec(r.spec).map_err(invalid)?;
        // An existing restaurant is said so first (an import then updates it), before its new
        // settings are judged on their own.
        if self
            .registry
            .get(&r.restaurant_id)
            .await
            .map_err(registry_status)?
            .is_some()
        {
            return Err(registry_status(RegistryError::Exists(r.restaurant_id)));
        }
        self.check_with_adapter(&r.restaurant_id, &spec).await?;
        let rec = self
            .registry
            .create(&r.restaurant_id, &spec, now_ms())
            .await
            .map_err(registry_status)?;
        info!(restaurant_id = %rec.id, pos_kind = %spec.pos_kind, "restaurant created");
        Ok(Response::new(restaurant_to_pb(&rec)))
    }

    async fn update_restaurant(
        &self,
        req: Request<pb::UpdateRestaurantRequest>,
    ) -> Result<Response<pb::Restaurant>, Status> {
        let r = req.into_inner();
        validate_id("restaurant_id", &r.restaurant_id).map_err(invalid)?;
        let spec = self.spec(r.spec).map_err(invalid)?;
        // The adapter checks what the restaurant will be: stored secrets not named stay.
        let mut merged = spec.clone();
        if let Some(stored) = self
            .registry
            .get(&r.restaurant_id)
            .await
            .map_err(registry_status)?
        {
            for (k, v) in stored.spec.pos_secrets {
                if !r.clear_secrets.contains(&k) {
                    merged.pos_secrets.entry(k).or_insert(v);
                }
            }
        }
        self.check_with_adapter(&r.restaurant_id, &merged).await?;
        let expected = match r.expected_version {
            0 => None,
            v => Some(
                i64::try_from(v)
                    .map_err(|_| Status::invalid_argument("expected_version: too large"))?,
            ),
        };
        let rec = self
            .registry
            .update(
                &r.restaurant_id,
                &spec,
                &r.clear_secrets,
                expected,
                now_ms(),
            )
            .await
            .map_err(registry_status)?;
        info!(restaurant_id = %rec.id, version = rec.version, "restaurant updated");
        Ok(Response::new(restaurant_to_pb(&rec)))
    }

    async fn get_restaurant(
        &self,
        req: Request<pb::GetRestaurantRequest>,
    ) -> Result<Response<pb::Restaurant>, Status> {
        let id = req.into_inner().restaurant_id;
        validate_id("restaurant_id", &id).map_err(invalid)?;
        let rec = self
            .registry
            .get(&id)
            .await
            .map_err(registry_status)?
            .ok_or_else(|| Status::not_found(format!("restaurant_id: no restaurant {id:?}")))?;
        Ok(Response::new(restaurant_to_pb(&rec)))
    }

    async fn list_restaurants(
        &self,
        req: Request<pb::ListRestaurantsRequest>,
    ) -> Result<Response<pb::ListRestaurantsResponse>, Status> {
        let r = req.into_inner();
        if !r.page_token.is_empty() {
            validate_id("page_token", &r.page_token).map_err(invalid)?;
        }
        let limit = match r.page_size {
            0 => 100,
            n => n.min(MAX_PAGE),
        };
        let mut recs = self
            .registry
            .list(
                r.include_disabled,
                Some(r.page_token.as_str()).filter(|t| !t.is_empty()),
                limit + 1,
            )
            .await
            .map_err(registry_status)?;
        let more = recs.len() > limit as usize;
        recs.truncate(limit as usize);
        Ok(Response::new(pb::ListRestaurantsResponse {
            next_page_token: if more {
                recs.last().map(|r| r.id.clone()).unwrap_or_default()
            } else {
                String::new()
            },
            restaurants: recs.iter().map(restaurant_to_pb).collect(),
        }))
    }

    async fn disable_restaurant(
        &self,
        req: Request<pb::DisableRestaurantRequest>,
    ) -> Result<Response<pb::Restaurant>, Status> {
        let id = req.into_inner().restaurant_id;
        validate_id("restaurant_id", &id).map_err(invalid)?;
        let rec = self
            .registry
            .disable(&id, now_ms())
            .await
            .map_err(registry_status)?;
        info!(restaurant_id = %rec.id, "restaurant disabled");
        Ok(Response::new(restaurant_to_pb(&rec)))
    }

    async fn enable_restaurant(
        &self,
        req: Request<pb::EnableRestaurantRequest>,
    ) -> Result<Response<pb::Restaurant>, Status> {
        let id = req.into_inner().restaurant_id;
        validate_id("restaurant_id", &id).map_err(invalid)?;
        let rec = self
            .registry
            .enable(&id, now_ms())
            .await
            .map_err(registry_status)?;
        info!(restaurant_id = %rec.id, "restaurant enabled");
        Ok(Response::new(restaurant_to_pb(&rec)))
    }
}
