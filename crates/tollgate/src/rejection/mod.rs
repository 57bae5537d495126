//! Why a request was refused ([`Rejection`]), and the RFC 6750 response that says so
//! (README, "Behaviour").

mod response;

use std::fmt;
use std::time::Duration;

pub use response::RejectionBody;
pub(crate) use response::{BodyHook, DPOP_NONCE, DpopChallenge, Responder, Schemes};

use http::StatusCode;

/// Why a token was found invalid (401 `invalid_token`).
///
/// The descriptions are fixed strings: they never echo the token or anything taken from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidToken {
    /// Not a well-formed JWT (segments, base64url, JSON).
    Malformed,
    /// Longer than the configured maximum; refused before any decoding.
    TooLarge,
    /// `alg` is not in the allowlist (this includes `none` in every spelling).
    Algorithm,
    /// No published key matches the `kid` (after one refetch).
    UnknownKey,
    /// The key named by `kid` is bound to another algorithm or key type.
    KeyMismatch,
    /// The signature does not verify.
    Signature,
    /// `typ` is not `at+jwt` (RFC 9068 §2.1).
    Type,
    /// A `crit` header names an extension tollgate does not understand (RFC 7515 §4.1.11).
    Critical,
    /// `exp` has passed.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iat` is in the future.
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    Issuer,
    /// `aud` does not contain this API's audience.
    Audience,
    /// A claim that must be present is missing.
    MissingClaim(&'static str),
    /// A claim has the wrong type or an impossible value.
    InvalidClaim(&'static str),
    /// The token looks like an ID token or a Security Event Token (it has an `events` claim,
    /// RFC 8417 §4.2), not an access token; or its introspection answer says it is something
    /// else than an access token usable as a bearer token (a refresh token, a DPoP-bound
    /// token).
    NotAccessToken,
    /// The authorization server says the token is not active (revoked, expired, unknown).
    Inactive,
    /// The introspection answer disagrees with the JWT about this claim.
    IntrospectionMismatch(&'static str),
    /// An opaque token, and no introspection endpoint to ask about it.
    OpaqueUnsupported,
    /// Issued longer ago than the route allows.
    TooOld,
    /// The claims do not fit the type a handler asked for.
    ClaimsShape,
    /// An encrypted token (a compact JWE, RFC 7516 §7.1): refused without asking the
    /// authorization server, unless
    /// [`TollgateBuilder::introspect_encrypted_tokens`](crate::TollgateBuilder::introspect_encrypted_tokens)
    /// hands such tokens to introspection.
    Encrypted,
    /// The authorization server answered that it cannot introspect this token (HTTP 400 with
    /// `unsupported_token_type`, `invalid_request` or `invalid_token`). Not a revocation: the
    /// token is asked about again next time.
    Unconfirmable,
    /// A DPoP-bound token (`cnf.jkt`) sent with the `Bearer` scheme (RFC 9449 §7.2): it is
    /// only good with a proof of its key.
    DpopBoundAsBearer,
    /// The `DPoP` scheme with a token that is not bound to a DPoP key: there is no key to hold
    /// the proof to.
    NotDpopBound,
    /// The DPoP proof is signed by another key than the one the token is bound to (RFC 9449
    /// §7.1, `cnf.jkt` against the RFC 7638 thumbprint of the proof's `jwk`).
    DpopKeyMismatch,
    /// A certificate-bound token (`cnf.x5t#S256`) on a request without a TLS client
    /// certificate (RFC 8705 §3).
    CertificateRequired,
    /// A certificate-bound token with another client certificate than its own (RFC 8705 §3).
    CertificateMismatch,
    /// The token's `cnf` cannot be honoured: malformed, a confirmation method tollgate does not
    /// check, or an introspection answer saying `token_type: DPoP` without `cnf.jkt`.
    Confirmation,
    /// A bearer token where the route or the token's issuer requires DPoP
    /// ([`SenderConstraint::DpopRequired`](crate::SenderConstraint::DpopRequired)).
    DpopRequired,
    /// The `DPoP` scheme where the route or the token's issuer accepts bearer tokens only
    /// ([`SenderConstraint::BearerOnly`](crate::SenderConstraint::BearerOnly)).
    DpopNotAccepted,
}

impl InvalidToken {
    /// A short, fixed explanation for `error_description`.
    pub fn description(&self) -> &'static str {
        match self {
            Self::Malformed => "the token is not a well-formed JWT",
            Self::TooLarge => "the token is too large",
            Self::Algorithm => "the token's signing algorithm is not accepted",
            Self::UnknownKey => "the token was signed with an unknown key",
            Self::KeyMismatch => "the token's algorithm does not match its key",
            Self::Signature => "the token's signature is invalid",
            Self::Type => "the token is not an access token (typ must be at+jwt)",
            Self::Critical => "the token uses an unsupported critical header",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::IssuedInFuture => "the token was issued in the future",
            Self::Issuer => "the token was issued by an untrusted issuer",
            Self::Audience => "the token is not meant for this resource",
            Self::MissingClaim(_) => "the token lacks a required claim",
            Self::InvalidClaim(_) => "the token has an invalid claim",
            Self::NotAccessToken => "the token is not an access token",
            Self::Inactive => "the token is not active",
            Self::IntrospectionMismatch(_) => {
                "the token does not match the authorization server's record"
            }
            Self::OpaqueUnsupported => "opaque tokens are not accepted here",
            Self::TooOld => "the token is too old for this resource",
            Self::ClaimsShape => "the token's claims do not have the expected form",
            Self::Encrypted => "encrypted tokens are not accepted here",
            Self::Unconfirmable => "the authorization server cannot confirm the token",
            Self::DpopBoundAsBearer => "a DPoP-bound token must be sent with the DPoP scheme",
            Self::NotDpopBound => "the token is not bound to a DPoP key",
            Self::DpopKeyMismatch => "the DPoP proof's key does not match the token's binding",
            Self::CertificateRequired => "the token requires a TLS client certificate",
            Self::CertificateMismatch => "the TLS client certificate does not match the token",
            Self::Confirmation => "the token's confirmation claim (cnf) cannot be honoured",
            Self::DpopRequired => "this resource requires a DPoP-bound token and its proof",
            Self::DpopNotAccepted => "the DPoP scheme is not accepted here",
        }
    }

    /// Whether the refusal is about DPoP, so that the `DPoP` challenge carries it whatever
    /// scheme the request used.
    pub(crate) fn is_about_dpop(self) -> bool {
        matches!(
            self,
            Self::DpopBoundAsBearer
                | Self::NotDpopBound
                | Self::DpopKeyMismatch
                | Self::DpopRequired
        )
    }
}

/// Why the answer is 503: tollgate cannot decide right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unavailable {
    /// The signing keys have not been loaded (yet), or are too stale to trust.
    Keys,
    /// The route needs introspection and the authorization server cannot be reached: the
    /// connection is refused or reset, the call times out, or it answers HTTP 5xx. The only
    /// reason [`Requirement::fail_open_when_unreachable`](crate::Requirement::fail_open_when_unreachable)
    /// lets a request through for.
    Introspection,
    /// The route needs introspection and the authorization server answered, but unusably: it
    /// rejected tollgate's client credentials (401, 403, `invalid_client`), redirected, or sent
    /// an answer that is not RFC 7662 JSON. It lasts until someone fixes the configuration or
    /// the server; an ERROR log says what to fix.
    IntrospectionFailed,
    /// tollgate's own introspection limits refused the call: the rate limit on unknown opaque
    /// tokens, a concurrency budget with no slot free within the timeout, or the bound on
    /// pending calls. A short `Retry-After`.
    Overloaded,
    /// The route needs introspection and none is configured, or the authorization server's
    /// metadata names no introspection endpoint.
    NoIntrospection,
    /// The DPoP replay cache cannot record the proof: it is full of proofs still live, or the
    /// shared store that holds it cannot be reached. A proof is never accepted unrecorded,
    /// since that would let it be replayed.
    DpopReplay,
}

