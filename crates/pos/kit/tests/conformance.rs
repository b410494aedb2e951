//! The conformance kit's own machinery (the cases themselves run in each POS crate, against
//! its adapter): the listing check refuses a suite that leaves a case out, and the redirect
//! trap counts what reaches it.
#![cfg(feature = "conformance")]

use posgate_pos_kit::conformance::{CASES, Restaurant, Trap, assert_every_case};

#[test]
fn every_case_must_be_listed_once() {
    assert_every_case(CASES);
    let mut shuffled: Vec<&str> = CASES.to_vec();
    shuffled.reverse();
    assert_every_case(&shuffled);
    let without_redirect: Vec<&str> = CASES.iter().copied().filter(|c| *c != "redirect").collect();
    let e = std::panic::catch_unwind(|| assert_every_case(&without_redirect)).unwrap_err();
    let msg = e.downcast_ref::<String>().unwrap();
    assert!(msg.contains("missing [\"redirect\"]"), "{msg}");
    let mut twice = CASES.to_vec();
    twice.push("exact_pay");
    assert!(std::panic::catch_unwind(|| assert_every_case(&twice)).is_err());
    let mut unknown = CASES.to_vec();
    unknown.push("no_such_case");
    assert!(std::panic::catch_unwind(|| assert_every_case(&unknown)).is_err());
}

#[tokio::test]
async fn the_trap_counts_every_request_that_reaches_it() {
    let trap = Trap::start().await;
    assert_eq!(trap.hits(), 0);
    let http = reqwest::Client::new();
    http.post(trap.url("/elsewhere"))
        .body("x")
        .send()
        .await
        .unwrap();
    http.get(trap.url("/")).send().await.unwrap();
    assert_eq!(trap.hits(), 2);
}

#[test]
fn two_restaurants_with_their_own_ids() {
    assert_ne!(Restaurant::A.id(), Restaurant::B.id());
    assert_eq!(Restaurant::A.other(), Restaurant::B);
    assert_eq!(Restaurant::B.other(), Restaurant::A);
}
