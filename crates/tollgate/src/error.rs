//! Configuration errors, reported when a [`Tollgate`](crate::Tollgate), a
//! [`PolicyTable`](crate::PolicyTable) or a route annotation is built.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// What kind of configuration mistake a [`ConfigError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A URL (issuer, JWKS URI, introspection endpoint) breaks the URL rules: not an absolute
    /// `http(s)` URL with a host, user info in it, a query or fragment in the issuer, or plain
    /// `http` where `https` is required.
    InvalidUrl,
    /// A required setting is absent: no issuer, or introspection without an endpoint where none
    /// can be discovered.
    Missing,
    /// No audience was configured, or an audience is empty.
    Audience,
    /// The algorithm allowlist is empty, contains an algorithm with no key, or mixes HMAC in
    /// without a secret.
    Algorithms,
    /// A duration or size bound is out of range or contradicts another one.
    Bounds,
    /// A policy-table entry has an invalid method or path pattern.
    Policy,
    /// A [`Requirement`](crate::Requirement) is invalid: a scope or `acr` name that is not an
    /// RFC 6749 §3.3 `scope-token`, or a combination that cannot mean what it says (a public
    /// route with scopes, fail-open on a route that does not introspect).
    Requirement,
    /// The `realm` cannot be sent in a `WWW-Authenticate` challenge.
    Realm,
    /// The introspection client credentials are empty or cannot be sent in an HTTP header.
    Credentials,
    /// The HTTP client could not be built; [`source`](Error::source) says why.
    HttpClient,
    /// The trusted issuers contradict each other or themselves: an issuer trusted twice,
    /// opaque tokens sent to more than one issuer or to one without introspection, a template
    /// issuer without tenants or a discovery URL, keys from two places, switches that cannot
    /// mean what they say.
    Trust,
    /// The sender-constraint settings cannot work: DPoP accepted without a
    /// [`public_url`](crate::TollgateBuilder::public_url) or without
    /// [`dpop`](crate::TollgateBuilder::dpop) settings, HMAC proof algorithms, a proof window
    /// or replay capacity out of range, a nonce secret under 32 bytes.
    Dpop,
}

/// The configuration given to a builder is unusable.
///
/// Returned at build time, so a misconfigured service fails at start, not at its first request.
/// Its text never contains a secret.
#[derive(Debug, Clone)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: String,
    /// The underlying error, where there is one (the HTTP client's).
    source: Option<Arc<dyn Error + Send + Sync + 'static>>,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, caused by `source`.
    pub(crate) fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid tollgate configuration: {}", self.message)
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}
