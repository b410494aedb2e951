//! An ordered table that says what a POS's HTTP error answer means: the engine, for any POS
//! whose refusals come as an HTTP status and a JSON error body (a code and a message).
//!
//! Why it exists: a REST POS's answers are decided by conditions on the status, the error code
//! and the message (a status, a range, a code prefix, a message naming a timeout, ...), first
//! matching row wins, and what a row decides may depend on whether the call could have changed
//! anything ([`Op`]). That engine is the same for every such POS; a connector writes only its
//! rows ([`Row`]) and the few text tests and decisions of its own ([`Said`], [`Decide`]).
//!
//! Codes are compared in ASCII lower case, messages in lower case; an answer without a
//! readable body has an empty code and message, so only status conditions can match it. An
//! answer no row matches is refused, `OTHER_ERROR`.

use posgate_core::pos::Verdict;

use serde_json::Value;

use crate::failure::{Failure, REFUSED};
use crate::http::{HttpAnswer, request_id};
use crate::lenient::{ErrorBody, snippet};

/// Whether the call could have changed anything at the POS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A read: nothing changes; failures are passing (transient) or refusals.
    Read,
    /// A write: after the request left, a failure may hide an applied change.
    Write,
}

impl Op {
    /// The verdict on a failure that may have happened after the request reached the POS:
    /// a write's outcome is unknown; a read changed nothing, so it is transient.
    pub fn after_sending(self) -> Verdict {
        match self {
            Op::Read => Verdict::Transient,
            Op::Write => Verdict::Unknown,
        }
    }
}

impl Failure {
    /// The same failure of a call of this kind: a read's unknown becomes transient
    /// ([`Failure::read_only`]); a write's stays.
    pub fn of(self, op: Op) -> Failure {
        match op {
            Op::Read => self.read_only(),
            Op::Write => self,
        }
    }
}

/// A named test of an answer's message (equal by name, so tables compare in tests).
#[derive(Clone, Copy)]
pub struct Said {
    pub name: &'static str,
    pub holds: fn(&str) -> bool,
}

/// A named decision a row leaves to the POS's own knowledge (equal by name).
#[derive(Clone, Copy)]
pub struct Decide {
    pub name: &'static str,
    pub decide: fn(&Answer) -> Verdict,
}

macro_rules! by_name {
    ($($t:ty),*) => {$(
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.name == other.name
            }
        }
        impl Eq for $t {}
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name)
            }
        }
    )*};
}
by_name!(Said, Decide);

impl Said {
    pub const fn new(name: &'static str, holds: fn(&str) -> bool) -> Said {
        Said { name, holds }
    }
}

impl Decide {
    pub const fn new(name: &'static str, decide: fn(&Answer) -> Verdict) -> Decide {
        Decide { name, decide }
    }
}

