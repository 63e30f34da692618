//! The contract holds together: the proxies of `src/proxy.rs` declare exactly the interfaces
//! of `interfaces/*.xml`, the XML's comments name every key the key table gives each call, and
//! the README's key tables are the ones the table renders.

// A failed check must stop the test with its message: panicking is the point in test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract {
    pub mod docs;
    pub mod proxies;
    pub mod readme;
    pub mod xml;
}
