//! The one table of JWS signature algorithms: their names, their families and key types, the
//! HMAC secret lengths, and the default allowlist.
//!
//! [`Algorithm`] is tollgate's own type rather than jsonwebtoken's: tollgate verifies with
//! aws-lc-rs directly, and its public API should not move with another crate's releases.

use std::fmt;
use std::str::FromStr;

use crate::error::{ConfigError, ConfigErrorKind};

/// A JWS signature algorithm tollgate can verify (RFC 7518 §3, RFC 8037 §3.1).
///
/// `none` is not one of them, so it can never be allowed. Names are the JWS `alg` values,
/// matched exactly (RFC 7515 §4.1.1: case-sensitive).
///
/// ```
/// use tollgate::Algorithm;
///
/// assert_eq!("ES256".parse::<Algorithm>(), Ok(Algorithm::ES256));
/// assert_eq!(Algorithm::EdDSA.name(), "EdDSA");
/// assert!("none".parse::<Algorithm>().is_err());
/// assert!("rs256".parse::<Algorithm>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 (RFC 7518 §3.5).
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4).
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519 (RFC 8037 §3.1; RFC 9864 calls it `Ed25519`).
    EdDSA,
    /// HMAC with SHA-256 (RFC 7518 §3.2); only with a configured secret.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

/// The asymmetric algorithms accepted by default: everything but HMAC, which needs a secret.
pub(crate) const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The HMAC algorithms, accepted only with a configured secret.
pub(crate) const HMAC_ALGORITHMS: [Algorithm; 3] =
    [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

/// The kind of key an algorithm verifies with: what a JWK's `kty` and `crv` must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    /// `kty: RSA`, PKCS#1 v1.5 or PSS.
    Rsa,
    /// `kty: EC` on this curve (RFC 7518 §3.4: the curve decides the algorithm).
    Ec(Curve),
    /// `kty: OKP`, `crv: Ed25519` (RFC 8037 §2).
    Ed25519,
    /// A configured shared secret; never taken from a JWKS (RFC 8725 §3.1).
    Hmac,
}

/// The elliptic curves tollgate verifies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    /// NIST P-256, 32-byte coordinates.
    P256,
    /// NIST P-384, 48-byte coordinates.
    P384,
}

impl Algorithm {
    /// The JWS name (`alg` header value), as RFC 7518 and RFC 8037 spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    /// The algorithm a token header's `alg` names, matched exactly (RFC 7515 §4.1.1), so
    /// `none`, `None`, `rs256` and any other spelling are simply unknown.
    pub(crate) fn from_jws_name(name: &str) -> Option<Self> {
        // A `match` on the string, not a search of `ALL`: this runs for every token that
        // misses the verified-token cache.
        Some(match name {
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "EdDSA" => Self::EdDSA,
            "HS256" => Self::HS256,
            "HS384" => Self::HS384,
            "HS512" => Self::HS512,
            _ => return None,
        })
    }

    /// The algorithm a JWK's `alg` names (RFC 7517 §4.4): the JWS names, and also `Ed25519`,
    /// RFC 9864's fully-specified name for what tokens still call `EdDSA`.
    pub(crate) fn from_jwk_name(name: &str) -> Option<Self> {
        match name {
            "Ed25519" => Some(Self::EdDSA),
            other => Self::from_jws_name(other),
        }
    }

    /// The kind of key this algorithm verifies with.
    pub(crate) fn key_type(self) -> KeyType {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyType::Rsa
            }
            Self::ES256 => KeyType::Ec(Curve::P256),
            Self::ES384 => KeyType::Ec(Curve::P384),
            Self::EdDSA => KeyType::Ed25519,
            Self::HS256 | Self::HS384 | Self::HS512 => KeyType::Hmac,
        }
    }

    /// Whether this is one of the HMAC algorithms.
    pub(crate) fn is_hmac(self) -> bool {
        self.key_type() == KeyType::Hmac
    }

    /// RFC 7518 §3.2: an HMAC key at least as long as the hash output (32, 48, 64 bytes);
    /// zero for the asymmetric algorithms.
    pub(crate) fn hmac_min_len(self) -> usize {
        match self {
            Self::HS256 => 32,
            Self::HS384 => 48,
            Self::HS512 => 64,
            _ => 0,
        }
    }
}

