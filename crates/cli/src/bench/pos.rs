//! The POS a benchmark runs against: for each kind, how its simulator (a separate process,
//! driven through its control API) gets restaurants, bills and a latency, and how the same
//! restaurants are declared in posgate's registry. The simulated POS time is put on the one
//! call that writes the payment (WSA sync: PayOrder; WSA async: the agent's delay before it
//! runs a task; r_k Delivery: /pay; Tillypad: /pay-guest), so "posgate's own cost" is the
//! latency minus that.

use std::collections::HashMap;

use clap::ValueEnum;
use posgate_proto::v1 as pb;
use posgate_sim::{delivery, tillypad, wsa};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PosKind {
    /// r_keeper White Server API, agent v2, sync tasks (the answer comes with the call).
    WsaSync,
    /// r_keeper White Server API, agent v2, async tasks (submit, then poll GetTaskResponse).
    WsaAsync,
    /// r_k Delivery: pay, then complete.
    Delivery,
    /// Tillypad XL: one /pay-guest pays and closes.
    Tillypad,
}

/// What each kind is, in one table.
pub struct PosRow {
    pub kind: PosKind,
    pub name: &'static str,
    /// The registry's `pos_kind` and the `[payments.adapters]` key.
    pub pos_kind: &'static str,
    /// `posgate serve <service>` of its adapter, and the config section with its `listen`.
    pub service: &'static str,
    /// Its simulator's control API, under the simulator's address.
    pub control: &'static str,
    /// Where the simulated POS time goes.
    pub latency_on: &'static str,
}

pub const POS: &[PosRow] = &[
    PosRow {
        kind: PosKind::WsaSync,
        name: "wsa-sync",
        pos_kind: "wsa",
        service: "wsa",
        control: wsa::CONTROL_PREFIX,
        latency_on: "PayOrder answered after the delay (Slow fault)",
    },
    PosRow {
        kind: PosKind::WsaAsync,
        name: "wsa-async",
        pos_kind: "wsa",
        service: "wsa",
        control: wsa::CONTROL_PREFIX,
        latency_on: "the agent runs each task after the delay (async_delay_ms)",
    },
    PosRow {
        kind: PosKind::Delivery,
        name: "delivery",
        pos_kind: "delivery",
        service: "delivery",
        control: delivery::CONTROL_PREFIX,
        latency_on: "/pay handled after the delay (Latency fault)",
    },
    PosRow {
        kind: PosKind::Tillypad,
        name: "tillypad",
        pos_kind: "tillypad",
        service: "tillypad",
        control: tillypad::CONTROL_PREFIX,
        latency_on: "/pay-guest handled after the delay (Slow fault)",
    },
];

impl PosKind {
    pub fn row(self) -> &'static PosRow {
        POS.iter()
            .find(|r| r.kind == self)
            .expect("every kind has a row")
    }

    /// As `--pos` spells it.
    pub fn name(self) -> &'static str {
        self.row().name
    }
}

/// Every bill is for this amount.
pub const AMOUNT: &str = "100.00";
const WSA_CURRENCY: &str = "{0B3F6A1E-9C2D-4E5F-8A7B-6C5D4E3F2A10}";
const TILLYPAD_DISH: &str = "7C1D1E3A-5B2C-4D8E-9F10-111213141516";

/// A simulated restaurant: its registry id and what the simulator knows it by.
#[derive(Clone, Debug)]
pub struct Restaurant {
    pub id: String,
    /// WSA `object_id`, r_k Delivery restaurant GUID; unused for Tillypad (one POS).
    pos_ref: String,
}

