//! What a DPoP proof must satisfy: the accepted algorithms and the `iat` window.

use std::time::Duration;

use crate::alg::Algorithm;

/// How old a proof may be by its `iat`, by default.
///
/// RFC 9449 §11.1 asks for "a limited time" of seconds or minutes. A client makes a proof
/// right before its request, so a minute covers slow networks and queues, while a replayed or
/// pre-computed proof gets little use and the replay cache stays small. Deployments that need
/// more tolerance for clients' clocks should turn nonces on, which carry the server's time.
pub(crate) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(60);

/// How far in the future a proof's `iat` may be, by default (RFC 9449 §11.1 allows a little,
/// for clock skew). Ten seconds absorbs ordinary drift; a client whose clock runs further
/// ahead is told why (`iat` in the future) and can be helped with nonces.
pub(crate) const DEFAULT_FUTURE_SKEW: Duration = Duration::from_secs(10);

/// The algorithms accepted by default: every asymmetric one tollgate verifies, the common ES256
/// first (the `algs` of the challenge lists them in this order).
pub(crate) const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
];

/// What a proof must satisfy, fixed at configuration.
#[derive(Debug, Clone)]
pub(crate) struct ProofRules {
    pub(super) algorithms: Vec<Algorithm>,
    /// Seconds.
    pub(super) max_age: i64,
    /// Seconds.
    pub(super) future_skew: i64,
}

impl Default for ProofRules {
    fn default() -> Self {
        Self::new(&DEFAULT_ALGORITHMS)
    }
}

impl ProofRules {
    /// Rules accepting `algorithms`, with the default `iat` window. HMAC algorithms are left
    /// out whatever the caller asks (RFC 9449 §4.2: no MAC), and so is `none`, which
    /// [`Algorithm`] cannot even name. With nothing left, every proof is refused.
    pub(crate) fn new(algorithms: &[Algorithm]) -> Self {
        let mut kept: Vec<Algorithm> = Vec::with_capacity(algorithms.len());
        for &alg in algorithms {
            if !is_hmac(alg) && !kept.contains(&alg) {
                kept.push(alg);
            }
        }
        Self {
            algorithms: kept,
            max_age: secs(DEFAULT_MAX_AGE),
            future_skew: secs(DEFAULT_FUTURE_SKEW),
        }
    }

    /// Sets the `iat` window: at most `max_age` old, at most `future_skew` ahead.
    pub(crate) fn with_window(mut self, max_age: Duration, future_skew: Duration) -> Self {
        self.max_age = secs(max_age);
        self.future_skew = secs(future_skew);
        self
    }

    /// The accepted algorithms, in configuration order.
    pub(crate) fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The `algs` parameter of the `DPoP` challenge (RFC 9449 §7.1): the names, space-separated.
    pub(crate) fn algs_param(&self) -> String {
        let names: Vec<&str> = self.algorithms.iter().map(|a| a.name()).collect();
        names.join(" ")
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_algorithms_never_make_it_into_the_rules() {
        let rules = ProofRules::new(&[
            Algorithm::HS256,
            Algorithm::ES256,
            Algorithm::HS512,
            Algorithm::ES256,
            Algorithm::EdDSA,
        ]);
        assert_eq!(rules.algorithms(), [Algorithm::ES256, Algorithm::EdDSA]);
        assert_eq!(rules.algs_param(), "ES256 EdDSA");
        assert!(ProofRules::new(&[Algorithm::HS256]).algorithms().is_empty());
    }

    #[test]
    fn defaults() {
        let rules = ProofRules::default();
        assert_eq!(rules.algorithms(), DEFAULT_ALGORITHMS);
        assert_eq!(
            rules.algs_param(),
            "ES256 ES384 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"
        );
        assert_eq!((rules.max_age, rules.future_skew), (60, 10));
        let wider = rules.with_window(Duration::from_secs(300), Duration::from_secs(30));
        assert_eq!((wider.max_age, wider.future_skew), (300, 30));
    }
}