/// What a row looks at; a row matches when any of its conditions holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The HTTP status is this one.
    Status(u16),
    /// The HTTP status is in this range, both ends included.
    StatusIn(u16, u16),
    /// The error code is this one (lower case).
    CodeIs(&'static str),
    /// The error code starts with this (lower case).
    CodeStarts(&'static str),
    /// The error code contains this (lower case).
    CodeHas(&'static str),
    /// The message starts with this (lower case).
    MsgStarts(&'static str),
    /// The message contains this (lower case).
    MsgHas(&'static str),
    /// The message passes this test (given the message as the POS wrote it).
    Text(Said),
}

/// What a matching row decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Is(Verdict),
    /// The request may have been applied: [`Op::after_sending`].
    AfterSending,
    /// The POS's own decision on the answer.
    By(Decide),
}

/// One row of an answer table.
#[derive(Debug)]
pub struct Row {
    /// Stable row name (tests, logs: the failure's `rule`).
    pub name: &'static str,
    pub when: &'static [When],
    pub then: Then,
    /// The POS does not know the bill.
    pub not_found: bool,
}

impl Row {
    /// A row of a bill the POS knows; [`Row::not_found`] says otherwise, so a table reads as
    /// `Row::new("gone", &[Status(404)], Is(REFUSED)).not_found()`.
    pub const fn new(name: &'static str, when: &'static [When], then: Then) -> Row {
        Row {
            name,
            when,
            then,
            not_found: false,
        }
    }

    pub const fn not_found(mut self) -> Row {
        self.not_found = true;
        self
    }
}

/// An answer as a table reads it.
#[derive(Debug)]
pub struct Answer<'a> {
    pub status: u16,
    /// ASCII lower case.
    pub code: String,
    /// As the POS wrote it.
    pub msg: &'a str,
    pub msg_lower: String,
}

impl<'a> Answer<'a> {
    /// The answer of `status` with its error body, if one could be read.
    pub fn new(status: u16, body: Option<&'a ErrorBody>) -> Self {
        let code = body.and_then(|b| b.code.as_deref()).unwrap_or("");
        let msg = body.and_then(|b| b.msg.as_deref()).unwrap_or("");
        Answer {
            status,
            code: code.to_ascii_lowercase(),
            msg,
            msg_lower: msg.to_lowercase(),
        }
    }
}

impl When {
    pub fn holds(&self, a: &Answer) -> bool {
        match *self {
            When::Status(s) => a.status == s,
            When::StatusIn(from, to) => (from..=to).contains(&a.status),
            When::CodeIs(c) => a.code == c,
            When::CodeStarts(c) => a.code.starts_with(c),
            When::CodeHas(c) => a.code.contains(c),
            When::MsgStarts(m) => a.msg_lower.starts_with(m),
            When::MsgHas(m) => a.msg_lower.contains(m),
            When::Text(t) => (t.holds)(a.msg),
        }
    }
}

/// Classifies a non-success answer by `rows`: the verdict, whether the bill is unknown, and
/// the row that matched (`None`: none did, refused `OTHER_ERROR`).
pub fn classify_by(
    rows: &[Row],
    status: u16,
    body: Option<&ErrorBody>,
    op: Op,
) -> (Verdict, bool, Option<&'static str>) {
    let a = Answer::new(status, body);
    let Some(row) = rows.iter().find(|r| r.when.iter().any(|w| w.holds(&a))) else {
        return (REFUSED, false, None);
    };
    let verdict = match row.then {
        Then::Is(v) => v,
        Then::AfterSending => op.after_sending(),
        Then::By(d) => (d.decide)(&a),
    };
    (verdict, row.not_found, Some(row.name))
}

/// A successful JSON answer.
#[derive(Debug, Clone)]
pub struct JsonAnswer {
    /// The body (`Null` when empty or not JSON: a write's 2xx is a success whatever its body).
    pub value: Value,
    /// The server's id of the exchange, when its headers told it.
    pub request_id: Option<String>,
}

/// Reads a REST answer of `peer` by `rows`: a 2xx is its JSON body, unless `error_in_ok`
/// finds an error body in it; anything else is a [`Failure`] classified by the table — the
/// code the body's (else `HTTP/<status>`), the text the body's with its validation details
/// (else a snippet of the body), the id of the exchange the body's (else the headers'), the
/// rule the row's name.
pub fn read_json(
    answer: &HttpAnswer,
    rows: &[Row],
    op: Op,
    peer: &str,
    error_in_ok: fn(&Value) -> Option<ErrorBody>,
) -> Result<JsonAnswer, Failure> {
    let status = answer.status.as_u16();
    let header_id = request_id(&answer.headers);
    let parsed: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let error_in_ok = parsed.as_ref().and_then(error_in_ok);
    if (200..300).contains(&status) && error_in_ok.is_none() {
        return Ok(JsonAnswer {
            value: parsed.unwrap_or(Value::Null),
            request_id: header_id,
        });
    }
    let eb = error_in_ok.or_else(|| parsed.as_ref().and_then(ErrorBody::from_value));
    let (verdict, not_found, row) = classify_by(rows, status, eb.as_ref(), op);
    let code = eb
        .as_ref()
        .and_then(|e| e.code.clone())
        .unwrap_or_else(|| format!("HTTP/{status}"));
    let mut text = eb.as_ref().map(ErrorBody::text).unwrap_or_default();
    if text.trim().is_empty() {
        let body = snippet(&String::from_utf8_lossy(&answer.body));
        text = format!("HTTP {status} from {peer}: {body}");
    }
    Err(Failure {
        request_id: eb.and_then(|e| e.request_id).or(header_id),
        not_found,
        rule: row.unwrap_or("refused"),
        ..Failure::ours(verdict, code, text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use posgate_core::Substate;

    use Then::{AfterSending, By, Is};
    use When::*;

    const LOCKED: Said = Said::new("locked", |m| m.contains("LOCK"));
    const BY_CODE: Decide = Decide::new("by_code", |a| match a.code.as_str() {
        "shift" => Verdict::Rejected(Substate::CashiersShiftClosed),
        _ => REFUSED,
    });
    const ROWS: &[Row] = &[
        Row::new(
            "locked",
            &[Text(LOCKED)],
            Is(Verdict::Rejected(Substate::BillInUse)),
        ),
        Row::new("gone", &[Status(404), MsgHas("no such")], Is(REFUSED)).not_found(),
        Row::new("pos", &[CodeStarts("e_"), MsgStarts("pos:")], By(BY_CODE)),
        Row::new(
            "server",
            &[StatusIn(500, 599), CodeIs("late"), CodeHas("time")],
            AfterSending,
        ),
    ];

    #[test]
    fn rows_are_built_by_their_constructors() {
        let r = Row::new("x", &[Status(1)], AfterSending);
        assert_eq!(
            (r.name, r.when, r.then, r.not_found),
            ("x", &[Status(1)][..], AfterSending, false)
        );
        assert!(r.not_found().not_found);
        assert!((LOCKED.holds)("LOCKED") && !(LOCKED.holds)("open"));
        assert_eq!(
            (BY_CODE.decide)(&Answer::new(400, Some(&body("SHIFT", "")))),
            Verdict::Rejected(Substate::CashiersShiftClosed)
        );
        assert_eq!((BY_CODE.decide)(&Answer::new(400, None)), REFUSED);
    }

    fn body(code: &str, msg: &str) -> ErrorBody {
        ErrorBody {
            code: Some(code.into()),
            msg: Some(msg.into()),
            ..ErrorBody::default()
        }
    }

    #[test]
    fn the_first_matching_row_decides() {
        let c = |status, code, msg, op| classify_by(ROWS, status, Some(&body(code, msg)), op);
        let locked = Verdict::Rejected(Substate::BillInUse);
        // The test sees the message as written; MsgHas/MsgStarts see it in lower case.
        assert_eq!(
            c(404, "x", "LOCKED", Op::Write),
            (locked, false, Some("locked"))
        );
        assert_eq!(c(500, "x", "locked", Op::Write).2, Some("server"));
        assert_eq!(
            c(400, "x", "No Such bill", Op::Read),
            (REFUSED, true, Some("gone"))
        );
        let shift = Verdict::Rejected(Substate::CashiersShiftClosed);
        assert_eq!(
            c(503, "SHIFT", "POS: closed", Op::Write),
            (shift, false, Some("pos"))
        );
        assert_eq!(c(503, "E_1", "x", Op::Write), (REFUSED, false, Some("pos")));
        for code in ["late", "a_timeout"] {
            assert_eq!(c(400, code, "", Op::Write).0, Verdict::Unknown, "{code}");
            assert_eq!(c(400, code, "", Op::Read).0, Verdict::Transient, "{code}");
        }
        assert_eq!(c(400, "latex", "", Op::Write), (REFUSED, false, None));
    }

    #[test]
    fn without_a_body_only_the_status_decides() {
        assert_eq!(
            classify_by(ROWS, 404, None, Op::Read),
            (REFUSED, true, Some("gone"))
        );
        assert_eq!(classify_by(ROWS, 599, None, Op::Write).0, Verdict::Unknown);
        assert_eq!(
            classify_by(ROWS, 600, None, Op::Write),
            (REFUSED, false, None)
        );
        assert_eq!(
            classify_by(ROWS, 499, None, Op::Write),
            (REFUSED, false, None)
        );
    }

    #[test]
    fn tests_and_decisions_are_equal_by_name() {
        let other = Said {
            name: "locked",
            holds: |_| false,
        };
        assert_eq!(When::Text(LOCKED), When::Text(other));
        assert_ne!(Then::By(BY_CODE), Then::AfterSending);
        assert_eq!(format!("{:?}", When::Text(LOCKED)), "Text(locked)");
        let f = Failure::ours(Verdict::Unknown, "c", "t");
        assert_eq!(f.clone().of(Op::Read).verdict, Verdict::Transient);
        assert_eq!(f.of(Op::Write).verdict, Verdict::Unknown);
    }

    #[test]
    fn a_rest_answer_read_by_the_table() {
        let answer = |status: u16, body: &str, id: Option<&str>| {
            let mut headers = reqwest::header::HeaderMap::new();
            if let Some(id) = id {
                headers.insert("x-request-id", id.parse().unwrap());
            }
            HttpAnswer {
                status: reqwest::StatusCode::from_u16(status).unwrap(),
                headers,
                body: body.as_bytes().to_vec(),
            }
        };
        let none = |_: &Value| None;
        let read = |a: &HttpAnswer| read_json(a, ROWS, Op::Write, "POS", none);
        let ok = read(&answer(200, r#"{"id": 7}"#, Some("h1"))).unwrap();
        assert_eq!(
            (ok.value["id"].as_i64(), ok.request_id.as_deref()),
            (Some(7), Some("h1"))
        );
        assert_eq!(read(&answer(204, "", None)).unwrap().value, Value::Null);
        let f = read(&answer(
            404,
            r#"{"code": "E_NF", "msg": "gone", "requestId": "b1"}"#,
            Some("h1"),
        ))
        .unwrap_err();
        assert_eq!(
            (f.code.as_str(), f.text.as_str(), f.rule),
            ("E_NF", "gone", "gone")
        );
        assert_eq!((f.request_id.as_deref(), f.not_found), (Some("b1"), true));
        let f = read(&answer(502, "<html>Bad\tGateway</html>", Some("h2"))).unwrap_err();
        assert_eq!(
            (f.code.as_str(), f.verdict, f.rule),
            ("HTTP/502", Verdict::Unknown, "server")
        );
        assert_eq!(f.text, "HTTP 502 from POS: <html>Bad Gateway</html>");
        assert_eq!(f.request_id.as_deref(), Some("h2"));
        let f = read(&answer(400, "{}", None)).unwrap_err();
        assert_eq!((f.verdict, f.rule), (REFUSED, "refused"));
        // An error body inside a 2xx, when the POS's own test finds one.
        let in_ok = |v: &Value| ErrorBody::from_value(v).filter(|e| e.code.is_some());
        let f = read_json(
            &answer(200, r#"{"code": "late"}"#, None),
            ROWS,
            Op::Read,
            "POS",
            in_ok,
        )
        .unwrap_err();
        assert_eq!((f.verdict, f.rule), (Verdict::Transient, "server"));
    }
}
