//! The error strings `/pay-guest` and `/post-guest` answer with (as a bare JSON string).
//!
//! Russian texts marked *documented* are verbatim from the vendor's help page and seed 003;
//! the others are the simulator's wording where the vendor's text is not published.
//! English texts play an independent or localised implementation.

use super::model::Lang;

/// An error the simulator answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// *documented*: paySum ≠ the tab's total less the points.
    SumDiffers,
    /// *documented*: delete-prechecks=0 and nothing is left outside prechecks.
    AlreadyInPayment,
    /// delete-prechecks=1 and a precheck is «Оплачен» (the docs: "an error that the tab is
    /// already paid"); also a tab whose every item is in a paid precheck.
    AlreadyPaid,
    /// *documented*: no payType_ID and no gsdlv_pytp_ID_Prepaid.
    NoPayType,
    /// The tab is closed.
    TabClosed,
    /// No tab with this gest_ID.
    TabNotFound,
    /// The business day is closed: tabs are read-only.
    BusinessDayClosed,
    /// payType_ID is not a known pay type.
    UnknownPayType,
    /// DiscountSum.type_ID is not a known points type.
    UnknownPointsType,
    /// The fiscal printer failed.
    PrinterError,
    /// Unparsable body, missing Payment / gest_ID, bad GUID, bad number.
    BadRequest,
    /// delete-prechecks is not 0, 1 or 2.
    BadDeletePrechecks,
    /// Content-Type is not application/json.
    BadContentType,
}

impl Text {
    pub fn render(self, lang: Lang) -> &'static str {
        use Text::*;
        match (self, lang) {
            (SumDiffers, Lang::Ru) => {
                "Сумма интернет-оплаты не может отличаться от итоговой суммы счета"
            }
            (SumDiffers, Lang::En) => {
                "The internet payment amount cannot differ from the bill total"
            }
            (AlreadyInPayment, Lang::Ru) => "Счет уже передан в оплату",
            (AlreadyInPayment, Lang::En) => "The bill has already been sent for payment",
            (AlreadyPaid, Lang::Ru) => "Счет уже оплачен",
            (AlreadyPaid, Lang::En) => "The bill has already been paid",
            (NoPayType, Lang::Ru) => {
                "Для проведения оплаты должен присутствовать либо payType_ID, либо gsdlv_pytp_ID_Prepaid"
            }
            (NoPayType, Lang::En) => {
                "Either payType_ID or gsdlv_pytp_ID_Prepaid must be present to make a payment"
            }
            (TabClosed, Lang::Ru) => "Гостевой счет закрыт",
            (TabClosed, Lang::En) => "The guest tab is closed",
            (TabNotFound, Lang::Ru) => "Гостевой счет не найден",
            (TabNotFound, Lang::En) => "Guest tab not found",
            (BusinessDayClosed, Lang::Ru) => "Бизнес-день закрыт. Изменение счетов невозможно",
            (BusinessDayClosed, Lang::En) => "The business day is closed; bills cannot be changed",
            (UnknownPayType, Lang::Ru) => "Тип оплаты не найден",
            (UnknownPayType, Lang::En) => "Pay type not found",
            (UnknownPointsType, Lang::Ru) => "Тип баллов не найден",
            (UnknownPointsType, Lang::En) => "Discount point type not found",
            (PrinterError, Lang::Ru) => "Ошибка фискального регистратора: нет связи с устройством",
            (PrinterError, Lang::En) => "Fiscal printer error: the device does not respond",
            (BadRequest, Lang::Ru) => "Неверный формат запроса",
            (BadRequest, Lang::En) => "Invalid request format",
            (BadDeletePrechecks, Lang::Ru) => "Неверное значение параметра delete-prechecks",
            (BadDeletePrechecks, Lang::En) => "Invalid delete-prechecks value",
            (BadContentType, Lang::Ru) => "Требуется заголовок Content-Type: application/json",
            (BadContentType, Lang::En) => "Content-Type: application/json is required",
        }
    }
}
