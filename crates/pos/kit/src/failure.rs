//! One failed call to a POS, as every connector reads it, and what it means for posgate.
//!
//! Why it exists: each connector used to carry its own copy of the same struct (a verdict, the
//! POS's code and text, "the bill is unknown") with the same constructors and the same
//! translations — to posgate's [`PosFailure`], to the outcome of a write, from a failed HTTP
//! exchange ([`HttpFailure`]'s [`Fate`]), from an answer nobody can read. They live here once;
//! a connector keeps only how its POS's answers are classified.
//!
//! | what failed | verdict |
//! |---|---|
//! | nothing was sent ([`Fate::NotSent`]) | transient |
//! | sent, no readable answer ([`Fate::Unknown`]) | unknown (a read: transient, [`Failure::read_only`]) |
//! | refused before reaching a POS that books ([`Fate::Refused`]: a redirect, a bad request) | refused `OTHER_ERROR` |
//! | an answer nobody can read, by HTTP status ([`unreadable_verdict`]) | 429 transient, 408 unknown, other 3xx/4xx refused, 2xx/5xx unknown |

use posgate_core::Substate;
use posgate_core::pos::{Outcome, PosFailure, PosReply, Verdict};

use crate::http::{Fate, HttpFailure};
use crate::lenient::snippet;

/// Why a call to a POS did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub verdict: Verdict,
    /// The POS's code (`AgentError/WsaOrderError`, `ERR_EXTERNAL_ERROR_WS`, `HTTP/200`), or
    /// ours (`transport/connect`, `auth/invalid_client`, ...).
    pub code: String,
    /// What the POS said, verbatim; or our description.
    pub text: String,
    /// The POS does not know the bill.
    pub not_found: bool,
    /// The POS's id of the exchange (r_k Delivery's `requestId`), for its support.
    pub request_id: Option<String>,
    /// What decided the verdict (a classification row, `transport`, `redirect`, `unreadable`),
    /// for logs.
    pub rule: &'static str,
}

/// A refusal: nothing was booked, and posgate reports `OTHER_ERROR`.
pub const REFUSED: Verdict = Verdict::Rejected(Substate::OtherError);

impl Failure {
    /// A failure we describe ourselves.
    pub fn ours(verdict: Verdict, code: impl Into<String>, text: impl Into<String>) -> Self {
        Failure {
            verdict,
            code: code.into(),
            text: text.into(),
            not_found: false,
            request_id: None,
            rule: "ours",
        }
    }

    /// The same failure, with the POS's id of the exchange it came from.
    pub fn with_request_id(self, request_id: Option<String>) -> Self {
        Failure { request_id, ..self }
    }

    /// A request we could not even write (serializing it, a header value): refused.
    pub fn unsendable(code: impl Into<String>, text: impl Into<String>) -> Self {
        Failure::ours(REFUSED, code, text)
    }

    /// A failed exchange, by the kit's reading of it: not sent → transient; sent, then no
    /// answer → unknown; refused (a redirect, a request that could not be built) → refused.
    pub fn transport(f: HttpFailure) -> Self {
        let verdict = match f.fate {
            Fate::NotSent => Verdict::Transient,
            Fate::Unknown => Verdict::Unknown,
            Fate::Refused => REFUSED,
        };
        Failure {
            rule: if f.location.is_some() {
                "redirect"
            } else {
                "transport"
            },
            ..Failure::ours(verdict, f.code, f.text)
        }
    }

    /// An answer of `peer` nobody can read (HTML, empty, another shape): the verdict by its
    /// HTTP status ([`unreadable_verdict`]), the code `HTTP/<status>`, a snippet of the body.
    pub fn unreadable(peer: &str, status: u16, why: &str, body: &str) -> Self {
        let shown = snippet(body);
        let text = if shown.is_empty() {
            format!("unreadable {peer} answer (HTTP {status}, {why})")
        } else {
            format!("unreadable {peer} answer (HTTP {status}, {why}): {shown}")
        };
        Failure {
            rule: "unreadable",
            ..Failure::ours(unreadable_verdict(status), format!("HTTP/{status}"), text)
        }
    }