/// Named settings of a restaurant's POS connection.
type Settings = Vec<(&'static str, String)>;

/// A bill to pay: restaurant and the POS's bill id.
#[derive(Clone, Debug)]
pub struct Bill {
    pub restaurant_id: String,
    pub bill_id: String,
}

/// The simulator process's control APIs.
#[derive(Clone)]
pub struct Sim {
    http: reqwest::Client,
    base: String,
}

impl Sim {
    pub fn new(base: String) -> Sim {
        Sim {
            http: reqwest::Client::new(),
            base,
        }
    }

    pub(super) async fn post<T: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &T,
    ) -> anyhow::Result<R> {
        let url = format!("{}{path}", self.base);
        Self::answer(&url, self.http.post(&url).json(body)).await
    }

    /// `GET path` → its JSON answer.
    pub(super) async fn get<R: DeserializeOwned>(&self, path: &str) -> anyhow::Result<R> {
        let url = format!("{}{path}", self.base);
        Self::answer(&url, self.http.get(&url)).await
    }

    async fn answer<R: DeserializeOwned>(
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<R> {
        let r = request
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("simulator {url}: {e}"))?;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        anyhow::ensure!(status.is_success(), "simulator {url}: {status}: {text}");
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("simulator {url}: {e}: {text}"))
    }

    /// `DELETE path` (e.g. every fault rule).
    pub(super) async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let url = format!("{}{path}", self.base);
        let _: serde_json::Value = Self::answer(&url, self.http.delete(&url)).await?;
        Ok(())
    }

    /// Whether the control API of `kind` answers.
    pub async fn answers(&self, kind: PosKind) -> bool {
        let url = format!("{}{}/", self.base, kind.row().control);
        matches!(self.http.get(url).send().await, Ok(r) if r.status().is_success())
    }
}

fn amount() -> Decimal {
    AMOUNT.parse().expect("a decimal")
}

