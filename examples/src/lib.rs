//! Runnable programs that show tollgate, and the code they share with the end-to-end tests.
//!
//! - [`demo`]: the story behind `cargo run -p tollgate-examples --bin demo`.
//! - [`protected_api`]: the configurable API behind `cargo run -p tollgate-examples --bin
//!   protected-api`.
//! - [`hyper_policy`]: the plain hyper service with a [`tollgate::PolicyTable`] behind
//!   `cargo run -p tollgate-examples --example hyper-policy-table`.
//!
//! The examples under `examples/` show one thing each: a plain hyper service with a
//! [`tollgate::PolicyTable`], and typed custom claims in an axum handler.

pub mod demo;
pub mod hyper_policy;
pub mod protected_api;

/// The README's Rust code blocks, compiled by `cargo test` as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
