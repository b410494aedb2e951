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
//!
//! Every row and fragment is pinned by the tests: the whole table is written out again there,
//! each fragment is put in a neutral Russian / Ukrainian / English sentence (and must be the
//! one deciding it: no fragment may hide inside another of its list), and the orderings above
//! have texts that match both rows.

use posgate_core::Substate;
use posgate_core::pos::TIMEOUT_WORDS;
/// What an error text means for a posting: refused (with its substate), unknown (a timeout
/// inside Tillypad: never post again without a person), or not applied for a passing reason.
pub use posgate_core::pos::Verdict;
/// The rows' form and their matching are the kit's, shared with every POS's word table.
pub use posgate_pos_kit::words::{Classified, FALLBACK, Rule, first_match, matches, normalize};

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
        any: TIMEOUT_WORDS,
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

/// Classifies an error text from `/pay-guest`. Unknown texts are `OTHER_ERROR`.
pub fn classify_text(text: &str) -> Classified {
    posgate_pos_kit::words::classify(RULES, text, Rejected(OtherError))
}
