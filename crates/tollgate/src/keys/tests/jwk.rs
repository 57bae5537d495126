//! JWK parsing: every key type and algorithm, and everything that must be left out.

use std::sync::Arc;
use std::time::Instant;

use crate::alg::Algorithm;
use aws_lc_rs::signature::{self, Ed25519KeyPair};
use serde_json::{Value, json};

use super::{ASYMMETRIC, b64, ec_jwk, ec_pair, ed_jwk, es256_jwk, jwks, rsa_jwk, rsa_key};
use crate::keys::jwk::{JwksError, MAX_KEYS, MAX_KID_LEN, ParsedJwks, parse_jwks};
use crate::keys::snapshot::KeySnapshot;

fn parse(keys: &[Value]) -> Result<ParsedJwks, JwksError> {
    parse_jwks(&serde_json::to_vec(&jwks(keys)).unwrap(), &ASYMMETRIC, None)
}

/// The (kid, alg) of every key that was kept.
fn kept(keys: &[Value]) -> Vec<(String, Algorithm)> {
    match parse(keys) {
        Ok(parsed) => parsed
            .keys
            .iter()
            .map(|key| (key.kid.clone().unwrap_or_default(), key.alg))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn p256(kid: &str, alg: Option<&str>) -> Value {
    ec_jwk(
        &ec_pair(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
        kid,
        "P-256",
        alg,
    )
}

fn p384(kid: &str, alg: Option<&str>) -> Value {
    ec_jwk(
        &ec_pair(&signature::ECDSA_P384_SHA384_FIXED_SIGNING),
        kid,
        "P-384",
        alg,
    )
}

fn ed(kid: &str, alg: Option<&str>) -> Value {
    ed_jwk(&Ed25519KeyPair::generate().unwrap(), kid, alg)
}

#[test]
fn rsa_keys_bind_their_declared_algorithm() {
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"] {
        let found = kept(&[rsa_jwk(rsa_key(0), "k", Some(alg))]);
        assert_eq!(found.len(), 1, "{alg}");
        assert_eq!(format!("{:?}", found[0].1), alg);
    }
}

#[test]
fn rsa_key_without_alg_is_rs256() {
    assert_eq!(
        kept(&[rsa_jwk(rsa_key(0), "k", None)]),
        [("k".to_owned(), Algorithm::RS256)]
    );
}

#[test]
fn ec_and_okp_keys_get_their_algorithm_from_the_curve() {
    let found = kept(&[
        p256("a", None),
        p384("b", None),
        ed("c", None),
        p256("d", Some("ES256")),
        p384("e", Some("ES384")),
        ed("f", Some("EdDSA")),
        // RFC 9864's fully-specified name.
        ed("g", Some("Ed25519")),
    ]);
    let algs: Vec<Algorithm> = found.iter().map(|(_, alg)| *alg).collect();
    assert_eq!(
        algs,
        [
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::EdDSA
        ]
    );
}

#[test]
fn declared_algorithm_must_fit_key_type_and_curve() {
    let rsa = |alg| rsa_jwk(rsa_key(0), "bad", Some(alg));
    for jwk in [
        rsa("ES256"),
        rsa("EdDSA"),
        // Never an HMAC key from a JWKS, whatever `alg` says.
        rsa("HS256"),
        p256("bad", Some("ES384")),
        p256("bad", Some("RS256")),
        p384("bad", Some("ES256")),
        ed("bad", Some("ES256")),
        p256("bad", Some("none")),
    ] {
        assert!(
            kept(&[jwk.clone(), p256("good", None)]) == [("good".to_owned(), Algorithm::ES256)],
            "{jwk}"
        );
    }
}

#[test]
fn symmetric_keys_are_never_taken_from_a_jwks() {
    let oct = json!({"kty": "oct", "kid": "hmac", "alg": "HS256", "k": b64(&[7; 32])});
    let alone = parse(std::slice::from_ref(&oct)).unwrap();
    assert!(alone.keys.is_empty());
    assert_eq!((alone.entries, alone.skipped), (1, 1));
    let why = alone.why_no_usable_key();
    assert!(why.contains("symmetric"), "{why}");
    assert_eq!(kept(&[oct, p256("good", None)]).len(), 1);
}

#[test]
fn keys_not_meant_for_verification_are_ignored() {
    let with = |mut jwk: Value, member: &str, value: Value| {
        jwk[member] = value;
        jwk
    };
    let found = kept(&[
        with(p256("enc", None), "use", json!("enc")),
        with(p256("other-use", None), "use", json!("tls")),
        with(
            p256("encrypt-op", None),
            "key_ops",
            json!(["encrypt", "wrapKey"]),
        ),
        with(p256("sig", None), "use", json!("sig")),
        with(
            p256("verify-op", None),
            "key_ops",
            json!(["sign", "verify"]),
        ),
        with(rsa_jwk(rsa_key(0), "oaep", None), "alg", json!("RSA-OAEP")),
    ]);
    let kids: Vec<&str> = found.iter().map(|(kid, _)| kid.as_str()).collect();
    assert_eq!(kids, ["sig", "verify-op"]);
}

#[test]
fn keys_with_invalid_parameters_are_skipped_and_the_others_kept() {
    let with = |mut jwk: Value, member: &str, value: Value| {
        jwk[member] = value;
        jwk
    };
    let good = p256("good", None);
    let bad = [
        with(p256("b64", None), "x", json!("not base64!!")),
        with(p256("short-x", None), "x", json!(b64(&[1; 31]))),
        with(p384("short-y", None), "y", json!(b64(&[1; 32]))),
        // On no curve at all: the crypto library refuses the point.
        with(p256("off-curve", None), "y", json!(b64(&[1; 32]))),
        with(ed("ed-short", None), "x", json!(b64(&[1; 31]))),
        with(rsa_jwk(rsa_key(0), "no-e", None), "e", Value::Null),
        with(
            rsa_jwk(rsa_key(0), "even-e", None),
            "e",
            json!(b64(&[1, 0, 0])),
        ),
        with(p256("no-crv", None), "crv", Value::Null),
        with(p256("bad-crv", None), "crv", json!("P-999")),
        with(p256("no-kty", None), "kty", Value::Null),
        with(p256("bad-kty", None), "kty", json!("DSA")),
        with(p256("kid-type", None), "kid", json!(42)),
        with(p256("private", None), "d", json!(b64(&[1; 32]))),
        json!(5),
        json!("a string"),
    ];
    for jwk in bad {
        assert_eq!(kept(&[jwk.clone(), good.clone()]).len(), 1, "{jwk}");
    }
}

#[test]
fn small_and_huge_rsa_moduli_are_refused() {
    for bits in [1024usize, 2040, 8200] {
        let mut n = vec![0xC5u8; bits / 8];
        n[0] = 0xFF;
        let jwk = json!({"kty": "RSA", "kid": "rsa", "n": b64(&n), "e": "AQAB"});
        assert!(kept(&[jwk]).is_empty(), "{bits} bits");
    }
}

#[test]
fn rsa_modulus_with_a_leading_zero_octet_is_accepted() {
    let mut jwk = rsa_jwk(rsa_key(0), "zero", None);
    let public = aws_lc_rs::signature::KeyPair::public_key(rsa_key(0));
    let mut n = vec![0];
    n.extend_from_slice(public.modulus().big_endian_without_leading_zero());
    jwk["n"] = json!(b64(&n));
    assert_eq!(kept(&[jwk]).len(), 1);
}

#[test]
fn unsupported_curves_are_ignored() {
    let key = |kty: &str, crv: &str| json!({"kty": kty, "kid": crv, "crv": crv, "x": b64(&[9; 57]), "y": b64(&[9; 66])});
    for jwk in [
        key("OKP", "Ed448"),
        key("OKP", "X25519"),
        key("EC", "P-521"),
        key("EC", "secp256k1"),
    ] {
        assert!(kept(std::slice::from_ref(&jwk)).is_empty(), "{jwk}");
    }
}

#[test]
fn algorithms_outside_the_allowlist_are_ignored() {
    let body = serde_json::to_vec(&jwks(&[
        rsa_jwk(rsa_key(0), "rs", None),
        rsa_jwk(rsa_key(0), "ps", Some("PS256")),
        p256("es", None),
    ]))
    .unwrap();
    // RS256 derived for the RSA key without `alg` is not allowed here either.
    let parsed = parse_jwks(&body, &[Algorithm::PS256], None).unwrap();
    assert_eq!(parsed.keys.len(), 1);
    assert_eq!(parsed.keys[0].kid.as_deref(), Some("ps"));
    assert_eq!(parsed.skipped, 2);
}

#[test]
fn duplicate_kids_keep_the_first_key() {
    let found = kept(&[p256("same", None), p384("same", None), p256("other", None)]);
    assert_eq!(
        found,
        [
            ("same".to_owned(), Algorithm::ES256),
            ("other".to_owned(), Algorithm::ES256)
        ]
    );
}

#[test]
fn a_broken_key_does_not_claim_its_kid() {
    let mut broken = p256("same", None);
    broken["x"] = json!("!!");
    assert_eq!(
        kept(&[broken, p384("same", None)]),
        [("same".to_owned(), Algorithm::ES384)]
    );
}

#[test]
fn long_kids_are_refused() {
    let long = "k".repeat(MAX_KID_LEN + 1);
    let ok = "k".repeat(MAX_KID_LEN);
    assert_eq!(kept(&[p256(&long, None), p256(&ok, None)]).len(), 1);
}

#[test]
fn the_number_of_entries_looked_at_is_bounded() {
    let one = p256("x", None);
    let many: Vec<Value> = (0..MAX_KEYS + 50)
        .map(|i| {
            let mut jwk = one.clone();
            jwk["kid"] = json!(format!("k{i}"));
            jwk
        })
        .collect();
    let parsed = parse(&many).unwrap();
    assert_eq!(parsed.keys.len(), MAX_KEYS);
    assert_eq!(parsed.skipped, 50);
}

#[test]
fn documents_that_are_not_jwk_sets_are_errors() {
    let allowed = &ASYMMETRIC;
    assert!(matches!(
        parse_jwks(b"<html>", allowed, None),
        Err(JwksError::NotJson(_))
    ));
    assert!(matches!(
        parse_jwks(b"", allowed, None),
        Err(JwksError::NotJson(_))
    ));
    for body in [
        &b"[1,2]"[..],
        b"{}",
        b"{\"keys\": 5}",
        b"{\"keys\": {}}",
        b"null",
    ] {
        assert!(
            matches!(
                parse_jwks(body, allowed, None),
                Err(JwksError::NotJwkSet(_))
            ),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // A JWK set without keys is a JWK set: the loader decides what an empty one means.
    let empty = parse_jwks(b"{\"keys\": []}", allowed, None).unwrap();
    assert!(empty.keys.is_empty());
    assert_eq!(
        empty.why_no_usable_key(),
        "no usable signature key (0 entries, 0 skipped)"
    );
    // Display never quotes the document.
    let err = parse_jwks(b"{\"keys\": \"secret-looking\"}", allowed, None).unwrap_err();
    assert!(!err.to_string().contains("secret-looking"), "{err}");
}

#[test]
fn unchanged_keys_are_reused_by_identity() {
    let a = p256("a", None);
    let b = rsa_jwk(rsa_key(0), "b", None);
    let body = serde_json::to_vec(&jwks(&[a.clone(), b.clone()])).unwrap();
    let first = parse_jwks(&body, &ASYMMETRIC, None).unwrap();
    let snapshot = KeySnapshot::new(first.keys.clone(), Instant::now(), false);

    // Same `a`; `b` now declares PS256 (a different key binding); a new `c`.
    let mut b_ps = b.clone();
    b_ps["alg"] = json!("PS256");
    let c = es256_jwk("c");
    let body = serde_json::to_vec(&jwks(&[c, b_ps, a])).unwrap();
    let second = parse_jwks(&body, &ASYMMETRIC, Some(&snapshot)).unwrap();
    let find = |kid: &str| {
        second
            .keys
            .iter()
            .find(|key| key.kid.as_deref() == Some(kid))
            .unwrap()
    };
    assert!(Arc::ptr_eq(find("a"), &first.keys[0]));
    assert!(!Arc::ptr_eq(find("b"), &first.keys[1]));
    assert_eq!(find("b").alg, Algorithm::PS256);
}
