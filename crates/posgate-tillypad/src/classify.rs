//! Classification of Tillypad `/pay-guest` error texts into posgate's six substates.
//!
//! Tillypad answers a refused payment with a bare JSON string (`"Счет уже передан в оплату"`),
//! no code. Independent implementations word the same refusal differently, in Russian or
//! English, sometimes wrapped in another message, so [`classify_text`] matches lower-cased
//! fragments (`ё` read as `е`) against ONE ordered table, [`RULES`]; the first matching row
//! wins and an unknown text is `OTHER_ERROR`. The raw text is always kept by the caller.
//!
//! Order matters: a timeout first (the work may have been done), then the specific refusals;
//! "business day / shift closed" before "tab closed" (both say "closed"); the pay-type rows
//! before "not found" («Тип оплаты не найден» is about the pay type, not the tab).

use posgate_core::Substate;

/// What an error text means for a posting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Tillypad refused; nothing was booked.
    Rejected(Substate),
    /// It may have been booked (a timeout inside Tillypad, a lost answer): never post again
    /// without a person.
    Unknown,
    /// Not booked, for a passing reason outside the tab (connection refused): post again.
    Transient,
}

/// One row: the text matches if it contains any of `any`, or, when `all` is not empty, a
/// fragment of every group of `all`.
#[derive(Debug)]
pub struct Rule {
    /// Stable row name (logs, tests).
    pub name: &'static str,
    pub verdict: Verdict,
    /// The tab is unknown to Tillypad.
    pub not_found: bool,
    pub any: &'static [&'static str],
    pub all: &'static [&'static [&'static str]],
}

/// The result of classifying a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub verdict: Verdict,
    pub not_found: bool,
    /// The row that matched; [`FALLBACK`] when none did.
    pub rule: &'static str,
}

impl Classified {
    /// Whether a specific row matched (not the fallback).
    pub fn recognised(&self) -> bool {
        self.rule != FALLBACK
    }
}

/// Name of the "no row matched" result.
pub const FALLBACK: &str = "unrecognised";

use Substate::*;
use Verdict::{Rejected, Unknown};

const TAB_WORDS: &[&str] = &[
    "счет",
    "гостев",
    "gest_id",
    "tab",
    "bill",
    "guest",
    "заказ",
    "order",
];
const CLOSED_WORDS: &[&str] = &["закрыт", "closed"];

