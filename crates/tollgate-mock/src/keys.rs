//! Signing keys: generation, signing, their JWK and PEM forms, and the server's key set.
//!
//! Signing goes straight through aws-lc-rs rather than `jsonwebtoken::encode`, so that a test can
//! control every byte of the header (`sign_raw`, `sign_raw_bytes`).
//!
//! RSA key generation takes tens of milliseconds, so the key material of a server's initial key
//! and of the "unpublished" look-alike keys comes from a process-wide cache: every server in a
//! test binary shares it (each server still has its own `kid`s). Keys made by `add_key` are always
//! fresh, and so is the initial key when the builder asks for `fresh_key()`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair as _, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::shapes::KeyStyle;
use crate::util::random_token;

/// The kind of key material an algorithm needs; keys of one kind are interchangeable material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Kind {
    fn of(alg: Algorithm) -> Kind {
        match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Kind::Rsa,
            Algorithm::ES256 => Kind::P256,
            Algorithm::ES384 => Kind::P384,
            Algorithm::EdDSA => Kind::Ed25519,
            other => panic!(
                "tollgate-mock: {other:?} is not an asymmetric signing algorithm; a JWKS publishes \
                 only RS256/384/512, PS256/384/512, ES256/384 and EdDSA keys"
            ),
        }
    }
}

/// Private key material of one key.
enum Material {
    Rsa(RsaKeyPair),
    /// With the one algorithm the curve signs (ES256 for P-256, ES384 for P-384).
    Ec(EcdsaKeyPair, Algorithm),
    Ed(Ed25519KeyPair),
}

impl Material {
    fn generate(kind: Kind) -> Material {
        let rng = SystemRandom::new();
        match kind {
            Kind::Rsa => Material::Rsa(
                RsaKeyPair::generate(KeySize::Rsa2048).expect("aws-lc-rs: RSA key generation"),
            ),
            Kind::P256 | Kind::P384 => {
                let (alg, jws_alg) = if kind == Kind::P256 {
                    (&ECDSA_P256_SHA256_FIXED_SIGNING, Algorithm::ES256)
                } else {
                    (&ECDSA_P384_SHA384_FIXED_SIGNING, Algorithm::ES384)
                };
                let pkcs8 =
                    EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("aws-lc-rs: EC key generation");
                let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).expect("aws-lc-rs: EC key");
                Material::Ec(key, jws_alg)
            }
            Kind::Ed25519 => {
                let pkcs8 =
                    Ed25519KeyPair::generate_pkcs8(&rng).expect("aws-lc-rs: Ed25519 generation");
                Material::Ed(
                    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("aws-lc-rs: Ed25519 key"),
                )
            }
        }
    }

    /// DER `SubjectPublicKeyInfo` (RFC 5280) of the public half.
    fn spki_der(&self) -> Vec<u8> {
        let der: PublicKeyX509Der<'static> = match self {
            Material::Rsa(k) => k.public_key().as_der(),
            Material::Ec(k, _) => k.public_key().as_der(),
            Material::Ed(k) => k.public_key().as_der(),
        }
        .expect("aws-lc-rs: public key encoding");
        der.as_ref().to_vec()
    }
}

/// Which slot of the process-wide cache a key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    Initial,
    Unpublished,
    /// A server shape's second key: the ID-token key of Cognito and Hydra, Keycloak's
    /// encryption key.
    Secondary,
}

fn cached_material(kind: Kind, role: Role) -> Arc<Material> {
    type Slot = Arc<OnceLock<Arc<Material>>>;
    static CACHE: OnceLock<Mutex<HashMap<(Kind, Role), Slot>>> = OnceLock::new();
    let slot = {
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        cache.entry((kind, role)).or_default().clone()
    };
    // Generated outside the map's lock: a thread that wants an EC key does not wait for
    // another's RSA key; threads that want the same key wait for the one generation.
    slot.get_or_init(|| Arc::new(Material::generate(kind)))
        .clone()
}

/// One key bound to one algorithm and one `kid`.
#[derive(Clone)]
pub(crate) struct SigningKey {
    kid: String,
    alg: Algorithm,
    material: Arc<Material>,
    /// A self-signed X.509 certificate (DER) of the public key, for the shapes whose JWKS
    /// carries `x5c` / `x5t` (see `shapes::keys`).
    certificate: Option<Arc<[u8]>>,
}

