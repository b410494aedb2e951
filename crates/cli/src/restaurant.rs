//! `posgate restaurant add | update | show | list | disable | enable | import`: the restaurant registry
//! from the command line (an operator's token: `POSGATE_OPERATOR_TOKEN`).
//!
//! Secrets can be given inline (`--secret token=...`, for demos) or, better, from a file
//! (`--secret-file token=/run/secrets/wsa-token`), which keeps them out of shell history and
//! the process list. Answers never show a secret, only which are set.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use posgate_grpc::CallerToken;
use posgate_proto::v1::restaurant_service_client::RestaurantServiceClient;
use posgate_proto::v1::{self as pb};
use serde::Deserialize;
use serde_json::json;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::client::status_err;

#[derive(Args)]
pub struct RestaurantArgs {
    #[command(subcommand)]
    cmd: RestaurantCmd,
    /// Payment service address.
    #[arg(
        long,
        env = "POSGATE_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    server: String,
    /// An operator's bearer token (the `operator` token of `[auth]`; the default is the demo
    /// configuration's).
    #[arg(
        long,
        env = "POSGATE_OPERATOR_TOKEN",
        default_value = "demo-operator-token",
        hide_default_value = true,
        global = true
    )]
    token: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum RestaurantCmd {
    /// Declare a restaurant.
    Add(SpecArgs),
    /// Replace a restaurant's description (secrets not named stay).
    Update(UpdateArgs),
    /// Show one restaurant.
    Show { restaurant_id: String },
    /// List restaurants.
    List {
        /// Include disabled restaurants.
        #[arg(long)]
        all: bool,
    },
    /// Stop taking payments for a restaurant.
    Disable { restaurant_id: String },
    /// Take payments for a disabled restaurant again.
    Enable { restaurant_id: String },
    /// Declare (or update) every restaurant of a TOML file: `[restaurants.<id>]` tables with
    /// display_name, pos_kind, currency, currency_scale, pos_settings, pos_secrets (or
    /// pos_secret_files), expirenza.
    Import { file: PathBuf },
}

#[derive(Args)]
struct SpecArgs {
    restaurant_id: String,
    #[arg(long)]
    name: String,
    /// POS kind: wsa | delivery | tillypad.
    #[arg(long)]
    pos: String,
    /// ISO 4217 currency code.
    #[arg(long)]
    currency: String,
    /// Digits after the dot of the currency.
    #[arg(long, default_value_t = 2)]
    scale: u32,
    /// A POS connection setting, `name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    settings: Vec<String>,
    /// A secret POS setting, `name=value` (repeatable; prefer --secret-file).
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    secrets: Vec<String>,
    /// A secret POS setting read from a file, `name=path` (repeatable).
    #[arg(long = "secret-file", value_name = "NAME=PATH")]
    secret_files: Vec<String>,
    /// Expirenza channel: the restaurant's id at Expirenza.
    #[arg(long)]
    expirenza_resto_id: Option<String>,
    #[arg(
        long,
        default_value = "wss://api.shaketopay.com.ua/restaurantEntryPoint"
    )]
    expirenza_ws_url: String,
    #[arg(long, default_value = "https://api.shaketopay.com.ua")]
    expirenza_callback_url: String,
    /// A file holding the Expirenza secret key.
    #[arg(long)]
    expirenza_secret_file: Option<PathBuf>,
    /// Expirenza tips: separate | none.
    #[arg(long, default_value = "separate")]
    expirenza_tips: String,
    /// A table of the restaurant, as guests name it (repeatable): getBill by any other table
    /// is answered TABLE_NOT_FOUND. None: every table is taken to exist.
    #[arg(long = "expirenza-table", value_name = "TABLE")]
    expirenza_tables: Vec<String>,
}

#[derive(Args)]
struct UpdateArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// Remove a secret setting (repeatable).
    #[arg(long = "clear-secret", value_name = "NAME")]
    clear: Vec<String>,
    /// Apply only if the restaurant is still at this version.
    #[arg(long)]
    expected_version: Option<u64>,
}

pub type Client = RestaurantServiceClient<InterceptedService<Channel, CallerToken>>;

async fn connect(a: &RestaurantArgs) -> anyhow::Result<Client> {
    registry_client(&a.server, &a.token).await
}

fn pairs(flag: &str, items: &[String]) -> anyhow::Result<HashMap<String, String>> {
    items
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| anyhow::anyhow!("--{flag} {kv:?}: expected NAME=VALUE"))
        })
        .collect()
}

fn read_secret(path: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        .trim()
        .to_string())
}

