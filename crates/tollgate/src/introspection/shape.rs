//! [`OpaqueShape`]: what the authorization server's opaque tokens look like, so that junk is
//! refused without asking it.

use crate::error::{ConfigError, ConfigErrorKind};

/// The shape of the opaque access tokens the authorization server issues: length bounds and a
/// prefix. An opaque token outside the shape is refused locally (401 `invalid_token`) without
/// an introspection call, so a flood of random strings costs the authorization server nothing.
///
/// Many servers give their tokens a recognisable form: a fixed prefix (`ory_at_`, `gho_`), a
/// fixed length (43 characters of base64url for 32 random bytes). Describe only what is
/// guaranteed: a genuine token refused by a shape that is too tight is refused everywhere.
///
/// [`OpaqueShape::new`] admits every token (the default of
/// [`Introspection::opaque_token_shape`](super::Introspection::opaque_token_shape)); the
/// builder's `max_token_bytes` bounds the length in any case.
///
/// # Example
///
/// ```
/// use tollgate::Introspection;
/// use tollgate::introspection::OpaqueShape;
///
/// let introspection = Introspection::client_secret_basic("my-api", "s3cret")
///     .opaque_token_shape(OpaqueShape::new().prefix("ory_at_").min_len(40).max_len(128));
/// # let _ = introspection;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct OpaqueShape {
    min_len: usize,
    max_len: Option<usize>,
    prefix: Option<String>,
}

impl OpaqueShape {
    /// A shape that admits every token.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shortest token admitted, in bytes (the prefix included). Defaults to 0.
    pub fn min_len(mut self, bytes: usize) -> Self {
        self.min_len = bytes;
        self
    }

    /// The longest token admitted, in bytes (the prefix included). Defaults to no bound beyond
    /// the builder's `max_token_bytes`. Must not be zero nor below [`min_len`](Self::min_len).
    pub fn max_len(mut self, bytes: usize) -> Self {
        self.max_len = Some(bytes);
        self
    }

    /// A prefix every token starts with, compared byte for byte (case matters). Defaults to
    /// none. Must not be empty.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Whether `token` has the shape.
    pub(crate) fn admits(&self, token: &str) -> bool {
        token.len() >= self.min_len
            && self.max_len.is_none_or(|max| token.len() <= max)
            && self
                .prefix
                .as_deref()
                .is_none_or(|prefix| token.starts_with(prefix))
    }

    /// Whether this shape admits everything (nothing to check on the request path).
    pub(crate) fn is_open(&self) -> bool {
        *self == Self::default()
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let bounds = |msg: &str| Err(ConfigError::new(ConfigErrorKind::Bounds, msg));
        if self.max_len == Some(0) {
            return bounds("opaque token shape: max_len must not be zero");
        }
        if self.max_len.is_some_and(|max| max < self.min_len) {
            return bounds("opaque token shape: max_len is below min_len");
        }
        if let Some(prefix) = &self.prefix {
            if prefix.is_empty() {
                return bounds("opaque token shape: the prefix must not be empty");
            }
            if self.max_len.is_some_and(|max| max < prefix.len()) {
                return bounds("opaque token shape: max_len is shorter than the prefix");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_admits_everything() {
        let shape = OpaqueShape::new();
        assert!(shape.is_open());
        assert!(shape.admits(""));
        assert!(shape.admits(&"x".repeat(10_000)));
        assert!(shape.validate().is_ok());
    }

    #[test]
    fn length_bounds_and_prefix_all_apply() {
        let shape = OpaqueShape::new().prefix("at_").min_len(8).max_len(10);
        assert!(!shape.is_open());
        assert!(shape.admits("at_12345"));
        assert!(shape.admits("at_1234567"));
        assert!(!shape.admits("at_1234"), "too short");
        assert!(!shape.admits("at_12345678"), "too long");
        assert!(!shape.admits("AT_12345"), "the prefix is case-sensitive");
        assert!(!shape.admits("xat_12345"));
    }

    #[test]
    fn incoherent_shapes_are_configuration_errors() {
        for shape in [
            OpaqueShape::new().max_len(0),
            OpaqueShape::new().min_len(10).max_len(9),
            OpaqueShape::new().prefix(""),
            OpaqueShape::new().prefix("long_prefix_").max_len(5),
        ] {
            assert_eq!(
                shape.validate().unwrap_err().kind(),
                ConfigErrorKind::Bounds,
                "{shape:?}"
            );
        }
    }
}
