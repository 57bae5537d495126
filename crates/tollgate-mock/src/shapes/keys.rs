//! The JWKS as each product serves it: `kid` spellings, certificates, members left out or added.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::{ids, server, x509};
use crate::keys::SigningKey;
use crate::state::Shared;

/// How a product spells its `kid`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KidSpelling {
    /// 43 base64url characters, like a SHA-256 thumbprint (Keycloak, Okta, node-oidc-provider).
    Base64Url43,
    /// 22 base64url characters (Auth0).
    Base64Url22,
    /// The certificate's SHA-1 thumbprint, equal to `x5t` (Entra).
    Thumbprint,
    /// Standard base64 with `+`, `/` and `=` (Cognito).
    Base64Padded,
    /// A negative decimal integer (Curity).
    NegativeDecimal,
    /// A UUID (Ory Hydra, Spring Authorization Server samples).
    Uuid,
    /// An 18-digit number (ZITADEL).
    Numeric,
    /// 32 hex digits (authentik).
    Hex32,
}

/// How a shape dresses its keys: `kid` spelling, certificate, JWK members.
#[derive(Debug, Clone)]
pub(crate) struct KeyStyle {
    pub(crate) kid: KidSpelling,
    /// The subject CN of a self-signed certificate for RSA keys; `None`: no certificate.
    pub(crate) certificate: Option<&'static str>,
    /// The JWK carries `alg` (RFC 7517 §4.4 makes it optional).
    pub(crate) alg: bool,
    /// The JWK carries `use` (RFC 7517 §4.2 makes it optional).
    pub(crate) use_: bool,
    /// The JWK carries the certificate chain `x5c` (RFC 7517 §4.7).
    pub(crate) x5c: bool,
    /// The JWK carries `x5t`, the certificate's SHA-1 thumbprint (RFC 7517 §4.8).
    pub(crate) x5t: bool,
    /// The JWK carries `x5t#S256` (RFC 7517 §4.9).
    pub(crate) x5t_s256: bool,
}

impl KeyStyle {
    /// A style with `alg` and `use` and nothing else.
    pub(crate) const fn plain(kid: KidSpelling) -> KeyStyle {
        KeyStyle {
            kid,
            certificate: None,
            alg: true,
            use_: true,
            x5c: false,
            x5t: false,
            x5t_s256: false,
        }
    }

    /// Certifies `key` if the style wants a certificate and the key is RSA, then renames it.
    pub(crate) fn dress(&self, key: SigningKey) -> SigningKey {
        let key = match self.certificate {
            Some(cn) if key.is_rsa() => {
                let der = x509::self_signed(&key, cn);
                key.with_certificate(der)
            }
            _ => key,
        };
        let kid = match self.kid {
            KidSpelling::Base64Url43 => ids::base64url(32),
            KidSpelling::Base64Url22 => ids::base64url(16),
            // Keys without a certificate (not RSA) get a thumbprint-length random id.
            KidSpelling::Thumbprint => x5t(&key).unwrap_or_else(|| ids::base64url(20)),
            KidSpelling::Base64Padded => ids::base64_padded(),
            KidSpelling::NegativeDecimal => ids::negative_decimal(),
            KidSpelling::Uuid => ids::uuid(),
            KidSpelling::Numeric => ids::digits(18),
            KidSpelling::Hex32 => ids::hex(32),
        };
        key.with_kid(kid)
    }
}

/// The SHA-1 thumbprint of the key's certificate, base64url (RFC 7517 §4.8).
pub(crate) fn x5t(key: &SigningKey) -> Option<String> {
    let der = key.certificate()?;
    let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    Some(URL_SAFE_NO_PAD.encode(sha1.as_ref()))
}

/// The JWKS the server serves right now, dressed as its shape dresses it.
pub(crate) fn jwks(shared: &Shared) -> Value {
    let config = &shared.config;
    let store = shared.keys();
    let Some(server) = server(&config.shape) else {
        return store.jwks();
    };
    let style = server.key_style();
    let key_issuer = server.key_issuer(config);
    let keys: Vec<Value> = store
        .published()
        .into_iter()
        .map(|key| {
            let mut jwk = store.jwk(key.kid());
            let obj = jwk.as_object_mut().expect("a JWK is an object");
            if !style.alg {
                obj.remove("alg");
            }
            if !style.use_ {
                obj.remove("use");
            }
            if let Some(der) = key.certificate() {
                if style.x5c {
                    obj.insert("x5c".into(), json!([STANDARD.encode(der)]));
                }
                if style.x5t {
                    obj.insert("x5t".into(), x5t(key).into());
                }
                if style.x5t_s256 {
                    let sha256 = digest::digest(&digest::SHA256, der);
                    obj.insert("x5t#S256".into(), URL_SAFE_NO_PAD.encode(sha256).into());
                }
            }
            if let Some(issuer) = &key_issuer {
                obj.insert("issuer".into(), issuer.clone().into());
            }
            jwk
        })
        .collect();
    json!({ "keys": keys })
}
