//! RFC 7662 token introspection: the live check that a token has not been revoked.
//!
//! Routes marked sensitive ask the authorization server (AS) whether the token is still active;
//! opaque tokens, which cannot be validated locally, are introspected on every route with a
//! short routine cache TTL (docs/ARCHITECTURE.md, "Introspection").
//!
//! Caveats, in plain words:
//!
//! - Only a JSON boolean `"active": true` is a pass. `"active": "true"`, `1`, `null` or a missing
//!   member are not inactive either: they are a broken answer, so the AS counts as unavailable and
//!   nothing is cached.
//! - Only access tokens pass. An active answer that marks the token as something else (a
//!   refresh token, an ID token, a DPoP-bound token: see [`Introspection`] for the markers
//!   recognised) is refused with 401 on every route. An opaque token's answer must also carry
//!   an `aud` naming one of the configured audiences, unless
//!   [`accept_answers_without_audience`](Introspection::accept_answers_without_audience) says
//!   otherwise: a refresh token usually has none.
//! - Revocation is final: once introspection calls a verified token inactive (a JWT with a good
//!   signature, or an opaque token that was active before), it is remembered until the token's
//!   `exp` (or for [`inactive_ttl`](Introspection::inactive_ttl) when the expiry is unknown),
//!   and the token is rejected on every route, sensitive or not. This revocation memory is a
//!   structure of its own, bounded by
//!   [`revocation_capacity`](Introspection::revocation_capacity); nothing an unauthenticated
//!   client sends can push a revocation out of it.
//! - Other answers (active ones, and "inactive" for strings the authorization server does not
//!   know) live in an evictable cache bounded by
//!   [`cache_capacity`](Introspection::cache_capacity) entries and
//!   [`cache_max_bytes`](Introspection::cache_max_bytes) bytes.
//! - Failures are classified by whose fault they are, and none is ever cached (the next request
//!   asks again):
//!   - the AS *cannot be reached*: connection refused or reset, timeout, HTTP 5xx. 503 with
//!     `Retry-After`, logged at WARN once per outage; the only failure that
//!     [`Requirement::fail_open_when_unreachable`](crate::Requirement::fail_open_when_unreachable)
//!     lets through;
//!   - the AS answers *about the token* without confirming it: HTTP 400 with
//!     `invalid_request`, `invalid_token` or `unsupported_token_type` (RFC 7009 §2.2.1; servers
//!     answer it for tokens they cannot introspect). 401 `invalid_token`, not a 503 that would
//!     invite a retry, and not remembered as a revocation;
//!   - the AS answers *about us* or *unusably*: 401/403 or `invalid_client` (tollgate's
//!     credentials are wrong or lack the right to introspect), a redirect, another 3xx/4xx or
//!     non-200 2xx status, a malformed or too large answer. 503, always closed, logged at ERROR
//!     with a hint at the fix, once until the next usable answer.
//!
//!   Concurrent identical asks share one call.
//! - Made-up opaque tokens cannot drain the authorization server or starve sensitive routes:
//!   sensitive-route JWT checks and opaque-token lookups each have their own concurrency budget
//!   ([`max_concurrent`](Introspection::max_concurrent),
//!   [`max_concurrent_opaque`](Introspection::max_concurrent_opaque)), lookups of opaque tokens
//!   with nothing cached are rate-limited
//!   ([`opaque_lookup_rate`](Introspection::opaque_lookup_rate)), the calls waiting are bounded
//!   ([`max_pending`](Introspection::max_pending)), and an
//!   [`OpaqueShape`] refuses junk without a call. Beyond a limit the answer is 503 with
//!   `Retry-After`, never a queue without end, and fail-open never applies.
//! - RFC 7662 §4 requires TLS for the introspection endpoint: the token travels in the request
//!   body. Under an `https://` issuer a plain `http://` endpoint, configured or discovered, is
//!   refused unless its host is loopback or
//!   [`allow_insecure_endpoints`](crate::TollgateBuilder::allow_insecure_endpoints) is on.
//! - The HTTP client should not follow redirects: a `307`/`308` would resend the token (and,
//!   with `client_secret_post`, the secret) to wherever the redirect points.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tollgate::Introspection;
//!
//! let introspection = Introspection::client_secret_basic("my-api", "s3cret")
//!     .endpoint("https://as.example.com/oauth2/introspect")
//!     .timeout(Duration::from_secs(1))
//!     .routine_ttl(Duration::from_secs(10));
//!
//! // The secret never shows in `Debug` output.
//! assert!(!format!("{introspection:?}").contains("s3cret"));
//! ```

use std::time::Duration;

use crate::keys::KeySet;
use crate::rejection::{InvalidToken, Rejection, Unavailable};

mod agree;
mod cache;
mod call;
mod client;
pub(crate) mod config;
mod introspector;
mod limits;
mod parse;
mod principal;
mod revoked;
mod shape;
mod shared;

#[cfg(test)]
mod tests;

pub(crate) use agree::agree;
use config::ClientAuth;
use config::Introspection;
pub(crate) use introspector::{Introspector, Lookup};
pub(crate) use principal::opaque_token_info;
pub(crate) use revoked::RevocationMemory;
pub use shape::OpaqueShape;

/// Where the endpoint comes from.
#[derive(Clone)]
pub(crate) enum EndpointSource {
    /// Configured explicitly.
    Fixed(String),
    /// From the discovered metadata of this key set.
    Discovered(KeySet),
}

