//! Pushed security events: a receiver of Security Event Tokens (RFC 8417) delivered by HTTP
//! push (RFC 8935), which turns the events that mean "stop trusting these tokens" into
//! revocations.
//!
//! An identity provider that speaks the Shared Signals framework (SSF 1.0) tells its
//! receivers when a user's sessions were revoked, a password changed, an account was disabled
//! or deleted (CAEP 1.0, RISC 1.0). Mount a [`SecurityEventReceiver`] at a path of your
//! choice, register that URL with the transmitter, and each event becomes a revocation rule
//! ("every token of alice issued before 10:42"), refused on every route, locally, without
//! introspection.
//!
//! Caveats, in plain words:
//!
//! - The receiver checks a SET as RFC 8935 §2 and SSF 1.0 §4.1 ask: `typ: secevent+jwt`, a
//!   trusted `iss`, a signature by a key of that issuer (through the [`SetVerifier`] you give
//!   it), this receiver in `aud`, `iat` not in the future, a `jti`, an `events` object, no
//!   `sub` and no `exp`. JSON objects with a repeated member name are refused at any depth.
//! - Answers follow RFC 8935 §2: 202 with an empty body when the SET is accepted, also when it
//!   was received before (a repeat is not applied again); 400 with
//!   `{"err": ..., "description": ...}` and one of the six codes of RFC 8935 §2.4
//!   ([`ErrorCode`]) when it is refused. Requests that carry no SET get the usual HTTP
//!   statuses: 405 (not a `POST`), 415 (not `application/secevent+jwt`), 413 (larger than
//!   [`ReceiverBuilder::max_body_bytes`]). When the receiver cannot take a SET now (the keys
//!   are not loaded, the revocation memory is full), 503 with `Retry-After`: the transmitter
//!   delivers it again (RFC 8935 §4).
//! - Events tollgate does not act on are accepted and ignored, and counted (RFC 8935 §3: SETs
//!   are not commands; SSF 1.0 §4.2.3). So are events whose subject maps to no token claim (a
//!   device, a tenant, a phone number; an email address unless
//!   [`ReceiverBuilder::email_is_subject`]).
//! - A rule revokes tokens issued *before* the event (RFC 8417 §5.4): the fresh login after a
//!   password change keeps working, and a SET that arrives late revokes nothing new.
//! - A transmitter revokes tokens of the issuers it is configured for ([`Transmitter`]): an
//!   `iss_sub` subject of another issuer is refused with `access_denied`.
//! - Nothing the SET says is logged or put into an answer: descriptions are fixed texts.
//!
//! # What each event revokes
//!
//! The cut-off is the event's `event_timestamp` (CAEP 1.0 §2), else the SET's `toe` (RFC
//! 8417 §2.2), else its `iat`; "before the cut-off" is strict, and a rule lives until the
//! cut-off plus the longest token lifetime and the leeway
//! ([`ReceiverBuilder::longest_token_lifetime`]). "Every token" rules live that long from now.
//!
//! | event | URI ([`uri`]) | subject | revocation |
//! |---|---|---|---|
//! | CAEP `session-revoked` | [`uri::CAEP_SESSION_REVOKED`] | `opaque` | tokens with that `sid`, issued before the cut-off |
//! | | | `complex` with an `opaque` `session` | the same (of the `user`'s issuer when it is `iss_sub`) |
//! | | | `iss_sub`, or `complex` with a `user` only | tokens of that `sub`, issued before the cut-off |
//! | RISC `sessions-revoked` (deprecated) | [`uri::RISC_SESSIONS_REVOKED`] | user | tokens of that `sub`, issued before the cut-off |
//! | CAEP `credential-change`, `change_type` `update`, `revoke` or `delete` | [`uri::CAEP_CREDENTIAL_CHANGE`] | user | tokens of that `sub`, issued before the cut-off |
//! | CAEP `credential-change`, `change_type` `create` | | | none (a new credential leaves the old tokens as they were) |
//! | RISC `account-credential-change-required` | [`uri::RISC_ACCOUNT_CREDENTIAL_CHANGE_REQUIRED`] | user | tokens of that `sub`, issued before the cut-off |
//! | RISC `credential-compromise` | [`uri::RISC_CREDENTIAL_COMPROMISE`] | user | tokens of that `sub`, issued before the cut-off |
//! | RISC `account-disabled` | [`uri::RISC_ACCOUNT_DISABLED`] | user | tokens of that `sub`, issued before the cut-off |
//! | RISC `account-purged` | [`uri::RISC_ACCOUNT_PURGED`] | user | every token of that `sub`, whenever issued |
//! | OAuth `tokens-revoked` (2018 draft) | [`uri::OAUTH_TOKENS_REVOKED`] | user | tokens of that `sub`, issued before the cut-off |
//! | OAuth `token-revoked` (2018 draft) | [`uri::OAUTH_TOKEN_REVOKED`] | `oauth_token`, `plain` access token | that token, by its digest |
//! | | | `jwt_id` | the token with that `jti` |
//! | any other (SSF `verification`, `stream-updated`, CAEP `token-claims-change`, ...) | | | none: accepted and ignored |
//!
//! A *user* subject is read as:
//!
//! | subject (RFC 9493 §3, SSF 1.0 §3) | target |
//! |---|---|
//! | `iss_sub` | its `sub`, for tokens of its `iss` |
//! | `opaque` | its `id` as the `sub` (as the `sid` in a session event), for tokens of each of the transmitter's issuers |
//! | `email` | its address as the `sub`, only with [`ReceiverBuilder::email_is_subject`] |
//! | `jwt_id` | the token with that `jti`, for tokens of its `iss` |
//! | `aliases` | each of its identifiers that maps |
//! | `complex` | its `user` (its `session` in a session event); devices, tenants, groups and the rest alone map to nothing |
//! | `oauth_client` (2018 draft) | tokens of that `client_id` |
//! | `account`, `phone_number`, `did`, `uri`, `saml_assertion_id`, `ip-addresses`, other formats | nothing |
//!
//! The subject is the SET's `sub_id`, else the `subject` inside the event (SSF 1.0 §3.1.1:
//! older CAEP and RISC events put it there). Older spellings are read too: `subject_type` for
//! `format` (Google's RISC transmitter, RISC 1.0 §3.1), `iss-sub`, `phone`, a complex subject
//! without `"format": "complex"` (the 2021 CAEP drafts), and an `event_timestamp` in
//! milliseconds (the same drafts' examples).
//!
//! # Example
//!
//! A verifier of your own (the engine provides one per trusted issuer), a sink that collects
//! what the SETs revoke, and a SET pushed through the service:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
//! use futures_util::future::BoxFuture;
//! use http::{Request, StatusCode};
//! use tollgate::Algorithm;
//! use tollgate::events::{
//!     Revocation, RevocationSink, SecurityEventReceiver, SignedSet, SinkError, SetVerifier,
//!     Transmitter, VerifyError,
//! };
//! use tollgate_mock::MockAuthServer;
//! use tollgate_mock::events::{EventType, Subject};
//! use tower::ServiceExt;
//!
//! /// Verifies RS256 signatures with one public key (DER SubjectPublicKeyInfo).
//! struct OneKey(Vec<u8>);
//!
//! impl SetVerifier for OneKey {
//!     fn verify<'a>(&'a self, set: &'a SignedSet<'a>) -> BoxFuture<'a, Result<(), VerifyError>> {
//!         let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.0);
//!         let result = if set.alg() != Algorithm::RS256 {
//!             Err(VerifyError::unknown_key())
//!         } else {
//!             key.verify(set.signing_input(), set.signature())
//!                 .map_err(|_| VerifyError::bad_signature())
//!         };
//!         Box::pin(async move { result })
//!     }
//! }
//!
//! #[derive(Clone, Default)]
//! struct Collect(Arc<Mutex<Vec<Revocation>>>);
//!
//! impl RevocationSink for Collect {
//!     fn apply(&self, revocations: &[Revocation]) -> Result<(), SinkError> {
//!         self.0.lock().unwrap().extend_from_slice(revocations);
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let idp = MockAuthServer::start().await;
//! let revoked = Collect::default();
//! let receiver = SecurityEventReceiver::builder("https://api.example.com/events")
//!     .transmitter(Transmitter::new(idp.issuer()))
//!     .build(OneKey(idp.public_key_der(&idp.signing_kid())), revoked.clone())
//!     .unwrap();
//!
//! // Alice changed her password: every token she got before is refused from now on.
//! let set = idp
//!     .security_event(EventType::CredentialChange)
//!     .subject(Subject::iss_sub(idp.issuer(), "alice"))
//!     .audience("https://api.example.com/events")
//!     .sign();
//! let request = Request::post("/events")
//!     .header("content-type", "application/secevent+jwt")
//!     .body(axum::body::Body::from(set))
//!     .unwrap();
//! let response = receiver.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::ACCEPTED);
//!
//! let revoked = revoked.0.lock().unwrap();
//! let Revocation::Rule(rule) = &revoked[0] else { panic!("a rule") };
//! assert_eq!(rule.target, tollgate::store::RuleTarget::Subject("alice".into()));
//! assert!(rule.issued_before.is_some());
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::alg::Algorithm;
use crate::store::{Digest, Fact, RevocationRule};