/// Why tollgate refused a request.
///
/// Each rejection maps to one response (status, `WWW-Authenticate`). A copy travels in the
/// response extensions, so outer layers and the body hook can tell why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No bearer token: no `Authorization` header, or another scheme such as `Basic`.
    /// 401 with a bare challenge and no error code (RFC 6750 §3.1).
    MissingToken,
    /// A malformed request: two `Authorization` headers, a token in two places, `Bearer` with
    /// no token, characters outside the `b64token` syntax. 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// 401 `invalid_token`.
    InvalidToken(InvalidToken),
    /// The token lacks a scope the route requires. 403 `insufficient_scope` with `scope`.
    InsufficientScope {
        /// The scopes the route asks for, space-delimited.
        required: String,
    },
    /// The user's authentication is too weak or too old for the route (RFC 9470). 401
    /// `insufficient_user_authentication`.
    InsufficientUserAuthentication {
        /// Acceptable `acr` values, space-delimited, if the route names any.
        acr_values: Option<String>,
        /// The maximum authentication age in seconds, if the route sets one.
        max_age: Option<u64>,
    },
    /// The DPoP proof is not acceptable (RFC 9449 §4.3, §7.1): 401 with the `DPoP` challenge
    /// `error="invalid_dpop_proof"` and this fixed description. A replayed proof is one.
    InvalidDpopProof(&'static str),
    /// The proof lacks the server's current nonce (RFC 9449 §9): 401 with the `DPoP`
    /// challenge `error="use_dpop_nonce"` and a fresh nonce in `DPoP-Nonce`.
    UseDpopNonce,
    /// tollgate cannot decide now. 503 with `Retry-After`; no challenge.
    Unavailable {
        /// What is missing.
        reason: Unavailable,
        /// When to try again.
        retry_after: Duration,
    },
}

