//! The soak tests: overlapping operations on one server account, by x2god and by another
//! client at once. A binary of their own, which cargo runs after the integration tests and
//! not beside them: the soak loads the server's session database hard, and the other tests'
//! timeouts should not measure that.

// A failed step must stop the test with its message: panicking is the point in test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Overlapping operations on one account: starts at once, and a soak with another client.
mod soak;

pub use x2god_tests::{bounded, lab_profile};
