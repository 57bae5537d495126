//! The demo: tollgate's hybrid validation told as a story, over real HTTP on 127.0.0.1.
//!
//! [`run`] starts an in-process tollgate-mock (the authorization server, AS) and the
//! [`protected_api`] routes behind tollgate, then plays the story as a
//! client and prints each step: the request, the status, and why. A token is issued; routine
//! and sensitive routes accept it; it is revoked; the routine route still accepts it (local
//! validation is a snapshot), the sensitive route refuses it, and from then on the routine
//! route refuses it too; an expired token and one for another audience are refused without any
//! introspection call; a key rotation is followed; an opaque token is validated by
//! introspection; the AS goes down: routine routes keep serving, sensitive ones answer 503.
//!
//! Every step states what it expects, including how many introspection calls and JWKS
//! fetches the mock must see; the [`Report`] tells whether everything behaved.
//!
//! ```no_run
//! # #[tokio::main]
//! # async fn main() {
//! let report = tollgate_examples::demo::run(&mut std::io::stdout()).await.expect("the demo ran");
//! assert!(report.succeeded(), "{:?}", report.failures());
//! # }
//! ```

mod check;
mod client;
mod story;

use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use tokio::net::TcpListener;
use tollgate::{Introspection, Tollgate};
use tollgate_mock::MockAuthServer;

use crate::protected_api;

/// The realm of the demo API's challenges.
pub const REALM: &str = "tollgate-demo";

/// How the story went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    checks: usize,
    failures: Vec<String>,
    introspection_calls: usize,
    jwks_fetches: usize,
}

impl Report {
    /// True when every check behaved as expected.
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty()
    }

    /// How many checks (requests and their expectations) the story made.
    pub fn checks(&self) -> usize {
        self.checks
    }

    /// One line per check that did not behave as expected.
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// Introspection requests the mock authorization server received in the whole story.
    pub fn introspection_calls(&self) -> usize {
        self.introspection_calls
    }

    /// JWKS requests the mock authorization server received in the whole story.
    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches
    }
}

/// Why the story could not be played at all (as opposed to a step that misbehaved, which the
/// [`Report`] lists).
#[derive(Debug)]
#[non_exhaustive]
pub enum DemoError {
    /// The API could not be set up.
    Setup(String),
    /// A request could not be sent or its answer read.
    Http(reqwest::Error),
    /// The output could not be written.
    Output(io::Error),
}

impl fmt::Display for DemoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Setup(why) => write!(f, "demo setup failed: {why}"),
            Self::Http(e) => write!(f, "demo request failed: {e}"),
            Self::Output(e) => write!(f, "demo output failed: {e}"),
        }
    }
}

impl std::error::Error for DemoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Setup(_) => None,
            Self::Http(e) => Some(e),
            Self::Output(e) => Some(e),
        }
    }
}

impl From<io::Error> for DemoError {
    fn from(e: io::Error) -> Self {
        Self::Output(e)
    }
}

impl From<reqwest::Error> for DemoError {
    fn from(e: reqwest::Error) -> Self {
        Self::Http(e)
    }
}

/// Plays the story, writing it to `out`, and reports how it went.
///
/// # Errors
/// A [`DemoError`] when the story cannot be played (setup, transport or output failure); a
/// step that behaves unexpectedly is not an error but a failure in the [`Report`].
pub async fn run(out: &mut impl Write) -> Result<Report, DemoError> {
    let mock = MockAuthServer::start().await;
    let gate = Tollgate::builder()
        .issuer(mock.issuer())
        .audience(mock.audience())
        .realm(REALM)
        .introspection(Introspection::client_secret_basic(
            mock.client_id(),
            mock.client_secret(),
        ))
        .build()
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    if !gate.wait_for_keys(Duration::from_secs(10)).await {
        return Err(DemoError::Setup(
            "the signing keys did not load from the mock within 10 s".into(),
        ));
    }

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| DemoError::Setup(format!("cannot listen on 127.0.0.1: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    // Sensitive routes with a zero freshness budget: every request asks the AS.
    let router = protected_api::app(&gate, Duration::ZERO);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });

    let mut story = check::Story::new(
        out,
        client::http_client()?,
        format!("http://{addr}"),
        mock.clone(),
    );
    let played = story::play(&mut story).await;
    let (checks, failures) = story.into_results();

    let _ = stop.send(());
    let _ = server.await;
    played?;
    let report = Report {
        checks,
        failures,
        introspection_calls: mock.introspection_count(),
        jwks_fetches: mock.jwks_fetches(),
    };
    mock.shutdown().await;
    check::summary(out, &report)?;
    Ok(report)
}