    /// The same failure of a call that changes nothing (a read, a token request): whatever
    /// happened after sending, nothing was applied, so unknown becomes transient.
    pub fn read_only(mut self) -> Self {
        if self.verdict == Verdict::Unknown {
            self.verdict = Verdict::Transient;
        }
        self
    }

    /// The substate to report: the refusal's, else `OTHER_ERROR`.
    pub fn substate(&self) -> Substate {
        self.verdict.substate()
    }

    /// Passing: nothing was decided about the bill.
    pub fn is_transient(&self) -> bool {
        !self.is_refusal()
    }

    /// The POS (or we) refused: nothing was booked.
    pub fn is_refusal(&self) -> bool {
        matches!(self.verdict, Verdict::Rejected(_))
    }

    /// The text with the POS's id of the exchange, for the payment's history and support.
    pub fn pos_text(&self) -> String {
        match &self.request_id {
            Some(id) => format!("{} (requestId {id})", self.text),
            None => self.text.clone(),
        }
    }

    /// The failure as posgate reports it: the refusal's substate (else `OTHER_ERROR`), the
    /// code, the text (with the id of the exchange); anything but a refusal may pass.
    pub fn pos_failure(&self) -> PosFailure {
        self.verdict
            .failure(self.code.clone(), self.pos_text(), self.not_found)
    }

    /// What a write that failed this way did.
    pub fn outcome(&self) -> Outcome {
        self.verdict.outcome()
    }

    /// A write's answer when it failed this way, the POS's id of the exchange as its
    /// reference.
    pub fn reply(&self) -> PosReply {
        PosReply::failed(self.outcome(), self.pos_failure()).reference(self.request_id.clone())
    }
}

/// `code: text (requestId …)`: the failure as evidence and failure texts quote it.
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.pos_text())
    }
}

/// Logs one call to a POS: what was asked (`call`) about what (`about`: a path, an order, an
/// object id), the POS's reference of it when known, and how it ended — `info` when it
/// succeeded, `warn` with the verdict, rule, code and text when it failed. Never a credential:
/// callers pass none.
pub fn log_call(
    peer: &str,
    call: &str,
    about: &str,
    reference: Option<&str>,
    started: tokio::time::Instant,
    failure: Option<&Failure>,
) {
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let reference = reference.unwrap_or("");
    match failure {
        None => tracing::info!(
            peer,
            call,
            about,
            reference,
            outcome = "ok",
            elapsed_ms,
            "POS call"
        ),
        Some(f) => tracing::warn!(
            peer,
            call,
            about,
            reference,
            outcome = ?f.verdict,
            rule = f.rule,
            code = %f.code,
            text = %f.text,
            request_id = f.request_id.as_deref().unwrap_or(""),
            elapsed_ms,
            "POS call failed"
        ),
    }
}

/// Runs one call to a POS and logs it by [`log_call`]; `reference` reads the POS's reference
/// of a success (a failure's is its `request_id`).
pub async fn logged<T>(
    peer: &str,
    call: &str,
    about: &str,
    reference: impl Fn(&T) -> Option<&str>,
    run: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let started = tokio::time::Instant::now();
    let result = run.await;
    let (said, failure) = match &result {
        Ok(t) => (reference(t), None),
        Err(f) => (f.request_id.as_deref(), Some(f)),
    };
    log_call(peer, call, about, said, started, failure);
    result
}

