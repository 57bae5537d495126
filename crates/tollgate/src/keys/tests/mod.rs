//! Tests of the key set: JWK parsing, signature verification, lookup, HTTP fetching,
//! discovery and the background loader (against tollgate-mock on 127.0.0.1).

mod fetch;
mod jwk;
mod loader;
mod verify;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::alg::Algorithm;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaEncoding, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{KeySetConfig, KeySource};

/// Every asymmetric algorithm.
const ASYMMETRIC: [Algorithm; 9] = crate::alg::DEFAULT_ALGORITHMS;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A configuration with short, test-friendly timings.
fn config(source: KeySource) -> KeySetConfig {
    KeySetConfig {
        source,
        metadata: super::MetadataUrls::Rfc8414First,
        honor_cache_control: true,
        algorithms: ASYMMETRIC.to_vec(),
        refresh_interval: Duration::from_secs(60),
        min_refresh: Duration::from_millis(50),
        max_refresh: Duration::from_secs(3600),
        unknown_kid_cooldown: Duration::from_secs(10),
        max_stale: Duration::from_secs(3600),
        max_body_bytes: 64 * 1024,
        fetch_timeout: Duration::from_secs(2),
        // The test server is on loopback: plain http passes whatever the issuer.
        url_rules: crate::url_rules::UrlRules::new("https://as.example", false),
        introspection_discovered: true,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Polls `check` until it holds; fails the test after 15 seconds. Generous on purpose: the
/// tests assert outcomes, not timings.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// RSA key generation is slow-ish; the tests share two 2048-bit keys.
fn rsa_key(index: usize) -> &'static RsaKeyPair {
    static KEYS: OnceLock<Vec<RsaKeyPair>> = OnceLock::new();
    &KEYS.get_or_init(|| {
        (0..2)
            .map(|_| RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap())
            .collect()
    })[index]
}

fn rsa_jwk(pair: &RsaKeyPair, kid: &str, alg: Option<&str>) -> Value {
    let public = pair.public_key();
    let mut jwk = json!({
        "kty": "RSA",
        "kid": kid,
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()),
    });
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

fn rsa_sign(pair: &RsaKeyPair, encoding: &'static dyn RsaEncoding, message: &[u8]) -> Vec<u8> {
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(encoding, &SystemRandom::new(), message, &mut signature)
        .unwrap();
    signature
}

fn ec_pair(alg: &'static signature::EcdsaSigningAlgorithm) -> EcdsaKeyPair {
    EcdsaKeyPair::generate(alg).unwrap()
}

fn ec_jwk(pair: &EcdsaKeyPair, kid: &str, crv: &str, alg: Option<&str>) -> Value {
    let point = pair.public_key().as_ref();
    let len = (point.len() - 1) / 2;
    let mut jwk = json!({
        "kty": "EC",
        "kid": kid,
        "crv": crv,
        "x": b64(&point[1..=len]),
        "y": b64(&point[1 + len..]),
    });
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

fn ed_jwk(pair: &Ed25519KeyPair, kid: &str, alg: Option<&str>) -> Value {
    let mut jwk = json!({
        "kty": "OKP",
        "kid": kid,
        "crv": "Ed25519",
        "x": b64(pair.public_key().as_ref()),
    });
    if let Some(alg) = alg {
        jwk["alg"] = json!(alg);
    }
    jwk
}

/// A P-256 JWK with a fresh key: cheap, for tests that need many distinct keys.
fn es256_jwk(kid: &str) -> Value {
    ec_jwk(
        &ec_pair(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
        kid,
        "P-256",
        None,
    )
}

fn jwks(keys: &[Value]) -> Value {
    json!({ "keys": keys })
}
