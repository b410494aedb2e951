//! Texts of the r_k Delivery simulator: status names and the r_keeper errors relayed in `msg`.
//!
//! Where the real wording is unknown a couple of realistic variants exist; the variant is
//! picked deterministically from the order id so a given order always gets the same text.

use super::model::{Lang, status};

/// Wraps an r_keeper text the way r_k Delivery relays WSA errors.
pub(crate) fn ws_wrap(agent_code: &str, rk: &str) -> String {
    format!("WS Error: Error Code: {agent_code}. {rk}")
}

fn rk(lang: Lang, ru: String, en: String) -> String {
    match lang {
        Lang::Ru => format!("RkInternal: {ru}"),
        Lang::En => format!("RkInternal: {en}"),
    }
}

/// Deterministic 0/1 variant selector.
pub(crate) fn variant(seed: &str) -> usize {
    seed.bytes().map(usize::from).sum::<usize>() % 2
}

/// r_keeper's visit.order number shown in its texts.
fn rk_number(order_id: &str) -> String {
    format!("1.{order_id}")
}

pub(crate) fn status_name(lang: Lang, id: u8) -> &'static str {
    let (ru, en) = match id {
        status::NEW => ("Новый", "New"),
        status::CONFIRMED => ("Подтвержден", "Confirmed"),
        status::TAKEN => ("Принят в ресторане", "Taken at the restaurant"),
        status::TRANSFERRED_TO_KITCHEN => ("Передан на кухню", "Transferred to the kitchen"),
        status::BEING_PREPARED => ("Готовится", "Being prepared"),
        status::READY => ("Готов", "Ready"),
        status::ASSEMBLY => ("Сборка заказа", "Order assembly"),
        status::ASSEMBLED => ("Собран", "Assembled"),
        status::WITH_COURIER => ("У курьера", "With the courier"),
        status::IN_TRANSIT => ("В пути", "Order in transit"),
        status::COMPLETED => ("Выполнен", "Completed"),
        status::CANCELLED => ("Отменен", "Cancelled"),
        status::DELIVERED => ("Доставлен", "Delivered"),
        _ => ("Неизвестный статус", "Unknown status"),
    };
    match lang {
        Lang::Ru => ru,
        Lang::En => en,
    }
}

pub(crate) fn locked(lang: Lang, order_id: &str, station: i64) -> String {
    let n = rk_number(order_id);
    if variant(order_id) == 0 {
        rk(
            lang,
            format!("Заказ {n} заблокирован на станции [{station}]"),
            format!("Order {n} is locked by station [{station}]"),
        )
    } else {
        rk(
            lang,
            format!("Заказ {n} редактируется на кассовой станции [{station}]"),
            format!("Order {n} is being edited at cash station [{station}]"),
        )
    }
}

pub(crate) fn shift_closed(lang: Lang, order_id: &str) -> String {
    if variant(order_id) == 0 {
        rk(
            lang,
            "Кассовая смена не открыта".into(),
            "Cashier shift is closed".into(),
        )
    } else {
        rk(
            lang,
            "Общая смена не открыта, операция невозможна".into(),
            "Common shift is not opened, operation is impossible".into(),
        )
    }
}

/// Printer failure: `(agent code, text)`.
pub(crate) fn printer_error(lang: Lang, order_id: &str) -> (&'static str, String) {
    if variant(order_id) == 0 {
        (
            "WsaOrderError",
            rk(
                lang,
                "Ошибка фискального регистратора: нет бумаги".into(),
                "Fiscal printer error: out of paper".into(),
            ),
        )
    } else {
        (
            "WsaFillingOrderError",
            rk(
                lang,
                "Принтер недоступен".into(),
                "Printer is not available".into(),
            ),
        )
    }
}

pub(crate) fn kitchen_tickets(lang: Lang, order_id: &str) -> String {
    let n = rk_number(order_id);
    rk(
        lang,
        format!("Невозможно закрыть заказ {n}: не напечатаны сервис-чеки"),
        format!("Unable to close order {n}: kitchen tickets have not been printed"),
    )
}

/// The seed's wording (EN) and its Russian original.
/// r_keeper's error code for "not enough funds to pay the order in full": in brackets after
/// "Checkout"/"Cash station", as the vendor's published answers show.
const NOT_ENOUGH_FUNDS: i64 = 3373;

pub(crate) fn not_enough(lang: Lang, order_id: &str) -> String {
    if variant(order_id) == 0 {
        rk(
            lang,
            format!(
                "Кассовая станция [{NOT_ENOUGH_FUNDS}] Недостаточно средств для полной оплаты заказа."
            ),
            format!("Checkout [{NOT_ENOUGH_FUNDS}] Not enough funds to pay for the order in full."),
        )
    } else {
        rk(
            lang,
            format!(
                "Кассовая станция [{NOT_ENOUGH_FUNDS}] Недостаточно денег для полной оплаты заказа."
            ),
            format!(
                "Cash station [{NOT_ENOUGH_FUNDS}] There is not enough money to fully pay the order."
            ),
        )
    }
}

pub(crate) fn overpay(lang: Lang, station: i64) -> String {
    rk(
        lang,
        format!("Кассовая станция [{station}] Сумма оплаты превышает сумму заказа"),
        format!("Cash station [{station}] Payment amount exceeds the order amount"),
    )
}

pub(crate) fn already_paid(lang: Lang, order_id: &str, station: i64) -> String {
    let n = rk_number(order_id);
    rk(
        lang,
        format!("Кассовая станция [{station}] Заказ {n} уже оплачен"),
        format!("Cash station [{station}] Order {n} is already paid"),
    )
}

/// `rk7_close_order` on `/complete` of an unpaid order (the seed's two EN wordings).
pub(crate) fn not_fully_paid(lang: Lang, order_id: &str) -> String {
    let n = rk_number(order_id);
    if variant(order_id) == 0 {
        rk(
            lang,
            format!(
                "Кассовая станция [3071] Невозможно сохранить заказ {n}, он не полностью оплачен"
            ),
            format!("Cash station [3071] Cannot save order {n}, it is not fully paid"),
        )
    } else {
        rk(
            lang,
            format!("Касса [3071] Невозможно закрыть заказ {n}, он не полностью оплачен."),
            format!("Checkout [3071] Unable to close order {n}, it is not fully paid."),
        )
    }
}

pub(crate) fn unknown_currency(lang: Lang, code: &str) -> String {
    rk(
        lang,
        format!("Валюта [{code}] не найдена"),
        format!("Currency [{code}] not found"),
    )
}

/// The UI text of a change attempted on a completed or cancelled order.
pub(crate) fn final_status(id: u8) -> String {
    format!("Order have FINAL {id} status")
}

pub(crate) fn not_transferred(lang: Lang, order_id: &str, id: u8) -> String {
    match lang {
        Lang::Ru => {
            format!("Заказ {order_id} еще не передан в ресторан (статус {id}), оплата невозможна")
        }
        Lang::En => format!(
            "Order {order_id} has not been transferred to the restaurant yet (status {id}); it cannot be paid"
        ),
    }
}

pub(crate) fn request_timed_out(lang: Lang) -> String {
    match lang {
        Lang::Ru => "Request timed out. Превышено время ожидания ответа от ресторана".into(),
        Lang::En => "Request timed out".into(),
    }
}

pub(crate) fn order_not_found(order_id: &str) -> String {
    format!("Order {order_id} not found")
}
