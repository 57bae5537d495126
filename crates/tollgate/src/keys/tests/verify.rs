//! Real signatures verified with the pre-parsed keys, and key lookup.

use std::sync::Arc;
use std::time::Instant;

use crate::alg::Algorithm;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, Ed25519KeyPair, RsaEncoding};
use aws_lc_rs::{hmac, signature::EcdsaKeyPair};
use serde_json::Value;

use super::{
    ASYMMETRIC, client, config, ec_jwk, ec_pair, ed_jwk, jwks, rsa_jwk, rsa_key, rsa_sign,
};
use crate::keys::jwk::parse_jwks;
use crate::keys::snapshot::{KeySnapshot, VerifyKey};
use crate::keys::{KeyLookupError, KeySet, KeySource};

const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";

fn only_key(jwk: Value) -> Arc<VerifyKey> {
    let body = serde_json::to_vec(&jwks(&[jwk])).unwrap();
    let mut parsed = parse_jwks(&body, &ASYMMETRIC, None).unwrap();
    assert_eq!(parsed.keys.len(), 1);
    parsed.keys.remove(0)
}

/// The key verifies its own signature, and refuses a changed message or signature.
fn assert_verifies(key: &VerifyKey, signature: &[u8]) {
    assert!(
        key.verify(MESSAGE, signature),
        "{:?} refuses a good signature",
        key.alg
    );
    let mut message = MESSAGE.to_vec();
    message[3] ^= 1;
    assert!(
        !key.verify(&message, signature),
        "{:?} accepts a changed message",
        key.alg
    );
    let mut tampered = signature.to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(
        !key.verify(MESSAGE, &tampered),
        "{:?} accepts a changed signature",
        key.alg
    );
    assert!(!key.verify(MESSAGE, &[]));
    assert!(!key.verify(MESSAGE, &signature[..signature.len() / 2]));
}

#[test]
fn rsa_pkcs1_and_pss_signatures_verify() {
    let pair = rsa_key(0);
    let cases: [(&str, &'static dyn RsaEncoding); 6] = [
        ("RS256", &signature::RSA_PKCS1_SHA256),
        ("RS384", &signature::RSA_PKCS1_SHA384),
        ("RS512", &signature::RSA_PKCS1_SHA512),
        ("PS256", &signature::RSA_PSS_SHA256),
        ("PS384", &signature::RSA_PSS_SHA384),
        ("PS512", &signature::RSA_PSS_SHA512),
    ];
    for (alg, encoding) in cases {
        let key = only_key(rsa_jwk(pair, "rsa", Some(alg)));
        assert_verifies(&key, &rsa_sign(pair, encoding, MESSAGE));
    }
    // A key is bound to its algorithm: the RS256 key refuses a PS256 signature of the same
    // message with the same private key, and the other way round.
    let rs256 = only_key(rsa_jwk(pair, "rsa", Some("RS256")));
    let ps256 = only_key(rsa_jwk(pair, "rsa", Some("PS256")));
    assert!(!rs256.verify(
        MESSAGE,
        &rsa_sign(pair, &signature::RSA_PSS_SHA256, MESSAGE)
    ));
    assert!(!ps256.verify(
        MESSAGE,
        &rsa_sign(pair, &signature::RSA_PKCS1_SHA256, MESSAGE)
    ));
    // Another key pair's signature.
    assert!(!rs256.verify(
        MESSAGE,
        &rsa_sign(rsa_key(1), &signature::RSA_PKCS1_SHA256, MESSAGE)
    ));
}

fn ecdsa_sign(pair: &EcdsaKeyPair) -> Vec<u8> {
    pair.sign(&SystemRandom::new(), MESSAGE)
        .unwrap()
        .as_ref()
        .to_vec()
}

#[test]
fn ecdsa_fixed_signatures_verify() {
    let p256 = ec_pair(&signature::ECDSA_P256_SHA256_FIXED_SIGNING);
    let key = only_key(ec_jwk(&p256, "p256", "P-256", None));
    assert_eq!(key.alg, Algorithm::ES256);
    let fixed = ecdsa_sign(&p256);
    assert_eq!(fixed.len(), 64);
    assert_verifies(&key, &fixed);
    // JWS uses R || S (RFC 7518 §3.4); an ASN.1 DER signature is refused.
    let der = ec_pair(&signature::ECDSA_P256_SHA256_ASN1_SIGNING);
    let der_key = only_key(ec_jwk(&der, "der", "P-256", None));
    assert!(!der_key.verify(MESSAGE, &ecdsa_sign(&der)));

    let p384 = ec_pair(&signature::ECDSA_P384_SHA384_FIXED_SIGNING);
    let key = only_key(ec_jwk(&p384, "p384", "P-384", Some("ES384")));
    assert_eq!(key.alg, Algorithm::ES384);
    assert_verifies(&key, &ecdsa_sign(&p384));
}

#[test]
fn ed25519_signatures_verify() {
    let pair = Ed25519KeyPair::generate().unwrap();
    let key = only_key(ed_jwk(&pair, "ed", None));
    assert_eq!(key.alg, Algorithm::EdDSA);
    assert_verifies(&key, pair.sign(MESSAGE).as_ref());
}

fn secret_set(secret: &[u8], algorithms: Vec<Algorithm>) -> KeySet {
    let mut config = config(KeySource::Secret(secret.to_vec()));
    config.algorithms = algorithms;
    KeySet::new(config, client())
}

#[test]
fn hmac_secret_is_ready_at_once_and_verifies() {
    let secret = [42u8; 64];
    // Built outside any runtime: nothing to start, nothing to wait for.
    let set = secret_set(
        &secret,
        vec![
            Algorithm::HS256,
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::RS256,
        ],
    );
    let snapshot = set.snapshot().unwrap();
    assert_eq!(snapshot.len(), 3);
    for (alg, algorithm) in [
        (Algorithm::HS256, hmac::HMAC_SHA256),
        (Algorithm::HS384, hmac::HMAC_SHA384),
        (Algorithm::HS512, hmac::HMAC_SHA512),
    ] {
        let tag = hmac::sign(&hmac::Key::new(algorithm, &secret), MESSAGE);
        // A secret has no kid: the header's kid does not matter.
        let key = snapshot.find(Some("whatever"), alg).unwrap();
        assert!(Arc::ptr_eq(key, snapshot.find(None, alg).unwrap()));
        assert_verifies(key, tag.as_ref());
        assert!(set.key_is_current(key));
    }
    let wrong = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, b"another secret of 32 bytes......"),
        MESSAGE,
    );
    assert!(
        !snapshot
            .find(None, Algorithm::HS256)
            .unwrap()
            .verify(MESSAGE, wrong.as_ref())
    );
    assert_eq!(
        snapshot.find(None, Algorithm::RS256).err(),
        Some(KeyLookupError::UnknownKey)
    );
    assert!(format!("{:?}", set).contains("Secret(..)"));
    // No key material in Debug output.
    assert_eq!(
        format!("{:?}", snapshot.find(None, Algorithm::HS256).unwrap()),
        "VerifyKey { kid: None, alg: HS256, .. }"
    );
}

