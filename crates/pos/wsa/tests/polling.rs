//! The async-mode polling schedule: soon at first, then backing off, never past the
//! restaurant's `poll_interval_ms`; a task's answer is seen at most about a quarter of its own
//! time late (plus the first poll's wait).

use std::time::Duration;

use posgate_wsa::client::{FIRST_POLL, poll_wait};

/// When the polls of a task happen (ms after submitting), up to `until`.
fn polls(longest: Duration, until: Duration) -> Vec<Duration> {
    let mut at = Duration::ZERO;
    let mut out = Vec::new();
    while at < until {
        at += poll_wait(at, longest);
        out.push(at);
    }
    out
}

#[test]
fn the_first_poll_is_soon_and_no_wait_is_longer_than_the_setting() {
    let longest = Duration::from_millis(500);
    assert_eq!(poll_wait(Duration::ZERO, longest), FIRST_POLL);
    assert_eq!(FIRST_POLL, Duration::from_millis(20));
    assert_eq!(poll_wait(Duration::from_secs(60), longest), longest);
    // A restaurant that asks for polls every 10 ms gets them every 10 ms.
    assert_eq!(
        poll_wait(Duration::ZERO, Duration::from_millis(10)),
        Duration::from_millis(10)
    );
}

#[test]
fn an_answer_is_seen_at_most_a_quarter_of_the_task_time_late() {
    let longest = Duration::from_millis(500);
    for task_ms in [5u64, 50, 100, 200, 350, 800, 1_500] {
        let task = Duration::from_millis(task_ms);
        let seen = *polls(longest, task).last().unwrap();
        let late = seen - task;
        assert!(
            late <= task / 4 + FIRST_POLL,
            "a {task_ms} ms task is seen {late:?} late"
        );
    }
    // Past the back-off, the setting bounds how late: every 500 ms.
    let task = Duration::from_secs(30);
    let seen = *polls(longest, task).last().unwrap();
    assert!(seen - task <= longest);
}

#[test]
fn a_long_task_is_polled_a_bounded_number_of_times() {
    // 120 s (the longest agent wait): back-off to 500 ms, not a poll every 20 ms.
    let n = polls(Duration::from_millis(500), Duration::from_secs(120)).len();
    assert!((240..=270).contains(&n), "{n} polls");
    // The old fixed schedule polled 240 times too; the first second is what changed.
    let first_second = polls(Duration::from_millis(500), Duration::from_secs(1)).len();
    assert!(
        first_second >= 8,
        "{first_second} polls in the first second"
    );
}