/// A parsed, active introspection answer (RFC 7662 §2.2).
#[derive(Debug, Clone, Default)]
pub(crate) struct IntrospectionAnswer {
    pub(crate) scope: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) sub: Option<String>,
    /// `aud` as a string is one audience, as an array several (RFC 7662 §2.2).
    pub(crate) aud: Vec<String>,
    pub(crate) iss: Option<String>,
    pub(crate) exp: Option<i64>,
    pub(crate) iat: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) jti: Option<String>,
    /// RFC 7662 §2.2 `token_type`, as sent.
    pub(crate) token_type: Option<String>,
    /// The member that marks the answer as being about something else than an access token
    /// (see [`Introspection`]), if any: such an answer is refused on every route.
    pub(crate) not_access_token: Option<&'static str>,
    /// Every member of the answer, for `Principal::claims`.
    pub(crate) raw: serde_json::Map<String, serde_json::Value>,
}

/// The kind of token being introspected.
///
/// Both kinds are sent with `token_type_hint=access_token` (RFC 7662 §2.1, RFC 7009 §2.1): the
/// hint names what the token is for, not its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Jwt,
    Opaque,
}

/// Why introspection gave no active answer, classified by whose fault it is: the answer decides
/// between 401 (about the token), 503 that fail-open may pass (the AS cannot be reached), and
/// 503 that always stays closed (the AS answers but unusably, or tollgate's own limits).
///
/// `NoEndpoint` is a configuration problem, not an outage: it stays closed too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IntrospectionError {
    /// The AS said the token is not active, or its active answer is expired or not yet valid.
    Inactive,
    /// The AS answered about the token without confirming it (HTTP 400 with an OAuth error such
    /// as `invalid_request` or `unsupported_token_type`): 401, never cached as a revocation.
    Unconfirmable(&'static str),
    /// No introspection endpoint is known (none configured, none in the metadata). A
    /// configuration problem: closed, like `Broken`.
    NoEndpoint,
    /// The AS cannot be reached: connection refused or reset, timeout, 5xx. The only failure
    /// that `fail_open_when_unreachable` lets through. Never cached.
    Unreachable(&'static str),
    /// The AS answered, but not usably: it rejected tollgate's client credentials (401/403,
    /// `invalid_client`), sent a malformed answer, or redirected. Always 503; never cached.
    Broken(&'static str),
    /// tollgate's own limits refused the call (rate limit, concurrency budget, in-flight
    /// bound). Always 503 with `Retry-After`; never cached.
    Saturated(&'static str),
}

/// `Retry-After` while the AS cannot be reached or answers unusably: long enough not to invite a
/// retry storm, short enough that clients recover quickly once it answers again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// `Retry-After` when tollgate's own limits refuse: a slot or a bucket token frees up quickly.
const RETRY_AFTER_OVERLOAD: Duration = Duration::from_secs(1);
/// `Retry-After` when no introspection is configured or no endpoint is known: a configuration
/// change, not a moment, ends it.
const RETRY_AFTER_CONFIGURATION: Duration = Duration::from_secs(60);

impl IntrospectionError {
    /// Whether the AS cannot be reached: the one failure fail-open lets through
    /// ([`Requirement::fail_open_when_unreachable`](crate::Requirement::fail_open_when_unreachable)).
    pub(crate) fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable(_))
    }

    /// The one mapping of an introspection outcome to the answer a client gets, for a `kind`
    /// of token.
    ///
    /// An opaque token whose AS has no introspection endpoint is a token tollgate cannot check
    /// at all (401); a sensitive route that cannot introspect a JWT is a configuration problem
    /// (503).
    pub(crate) fn rejection(&self, kind: TokenKind) -> Rejection {
        let unavailable = |reason, retry_after| Rejection::Unavailable {
            reason,
            retry_after,
        };
        match self {
            Self::Inactive => Rejection::InvalidToken(InvalidToken::Inactive),
            // About the token: it cannot be confirmed, which is no revocation (not cached).
            Self::Unconfirmable(_) => Rejection::InvalidToken(InvalidToken::Unconfirmable),
            Self::NoEndpoint => match kind {
                TokenKind::Jwt => {
                    unavailable(Unavailable::NoIntrospection, RETRY_AFTER_CONFIGURATION)
                }
                TokenKind::Opaque => Rejection::InvalidToken(InvalidToken::OpaqueUnsupported),
            },
            Self::Unreachable(_) => unavailable(Unavailable::Introspection, RETRY_AFTER_FAILURE),
            Self::Broken(_) => unavailable(Unavailable::IntrospectionFailed, RETRY_AFTER_FAILURE),
            Self::Saturated(_) => unavailable(Unavailable::Overloaded, RETRY_AFTER_OVERLOAD),
        }
    }
}

/// The answer for a sensitive route on an engine without introspection: a configuration
/// problem, closed, and fail-open does not apply.
pub(crate) fn not_configured() -> Rejection {
    Rejection::Unavailable {
        reason: Unavailable::NoIntrospection,
        retry_after: RETRY_AFTER_CONFIGURATION,
    }
}

/// Parses an introspection answer as the client does, for the fuzz targets
/// (`crate::fuzzing`): `Ok(true)` when active, `Ok(false)` when inactive, expired or not yet
/// valid, `Err` when the answer is unusable.
#[cfg(feature = "fuzzing")]
pub(crate) fn parse_answer_for_fuzzing(
    body: &[u8],
    now: i64,
    leeway_secs: i64,
) -> Result<bool, &'static str> {
    parse::parse(body, now, leeway_secs).map(|verdict| matches!(verdict, parse::Verdict::Active(_)))
}
