//! Helpers for tests of the services that the mock's tokens reach: what a client sees of an
//! answer, loopback HTTP, in-process calls, raw requests, log capture and token surgery.
//!
//! Behind the `testing` feature (it brings reqwest and tracing-subscriber, which the mock
//! itself does not need): `tollgate-mock = { version = "...", features = ["testing"] }` in
//! `[dev-dependencies]`.
//!
//! - [`Answer`]: status, `WWW-Authenticate` challenge (read with [`crate::challenge::param`]),
//!   `Retry-After` and body, whichever way the request went.
//! - Over loopback HTTP: [`client`], [`send`], [`get`], [`serve`] (an axum app on
//!   `127.0.0.1:0`), and [`raw_request`] for request targets no HTTP client library sends as
//!   they are (dot segments, backslashes, bad escapes).
//! - In process: [`oneshot`] and [`InProcess`] call a `tower::Service` directly, for tests of
//!   status, challenge and body, where a socket adds nothing.
//! - [`eventually`] polls a condition (a bound against hangs, not a timing assertion);
//!   [`unix_now`] is the clock tokens are made against.
//! - [`LogCapture`]: what the current thread logs through `tracing`, as text.
//! - [`b64`], [`b64_json`], [`segments`], [`segment_json`], [`jwt_header`],
//!   [`non_canonical`]: the parts of a compact JWT, to craft tokens that no issuer would sign.
//!
//! The helpers panic with a message that says what failed: they are for tests. The only
//! exception is [`Answer::read`], which returns the transport error, for programs (like a demo)
//! that must not panic.
//!
//! # Example
//!
//! ```
//! use axum::{Router, routing::get};
//! use tollgate_mock::testing::{self, InProcess};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let app = Router::new().route("/", get(|| async { "hello" }));
//!
//! // In process: the router answers without a socket.
//! let answer = InProcess::new(app.clone()).get("/", "a-token").await;
//! assert_eq!((answer.status, answer.body.as_str()), (200, "hello"));
//!
//! // The same over loopback HTTP.
//! let url = testing::serve(app).await;
//! let answer = testing::get(&format!("{url}/"), "a-token").await;
//! assert_eq!((answer.status, answer.challenge), (200, None));
//! # });
//! ```

mod answer;
mod client;
mod jwt;
mod logs;
mod raw;
mod service;

use std::time::Duration;

pub use answer::Answer;
pub use client::{client, get, send};
pub use jwt::{b64, b64_json, jwt_header, non_canonical, segment_json, segments};
pub use logs::{LogBuffer, LogCapture};
pub use raw::raw_request;
pub use service::{InProcess, oneshot, request, serve};

/// Seconds since the Unix epoch: the clock the mock's tokens are made against.
pub fn unix_now() -> i64 {
    crate::util::now()
}

/// Polls `condition` every 50 ms until it holds, for at most `limit`; returns whether it held.
///
/// A bound against hangs, not a timing assertion: give it a generous `limit`, and assert on the
/// result with a message that says what never happened.
///
/// ```
/// use std::time::Duration;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut polls = 0;
/// let held = tollgate_mock::testing::eventually(Duration::from_secs(5), async || {
///     polls += 1;
///     polls == 3
/// })
/// .await;
/// assert!(held, "the condition never held");
/// # });
/// ```
pub async fn eventually(limit: Duration, mut condition: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