impl std::fmt::Debug for SigningKey {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn new(alg: Algorithm, material: Arc<Material>) -> SigningKey {
        let prefix = format!("{alg:?}").to_ascii_lowercase();
        SigningKey {
            kid: format!("{prefix}-{}", random_token(6)),
            alg,
            material,
            certificate: None,
        }
    }

    /// A new key with fresh material.
    pub(crate) fn generate(alg: Algorithm) -> SigningKey {
        SigningKey::new(alg, Arc::new(Material::generate(Kind::of(alg))))
    }

    /// A new key (own `kid`) whose material comes from the process-wide cache.
    pub(crate) fn shared(alg: Algorithm) -> SigningKey {
        SigningKey::new(alg, cached_material(Kind::of(alg), Role::Initial))
    }

    /// A new key (own `kid`) whose material comes from the process-wide cache slot for a
    /// shape's second key, so that it differs from the initial key's.
    pub(crate) fn shared_secondary(alg: Algorithm) -> SigningKey {
        SigningKey::new(alg, cached_material(Kind::of(alg), Role::Secondary))
    }

    /// A key of the same kind as `self` that no JWKS ever publishes, carrying `kid`.
    pub(crate) fn impostor(&self, kid: String) -> SigningKey {
        SigningKey {
            kid,
            alg: self.alg,
            material: cached_material(Kind::of(self.alg), Role::Unpublished),
            certificate: None,
        }
    }

    /// The same key under another `kid`.
    pub(crate) fn with_kid(mut self, kid: String) -> SigningKey {
        self.kid = kid;
        self
    }

    /// The same key with a certificate (DER) of its public key.
    pub(crate) fn with_certificate(mut self, der: Vec<u8>) -> SigningKey {
        self.certificate = Some(der.into());
        self
    }

    pub(crate) fn certificate(&self) -> Option<&[u8]> {
        self.certificate.as_deref()
    }

    /// Whether the material is RSA (it then signs every RS* and PS* algorithm).
    pub(crate) fn is_rsa(&self) -> bool {
        matches!(*self.material, Material::Rsa(_))
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Signs `message` with `alg`, which must suit the key material. HS256/384/512 use the key's
    /// SPKI PEM text as the HMAC secret: the algorithm-confusion attack of RFC 8725 §2.1.
    pub(crate) fn sign_with(&self, alg: Algorithm, message: &[u8]) -> Vec<u8> {
        let hmac_alg = match alg {
            Algorithm::HS256 => Some(hmac::HMAC_SHA256),
            Algorithm::HS384 => Some(hmac::HMAC_SHA384),
            Algorithm::HS512 => Some(hmac::HMAC_SHA512),
            _ => None,
        };
        if let Some(hmac_alg) = hmac_alg {
            let key = hmac::Key::new(hmac_alg, self.public_key_pem().as_bytes());
            return hmac::sign(&key, message).as_ref().to_vec();
        }
        let rng = SystemRandom::new();
        match (&*self.material, alg) {
            (Material::Rsa(key), alg) => {
                let encoding: &'static dyn signature::RsaEncoding = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                    Algorithm::PS512 => &signature::RSA_PSS_SHA512,
                    other => panic!("tollgate-mock: an RSA key cannot sign {other:?}"),
                };
                let mut sig = vec![0; key.public_modulus_len()];
                key.sign(encoding, &rng, message, &mut sig)
                    .expect("aws-lc-rs: RSA signing");
                sig
            }
            (Material::Ec(key, curve_alg), alg) => {
                assert_eq!(
                    alg, *curve_alg,
                    "tollgate-mock: this EC key signs only {curve_alg:?}"
                );
                key.sign(&rng, message)
                    .expect("aws-lc-rs: ECDSA signing")
                    .as_ref()
                    .to_vec()
            }
            (Material::Ed(key), alg) => {
                assert_eq!(
                    alg,
                    Algorithm::EdDSA,
                    "tollgate-mock: an Ed25519 key signs only EdDSA"
                );
                key.sign(message).as_ref().to_vec()
            }
        }
    }

