//! Demo data with fixed identifiers: pay types, a points type, a menu and four guest tabs.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::model::{
    PrecheckStatus, SimItem, SimPayType, SimPointsType, SimPrecheck, SimSettings, SimTab,
};

/// Pay type "Интернет-оплата" (card paid online): the demo restaurant's default.
pub const DEMO_PAY_TYPE_ID: &str = "3E2A6F10-8C4B-4D7A-9B15-2F6C0D1A7E01";
/// Pay type "Предоплата онлайн": the prepaid pay type of [`DEMO_TAB_PREPAID`].
pub const DEMO_PREPAID_PAY_TYPE_ID: &str = "5B7C9D2E-1F3A-4B6C-8D9E-0A1B2C3D4E5F";
/// The bonus points type (`DiscountSum.type_ID`; the module's default). From the vendor's sample.
pub const DEMO_POINTS_TYPE_ID: &str = "60D367B5-15D2-D24D-8A74-A28F40C8CB9D";
/// The discount the points apply as (`AppliedDiscountSums[].type_ID`). From the vendor's sample.
pub const DEMO_POINTS_DISCOUNT_TYPE_ID: &str = "0412C97B-AF11-2447-88D9-B40FA0EB996D";
/// Sale property of the demo menu (`/get-menu?sale-property-id=`).
pub const DEMO_SALE_PROPERTY_ID: &str = "C6405C88-300C-9E40-99AC-D10D64ABBA3C";
/// Menu group of the demo menu (`/get-menu?id=`).
pub const DEMO_MENU_GROUP_ID: &str = "9D1E2F30-4A5B-4C6D-8E7F-0123456789AB";

/// 978.00: 2 × 390.00 + 198.00, open, nothing sent to payment, no prepaid pay type.
pub const DEMO_TAB_978: &str = "8F0E6B52-3C1D-4A7E-9B20-000000000978";
/// 1450.50: a delivery tab with the prepaid pay type [`DEMO_PREPAID_PAY_TYPE_ID`]:
/// payable without a `payType_ID`.
pub const DEMO_TAB_PREPAID: &str = "8F0E6B52-3C1D-4A7E-9B20-000000145050";
/// 2300.00, for points: the guest has 500.00 points (more are capped at 500.00).
pub const DEMO_TAB_POINTS: &str = "8F0E6B52-3C1D-4A7E-9B20-000000002300";
/// 640.00, every item in one printed, unpaid precheck ("sent to payment"):
/// `delete-prechecks=0` fails with «Счет уже передан в оплату», 1 and 2 pay it.
pub const DEMO_TAB_PRECHECK: &str = "8F0E6B52-3C1D-4A7E-9B20-000000000640";

const MENU_BORSCH: &str = "A1B2C3D4-0001-4000-8000-000000000001";
const MENU_PAMPUSHKI: &str = "A1B2C3D4-0002-4000-8000-000000000002";
const MENU_VARENIKI: &str = "A1B2C3D4-0003-4000-8000-000000000003";
const MENU_KOMPOT: &str = "A1B2C3D4-0004-4000-8000-000000000004";
const MENU_STEAK: &str = "A1B2C3D4-0005-4000-8000-000000000005";
const MENU_PIROG: &str = "A1B2C3D4-0006-4000-8000-000000000006";
const MVTP_PORTION: &str = "B0C0D0E0-0000-4000-8000-0000000000AA";

fn d(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

/// `(gest_ID, total)` of every demo tab.
pub fn demo_tabs() -> Vec<(&'static str, Decimal)> {
    vec![
        (DEMO_TAB_978, d(97800, 2)),
        (DEMO_TAB_PREPAID, d(145050, 2)),
        (DEMO_TAB_POINTS, d(230000, 2)),
        (DEMO_TAB_PRECHECK, d(64000, 2)),
    ]
}

pub(crate) fn settings() -> SimSettings {
    SimSettings {
        default_points_type_id: Some(DEMO_POINTS_TYPE_ID.into()),
        points_types: vec![SimPointsType {
            type_id: DEMO_POINTS_TYPE_ID.into(),
            discount_type_id: DEMO_POINTS_DISCOUNT_TYPE_ID.into(),
            name: "Бонусные баллы".into(),
        }],
        pay_types: vec![
            SimPayType {
                id: DEMO_PAY_TYPE_ID.into(),
                name: "Интернет-оплата".into(),
            },
            SimPayType {
                id: DEMO_PREPAID_PAY_TYPE_ID.into(),
                name: "Предоплата онлайн".into(),
            },
        ],
        ..SimSettings::default()
    }
}

pub(crate) fn tabs() -> Vec<SimTab> {
    let item = |id: &str, name: &str, price: Decimal, count: i64| {
        SimItem::new(id, name, price, Decimal::from(count))
    };
    vec![
        SimTab::new(vec![
            item(MENU_BORSCH, "Борщ", d(39000, 2), 2),
            item(MENU_PAMPUSHKI, "Пампушки", d(19800, 2), 1),
        ])
        .with_id(DEMO_TAB_978)
        .with_name("S978"),
        SimTab::new(vec![
            item(MENU_VARENIKI, "Вареники", d(35050, 2), 3),
            item(MENU_PIROG, "Пирог", d(39900, 2), 1),
        ])
        .with_id(DEMO_TAB_PREPAID)
        .with_name("D1450")
        .with_prepaid_pay_type(DEMO_PREPAID_PAY_TYPE_ID),
        SimTab::new(vec![item(MENU_STEAK, "Стейк", d(115000, 2), 2)])
            .with_id(DEMO_TAB_POINTS)
            .with_name("S2300")
            .with_points_available(d(50000, 2)),
        {
            let mut t = SimTab::new(vec![item(MENU_KOMPOT, "Компот", d(32000, 2), 2)])
                .with_id(DEMO_TAB_PRECHECK)
                .with_name("S640");
            t.prechecks.push(SimPrecheck {
                id: "E1F20000-0000-4000-8000-000000000640".into(),
                items: vec![0],
                status: PrecheckStatus::Unpaid,
            });
            t
        },
    ]
}

/// `GET /get-menu?sale-property-id=…` answer.
pub(crate) fn menu() -> Value {
    let item = |id: &str, name: &str, price: &str| {
        json!({
            "mitm_ID": id,
            "mitm_Name": name,
            "mitm_Price": price.parse::<serde_json::Number>().map(Value::Number).unwrap_or(Value::Null),
            "mitm_mvtp_ID": MVTP_PORTION,
            "mitm_Volume": 1,
            "mitm_mgrp_ID": DEMO_MENU_GROUP_ID,
            "MenuItemNotes": [],
        })
    };
    json!({
        "MenuItems": [
            item(MENU_BORSCH, "Борщ", "390.00"),
            item(MENU_PAMPUSHKI, "Пампушки", "198.00"),
            item(MENU_VARENIKI, "Вареники", "350.50"),
            item(MENU_KOMPOT, "Компот", "320.00"),
            item(MENU_STEAK, "Стейк", "1150.00"),
            item(MENU_PIROG, "Пирог", "399.00"),
        ],
        "MenuGroups": [menu_group()],
    })
}

pub(crate) fn menu_group() -> Value {
    json!({ "mgrp_ID": DEMO_MENU_GROUP_ID, "mgrp_Name": "Кухня", "MenuGroupNotes": [] })
}
