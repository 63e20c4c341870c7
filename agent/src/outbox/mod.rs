//! The outbox: every captured event, durably, until the uplink has it acknowledged — and the
//! evidence that nothing in it was changed.
//!
//! ```text
//!  signing (key, chain links: pure)  ◀──  store (SQLite, group commit, the chain as it commits)
//!                    ▲                          ▲
//!                    └──────  integrity (verify, export, import) ──┘
//! ```
//!
//! Imports flow one way: [`integrity`] reads through [`store`], both sign with [`signing`].

pub mod integrity;
pub mod signing;
pub mod store;