/// The verdict on an answer nobody can read, by its HTTP status: 429 → transient (ask again
/// later); 408 → unknown; another 3xx/4xx → refused (the request itself was refused: a bad
/// path, an auth proxy; it never ran); 2xx, 5xx and anything else → unknown (it may have run).
pub fn unreadable_verdict(status: u16) -> Verdict {
    match status {
        429 => Verdict::Transient,
        408 => Verdict::Unknown,
        300..=499 => REFUSED,
        _ => Verdict::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_answers_by_status() {
        for (status, want) in [
            (200, Verdict::Unknown),
            (307, REFUSED),
            (400, REFUSED),
            (404, REFUSED),
            (408, Verdict::Unknown),
            (429, Verdict::Transient),
            (500, Verdict::Unknown),
            (502, Verdict::Unknown),
        ] {
            assert_eq!(unreadable_verdict(status), want, "{status}");
        }
        let f = Failure::unreadable("WSA", 502, "an HTML page", "<html>\r\nBad\tGateway</html>");
        assert_eq!((f.code.as_str(), f.rule), ("HTTP/502", "unreadable"));
        assert_eq!(
            f.text,
            "unreadable WSA answer (HTTP 502, an HTML page): <html>  Bad Gateway</html>"
        );
        let f = Failure::unreadable("Tillypad", 200, "empty body", "");
        assert_eq!(f.text, "unreadable Tillypad answer (HTTP 200, empty body)");
    }

    #[test]
    fn a_failure_quoted_with_its_request_id() {
        let f = Failure::ours(Verdict::Transient, "E_1", "no order");
        assert_eq!(f.to_string(), "E_1: no order");
        let f = f.with_request_id(Some("rq-1".into()));
        assert_eq!(f.request_id.as_deref(), Some("rq-1"));
        assert_eq!(f.to_string(), "E_1: no order (requestId rq-1)");
        assert_eq!((f.verdict, f.rule), (Verdict::Transient, "ours"));
        assert_eq!(f.with_request_id(None).request_id, None);
    }

    #[test]
    fn transport_failures_by_fate() {
        let f = |fate, location: Option<&str>| {
            Failure::transport(HttpFailure {
                fate,
                code: "transport/x".into(),
                text: "t".into(),
                location: location.map(str::to_string),
            })
        };
        assert_eq!(f(Fate::NotSent, None).verdict, Verdict::Transient);
        assert_eq!(f(Fate::Unknown, None).verdict, Verdict::Unknown);
        assert_eq!(
            f(Fate::Unknown, None).read_only().verdict,
            Verdict::Transient
        );
        assert_eq!(f(Fate::Refused, None).read_only().verdict, REFUSED);
        assert_eq!(f(Fate::Refused, None).rule, "transport");
        assert_eq!(f(Fate::Refused, Some("http://x")).rule, "redirect");
    }

    #[test]
    fn a_failure_as_posgate_reports_it() {
        let mut f = Failure::ours(Verdict::Rejected(Substate::BillInUse), "ERR_X", "locked");
        assert!(f.is_refusal() && !f.is_transient());
        assert_eq!(f.outcome(), Outcome::Rejected);
        f.request_id = Some("0HM:7".into());
        assert_eq!(
            f.pos_failure(),
            PosFailure {
                substate: Substate::BillInUse,
                code: "ERR_X".into(),
                text: "locked (requestId 0HM:7)".into(),
                not_found: false,
                transient: false,
            }
        );
        let u = Failure::ours(Verdict::Unknown, "c", "t");
        assert!(u.is_transient() && u.pos_failure().transient);
        assert_eq!(u.outcome(), Outcome::Unknown);
        assert_eq!(u.substate(), Substate::OtherError);
        assert_eq!(Failure::unsendable("a", "b").verdict, REFUSED);
        // A write never sent (the read before it failed): nothing can be unknown.
        for (verdict, sent, unsent) in [
            (REFUSED, Outcome::Rejected, Outcome::Rejected),
            (Verdict::Unknown, Outcome::Unknown, Outcome::NotApplied),
            (Verdict::Transient, Outcome::NotApplied, Outcome::NotApplied),
        ] {
            let f = Failure::ours(verdict, "c", "t");
            assert_eq!((f.outcome(), f.read_only().outcome()), (sent, unsent));
        }
    }
}