/// The table. Rows are tried in order.
pub const RULES: &[Rule] = &[
    // A timeout inside Tillypad (SQL command timeout, a lock wait): it may have been applied.
    Rule {
        name: "timeout",
        verdict: Unknown,
        not_found: false,
        any: &[
            "timeout",
            "timed out",
            "time out",
            "time-out",
            "таймаут",
            "тайм-аут",
            "время ожидания",
            "истекло время",
        ],
        all: &[],
    },
    // Not enough points on the guest's balance: the request must change, a person decides.
    Rule {
        name: "points_insufficient",
        verdict: Rejected(OtherError),
        not_found: false,
        any: &[],
        all: &[
            &["балл", "бонус", "points", "bonus"],
            &[
                "недостаточно",
                "не хватает",
                "превыша",
                "insufficient",
                "not enough",
                "exceed",
            ],
        ],
    },
    // Documented: «Сумма интернет-оплаты не может отличаться от итоговой суммы счета».
    Rule {
        name: "sum_differs",
        verdict: Rejected(WrongRequestSum),
        not_found: false,
        any: &[
            "сумма интернет-оплаты",
            "сумма интернет оплаты",
            "internet payment amount",
            "internet payment sum",
            "online payment amount",
        ],
        all: &[],
    },
    Rule {
        name: "sum_differs_ru",
        verdict: Rejected(WrongRequestSum),
        not_found: false,
        any: &[],
        all: &[
            &["сумм"],
            &[
                "отлича",
                "не совпада",
                "не равн",
                "не соответств",
                "должна совпадать",
                "должна быть равн",
                "неверн",
            ],
        ],
    },
    Rule {
        name: "sum_differs_en",
        verdict: Rejected(WrongRequestSum),
        not_found: false,
        any: &[],
        all: &[
            &["amount", "sum", "total"],
            &[
                "differ",
                "does not match",
                "doesn't match",
                "not match",
                "mismatch",
                "not equal",
                "must equal",
                "must match",
                "must be equal",
                "wrong",
                "incorrect",
            ],
        ],
    },
    // The business day (or the cashier shift) is closed: bills are read-only.
    Rule {
        name: "business_day_closed",
        verdict: Rejected(CashiersShiftClosed),
        not_found: false,
        any: &[],
        all: &[
            &[
                "бизнес-д",
                "бизнес д",
                "операционн",
                "смен",
                "business day",
                "business-day",
                "operational day",
                "operating day",
                "trading day",
                "shift",
            ],
            &[
                "закрыт",
                "не открыт",
                "не начат",
                "истек",
                "closed",
                "not open",
                "no open",
                "not started",
                "expired",
            ],
        ],
    },
    // The fiscal printer / register failed.
    Rule {
        name: "printer",
        verdict: Rejected(PrinterError),
        not_found: false,
        any: &[
            "принтер",
            "printer",
            "фискальн",
            "fiscal",
            "регистратор",
            "ккт",
            "ккм",
            "kkt",
            "kkm",
            "чековая лента",
            "чековой ленты",
            "бумаг",
            "paper",
        ],
        all: &[],
    },
    // Documented: «Для проведения оплаты должен присутствовать либо payType_ID, либо
    // gsdlv_pytp_ID_Prepaid». A configuration or request problem.
    Rule {
        name: "no_pay_type",
        verdict: Rejected(OtherError),
        not_found: false,
        any: &["paytype_id", "pytp_id_prepaid", "gsdlv_pytp"],
        all: &[],
    },
    Rule {
        name: "pay_type_problem",
        verdict: Rejected(OtherError),
        not_found: false,
        any: &[],
        all: &[
            &[
                "тип оплаты",
                "типа оплаты",
                "вид оплаты",
                "вида оплаты",
                "pay type",
                "payment type",
                "paytype",
            ],
            &[
                "должен",
                "отсутств",
                "не указан",
                "не задан",
                "не найден",
                "неизвестн",
                "not found",
                "missing",
                "required",
                "must",
                "unknown",
                "invalid",
            ],
        ],
    },
    // Documented meaning (delete-prechecks=1 with a paid precheck): the tab is already paid.
    Rule {
        name: "already_paid",
        verdict: Rejected(OtherError),
        not_found: false,
        any: &[
            "уже оплачен",
            "ранее оплачен",
            "оплачен ранее",
            "already paid",
            "already been paid",
        ],
        all: &[],
    },
    // Documented: «Счет уже передан в оплату» — the tab is in a precheck / being paid.
    Rule {
        name: "sent_to_payment",
        verdict: Rejected(BillInUse),
        not_found: false,
        any: &[
            "передан в оплату",
            "передан на оплату",
            "переданы в оплату",
            "переданы на оплату",
            "оплата начата",
            "оплата уже начата",
            "начата оплата",
            "уже начата",
            "sent for payment",
            "sent to payment",
            "in payment",
            "payment in progress",
            "payment has started",
            "payment started",
        ],
        all: &[],
    },
    Rule {
        name: "precheck_printed",
        verdict: Rejected(BillInUse),
        not_found: false,
        any: &[],
        all: &[
            &["пречек", "пре-чек", "предчек", "precheck", "pre-check"],
            &[
                "напечатан",
                "распечатан",
                "существ",
                "уже есть",
                "printed",
                "exists",
                "already",
            ],
        ],
    },
    Rule {
        name: "tab_locked",
        verdict: Rejected(BillInUse),
        not_found: false,
        any: &[
            "заблокирован",
            "блокирован",
            "редактир",
            "занят",
            "locked",
            "in use",
            "being edited",
            "busy",
        ],
        all: &[],
    },
    // The tab is closed (paid or closed by hand).
    Rule {
        name: "tab_closed",
        verdict: Rejected(OtherError),
        not_found: false,
        any: &[],
        all: &[TAB_WORDS, CLOSED_WORDS],
    },
    // No such tab.
    Rule {
        name: "tab_not_found",
        verdict: Rejected(OtherError),
        not_found: true,
        any: &[],
        all: &[
            TAB_WORDS,
            &[
                "не найден",
                "не существует",
                "нет такого",
                "неизвестн",
                "not found",
                "does not exist",
                "doesn't exist",
                "unknown",
                "no such",
            ],
        ],
    },
];

