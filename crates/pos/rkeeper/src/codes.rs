//! r_keeper 7 numeric error codes: what each known code means, and how to find a code in a
//! message.
//!
//! r_keeper numbers its errors (`RK7ErrorN` in the XML interface) and most relayed texts still
//! carry the number: `Checkout [3373] Not enough funds…`, `Касса [3071] Невозможно закрыть…`,
//! `UCSERR(2172): В данный момент закрывается общая смена`, `RK7ErrorN="2128"`. A code says
//! what happened regardless of the language or wording around it, so the classifier consults
//! [`RK_CODES`] before any text fragment; a message without a code, or with a code not listed
//! here, is classified by its text.
//!
//! Only codes with a source are listed (the vendor pages in `shared/seeds`, the r_keeper XML
//! interface reference and public r_keeper clients); guessing a number would let a wrong row
//! overrule a correct text.
//!
//! Where a number counts as a code ([`rk_error_codes`]):
//! - labelled: `RK7ErrorN="N"` / `'N'` / `=N`, `UCSERR(N)`, `ErrorCode=N`, `error code N`,
//!   `код ошибки N` — also with HTML tags or `&quot;` between label and number (error pages);
//! - bracketed, `[N]` or `(N)` with nothing but digits inside, when it opens the r_keeper
//!   message (`Cash station [N] …`: at most three plain words since the last `:`, `.`, `>`,
//!   quote…), or when the word before it does not name a thing with a number of its own — an
//!   order, a station, a table, a sum (`locked by station [5]`, `заказ (1234)`,
//!   `сумма [1500]` are ids and amounts, not codes).

use posgate_core::Substate;

/// A known r_keeper error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RkCode {
    pub code: u32,
    pub substate: Substate,
}

const fn row(code: u32, substate: Substate) -> RkCode {
    RkCode { code, substate }
}

/// Known r_keeper error codes. Every row says what the code means and where it was seen.
pub const RK_CODES: &[RkCode] = &[
    // "Неправильный код пользователя или пароль": the cashier/user the integration acts as
    // cannot log in (XML reference, CheckPassword). Configuration; a person must fix it.
    row(2102, Substate::OtherError),
    // "Визит N закрыт!": the visit (and its order) is already closed (public r_keeper client,
    // UpdateOrder answer). Nothing can be posted to it any more.
    row(2128, Substate::OtherError),
    // "Визит … не может быть завершён. Заказ … заблокирован станцией": an order of the visit is
    // locked by a station (XML reference, CloseVisit). Clears when the station releases it.
    row(2129, Substate::BillInUse),
    // The common shift has been open too long; r_keeper refuses new orders until it is closed
    // and a new one opened (XML reference, protocol notes).
    row(2133, Substate::CashiersShiftClosed),
    // "Персональное ограничение для … = …": the card (loyalty/PDS) system's personal limit is
    // exceeded (XML reference, MakeCardDeposit).
    row(2142, Substate::OtherError),
    // "UCSERR(2172): В данный момент закрывается общая смена": the common shift is being closed
    // right now; every request is refused until the new shift opens (XML reference,
    // CloseCommonShift; public client checks exactly this code).
    row(2172, Substate::CashiersShiftClosed),
    // "Checkout [3071] Unable to close order 1.73, it is not fully paid": closing an order
    // whose payments do not cover it (vendor seed, r_k Delivery /complete).
    row(3071, Substate::CloseOrderBlocked),
    // "Checkout [3373] Not enough funds to pay for the order in full": the payment does not
    // match the amount due (vendor seed, r_k Delivery /pay; WSA v2 PayOrder).
    row(3373, Substate::WrongRequestSum),
    // The card (loyalty/PDS) system refused the card, e.g. «Ошибка "Пользователь не найден!"»
    // (XML reference, card discount commands).
    row(3813, Substate::OtherError),
    // "В инстансе неверно заполнен атрибут SeqNumber": the XML SaveOrder licence instance is
    // out of step (public r_keeper client). Licence problem; a person must fix it.
    row(5305, Substate::OtherError),
    // "SeqNumber должен быть увеличен.": the same licence-instance sequence error (public
    // r_keeper client).
    row(5310, Substate::OtherError),
    // "Сервис учёта алкоголя не доступен": the alcohol accounting service is not configured or
    // down (XML reference, OpenBottle).
    row(8007, Substate::OtherError),
];

/// The substate a known r_keeper error code stands for.
pub fn rk_code_substate(code: u32) -> Option<Substate> {
    RK_CODES.iter().find(|r| r.code == code).map(|r| r.substate)
}

/// The first known code in a message and its substate, in the order of [`rk_error_codes`].
pub fn known_rk_code(text: &str) -> Option<RkCode> {
    rk_error_codes(text)
        .into_iter()
        .find_map(|code| rk_code_substate(code).map(|substate| RkCode { code, substate }))
}

/// Every r_keeper error code in a message, known or not, without repeats: labelled ones first
/// (in the order of `LABELS`, then of appearance), then bracketed ones as they appear.
pub fn rk_error_codes(text: &str) -> Vec<u32> {
    let lower = text.to_lowercase();
    let mut out: Vec<u32> = Vec::new();
    for code in labelled_codes(&lower).chain(bracketed_codes(&lower)) {
        if !out.contains(&code) {
            out.push(code);
        }
    }
    out
}

/// Labels that introduce an error code, lower-cased.
const LABELS: &[&str] = &[
    "rk7errorn",
    "ucserr",
    "errorcode",
    "error_code",
    "error code",
    "код ошибки",
];

/// How far past a label the number may start (quotes, `=`, tags, entities in between).
const LABEL_REACH: usize = 40;

