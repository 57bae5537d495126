//! Every proof rule, table-driven, with proofs made by tollgate-mock's DPoP client helper.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Map, Value, json};
use tollgate_mock::Algorithm;
use tollgate_mock::dpop::DpopKey;

use super::binding::{BindingError, Confirmation};
use super::error::ProofError;
use super::nonce::{NonceStatus, Nonces};
use super::proof::{ProofRequest, VerifiedProof, verify, verify_value};
use super::replay::{LocalReplayCache, ReplayCache, ReplayError};
use super::rules::ProofRules;
use super::thumbprint::Thumbprint;
use super::uri::TargetUri;

const URL: &str = "https://api.example.com/orders/1";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(secs).unwrap()
}

fn uri() -> TargetUri {
    TargetUri::parse(URL).unwrap()
}

/// Checks `proof` for `GET URL` with `TOKEN`, default rules, no nonces.
fn check(proof: &str) -> Result<VerifiedProof, ProofError> {
    check_with(proof, &ProofRules::default(), None)
}

fn check_with(
    proof: &str,
    rules: &ProofRules,
    nonces: Option<&Nonces>,
) -> Result<VerifiedProof, ProofError> {
    let uri = uri();
    let request = ProofRequest {
        method: &Method::GET,
        uri: &uri,
        access_token: Some(TOKEN),
    };
    verify_value(proof, &request, rules, nonces, now())
}

fn thumbprint(key: &DpopKey) -> Thumbprint {
    Thumbprint::from_b64(&key.thumbprint()).unwrap()
}

#[test]
fn good_proofs_pass_and_name_their_key() {
    let key = DpopKey::generate();
    let verified = check(&key.proof("GET", URL).access_token(TOKEN).sign()).unwrap();
    assert_eq!(verified.thumbprint, thumbprint(&key));
    assert_eq!(verified.nonce, None);
    // The replay entry lives as long as the proof could be accepted: iat + 60 s.
    let until = verified.replay.until - now();
    assert!((58..=61).contains(&until), "{until}");

    for alg in [Algorithm::ES384, Algorithm::EdDSA, Algorithm::RS256] {
        let key = DpopKey::with_algorithm(alg);
        let verified = check(&key.proof("GET", URL).access_token(TOKEN).sign());
        assert_eq!(
            verified.map(|v| v.thumbprint),
            Ok(thumbprint(&key)),
            "{alg:?}"
        );
    }
    // An RSA key without `alg` in its JWK signs PS256 just as well.
    let rsa = DpopKey::with_algorithm(Algorithm::RS256);
    let proof = rsa
        .proof("GET", URL)
        .access_token(TOKEN)
        .signing_algorithm(Algorithm::PS256)
        .sign();
    assert_eq!(check(&proof).map(|v| v.thumbprint), Ok(thumbprint(&rsa)));
}

#[test]
fn equivalent_spellings_pass() {
    let key = DpopKey::generate();
    let good = |builder: tollgate_mock::dpop::ProofBuilder<'_>| {
        let proof = builder.access_token(TOKEN).sign();
        assert_eq!(check(&proof).map(|v| v.thumbprint), Ok(thumbprint(&key)));
    };
    // RFC 9449 §4.3, RFC 3986 §6.2.2 and §6.2.3.
    good(
        key.proof("GET", URL)
            .htu("HTTPS://API.Example.COM:443/orders/./1"),
    );
    good(
        key.proof("GET", URL)
            .htu("https://api.example.com/orders/%31"),
    );
    good(
        key.proof("GET", URL)
            .htu("https://api.example.com/orders/1?page=2#top"),
    );
    // RFC 7515 §4.1.9: media types are case-insensitive and `application/` may be left out.
    good(key.proof("GET", URL).typ("DPoP+JWT"));
    good(key.proof("GET", URL).typ("application/dpop+jwt"));
    // Members RFC 9449 does not define are ignored, in the header and the claims.
    good(
        key.proof("GET", URL)
            .header("kid", "k1")
            .claim("extra", json!({"a": 1})),
    );
    good(
        key.proof("GET", URL)
            .jwk_member("use", "sig")
            .jwk_member("alg", "ES256"),
    );
    // The edges of the iat window: 60 s back, 10 s ahead.
    good(key.proof("GET", URL).iat(now() - 58));
    good(key.proof("GET", URL).iat(now() + 9));
    // The request URI may carry its query; only the proof's key and claims matter.
    let uri = TargetUri::parse("https://API.example.com:443/orders/1?x=y").unwrap();
    let request = ProofRequest {
        method: &Method::GET,
        uri: &uri,
        access_token: None,
    };
    // Without an access token (a token endpoint), `ath` is not required.
    let proof = key.proof("GET", URL).sign();
    assert!(verify_value(&proof, &request, &ProofRules::default(), None, now()).is_ok());
}

