//! The kit's canned HTTP POS ([`posgate_pos_kit::testkit::stub`]) as a White Server: it plays
//! independent WSA implementations (other wording, other shapes, broken proxies) that the
//! simulator does not; a request is told apart by its `taskType`.

pub use posgate_pos_kit::testkit::stub::{Canned, Seen, Stub};

/// The requests of one WSA task type a stub received.
pub trait Tasks {
    fn seen_of(&self, task_type: &str) -> Vec<Seen>;
}

impl Tasks for Stub {
    fn seen_of(&self, task_type: &str) -> Vec<Seen> {
        self.seen_where(|s| s.json["taskType"] == task_type)
    }
}
