//! Why a SET was refused, and the error codes of RFC 8935 §2.4.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// A Security Event Token error code (RFC 8935 §2.4, the IANA "Security Event Token Error
/// Codes" registry): the `err` member of a 400 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request`: the body is not a SET, or an event payload does not conform to its
    /// definition. Not worth retrying (RFC 8935 §4).
    InvalidRequest,
    /// `invalid_key`: the SET is not signed with a key this receiver accepts for its issuer
    /// (unknown key, bad signature, unsigned).
    InvalidKey,
    /// `invalid_issuer`: the SET's issuer is not one this receiver trusts.
    InvalidIssuer,
    /// `invalid_audience`: the SET's `aud` does not name this receiver.
    InvalidAudience,
    /// `authentication_failed`: the transmitter did not authenticate (the configured
    /// `Authorization` value is missing or wrong).
    AuthenticationFailed,
    /// `access_denied`: the transmitter may not send this SET here: it names tokens of an
    /// issuer it does not speak for.
    AccessDenied,
}

impl ErrorCode {
    /// The code as RFC 8935 §2.4 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidKey => "invalid_key",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidAudience => "invalid_audience",
            Self::AuthenticationFailed => "authentication_failed",
            Self::AccessDenied => "access_denied",
        }
    }

    /// Every code, in the order of RFC 8935 §2.4.
    pub const ALL: [ErrorCode; 6] = [
        Self::InvalidRequest,
        Self::InvalidKey,
        Self::InvalidIssuer,
        Self::InvalidAudience,
        Self::AuthenticationFailed,
        Self::AccessDenied,
    ];

    fn index(self) -> usize {
        match self {
            Self::InvalidRequest => 0,
            Self::InvalidKey => 1,
            Self::InvalidIssuer => 2,
            Self::InvalidAudience => 3,
            Self::AuthenticationFailed => 4,
            Self::AccessDenied => 5,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SET the receiver did not accept, and how it answers.
///
/// Its description is a fixed text: it never repeats anything the SET said (a SET may carry
/// personal data and, in an OAuth `token-revoked` event, a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    kind: RefusalKind,
    description: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefusalKind {
    /// 400 with an RFC 8935 §2.4 code.
    Set(ErrorCode),
    /// Another HTTP status (RFC 8935 §2.3: general HTTP errors use the normal codes).
    Http {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
}

impl Refusal {
    pub(crate) fn set(code: ErrorCode, description: &'static str) -> Self {
        Self {
            kind: RefusalKind::Set(code),
            description,
        }
    }

    pub(crate) fn invalid(description: &'static str) -> Self {
        Self::set(ErrorCode::InvalidRequest, description)
    }

    pub(crate) fn http(
        status: StatusCode,
        retry_after: Option<Duration>,
        description: &'static str,
    ) -> Self {
        Self {
            kind: RefusalKind::Http {
                status,
                retry_after,
            },
            description,
        }
    }

    /// The HTTP status of the answer: 400 for a refused SET, 503 when the receiver cannot
    /// take it now (keys not loaded, revocation memory full), 405, 413 or 415 for a request
    /// that carries no SET.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            RefusalKind::Set(_) => StatusCode::BAD_REQUEST,
            RefusalKind::Http { status, .. } => status,
        }
    }

    /// The RFC 8935 §2.4 code, for a 400.
    pub fn code(&self) -> Option<ErrorCode> {
        match self.kind {
            RefusalKind::Set(code) => Some(code),
            RefusalKind::Http { .. } => None,
        }
    }

    /// What is wrong, in English: the `description` of the answer.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// When the transmitter should try again, for a 503.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            RefusalKind::Set(_) => None,
            RefusalKind::Http { retry_after, .. } => retry_after,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RefusalKind::Set(code) => write!(f, "security event refused ({code}): "),
            RefusalKind::Http { status, .. } => write!(f, "security event refused ({status}): "),
        }?;
        f.write_str(self.description)
    }
}

impl std::error::Error for Refusal {}

/// Counts of refusals by code, for [`ReceiverStats`](super::ReceiverStats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusalCounts {
    by_code: [u64; 6],
    /// Refusals that were not a 400: unavailable, not a POST, too large, wrong media type.
    pub other: u64,
}

impl RefusalCounts {
    /// Refusals with this code.
    pub fn with_code(&self, code: ErrorCode) -> u64 {
        self.by_code[code.index()]
    }

    pub(crate) fn from_parts(by_code: [u64; 6], other: u64) -> Self {
        Self { by_code, other }
    }

    pub(crate) fn slot(code: ErrorCode) -> usize {
        code.index()
    }
}
