//! Demo API client, restaurant and orders with fixed identifiers.

use rust_decimal::Decimal;

use super::model::{Lang, SimClient, SimDish, SimOrder, SimRestaurant, status};

/// OAuth2 client id of the demo order source.
pub const DEMO_CLIENT_ID: &str = "demo-delivery-client";
/// Its client secret.
pub const DEMO_CLIENT_SECRET: &str = "demo-delivery-secret";
/// r_k Delivery `restaurantId` of the demo restaurant.
pub const DEMO_RESTAURANT_ID: &str = "8a3c1f6e-52d4-4b8e-9c71-0e2f4d5a6b70";
/// r_keeper currency GUID accepted by `/pay` (the one in the vendor's example).
pub const DEMO_CURRENCY_GUID: &str = "16D72549-14D8-4F31-9E2A-0A833D4F5EED";
/// Auto-accept delay of the demo restaurant and of [`DEMO_ORDER_NEW`].
pub const DEMO_AUTO_ACCEPT_MS: u64 = 5_000;

/// 978.00 at status 1 (New); auto-accept moves it to 4 after [`DEMO_AUTO_ACCEPT_MS`].
pub const DEMO_ORDER_NEW: &str = "1001";
/// 1290.00 (1350.00 before a discount) at status 4, table 12.
pub const DEMO_ORDER_1290: &str = "1002";
/// 0.00 after a 100% discount (450.00 before), at status 4: paid with 0.
pub const DEMO_ORDER_ZERO: &str = "1003";
/// 540.00 at status 1 with no auto-accept: waits for an operator.
pub const DEMO_ORDER_WAITING: &str = "1004";
/// 2300.00 at status 5 (Being prepared), delivery.
pub const DEMO_ORDER_2300: &str = "1005";

fn d(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

fn qty(n: i64) -> Decimal {
    Decimal::new(n, 0)
}

/// Every demo order, as seeded.
pub fn demo_orders() -> Vec<SimOrder> {
    orders()
}

pub(crate) fn clients() -> Vec<SimClient> {
    vec![SimClient::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)]
}

pub(crate) fn restaurants() -> Vec<SimRestaurant> {
    vec![SimRestaurant {
        restaurant_id: DEMO_RESTAURANT_ID.to_string(),
        name: "Demo restaurant".to_string(),
        currencies: vec![DEMO_CURRENCY_GUID.to_string()],
        language: Lang::Ru,
        expose_payments: true,
        auto_accept_ms: Some(DEMO_AUTO_ACCEPT_MS),
        cash_station: 15,
    }]
}

fn order(id: &str, status_id: u8, amount: Decimal) -> SimOrder {
    SimOrder::new(status_id, amount)
        .with_order_id(id)
        .with_restaurant(DEMO_RESTAURANT_ID)
}

pub(crate) fn orders() -> Vec<SimOrder> {
    let new = order(DEMO_ORDER_NEW, status::NEW, d(97800, 2))
        .with_dish(SimDish::new(
            "5e0b2a4c-1001-4d3e-9f00-000000001001",
            "Борщ с пампушками",
            d(39000, 2),
            qty(1),
        ))
        .with_dish(SimDish::new(
            "5e0b2a4c-1002-4d3e-9f00-000000001002",
            "Пельмени домашние",
            d(29400, 2),
            qty(2),
        ))
        .auto_advance_after_ms(DEMO_AUTO_ACCEPT_MS);
    let o1290 = order(
        DEMO_ORDER_1290,
        status::TRANSFERRED_TO_KITCHEN,
        d(129000, 2),
    )
    .with_full_amount(d(135000, 2))
    .with_table("12")
    .with_dish(SimDish::new(
        "5e0b2a4c-2001-4d3e-9f00-000000002001",
        "Стейк рибай",
        d(115000, 2),
        qty(1),
    ))
    .with_dish(SimDish::new(
        "5e0b2a4c-2002-4d3e-9f00-000000002002",
        "Лимонад домашний",
        d(10000, 2),
        qty(2),
    ));
    let zero = order(DEMO_ORDER_ZERO, status::TRANSFERRED_TO_KITCHEN, d(0, 2))
        .with_full_amount(d(45000, 2))
        .with_table("3")
        .with_dish(SimDish::new(
            "5e0b2a4c-3001-4d3e-9f00-000000003001",
            "Комплимент от шефа",
            d(45000, 2),
            qty(1),
        ));
    let waiting = order(DEMO_ORDER_WAITING, status::NEW, d(54000, 2)).with_dish(SimDish::new(
        "5e0b2a4c-4001-4d3e-9f00-000000004001",
        "Бизнес-ланч",
        d(27000, 2),
        qty(2),
    ));
    let mut o2300 =
        order(DEMO_ORDER_2300, status::BEING_PREPARED, d(230000, 2)).with_dish(SimDish::new(
            "5e0b2a4c-5001-4d3e-9f00-000000005001",
            "Сет роллов «Токио»",
            d(115000, 2),
            qty(2),
        ));
    o2300.expedition_type = "delivery".to_string();
    vec![new, o1290, zero, waiting, o2300]
}