mod error;
mod json;
pub(crate) mod ledger;
mod mapping;
mod receiver;
mod service;
mod set;
mod subject;
mod types;

pub use error::{ErrorCode, Refusal, RefusalCounts};
pub use receiver::{DEFAULT_MAX_BODY_BYTES, ReceiverBuilder, SecurityEventReceiver};
pub use service::ReceiverBody;
pub use types::uri;

/// A transmitter the receiver trusts: the `iss` of its SETs, and the issuers whose tokens its
/// events may revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmitter {
    issuer: String,
    token_issuers: Vec<String>,
}

impl Transmitter {
    /// SETs whose `iss` is `issuer` (exactly), about tokens of that same issuer: the usual
    /// case, an authorization server that also transmits events about its users.
    pub fn new(issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        Self {
            token_issuers: vec![issuer.clone()],
            issuer,
        }
    }

    /// Lets the transmitter's events revoke tokens of `issuer` as well: an identity provider
    /// that transmits events about the users of another authorization server. Subjects without
    /// an issuer of their own (`opaque`, `email`) revoke tokens of each of these issuers.
    pub fn token_issuer(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        if !self.token_issuers.contains(&issuer) {
            self.token_issuers.push(issuer);
        }
        self
    }

    /// Lets the transmitter's events revoke tokens of these issuers only, not its own.
    pub fn only_token_issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.token_issuers.clear();
        for issuer in issuers {
            let issuer = issuer.into();
            if !self.token_issuers.contains(&issuer) {
                self.token_issuers.push(issuer);
            }
        }
        self
    }

    /// The `iss` of its SETs.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The issuers whose tokens its events may revoke.
    pub fn token_issuers(&self) -> &[String] {
        &self.token_issuers
    }
}

