//! Demo restaurants and orders with fixed identifiers.

use rust_decimal::Decimal;

use super::model::{AgentVersion, Lang, SimCurrency, SimDish, SimGuest, SimOrder, SimRestaurant};

/// Demo restaurant (agent v2).
pub const DEMO_OBJECT_ID: i64 = 199_990_246;
/// Token of [`DEMO_OBJECT_ID`].
pub const DEMO_TOKEN: &str = "demo-wsa-token";
/// Second demo restaurant (agent v1).
pub const DEMO_V1_OBJECT_ID: i64 = 199_990_247;
/// Token of [`DEMO_V1_OBJECT_ID`].
pub const DEMO_V1_TOKEN: &str = "demo-wsa-token-v1";
/// Card currency (both demo restaurants).
pub const DEMO_CURRENCY_GUID: &str = "5f9d3e8a-2c41-4b7e-9d1a-6c0b8e7f1a20";
/// Tips currency of [`DEMO_OBJECT_ID`].
pub const DEMO_TIPS_CURRENCY_GUID: &str = "b7c1e2d4-8f3a-4c5b-a6d7-e8f9a0b1c2d3";

/// 978.00, two guests (restaurant [`DEMO_OBJECT_ID`]).
pub const DEMO_ORDER_978: &str = "a1e0c6f2-3b7d-4c59-8e21-0d9780000978";
/// 1450.50 (restaurant [`DEMO_OBJECT_ID`]).
pub const DEMO_ORDER_1450_50: &str = "b2f1d7e3-4c8e-4d6a-9f32-1e0814501450";
/// 2300.00 (restaurant [`DEMO_OBJECT_ID`]).
pub const DEMO_ORDER_2300: &str = "c3a2e8f4-5d9f-4e7b-8a43-2f1923002300";
/// 0.00 — 100% discount (restaurant [`DEMO_OBJECT_ID`]).
pub const DEMO_ORDER_ZERO: &str = "d4b3f9a5-6e0a-4f8c-9b54-3a2a00000000";
/// 1000.00 (restaurant [`DEMO_V1_OBJECT_ID`], agent v1).
pub const DEMO_V1_ORDER_1000: &str = "e5c4a0b6-7f1b-4a9d-8c65-4b3b10001000";

fn d(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

fn qty(n: i64) -> Decimal {
    Decimal::new(n, 0)
}

/// `(guid, total)` of the demo orders of restaurant [`DEMO_OBJECT_ID`] (v2).
/// The v1 restaurant's order is [`DEMO_V1_ORDER_1000`] (see [`demo_orders`]).
pub fn demo_order_guids() -> Vec<(&'static str, Decimal)> {
    vec![
        (DEMO_ORDER_978, d(97800, 2)),
        (DEMO_ORDER_1450_50, d(145050, 2)),
        (DEMO_ORDER_2300, d(230000, 2)),
        (DEMO_ORDER_ZERO, d(0, 2)),
    ]
}

/// `(object_id, guid, total)` of every demo order, both restaurants.
pub fn demo_orders() -> Vec<(i64, &'static str, Decimal)> {
    let mut v: Vec<_> = demo_order_guids()
        .into_iter()
        .map(|(g, t)| (DEMO_OBJECT_ID, g, t))
        .collect();
    v.push((DEMO_V1_OBJECT_ID, DEMO_V1_ORDER_1000, d(100000, 2)));
    v
}

pub(crate) fn restaurants() -> Vec<SimRestaurant> {
    let v2 = SimRestaurant {
        object_id: DEMO_OBJECT_ID,
        agent_version: AgentVersion::V2,
        token: DEMO_TOKEN.to_string(),
        currencies: vec![
            SimCurrency::new(DEMO_CURRENCY_GUID, "Card"),
            SimCurrency::tips(DEMO_TIPS_CURRENCY_GUID, "Tips"),
        ],
        shift_open: true,
        printer_ok: true,
        language: Lang::Ru,
        async_delay_ms: 200,
        enforce_amounts: true,
    };
    let v1 = SimRestaurant {
        object_id: DEMO_V1_OBJECT_ID,
        agent_version: AgentVersion::V1,
        token: DEMO_V1_TOKEN.to_string(),
        currencies: vec![SimCurrency::new(DEMO_CURRENCY_GUID, "Card")],
        ..v2.clone()
    };
    vec![v2, v1]
}

fn order(object_id: i64, guid: &str, total: Decimal, table: &str, number: &str) -> SimOrder {
    let mut o = SimOrder::new(object_id, total).with_guid(guid);
    o.table_code = table.to_string();
    o.order_number = number.to_string();
    o.waiter_id = 7;
    o.waiter_name = "Анна".to_string();
    o
}

pub(crate) fn orders() -> Vec<SimOrder> {
    let o978 = order(DEMO_OBJECT_ID, DEMO_ORDER_978, d(97800, 2), "12", "1001")
        .with_guest(SimGuest::new(
            "Гость 1",
            vec![
                SimDish::new("1001", "Борщ с пампушками", d(39000, 2), qty(1)),
                SimDish::new("2001", "Морс клюквенный", d(12000, 2), qty(1)),
            ],
        ))
        .with_guest(SimGuest::new(
            "Гость 2",
            vec![
                SimDish::new("1002", "Пельмени домашние", d(39800, 2), qty(1)),
                SimDish::new("2002", "Чай чёрный", d(3500, 2), qty(2)),
            ],
        ));
    let o1450 = order(
        DEMO_OBJECT_ID,
        DEMO_ORDER_1450_50,
        d(145050, 2),
        "5",
        "1002",
    )
    .with_guest(SimGuest::new(
        "Гость 1",
        vec![
            SimDish::new("1003", "Стейк рибай", d(129050, 2), qty(1)),
            SimDish::new("2003", "Лимонад домашний", d(16000, 2), qty(1)),
        ],
    ));
    let o2300 = order(DEMO_OBJECT_ID, DEMO_ORDER_2300, d(230000, 2), "7", "1003")
        .with_guest(SimGuest::new(
            "Гость 1",
            vec![SimDish::new(
                "1004",
                "Сет роллов «Токио»",
                d(115000, 2),
                qty(1),
            )],
        ))
        .with_guest(SimGuest::new(
            "Гость 2",
            vec![SimDish::new(
                "1004",
                "Сет роллов «Токио»",
                d(115000, 2),
                qty(1),
            )],
        ));
    let ozero =
        order(DEMO_OBJECT_ID, DEMO_ORDER_ZERO, d(0, 2), "3", "1004").with_guest(SimGuest::new(
            "Гость 1",
            // Listed at menu price; the order total is 0.00 after a 100% discount.
            vec![SimDish::new(
                "1005",
                "Комплимент от шефа",
                d(25000, 2),
                qty(1),
            )],
        ));
    let ov1 = order(
        DEMO_V1_OBJECT_ID,
        DEMO_V1_ORDER_1000,
        d(100000, 2),
        "1",
        "2001",
    )
    .with_guest(SimGuest::new(
        "Гость 1",
        vec![SimDish::new("3001", "Бизнес-ланч", d(50000, 2), qty(2))],
    ));
    vec![o978, o1450, o2300, ozero, ov1]
}
