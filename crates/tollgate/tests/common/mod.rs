//! Shared helpers of tollgate's integration tests: a tollgate configured for a mock
//! authorization server. The helpers of any protected service's tests (answers, loopback and
//! in-process requests, polling) are tollgate-mock's, re-exported here.
#![allow(dead_code, unused_imports, missing_docs)]

use std::time::Duration;

use tollgate::{Introspection, Tollgate, TollgateBuilder};
use tollgate_mock::MockAuthServer;
pub use tollgate_mock::testing::{Answer, InProcess, client, eventually, get, send, serve};

/// A builder for `mock` with test-friendly timings.
pub fn builder(mock: &MockAuthServer) -> TollgateBuilder {
    Tollgate::builder()
        .issuer(mock.issuer())
        .audience(mock.audience())
        .realm("tollgate-test")
        .unknown_kid_cooldown(Duration::from_secs(60))
        .fetch_timeout(Duration::from_secs(2))
}

/// The same, with introspection using the mock's registered client.
pub fn hybrid_builder(mock: &MockAuthServer) -> TollgateBuilder {
    builder(mock).introspection(
        Introspection::client_secret_basic(mock.client_id(), mock.client_secret())
            .timeout(Duration::from_secs(1)),
    )
}

/// Builds the gate and waits until its keys are loaded.
pub async fn ready(builder: TollgateBuilder) -> Tollgate {
    let gate = builder.build().expect("valid configuration");
    assert!(
        gate.wait_for_keys(Duration::from_secs(10)).await,
        "keys did not load"
    );
    gate
}
