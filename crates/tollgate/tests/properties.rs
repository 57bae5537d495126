//! Property tests: random input and structured mutations of valid tokens, through the whole
//! validation path, against real keys from tollgate-mock.
//!
//! - Nothing panics.
//! - Nothing passes without a valid signature (checked independently with aws-lc-rs against
//!   the published JWK).
//! - Re-signed headers and time claims are accepted exactly when RFC 9068 §4 / RFC 8725 say.
//!
//! Case counts are bounded so that the suite stays fast in CI; `PROPTEST_CASES` raises them
//! for a longer local run.

mod common;

use std::collections::HashMap;

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use tollgate::Tollgate;
use tollgate_mock::Algorithm;
use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::{b64, oneshot, segment_json, unix_now};

/// A mock, a gate ready with its keys, and valid tokens of every key type, on a runtime of
/// their own (proptest's runner is synchronous).
struct Fixture {
    rt: tokio::runtime::Runtime,
    mock: MockAuthServer,
    gate: Tollgate,
    app: Router,
    rsa: String,
    es: String,
    /// Valid tokens: RS256, ES256, EdDSA.
    valid: Vec<String>,
    /// The published keys by `kid`.
    jwks: HashMap<String, Value>,
}

impl Fixture {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (mock, gate, rsa, es, valid) = rt.block_on(async {
            let mock = MockAuthServer::start().await;
            let rsa = mock.signing_kid();
            let es = mock.add_key(Algorithm::ES256);
            let ed = mock.add_key(Algorithm::EdDSA);
            let gate = common::ready(common::builder(&mock)).await;
            let valid = vec![
                mock.token().sign(),
                mock.token().kid(&es).sign(),
                mock.token().kid(&ed).sign(),
            ];
            (mock, gate, rsa, es, valid)
        });
        let jwks = mock.jwks()["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| (k["kid"].as_str().expect("kid").to_owned(), k.clone()))
            .collect();
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(gate.layer());
        let fixture = Self {
            rt,
            mock,
            gate,
            app,
            rsa,
            es,
            valid,
            jwks,
        };
        for token in &fixture.valid {
            assert!(fixture.accepts(token), "a valid token was refused");
            assert!(fixture.signature_verifies(token));
        }
        fixture
    }

    fn accepts(&self, token: &str) -> bool {
        self.rt.block_on(self.gate.validate(token)).is_ok()
    }

    /// The status of a request with these `Authorization` field values, through the layer.
    fn status(&self, values: &[Vec<u8>]) -> u16 {
        let mut request = http::Request::get("/");
        for value in values {
            match http::HeaderValue::from_bytes(value) {
                Ok(value) => request = request.header(http::header::AUTHORIZATION, value),
                Err(_) => continue,
            }
        }
        let request = request.body(Body::empty()).expect("request");
        self.rt.block_on(oneshot(self.app.clone(), request)).status
    }

    /// Whether `token`'s signature verifies under the published key its header names, checked
    /// without tollgate: the oracle for "nothing passes without a valid signature".
    fn signature_verifies(&self, token: &str) -> bool {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, _, signature] = parts[..] else {
            return false;
        };
        let signed = &token[..token.rfind('.').expect("dot")];
        let Some(header) = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        else {
            return false;
        };
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        // Without `kid`, any published key may be the one.
        let keys: Vec<&Value> = match header["kid"].as_str() {
            Some(kid) => self.jwks.get(kid).into_iter().collect(),
            None => self.jwks.values().collect(),
        };
        keys.into_iter()
            .any(|jwk| verify_with_jwk(jwk, signed.as_bytes(), &signature))
    }
}

