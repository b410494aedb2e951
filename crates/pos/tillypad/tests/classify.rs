//! The error-text classifier through its public table: every row with Russian and English
//! wordings, the order of the rows, and the fallback.

use posgate_core::Substate::*;
use posgate_tillypad::classify::Verdict::{Rejected, Unknown};
use posgate_tillypad::classify::*;

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

// ---- the table, row by row ----

/// Where a fragment sits in its row: the any-of list, or an all-of group by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Any,
    All(usize),
}
use Slot::{All, Any};

const OTHER: Verdict = Rejected(OtherError);

/// Every row, in the order it must be tried, with its verdict and `not_found`. Written
/// independently of `RULES`: a row removed, added, moved or changed fails
/// `the_rows_are_exactly_the_expected_ones`.
const EXPECTED_ROWS: &[(&str, Verdict, bool)] = &[
    ("timeout", Unknown, false),
    ("points_insufficient", OTHER, false),
    ("sum_differs", Rejected(WrongRequestSum), false),
    ("sum_differs_ru", Rejected(WrongRequestSum), false),
    ("sum_differs_en", Rejected(WrongRequestSum), false),
    ("business_day_closed", Rejected(CashiersShiftClosed), false),
    ("printer", Rejected(PrinterError), false),
    ("no_pay_type", OTHER, false),
    ("pay_type_problem", OTHER, false),
    ("already_paid", OTHER, false),
    ("sent_to_payment", Rejected(BillInUse), false),
    ("precheck_printed", Rejected(BillInUse), false),
    ("tab_locked", Rejected(BillInUse), false),
    ("tab_closed", OTHER, false),
    ("tab_not_found", OTHER, true),
];

