//! The token endpoint's check of a DPoP proof (RFC 9449 §5): enough for a mock, not a model.
//!
//! It checks what binding needs: one proof, `typ`, an asymmetric `alg`, a public `jwk`, the
//! signature with that key, `htm` `POST`, `htu` the token endpoint and an `iat` within five
//! minutes. It keeps no replay cache and issues no nonces; resource servers under test do
//! the full checks.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use serde_json::{Map, Value};

use super::jwk_thumbprint;
use crate::util::now;

/// How far from now a proof's `iat` may be.
const IAT_WINDOW: i64 = 300;

/// The thumbprint (`jkt`) of the key of the request's valid proof; `Ok(None)` without a
/// `DPoP` header; a fixed description of what is wrong otherwise.
pub(crate) fn token_request_proof(
    headers: &HeaderMap,
    token_endpoint: &str,
) -> Result<Option<String>, &'static str> {
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("more than one DPoP header");
    }
    let proof = value.to_str().map_err(|_| "the DPoP header is not ASCII")?;
    check(proof, token_endpoint).map(Some)
}

fn check(proof: &str, token_endpoint: &str) -> Result<String, &'static str> {
    const MALFORMED: &str = "the DPoP proof is not a compact JWS";
    let mut parts = proof.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MALFORMED);
    };
    let decode = |segment: &str| URL_SAFE_NO_PAD.decode(segment).map_err(|_| MALFORMED);
    let object = |bytes: Vec<u8>| {
        serde_json::from_slice::<Map<String, Value>>(&bytes).map_err(|_| MALFORMED)
    };
    let header = object(decode(header_b64)?)?;
    let claims = object(decode(payload_b64)?)?;
    let signature = decode(signature_b64)?;

    let text = |map: &Map<String, Value>, name: &str| {
        map.get(name).and_then(Value::as_str).map(str::to_owned)
    };
    if !text(&header, "typ").is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt")) {
        return Err("typ is not dpop+jwt");
    }
    let alg = text(&header, "alg").ok_or("no alg")?;
    let jwk = header.get("jwk").ok_or("no jwk")?;
    if ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
        .iter()
        .any(|m| jwk.get(m).is_some())
    {
        return Err("the jwk contains a private key");
    }
    let message = format!("{header_b64}.{payload_b64}");
    if !verifies(&alg, jwk, message.as_bytes(), &signature) {
        return Err("the signature does not verify with the jwk, or alg is not asymmetric");
    }
    if text(&claims, "htm").as_deref() != Some("POST") {
        return Err("htm is not POST");
    }
    if text(&claims, "htu").as_deref() != Some(token_endpoint) {
        return Err("htu is not the token endpoint");
    }
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or("no iat")?;
    if (iat - now()).abs() > IAT_WINDOW {
        return Err("iat is not recent");
    }
    if text(&claims, "jti").is_none() {
        return Err("no jti");
    }
    jwk_thumbprint(jwk).ok_or("the jwk has no thumbprint")
}

fn verifies(alg: &str, jwk: &Value, message: &[u8], signature: &[u8]) -> bool {
    let member = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
    };
    let rsa: Option<&'static signature::RsaParameters> = match alg {
        "RS256" => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
        "RS384" => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
        "RS512" => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
        "PS256" => Some(&signature::RSA_PSS_2048_8192_SHA256),
        "PS384" => Some(&signature::RSA_PSS_2048_8192_SHA384),
        "PS512" => Some(&signature::RSA_PSS_2048_8192_SHA512),
        _ => None,
    };
    let kty = jwk.get("kty").and_then(Value::as_str);
    let crv = jwk.get("crv").and_then(Value::as_str);
    if let Some(params) = rsa {
        let (Some(n), Some(e), Some("RSA")) = (member("n"), member("e"), kty) else {
            return false;
        };
        return RsaPublicKeyComponents { n: &n, e: &e }
            .verify(params, message, signature)
            .is_ok();
    }
    let (verifier, key): (&'static dyn signature::VerificationAlgorithm, Vec<u8>) =
        match (alg, kty, crv) {
            ("ES256" | "ES384", Some("EC"), Some(crv)) => {
                let verifier: &'static dyn signature::VerificationAlgorithm = match (alg, crv) {
                    ("ES256", "P-256") => &signature::ECDSA_P256_SHA256_FIXED,
                    ("ES384", "P-384") => &signature::ECDSA_P384_SHA384_FIXED,
                    _ => return false,
                };
                let (Some(x), Some(y)) = (member("x"), member("y")) else {
                    return false;
                };
                let mut point = vec![0x04];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (verifier, point)
            }
            ("EdDSA" | "Ed25519", Some("OKP"), Some("Ed25519")) => {
                let Some(x) = member("x") else {
                    return false;
                };
                (&signature::ED25519, x)
            }
            _ => return false,
        };
    UnparsedPublicKey::new(verifier, key)
        .verify(message, signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use jsonwebtoken::Algorithm;

    use super::*;
    use crate::dpop::DpopKey;

    const ENDPOINT: &str = "http://127.0.0.1:1/token";

    fn headers(proofs: &[String]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for proof in proofs {
            headers.append("dpop", HeaderValue::from_str(proof).unwrap());
        }
        headers
    }

    #[test]
    fn good_proofs_give_their_key_thumbprint() {
        assert_eq!(token_request_proof(&headers(&[]), ENDPOINT), Ok(None));
        for alg in [
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::PS256,
        ] {
            let key = DpopKey::with_algorithm(alg);
            let proof = key.proof("POST", ENDPOINT).sign();
            assert_eq!(
                token_request_proof(&headers(&[proof]), ENDPOINT),
                Ok(Some(key.thumbprint())),
                "{alg:?}"
            );
        }
        let rsa = DpopKey::with_algorithm(Algorithm::RS256);
        let proof = rsa
            .proof("POST", ENDPOINT)
            .signing_algorithm(Algorithm::PS384)
            .sign();
        assert_eq!(
            token_request_proof(&headers(&[proof]), ENDPOINT),
            Ok(Some(rsa.thumbprint()))
        );
    }

    #[test]
    fn bad_proofs_are_refused() {
        let key = DpopKey::generate();
        let other = DpopKey::generate();
        let proof = || key.proof("POST", ENDPOINT);
        let cases = [
            proof().htm("GET").sign(),
            proof().htu("http://127.0.0.1:1/other").sign(),
            proof().typ("jwt").sign(),
            proof().signed_by(&other).sign(),
            proof().with_private_key().sign(),
            proof().signing_algorithm(Algorithm::HS256).sign(),
            proof().unsigned().sign(),
            proof().remove_header("jwk").sign(),
            proof().iat(now() - 3600).sign(),
            proof().remove_claim("jti").sign(),
            "not.a.jws".to_owned(),
        ];
        for bad in cases {
            assert!(
                token_request_proof(&headers(std::slice::from_ref(&bad)), ENDPOINT).is_err(),
                "{bad}"
            );
        }
        let good = proof().sign();
        assert!(token_request_proof(&headers(&[good.clone(), good]), ENDPOINT).is_err());
    }
}
