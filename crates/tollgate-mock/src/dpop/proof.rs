//! `ProofBuilder`: DPoP proof JWTs (RFC 9449 §4.2), right or wrong in any chosen way.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::{DpopKey, access_token_hash};
use crate::keys::alg_name;
use crate::util::{now, random_token};

/// How the proof is signed.
#[derive(Debug, Clone, Copy)]
enum Signature {
    /// With the signing key's own algorithm, or the one chosen.
    Algorithm(Option<Algorithm>),
    /// No signature at all: an empty third segment.
    Unsigned,
}

/// Builds a DPoP proof (RFC 9449 §4.2) for one request; made by [`DpopKey::proof`].
///
/// The defaults make a proof a correct resource server accepts (for a request without an
/// access token; add [`access_token`](Self::access_token) for one with):
///
/// - header `{"typ": "dpop+jwt", "alg": <the key's>, "jwk": <the public key>}`;
/// - claims `jti` (128 random bits), `htm`, `htu` (the URL without query and fragment) and
///   `iat` (now).
///
/// Every setter can also make the proof wrong: another `typ` or `alg`, private members in the
/// `jwk`, an old `iat`, another key's signature, no signature at all.
///
/// ```
/// use tollgate_mock::dpop::DpopKey;
///
/// let key = DpopKey::generate();
/// let proof = key.proof("POST", "https://api.example.com/orders").access_token("a-token").sign();
/// assert_eq!(proof.split('.').count(), 3);
/// // A proof of the wrong method, an hour old, with the private key in its header.
/// let wrong = key.proof("GET", "https://api.example.com/orders")
///     .iat(1_700_000_000)
///     .with_private_key()
///     .sign();
/// assert_ne!(proof, wrong);
/// ```
#[must_use = "a ProofBuilder does nothing until `sign` is called"]
pub struct ProofBuilder<'a> {
    key: &'a DpopKey,
    signer: &'a DpopKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signature: Signature,
}

impl std::fmt::Debug for ProofBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofBuilder")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