/// Every fragment of the table: its row, its slot, and a partner from the other all-of
/// group that the fragment needs to match (empty for any-of fragments). A fragment removed,
/// added or moved fails `the_fragments_are_exactly_the_expected_ones`; one that stops
/// deciding its sentence fails `every_fragment_in_a_neutral_sentence`.
const EXPECTED_FRAGMENTS: &[(&str, Slot, &str, &str)] = &[
    // timeout
    ("timeout", Any, "timeout", ""),
    ("timeout", Any, "timed out", ""),
    ("timeout", Any, "time out", ""),
    ("timeout", Any, "time-out", ""),
    ("timeout", Any, "таймаут", ""),
    ("timeout", Any, "тайм-аут", ""),
    ("timeout", Any, "время ожидания", ""),
    ("timeout", Any, "истекло время", ""),
    // points_insufficient: what × how
    ("points_insufficient", All(0), "балл", "insufficient"),
    ("points_insufficient", All(0), "бонус", "insufficient"),
    ("points_insufficient", All(0), "points", "insufficient"),
    ("points_insufficient", All(0), "bonus", "insufficient"),
    ("points_insufficient", All(1), "недостаточно", "points"),
    ("points_insufficient", All(1), "не хватает", "points"),
    ("points_insufficient", All(1), "превыша", "points"),
    ("points_insufficient", All(1), "insufficient", "points"),
    ("points_insufficient", All(1), "not enough", "points"),
    ("points_insufficient", All(1), "exceed", "points"),
    // sum_differs (documented)
    ("sum_differs", Any, "сумма интернет-оплаты", ""),
    ("sum_differs", Any, "сумма интернет оплаты", ""),
    ("sum_differs", Any, "internet payment amount", ""),
    ("sum_differs", Any, "internet payment sum", ""),
    ("sum_differs", Any, "online payment amount", ""),
    // sum_differs_ru
    ("sum_differs_ru", All(0), "сумм", "отлича"),
    ("sum_differs_ru", All(1), "отлича", "сумм"),
    ("sum_differs_ru", All(1), "не совпада", "сумм"),
    ("sum_differs_ru", All(1), "не равн", "сумм"),
    ("sum_differs_ru", All(1), "не соответств", "сумм"),
    ("sum_differs_ru", All(1), "должна совпадать", "сумм"),
    ("sum_differs_ru", All(1), "должна быть равн", "сумм"),
    ("sum_differs_ru", All(1), "неверн", "сумм"),
    // sum_differs_en
    ("sum_differs_en", All(0), "amount", "differ"),
    ("sum_differs_en", All(0), "sum", "differ"),
    ("sum_differs_en", All(0), "total", "differ"),
    ("sum_differs_en", All(1), "differ", "amount"),
    ("sum_differs_en", All(1), "doesn't match", "amount"),
    ("sum_differs_en", All(1), "not match", "amount"),
    ("sum_differs_en", All(1), "mismatch", "amount"),
    ("sum_differs_en", All(1), "not equal", "amount"),
    ("sum_differs_en", All(1), "must equal", "amount"),
    ("sum_differs_en", All(1), "must match", "amount"),
    ("sum_differs_en", All(1), "must be equal", "amount"),
    ("sum_differs_en", All(1), "wrong", "amount"),
    ("sum_differs_en", All(1), "incorrect", "amount"),
    // business_day_closed: which day × its state
    ("business_day_closed", All(0), "бизнес-д", "closed"),
    ("business_day_closed", All(0), "бизнес д", "closed"),
    ("business_day_closed", All(0), "операционн", "closed"),
    ("business_day_closed", All(0), "смен", "closed"),
    ("business_day_closed", All(0), "business day", "closed"),
    ("business_day_closed", All(0), "business-day", "closed"),
    ("business_day_closed", All(0), "operational day", "closed"),
    ("business_day_closed", All(0), "operating day", "closed"),
    ("business_day_closed", All(0), "trading day", "closed"),
    ("business_day_closed", All(0), "shift", "closed"),
    ("business_day_closed", All(1), "закрыт", "shift"),
    ("business_day_closed", All(1), "не открыт", "shift"),
    ("business_day_closed", All(1), "не начат", "shift"),
    ("business_day_closed", All(1), "истек", "shift"),
    ("business_day_closed", All(1), "closed", "shift"),
    ("business_day_closed", All(1), "not open", "shift"),
    ("business_day_closed", All(1), "no open", "shift"),
    ("business_day_closed", All(1), "not started", "shift"),
    ("business_day_closed", All(1), "expired", "shift"),
    // printer
    ("printer", Any, "принтер", ""),
    ("printer", Any, "printer", ""),
    ("printer", Any, "фискальн", ""),
    ("printer", Any, "fiscal", ""),
    ("printer", Any, "регистратор", ""),
    ("printer", Any, "ккт", ""),
    ("printer", Any, "ккм", ""),
    ("printer", Any, "kkt", ""),
    ("printer", Any, "kkm", ""),
    ("printer", Any, "чековая лента", ""),
    ("printer", Any, "чековой ленты", ""),
    ("printer", Any, "бумаг", ""),
    ("printer", Any, "paper", ""),
    // no_pay_type (documented)
    ("no_pay_type", Any, "paytype_id", ""),
    ("no_pay_type", Any, "pytp_id_prepaid", ""),
    ("no_pay_type", Any, "gsdlv_pytp", ""),
    // pay_type_problem: the pay type × what is wrong with it
    ("pay_type_problem", All(0), "тип оплаты", "missing"),
    ("pay_type_problem", All(0), "типа оплаты", "missing"),
    ("pay_type_problem", All(0), "вид оплаты", "missing"),
    ("pay_type_problem", All(0), "вида оплаты", "missing"),
    ("pay_type_problem", All(0), "pay type", "missing"),
    ("pay_type_problem", All(0), "payment type", "missing"),
    ("pay_type_problem", All(0), "paytype", "missing"),
    ("pay_type_problem", All(1), "должен", "pay type"),
    ("pay_type_problem", All(1), "отсутств", "pay type"),
    ("pay_type_problem", All(1), "не указан", "pay type"),
    ("pay_type_problem", All(1), "не задан", "pay type"),
    ("pay_type_problem", All(1), "не найден", "pay type"),
    ("pay_type_problem", All(1), "неизвестн", "pay type"),
    ("pay_type_problem", All(1), "not found", "pay type"),
    ("pay_type_problem", All(1), "missing", "pay type"),
    ("pay_type_problem", All(1), "required", "pay type"),
    ("pay_type_problem", All(1), "must", "pay type"),
    ("pay_type_problem", All(1), "unknown", "pay type"),
    ("pay_type_problem", All(1), "invalid", "pay type"),
    // already_paid
    ("already_paid", Any, "уже оплачен", ""),
    ("already_paid", Any, "ранее оплачен", ""),
    ("already_paid", Any, "оплачен ранее", ""),
    ("already_paid", Any, "already paid", ""),
    ("already_paid", Any, "already been paid", ""),
    // sent_to_payment (documented)
    ("sent_to_payment", Any, "передан в оплату", ""),
    ("sent_to_payment", Any, "передан на оплату", ""),
    ("sent_to_payment", Any, "переданы в оплату", ""),
    ("sent_to_payment", Any, "переданы на оплату", ""),
    ("sent_to_payment", Any, "оплата начата", ""),
    ("sent_to_payment", Any, "начата оплата", ""),
    ("sent_to_payment", Any, "уже начата", ""),
    ("sent_to_payment", Any, "sent for payment", ""),
    ("sent_to_payment", Any, "sent to payment", ""),
    ("sent_to_payment", Any, "in payment", ""),
    ("sent_to_payment", Any, "payment in progress", ""),
    ("sent_to_payment", Any, "payment has started", ""),
    ("sent_to_payment", Any, "payment started", ""),
    // precheck_printed: precheck × it exists
    ("precheck_printed", All(0), "пречек", "exists"),
    ("precheck_printed", All(0), "пре-чек", "exists"),
    ("precheck_printed", All(0), "предчек", "exists"),
    ("precheck_printed", All(0), "precheck", "exists"),
    ("precheck_printed", All(0), "pre-check", "exists"),
    ("precheck_printed", All(1), "напечатан", "precheck"),
    ("precheck_printed", All(1), "распечатан", "precheck"),
    ("precheck_printed", All(1), "существ", "precheck"),
    ("precheck_printed", All(1), "уже есть", "precheck"),
    ("precheck_printed", All(1), "printed", "precheck"),
    ("precheck_printed", All(1), "exists", "precheck"),
    ("precheck_printed", All(1), "already", "precheck"),
    // tab_locked
    ("tab_locked", Any, "блокирован", ""),
    ("tab_locked", Any, "редактир", ""),
    ("tab_locked", Any, "занят", ""),
    ("tab_locked", Any, "locked", ""),
    ("tab_locked", Any, "in use", ""),
    ("tab_locked", Any, "being edited", ""),
    ("tab_locked", Any, "busy", ""),
    // tab_closed: a tab word × closed
    ("tab_closed", All(0), "счет", "closed"),
    ("tab_closed", All(0), "гостев", "closed"),
    ("tab_closed", All(0), "gest_id", "closed"),
    ("tab_closed", All(0), "tab", "closed"),
    ("tab_closed", All(0), "bill", "closed"),
    ("tab_closed", All(0), "guest", "closed"),
    ("tab_closed", All(0), "заказ", "closed"),
    ("tab_closed", All(0), "order", "closed"),
    ("tab_closed", All(1), "закрыт", "tab"),
    ("tab_closed", All(1), "closed", "tab"),
    // tab_not_found: a tab word × missing
    ("tab_not_found", All(0), "счет", "not found"),
    ("tab_not_found", All(0), "гостев", "not found"),
    ("tab_not_found", All(0), "gest_id", "not found"),
    ("tab_not_found", All(0), "tab", "not found"),
    ("tab_not_found", All(0), "bill", "not found"),
    ("tab_not_found", All(0), "guest", "not found"),
    ("tab_not_found", All(0), "заказ", "not found"),
    ("tab_not_found", All(0), "order", "not found"),
    ("tab_not_found", All(1), "не найден", "tab"),
    ("tab_not_found", All(1), "не существует", "tab"),
    ("tab_not_found", All(1), "нет такого", "tab"),
    ("tab_not_found", All(1), "неизвестн", "tab"),
    ("tab_not_found", All(1), "not found", "tab"),
    ("tab_not_found", All(1), "does not exist", "tab"),
    ("tab_not_found", All(1), "doesn't exist", "tab"),
    ("tab_not_found", All(1), "unknown", "tab"),
    ("tab_not_found", All(1), "no such", "tab"),
];