#[test]
fn every_rule_refuses_its_wrong_proof() {
    use ProofError as E;
    let key = DpopKey::generate();
    let other = DpopKey::generate();
    let p = || key.proof("GET", URL).access_token(TOKEN);
    let oversized = p().claim("padding", "x".repeat(8 * 1024)).sign();
    let cases: Vec<(&str, String, ProofError)> = vec![
        // Step 2: one well-formed JWS.
        ("not a JWS", "not-a-jws".into(), E::Malformed),
        ("two segments", "eyJhIjoxfQ.eyJhIjoxfQ".into(), E::Malformed),
        ("four segments", format!("{}.e30", p().sign()), E::Malformed),
        ("padded base64", format!("{}=", p().sign()), E::Malformed),
        ("oversized", oversized, E::Malformed),
        (
            "alg none, no signature",
            p().unsigned().sign(),
            E::Malformed,
        ),
        (
            "crit",
            p().header("crit", json!(["exp"])).sign(),
            E::Extension,
        ),
        // Step 4.
        ("typ jwt", p().typ("jwt").sign(), E::Type),
        ("typ at+jwt", p().typ("at+jwt").sign(), E::Type),
        (
            "typ text/dpop+jwt",
            p().typ("text/dpop+jwt").sign(),
            E::Type,
        ),
        ("typ missing", p().remove_header("typ").sign(), E::Type),
        // Step 5.
        ("alg none, signed", p().alg("none").sign(), E::Algorithm),
        (
            "HS256 proof",
            p().signing_algorithm(Algorithm::HS256).sign(),
            E::Algorithm,
        ),
        (
            "HS512 proof",
            p().signing_algorithm(Algorithm::HS512).sign(),
            E::Algorithm,
        ),
        ("alg es256", p().alg("es256").sign(), E::Algorithm),
        ("alg ES512", p().alg("ES512").sign(), E::Algorithm),
        ("alg missing", p().remove_header("alg").sign(), E::Algorithm),
        // Step 7, and a key that fits the algorithm.
        (
            "jwk missing",
            p().remove_header("jwk").sign(),
            E::MissingKey,
        ),
        (
            "private key in jwk",
            p().with_private_key().sign(),
            E::PrivateKey,
        ),
        (
            "symmetric member",
            p().jwk_member("k", "AAAA").sign(),
            E::PrivateKey,
        ),
        (
            "null private member",
            p().jwk_member("d", Value::Null).sign(),
            E::PrivateKey,
        ),
        ("jwk not for alg", p().alg("RS256").sign(), E::UnusableKey),
        (
            "jwk alg differs",
            p().jwk_member("alg", "ES384").sign(),
            E::UnusableKey,
        ),
        (
            "jwk wrong curve",
            p().jwk_member("crv", "P-384").sign(),
            E::UnusableKey,
        ),
        (
            "jwk kty oct",
            p().jwk(json!({"kty": "oct"})).sign(),
            E::UnusableKey,
        ),
        ("jwk not an object", p().jwk("key").sign(), E::Malformed),
        (
            "jwk x padded",
            {
                let x = key.public_jwk()["x"].as_str().unwrap().to_owned();
                p().jwk_member("x", format!("{x}=")).sign()
            },
            E::UnusableKey,
        ),
        // Step 6.
        (
            "another key's signature",
            p().signed_by(&other).sign(),
            E::Signature,
        ),
        (
            "another key's jwk",
            p().jwk(other.public_jwk()).sign(),
            E::Signature,
        ),
        // Signature before claims: a forged proof learns nothing from the claim checks.
        (
            "forged and wrong htm",
            p().htm("POST").signed_by(&other).sign(),
            E::Signature,
        ),
        // Step 3 and step 8 to 12.
        ("jti missing", p().remove_claim("jti").sign(), E::Jti),
        ("jti empty", p().jti("").sign(), E::Jti),
        ("jti number", p().jti(7).sign(), E::Jti),
        ("jti too long", p().jti("j".repeat(257)).sign(), E::Jti),
        ("htm missing", p().remove_claim("htm").sign(), E::Htm),
        ("htm not a string", p().htm(json!(["GET"])).sign(), E::Htm),
        ("wrong htm", p().htm("POST").sign(), E::HtmMismatch),
        ("htm lower case", p().htm("get").sign(), E::HtmMismatch),
        ("htu missing", p().remove_claim("htu").sign(), E::Htu),
        ("htu relative", p().htu("/orders/1").sign(), E::Htu),
        ("htu not a string", p().htu(1).sign(), E::Htu),
        (
            "wrong htu path",
            p().htu("https://api.example.com/orders/2").sign(),
            E::HtuMismatch,
        ),
        (
            "htu path case",
            p().htu("https://api.example.com/Orders/1").sign(),
            E::HtuMismatch,
        ),
        (
            "htu other host",
            p().htu("https://evil.example/orders/1").sign(),
            E::HtuMismatch,
        ),
        (
            "htu plain http",
            p().htu("http://api.example.com/orders/1").sign(),
            E::HtuMismatch,
        ),
        (
            "htu other port",
            p().htu("https://api.example.com:8443/orders/1").sign(),
            E::HtuMismatch,
        ),
        ("iat missing", p().remove_claim("iat").sign(), E::Iat),
        (
            "iat string",
            p().claim("iat", now().to_string()).sign(),
            E::Iat,
        ),
        ("old iat", p().iat(now() - 120).sign(), E::TooOld),
        ("ancient iat", p().iat(0).sign(), E::TooOld),
        ("future iat", p().iat(now() + 60).sign(), E::InFuture),
        (
            "far future iat",
            p().claim("iat", 1e300).sign(),
            E::InFuture,
        ),
        ("ath missing", key.proof("GET", URL).sign(), E::AthMissing),
        ("ath number", p().ath(1).sign(), E::AthMissing),
        (
            "wrong ath",
            p().access_token("another-token").sign(),
            E::AthMismatch,
        ),
        (
            "ath of the whole header",
            p().ath(format!("DPoP {TOKEN}")).sign(),
            E::AthMismatch,
        ),
    ];
    for (name, proof, expected) in cases {
        assert_eq!(check(&proof).err(), Some(expected), "{name}");
    }
}