impl<'a> ProofBuilder<'a> {
    pub(super) fn new(key: &'a DpopKey, method: &str, url: &str) -> ProofBuilder<'a> {
        let mut header = Map::new();
        header.insert("typ".into(), "dpop+jwt".into());
        header.insert("alg".into(), alg_name(key.algorithm()).into());
        header.insert("jwk".into(), key.public_jwk());
        let mut claims = Map::new();
        claims.insert("jti".into(), random_token(16).into());
        claims.insert("htm".into(), method.into());
        // RFC 9449 §4.2: the target URI without query and fragment.
        let htu = &url[..url.find(['?', '#']).unwrap_or(url.len())];
        claims.insert("htu".into(), htu.into());
        claims.insert("iat".into(), now().into());
        ProofBuilder {
            key,
            signer: key,
            header,
            claims,
            signature: Signature::Algorithm(None),
        }
    }

    /// Sets `typ`. Defaults to `"dpop+jwt"`.
    pub fn typ(self, typ: impl Into<Value>) -> Self {
        self.header("typ", typ)
    }

    /// Sets the header's `alg` only; the signature is still made with the key's algorithm (or
    /// the one of [`signing_algorithm`](Self::signing_algorithm)).
    pub fn alg(self, alg: impl Into<Value>) -> Self {
        self.header("alg", alg)
    }

    /// Signs with `alg` and names it in the header. An RSA key signs any RS*/PS* algorithm;
    /// HS256/384/512 sign with an HMAC keyed by the public key's PEM text, the
    /// algorithm-confusion attack of RFC 8725 §2.1.
    ///
    /// # Panics
    ///
    /// At [`sign`](Self::sign), when the key cannot sign `alg` (an EC key and another curve's
    /// algorithm, an Ed25519 key and anything but EdDSA).
    pub fn signing_algorithm(mut self, alg: Algorithm) -> Self {
        self.signature = Signature::Algorithm(Some(alg));
        self.header("alg", alg_name(alg))
    }

    /// `alg: "none"` and an empty signature segment.
    pub fn unsigned(mut self) -> Self {
        self.signature = Signature::Unsigned;
        self.header("alg", "none")
    }

    /// Signs with `other`'s key while the header still carries this key's `jwk`: the signature
    /// cannot verify.
    pub fn signed_by(mut self, other: &'a DpopKey) -> Self {
        self.signer = other;
        self
    }

    /// Replaces the `jwk` header (any JSON value).
    pub fn jwk(self, jwk: impl Into<Value>) -> Self {
        self.header("jwk", jwk)
    }

    /// Adds or replaces one member of the `jwk` header.
    pub fn jwk_member(mut self, name: &str, value: impl Into<Value>) -> Self {
        if let Some(Value::Object(jwk)) = self.header.get_mut("jwk") {
            jwk.insert(name.to_owned(), value.into());
        }
        self
    }

    /// Adds the private key to the `jwk` header: the real `d` for EC and Ed25519 keys, one of
    /// the right size for RSA keys. RFC 9449 §4.3 makes receivers refuse it.
    pub fn with_private_key(self) -> Self {
        let d = self.key.signing_key().private_d();
        self.jwk_member("d", d)
    }

    /// Adds or replaces any header member (`kid`, `crit`, `x5c`, ...).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a header member, default or not (`jwk`, `typ`, ...).
    pub fn remove_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Sets `jti`. Defaults to 128 random bits, base64url.
    pub fn jti(self, jti: impl Into<Value>) -> Self {
        self.claim("jti", jti)
    }

    /// Sets `htm`.
    pub fn htm(self, htm: impl Into<Value>) -> Self {
        self.claim("htm", htm)
    }

    /// Sets `htu` as given (nothing stripped).
    pub fn htu(self, htu: impl Into<Value>) -> Self {
        self.claim("htu", htu)
    }

    /// Sets `iat` (seconds since the epoch). Defaults to now.
    pub fn iat(self, iat: i64) -> Self {
        self.claim("iat", iat)
    }

    /// Sets `ath` to the hash of `access_token` (RFC 9449 §4.2), as a proof sent with that
    /// token needs.
    pub fn access_token(self, access_token: &str) -> Self {
        self.claim("ath", access_token_hash(access_token))
    }

    /// Sets `ath` as given.
    pub fn ath(self, ath: impl Into<Value>) -> Self {
        self.claim("ath", ath)
    }

    /// Sets `nonce`, the value of a server's `DPoP-Nonce` (RFC 9449 §8, §9).
    pub fn nonce(self, nonce: impl Into<Value>) -> Self {
        self.claim("nonce", nonce)
    }

    /// Adds or replaces any claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim, default or not.
    pub fn remove_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// The compact proof, for the `DPoP` header.
    #[must_use]
    pub fn sign(self) -> String {
        let header = serde_json::to_vec(&self.header).expect("JSON values serialize");
        let claims = serde_json::to_vec(&self.claims).expect("JSON values serialize");
        let mut proof = URL_SAFE_NO_PAD.encode(header);
        proof.push('.');
        proof.push_str(&URL_SAFE_NO_PAD.encode(claims));
        let signature = match self.signature {
            Signature::Unsigned => Vec::new(),
            Signature::Algorithm(alg) => {
                let key = self.signer.signing_key();
                key.sign_with(alg.unwrap_or(key.alg()), proof.as_bytes())
            }
        };
        proof.push('.');
        proof.push_str(&URL_SAFE_NO_PAD.encode(signature));
        proof
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(proof: &str, index: usize) -> Value {
        let segment = proof.split('.').nth(index).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
    }

    #[test]
    fn defaults_follow_rfc_9449() {
        let key = DpopKey::generate();
        let proof = key
            .proof("PUT", "https://api.example.com/a/b?c=d#e")
            .access_token("tok")
            .sign();
        let header = part(&proof, 0);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"], key.public_jwk());
        let claims = part(&proof, 1);
        assert_eq!(claims["htm"], "PUT");
        assert_eq!(claims["htu"], "https://api.example.com/a/b");
        assert_eq!(claims["ath"], access_token_hash("tok"));
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        assert!(claims["iat"].as_i64().unwrap() > 1_700_000_000);
        let other = key.proof("PUT", "https://api.example.com/a/b").sign();
        assert_ne!(part(&other, 1)["jti"], claims["jti"]);
    }

    #[test]
    fn wrong_proofs() {
        let key = DpopKey::generate();
        let unsigned = key.proof("GET", "https://x/").unsigned().sign();
        assert!(unsigned.ends_with('.'));
        assert_eq!(part(&unsigned, 0)["alg"], "none");
        let private = key.proof("GET", "https://x/").with_private_key().sign();
        assert_eq!(part(&private, 0)["jwk"]["d"].as_str().unwrap().len(), 43);
        let hmac = key
            .proof("GET", "https://x/")
            .signing_algorithm(Algorithm::HS256)
            .sign();
        assert_eq!(part(&hmac, 0)["alg"], "HS256");
        let stripped = key
            .proof("GET", "https://x/")
            .remove_header("jwk")
            .remove_claim("jti")
            .sign();
        assert!(part(&stripped, 0).get("jwk").is_none());
        assert!(part(&stripped, 1).get("jti").is_none());
    }
}
