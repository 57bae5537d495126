//! The engine's security-event receiver: SETs verified with the trusted issuers' key sets,
//! and what they revoke applied like any other revocation (local memories, then the store).

use futures_util::future::BoxFuture;

use crate::engine::{Tollgate, now};
use crate::error::ConfigError;
use crate::events::{
    ReceiverBuilder, Revocation, RevocationSink, SecurityEventReceiver, SetVerifier, SignedSet,
    SinkError, Transmitter, VerifyError,
};
use crate::hash::TokenHash;
use crate::keys::KeyLookupError;
use crate::rules::RuleErrorKind;

/// Verifies SETs with the key set of the trusted issuer their `iss` names.
pub(crate) struct EngineKeys {
    engine: Tollgate,
}

/// Applies what accepted SETs revoke to the engine's memories and publishes it.
pub(crate) struct EngineSink {
    engine: Tollgate,
}

impl SetVerifier for EngineKeys {
    fn verify<'a>(&'a self, set: &'a SignedSet<'a>) -> BoxFuture<'a, Result<(), VerifyError>> {
        Box::pin(async move {
            let inner = &self.engine.inner;
            let Some(issuer) = inner
                .issuers
                .select(Some(set.issuer()))
                .and_then(|index| inner.issuers.get(index))
            else {
                return Err(VerifyError::unknown_key());
            };
            let mut keys = issuer.keys.snapshot();
            let unknown = keys.as_ref().is_none_or(|keys| {
                matches!(
                    keys.find(set.kid(), set.alg()),
                    Err(KeyLookupError::UnknownKey)
                )
            });
            if unknown {
                // One shared refetch per cooldown, as for access tokens with an unknown `kid`.
                keys = issuer.keys.refetch_unknown_kid().await;
            }
            let Some(keys) = keys else {
                return Err(VerifyError::unavailable(Some(issuer.keys.retry_after())));
            };
            // RFC 8725 §3.1: the key is bound to its algorithm; `find` refuses a mismatch.
            let key = keys
                .find(set.kid(), set.alg())
                .map_err(|_| VerifyError::unknown_key())?;
            if key.verify(set.signing_input(), set.signature()) {
                Ok(())
            } else {
                Err(VerifyError::bad_signature())
            }
        })
    }
}

impl RevocationSink for EngineSink {
    fn apply(&self, revocations: &[Revocation]) -> Result<(), SinkError> {
        let engine = &self.engine.inner.revocations;
        engine.ensure_started();
        let now = now();
        for revocation in revocations {
            // The receiver lets a transmitter speak only for the token issuers it is
            // configured with; each of those is a trusted issuer (checked at build).
            let Some(issuer) = engine.issuer_of(revocation.issuer()) else {
                continue;
            };
            match revocation {
                Revocation::Rule(rule) => match engine.learn_rule(issuer, rule, now) {
                    Ok(()) => {}
                    Err(error) if error.kind() == RuleErrorKind::Full => {
                        return Err(SinkError::full());
                    }
                    // The receiver made the rule from a checked SET; an invalid one names
                    // nothing a token could carry.
                    Err(_) => {}
                },
                Revocation::Token { token, until, .. } => {
                    engine.learn_token(issuer, TokenHash::from(*token), *until, now);
                }
            }
        }
        Ok(())
    }
}

impl Tollgate {
    /// A receiver of pushed Security Event Tokens (RFC 8935) for this engine: SETs are
    /// verified with the key set of the trusted issuer that signed them, and what they revoke
    /// is refused on every route of this instance and, with a shared store, of every
    /// instance.
    ///
    /// `builder` says where the receiver is (its audience) and whom it trusts. Without a
    /// [`Transmitter`], each trusted issuer that is not a template transmits events about
    /// its own tokens. A SET is verified with the key set of the trusted issuer its `iss`
    /// names (templates included), so a transmitter must be a trusted issuer; its token
    /// issuers must be trusted too. Repeated SETs are recognised per instance (a SET pushed
    /// to two instances is applied by both, which changes nothing: rules merge). The rules' lifetimes and leeway are the engine's
    /// (`TollgateBuilder::longest_token_lifetime`, `TollgateBuilder::leeway`), whatever the
    /// builder says: the engine refuses tokens that would outlive them.
    ///
    /// ```
    /// use tollgate::Tollgate;
    /// use tollgate::events::SecurityEventReceiver;
    ///
    /// let gate = Tollgate::builder()
    ///     .issuer("https://auth.example.com")
    ///     .audience("https://api.example.com")
    ///     .build()
    ///     .unwrap();
    /// let receiver = gate
    ///     .security_event_receiver(SecurityEventReceiver::builder(
    ///         "https://api.example.com/security-events",
    ///     ))
    ///     .unwrap();
    /// // Mount `receiver` at /security-events, e.g. `Router::route_service`.
    /// # drop(receiver);
    /// ```
    ///
    /// # Errors
    /// A [`ConfigError`] from [`ReceiverBuilder::build`], or a transmitter that speaks for an
    /// issuer this engine does not trust.
    pub fn security_event_receiver(
        &self,
        mut builder: ReceiverBuilder,
    ) -> Result<SecurityEventReceiver, ConfigError> {
        let revocations = &self.inner.revocations;
        if !builder.has_transmitters() {
            for issuer in self.inner.issuers.iter() {
                if !issuer.claims.issuer.is_template() {
                    builder = builder.transmitter(Transmitter::new(issuer.name()));
                }
            }
        }
        if let Some(untrusted) = builder
            .token_issuers()
            .find(|iss| revocations.issuer_of(iss).is_none())
        {
            return Err(ConfigError::new(
                crate::error::ConfigErrorKind::Trust,
                format!(
                    "a security-event transmitter speaks for {untrusted:?}, which this engine \
                     does not trust"
                ),
            ));
        }
        let lifetimes = revocations.lifetimes;
        builder
            .longest_token_lifetime(lifetimes.longest)
            .leeway(lifetimes.leeway)
            .build(
                EngineKeys {
                    engine: self.clone(),
                },
                EngineSink {
                    engine: self.clone(),
                },
            )
    }
}
