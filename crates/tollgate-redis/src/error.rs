//! Redis errors as [`StoreError`]s.

use std::time::Duration;

use redis::{ErrorKind, RedisError, ServerErrorKind};
use tollgate::store::{StoreError, StoreErrorKind};

/// What kind of store trouble a Redis error is.
pub(crate) fn kind_of(error: &RedisError) -> StoreErrorKind {
    if error.is_timeout() {
        return StoreErrorKind::Timeout;
    }
    if tls_refused(error) {
        return StoreErrorKind::Auth;
    }
    // `NOAUTH` / `WRONGPASS` when the password changed under a running connection.
    if matches!(error.code(), Some("NOAUTH" | "WRONGPASS")) {
        return StoreErrorKind::Auth;
    }
    match error.kind() {
        ErrorKind::AuthenticationFailed => StoreErrorKind::Auth,
        ErrorKind::InvalidClientConfig => StoreErrorKind::Config,
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => StoreErrorKind::Malformed,
        ErrorKind::Io
        | ErrorKind::ClusterConnectionNotFound
        | ErrorKind::Server(
            ServerErrorKind::ClusterDown
            | ServerErrorKind::TryAgain
            | ServerErrorKind::BusyLoading
            | ServerErrorKind::MasterDown,
        ) => StoreErrorKind::Unavailable,
        _ if error.is_connection_dropped() || error.is_connection_refusal() => {
            StoreErrorKind::Unavailable
        }
        _ => StoreErrorKind::Other,
    }
}

/// Whether the error is a refused TLS handshake: rustls reports a certificate it cannot
/// verify (or a server that does not speak TLS) as I/O "invalid data".
fn tls_refused(error: &RedisError) -> bool {
    let Some(source) = std::error::Error::source(error) else {
        return false;
    };
    let io = source.downcast_ref::<std::io::Error>().or_else(|| {
        source
            .downcast_ref::<std::sync::Arc<dyn std::error::Error + Send + Sync>>()
            .and_then(|inner| inner.downcast_ref::<std::io::Error>())
    });
    io.is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
}

/// Whether the error means the connection is gone (as opposed to one command failing).
pub(crate) fn is_connection_loss(error: &RedisError) -> bool {
    !error.is_timeout()
        && (error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal())
}

/// `<what> on <store>: <why>`, with the Redis error as the source.
pub(crate) fn from_redis(what: &str, store: &str, error: RedisError) -> StoreError {
    let kind = kind_of(&error);
    let why = match kind {
        StoreErrorKind::Timeout => "timed out",
        StoreErrorKind::Auth if tls_refused(&error) => {
            "the TLS handshake failed (is the server's certificate trusted, and valid for this host?)"
        }
        StoreErrorKind::Auth => "the credentials were refused (check the URL's user and password)",
        StoreErrorKind::Config => "the client configuration is unusable",
        StoreErrorKind::Unavailable => "Redis cannot be reached",
        StoreErrorKind::Malformed => "Redis answered something unexpected",
        _ => "Redis refused the command",
    };
    StoreError::new(kind, format!("{what} on {store}: {why}")).with_source(error)
}

/// The error of a call that ran out of its time.
pub(crate) fn timeout(what: &str, store: &str, after: Duration) -> StoreError {
    StoreError::new(
        StoreErrorKind::Timeout,
        format!("{what} on {store}: no answer within {after:?}"),
    )
}

/// The error of a call made while the connection is known to be down: it fails at once
/// instead of waiting for a timeout.
pub(crate) fn down(what: &str, store: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Unavailable,
        format!("{what} on {store}: Redis cannot be reached (reconnecting in the background)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let io = |kind| RedisError::from(std::io::Error::new(kind, "x"));
        assert_eq!(
            kind_of(&io(std::io::ErrorKind::InvalidData)),
            StoreErrorKind::Auth
        );
        assert_eq!(
            kind_of(&io(std::io::ErrorKind::ConnectionRefused)),
            StoreErrorKind::Unavailable
        );
        assert_eq!(
            kind_of(&io(std::io::ErrorKind::TimedOut)),
            StoreErrorKind::Timeout
        );
        assert!(is_connection_loss(&io(std::io::ErrorKind::ConnectionReset)));
        assert!(!is_connection_loss(&io(std::io::ErrorKind::TimedOut)));
        let auth = RedisError::from((ErrorKind::AuthenticationFailed, "refused"));
        assert_eq!(kind_of(&auth), StoreErrorKind::Auth);
        assert!(
            from_redis("connect", "redis://h:1/0", auth)
                .to_string()
                .contains("credentials")
        );
    }
}