    /// The public key as DER `SubjectPublicKeyInfo`.
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        self.material.spki_der()
    }

    /// The public key as a PEM `PUBLIC KEY` (SPKI) block.
    pub(crate) fn public_key_pem(&self) -> String {
        let b64 = STANDARD.encode(self.material.spki_der());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// The public JWK (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2), with `kid`, `use` and `alg`.
    pub(crate) fn jwk(&self) -> Value {
        let mut jwk = self.public_jwk();
        let obj = jwk.as_object_mut().expect("a JWK is an object");
        obj.insert("kid".into(), self.kid.clone().into());
        obj.insert("use".into(), "sig".into());
        obj.insert("alg".into(), alg_name(self.alg).into());
        jwk
    }

    /// The public JWK with its required members only (RFC 7638 §3.2): what a DPoP proof's
    /// `jwk` header carries.
    pub(crate) fn public_jwk(&self) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match &*self.material {
            Material::Rsa(key) => {
                let public = key.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Material::Ec(key, curve_alg) => {
                // Uncompressed point: 0x04 || x || y.
                let point = key.public_key().as_ref();
                let (x, y) = point[1..].split_at((point.len() - 1) / 2);
                let crv = if *curve_alg == Algorithm::ES256 {
                    "P-256"
                } else {
                    "P-384"
                };
                json!({ "kty": "EC", "crv": crv, "x": b64(x), "y": b64(y) })
            }
            Material::Ed(key) => {
                json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(key.public_key().as_ref()) })
            }
        }
    }

    /// The private member `d` of the JWK (RFC 7518 §6.2.2.1, RFC 8037 §2), for tests of
    /// receivers that must refuse a leaked private key. aws-lc-rs does not export an RSA
    /// key's private exponent, so an RSA key gets a placeholder `d` of the right size.
    pub(crate) fn private_d(&self) -> String {
        use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin, EcPrivateKeyBin};
        match &*self.material {
            Material::Rsa(key) => URL_SAFE_NO_PAD.encode(vec![0x5a; key.public_modulus_len()]),
            Material::Ec(key, _) => {
                let d: EcPrivateKeyBin<'static> = key
                    .private_key()
                    .as_be_bytes()
                    .expect("aws-lc-rs: EC private key encoding");
                URL_SAFE_NO_PAD.encode(d.as_ref())
            }
            Material::Ed(key) => {
                let seed: Curve25519SeedBin<'static> = key
                    .seed()
                    .expect("aws-lc-rs: Ed25519 seed")
                    .as_be_bytes()
                    .expect("aws-lc-rs: Ed25519 seed encoding");
                URL_SAFE_NO_PAD.encode(seed.as_ref())
            }
        }
    }
}

/// The JOSE name of an algorithm (`"RS256"`, `"EdDSA"`, ...).
pub(crate) fn alg_name(alg: Algorithm) -> String {
    // jsonwebtoken's Debug spelling is the JOSE name for every variant.
    format!("{alg:?}")
}

/// Every key the server ever made, which of them the JWKS publishes, and the default signer.
#[derive(Debug)]
pub(crate) struct KeyStore {
    /// All keys, published or retired, in creation order (retired keys still sign on request).
    keys: Vec<SigningKey>,
    /// The `kid`s the JWKS serves, in order.
    published: Vec<String>,
    /// The published `kid`s that are encryption keys (`use: enc`): never chosen to sign.
    encryption: Vec<String>,
    signing: String,
    /// How a server shape spells `kid`s and certifies keys; `None`: as `SigningKey::new` does.
    style: Option<KeyStyle>,
}

impl KeyStore {
    #[cfg(test)]
    pub(crate) fn new(initial: SigningKey) -> KeyStore {
        KeyStore::with_style(initial, None)
    }

    /// A store whose keys (the initial one included) are renamed and certified by `style`.
    pub(crate) fn with_style(initial: SigningKey, style: Option<KeyStyle>) -> KeyStore {
        let initial = match &style {
            Some(style) => style.dress(initial),
            None => initial,
        };
        let kid = initial.kid.clone();
        KeyStore {
            keys: vec![initial],
            published: vec![kid.clone()],
            encryption: Vec::new(),
            signing: kid,
            style,
        }
    }