fn matches(rule: &Rule, lower: &str) -> bool {
    rule.any.iter().any(|f| lower.contains(f))
        || (!rule.all.is_empty()
            && rule
                .all
                .iter()
                .all(|group| group.iter().any(|f| lower.contains(f))))
}

/// Classifies an error text from `/pay-guest`. Unknown texts are `OTHER_ERROR`.
pub fn classify_text(text: &str) -> Classified {
    let lower = text.to_lowercase().replace('ё', "е");
    RULES.iter().find(|r| matches(r, &lower)).map_or(
        Classified {
            verdict: Rejected(OtherError),
            not_found: false,
            rule: FALLBACK,
        },
        |r| Classified {
            verdict: r.verdict,
            not_found: r.not_found,
            rule: r.name,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts every text classifies by `rule` with `verdict`.
    fn row(rule: &str, verdict: Verdict, texts: &[&str]) {
        assert!(
            RULES.iter().any(|r| r.name == rule) || rule == FALLBACK,
            "no row {rule}"
        );
        for t in texts {
            let c = classify_text(t);
            assert_eq!((c.rule, c.verdict), (rule, verdict), "{t:?}");
        }
    }

    #[test]
    fn timeout() {
        row(
            "timeout",
            Unknown,
            &[
                "Timeout expired. The timeout period elapsed prior to completion of the operation",
                "Истекло время ожидания выполнения запроса",
                "Превышено время ожидания блокировки",
                "Request timed out",
            ],
        );
    }

    #[test]
    fn points_insufficient() {
        row(
            "points_insufficient",
            Rejected(OtherError),
            &[
                "Недостаточно баллов на счете клиента",
                "Сумма списания баллов превышает доступный остаток",
                "Insufficient bonus points",
                "Not enough points on the client's balance",
            ],
        );
    }

    #[test]
    fn sum_differs_documented() {
        row(
            "sum_differs",
            Rejected(WrongRequestSum),
            &[
                "Сумма интернет-оплаты не может отличаться от итоговой суммы счета",
                "Ошибка: сумма интернет-оплаты не может отличаться от итоговой суммы счёта (p_PayGuest)",
                "The internet payment amount cannot differ from the bill total",
            ],
        );
    }

    #[test]
    fn sum_differs_ru() {
        row(
            "sum_differs_ru",
            Rejected(WrongRequestSum),
            &[
                "Сумма оплаты не совпадает с суммой счета",
                "Сумма платежа отличается от итога",
                "Неверная сумма оплаты",
            ],
        );
    }

    #[test]
    fn sum_differs_en() {
        row(
            "sum_differs_en",
            Rejected(WrongRequestSum),
            &[
                "paySum does not match the bill total",
                "Payment amount mismatch",
                "The paid sum must equal the final sum of the bill",
                "Wrong amount",
            ],
        );
    }

    #[test]
    fn business_day_closed() {
        row(
            "business_day_closed",
            Rejected(CashiersShiftClosed),
            &[
                "Бизнес-день закрыт. Изменение счетов невозможно",
                "Операционный день не открыт",
                "Кассовая смена закрыта",
                "Смена не открыта",
                "The business day is closed; bills cannot be changed",
                "No open shift",
                "Cashier shift expired",
            ],
        );
    }

    #[test]
    fn printer() {
        row(
            "printer",
            Rejected(PrinterError),
            &[
                "Ошибка фискального регистратора: нет связи с устройством",
                "Принтер не отвечает",
                "В ККТ закончилась чековая лента",
                "Fiscal printer error: the device does not respond",
                "Printer out of paper",
            ],
        );
    }

    #[test]
    fn no_pay_type_documented() {
        row(
            "no_pay_type",
            Rejected(OtherError),
            &[
                "Для проведения оплаты должен присутствовать либо payType_ID, либо gsdlv_pytp_ID_Prepaid",
                "Either payType_ID or gsdlv_pytp_ID_Prepaid must be present to make a payment",
                "payType_ID is required",
            ],
        );
    }

    #[test]
    fn pay_type_problem() {
        row(
            "pay_type_problem",
            Rejected(OtherError),
            &[
                "Тип оплаты не найден",
                "Не указан тип оплаты",
                "Pay type not found",
                "Unknown payment type",
            ],
        );
    }

    #[test]
    fn already_paid() {
        row(
            "already_paid",
            Rejected(OtherError),
            &[
                "Счет уже оплачен",
                "Счёт уже оплачен",
                "Пречек уже оплачен",
                "The bill has already been paid",
                "Guest tab already paid",
            ],
        );
    }

    #[test]
    fn sent_to_payment_documented() {
        row(
            "sent_to_payment",
            Rejected(BillInUse),
            &[
                "Счет уже передан в оплату",
                "Счёт уже передан на оплату",
                "Оплата счета уже начата на терминале",
                "The bill has already been sent for payment",
                "Bill is in payment",
            ],
        );
    }

    #[test]
    fn precheck_printed() {
        row(
            "precheck_printed",
            Rejected(BillInUse),
            &[
                "По счету уже напечатан пречек",
                "Пречек существует",
                "A precheck has already been printed for this tab",
            ],
        );
    }

    #[test]
    fn tab_locked() {
        row(
            "tab_locked",
            Rejected(BillInUse),
            &[
                "Счет заблокирован другой станцией",
                "Счет редактируется на терминале 3",
                "The bill is locked by another terminal",
                "Guest tab is in use",
            ],
        );
    }

    #[test]
    fn tab_closed() {
        row(
            "tab_closed",
            Rejected(OtherError),
            &[
                "Гостевой счет закрыт",
                "Гостевой счёт уже закрыт",
                "The guest tab is closed",
                "Bill closed",
            ],
        );
    }

    #[test]
    fn tab_not_found() {
        row(
            "tab_not_found",
            Rejected(OtherError),
            &[
                "Гостевой счет не найден",
                "Счет 8F0E6B52-3C1D-4A7E-9B20-000000000978 не существует",
                "Guest tab not found",
                "Unknown gest_ID",
            ],
        );
        assert!(classify_text("Гостевой счет не найден").not_found);
        assert!(!classify_text("Тип оплаты не найден").not_found);
    }

    #[test]
    fn unknown_texts_are_other_error() {
        row(
            FALLBACK,
            Rejected(OtherError),
            &[
                "",
                "Неверный формат запроса",
                "Access violation at address 004A3F21",
                "Тип баллов не найден",
                "Something went wrong",
            ],
        );
        assert!(!classify_text("Something went wrong").recognised());
    }

    #[test]
    fn every_row_is_reachable() {
        // Each row has a test above; this guards against a row shadowed by an earlier one.
        let samples = [
            ("timeout", "timeout"),
            ("points_insufficient", "недостаточно баллов"),
            ("sum_differs", "сумма интернет-оплаты"),
            ("sum_differs_ru", "сумма не совпадает"),
            ("sum_differs_en", "amount mismatch"),
            ("business_day_closed", "смена закрыта"),
            ("printer", "printer"),
            ("no_pay_type", "paytype_id"),
            ("pay_type_problem", "тип оплаты не указан"),
            ("already_paid", "уже оплачен"),
            ("sent_to_payment", "передан в оплату"),
            ("precheck_printed", "пречек напечатан"),
            ("tab_locked", "locked"),
            ("tab_closed", "счет закрыт"),
            ("tab_not_found", "счет не найден"),
        ];
        assert_eq!(samples.len(), RULES.len());
        for (rule, text) in samples {
            assert_eq!(classify_text(text).rule, rule, "{text}");
        }
    }
}