#[test]
fn allowlist_is_the_configured_one() {
    let ed = DpopKey::with_algorithm(Algorithm::EdDSA);
    let proof = ed.proof("GET", URL).access_token(TOKEN).sign();
    assert!(check(&proof).is_ok());
    let es256_only = ProofRules::new(&[crate::alg::Algorithm::ES256, crate::alg::Algorithm::HS256]);
    assert_eq!(
        check_with(&proof, &es256_only, None).err(),
        Some(ProofError::Algorithm)
    );
    // A narrower window.
    let strict = ProofRules::default().with_window(Duration::from_secs(5), Duration::ZERO);
    let key = DpopKey::generate();
    let old = key
        .proof("GET", URL)
        .access_token(TOKEN)
        .iat(now() - 30)
        .sign();
    assert!(check(&old).is_ok());
    assert_eq!(
        check_with(&old, &strict, None).err(),
        Some(ProofError::TooOld)
    );
}

fn headers(values: &[&[u8]]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append("dpop", HeaderValue::from_bytes(value).unwrap());
    }
    headers
}

#[test]
fn exactly_one_dpop_header() {
    let key = DpopKey::generate();
    let proof = key.proof("GET", URL).access_token(TOKEN).sign();
    let uri = uri();
    let request = ProofRequest {
        method: &Method::GET,
        uri: &uri,
        access_token: Some(TOKEN),
    };
    let run = |h: &HeaderMap| verify(h, &request, &ProofRules::default(), None, now()).err();
    assert_eq!(run(&headers(&[proof.as_bytes()])), None);
    assert_eq!(run(&headers(&[])), Some(ProofError::Missing));
    // RFC 9449 §4.3 step 1, also when a second header carries the same proof.
    let second = key.proof("GET", URL).access_token(TOKEN).sign();
    assert_eq!(
        run(&headers(&[proof.as_bytes(), second.as_bytes()])),
        Some(ProofError::Multiple)
    );
    assert_eq!(
        run(&headers(&[proof.as_bytes(), proof.as_bytes()])),
        Some(ProofError::Multiple)
    );
    // Two proofs folded into one field value.
    let folded = format!("{proof}, {second}");
    assert_eq!(
        run(&headers(&[folded.as_bytes()])),
        Some(ProofError::Malformed)
    );
    assert_eq!(
        run(&headers(&[&b"\xff\xfe"[..]])),
        Some(ProofError::Malformed)
    );
}

