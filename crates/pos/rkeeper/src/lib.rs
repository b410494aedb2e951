//! r_keeper knowledge shared by every posgate adapter that reaches an r_keeper cash server:
//! the WSA adapter (White Server errors) and the r_k Delivery adapter (which relays the same
//! `RkInternal:` texts inside its own error bodies). One classifier, not a copy per adapter.
#![forbid(unsafe_code)]

pub mod classify;
pub mod codes;

pub use classify::{Verdict, classify_rk_text, classify_ws_error};
pub use codes::{RK_CODES, RkCode, known_rk_code, rk_code_substate, rk_error_codes};