/// Checks the signature of a SET with the keys of its issuer.
///
/// The receiver has already checked that the issuer is a trusted [`Transmitter`], that the
/// header's algorithm is an asymmetric one tollgate verifies (never `none`, never HMAC), and
/// that the SET has the SET `typ`. The verifier finds the issuer's key (by `kid`, fetching
/// the key set again if it must) and checks the signature; it must use a key bound to
/// [`SignedSet::alg`] (RFC 8725 §3.1).
pub trait SetVerifier: Send + Sync + 'static {
    /// `Ok` when `set`'s signature verifies with a key of its issuer.
    fn verify<'a>(&'a self, set: &'a SignedSet<'a>) -> BoxFuture<'a, Result<(), VerifyError>>;
}

/// A SET whose signature is to be checked.
#[derive(Debug)]
pub struct SignedSet<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<&'a str>,
    pub(crate) signing_input: &'a str,
    pub(crate) signature: &'a [u8],
}

impl SignedSet<'_> {
    /// The SET's `iss`: a trusted transmitter.
    pub fn issuer(&self) -> &str {
        self.issuer
    }

    /// The header's `alg`.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The header's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid
    }

    /// What the signature covers: `BASE64URL(header) "." BASE64URL(payload)` (RFC 7515 §5.2).
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    /// The signature, decoded.
    pub fn signature(&self) -> &[u8] {
        self.signature
    }
}

/// Why a [`SetVerifier`] did not accept a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    kind: VerifyErrorKind,
    retry_after: Option<Duration>,
}

/// What kind of failure a [`VerifyError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// The issuer has no key for the SET's `kid` and algorithm: `invalid_key`.
    UnknownKey,
    /// The key's signature check failed: `invalid_key`.
    BadSignature,
    /// The issuer's keys are not available (not loaded yet, the key set cannot be fetched):
    /// 503, and the transmitter delivers the SET again.
    Unavailable,
}

impl VerifyError {
    /// No key of the issuer fits the SET.
    pub fn unknown_key() -> Self {
        Self {
            kind: VerifyErrorKind::UnknownKey,
            retry_after: None,
        }
    }

    /// The signature does not verify.
    pub fn bad_signature() -> Self {
        Self {
            kind: VerifyErrorKind::BadSignature,
            retry_after: None,
        }
    }