impl PosKind {
    /// Creates `n` restaurants in the simulator with `latency_ms` of POS time on each payment;
    /// the restaurants and how to declare them in the registry (`extra` settings added).
    pub async fn setup(
        self,
        sim: &Sim,
        n: usize,
        latency_ms: u64,
        extra: &HashMap<String, String>,
    ) -> anyhow::Result<Vec<(Restaurant, pb::RestaurantSpec)>> {
        let ctl = self.row().control;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let id = format!("bench-{i}");
            let (pos_ref, settings, secrets): (String, Settings, Settings) = match self {
                PosKind::WsaSync | PosKind::WsaAsync => {
                    let object_id = 7_100_000 + i64::try_from(i)?;
                    let token = format!("bench-wsa-token-{i}");
                    let mut r = wsa::SimRestaurant::new(
                        object_id,
                        wsa::AgentVersion::V2,
                        token.clone(),
                        WSA_CURRENCY,
                    );
                    let mode = if self == PosKind::WsaAsync {
                        r.async_delay_ms = latency_ms;
                        "async"
                    } else {
                        "sync"
                    };
                    let _: wsa::SimRestaurant = sim.post(&format!("{ctl}/restaurants"), &r).await?;
                    (
                        object_id.to_string(),
                        vec![
                            ("base_url", sim.base.clone()),
                            ("object_id", object_id.to_string()),
                            ("agent_version", "v2".into()),
                            ("currency_guid", WSA_CURRENCY.into()),
                            ("mode", mode.into()),
                        ],
                        vec![("token", token)],
                    )
                }
                PosKind::Delivery => {
                    let restaurant = format!("0f5e2d1c-bbbb-4ccc-8ddd-{i:012}");
                    let currency = format!("A1B2C3D4-0000-4000-8000-{i:012}");
                    let (client, secret) =
                        (format!("bench-delivery-{i}"), format!("bench-secret-{i}"));
                    let _: delivery::SimClient = sim
                        .post(
                            &format!("{ctl}/clients"),
                            &delivery::SimClient::new(client.clone(), secret.clone()),
                        )
                        .await?;
                    let _: delivery::SimRestaurant = sim
                        .post(
                            &format!("{ctl}/restaurants"),
                            &delivery::SimRestaurant::new(restaurant.clone(), currency.clone()),
                        )
                        .await?;
                    (
                        restaurant,
                        vec![
                            ("base_url", sim.base.clone()),
                            ("auth_url", sim.base.clone()),
                            ("client_id", client),
                            ("currency_guid", currency),
                            ("utc_offset", "+03:00".into()),
                        ],
                        vec![("client_secret", secret)],
                    )
                }
                // One Tillypad per simulator: every restaurant is a till on it.
                PosKind::Tillypad => (
                    String::new(),
                    vec![
                        ("base_url", sim.base.clone()),
                        ("default_pay_type_id", tillypad::DEMO_PAY_TYPE_ID.into()),
                    ],
                    Vec::new(),
                ),
            };
            let mut pos_settings: HashMap<String, String> = settings
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            pos_settings.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            let spec = pb::RestaurantSpec {
                display_name: format!("Benchmark {} {i}", self.name()),
                pos_kind: self.row().pos_kind.into(),
                currency: "UAH".into(),
                currency_scale: 2,
                pos_settings,
                pos_secrets: secrets
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                expirenza: None,
            };
            out.push((Restaurant { id, pos_ref }, spec));
        }
        self.set_latency(sim, latency_ms).await?;
        Ok(out)
    }

    /// The POS time of every payment's write, until the simulator stops (WSA async: set on
    /// each restaurant by [`PosKind::setup`]).
    pub(super) async fn set_latency(self, sim: &Sim, ms: u64) -> anyhow::Result<()> {
        if ms == 0 {
            return Ok(());
        }
        let ctl = format!("{}/faults", self.row().control);
        match self {
            PosKind::WsaSync => {
                let f = wsa::Fault::new(wsa::FaultKind::Slow { delay_ms: ms });
                let _: wsa::Fault = sim.post(&ctl, &f).await?;
            }
            PosKind::WsaAsync => {}
            PosKind::Delivery => {
                let f = delivery::Fault::new(delivery::FaultKind::Latency { delay_ms: ms });
                let _: delivery::Fault = sim.post(&ctl, &f).await?;
            }
            PosKind::Tillypad => {
                let f = tillypad::Fault::new(tillypad::FaultKind::Slow { delay_ms: ms });
                let _: tillypad::Fault = sim.post(&ctl, &f).await?;
            }
        }
        Ok(())
    }

    /// Opens a bill of [`AMOUNT`] in restaurant `r`.
    pub async fn open_bill(self, sim: &Sim, r: &Restaurant) -> anyhow::Result<Bill> {
        let ctl = self.row().control;
        let bill_id = match self {
            PosKind::WsaSync | PosKind::WsaAsync => {
                let o = wsa::SimOrder::new(r.pos_ref.parse()?, amount());
                let o: wsa::SimOrder = sim.post(&format!("{ctl}/orders"), &o).await?;
                o.guid
            }
            PosKind::Delivery => {
                let o = delivery::SimOrder::new(delivery::status::TRANSFERRED_TO_KITCHEN, amount())
                    .with_restaurant(r.pos_ref.clone());
                let o: delivery::SimOrder = sim.post(&format!("{ctl}/orders"), &o).await?;
                o.order_id
            }
            PosKind::Tillypad => {
                let item = tillypad::SimItem::new(TILLYPAD_DISH, "Dish", amount(), Decimal::ONE);
                let t: tillypad::SimTab = sim
                    .post(&format!("{ctl}/tabs"), &tillypad::SimTab::new(vec![item]))
                    .await?;
                t.gest_id
            }
        };
        Ok(Bill {
            restaurant_id: r.id.clone(),
            bill_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_row_named_as_its_flag() {
        for k in PosKind::value_variants() {
            let rows = POS.iter().filter(|r| r.kind == *k).count();
            assert_eq!(rows, 1, "{k:?}");
            let flag = k.to_possible_value().expect("a flag value");
            assert_eq!(k.name(), flag.get_name());
        }
    }
}