/// Verifies with the algorithm the JWK names (the mock always names one).
fn verify_with_jwk(jwk: &Value, message: &[u8], sig: &[u8]) -> bool {
    let b64 = |member: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[member].as_str().unwrap_or_default())
            .unwrap_or_default()
    };
    match jwk["alg"].as_str() {
        Some("RS256") => RsaPublicKeyComponents {
            n: b64("n"),
            e: b64("e"),
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
        .is_ok(),
        Some("ES256") => {
            let mut point = vec![4u8];
            point.extend(b64("x"));
            point.extend(b64("y"));
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_ok()
        }
        Some("EdDSA") => UnparsedPublicKey::new(&signature::ED25519, b64("x"))
            .verify(message, sig)
            .is_ok(),
        _ => false,
    }
}

fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    TestRunner::new(Config {
        cases,
        // No regression files written into the source tree from CI; failures print their input.
        failure_persistence: None,
        ..Config::default()
    })
}

/// Strings that look more or less like tokens: the base64url alphabet, dots, and some noise.
fn tokenish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,40}(\\.[A-Za-z0-9_-]{0,200}){0,5}",
        "[A-Za-z0-9_.~+/=-]{0,400}",
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

#[test]
fn random_strings_never_pass_and_never_panic() {
    let f = Fixture::new();
    runner(512)
        .run(&tokenish(), |token| {
            let accepted = f.accepts(&token);
            prop_assert!(
                !accepted || f.signature_verifies(&token),
                "accepted: {token:?}"
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn random_authorization_headers_get_400_or_401_never_a_pass() {
    let f = Fixture::new();
    let value = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        tokenish().prop_map(|t| format!("Bearer {t}").into_bytes()),
        tokenish().prop_map(|t| format!("bEaReR  {t} ").into_bytes()),
        "(Basic|Bearer|DPoP|Token)?[ \t]{0,3}[A-Za-z0-9._~+/= \"-]{0,100}"
            .prop_map(String::into_bytes),
    ];
    runner(256)
        .run(&prop::collection::vec(value, 0..3), |values| {
            let status = f.status(&values);
            prop_assert!(status == 400 || status == 401, "{status} for {values:?}");
            Ok(())
        })
        .unwrap();
}

/// One structural change to a token string.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the byte at this position (modulo the length) with this character.
    Replace(usize, char),
    /// Delete `len` bytes from this position.
    Delete(usize, usize),
    /// Insert a string at this position.
    Insert(usize, String),
    /// Cut the token at this position.
    Truncate(usize),
    /// Swap two of the three segments.
    Swap(usize, usize),
    /// Take each segment from one of the valid tokens.
    Splice([usize; 3]),
    /// Re-encode the header with this member set to this value; the signature stays.
    Header(String, Value),
    /// Re-encode the payload with this claim set to this value; the signature stays.
    Claim(String, Value),
    /// Flip one bit of the decoded signature.
    FlipSignatureBit(usize),
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-zA-Z0-9+/:. _-]{0,20}".prop_map(Value::from),
        Just(json!("none")),
        Just(json!("HS256")),
        Just(json!("at+jwt")),
        Just(json!(["exp"])),
        Just(json!({"kty": "oct", "k": "c2VjcmV0"})),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let member = prop_oneof![
        Just("alg"),
        Just("typ"),
        Just("kid"),
        Just("crit"),
        Just("jku"),
        Just("jwk"),
        Just("b64"),
        Just("x"),
    ];
    let claim = prop_oneof![
        Just("iss"),
        Just("sub"),
        Just("aud"),
        Just("exp"),
        Just("nbf"),
        Just("iat"),
        Just("scope"),
        Just("client_id"),
        Just("jti"),
        Just("admin"),
    ];
    prop_oneof![
        (any::<usize>(), prop::char::any()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<usize>(), 1..20usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), "[A-Za-z0-9._=~+/ -]{1,12}").prop_map(|(i, s)| Mutation::Insert(i, s)),
        any::<usize>().prop_map(Mutation::Truncate),
        (0..3usize, 0..3usize).prop_map(|(a, b)| Mutation::Swap(a, b)),
        [0..3usize, 0..3usize, 0..3usize].prop_map(Mutation::Splice),
        (member, json_value()).prop_map(|(m, v)| Mutation::Header(m.to_owned(), v)),
        (claim, json_value()).prop_map(|(c, v)| Mutation::Claim(c.to_owned(), v)),
        any::<usize>().prop_map(Mutation::FlipSignatureBit),
    ]
}