/// Messages whose words alone match no row: Russian, Ukrainian, English.
const NEUTRAL: &[&str] = &[
    "Операция не выполнена",
    "Операцію не виконано",
    "The operation was not performed",
];

/// Every (row, slot, fragment) the production table holds.
fn table_fragments() -> Vec<(&'static str, Slot, &'static str)> {
    RULES
        .iter()
        .flat_map(|r| {
            let any = r.any.iter().map(move |f| (r.name, Any, *f));
            let all = r
                .all
                .iter()
                .enumerate()
                .flat_map(move |(i, group)| group.iter().map(move |f| (r.name, All(i), *f)));
            any.chain(all)
        })
        .collect()
}

fn expected_row(name: &str) -> (Verdict, bool) {
    EXPECTED_ROWS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, v, nf)| (v, nf))
        .unwrap_or_else(|| panic!("no expected row {name}"))
}

#[test]
fn the_rows_are_exactly_the_expected_ones() {
    let rows: Vec<(&str, Verdict, bool)> = RULES
        .iter()
        .map(|r| (r.name, r.verdict, r.not_found))
        .collect();
    assert_eq!(rows, EXPECTED_ROWS);
}

#[test]
fn the_fragments_are_exactly_the_expected_ones() {
    let table = table_fragments();
    let expected: Vec<(&str, Slot, &str)> = EXPECTED_FRAGMENTS
        .iter()
        .map(|&(r, s, f, _)| (r, s, f))
        .collect();
    for f in &table {
        assert!(expected.contains(f), "untested table fragment {f:?}");
    }
    for f in &expected {
        assert!(
            table.contains(f),
            "fragment {f:?} is missing from the table"
        );
    }
    assert_eq!(table.len(), expected.len(), "a fragment is listed twice");
}