/// Longest number taken for a code: r_keeper's are four digits, six leave room and keep
/// ids such as GUID fragments or phone numbers out.
const MAX_DIGITS: usize = 6;

fn labelled_codes(lower: &str) -> impl Iterator<Item = u32> + '_ {
    LABELS.iter().flat_map(move |label| {
        lower
            .match_indices(label)
            .filter(move |(at, _)| !ends_in_alnum(&lower[..*at]))
            .filter_map(move |(at, _)| code_after_label(&lower[at + label.len()..]))
    })
}

fn ends_in_alnum(s: &str) -> bool {
    s.chars().next_back().is_some_and(char::is_alphanumeric)
}

/// The number a label points at: skips separators, quotes, HTML entities and tags.
fn code_after_label(rest: &str) -> Option<u32> {
    const SKIPPABLE: &[&str] = &["&quot;", "&#34;", "&#39;", "&apos;", "&nbsp;"];
    let mut i = 0;
    while i < rest.len() && i <= LABEL_REACH {
        let tail = &rest[i..];
        if let Some(e) = SKIPPABLE.iter().find(|e| tail.starts_with(**e)) {
            i += e.len();
        } else if tail.starts_with('<') {
            i += tail.find('>')? + 1;
        } else {
            let c = tail.chars().next()?;
            if c.is_whitespace() || "=:([>\"'`".contains(c) {
                i += c.len_utf8();
            } else {
                break;
            }
        }
    }
    let tail = rest.get(i..)?;
    let digits = leading_digits(tail);
    let after = &tail[digits.len()..];
    let decimal =
        after.starts_with(['.', ',']) && after[1..].starts_with(|c: char| c.is_ascii_digit());
    (!decimal).then(|| parse_code(digits)).flatten()
}

fn leading_digits(s: &str) -> &str {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    &s[..end]
}

fn parse_code(digits: &str) -> Option<u32> {
    (!digits.is_empty() && digits.len() <= MAX_DIGITS)
        .then(|| digits.parse().ok())
        .flatten()
}

/// `[N]` / `(N)` that stand for a code (see the module comment).
fn bracketed_codes(lower: &str) -> impl Iterator<Item = u32> + '_ {
    lower
        .char_indices()
        .filter(|(_, c)| *c == '[' || *c == '(')
        .filter_map(move |(at, open)| {
            let close = if open == '[' { ']' } else { ')' };
            let inner = &lower[at + 1..];
            let body = inner.trim_start();
            let digits = leading_digits(body);
            if !body[digits.len()..].trim_start().starts_with(close) {
                return None;
            }
            let code = parse_code(digits)?;
            is_code_position(&lower[..at]).then_some(code)
        })
}

/// Characters that end one message or clause and start another.
const SEPARATORS: &[char] = &[
    ':', ';', '.', '!', '?', '\n', '\r', '>', '"', '\'', '|', '«', '»', '=', '`',
];

/// Words after which a bracketed number is the thing's own number or an amount (prefixes of
/// the lower-cased word).
const NUMBERED_THINGS: &[&str] = &[
    "order",
    "заказ",
    "замовлен",
    "visit",
    "визит",
    "візит",
    "table",
    "стол",
    "стіл",
    "check",
    "чек",
    "receipt",
    "currency",
    "валют",
    "cashier",
    "кассир",
    "касир",
    "employee",
    "работник",
    "сотрудник",
    "працівник",
    "waiter",
    "официант",
    "офіціант",
    "guest",
    "гост",
    "гіст",
    "dish",
    "блюд",
    "страв",
    "card",
    "карт",
    "printer",
    "принтер",
    "device",
    "устройств",
    "пристр",
    "number",
    "номер",
    "guid",
    "sum",
    "сумм",
    "сума",
    "суми",
    "amount",
    "total",
    "итог",
    "price",
    "цен",
    "цін",
    "paid",
    "оплач",
    "оплат",
    "balance",
    "баланс",
    "остат",
    "limit",
    "лимит",
    "ліміт",
    "руб",
    "rub",
    "грн",
    "uah",
    "usd",
    "eur",
    "коп",
    "kop",
];

/// The same, too short to be prefixes: whole words only.
const NUMBERED_THINGS_EXACT: &[&str] = &["no", "nr", "id", "uni", "№", "#"];

/// Station words: the source of the message when they open it (`Cash station [3373] …`), a
/// station's number anywhere else (`locked by station [5]`).
const STATIONS: &[&str] = &[
    "station",
    "станци",
    "станці",
    "касса",
    "кассе",
    "кассы",
    "кассу",
    "кассой",
    "кассов",
    "каса",
    "касі",
    "каси",
    "касов",
    "checkout",
    "terminal",
    "термин",
    "термін",
];

fn is_code_position(before: &str) -> bool {
    let segment = before
        .char_indices()
        .rfind(|(_, c)| SEPARATORS.contains(c))
        .map_or(before, |(i, c)| &before[i + c.len_utf8()..]);
    let opens_message = segment.split_whitespace().count() <= 3
        && segment
            .split_whitespace()
            .all(|w| w.chars().all(|c| c.is_alphabetic() || c == '-' || c == '_'));
    let previous = before
        .split(|c: char| !(c.is_alphanumeric() || "№#-_".contains(c)))
        .rfind(|w| !w.is_empty())
        .unwrap_or("");
    let starts = |list: &[&str]| list.iter().any(|p| previous.starts_with(p));
    if previous.chars().any(|c| c.is_ascii_digit()) {
        false
    } else if starts(STATIONS) {
        opens_message
    } else {
        !starts(NUMBERED_THINGS) && !NUMBERED_THINGS_EXACT.contains(&previous)
    }
}
