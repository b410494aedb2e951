//! Classification of WSA / r_keeper errors into posgate's six substates.
//!
//! Two pure functions:
//!
//! - [`classify_ws_error`]: a WSA `error` branch (`wsError.code`, `wsError.extCode`,
//!   `agentError.code`, description) → a [`Verdict`]: the POS refused (with a substate), the
//!   outcome is unknown (the task may have been applied), or a passing, not-applied failure.
//! - [`classify_rk_text`]: an r_keeper text (`RkInternal: ...`), Russian, Ukrainian or English,
//!   any case, possibly wrapped (`WS Error: Error Code: WsaOrderError. RkInternal: ...`) → a
//!   [`Substate`]. Pure and public: the r_k Delivery adapter reuses it for texts inside its own
//!   errors.
//!
//! Codes first, texts second: an r_keeper error code in the text (`Checkout [3373] …`,
//! `UCSERR(2172): …`, `RK7ErrorN="2128"`) that [`crate::codes::RK_CODES`] knows decides on its
//! own, whatever the words around it say. Only a message without a code, or with an unknown
//! one, is classified by its text.
//!
//! Texts are matched on `to_lowercase()` (Cyrillic too), by fragments, because independent WSA
//! implementations word the same error differently. The rules are ordered so the specific ones
//! win: money first (an r_keeper text starts with "Cash station [N]", so "station" alone says
//! nothing), then shift, printer, the specific close blockers, the bill being in use, and the
//! generic "cannot close" last.

use posgate_core::Substate;

use crate::codes::known_rk_code;

/// What a WSA error means for a posting: the domain's one reading of a failed write
/// (refused with a substate / unknown / not applied, passing).
pub use posgate_core::pos::Verdict;
/// Whether a text says something timed out (the work may have been done anyway): the domain's
/// one list of timeout words, shared with every POS.
pub use posgate_core::pos::is_timeout_text;

/// wsError codes (White Server level), lower-cased, that decide on their own. `AgentError`,
/// an empty code and any code not listed defer to the agent's code and text; a code naming a
/// timeout is an unknown outcome (both in [`classify_ws_error`]).
pub const WS_CODES: &[(&str, Verdict)] = &[
    // Asked for a result that is still running; at a deadline it is as good as a timeout.
    ("awaitinganswer", Verdict::Unknown),
    ("tasklimitexceeded", Verdict::Transient),
    ("internalerror", Verdict::Transient),
    ("authfailed", Verdict::Rejected(Substate::OtherError)),
    ("license", Verdict::Rejected(Substate::OtherError)),
    ("badrequest", Verdict::Rejected(Substate::OtherError)),
    ("notfound", Verdict::Rejected(Substate::OtherError)),
    (
        "wsagentnotselected",
        Verdict::Rejected(Substate::OtherError),
    ),
];

/// agentError codes with a fixed meaning, lower-cased. Codes not listed (`WsaOrderError`,
/// `WsaCommandHandling`, old numeric codes, new codes) are classified by their text.
pub const AGENT_CODES: &[(&str, Substate)] = &[
    // Docs: failed to fill the order, example cause "printer unavailable".
    ("wsafillingordererror", Substate::PrinterError),
    (
        "wsanooneguidspecifiedforordersearching",
        Substate::OtherError,
    ),
    ("wsaduplicateorder", Substate::OtherError),
    ("wsaordercanceledonkass", Substate::OtherError),
    ("wsaorderignoredonpos", Substate::OtherError),
    ("wsaordercreationdishnotfound", Substate::OtherError),
    ("wsaordercreationselectornotfound", Substate::OtherError),
    (
        "wsaordercreationcombocomponentnotfound",
        Substate::OtherError,
    ),
    ("wsaordercreationcancelled", Substate::OtherError),
    ("wsaordercreationcancellation", Substate::OtherError),
    ("wsaorderingpreferenceserror", Substate::OtherError),
    ("wsaorderingsettingnotspecified", Substate::OtherError),
    ("wsaordermenuisunknownerror", Substate::OtherError),
    ("wsacommandnotsupported", Substate::OtherError),
    ("wsahttprequest", Substate::OtherError),
    ("wsahttpstatus", Substate::OtherError),
    ("wsahandshakeerror", Substate::OtherError),
];

/// Classifies a WSA error branch. `desc` is the agent's description when there is one, else
/// the White Server's. Unknown wsError codes fall back to the agent part, then to the text.
pub fn classify_ws_error(
    ws_code: &str,
    ext_code: Option<&str>,
    agent_code: Option<&str>,
    desc: &str,
) -> Verdict {
    let _ = ext_code; // License/WsAgent and friends: the wsError code alone decides.
    let ws = normalize_code(ws_code);
    let agent = agent_code.map(normalize_code).filter(|c| !c.is_empty());
    match WS_CODES.iter().find(|(code, _)| *code == ws) {
        Some((_, v)) => *v,
        None if ws.contains("timeout") || ws.contains("timedout") => Verdict::Unknown,
        // `AgentError`, an empty or an unknown White Server code: the agent part, else the text.
        None => classify_agent(agent.as_deref(), desc),
    }
}

