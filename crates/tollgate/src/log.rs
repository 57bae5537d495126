//! Logging shims: `tracing` when the feature is on, nothing otherwise.
//!
//! Nothing logged through these macros may contain a token or a client secret. Messages use
//! format arguments only (no `tracing` field syntax), so that they also compile, unused, without
//! the feature.

#[cfg(feature = "tracing")]
macro_rules! error_ {
    ($($arg:tt)*) => { ::tracing::error!(target: "tollgate", $($arg)*) };
}
#[cfg(not(feature = "tracing"))]
macro_rules! error_ {
    ($($arg:tt)*) => {{ if false { let _ = format_args!($($arg)*); } }};
}

#[cfg(feature = "tracing")]
macro_rules! warn_ {
    ($($arg:tt)*) => { ::tracing::warn!(target: "tollgate", $($arg)*) };
}
#[cfg(not(feature = "tracing"))]
macro_rules! warn_ {
    ($($arg:tt)*) => {{ if false { let _ = format_args!($($arg)*); } }};
}

#[cfg(feature = "tracing")]
macro_rules! info_ {
    ($($arg:tt)*) => { ::tracing::info!(target: "tollgate", $($arg)*) };
}
#[cfg(not(feature = "tracing"))]
macro_rules! info_ {
    ($($arg:tt)*) => {{ if false { let _ = format_args!($($arg)*); } }};
}

#[cfg(feature = "tracing")]
macro_rules! debug_ {
    ($($arg:tt)*) => { ::tracing::debug!(target: "tollgate", $($arg)*) };
}
#[cfg(not(feature = "tracing"))]
macro_rules! debug_ {
    ($($arg:tt)*) => {{ if false { let _ = format_args!($($arg)*); } }};
}

#[cfg(feature = "tracing")]
macro_rules! trace_ {
    ($($arg:tt)*) => { ::tracing::trace!(target: "tollgate", $($arg)*) };
}
#[cfg(not(feature = "tracing"))]
macro_rules! trace_ {
    ($($arg:tt)*) => {{ if false { let _ = format_args!($($arg)*); } }};
}

pub(crate) use {debug_ as debug, error_ as error, info_ as info, trace_ as trace, warn_ as warn};
