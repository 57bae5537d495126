//! Configuration errors, reported when a [`Tollgate`](crate::Tollgate) or a
//! [`PolicyTable`](crate::PolicyTable) is built.

use std::fmt;

/// What kind of configuration mistake a [`ConfigError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A URL (issuer, JWKS URI, introspection endpoint) is not a valid absolute `http(s)` URL.
    InvalidUrl,
    /// Neither an issuer nor a JWKS URI was given, or the configuration is otherwise incomplete.
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
    /// The HTTP client could not be built.
    HttpClient,
}

/// The configuration given to a builder is unusable.
///
/// Returned at build time, so a misconfigured service fails at start, not at its first request.
#[derive(Debug, Clone)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
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

impl std::error::Error for ConfigError {}
