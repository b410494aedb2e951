//! r_keeper error texts (`agentError.desc`), in the restaurant's language.
//!
//! Where the real wording is unknown a couple of realistic variants exist; the variant is
//! picked deterministically from the order GUID so a given order always gets the same text.

use super::model::Lang;

fn pick(lang: Lang, ru: String, en: String) -> String {
    match lang {
        Lang::Ru => format!("RkInternal: {ru}"),
        Lang::En => format!("RkInternal: {en}"),
    }
}

/// Deterministic 0/1 variant selector.
pub(crate) fn variant(seed: &str) -> usize {
    seed.bytes().map(usize::from).sum::<usize>() % 2
}

pub(crate) fn order_not_found(lang: Lang) -> String {
    pick(lang, "Заказ не найден".into(), "Order not found".into())
}

pub(crate) fn order_closed(lang: Lang, guid: &str) -> String {
    pick(
        lang,
        format!("Заказ [{guid}] уже закрыт, изменение невозможно"),
        format!("Order [{guid}] is already closed and cannot be changed"),
    )
}

pub(crate) fn order_canceled(lang: Lang, guid: &str) -> String {
    pick(
        lang,
        format!("Заказ [{guid}] удален"),
        format!("Order [{guid}] is canceled"),
    )
}

pub(crate) fn locked(lang: Lang, guid: &str, station: i64) -> String {
    if variant(guid) == 0 {
        pick(
            lang,
            format!("Заказ [{guid}] заблокирован на станции [{station}]"),
            format!("Order [{guid}] is locked by station [{station}]"),
        )
    } else {
        pick(
            lang,
            format!("Заказ {guid} редактируется на станции [{station}], заказ заблокирован"),
            format!("Order {guid} is being edited at station [{station}] (order locked)"),
        )
    }
}

pub(crate) fn shift_closed(lang: Lang, guid: &str) -> String {
    if variant(guid) == 0 {
        pick(
            lang,
            "Кассовая смена не открыта".into(),
            "Cashier shift is closed".into(),
        )
    } else {
        pick(
            lang,
            "Общая смена не открыта, операция невозможна".into(),
            "Common shift is not opened, operation is impossible".into(),
        )
    }
}

/// Printer failure: `(agentError.code, desc)`.
pub(crate) fn printer_error(lang: Lang, guid: &str) -> (&'static str, String) {
    if variant(guid) == 0 {
        (
            "WsaOrderError",
            pick(
                lang,
                "Ошибка фискального регистратора: нет бумаги".into(),
                "Fiscal printer error: out of paper".into(),
            ),
        )
    } else {
        (
            "WsaFillingOrderError",
            pick(
                lang,
                "Принтер недоступен, ошибка фискального регистратора".into(),
                "Printer is not available, fiscal printer error".into(),
            ),
        )
    }
}

pub(crate) fn close_blocked(lang: Lang, guid: &str) -> String {
    pick(
        lang,
        format!("Невозможно закрыть заказ [{guid}]: не напечатаны сервис-чеки"),
        format!("Unable to close order [{guid}]: kitchen tickets have not been printed"),
    )
}

/// r_keeper's error code for "not enough funds to pay the order in full": in brackets after
/// "Checkout"/"Cash station", as the vendor's published answers show.
const NOT_ENOUGH_FUNDS: i64 = 3373;

pub(crate) fn not_enough(lang: Lang) -> String {
    pick(
        lang,
        format!(
            "Кассовая станция [{NOT_ENOUGH_FUNDS}] Недостаточно средств для полной оплаты заказа"
        ),
        format!("Cash station [{NOT_ENOUGH_FUNDS}] Not enough funds to pay for the order in full"),
    )
}

pub(crate) fn overpay_v2(lang: Lang, station: i64) -> String {
    pick(
        lang,
        format!("Кассовая станция [{station}] Сумма оплаты превышает сумму заказа"),
        format!("Cash station [{station}] Payment amount exceeds the order amount"),
    )
}

pub(crate) fn overpay_v1(lang: Lang) -> String {
    pick(
        lang,
        "Сумма предоплаты превышает сумму заказа".into(),
        "Prepayment amount exceeds the order amount".into(),
    )
}

pub(crate) fn not_fully_paid(lang: Lang) -> String {
    pick(
        lang,
        "Невозможно закрыть заказ, он не полностью оплачен".into(),
        "Unable to close order, it is not fully paid".into(),
    )
}

pub(crate) fn unknown_currency(lang: Lang, currency: &str) -> String {
    pick(
        lang,
        format!("Валюта [{currency}] не найдена"),
        format!("Currency [{currency}] not found"),
    )
}

pub(crate) fn invalid_amount(lang: Lang) -> String {
    pick(
        lang,
        "Некорректная сумма оплаты".into(),
        "Invalid payment amount".into(),
    )
}

pub(crate) fn no_guid(lang: Lang) -> String {
    pick(
        lang,
        "Не указан ни один идентификатор для поиска заказа".into(),
        "No guid specified for order searching".into(),
    )
}

pub(crate) fn not_supported(lang: Lang, task_type: &str) -> String {
    match lang {
        Lang::Ru => format!("Команда {task_type} не поддерживается агентом v1"),
        Lang::En => format!("Command {task_type} is not supported by agent v1"),
    }
}