/// An agent error: a timeout text first (the safe reading), then r_keeper's own code (the root
/// cause, more precise than the agent's wrapper code), then the agent's code, then the text.
fn classify_agent(agent_code: Option<&str>, desc: &str) -> Verdict {
    // An agent (or r_keeper) that timed out talking to the cash server may have booked.
    if is_timeout_text(desc) {
        return Verdict::Unknown;
    }
    if let Some(known) = known_rk_code(desc) {
        return Verdict::Rejected(known.substate);
    }
    if let Some(code) = agent_code
        && let Some((_, s)) = AGENT_CODES.iter().find(|(c, _)| *c == code)
    {
        return Verdict::Rejected(*s);
    }
    Verdict::Rejected(text_substate(desc))
}

fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A text rule: any of `any` (fragments of the lower-cased text), or a whole word from `words`,
/// or all of the groups in `all` (each group: any of its fragments).
pub struct TextRule {
    pub substate: Substate,
    pub any: &'static [&'static str],
    pub words: &'static [&'static str],
    pub all: &'static [&'static [&'static str]],
}

const MONEY_WORDS: &[&str] = &[
    "сумм",
    "оплат",
    "денег",
    "средств",
    "amount",
    "sum",
    "funds",
    "money",
    "total",
    "payment",
];
const COMPARATIVES: &[&str] = &[
    "exceed",
    "превыша",
    "больше",
    "more than",
    "greater than",
    "less than",
    "меньше",
];
const SHIFT_WORDS: &[&str] = &["смен", "shift"];
const SHIFT_STATES: &[&str] = &[
    "закрыт",
    "не открыт",
    "открыт",
    "открой",
    "истек",
    "превыш",
    "24 час",
    "closed",
    "not open",
    "no open",
    "open a",
    "open the",
    "expired",
    "exceed",
    "24 hour",
    // Being closed right now: "смена закрывается", "shift closing in progress".
    "закрыва",
    "closing",
];
const STATION_WORDS: &[&str] = &["станци", "station", "кассе", "терминал", "terminal"];
const IN_USE_STATES: &[&str] = &[
    "открыт на",
    "opened on",
    "open on",
    "opened at",
    "open at",
    "edited",
    "editing",
    "другой станц",
    "другом терминал",
    "другой касс",
    "another station",
    "another terminal",
    "other station",
];

