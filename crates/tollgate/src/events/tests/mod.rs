//! The receiver's tests, against SETs made by tollgate-mock and verified with the mock's
//! published keys through tollgate's own key code.

mod dedup;
mod mapping;
mod refusals;
mod service;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tollgate_mock::MockAuthServer;
use tollgate_mock::events::{EventType, SecurityEventBuilder};

use super::*;
use crate::keys::{PublicJwkMembers, VerifyKey, single_public_key};

/// The receiver's audience in these tests.
const AUD: &str = "https://api.example/events";

/// A fixed clock: SETs are made with `iat` NOW and received at NOW.
const NOW: i64 = 1_800_000_000;

/// The default rule lifetime: 24 hours and the 60-second leeway.
const LIFE: i64 = 24 * 3600 + 60;

/// Verifies with the keys the mock's JWKS publishes, built by tollgate's key code, each under
/// the `kid` it was published with.
struct MockKeys(Vec<(Option<String>, Arc<VerifyKey>)>);

impl MockKeys {
    fn of(server: &MockAuthServer) -> Self {
        let jwks = server.jwks();
        let keys = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|jwk| {
                let text = |name: &str| jwk.get(name).and_then(Value::as_str);
                let alg = Algorithm::from_jwk_name(text("alg")?)?;
                let members = PublicJwkMembers {
                    kty: text("kty")?,
                    alg: text("alg"),
                    crv: text("crv"),
                    n: text("n"),
                    e: text("e"),
                    x: text("x"),
                    y: text("y"),
                };
                Some((
                    text("kid").map(str::to_owned),
                    single_public_key(&members, alg)?,
                ))
            })
            .collect();
        Self(keys)
    }
}

impl SetVerifier for MockKeys {
    fn verify<'a>(&'a self, set: &'a SignedSet<'a>) -> BoxFuture<'a, Result<(), VerifyError>> {
        let key = self
            .0
            .iter()
            .find(|(kid, key)| kid.as_deref() == set.kid() && key.alg == set.alg());
        let result = match key {
            None => Err(VerifyError::unknown_key()),
            Some((_, key)) if key.verify(set.signing_input(), set.signature()) => Ok(()),
            Some(_) => Err(VerifyError::bad_signature()),
        };
        Box::pin(async move { result })
    }
}

/// A verifier whose keys are not loaded.
struct NoKeysYet;

impl SetVerifier for NoKeysYet {
    fn verify<'a>(&'a self, _: &'a SignedSet<'a>) -> BoxFuture<'a, Result<(), VerifyError>> {
        Box::pin(async { Err(VerifyError::unavailable(Some(Duration::from_secs(7)))) })
    }
}

/// Collects what it is given; refuses everything while `full` is set.
#[derive(Clone, Default)]
struct Collect {
    applied: Arc<Mutex<Vec<Vec<Revocation>>>>,
    full: Arc<std::sync::atomic::AtomicBool>,
}

impl Collect {
    fn calls(&self) -> Vec<Vec<Revocation>> {
        self.applied.lock().unwrap().clone()
    }

    fn set_full(&self, full: bool) {
        self.full.store(full, std::sync::atomic::Ordering::SeqCst);
    }
}

impl RevocationSink for Collect {
    fn apply(&self, revocations: &[Revocation]) -> Result<(), SinkError> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SinkError::full());
        }
        self.applied.lock().unwrap().push(revocations.to_vec());
        Ok(())
    }
}

/// A receiver trusting `server` (for its own tokens), with `sink`.
fn receiver(server: &MockAuthServer, sink: Collect) -> SecurityEventReceiver {
    receiver_with(server, sink, |builder| builder)
}

fn receiver_with(
    server: &MockAuthServer,
    sink: Collect,
    configure: impl FnOnce(ReceiverBuilder) -> ReceiverBuilder,
) -> SecurityEventReceiver {
    configure(SecurityEventReceiver::builder(AUD).transmitter(Transmitter::new(server.issuer())))
        .build(MockKeys::of(server), sink)
        .unwrap()
}

/// A SET of `event` from `server`, for this receiver, issued at NOW.
fn set(server: &MockAuthServer, event: EventType) -> SecurityEventBuilder<'_> {
    server.security_event(event).audience(AUD).issued_at(NOW)
}

/// The refusal's status and code, for compact assertions.
fn code(result: Result<Receipt, Refusal>) -> Option<&'static str> {
    match result {
        Ok(receipt) => panic!("accepted: {receipt:?}"),
        Err(refusal) => refusal.code().map(ErrorCode::as_str),
    }
}
