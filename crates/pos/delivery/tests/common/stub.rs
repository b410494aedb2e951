//! The kit's canned HTTP POS ([`posgate_pos_kit::testkit::stub`]) as an r_k Delivery: it plays
//! independent implementations (other wording, other shapes, proxies with HTML errors, answers
//! that never come) that the simulator does not, with r_k Delivery's token endpoint.

pub use posgate_pos_kit::testkit::stub::{Canned, Seen, Stub};

/// A token answer.
pub fn token_answer(token: &str, expires_in: u64) -> Canned {
    Canned::json(format!(
        r#"{{"access_token":"{token}","expires_in":{expires_in},"token_type":"Bearer"}}"#
    ))
}

/// A request for a token.
pub fn is_token(s: &Seen) -> bool {
    s.path.ends_with("/connect/token")
}

/// The token requests a stub received.
pub trait Tokens {
    fn tokens(&self) -> usize;
}

impl Tokens for Stub {
    fn tokens(&self) -> usize {
        self.seen_where(is_token).len()
    }
}