impl Rejection {
    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::InvalidToken(_)
            | Self::InvalidDpopProof(_)
            | Self::UseDpopNonce
            | Self::InsufficientUserAuthentication { .. } => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The OAuth `error` code, if the response carries one: RFC 6750 §3.1's for refusals,
    /// RFC 9470's `insufficient_user_authentication`, and `temporarily_unavailable` (an
    /// RFC 6749 §4.1.2.1 code) in the body of a 503, and RFC 9449 §7.1's
    /// `invalid_dpop_proof` and `use_dpop_nonce`.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingToken => None,
            Self::InvalidRequest(_) => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::InsufficientScope { .. } => Some("insufficient_scope"),
            Self::InsufficientUserAuthentication { .. } => Some("insufficient_user_authentication"),
            Self::InvalidDpopProof(_) => Some("invalid_dpop_proof"),
            Self::UseDpopNonce => Some("use_dpop_nonce"),
            Self::Unavailable { .. } => Some("temporarily_unavailable"),
        }
    }

    /// A fixed, human-readable explanation (never containing the token).
    pub fn description(&self) -> &'static str {
        match self {
            Self::MissingToken => "a bearer token is required",
            Self::InvalidRequest(why) => why,
            Self::InvalidToken(why) => why.description(),
            Self::InvalidDpopProof(why) => why,
            Self::UseDpopNonce => "the resource server requires a DPoP nonce",
            Self::InsufficientScope { .. } => "the token lacks a scope this resource requires",
            Self::InsufficientUserAuthentication { .. } => {
                "a stronger or more recent user authentication is required"
            }
            Self::Unavailable {
                reason: Unavailable::Keys,
                ..
            } => "the authorization server's signing keys are not available yet",
            Self::Unavailable {
                reason: Unavailable::Introspection,
                ..
            } => "the authorization server cannot be reached to confirm the token",
            Self::Unavailable {
                reason: Unavailable::IntrospectionFailed,
                ..
            } => "the authorization server gave no usable answer to confirm the token",
            Self::Unavailable {
                reason: Unavailable::Overloaded,
                ..
            } => "too many token confirmations are pending; try again shortly",
            Self::Unavailable {
                reason: Unavailable::NoIntrospection,
                ..
            } => "this resource requires token introspection, which is not configured",
            Self::Unavailable {
                reason: Unavailable::DpopReplay,
                ..
            } => "too many DPoP proofs to remember; try again shortly",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error_code() {
            Some(code) => write!(f, "{code}: {}", self.description()),
            None => f.write_str(self.description()),
        }
    }
}

impl std::error::Error for Rejection {}