/// The JSON object in a base64url segment, if it is one.
fn decode_object(segment: &str) -> Option<serde_json::Map<String, Value>> {
    match segment_json(segment)? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Applies one mutation to `token`; a structural one that does not fit the token (it no longer
/// has three segments, say) leaves it as it is.
fn mutate(token: &str, valid: &[String], mutation: &Mutation) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    let segments: Vec<&str> = token.split('.').collect();
    let three = segments.len() == 3;
    match mutation {
        Mutation::Replace(i, c) => {
            if bytes.is_empty() {
                return c.to_string();
            }
            let i = at(*i, bytes.len());
            let mut buf = [0u8; 4];
            bytes.splice(i..i + 1, c.encode_utf8(&mut buf).bytes());
        }
        Mutation::Delete(i, n) => {
            let i = at(*i, bytes.len());
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Insert(i, s) => {
            let i = at(*i, bytes.len() + 1);
            bytes.splice(i..i, s.bytes());
        }
        Mutation::Truncate(i) => bytes.truncate(at(*i, bytes.len())),
        Mutation::Swap(a, b) if three => {
            let mut parts = segments.clone();
            parts.swap(*a, *b);
            return parts.join(".");
        }
        Mutation::Splice(from) => {
            let parts: Vec<&str> = (0..3)
                .map(|i| {
                    valid[from[i] % valid.len()]
                        .split('.')
                        .nth(i)
                        .expect("segment")
                })
                .collect();
            return parts.join(".");
        }
        Mutation::Header(name, value) if three => {
            if let Some(mut header) = decode_object(segments[0]) {
                header.insert(name.clone(), value.clone());
                let header = b64(Value::Object(header).to_string());
                return format!("{header}.{}.{}", segments[1], segments[2]);
            }
        }
        Mutation::Claim(name, value) if three => {
            if let Some(mut claims) = decode_object(segments[1]) {
                claims.insert(name.clone(), value.clone());
                let claims = b64(Value::Object(claims).to_string());
                return format!("{}.{claims}.{}", segments[0], segments[2]);
            }
        }
        Mutation::FlipSignatureBit(bit) if three => {
            if let Ok(mut sig) = URL_SAFE_NO_PAD.decode(segments[2])
                && !sig.is_empty()
            {
                let bit = bit % (sig.len() * 8);
                sig[bit / 8] ^= 1 << (bit % 8);
                return format!("{}.{}.{}", segments[0], segments[1], b64(sig));
            }
        }
        Mutation::Swap(..)
        | Mutation::Header(..)
        | Mutation::Claim(..)
        | Mutation::FlipSignatureBit(_) => {}
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn mutated_valid_tokens_pass_only_with_a_valid_signature() {
    let f = Fixture::new();
    let strategy = (0..3usize, prop::collection::vec(mutation(), 1..4));
    runner(512)
        .run(&strategy, |(which, mutations)| {
            let token = mutations.iter().fold(f.valid[which].clone(), |token, m| {
                mutate(&token, &f.valid, m)
            });
            if f.accepts(&token) {
                prop_assert!(
                    f.signature_verifies(&token),
                    "accepted without a valid signature: {token}"
                );
                prop_assert!(
                    f.valid.contains(&token),
                    "a changed token was accepted: {token}"
                );
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn resigned_headers_are_accepted_exactly_when_the_rules_say() {
    let f = Fixture::new();
    let payload = f.rt.block_on(async { f.mock.token().claims() });
    let alg = prop_oneof![
        Just(Some("RS256")),
        Just(Some("PS256")),
        Just(Some("RS512")),
        Just(Some("ES256")),
        Just(Some("HS256")),
        Just(Some("none")),
        Just(Some("rs256")),
        Just(Some("")),
        Just(None),
    ];
    let typ = prop_oneof![
        Just(Some("at+jwt")),
        Just(Some("AT+JWT")),
        Just(Some("application/at+jwt")),
        Just(Some("Application/At+Jwt")),
        Just(Some("JWT")),
        Just(Some("jwt")),
        Just(Some("at+jwt ")),
        Just(Some("application/jwt")),
        Just(None),
    ];
    // 0: the signing key's kid, 1: the EC key's, 2: unknown, 3: none.
    let kid = 0..4usize;
    let crit = prop_oneof![
        Just(None),
        Just(Some(json!([]))),
        Just(Some(json!(["exp"])))
    ];
    let strategy = (alg, typ, kid, crit, any::<bool>());
    runner(256)
        .run(&strategy, |(alg, typ, kid, crit, with_jku)| {
            let mut header = serde_json::Map::new();
            if let Some(alg) = alg {
                header.insert("alg".into(), json!(alg));
            }
            if let Some(typ) = typ {
                header.insert("typ".into(), json!(typ));
            }
            let kid_value = match kid {
                0 => Some(f.rsa.clone()),
                1 => Some(f.es.clone()),
                2 => Some("unknown-kid".to_owned()),
                _ => None,
            };
            if let Some(kid) = &kid_value {
                header.insert("kid".into(), json!(kid));
            }
            if let Some(crit) = &crit {
                header.insert("crit".into(), crit.clone());
            }
            if with_jku {
                header.insert("jku".into(), json!("http://127.0.0.1:9/jwks"));
            }
            // Always signed by the RSA key with RS256, whatever the header says.
            let token = f.mock.sign_raw(&Value::Object(header), &payload, &f.rsa);
            let typ_ok = typ.is_some_and(|t| {
                let t = t.to_ascii_lowercase();
                t == "at+jwt" || t == "application/at+jwt"
            });
            // Without kid the RS256 key is the only RS256 key: it is found.
            let expected = alg == Some("RS256") && typ_ok && (kid == 0 || kid == 3) && crit.is_none();
            let accepted = f.accepts(&token);
            if accepted != expected {
                return Err(TestCaseError::fail(format!(
                    "alg {alg:?} typ {typ:?} kid #{kid} crit {crit:?}: accepted {accepted}, expected {expected}"
                )));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn time_claims_are_accepted_exactly_within_the_leeway() {
    let f = Fixture::new();
    let leeway = 60;
    // Offsets from now, away from the edges by more than a slow clock tick.
    let offset = prop_oneof![-100_000i64..-70, -50i64..50, 70i64..100_000];
    let strategy = (
        offset.clone(),
        prop::option::of(offset.clone()),
        prop::option::of(offset),
    );
    runner(256)
        .run(&strategy, |(exp, nbf, iat)| {
            let now = unix_now();
            let mut builder = f.mock.token().expires_at(now + exp);
            builder = match nbf {
                Some(nbf) => builder.not_before(now + nbf),
                None => builder.remove_claim("nbf"),
            };
            builder = match iat {
                Some(iat) => builder.issued_at(now + iat),
                None => builder.remove_claim("iat"),
            };
            let token = f.rt.block_on(async { builder.sign() });
            // RFC 7519 §4.1.4-6 with one leeway; `iat` is required in strict mode (RFC 9068);
            // a token may live at most the longest token lifetime, 24 h by default, so that
            // revocation rules can expire (both times come from the same `now`: exact).
            let expected = exp > -leeway
                && nbf.is_none_or(|nbf| nbf <= leeway)
                && iat.is_some_and(|iat| iat <= leeway && exp - iat <= 24 * 3600);
            let accepted = f.accepts(&token);
            prop_assert_eq!(
                accepted,
                expected,
                "exp {} nbf {:?} iat {:?}",
                exp,
                nbf,
                iat
            );
            Ok(())
        })
        .unwrap();
}
