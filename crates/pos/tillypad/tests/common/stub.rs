//! The kit's canned HTTP POS ([`posgate_pos_kit::testkit::stub`]) as a Tillypad: it plays
//! independent Tillypad implementations (other wording, other statuses, proxies with HTML,
//! empty bodies, windows-1251) that the simulator does not, answering by the `/pay-guest` body.

pub use posgate_pos_kit::testkit::stub::{Canned, Seen, Stub};
