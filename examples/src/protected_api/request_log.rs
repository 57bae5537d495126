//! The request log of `protected-api` (and of the demo's API): tower-http's `TraceLayer` for
//! a span per request, and one line per request with tollgate's decision.
//!
//! The `Authorization` header is marked sensitive before anything logs the request, so the
//! headers shown at DEBUG read `"authorization": Sensitive`. The path is logged without its
//! query: a query could carry a token (`?access_token=`, RFC 6750 §2.3).

use std::fmt;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Response;
use axum::http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
use axum::middleware::{self, Next};
use tollgate::{Principal, Rejection};
use tower_http::LatencyUnit;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

/// The target of every log line written here.
const TARGET: &str = "protected_api";

/// Wraps `routes` in the request log, from the outside in:
///
/// 1. `Authorization`, `Proxy-Authorization` and `Cookie` are marked sensitive, so their
///    values never show in a `Debug` of the request headers.
/// 2. `TraceLayer`: a DEBUG span `request{method, path}` around the request (tollgate's own
///    DEBUG and TRACE lines of the request appear in it), the headers at DEBUG, status and
///    latency (µs) at DEBUG. A 5xx is logged at DEBUG too, not as an error: tollgate warns
///    once about an unreachable authorization server, not per request.
/// 3. One INFO line per request: method, path, status and the [`Decision`].
pub(super) fn logged(routes: Router) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<Body>| {
            tracing::debug_span!(
                target: TARGET,
                "request",
                method = %request.method(),
                path = %request.uri().path(),
            )
        })
        .on_request(|request: &Request<Body>, _: &Span| {
            tracing::debug!(target: TARGET, headers = ?request.headers(), "request received");
        })
        .on_response(
            DefaultOnResponse::new()
                .level(Level::DEBUG)
                .latency_unit(LatencyUnit::Micros),
        )
        // The bodies are small JSON documents: their end says nothing the response did not.
        .on_eos(())
        .on_failure(DefaultOnFailure::new().level(Level::DEBUG));
    routes
        .layer(middleware::from_fn(log_decision))
        .layer(trace)
        // Outermost, so the headers are marked before the trace layer sees them.
        .layer(SetSensitiveRequestHeadersLayer::new([
            AUTHORIZATION,
            PROXY_AUTHORIZATION,
            COOKIE,
        ]))
}

/// Put into the response extensions by the handlers of protected routes, so the request log
/// can tell how the token was checked.
#[derive(Debug, Clone, Copy)]
pub(super) struct Checked {
    introspected: bool,
}

impl Checked {
    pub(super) fn by(principal: &Principal) -> Self {
        Self {
            introspected: principal.introspected(),
        }
    }
}

/// What happened to a request, as the request log tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// No token was checked: a public route (`/health`), or no route at all (404, 405).
    Unchecked,
    /// tollgate let the request through.
    Allowed {
        /// Whether the authorization server confirmed the token (sensitive route, opaque
        /// token).
        introspected: bool,
    },
    /// tollgate refused the request, for this reason.
    Refused(Rejection),
}

impl Decision {
    /// Reads the decision from a response: tollgate puts its [`Rejection`] into the response
    /// extensions of every refusal.
    pub fn of<B>(response: &Response<B>) -> Self {
        if let Some(rejection) = response.extensions().get::<Rejection>() {
            return Self::Refused(rejection.clone());
        }
        match response.extensions().get::<Checked>() {
            Some(checked) => Self::Allowed {
                introspected: checked.introspected,
            },
            None => Self::Unchecked,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unchecked => f.write_str("no token checked"),
            Self::Allowed {
                introspected: false,
            } => f.write_str("allowed (validated locally)"),
            Self::Allowed { introspected: true } => {
                f.write_str("allowed (confirmed by introspection)")
            }
            // `Rejection`'s Display is "code: description", fixed texts that never hold the token.
            Self::Refused(rejection) => write!(f, "refused: {rejection}"),
        }
    }
}

/// The INFO line: method, path, status, decision. Its own middleware rather than the trace
/// layer's `on_response`, which does not see the request: the line names method and path
/// itself, whatever the subscriber prints of the span.
async fn log_decision(request: Request, next: Next) -> axum::response::Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let decision = Decision::of(&response);
    tracing::info!(target: TARGET, "{method} {path} {} {decision}", response.status().as_u16());
    response
}