/// The allowlist a configuration asks for, checked: `configured` (from
/// `TollgateBuilder::algorithms`) or the default for the key source, never empty, HMAC exactly
/// when there is a secret, and a secret long enough for each HMAC algorithm (RFC 7518 §3.2).
pub(crate) fn allowlist(
    configured: Option<&[Algorithm]>,
    secret: Option<&[u8]>,
) -> Result<Vec<Algorithm>, ConfigError> {
    let refuse = |message| Err(ConfigError::new(ConfigErrorKind::Algorithms, message));
    let algorithms = match (configured, secret) {
        (Some(algs), _) => algs.to_vec(),
        // The HMAC algorithms this secret is long enough for.
        (None, Some(secret)) => HMAC_ALGORITHMS
            .into_iter()
            .filter(|alg| secret.len() >= alg.hmac_min_len())
            .collect(),
        (None, None) => DEFAULT_ALGORITHMS.to_vec(),
    };
    if algorithms.is_empty() {
        return refuse("the algorithm allowlist is empty");
    }
    let has_hmac = algorithms.iter().any(|a| a.is_hmac());
    match (secret, has_hmac) {
        (None, true) => refuse("HMAC algorithms need an explicit hmac_secret"),
        (Some(_), _) if algorithms.iter().any(|a| !a.is_hmac()) => {
            refuse("with an hmac_secret only HS256/HS384/HS512 can be accepted")
        }
        (Some(secret), _) if algorithms.iter().any(|a| secret.len() < a.hmac_min_len()) => refuse(
            "an HMAC secret must be at least as long as the hash output: 32 bytes for HS256, 48 \
             for HS384, 64 for HS512 (RFC 7518 §3.2)",
        ),
        _ => Ok(algorithms),
    }
}

impl Curve {
    /// The curve a JWK's `crv` names (RFC 7518 §6.2.1.1), if tollgate verifies on it.
    pub(crate) fn from_jwk_name(name: &str) -> Option<Self> {
        match name {
            "P-256" => Some(Self::P256),
            "P-384" => Some(Self::P384),
            _ => None,
        }
    }

    /// The ECDSA algorithm of this curve.
    pub(crate) fn algorithm(self) -> Algorithm {
        match self {
            Self::P256 => Algorithm::ES256,
            Self::P384 => Algorithm::ES384,
        }
    }

    /// The size of one coordinate, in bytes (RFC 7518 §6.2.1.2).
    pub(crate) fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an [`Algorithm`]: the name is not one tollgate verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAlgorithm(());

impl fmt::Display for UnknownAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown JWS algorithm: not one tollgate verifies")
    }
}

impl std::error::Error for UnknownAlgorithm {}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses a JWS name exactly as [`name`](Self::name) writes it (case-sensitive).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::from_jws_name(name).ok_or(UnknownAlgorithm(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every algorithm.
    fn all() -> impl Iterator<Item = Algorithm> {
        DEFAULT_ALGORITHMS.into_iter().chain(HMAC_ALGORITHMS)
    }

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in all() {
            assert_eq!(alg.name().parse::<Algorithm>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.name());
        }
        for unknown in [
            "none", "None", "NONE", "nOnE", "rs256", "", "ES512", "Ed25519",
        ] {
            assert_eq!(Algorithm::from_jws_name(unknown), None, "{unknown}");
        }
        // RFC 9864's name is read in JWKs only, where servers have started to publish it.
        assert_eq!(Algorithm::from_jwk_name("Ed25519"), Some(Algorithm::EdDSA));
        assert_eq!(Algorithm::from_jwk_name("EdDSA"), Some(Algorithm::EdDSA));
        assert_eq!(Algorithm::from_jwk_name("none"), None);
    }

    #[test]
    fn families_and_hmac_lengths() {
        assert!(HMAC_ALGORITHMS.iter().all(|alg| alg.is_hmac()));
        assert!(DEFAULT_ALGORITHMS.iter().all(|alg| !alg.is_hmac()));
        assert_eq!(
            all().count(),
            12,
            "every variant is in one of the two lists"
        );
        assert_eq!(
            HMAC_ALGORITHMS.map(Algorithm::hmac_min_len),
            [32, 48, 64],
            "RFC 7518 §3.2"
        );
        assert_eq!(Algorithm::ES384.key_type(), KeyType::Ec(Curve::P384));
        assert_eq!(Curve::P256.algorithm(), Algorithm::ES256);
        assert_eq!(
            Curve::from_jwk_name("P-384").map(Curve::coordinate_len),
            Some(48)
        );
        assert_eq!(Curve::from_jwk_name("P-521"), None);
    }
}