/// The ordered text table. First match wins; no match → `OTHER_ERROR`.
pub const TEXT_RULES: &[TextRule] = &[
    // 1. The sum differs from what is due: not enough, too much, mismatch.
    TextRule {
        substate: Substate::WrongRequestSum,
        any: &[
            "not enough funds",
            "not enough money",
            "insufficient funds",
            "insufficient money",
            "overpay",
            "over-pay",
            "переплат",
            "amount mismatch",
            "sum mismatch",
            "wrong amount",
            "invalid amount",
            "incorrect amount",
            "неверная сумма",
            "неправильная сумма",
            "некорректная сумма",
        ],
        words: &[],
        all: &[],
    },
    TextRule {
        substate: Substate::WrongRequestSum,
        any: &[],
        words: &[],
        all: &[&["недостаточно"], &["средств", "денег", "сумм"]],
    },
    TextRule {
        substate: Substate::WrongRequestSum,
        any: &[],
        words: &[],
        all: &[COMPARATIVES, MONEY_WORDS],
    },
    TextRule {
        substate: Substate::WrongRequestSum,
        any: &[],
        words: &[],
        all: &[
            &[
                "invalid",
                "incorrect",
                "wrong",
                "некоррект",
                "неверн",
                "неправильн",
            ],
            &["amount", "sum", "сумм"],
        ],
    },
    TextRule {
        substate: Substate::WrongRequestSum,
        any: &[],
        words: &[],
        all: &[
            &["сумм"],
            &["не совпад", "не равн", "не соответств", "отличает"],
        ],
    },
    TextRule {
        substate: Substate::WrongRequestSum,
        any: &[],
        words: &[],
        all: &[
            &["amount", "sum"],
            &[
                "does not match",
                "doesn't match",
                "not match",
                "not equal",
                "differs",
                "mismatch",
            ],
        ],
    },
    // 2. The cashier shift is closed / not opened / expired / being closed right now.
    TextRule {
        substate: Substate::CashiersShiftClosed,
        any: &[],
        words: &[],
        all: &[SHIFT_WORDS, SHIFT_STATES],
    },
    // The day (the common shift) is being closed; Ukrainian shift texts as whole phrases,
    // because "зміна"/"зміни" also mean "change(s)".
    TextRule {
        substate: Substate::CashiersShiftClosed,
        any: &[
            "close of day",
            "close-of-day",
            "end of day",
            "end-of-day",
            "day closing",
            "closing the day",
            "closing of the day",
            "закрытие дня",
            "закрытия дня",
            "закриття дня",
            "закриття зміни",
            "касова зміна",
            "касову зміну",
            "касової зміни",
            "зміна закрит",
            "зміну закрит",
            "зміна не відкрит",
            "зміну не відкрит",
            "зміна закрива",
            "закривається зміна",
            "відкрийте зміну",
        ],
        words: &[],
        all: &[],
    },
    // 3. Printer / fiscal registrar / paper.
    TextRule {
        substate: Substate::PrinterError,
        any: &[
            "принтер",
            "printer",
            "фискальн",
            "fiscal",
            "чековая лента",
            "чековой ленты",
            "чековую ленту",
            "paper",
            "бумаг",
        ],
        words: &["фр", "ккт", "ккм", "fr", "kkt", "kkm"],
        all: &[],
    },
    // 4a. The order is in a final status (completed or cancelled, "Order have FINAL 11
    // status"): it can never change again, so retrying is pointless; a person decides.
    TextRule {
        substate: Substate::OtherError,
        any: &["have final", "has final", "final status", "финальн"],
        words: &[],
        all: &[],
    },
    // 4b. Specific close blockers: not fully paid, kitchen tickets not sent.
    TextRule {
        substate: Substate::CloseOrderBlocked,
        any: &[
            "not fully paid",
            "not paid in full",
            "not completely paid",
            "не полностью оплачен",
            "не оплачен полностью",
            "не до конца оплачен",
            "сервис-чек",
            "сервис чек",
            "сервисчек",
            "service check",
            "service-check",
            "kitchen ticket",
            "kitchen order",
            "not sent to kitchen",
            "not sent to the kitchen",
            "not printed",
            "не напечатан",
            "ненапечатан",
            "неотправлен",
            "не отправлен",
            "не распечатан",
            "нераспечатан",
        ],
        words: &[],
        all: &[],
    },
    // 5. The bill is locked / being edited / open on a station.
    TextRule {
        substate: Substate::BillInUse,
        any: &[
            "заблок",
            "блокир",
            "занят",
            "редактир",
            "in use",
            "being edited",
            "is edited",
            "blocked by",
            "blocked on",
            "busy",
        ],
        words: &["lock", "locked", "locks", "locking"],
        all: &[],
    },
    TextRule {
        substate: Substate::BillInUse,
        any: &[],
        words: &[],
        all: &[STATION_WORDS, IN_USE_STATES],
    },
    // 6. Generic "cannot close".
    TextRule {
        substate: Substate::CloseOrderBlocked,
        any: &[
            "cannot close",
            "can't close",
            "can not close",
            "unable to close",
            "could not close",
            "couldn't close",
            "failed to close",
            "невозможно закрыть",
            "не удалось закрыть",
            "нельзя закрыть",
            "не могу закрыть",
            "не может быть закрыт",
        ],
        words: &[],
        all: &[],
    },
];

/// Classifies an r_keeper text (an `RkInternal:` message, alone or wrapped) into a substate:
/// by its r_keeper error code when the code is known, else by its words. Anything not
/// recognised — order closed, order not found, unknown texts — is `OTHER_ERROR`.
pub fn classify_rk_text(text: &str) -> Substate {
    known_rk_code(text).map_or_else(|| text_substate(text), |known| known.substate)
}

/// The text table alone, codes ignored.
fn text_substate(text: &str) -> Substate {
    matching_text_rule(text).map_or(Substate::OtherError, |rule| rule.substate)
}

fn matching_text_rule(text: &str) -> Option<&'static TextRule> {
    let lower = text.to_lowercase();
    let words = words_of(&lower);
    TEXT_RULES
        .iter()
        .find(|rule| rule_matches(rule, &lower, &words))
}

fn rule_matches(rule: &TextRule, lower: &str, words: &[&str]) -> bool {
    rule.any.iter().any(|f| lower.contains(f))
        || rule.words.iter().any(|w| words.contains(w))
        || (!rule.all.is_empty()
            && rule
                .all
                .iter()
                .all(|group| group.iter().any(|f| lower.contains(f))))
}

fn words_of(lower: &str) -> Vec<&str> {
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether a text says the order does not exist (not a currency, a dish, a station).
pub fn is_not_found_text(text: &str) -> bool {
    let lower = text.to_lowercase();
    let missing = [
        "not found",
        "notfound",
        "does not exist",
        "doesn't exist",
        "не найден",
        "не существует",
        "нет такого",
    ]
    .iter()
    .any(|f| lower.contains(f));
    let about_order = ["order", "заказ"].iter().any(|f| lower.contains(f));
    let about_other = [
        "currency",
        "валют",
        "dish",
        "блюд",
        "station",
        "станци",
        "cashier",
        "кассир",
    ]
    .iter()
    .any(|f| lower.contains(f));
    (missing && about_order && !about_other)
        || ["no such order", "unknown order", "нет такого заказа"]
            .iter()
            .any(|f| lower.contains(f))
}
