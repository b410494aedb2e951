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
const WS_CODES: &[(&str, Verdict)] = &[
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
const AGENT_CODES: &[(&str, Substate)] = &[
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
struct TextRule {
    substate: Substate,
    any: &'static [&'static str],
    words: &'static [&'static str],
    all: &'static [&'static [&'static str]],
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
const TEXT_RULES: &[TextRule] = &[
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each wsError row, from an expected list written here: the code decides even when the
    /// text (a closed shift) and the agent's code (a printer) say otherwise; without its row
    /// the agent's code would decide, so removing or changing a row fails.
    #[test]
    fn every_ws_code_row_decides_over_the_agent_and_the_text() {
        use Verdict::*;
        let expected: &[(&str, Verdict)] = &[
            ("AwaitingAnswer", Unknown),
            ("TaskLimitExceeded", Transient),
            ("InternalError", Transient),
            ("AuthFailed", Rejected(OtherError)),
            ("License", Rejected(OtherError)),
            ("BadRequest", Rejected(OtherError)),
            ("NotFound", Rejected(OtherError)),
            ("WsAgentNotSelected", Rejected(OtherError)),
        ];
        assert_eq!(
            WS_CODES.len(),
            expected.len(),
            "a row without an expectation"
        );
        for (code, want) in expected {
            let v = classify_ws_error(
                code,
                Some("WsAgent"),
                Some("WsaFillingOrderError"),
                "Смена закрыта / shift is closed",
            );
            assert_eq!(v, *want, "{code}");
        }
        // Not a row: AgentError, empty and unknown codes defer to the agent; a timeout code is
        // an unknown outcome.
        for code in ["AgentError", "", "SomethingNew"] {
            assert_eq!(
                classify_ws_error(code, None, Some("WsaFillingOrderError"), "x"),
                Rejected(PrinterError),
                "{code:?}"
            );
        }
        for code in ["Timeout", "TaskTimeout", "timed_out"] {
            assert_eq!(classify_ws_error(code, None, None, "x"), Unknown, "{code}");
        }
    }

    /// Each agentError row, from an expected list written here: the agent's code decides over
    /// a text that names another substate (so removing a row changes the answer).
    #[test]
    fn every_agent_code_row_decides_over_a_misleading_text() {
        let expected: &[(&str, Substate)] = &[
            ("WsaFillingOrderError", PrinterError),
            ("WsaNoOneGuidSpecifiedForOrderSearching", OtherError),
            ("WsaDuplicateOrder", OtherError),
            ("WsaOrderCanceledOnKass", OtherError),
            ("WsaOrderIgnoredOnPos", OtherError),
            ("WsaOrderCreationDishNotFound", OtherError),
            ("WsaOrderCreationSelectorNotFound", OtherError),
            ("WsaOrderCreationComboComponentNotFound", OtherError),
            ("WsaOrderCreationCancelled", OtherError),
            ("WsaOrderCreationCancellation", OtherError),
            ("WsaOrderingPreferencesError", OtherError),
            ("WsaOrderingSettingNotSpecified", OtherError),
            ("WsaOrderMenuIsUnknownError", OtherError),
            ("WsaCommandNotSupported", OtherError),
            ("WsaHttpRequest", OtherError),
            ("WsaHttpStatus", OtherError),
            ("WsaHandshakeError", OtherError),
        ];
        assert_eq!(
            AGENT_CODES.len(),
            expected.len(),
            "a row without an expectation"
        );
        for (code, want) in expected {
            // A text naming a substate other than the row's.
            let misleading = if *want == PrinterError {
                "Смена закрыта"
            } else {
                "Принтер не доступен / printer error"
            };
            assert_eq!(
                classify_ws_error("AgentError", None, Some(code), misleading),
                Verdict::Rejected(*want),
                "{code}"
            );
        }
        // A code not in the table is read by its text: the texts above do mislead.
        assert_eq!(
            classify_ws_error("AgentError", None, Some("WsaOrderError"), "Смена закрыта"),
            Verdict::Rejected(CashiersShiftClosed)
        );
        assert_eq!(
            classify_ws_error(
                "AgentError",
                None,
                Some("WsaOrderError"),
                "Принтер не доступен / printer error"
            ),
            Verdict::Rejected(PrinterError)
        );
    }
    use Substate::*;

    fn rk(text: &str) -> Substate {
        classify_rk_text(text)
    }

    fn ws(code: &str, agent: Option<&str>, desc: &str) -> Verdict {
        classify_ws_error(code, None, agent, desc)
    }

    // ---- wsError table: one test per row ----

    #[test]
    fn ws_timeout_is_unknown() {
        assert_eq!(
            ws("Timeout", None, "Agent did not answer"),
            Verdict::Unknown
        );
    }

    #[test]
    fn ws_awaiting_answer_at_deadline_is_unknown() {
        assert_eq!(ws("AwaitingAnswer", None, ""), Verdict::Unknown);
    }

    #[test]
    fn ws_task_limit_exceeded_is_transient() {
        assert_eq!(ws("TaskLimitExceeded", None, "limit"), Verdict::Transient);
    }

    #[test]
    fn ws_internal_error_is_transient() {
        assert_eq!(ws("InternalError", None, "boom"), Verdict::Transient);
    }

    #[test]
    fn ws_auth_failed_is_other_error() {
        assert_eq!(
            ws("AuthFailed", None, "bad token"),
            Verdict::Rejected(OtherError)
        );
    }

    #[test]
    fn ws_license_is_other_error() {
        assert_eq!(
            classify_ws_error("License", Some("WsAgent"), None, "no license"),
            Verdict::Rejected(OtherError)
        );
    }

    #[test]
    fn ws_bad_request_is_other_error() {
        assert_eq!(
            ws("BadRequest", None, "InvalidRequestStructure"),
            Verdict::Rejected(OtherError)
        );
    }

    #[test]
    fn ws_not_found_is_other_error() {
        assert_eq!(ws("NotFound", None, ""), Verdict::Rejected(OtherError));
    }

    #[test]
    fn ws_agent_not_selected_is_other_error() {
        assert_eq!(
            ws("WsAgentNotSelected", None, ""),
            Verdict::Rejected(OtherError)
        );
    }

    #[test]
    fn ws_agent_error_defers_to_the_agent() {
        assert_eq!(
            ws(
                "AgentError",
                Some("WsaOrderError"),
                "RkInternal: Cash station [3373] Not enough funds to pay for the order in full"
            ),
            Verdict::Rejected(WrongRequestSum)
        );
    }

    #[test]
    fn ws_codes_match_any_case_and_separators() {
        assert_eq!(ws("TIMEOUT", None, ""), Verdict::Unknown);
        assert_eq!(ws("task_limit_exceeded", None, ""), Verdict::Transient);
        assert_eq!(ws("AgentTimeout", None, ""), Verdict::Unknown);
    }

    #[test]
    fn ws_unknown_or_empty_code_falls_back_to_agent_then_text() {
        assert_eq!(
            ws("", Some("WsaFillingOrderError"), "x"),
            Verdict::Rejected(PrinterError)
        );
        assert_eq!(
            ws("SomethingNew", None, "Смена закрыта"),
            Verdict::Rejected(CashiersShiftClosed)
        );
        assert_eq!(
            ws("SomethingNew", None, "???"),
            Verdict::Rejected(OtherError)
        );
    }

    // ---- agentError table ----

    #[test]
    fn agent_filling_order_error_is_printer_error() {
        assert_eq!(
            ws(
                "AgentError",
                Some("WsaFillingOrderError"),
                "Не удалось заполнить заказ"
            ),
            Verdict::Rejected(PrinterError)
        );
    }

    #[test]
    fn agent_fixed_other_error_codes() {
        for code in [
            "WsaNoOneGuidSpecifiedForOrderSearching",
            "WsaDuplicateOrder",
            "WsaOrderCanceledOnKass",
            "WsaOrderIgnoredOnPos",
            "WsaOrderCreationDishNotFound",
            "WsaOrderCreationSelectorNotFound",
            "WsaOrderCreationComboComponentNotFound",
            "WsaOrderCreationCancelled",
            "WsaOrderCreationCancellation",
            "WsaOrderingPreferencesError",
            "WsaOrderingSettingNotSpecified",
            "WsaOrderMenuIsUnknownError",
            "WsaCommandNotSupported",
            "WsaHttpRequest",
            "WsaHttpStatus",
            "WsaHandshakeError",
        ] {
            // Even with a text that would otherwise say "shift closed".
            assert_eq!(
                ws("AgentError", Some(code), "смена закрыта"),
                Verdict::Rejected(OtherError),
                "{code}"
            );
        }
    }

    #[test]
    fn agent_order_error_is_classified_by_text() {
        assert_eq!(
            ws(
                "AgentError",
                Some("WsaOrderError"),
                "RkInternal: Смена закрыта"
            ),
            Verdict::Rejected(CashiersShiftClosed)
        );
        assert_eq!(
            ws(
                "AgentError",
                Some("WsaOrderError"),
                "RkInternal: Order not found"
            ),
            Verdict::Rejected(OtherError)
        );
    }

    #[test]
    fn agent_numeric_code_is_classified_by_text() {
        assert_eq!(
            ws("AgentError", Some("17"), "Order is locked by station 2"),
            Verdict::Rejected(BillInUse)
        );
    }

    #[test]
    fn agent_timeout_text_is_unknown() {
        assert_eq!(
            ws(
                "AgentError",
                Some("WsaOrderError"),
                "RkInternal: timeout waiting for cash server"
            ),
            Verdict::Unknown
        );
        assert_eq!(
            ws(
                "AgentError",
                Some("WsaCommandHandling"),
                "Истекло время ожидания ответа"
            ),
            Verdict::Unknown
        );
    }

    // ---- text table: one test per rule, plus variants ----

    #[test]
    fn text_not_enough_funds_is_wrong_sum() {
        assert_eq!(
            rk("RkInternal: Cash station [3373] Not enough funds to pay for the order in full"),
            WrongRequestSum
        );
        assert_eq!(
            rk("Checkout [3373] Not enough funds to pay for the order in full."),
            WrongRequestSum
        );
        assert_eq!(
            rk("Cash station [3373] There is not enough money to fully pay the order."),
            WrongRequestSum
        );
        assert_eq!(rk("INSUFFICIENT FUNDS"), WrongRequestSum);
        assert_eq!(rk("Cash station [3373] Not enough funds"), WrongRequestSum);
    }

    #[test]
    fn text_russian_not_enough_is_wrong_sum() {
        assert_eq!(
            rk("RkInternal: Кассовая станция [3373] Недостаточно средств для полной оплаты заказа"),
            WrongRequestSum
        );
        assert_eq!(rk("НЕДОСТАТОЧНО ДЕНЕГ"), WrongRequestSum);
    }

    #[test]
    fn text_overpayment_is_wrong_sum() {
        assert_eq!(rk("Payment amount exceeds the amount due"), WrongRequestSum);
        assert_eq!(rk("Сумма оплаты превышает сумму заказа"), WrongRequestSum);
        assert_eq!(rk("Сумма предоплаты больше суммы заказа"), WrongRequestSum);
        assert_eq!(rk("Paid more than the order total"), WrongRequestSum);
        assert_eq!(rk("Overpayment is not allowed"), WrongRequestSum);
        assert_eq!(rk("Переплата недопустима"), WrongRequestSum);
    }

    #[test]
    fn text_sum_mismatch_is_wrong_sum() {
        assert_eq!(
            rk("Сумма платежа не совпадает с суммой заказа"),
            WrongRequestSum
        );
        assert_eq!(rk("Сумма оплаты не равна сумме к оплате"), WrongRequestSum);
        assert_eq!(rk("Amount mismatch"), WrongRequestSum);
        assert_eq!(rk("Invalid payment amount"), WrongRequestSum);
        assert_eq!(rk("Некорректная сумма оплаты"), WrongRequestSum);
        assert_eq!(
            rk("Payment amount does not match the order sum"),
            WrongRequestSum
        );
    }

    #[test]
    fn text_shift_closed() {
        assert_eq!(rk("Смена закрыта"), CashiersShiftClosed);
        assert_eq!(rk("Кассовая смена не открыта"), CashiersShiftClosed);
        assert_eq!(rk("Cashier shift is closed"), CashiersShiftClosed);
        assert_eq!(rk("No open shift on cash station 3"), CashiersShiftClosed);
        assert_eq!(
            rk("Cannot close order: cashier shift is closed"),
            CashiersShiftClosed
        );
        assert_eq!(
            rk("Смена на кассовой станции [3] закрыта"),
            CashiersShiftClosed
        );
    }

    #[test]
    fn text_printer_error() {
        assert_eq!(rk("Принтер недоступен"), PrinterError);
        assert_eq!(rk("Printer is not available"), PrinterError);
        assert_eq!(rk("Ошибка фискального регистратора"), PrinterError);
        assert_eq!(rk("Ошибка ФР: нет связи"), PrinterError);
        assert_eq!(rk("ККТ не отвечает"), PrinterError);
        assert_eq!(rk("Fiscal register error"), PrinterError);
        assert_eq!(rk("Закончилась чековая лента"), PrinterError);
        assert_eq!(rk("Out of paper"), PrinterError);
        assert_eq!(rk("Cannot close order: fiscal printer error"), PrinterError);
        // "станции" must not make it BILL_IN_USE.
        assert_eq!(rk("Принтер на станции 3 недоступен"), PrinterError);
    }

    #[test]
    fn text_not_fully_paid_blocks_close() {
        assert_eq!(
            rk("RkInternal: Cash station [3071] Cannot save order 1.73, it is not fully paid"),
            CloseOrderBlocked
        );
        assert_eq!(
            rk("Unable to close order, it is not fully paid"),
            CloseOrderBlocked
        );
        assert_eq!(
            rk("Невозможно закрыть заказ, он не полностью оплачен"),
            CloseOrderBlocked
        );
    }

    #[test]
    fn text_final_status_is_other_error() {
        // Final means final: retrying cannot help, a person must decide.
        assert_eq!(rk("Order have FINAL 11 status"), OtherError);
    }

    #[test]
    fn text_kitchen_tickets_block_close() {
        assert_eq!(
            rk("Невозможно закрыть заказ: есть ненапечатанные сервис-чеки"),
            CloseOrderBlocked
        );
        assert_eq!(
            rk("Kitchen tickets have not been printed"),
            CloseOrderBlocked
        );
        assert_eq!(rk("Order items not sent to kitchen"), CloseOrderBlocked);
        assert_eq!(rk("В заказе есть неотправленные блюда"), CloseOrderBlocked);
        assert_eq!(
            rk("Закрытие заблокировано: сервис-чек не напечатан"),
            CloseOrderBlocked
        );
    }

    #[test]
    fn text_bill_in_use() {
        assert_eq!(
            rk("Невозможно закрыть заказ: заказ заблокирован на станции"),
            BillInUse
        );
        assert_eq!(rk("Order is locked by station 5"), BillInUse);
        assert_eq!(rk("ORDER LOCKED"), BillInUse);
        assert_eq!(rk("Заказ редактируется на станции 2"), BillInUse);
        assert_eq!(rk("Заказ занят другим пользователем"), BillInUse);
        assert_eq!(rk("Order is opened on station 2"), BillInUse);
        assert_eq!(rk("Заказ открыт на другой станции"), BillInUse);
        assert_eq!(rk("Order is in use"), BillInUse);
        assert_eq!(rk("Order is being edited at another terminal"), BillInUse);
        // r_keeper's own wordings (XML interface reference): another lock key, a station lock.
        assert_eq!(
            rk("Не получается заблокировать. Заказ заблокирован другим ключом блокировки"),
            BillInUse
        );
        assert_eq!(
            rk("Визит 640419540 не может быть завершён. Заказ 256 заблокирован станцией"),
            BillInUse
        );
    }

    #[test]
    fn text_generic_cannot_close() {
        assert_eq!(rk("Cannot close order"), CloseOrderBlocked);
        assert_eq!(rk("Не удалось закрыть заказ"), CloseOrderBlocked);
        assert_eq!(rk("невозможно закрыть заказ"), CloseOrderBlocked);
    }

    #[test]
    fn text_anything_else_is_other_error() {
        assert_eq!(rk("Order not found"), OtherError);
        assert_eq!(rk("Заказ не найден"), OtherError);
        assert_eq!(rk("Order is closed"), OtherError);
        assert_eq!(rk("Визит 1159 закрыт!"), OtherError);
        assert_eq!(rk(""), OtherError);
        // A code nobody knows says nothing; the text decides.
        assert_eq!(rk("Cash station [15] something odd happened"), OtherError);
        // Words that merely contain a keyword do not count.
        assert_eq!(rk("Clock is out of sync"), OtherError);
        assert_eq!(rk("Недостаточно прав для оплаты"), OtherError);
        assert_eq!(rk("Cash station [15] other error"), OtherError);
    }

    #[test]
    fn text_wrappers_and_prefixes_are_tolerated() {
        assert_eq!(
            rk(
                "WS Error: Error Code: WsaOrderError. RkInternal: Checkout [3373] Not enough funds to pay for the order in full."
            ),
            WrongRequestSum
        );
        assert_eq!(
            rk("WS Error: Error Code: WsaOrderError. RkInternal: Смена закрыта"),
            CashiersShiftClosed
        );
    }

    #[test]
    fn timeout_and_not_found_texts() {
        assert!(is_timeout_text("Request timed out"));
        assert!(is_timeout_text("Таймаут"));
        assert!(!is_timeout_text("Order not found"));
        assert!(is_not_found_text("Заказ не найден"));
        assert!(is_not_found_text("RkInternal: Order {ABC} not found"));
        assert!(!is_not_found_text("Смена закрыта"));
        assert!(!is_not_found_text("RkInternal: Валюта [x] не найдена"));
        assert!(!is_not_found_text("Currency [x] not found"));
        assert!(is_not_found_text("No such order"));
    }

    // ---- r_keeper codes: every row of the code table ----

    /// What each known code must mean. Written independently of `RK_CODES`: a row removed
    /// from or changed in the table fails `every_code_row_*`.
    const EXPECTED_CODES: &[(u32, Substate)] = &[
        (2102, OtherError),
        (2128, OtherError),
        (2129, BillInUse),
        (2133, CashiersShiftClosed),
        (2142, OtherError),
        (2172, CashiersShiftClosed),
        (3071, CloseOrderBlocked),
        (3373, WrongRequestSum),
        (3813, OtherError),
        (5305, OtherError),
        (5310, OtherError),
        (8007, OtherError),
    ];

    /// Neutral messages (their words alone say `OTHER_ERROR`), Russian and English.
    const NEUTRAL: &[&str] = &["Операция не выполнена", "The operation was not performed"];

    /// Every way a code is written around a message.
    fn with_code(code: u32, text: &str) -> Vec<String> {
        vec![
            format!("RkInternal: Cash station [{code}] {text}"),
            format!("RkInternal: Кассовая станция [{code}] {text}"),
            format!("WS Error: Error Code: WsaOrderError. RkInternal: Checkout [{code}] {text}."),
            format!("Касса [{code}] {text}"),
            format!("Ошибка ({code}): {text}"),
            format!("UCSERR({code}): {text}"),
            format!(
                r#"<RK7QueryResult Status="Query Executing Error" ErrorText="{text}" RK7ErrorN="{code}"/>"#
            ),
            format!("<RK7QueryResult ErrorText='{text}' RK7ErrorN='{code}'/>"),
            format!("{text}. ErrorCode={code}"),
            format!(
                "<html><body><h1>500</h1><p>{text}</p><p>RK7ErrorN=&quot;{code}&quot;</p></body></html>"
            ),
        ]
    }

    #[test]
    fn the_code_table_is_exactly_the_expected_one() {
        let table: Vec<(u32, Substate)> = crate::codes::RK_CODES
            .iter()
            .map(|r| (r.code, r.substate))
            .collect();
        assert_eq!(table, EXPECTED_CODES);
    }

    #[test]
    fn neutral_messages_alone_are_other_error() {
        for text in NEUTRAL {
            assert_eq!(rk(text), OtherError, "{text}");
            for message in with_code(15, text) {
                assert_eq!(rk(&message), OtherError, "{message}");
            }
        }
    }

    #[test]
    fn every_code_row_in_a_neutral_sentence() {
        for &(code, want) in EXPECTED_CODES {
            for text in NEUTRAL {
                for message in with_code(code, text) {
                    assert_eq!(rk(&message), want, "{message}");
                }
            }
        }
    }

    /// A text for each substate, to mislead.
    const MISLEADING: &[(Substate, &str)] = &[
        (
            WrongRequestSum,
            "Недостаточно средств для полной оплаты заказа",
        ),
        (
            WrongRequestSum,
            "Not enough funds to pay for the order in full",
        ),
        (CashiersShiftClosed, "Кассовая смена закрыта"),
        (CashiersShiftClosed, "Cashier shift is closed"),
        (PrinterError, "Принтер недоступен"),
        (PrinterError, "Printer is not available"),
        (
            CloseOrderBlocked,
            "Невозможно закрыть заказ, он не полностью оплачен",
        ),
        (
            CloseOrderBlocked,
            "Unable to close order, it is not fully paid",
        ),
        (BillInUse, "Заказ заблокирован другой станцией"),
        (BillInUse, "Order is locked by another station"),
    ];

    #[test]
    fn every_code_row_wins_over_a_text_saying_something_else() {
        for &(code, want) in EXPECTED_CODES {
            for &(says, text) in MISLEADING.iter().filter(|(s, _)| *s != want) {
                assert_eq!(rk(text), says, "{text}");
                for message in with_code(code, text) {
                    assert_eq!(rk(&message), want, "{message}");
                }
            }
        }
    }

    #[test]
    fn code_wins_over_a_misleading_text() {
        // The seed's close refusal, with a text that mentions a printer.
        assert_eq!(
            rk("RkInternal: Checkout [3071] Unable to close order 1.73: printer is busy"),
            CloseOrderBlocked
        );
        assert_eq!(
            rk("Кассовая станция [3373] Заказ 1.1002 уже оплачен"),
            WrongRequestSum
        );
        assert_eq!(
            rk("UCSERR(2172): Невозможно закрыть заказ, принтер недоступен"),
            CashiersShiftClosed
        );
        assert_eq!(
            rk(r#"<RK7QueryResult ErrorText="Не хватает денег" RK7ErrorN="2128"/>"#),
            OtherError
        );
    }

    #[test]
    fn known_code_with_an_empty_or_unknown_text() {
        assert_eq!(rk("Checkout [3373]"), WrongRequestSum);
        assert_eq!(rk("Cash station [3071] ???"), CloseOrderBlocked);
        assert_eq!(rk("UCSERR(2172):"), CashiersShiftClosed);
        assert_eq!(
            rk(r#"<RK7QueryResult ErrorText="" RK7ErrorN="2129"/>"#),
            BillInUse
        );
        assert_eq!(rk("ErrorCode=2133"), CashiersShiftClosed);
        assert_eq!(rk("[2128]"), OtherError);
    }

    #[test]
    fn unknown_code_falls_back_to_the_text() {
        assert_eq!(rk("Cash station [15] Not enough funds"), WrongRequestSum);
        assert_eq!(rk("UCSERR(9999): Смена закрыта"), CashiersShiftClosed);
        assert_eq!(
            rk(r#"RK7ErrorN="1" ErrorText="Принтер недоступен""#),
            PrinterError
        );
        assert_eq!(rk("Cash station [15]"), OtherError);
        assert_eq!(rk("RK7ErrorN=\"\""), OtherError);
    }

    #[test]
    fn ids_in_brackets_are_not_codes() {
        // 3373 here is a station's number, 2172 an order's: the text decides.
        assert_eq!(rk("Order 1.1002 is locked by station [3373]"), BillInUse);
        assert_eq!(rk("Заказ [2172] заблокирован на станции [3373]"), BillInUse);
        assert_eq!(
            rk("Сумма оплаты [3071] превышает сумму заказа"),
            WrongRequestSum
        );
    }

    #[test]
    fn agent_errors_read_the_rkeeper_code_first() {
        // r_keeper's code is the root cause; the agent's wrapper code only says "failed to fill".
        assert_eq!(
            ws(
                "AgentError",
                Some("WsaFillingOrderError"),
                "RkInternal: Касса [2172] В данный момент закрывается общая смена"
            ),
            Verdict::Rejected(CashiersShiftClosed)
        );
        assert_eq!(
            ws(
                "AgentError",
                Some("WsaOrderError"),
                "RkInternal: Checkout [3071] Printer error"
            ),
            Verdict::Rejected(CloseOrderBlocked)
        );
        assert_eq!(
            ws("", None, "UCSERR(2172): ..."),
            Verdict::Rejected(CashiersShiftClosed)
        );
        // A timeout may have booked: still unknown, whatever the code.
        assert_eq!(
            ws(
                "AgentError",
                Some("WsaOrderError"),
                "RkInternal: Checkout [3373] timeout waiting for the cash server"
            ),
            Verdict::Unknown
        );
        // The White Server's own verdicts are not overruled by a code in the text.
        assert_eq!(
            ws("InternalError", None, "Checkout [3373] Not enough funds"),
            Verdict::Transient
        );
    }

    // ---- shift being closed right now ----

    #[test]
    fn shift_being_closed_texts() {
        for text in [
            "RkInternal: В данный момент закрывается общая смена",
            "Смена закрывается",
            "Кассовая смена закрывается, повторите позже",
            "Идет закрытие смены",
            "Идёт закрытие общей смены",
            "Выполняется закрытие дня",
            "Shift is being closed",
            "Shift closing in progress",
            "Cashier shift closing, try again later",
            "Close of day in progress",
            "End of day is running",
            "Day closing in progress",
            "Закриття зміни",
            "Триває закриття касової зміни",
            "Зміна закривається",
            "Закривається зміна, спробуйте пізніше",
            "Касова зміна закрита",
            "Зміну не відкрито",
            "Відкрийте зміну на касі",
            "Закриття дня триває",
        ] {
            assert_eq!(rk(text), CashiersShiftClosed, "{text}");
        }
        // "зміни" alone is "changes", not a shift.
        assert_eq!(rk("Замовлення закрито, зміни не збережено"), OtherError);
    }

    // ---- the text table, row by row ----

    /// Every fragment of the text table with the substate it must give, and a partner from
    /// the other group of an all-of rule (or a later rule's fragment it must beat). Written
    /// independently of `TEXT_RULES`: a fragment removed, added or moved to another substate
    /// fails `the_text_table_is_exactly_the_expected_one`.
    const EXPECTED_FRAGMENTS: &[(Substate, &str, &str)] = &[
        // 1. money: any
        (WrongRequestSum, "not enough funds", ""),
        (WrongRequestSum, "not enough money", ""),
        (WrongRequestSum, "insufficient funds", ""),
        (WrongRequestSum, "insufficient money", ""),
        (WrongRequestSum, "overpay", ""),
        (WrongRequestSum, "over-pay", ""),
        (WrongRequestSum, "переплат", ""),
        (WrongRequestSum, "amount mismatch", ""),
        (WrongRequestSum, "sum mismatch", ""),
        (WrongRequestSum, "wrong amount", ""),
        (WrongRequestSum, "invalid amount", ""),
        (WrongRequestSum, "incorrect amount", ""),
        (WrongRequestSum, "неверная сумма", ""),
        (WrongRequestSum, "неправильная сумма", ""),
        (WrongRequestSum, "некорректная сумма", ""),
        // money: "недостаточно" + what
        (WrongRequestSum, "недостаточно", "средств"),
        (WrongRequestSum, "средств", "недостаточно"),
        (WrongRequestSum, "денег", "недостаточно"),
        (WrongRequestSum, "сумм", "недостаточно"),
        // money: comparative + money word
        (WrongRequestSum, "exceed", "amount"),
        (WrongRequestSum, "превыша", "amount"),
        (WrongRequestSum, "больше", "amount"),
        (WrongRequestSum, "more than", "amount"),
        (WrongRequestSum, "greater than", "amount"),
        (WrongRequestSum, "less than", "amount"),
        (WrongRequestSum, "меньше", "amount"),
        (WrongRequestSum, "сумм", "exceed"),
        (WrongRequestSum, "оплат", "exceed"),
        (WrongRequestSum, "денег", "exceed"),
        (WrongRequestSum, "средств", "exceed"),
        (WrongRequestSum, "amount", "exceed"),
        (WrongRequestSum, "sum", "exceed"),
        (WrongRequestSum, "funds", "exceed"),
        (WrongRequestSum, "money", "exceed"),
        (WrongRequestSum, "total", "exceed"),
        (WrongRequestSum, "payment", "exceed"),
        // money: invalid + amount
        (WrongRequestSum, "invalid", "sum"),
        (WrongRequestSum, "incorrect", "sum"),
        (WrongRequestSum, "wrong", "sum"),
        (WrongRequestSum, "некоррект", "sum"),
        (WrongRequestSum, "неверн", "sum"),
        (WrongRequestSum, "неправильн", "sum"),
        (WrongRequestSum, "amount", "invalid"),
        (WrongRequestSum, "sum", "invalid"),
        (WrongRequestSum, "сумм", "invalid"),
        // money: "сумм" + differs
        (WrongRequestSum, "сумм", "не совпад"),
        (WrongRequestSum, "не совпад", "сумм"),
        (WrongRequestSum, "не равн", "сумм"),
        (WrongRequestSum, "не соответств", "сумм"),
        (WrongRequestSum, "отличает", "сумм"),
        // money: amount + does not match
        (WrongRequestSum, "amount", "differs"),
        (WrongRequestSum, "sum", "differs"),
        (WrongRequestSum, "does not match", "amount"),
        (WrongRequestSum, "doesn't match", "amount"),
        (WrongRequestSum, "not match", "amount"),
        (WrongRequestSum, "not equal", "amount"),
        (WrongRequestSum, "differs", "amount"),
        (WrongRequestSum, "mismatch", "amount"),
        // 2. shift word + state
        (CashiersShiftClosed, "смен", "closed"),
        (CashiersShiftClosed, "shift", "closed"),
        (CashiersShiftClosed, "закрыт", "shift"),
        (CashiersShiftClosed, "не открыт", "shift"),
        (CashiersShiftClosed, "открыт", "shift"),
        (CashiersShiftClosed, "открой", "shift"),
        (CashiersShiftClosed, "истек", "shift"),
        (CashiersShiftClosed, "превыш", "shift"),
        (CashiersShiftClosed, "24 час", "shift"),
        (CashiersShiftClosed, "closed", "shift"),
        (CashiersShiftClosed, "not open", "shift"),
        (CashiersShiftClosed, "no open", "shift"),
        (CashiersShiftClosed, "open a", "shift"),
        (CashiersShiftClosed, "open the", "shift"),
        (CashiersShiftClosed, "expired", "shift"),
        (CashiersShiftClosed, "exceed", "shift"),
        (CashiersShiftClosed, "24 hour", "shift"),
        (CashiersShiftClosed, "закрыва", "shift"),
        (CashiersShiftClosed, "closing", "shift"),
        // shift: the day being closed, Ukrainian phrases
        (CashiersShiftClosed, "close of day", ""),
        (CashiersShiftClosed, "close-of-day", ""),
        (CashiersShiftClosed, "end of day", ""),
        (CashiersShiftClosed, "end-of-day", ""),
        (CashiersShiftClosed, "day closing", ""),
        (CashiersShiftClosed, "closing the day", ""),
        (CashiersShiftClosed, "closing of the day", ""),
        (CashiersShiftClosed, "закрытие дня", ""),
        (CashiersShiftClosed, "закрытия дня", ""),
        (CashiersShiftClosed, "закриття дня", ""),
        (CashiersShiftClosed, "закриття зміни", ""),
        (CashiersShiftClosed, "касова зміна", ""),
        (CashiersShiftClosed, "касову зміну", ""),
        (CashiersShiftClosed, "касової зміни", ""),
        (CashiersShiftClosed, "зміна закрит", ""),
        (CashiersShiftClosed, "зміну закрит", ""),
        (CashiersShiftClosed, "зміна не відкрит", ""),
        (CashiersShiftClosed, "зміну не відкрит", ""),
        (CashiersShiftClosed, "зміна закрива", ""),
        (CashiersShiftClosed, "закривається зміна", ""),
        (CashiersShiftClosed, "відкрийте зміну", ""),
        // 3. printer
        (PrinterError, "принтер", ""),
        (PrinterError, "printer", ""),
        (PrinterError, "фискальн", ""),
        (PrinterError, "fiscal", ""),
        (PrinterError, "чековая лента", ""),
        (PrinterError, "чековой ленты", ""),
        (PrinterError, "чековую ленту", ""),
        (PrinterError, "paper", ""),
        (PrinterError, "бумаг", ""),
        (PrinterError, "фр", ""),
        (PrinterError, "ккт", ""),
        (PrinterError, "ккм", ""),
        (PrinterError, "fr", ""),
        (PrinterError, "kkt", ""),
        (PrinterError, "kkm", ""),
        // 4a. final status: must beat the generic "cannot close"
        (OtherError, "have final", "cannot close"),
        (OtherError, "has final", "cannot close"),
        (OtherError, "final status", "cannot close"),
        (OtherError, "финальн", "cannot close"),
        // 4b. specific close blockers
        (CloseOrderBlocked, "not fully paid", ""),
        (CloseOrderBlocked, "not paid in full", ""),
        (CloseOrderBlocked, "not completely paid", ""),
        (CloseOrderBlocked, "не полностью оплачен", ""),
        (CloseOrderBlocked, "не оплачен полностью", ""),
        (CloseOrderBlocked, "не до конца оплачен", ""),
        (CloseOrderBlocked, "сервис-чек", ""),
        (CloseOrderBlocked, "сервис чек", ""),
        (CloseOrderBlocked, "сервисчек", ""),
        (CloseOrderBlocked, "service check", ""),
        (CloseOrderBlocked, "service-check", ""),
        (CloseOrderBlocked, "kitchen ticket", ""),
        (CloseOrderBlocked, "kitchen order", ""),
        (CloseOrderBlocked, "not sent to kitchen", ""),
        (CloseOrderBlocked, "not sent to the kitchen", ""),
        (CloseOrderBlocked, "not printed", ""),
        (CloseOrderBlocked, "не напечатан", ""),
        (CloseOrderBlocked, "ненапечатан", ""),
        (CloseOrderBlocked, "неотправлен", ""),
        (CloseOrderBlocked, "не отправлен", ""),
        (CloseOrderBlocked, "не распечатан", ""),
        (CloseOrderBlocked, "нераспечатан", ""),
        // 5. bill in use
        (BillInUse, "заблок", ""),
        (BillInUse, "блокир", ""),
        (BillInUse, "занят", ""),
        (BillInUse, "редактир", ""),
        (BillInUse, "in use", ""),
        (BillInUse, "being edited", ""),
        (BillInUse, "is edited", ""),
        (BillInUse, "blocked by", ""),
        (BillInUse, "blocked on", ""),
        (BillInUse, "busy", ""),
        (BillInUse, "lock", ""),
        (BillInUse, "locked", ""),
        (BillInUse, "locks", ""),
        (BillInUse, "locking", ""),
        // bill in use: station word + open/edited there
        (BillInUse, "станци", "editing"),
        (BillInUse, "station", "editing"),
        (BillInUse, "кассе", "editing"),
        (BillInUse, "терминал", "editing"),
        (BillInUse, "terminal", "editing"),
        (BillInUse, "открыт на", "station"),
        (BillInUse, "opened on", "station"),
        (BillInUse, "open on", "station"),
        (BillInUse, "opened at", "station"),
        (BillInUse, "open at", "station"),
        (BillInUse, "edited", "station"),
        (BillInUse, "editing", "station"),
        (BillInUse, "другой станц", "station"),
        (BillInUse, "другом терминал", "station"),
        (BillInUse, "другой касс", "station"),
        (BillInUse, "another station", "station"),
        (BillInUse, "another terminal", "station"),
        (BillInUse, "other station", "station"),
        // 6. generic "cannot close"
        (CloseOrderBlocked, "cannot close", ""),
        (CloseOrderBlocked, "can't close", ""),
        (CloseOrderBlocked, "can not close", ""),
        (CloseOrderBlocked, "unable to close", ""),
        (CloseOrderBlocked, "could not close", ""),
        (CloseOrderBlocked, "couldn't close", ""),
        (CloseOrderBlocked, "failed to close", ""),
        (CloseOrderBlocked, "невозможно закрыть", ""),
        (CloseOrderBlocked, "не удалось закрыть", ""),
        (CloseOrderBlocked, "нельзя закрыть", ""),
        (CloseOrderBlocked, "не могу закрыть", ""),
        (CloseOrderBlocked, "не может быть закрыт", ""),
    ];

    /// Every (substate, fragment) the production table holds.
    fn table_fragments() -> Vec<(Substate, &'static str)> {
        TEXT_RULES
            .iter()
            .flat_map(|rule| {
                rule.any
                    .iter()
                    .chain(rule.words)
                    .chain(rule.all.iter().flat_map(|group| group.iter()))
                    .map(move |f| (rule.substate, *f))
            })
            .collect()
    }

    #[test]
    fn the_text_table_is_exactly_the_expected_one() {
        let table = table_fragments();
        let expected: Vec<(Substate, &str)> =
            EXPECTED_FRAGMENTS.iter().map(|&(s, f, _)| (s, f)).collect();
        for pair in &table {
            assert!(expected.contains(pair), "untested table fragment {pair:?}");
        }
        for pair in &expected {
            assert!(
                table.contains(pair),
                "fragment {pair:?} is missing from the table"
            );
        }
    }

    #[test]
    fn every_text_fragment_in_a_neutral_sentence() {
        for &(want, fragment, partner) in EXPECTED_FRAGMENTS {
            for neutral in NEUTRAL {
                let text = format!("{neutral}: {fragment} {partner}.");
                assert_eq!(rk(&text), want, "{text}");
                // Case does not matter.
                assert_eq!(rk(&text.to_uppercase()), want, "{text}");
            }
        }
    }
}