impl SpecArgs {
    fn spec(&self) -> anyhow::Result<pb::RestaurantSpec> {
        let mut pos_secrets = pairs("secret", &self.secrets)?;
        for (name, path) in pairs("secret-file", &self.secret_files)? {
            pos_secrets.insert(name, read_secret(Path::new(&path))?);
        }
        let expirenza = match &self.expirenza_resto_id {
            None => None,
            Some(resto) => Some(pb::ExpirenzaChannel {
                resto_id: resto.clone(),
                ws_url: self.expirenza_ws_url.clone(),
                callback_base_url: self.expirenza_callback_url.clone(),
                secret_key: match &self.expirenza_secret_file {
                    Some(f) => read_secret(f)?,
                    None => String::new(),
                },
                tips: self.expirenza_tips.clone(),
                tables: self.expirenza_tables.clone(),
            }),
        };
        Ok(pb::RestaurantSpec {
            display_name: self.name.clone(),
            pos_kind: self.pos.clone(),
            currency: self.currency.clone(),
            currency_scale: self.scale,
            pos_settings: pairs("set", &self.settings)?,
            pos_secrets,
            expirenza,
        })
    }
}

/// The restaurants of an import file (`[restaurants.<id>]` tables); secret files are read
/// relative to `base`.
pub fn parse_import(text: &str, base: &Path) -> anyhow::Result<Vec<(String, pb::RestaurantSpec)>> {
    let parsed: ImportFile = toml::from_str(text)?;
    parsed
        .restaurants
        .into_iter()
        .map(|(id, r)| Ok((id, r.spec(base)?)))
        .collect()
}

/// Creates a restaurant; when it exists, updates it (`update_existing`) or leaves it as it is
/// (`None`).
pub async fn declare(
    c: &mut Client,
    id: &str,
    spec: pb::RestaurantSpec,
    update_existing: bool,
) -> anyhow::Result<Option<pb::Restaurant>> {
    let created = c
        .create_restaurant(pb::CreateRestaurantRequest {
            restaurant_id: id.to_string(),
            spec: Some(spec.clone()),
        })
        .await;
    match created {
        Ok(r) => Ok(Some(r.into_inner())),
        Err(s) if s.code() == tonic::Code::AlreadyExists && !update_existing => Ok(None),
        Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(Some(
            c.update_restaurant(pb::UpdateRestaurantRequest {
                restaurant_id: id.to_string(),
                spec: Some(spec),
                clear_secrets: Vec::new(),
                expected_version: 0,
            })
            .await
            .map_err(|s| anyhow::anyhow!("{id}: {}", status_err(s)))?
            .into_inner(),
        )),
        Err(s) => Err(anyhow::anyhow!("{id}: {}", status_err(s))),
    }
}

/// A registry client for `server` with an operator's `token`.
pub async fn registry_client(server: &str, token: &str) -> anyhow::Result<Client> {
    let channel = Channel::from_shared(server.to_string())?
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the payment service at {server}: {e}"))?;
    Ok(RestaurantServiceClient::with_interceptor(
        channel,
        CallerToken::bearer(token),
    ))
}

/// One `[restaurants.<id>]` table of an import file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedRestaurant {
    display_name: String,
    pos_kind: String,
    currency: String,
    #[serde(default = "two")]
    currency_scale: u32,
    #[serde(default)]
    pos_settings: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pos_secrets: BTreeMap<String, String>,
    /// name → file holding the secret.
    #[serde(default)]
    pos_secret_files: BTreeMap<String, PathBuf>,
    expirenza: Option<ImportedChannel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedChannel {
    resto_id: String,
    ws_url: String,
    callback_base_url: String,
    #[serde(default)]
    secret_key: String,
    secret_key_file: Option<PathBuf>,
    #[serde(default)]
    tips: String,
    /// Table names; numbers are taken as written (`tables = [1, 2, "12a"]`).
    #[serde(default)]
    tables: Vec<toml::Value>,
}

fn two() -> u32 {
    2
}

#[derive(Deserialize)]
struct ImportFile {
    restaurants: BTreeMap<String, ImportedRestaurant>,
}

/// A TOML value as a setting: strings as they are, numbers and booleans as written.
fn setting(v: toml::Value) -> String {
    match v {
        toml::Value::String(s) => s,
        other => other.to_string(),
    }
}

impl ImportedRestaurant {
    fn spec(self, base: &Path) -> anyhow::Result<pb::RestaurantSpec> {
        let mut pos_secrets: HashMap<String, String> = self.pos_secrets.into_iter().collect();
        for (name, file) in self.pos_secret_files {
            pos_secrets.insert(name, read_secret(&base.join(file))?);
        }
        let expirenza = match self.expirenza {
            None => None,
            Some(e) => Some(pb::ExpirenzaChannel {
                secret_key: match &e.secret_key_file {
                    Some(f) => read_secret(&base.join(f))?,
                    None => e.secret_key,
                },
                resto_id: e.resto_id,
                ws_url: e.ws_url,
                callback_base_url: e.callback_base_url,
                tips: e.tips,
                tables: e.tables.into_iter().map(setting).collect(),
            }),
        };
        Ok(pb::RestaurantSpec {
            display_name: self.display_name,
            pos_kind: self.pos_kind,
            currency: self.currency,
            currency_scale: self.currency_scale,
            pos_settings: self
                .pos_settings
                .into_iter()
                .map(|(k, v)| (k, setting(v)))
                .collect(),
            pos_secrets,
            expirenza,
        })
    }
}

