//! The public configuration of sender-constrained tokens: [`SenderConstraint`] (per issuer and
//! per route) and [`Dpop`] (the engine's proof rules, nonces and replay cache).

use std::fmt;
use std::time::Duration;

use super::nonce::{self, Nonces};
use super::replay::DEFAULT_CAPACITY;
use super::rules::{DEFAULT_ALGORITHMS, DEFAULT_FUTURE_SKEW, DEFAULT_MAX_AGE, ProofRules};
use crate::alg::Algorithm;
use crate::error::{ConfigError, ConfigErrorKind};

/// How access tokens may be presented: with the `Bearer` scheme (RFC 6750), with the `DPoP`
/// scheme and a proof (RFC 9449), or either.
///
/// Set per issuer ([`TrustedIssuer::sender_constraint`](crate::TrustedIssuer::sender_constraint),
/// [`TollgateBuilder::sender_constraint`](crate::TollgateBuilder::sender_constraint)) and per
/// route ([`Requirement::sender_constraint`](crate::Requirement::sender_constraint),
/// [`Requirement::dpop_required`](crate::Requirement::dpop_required)); a request must satisfy
/// both. Whatever they say, a DPoP-bound token (`cnf.jkt`) is accepted only with a proof of its
/// key, and a certificate-bound token (`cnf.x5t#S256`) only with its client certificate
/// ([`ClientCertificate`](crate::ClientCertificate)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SenderConstraint {
    /// `Authorization: Bearer` only; the `DPoP` scheme is refused. The default of an engine
    /// without [`Dpop`] configuration.
    BearerOnly,
    /// `Authorization: DPoP` with a proof only; bearer tokens are refused (401 with the `DPoP`
    /// challenge), so only DPoP-bound tokens pass.
    DpopRequired,
    /// Either scheme: bearer tokens as bearer tokens, DPoP-bound tokens with their proof. The
    /// default of an engine with [`Dpop`] configuration.
    BearerOrDpop,
}

impl SenderConstraint {
    /// Whether the `Bearer` scheme is accepted.
    pub fn allows_bearer(self) -> bool {
        matches!(self, Self::BearerOnly | Self::BearerOrDpop)
    }

    /// Whether the `DPoP` scheme is accepted.
    pub fn allows_dpop(self) -> bool {
        matches!(self, Self::DpopRequired | Self::BearerOrDpop)
    }

    /// The name used in configuration (`protected-api --dpop`): `off`, `required`, `allowed`.
    pub fn name(self) -> &'static str {
        match self {
            Self::BearerOnly => "off",
            Self::DpopRequired => "required",
            Self::BearerOrDpop => "allowed",
        }
    }

    /// The constraint of a name: `off` (or `bearer`), `required`, `allowed` (or `either`).
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "off" | "bearer" => Self::BearerOnly,
            "required" | "dpop" => Self::DpopRequired,
            "allowed" | "either" => Self::BearerOrDpop,
            _ => return None,
        })
    }
}

/// How server nonces are made (RFC 9449 §8, §9).
#[derive(Clone)]
enum NonceMode {
    Off,
    /// A random key of this instance.
    Random,
    /// A configured key, shared by the instances that must accept each other's nonces.
    Secret(Vec<u8>),
}

/// The engine's DPoP settings (RFC 9449), given to
/// [`TollgateBuilder::dpop`](crate::TollgateBuilder::dpop): which proof algorithms are
/// accepted, how old a proof may be, whether server nonces are required, and how many proofs
/// the replay cache holds.
///
/// The external URL that proofs' `htu` must name comes from
/// [`TollgateBuilder::public_url`](crate::TollgateBuilder::public_url), which DPoP requires:
/// behind a proxy the URL the service sees is not the one the client signed, and forwarded
/// headers are the client's to write.
///
/// ```
/// use std::time::Duration;
/// use tollgate::{Algorithm, Dpop, Tollgate};
///
/// let gate = Tollgate::builder()
///     .issuer("https://as.example")
///     .audience("api")
///     .public_url("https://api.example")
///     .dpop(
///         Dpop::new()
///             .algorithms([Algorithm::ES256, Algorithm::EdDSA])
///             .proof_window(Duration::from_secs(120), Duration::from_secs(5))
///             .require_nonce(true),
///     )
///     .build()
///     .unwrap();
/// # drop(gate);
/// ```
#[derive(Clone)]
#[must_use]
pub struct Dpop {
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    future_skew: Duration,
    nonce: NonceMode,
    nonce_period: Duration,
    replay_capacity: usize,
}

impl fmt::Debug for Dpop {
    // The nonce secret never appears in Debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nonce = match self.nonce {
            NonceMode::Off => "off",
            NonceMode::Random => "random key",
            NonceMode::Secret(_) => "<configured secret>",
        };
        f.debug_struct("Dpop")
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("future_skew", &self.future_skew)
            .field("nonce", &nonce)
            .field("nonce_period", &self.nonce_period)
            .field("replay_capacity", &self.replay_capacity)
            .finish()
    }
}

impl Default for Dpop {
    fn default() -> Self {
        Self::new()
    }
}

impl Dpop {
    /// The defaults: every asymmetric algorithm tollgate verifies, proofs at most 60 seconds
    /// old and 10 seconds ahead, no nonces, 100,000 proofs in the replay cache.
    pub fn new() -> Self {
        Self {
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            max_age: DEFAULT_MAX_AGE,
            future_skew: DEFAULT_FUTURE_SKEW,
            nonce: NonceMode::Off,
            nonce_period: nonce::DEFAULT_PERIOD,
            replay_capacity: DEFAULT_CAPACITY,
        }
    }