    /// The keys are not available now; `retry_after` is a hint for the transmitter (30
    /// seconds when `None`).
    pub fn unavailable(retry_after: Option<Duration>) -> Self {
        Self {
            kind: VerifyErrorKind::Unavailable,
            retry_after,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> VerifyErrorKind {
        self.kind
    }

    /// The retry hint of an [`Unavailable`](VerifyErrorKind::Unavailable) failure.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            VerifyErrorKind::UnknownKey => "security event: no key of the issuer fits",
            VerifyErrorKind::BadSignature => "security event: the signature does not verify",
            VerifyErrorKind::Unavailable => "security event: the issuer's keys are unavailable",
        })
    }
}

impl std::error::Error for VerifyError {}

/// A revocation a SET asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// Tokens that match a rule.
    Rule(RevocationRule),
    /// One token, by its digest (the OAuth `token-revoked` event with the token itself).
    Token {
        /// The issuer whose tokens the digest is looked up among.
        issuer: String,
        /// For a JWT, the digest of its signed part with the dot that ends it; for an opaque
        /// token, of the whole token (as [`Fact::Revoked`]).
        token: Digest,
        /// Unix seconds until which the token is refused.
        until: i64,
    },
}

impl Revocation {
    /// The issuer whose tokens it revokes: the namespace it belongs to in a shared store.
    pub fn issuer(&self) -> &str {
        match self {
            Self::Rule(rule) => &rule.issuer,
            Self::Token { issuer, .. } => issuer,
        }
    }

    /// The revocation as a shared-store [`Fact`] (the issuer goes into the namespace).
    pub fn to_fact(&self) -> Fact {
        match self {
            Self::Rule(rule) => Fact::Rule(rule.clone()),
            Self::Token { token, until, .. } => Fact::Revoked {
                token: *token,
                until: *until,
            },
        }
    }
}

/// Where the revocations of accepted SETs go: the engine's rule memory and revocation memory,
/// and its shared store.
///
/// Called once per new SET, with every revocation the SET asks for. Applying the same
/// revocations twice must be harmless (a SET refused with [`SinkErrorKind::Full`] is
/// delivered again, and what was applied of it is applied again).
pub trait RevocationSink: Send + Sync + 'static {
    /// Applies `revocations`; an error makes the receiver answer 503, so that the transmitter
    /// delivers the SET again.
    fn apply(&self, revocations: &[Revocation]) -> Result<(), SinkError>;
}

/// Why a [`RevocationSink`] could not apply revocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkError {
    kind: SinkErrorKind,
}

/// What kind of failure a [`SinkError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkErrorKind {
    /// The memory is full of live revocations.
    Full,
    /// The revocations cannot be recorded now.
    Unavailable,
}

impl SinkError {
    /// The memory is full.
    pub fn full() -> Self {
        Self {
            kind: SinkErrorKind::Full,
        }
    }

    /// The revocations cannot be recorded now.
    pub fn unavailable() -> Self {
        Self {
            kind: SinkErrorKind::Unavailable,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> SinkErrorKind {
        self.kind
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            SinkErrorKind::Full => "revocations: the memory is full",
            SinkErrorKind::Unavailable => "revocations: cannot be recorded now",
        })
    }
}

impl std::error::Error for SinkError {}

/// What [`SecurityEventReceiver::receive`] did with an accepted SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    repeat: bool,
    revocations: Vec<Revocation>,
    ignored_events: usize,
}

impl Receipt {
    /// The SET was received before and is not applied again.
    pub fn is_repeat(&self) -> bool {
        self.repeat
    }

    /// What the SET revoked (given to the sink).
    pub fn revocations(&self) -> &[Revocation] {
        &self.revocations
    }

    /// Events of the SET that tollgate does not act on, or whose subject maps to no token.
    pub fn ignored_events(&self) -> usize {
        self.ignored_events
    }
}

/// Counts of what a [`SecurityEventReceiver`] received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiverStats {
    /// SETs that reached the checks (requests refused before their body was read are counted
    /// in `refused` only).
    pub received: u64,
    /// SETs accepted and applied.
    pub accepted: u64,
    /// SETs accepted as repeats, not applied again.
    pub repeats: u64,
    /// Refusals, by RFC 8935 code and otherwise.
    pub refused: RefusalCounts,
    /// Events accepted and ignored.
    pub ignored_events: u64,
    /// Revocations handed to the sink.
    pub revocations: u64,
    /// Applied SETs the de-duplication ledger forgot early because it was full.
    pub ledger_evicted: u64,
}

#[cfg(test)]
mod tests;
