//! Sender-constrained tokens from the client's side: DPoP keys and proofs (RFC 9449), and the
//! certificate thumbprint of RFC 8705.
//!
//! A [`DpopKey`] is the client's key pair. It makes proofs ([`DpopKey::proof`], a
//! [`ProofBuilder`] that can also make every kind of wrong proof), and its
//! [`thumbprint`](DpopKey::thumbprint) is the `cnf.jkt` of the tokens bound to it:
//! [`TokenBuilder::dpop_bound`](crate::TokenBuilder::dpop_bound) mints one directly, and the
//! token endpoint issues one for a request that carries a `DPoP` proof.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tollgate_mock::MockAuthServer;
//! use tollgate_mock::dpop::DpopKey;
//!
//! let server = MockAuthServer::start().await;
//! let key = DpopKey::generate();
//! let token = server.token().dpop_bound(&key).sign();
//!
//! // The two headers of a request to a resource server.
//! let headers = key.request_headers("GET", "https://api.example.com/orders?page=2", &token);
//! assert_eq!(headers["authorization"], format!("DPoP {token}"));
//! assert_eq!(headers["dpop"].to_str().unwrap().split('.').count(), 3);
//! # });
//! ```

mod proof;
pub(crate) mod verify;

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, header};
use jsonwebtoken::Algorithm;
use serde_json::Value;

pub use proof::ProofBuilder;

use crate::keys::SigningKey;

/// A client's DPoP key pair (RFC 9449 §4.2).
///
/// ES256 by default; [`DpopKey::with_algorithm`] makes RS256/384/512, PS256/384/512, ES384 or
/// EdDSA keys. Every key is freshly generated.
#[derive(Clone)]
pub struct DpopKey {
    key: SigningKey,
}

impl std::fmt::Debug for DpopKey {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.key.alg())
            .field("jkt", &self.thumbprint())
            .finish()
    }
}

impl DpopKey {
    /// A new ES256 (P-256) key.
    #[must_use]
    pub fn generate() -> DpopKey {
        DpopKey::with_algorithm(Algorithm::ES256)
    }

    /// A new key for `alg`.
    ///
    /// # Panics
    ///
    /// For HS256/384/512: DPoP keys are asymmetric (RFC 9449 §4.2). A proof *signed* with
    /// HMAC is [`ProofBuilder::signing_algorithm`]'s job.
    #[must_use]
    pub fn with_algorithm(alg: Algorithm) -> DpopKey {
        DpopKey {
            key: SigningKey::generate(alg),
        }
    }

    /// The algorithm the key signs proofs with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.key.alg()
    }

    /// The public JWK, with its required members only, as a proof's `jwk` header carries it.
    #[must_use]
    pub fn public_jwk(&self) -> Value {
        self.key.public_jwk()
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key, base64url: the `cnf.jkt` of tokens
    /// bound to this key (RFC 9449 §6.1).
    #[must_use]
    pub fn thumbprint(&self) -> String {
        jwk_thumbprint(&self.public_jwk()).expect("the mock's own JWKs have every member")
    }

    /// Starts a proof for a request: `htm` is `method`, `htu` is `url` without its query and
    /// fragment (RFC 9449 §4.2), `iat` now, `jti` random.
    pub fn proof(&self, method: &str, url: &str) -> ProofBuilder<'_> {
        ProofBuilder::new(self, method, url)
    }

    /// The two headers of a resource request with a DPoP-bound token: `Authorization: DPoP
    /// <token>` and a fresh `DPoP` proof with `ath` for the token (RFC 9449 §7.1).
    #[must_use]
    pub fn request_headers(&self, method: &str, url: &str, access_token: &str) -> HeaderMap {
        let proof = self.proof(method, url).access_token(access_token).sign();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("DPoP {access_token}"))
                .expect("tokens are visible ASCII"),
        );
        headers.insert(
            "dpop",
            HeaderValue::from_str(&proof).expect("a compact JWS is visible ASCII"),
        );
        headers
    }

    /// [`request_headers`](Self::request_headers) with the server's `nonce` in the proof
    /// (RFC 9449 §8): the retry after a `use_dpop_nonce` answer, with the value of its
    /// `DPoP-Nonce` header.
    #[must_use]
    pub fn request_headers_with_nonce(
        &self,
        method: &str,
        url: &str,
        access_token: &str,
        nonce: &str,
    ) -> HeaderMap {
        let proof = self
            .proof(method, url)
            .access_token(access_token)
            .nonce(nonce)
            .sign();
        let mut headers = self.request_headers(method, url, access_token);
        headers.insert(
            "dpop",
            HeaderValue::from_str(&proof).expect("a compact JWS is visible ASCII"),
        );
        headers
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK (`kty` RSA, EC or OKP), base64url; `None`
/// when a required member is missing or not a string.
#[must_use]
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    // RFC 7638 §3.2: the required members, in lexicographic order, no whitespace. Values are
    // quoted with serde_json; base64url and curve names need no escaping, so that is the text
    // §3.3 hashes.
    let names: &[&str] = match member("kty")? {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        let value = serde_json::to_string(member(name)?).ok()?;
        canonical.push_str(&format!("\"{name}\":{value}"));
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes())))
}

/// The RFC 8705 §3.1 `x5t#S256` of a certificate: base64url of the SHA-256 of its DER
/// encoding. [`TokenBuilder::certificate_bound`](crate::TokenBuilder::certificate_bound) puts
/// it into `cnf`.
#[must_use]
pub fn certificate_thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, der))
}

/// The RFC 9449 §4.2 `ath` of an access token: base64url of the SHA-256 of its ASCII octets.
#[must_use]
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, access_token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rfc_thumbprint_examples() {
        // RFC 9449 §6.1 and RFC 8037 Appendix A.3.
        let ec = json!({
            "kty": "EC", "crv": "P-256", "kid": "ignored",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        });
        assert_eq!(
            jwk_thumbprint(&ec).as_deref(),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
        let okp = json!({ "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" });
        assert_eq!(
            jwk_thumbprint(&okp).as_deref(),
            Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        );
        assert_eq!(
            jwk_thumbprint(&json!({ "kty": "EC", "crv": "P-256" })),
            None
        );
        assert_eq!(jwk_thumbprint(&json!({ "kty": "oct", "k": "AA" })), None);
        // RFC 9449 §7.1.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn keys_are_distinct_and_public_jwks_minimal() {
        let (a, b) = (DpopKey::generate(), DpopKey::generate());
        assert_ne!(a.thumbprint(), b.thumbprint());
        let jwk = a.public_jwk();
        let mut names: Vec<&String> = jwk.as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["crv", "kty", "x", "y"]);
        for alg in [Algorithm::RS256, Algorithm::ES384, Algorithm::EdDSA] {
            let key = DpopKey::with_algorithm(alg);
            assert_eq!(key.algorithm(), alg);
            assert_eq!(key.thumbprint().len(), 43);
        }
    }
}