#[test]
fn neutral_messages_match_no_row() {
    for text in NEUTRAL {
        assert_eq!(classify_text(text).rule, FALLBACK, "{text}");
    }
}

#[test]
fn every_fragment_in_a_neutral_sentence() {
    for &(row, _, fragment, partner) in EXPECTED_FRAGMENTS {
        let (verdict, not_found) = expected_row(row);
        for neutral in NEUTRAL {
            let text = format!("{neutral}: {fragment} {partner}")
                .trim()
                .to_string()
                + ".";
            // Any case, and `ё` for `е`, read the same.
            for t in [text.clone(), text.to_uppercase(), text.replace('е', "ё")] {
                let c = classify_text(&t);
                assert_eq!(
                    (c.rule, c.verdict, c.not_found),
                    (row, verdict, not_found),
                    "{t}"
                );
            }
        }
    }
}

/// `RULES` with one fragment taken out of one row.
fn without(row: &str, slot: Slot, fragment: &str) -> Vec<Rule> {
    fn keep(list: &[&'static str], drop: Option<&str>) -> &'static [&'static str] {
        let kept: Vec<&'static str> = list.iter().copied().filter(|f| Some(*f) != drop).collect();
        Box::leak(kept.into_boxed_slice())
    }
    RULES
        .iter()
        .map(|r| {
            let here = |s: Slot| (r.name == row && slot == s).then_some(fragment);
            let all: Vec<&'static [&'static str]> = r
                .all
                .iter()
                .enumerate()
                .map(|(i, group)| keep(group, here(All(i))))
                .collect();
            Rule {
                name: r.name,
                verdict: r.verdict,
                not_found: r.not_found,
                any: keep(r.any, here(Any)),
                all: Box::leak(all.into_boxed_slice()),
            }
        })
        .collect()
}

#[test]
fn every_fragment_decides_its_sentence() {
    // Without the fragment, its sentence in `every_fragment_in_a_neutral_sentence` goes to
    // another row (or none): that test notices the fragment's loss.
    for &(row, slot, fragment, partner) in EXPECTED_FRAGMENTS {
        let rules = without(row, slot, fragment);
        for neutral in NEUTRAL {
            let text = normalize(&format!("{neutral}: {fragment} {partner}"));
            let now = first_match(&rules, &text).map(|r| r.name);
            assert_ne!(
                now,
                Some(row),
                "{row} {slot:?} {fragment:?} is not needed for {text:?}"
            );
        }
    }
}

/// Texts that match a later row too, with the row that must win and the one it beats.
const ORDER: &[(&str, &str, &str)] = &[
    // The work may have been done: a timeout says nothing was refused.
    (
        "Истекло время ожидания: смена закрыта",
        "timeout",
        "business_day_closed",
    ),
    (
        "Timeout expired; the guest tab was not found",
        "timeout",
        "tab_not_found",
    ),
    // Points are not the bill's sum.
    (
        "Недостаточно баллов: сумма списания не соответствует балансу",
        "points_insufficient",
        "sum_differs_ru",
    ),
    (
        "Insufficient points: the amount does not match the balance",
        "points_insufficient",
        "sum_differs_en",
    ),
    // The documented wording is named as such.
    (
        "Сумма интернет-оплаты не может отличаться от итоговой суммы счета",
        "sum_differs",
        "sum_differs_ru",
    ),
    // A fiscal shift (24 h) expired is a shift, not a broken printer.
    ("Смена ККТ истекла", "business_day_closed", "printer"),
    // The day closed, not the tab.
    (
        "Смена закрыта, счет закрыт",
        "business_day_closed",
        "tab_closed",
    ),
    (
        "Business day closed: bill closed",
        "business_day_closed",
        "tab_closed",
    ),
    // A busy printer is a printer problem, not a busy tab.
    ("Фискальный регистратор занят", "printer", "tab_locked"),
    ("Fiscal printer is busy", "printer", "tab_locked"),
    // The pay type is missing, not the tab.
    (
        "Тип оплаты для счета не найден",
        "pay_type_problem",
        "tab_not_found",
    ),
    (
        "Payment type for the bill not found",
        "pay_type_problem",
        "tab_not_found",
    ),
    (
        "payType_ID for the order not found",
        "no_pay_type",
        "tab_not_found",
    ),
    // Paid already: not a precheck to wait for, not a lock.
    (
        "The precheck has already been paid",
        "already_paid",
        "precheck_printed",
    ),
    (
        "Счет уже оплачен и заблокирован",
        "already_paid",
        "tab_locked",
    ),
    // A precheck in progress is a bill in use, not a closed one.
    (
        "Счет передан в оплату и закрыт для изменений",
        "sent_to_payment",
        "tab_closed",
    ),
    // Locked, not closed.
    (
        "Счет закрыт для изменений: заблокирован другой станцией",
        "tab_locked",
        "tab_closed",
    ),
    // Closed, not missing: the tab exists.
    (
        "Счет закрыт или не существует",
        "tab_closed",
        "tab_not_found",
    ),
    ("Guest tab closed or unknown", "tab_closed", "tab_not_found"),
];

#[test]
fn an_earlier_row_wins_over_a_later_one() {
    for &(text, winner, loser) in ORDER {
        let later = RULES.iter().find(|r| r.name == loser).expect(loser);
        assert!(
            matches(later, &normalize(text)),
            "{loser} must match {text:?} too"
        );
        let (verdict, not_found) = expected_row(winner);
        let c = classify_text(text);
        assert_eq!(
            (c.rule, c.verdict, c.not_found),
            (winner, verdict, not_found),
            "{text}"
        );
    }
}