    /// Adds and publishes a key; returns its `kid` (the shape's spelling, if it has one).
    pub(crate) fn publish(&mut self, key: SigningKey) -> String {
        let key = match &self.style {
            Some(style) => style.dress(key),
            None => key,
        };
        let kid = key.kid.clone();
        self.keys.push(key);
        self.published.push(kid.clone());
        kid
    }

    /// Adds and publishes an encryption key (`use: enc`, RFC 7517 §4.2), which a resource
    /// server must never verify a signature with; returns its `kid`.
    pub(crate) fn publish_encryption(&mut self, key: SigningKey) -> String {
        let kid = self.publish(key);
        self.encryption.push(kid.clone());
        kid
    }

    pub(crate) fn is_encryption(&self, kid: &str) -> bool {
        self.encryption.iter().any(|k| k == kid)
    }

    /// The published keys, in JWKS order.
    pub(crate) fn published(&self) -> Vec<&SigningKey> {
        self.published.iter().map(|kid| self.expect(kid)).collect()
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The key with this `kid`, or a panic that names the known ones (a test bug).
    pub(crate) fn expect(&self, kid: &str) -> &SigningKey {
        self.get(kid).unwrap_or_else(|| {
            let known: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
            panic!("tollgate-mock: no key with kid {kid:?} (known: {known:?})")
        })
    }

    pub(crate) fn signing(&self) -> &SigningKey {
        self.expect(&self.signing)
    }

    pub(crate) fn set_signing(&mut self, kid: &str) {
        self.expect(kid);
        self.signing = kid.to_owned();
    }

    pub(crate) fn retire(&mut self, kid: &str) {
        self.expect(kid);
        self.published.retain(|k| k != kid);
    }

    /// A published key for `alg`: the signing key if it fits, else the newest published one.
    pub(crate) fn published_for(&self, alg: Algorithm) -> Option<&SigningKey> {
        let signing = self.signing();
        if signing.alg == alg && self.published.contains(&signing.kid) {
            return Some(signing);
        }
        self.published
            .iter()
            .rev()
            .filter(|kid| !self.is_encryption(kid))
            .map(|kid| self.expect(kid))
            .find(|k| k.alg == alg)
    }

    pub(crate) fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.published.iter().map(|kid| self.jwk(kid)).collect();
        json!({ "keys": keys })
    }

    /// The public JWK of a published key: an encryption key says `use: enc` and RSA-OAEP
    /// (RFC 7518 §4.3), the algorithm Keycloak's generated encryption keys carry.
    pub(crate) fn jwk(&self, kid: &str) -> Value {
        let mut jwk = self.expect(kid).jwk();
        if self.is_encryption(kid) {
            jwk["use"] = "enc".into();
            jwk["alg"] = "RSA-OAEP".into();
        }
        jwk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_publishes_and_retires() {
        let mut store = KeyStore::new(SigningKey::shared(Algorithm::ES256));
        let first = store.signing().kid().to_owned();
        let second = store.publish(SigningKey::generate(Algorithm::EdDSA));
        assert_eq!(store.jwks()["keys"].as_array().unwrap().len(), 2);
        store.retire(&first);
        let keys = store.jwks();
        assert_eq!(keys["keys"].as_array().unwrap().len(), 1);
        assert_eq!(keys["keys"][0]["kid"], second.as_str());
        // The retired key still signs on request.
        assert_eq!(store.signing().kid(), first);
        assert!(store.published_for(Algorithm::ES256).is_none());
    }

    #[test]
    fn pem_is_spki() {
        let pem = SigningKey::shared(Algorithm::EdDSA).public_key_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
    }

    #[test]
    #[should_panic(expected = "signs only ES256")]
    fn ec_keys_sign_their_own_algorithm_only() {
        SigningKey::shared(Algorithm::ES256).sign_with(Algorithm::ES384, b"x");
    }

    #[test]
    fn rsa_keys_sign_every_rsa_algorithm() {
        let key = SigningKey::shared(Algorithm::RS256);
        for alg in [
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS384,
            Algorithm::PS512,
        ] {
            assert_eq!(key.sign_with(alg, b"x").len(), 256);
        }
    }

    #[test]
    #[should_panic(expected = "not an asymmetric")]
    fn hmac_keys_are_refused() {
        SigningKey::generate(Algorithm::HS256);
    }
}