    /// The proof algorithms accepted, in the order the challenge's `algs` lists them. HMAC
    /// algorithms are refused at build time (RFC 9449 §4.2: a proof is signed with a private
    /// key). Defaults to ES256, ES384, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How old a proof may be by its `iat` (`max_age`), and how far ahead of this server's
    /// clock (`future_skew`), RFC 9449 §11.1. The replay cache keeps each proof for
    /// `max_age + future_skew`. Defaults to 60 and 10 seconds; at most an hour each.
    pub fn proof_window(mut self, max_age: Duration, future_skew: Duration) -> Self {
        self.max_age = max_age;
        self.future_skew = future_skew;
        self
    }

    /// Requires server nonces (RFC 9449 §8, §9) under a random key of this instance: a proof
    /// without the current nonce is answered 401 `use_dpop_nonce` with a fresh `DPoP-Nonce`.
    /// Instances behind one load balancer need [`nonce_secret`](Self::nonce_secret) instead,
    /// or clients bounce between their nonces. Defaults to false.
    pub fn require_nonce(mut self, require: bool) -> Self {
        self.nonce = if require {
            NonceMode::Random
        } else {
            NonceMode::Off
        };
        self
    }

    /// Requires server nonces made with `secret` (at least 32 bytes), so that the instances
    /// configured with it accept each other's nonces. Keep it apart from other servers'
    /// secrets: nonces are server-specific (RFC 9449 §9).
    pub fn nonce_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.nonce = NonceMode::Secret(secret.into());
        self
    }

    /// How long a nonce is current: a nonce is accepted for one to two periods. Defaults to
    /// 5 minutes.
    pub fn nonce_period(mut self, period: Duration) -> Self {
        self.nonce_period = period;
        self
    }

    /// How many proofs the replay cache of this instance holds at most (about 100 bytes each).
    /// When full of proofs still live, new proofs are answered 503 with `Retry-After` rather
    /// than forgetting one, which would let it be replayed. Defaults to 100,000.
    pub fn replay_capacity(mut self, entries: usize) -> Self {
        self.replay_capacity = entries;
        self
    }

    /// The proof rules, the nonces and the replay capacity, checked.
    pub(crate) fn build(&self) -> Result<(ProofRules, Option<Nonces>, usize), ConfigError> {
        let refuse = |message: &str| Err(ConfigError::new(ConfigErrorKind::Dpop, message));
        if self
            .algorithms
            .iter()
            .any(|alg| matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            return refuse(
                "DPoP proofs are signed with a private key (RFC 9449 §4.2): HMAC algorithms \
                 cannot be accepted",
            );
        }
        if self.algorithms.is_empty() {
            return refuse("DPoP needs at least one proof algorithm");
        }
        let hour = Duration::from_secs(3600);
        if self.max_age.is_zero() || self.max_age > hour || self.future_skew > hour {
            return refuse(
                "the DPoP proof window must be more than zero and at most an hour back, at \
                 most an hour ahead",
            );
        }
        if self.replay_capacity == 0 {
            return refuse("the DPoP replay capacity must be at least one proof");
        }
        let nonces = match &self.nonce {
            NonceMode::Off => None,
            NonceMode::Random => Some(Nonces::random(self.nonce_period).ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::Dpop,
                    "no randomness for the DPoP nonce key",
                )
            })?),
            NonceMode::Secret(secret) => {
                Some(Nonces::with_secret(secret, self.nonce_period).map_err(|_| {
                    ConfigError::new(
                        ConfigErrorKind::Dpop,
                        "the DPoP nonce secret must be at least 32 bytes",
                    )
                })?)
            }
        };
        let rules = ProofRules::new(&self.algorithms).with_window(self.max_age, self.future_skew);
        Ok((rules, nonces, self.replay_capacity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_names_round_trip() {
        for c in [
            SenderConstraint::BearerOnly,
            SenderConstraint::DpopRequired,
            SenderConstraint::BearerOrDpop,
        ] {
            assert_eq!(SenderConstraint::named(c.name()), Some(c));
        }
        assert_eq!(SenderConstraint::named("maybe"), None);
        assert!(SenderConstraint::BearerOrDpop.allows_bearer());
        assert!(SenderConstraint::BearerOrDpop.allows_dpop());
        assert!(!SenderConstraint::BearerOnly.allows_dpop());
        assert!(!SenderConstraint::DpopRequired.allows_bearer());
    }

    #[test]
    fn build_refuses_what_cannot_work() {
        assert!(Dpop::new().build().is_ok());
        for bad in [
            Dpop::new().algorithms([Algorithm::ES256, Algorithm::HS256]),
            Dpop::new().algorithms([]),
            Dpop::new().proof_window(Duration::ZERO, Duration::ZERO),
            Dpop::new().proof_window(Duration::from_secs(3601), Duration::ZERO),
            Dpop::new().replay_capacity(0),
            Dpop::new().nonce_secret(b"short".to_vec()),
        ] {
            let error = bad.build().map(|_| ()).unwrap_err();
            assert_eq!(error.kind(), ConfigErrorKind::Dpop, "{bad:?}");
        }
        let (_, nonces, _) = Dpop::new().require_nonce(true).build().unwrap();
        assert!(nonces.is_some());
        let debug = format!("{:?}", Dpop::new().nonce_secret(vec![7u8; 32]));
        assert!(debug.contains("<configured secret>") && !debug.contains("7, 7"));
    }
}