fn print(r: &pb::Restaurant, as_json: bool) {
    if as_json {
        out!(
            "{}",
            json!({
                "restaurant_id": r.restaurant_id,
                "display_name": r.display_name,
                "pos_kind": r.pos_kind,
                "currency": r.currency,
                "currency_scale": r.currency_scale,
                "pos_settings": r.pos_settings.iter().collect::<BTreeMap<_, _>>(),
                "pos_secrets_set": r.pos_secrets_set,
                "expirenza": r.expirenza.as_ref().map(|e| json!({
                    "resto_id": e.resto_id, "ws_url": e.ws_url,
                    "callback_base_url": e.callback_base_url,
                    "secret_key_set": e.secret_key_set, "tips": e.tips,
                    "tables": e.tables,
                })),
                "enabled": r.enabled,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
                "version": r.version,
            })
        );
        return;
    }
    out!(
        "{}  {}  {} {} (scale {})  {}  v{}",
        r.restaurant_id,
        r.display_name,
        r.pos_kind,
        r.currency,
        r.currency_scale,
        if r.enabled { "enabled" } else { "DISABLED" },
        r.version
    );
    for (k, v) in r.pos_settings.iter().collect::<BTreeMap<_, _>>() {
        out!("  {k} = {v}");
    }
    for k in &r.pos_secrets_set {
        out!("  {k} = <set>");
    }
    if let Some(e) = &r.expirenza {
        out!(
            "  expirenza: resto {} via {} (callbacks {}), key {}, tips {}, tables {}",
            e.resto_id,
            e.ws_url,
            e.callback_base_url,
            if e.secret_key_set { "set" } else { "NOT SET" },
            e.tips,
            if e.tables.is_empty() {
                "any".to_string()
            } else {
                e.tables.join(", ")
            }
        );
    }
}

pub async fn run(a: RestaurantArgs) -> anyhow::Result<()> {
    let mut c = connect(&a).await?;
    match &a.cmd {
        RestaurantCmd::Add(s) => {
            let r = c
                .create_restaurant(pb::CreateRestaurantRequest {
                    restaurant_id: s.restaurant_id.clone(),
                    spec: Some(s.spec()?),
                })
                .await
                .map_err(status_err)?
                .into_inner();
            print(&r, a.json);
        }
        RestaurantCmd::Update(u) => {
            let r = c
                .update_restaurant(pb::UpdateRestaurantRequest {
                    restaurant_id: u.spec.restaurant_id.clone(),
                    spec: Some(u.spec.spec()?),
                    clear_secrets: u.clear.clone(),
                    expected_version: u.expected_version.unwrap_or(0),
                })
                .await
                .map_err(status_err)?
                .into_inner();
            print(&r, a.json);
        }
        RestaurantCmd::Show { restaurant_id } => {
            let r = c
                .get_restaurant(pb::GetRestaurantRequest {
                    restaurant_id: restaurant_id.clone(),
                })
                .await
                .map_err(status_err)?
                .into_inner();
            print(&r, a.json);
        }
        RestaurantCmd::List { all } => {
            let mut token = String::new();
            loop {
                let page = c
                    .list_restaurants(pb::ListRestaurantsRequest {
                        include_disabled: *all,
                        page_size: 200,
                        page_token: token,
                    })
                    .await
                    .map_err(status_err)?
                    .into_inner();
                for r in &page.restaurants {
                    print(r, a.json);
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
        }
        RestaurantCmd::Disable { restaurant_id } => {
            let r = c
                .disable_restaurant(pb::DisableRestaurantRequest {
                    restaurant_id: restaurant_id.clone(),
                })
                .await
                .map_err(status_err)?
                .into_inner();
            print(&r, a.json);
        }
        RestaurantCmd::Enable { restaurant_id } => {
            let r = c
                .enable_restaurant(pb::EnableRestaurantRequest {
                    restaurant_id: restaurant_id.clone(),
                })
                .await
                .map_err(status_err)?
                .into_inner();
            print(&r, a.json);
        }
        RestaurantCmd::Import { file } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let base = file.parent().unwrap_or(Path::new("."));
            let specs = parse_import(&text, base)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for (id, spec) in specs {
                let r = declare(&mut c, &id, spec, true)
                    .await?
                    .expect("an import always answers");
                print(&r, a.json);
            }
        }
    }
    Ok(())
}
