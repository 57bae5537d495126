//! Errors of a shared store.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// What kind of trouble a [`StoreError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store did not answer within its timeout. It may still carry the command out.
    Timeout,
    /// The store cannot be reached: connection refused, closed or not yet established.
    Unavailable,
    /// The store refused the credentials (`AUTH`), or the TLS handshake failed.
    Auth,
    /// The store's configuration is unusable: a bad URL, a certificate that does not parse.
    Config,
    /// A value read from the store, or one to be written to it, does not follow the
    /// [wire format](super::wire). Such a value is never applied, not even in part.
    Malformed,
    /// A bounded store is full and the value was not recorded.
    Full,
    /// The store does not know this kind of fact (one added to tollgate after it was written).
    Unsupported,
    /// Anything else the store answered with; [`source`](Error::source) says what.
    Other,
}

/// A shared store could not do what was asked.
///
/// Its text has the form "what: why" and never contains a token, a password or a URL's
/// credentials.
#[derive(Debug, Clone)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    source: Option<Arc<dyn Error + Send + Sync + 'static>>,
}

impl StoreError {
    /// An error of `kind`; `message` says what failed and why ("publish to redis://host:6379:
    /// timed out after 1s"), without credentials.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, caused by `source`. The source's text must not contain credentials
    /// either: wrap errors that might (a URL parser's) in a message of your own instead.
    #[must_use]
    pub fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// What kind of trouble this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_keeps_its_kind_text_and_source() {
        let cause = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = StoreError::new(StoreErrorKind::Unavailable, "publish: connection refused")
            .with_source(cause);
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        assert_eq!(error.to_string(), "publish: connection refused");
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("refused")
        );
    }
}
