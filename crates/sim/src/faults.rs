//! Fault rules as the WSA, r_k Delivery and Tillypad simulators keep them: a list where the
//! first rule that matches a request fires, and `times` (None = until cleared) counts down,
//! the rule going at zero. Written once here; what "matches" means is each simulator's.
//!
//! Also the answers of the HTTP-level faults that mean the same for every POS, so each
//! simulator's `Redirect` and proxy-page faults answer alike: [`redirect`] (a 307 to another
//! host, nothing applied) and [`html_page`] (a proxy's 5xx error page, nothing applied).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The first rule for which `matches` holds, counted down (removed at zero); a copy of it
/// as it was when it fired.
pub(crate) fn take<R: Clone>(
    rules: &mut Vec<R>,
    times: impl Fn(&mut R) -> &mut Option<u32>,
    matches: impl Fn(&R) -> bool,
) -> Option<R> {
    let idx = rules.iter().position(matches)?;
    let rule = rules.get_mut(idx)?;
    let fired = rule.clone();
    if let Some(n) = times(rule).as_mut() {
        *n = n.saturating_sub(1);
        if *n == 0 {
            rules.remove(idx);
        }
    }
    Some(fired)
}

/// `307 Temporary Redirect` to `location`, as a misconfigured proxy or a moved server answers:
/// a client that followed it would re-send the request (a payment, its credentials) there.
pub(crate) fn redirect(location: &str) -> Response {
    let mut resp = (
        StatusCode::TEMPORARY_REDIRECT,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<html><body>Moved to <a href=\"{location}\">{location}</a></body></html>"),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// A proxy's HTML error page with `status` (a 5xx): the request never reached the POS.
pub(crate) fn html_page(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center><hr><center>nginx</center></body></html>"
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Rule {
        name: &'static str,
        times: Option<u32>,
    }

    fn rule(name: &'static str, times: Option<u32>) -> Rule {
        Rule { name, times }
    }

    #[test]
    fn the_first_match_fires_and_counts_down() {
        let mut rules = vec![rule("a", Some(2)), rule("b", None), rule("a", None)];
        let fire = |rules: &mut Vec<Rule>, name: &str| {
            take(rules, |r| &mut r.times, |r| r.name == name).map(|r| r.times)
        };
        assert_eq!(fire(&mut rules, "a"), Some(Some(2)));
        assert_eq!(fire(&mut rules, "a"), Some(Some(1)));
        // The first "a" is gone at zero; the second (until cleared) stays.
        assert_eq!(rules, [rule("b", None), rule("a", None)]);
        assert_eq!(fire(&mut rules, "a"), Some(None));
        assert_eq!(fire(&mut rules, "c"), None);
        assert_eq!(rules.len(), 2);
    }
}
