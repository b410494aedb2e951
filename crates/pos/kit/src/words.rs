//! Reading a POS's words: tables of text fragments that classify what a POS said.
//!
//! Why it exists: POS error and status texts come without codes, from independent
//! implementations, in Russian, Ukrainian or English, sometimes wrapped in another message. A
//! connector classifies them by one ordered table of lower-cased fragments ([`Rule`]: any of
//! these, or one of each of these groups), the first matching row winning; the matching, the
//! normalising (`ё` read as `е`) and the "which row decided" answer ([`Classified`]) are the
//! same for every table and live here, so a connector writes only its rows.

use posgate_core::pos::Verdict;

/// One row: the text matches if it contains any of `any`, or, when `all` is not empty, a
/// fragment of every group of `all`.
#[derive(Debug)]
pub struct Rule {
    /// Stable row name (logs, tests).
    pub name: &'static str,
    pub verdict: Verdict,
    /// The bill is unknown to the POS.
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

/// What fragments are matched against: lower case, `ё` read as `е`.
pub fn normalize(text: &str) -> String {
    text.to_lowercase().replace('ё', "е")
}

/// Whether a [`normalize`]d text contains any of `words`.
pub fn says(lower: &str, words: &[&str]) -> bool {
    words.iter().any(|w| lower.contains(w))
}

/// Whether `rule` matches a [`normalize`]d text.
pub fn matches(rule: &Rule, lower: &str) -> bool {
    says(lower, rule.any)
        || (!rule.all.is_empty() && rule.all.iter().all(|group| says(lower, group)))
}

/// The first row of `rules` (a table, or a variant of it) matching a [`normalize`]d text.
pub fn first_match<'a>(rules: &'a [Rule], lower: &str) -> Option<&'a Rule> {
    rules.iter().find(|r| matches(r, lower))
}

/// Classifies a text by `rules`; a text no row matches is `fallback` ([`FALLBACK`]).
pub fn classify(rules: &[Rule], text: &str, fallback: Verdict) -> Classified {
    first_match(rules, &normalize(text)).map_or(
        Classified {
            verdict: fallback,
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

/// The value of the first `(words, value)` row whose words the [`normalize`]d text holds:
/// a status read from its wording (`[(UNPAID, Some(false)), (PARTLY, None), (PAID, Some(true))]`).
pub fn first_said<T: Copy>(lower: &str, rows: &[(&[&str], T)]) -> Option<T> {
    rows.iter()
        .find(|(words, _)| says(lower, words))
        .map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use posgate_core::Substate;

    const RULES: &[Rule] = &[
        Rule {
            name: "locked",
            verdict: Verdict::Rejected(Substate::BillInUse),
            not_found: false,
            any: &["заблокирован", "locked"],
            all: &[],
        },
        Rule {
            name: "missing",
            verdict: Verdict::Rejected(Substate::OtherError),
            not_found: true,
            any: &[],
            all: &[&["счет", "bill"], &["не найден", "not found"]],
        },
    ];

    #[test]
    fn the_first_matching_row_decides() {
        let c = classify(RULES, "Счёт ЗАБЛОКИРОВАН", Verdict::Unknown);
        assert_eq!(
            (c.rule, c.verdict),
            ("locked", Verdict::Rejected(Substate::BillInUse))
        );
        assert!(c.recognised());
        let c = classify(RULES, "Bill 7 not found", Verdict::Unknown);
        assert_eq!((c.rule, c.not_found), ("missing", true));
        // Every group of `all` must be there.
        let c = classify(RULES, "not found", Verdict::Unknown);
        assert_eq!(
            (c.rule, c.verdict, c.recognised()),
            (FALLBACK, Verdict::Unknown, false)
        );
        assert_eq!(normalize("ЁЛКА"), "елка");
        assert!(first_match(RULES, "счет не найден").is_some());
    }

    #[test]
    fn a_status_by_its_words() {
        let rows: &[(&[&str], Option<bool>)] = &[
            (&["unpaid", "не оплач"], Some(false)),
            (&["part"], None),
            (&["paid"], Some(true)),
        ];
        assert_eq!(
            first_said(&normalize("NOT yet Unpaid"), rows),
            Some(Some(false))
        );
        assert_eq!(first_said("partly paid", rows), Some(None));
        assert_eq!(first_said("paid", rows), Some(Some(true)));
        assert_eq!(first_said("open", rows), None);
    }
}