#[test]
fn hmac_secret_shorter_than_the_hash_gives_no_key() {
    // RFC 7518 §3.2: 32 bytes are enough for HS256, not for HS384 or HS512.
    let set = secret_set(
        &[1; 32],
        vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
    );
    let snapshot = set.snapshot().unwrap();
    assert_eq!(snapshot.len(), 1);
    assert!(snapshot.find(None, Algorithm::HS256).is_ok());
    assert!(snapshot.find(None, Algorithm::HS512).is_err());
}

#[tokio::test]
async fn hmac_secret_set_needs_no_loader() {
    let set = secret_set(&[1; 32], vec![Algorithm::HS256]);
    assert!(set.wait_ready(std::time::Duration::ZERO).await);
    assert!(set.refetch_unknown_kid().await.is_some());
    assert_eq!(set.status().fetch_count, 0);
    assert!(set.status().loaded);
}

#[test]
fn find_by_kid_and_by_algorithm() {
    let body = serde_json::to_vec(&jwks(&[
        rsa_jwk(rsa_key(0), "rs-1", None),
        rsa_jwk(rsa_key(1), "rs-2", None),
        ec_jwk(
            &ec_pair(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
            "es",
            "P-256",
            None,
        ),
    ]))
    .unwrap();
    let keys = parse_jwks(&body, &ASYMMETRIC, None).unwrap().keys;
    let snapshot = KeySnapshot::new(keys.clone(), Instant::now(), false);

    let found = snapshot.find(Some("rs-2"), Algorithm::RS256).unwrap();
    assert!(Arc::ptr_eq(found, &keys[1]));
    // The key decides the algorithm, not the header.
    assert_eq!(
        snapshot.find(Some("rs-2"), Algorithm::PS256).err(),
        Some(KeyLookupError::AlgorithmMismatch)
    );
    assert_eq!(
        snapshot.find(Some("es"), Algorithm::RS256).err(),
        Some(KeyLookupError::AlgorithmMismatch)
    );
    assert_eq!(
        snapshot.find(Some("nope"), Algorithm::RS256).err(),
        Some(KeyLookupError::UnknownKey)
    );
    // Without kid: the single key of that algorithm, or refuse.
    assert!(Arc::ptr_eq(
        snapshot.find(None, Algorithm::ES256).unwrap(),
        &keys[2]
    ));
    assert_eq!(
        snapshot.find(None, Algorithm::RS256).err(),
        Some(KeyLookupError::Ambiguous)
    );
    assert_eq!(
        snapshot.find(None, Algorithm::EdDSA).err(),
        Some(KeyLookupError::UnknownKey)
    );

    assert!(snapshot.contains(&keys[0]));
    let other = parse_jwks(&body, &ASYMMETRIC, None).unwrap().keys;
    // Same content, another key object: not the one in the snapshot.
    assert!(!snapshot.contains(&other[0]));
}

#[test]
fn keys_without_kid_are_found_by_algorithm() {
    let mut jwk = ec_jwk(
        &ec_pair(&signature::ECDSA_P384_SHA384_FIXED_SIGNING),
        "",
        "P-384",
        None,
    );
    jwk.as_object_mut().unwrap().remove("kid");
    let key = only_key(jwk);
    assert_eq!(key.kid, None);
    let snapshot = KeySnapshot::new(vec![Arc::clone(&key)], Instant::now(), false);
    assert!(Arc::ptr_eq(
        snapshot.find(None, Algorithm::ES384).unwrap(),
        &key
    ));
    assert_eq!(
        snapshot.find(Some("x"), Algorithm::ES384).err(),
        Some(KeyLookupError::UnknownKey)
    );
    assert!(snapshot.contains(&key));
}