#[test]
fn nonces_required_missing_stale_and_current() {
    let nonces = Nonces::with_secret(&[9u8; 32], Duration::from_secs(300)).unwrap();
    let rules = ProofRules::default();
    let key = DpopKey::generate();
    let p = || key.proof("GET", URL).access_token(TOKEN);
    let current = nonces.issue(now());
    let verified = check_with(&p().nonce(current.as_str()).sign(), &rules, Some(&nonces));
    assert_eq!(verified.map(|v| v.nonce), Ok(Some(NonceStatus::Current)));
    let previous = nonces.issue(now() - 300);
    let verified = check_with(&p().nonce(previous.as_str()).sign(), &rules, Some(&nonces));
    assert_eq!(verified.map(|v| v.nonce), Ok(Some(NonceStatus::Previous)));
    let stale = nonces.issue(now() - 900);
    let other_server = Nonces::with_secret(&[8u8; 32], Duration::from_secs(300)).unwrap();
    for (name, proof, expected) in [
        ("missing", p().sign(), ProofError::NonceMissing),
        (
            "not a string",
            p().nonce(5).sign(),
            ProofError::NonceMissing,
        ),
        (
            "stale",
            p().nonce(stale.as_str()).sign(),
            ProofError::NonceRejected,
        ),
        (
            "made up",
            p().nonce("abc").sign(),
            ProofError::NonceRejected,
        ),
        (
            "another server's",
            p().nonce(other_server.issue(now())).sign(),
            ProofError::NonceRejected,
        ),
    ] {
        let error = check_with(&proof, &rules, Some(&nonces)).err();
        assert_eq!(error, Some(expected), "{name}");
        assert_eq!(expected.code().as_str(), "use_dpop_nonce");
    }
    // Without required nonces, a nonce claim is ignored.
    assert!(check(&p().nonce("anything").sign()).is_ok());
}

#[test]
fn a_replayed_proof_is_refused() {
    let cache = ReplayCache::Local(LocalReplayCache::new(100));
    let key = DpopKey::generate();
    let proof = key.proof("GET", URL).access_token(TOKEN).sign();
    let first = check(&proof).unwrap();
    assert_eq!(cache.first_use(&first.replay, now()), Ok(()));
    let again = check(&proof).unwrap();
    assert_eq!(
        cache.first_use(&again.replay, now()),
        Err(ReplayError::Replayed)
    );
    // The same jti in a fresh proof by the same key is a replay too; by another key it is not.
    let same_jti = key
        .proof("GET", URL)
        .access_token(TOKEN)
        .jti("fixed")
        .sign();
    let by_other = DpopKey::generate()
        .proof("GET", URL)
        .access_token(TOKEN)
        .jti("fixed")
        .sign();
    assert_eq!(
        cache.first_use(&check(&same_jti).unwrap().replay, now()),
        Ok(())
    );
    let same_jti_again = key
        .proof("GET", URL)
        .access_token(TOKEN)
        .jti("fixed")
        .sign();
    assert_eq!(
        cache.first_use(&check(&same_jti_again).unwrap().replay, now()),
        Err(ReplayError::Replayed)
    );
    assert_eq!(
        cache.first_use(&check(&by_other).unwrap().replay, now()),
        Ok(())
    );
}

/// The claims of a tollgate-mock JWT, unverified.
fn claims_of(token: &str) -> Map<String, Value> {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn bindings_of_mock_tokens() {
    let server = tollgate_mock::MockAuthServer::start().await;
    let key = DpopKey::generate();
    let other = DpopKey::generate();
    let bound =
        Confirmation::from_claims(&claims_of(&server.token().dpop_bound(&key).sign())).unwrap();
    let unbound = Confirmation::from_claims(&claims_of(&server.token().sign())).unwrap();
    let proof = |k: &DpopKey| check(&k.proof("GET", URL).access_token(TOKEN).sign()).unwrap();

    assert_eq!(bound.check(Some(&proof(&key).thumbprint), None), Ok(()));
    // Mismatched jkt: a valid proof by another key.
    assert_eq!(
        bound.check(Some(&proof(&other).thumbprint), None),
        Err(BindingError::KeyMismatch)
    );
    // A bound token as Bearer (RFC 9449 §7.2), and a proof without a bound token.
    assert_eq!(
        bound.check(None, None),
        Err(BindingError::BoundTokenAsBearer)
    );
    assert_eq!(
        unbound.check(Some(&proof(&key).thumbprint), None),
        Err(BindingError::NotDpopBound)
    );
    assert_eq!(unbound.check(None, None), Ok(()));
    // A malformed jkt from the AS refuses the token rather than leave it unbound.
    let garbled = server.token().dpop_bound_to("not-a-thumbprint").sign();
    assert_eq!(
        Confirmation::from_claims(&claims_of(&garbled)),
        Err(BindingError::MalformedCnf)
    );
}
