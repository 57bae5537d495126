//! Sender-constrained tokens: the `cnf` claim (RFC 7800) of a JWT or an introspection answer,
//! and the checks of a DPoP key binding (RFC 9449 §6, §7.1, §7.2) and a certificate binding
//! (RFC 8705 §3).
//!
//! Which `cnf` members count: `jkt` (RFC 9449 §6) and `x5t#S256` (RFC 8705 §3.1) are checked;
//! when both are present, both must hold. Other confirmation methods are ignored next to one
//! of these (RFC 7800 §3.1: members not understood are ignored). A `cnf` with members but none
//! tollgate can check is refused: the authorization server bound the token to a key by a
//! method tollgate cannot verify (`jwk`, `kid`, `jku`, ...), and accepting it as a bearer token
//! would drop that constraint silently. RFC 7800 §3.1 leaves this to the application.

use std::fmt;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::thumbprint::{Thumbprint, certificate_thumbprint};

/// The client certificate of the request's TLS connection, for certificate-bound tokens
/// (RFC 8705 §3).
///
/// tollgate does not terminate TLS: the service's TLS acceptor puts this into the request's
/// extensions, holding the DER encoding of the **leaf** certificate the client presented in
/// the handshake (the first certificate of the peer's chain, as rustls'
/// `peer_certificates()[0]` or OpenSSL's `SSL_get_peer_certificate` give it), on every
/// request of that connection. Nothing else: no PEM, no chain. tollgate compares its
/// SHA-256 with the token's `cnf.x5t#S256` and does not validate the chain (RFC 8705 §6.2:
/// the binding is the proof of possession, so self-signed client certificates work).
///
/// Behind a proxy that terminates TLS, fill it only from a header that proxy sets, and strip
/// that header from requests that do not come through the proxy (RFC 8705 §6.5).
///
/// # Filling it with rustls and hyper-util
///
/// Accept the TCP connection, complete the TLS handshake with a `tokio_rustls::TlsAcceptor`
/// whose `ServerConfig` asks for client certificates (`WebPkiClientVerifier`, with
/// `allow_unauthenticated()` if clients without certificates may call the API too), take the
/// leaf certificate from the session, and insert it into every request of the connection
/// before the router sees it. With axum-server, do the same in a custom `Accept` around its
/// `RustlsAcceptor`, wrapping the service it hands out. crates/tollgate/tests/mtls.rs runs
/// this over real TLS.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use bytes::Bytes;
/// use http::Request;
/// use hyper::body::Incoming;
/// use hyper_util::rt::TokioIo;
/// use hyper_util::service::TowerToHyperService;
/// use tollgate::ClientCertificate;
/// use tower::ServiceExt;
///
/// async fn serve(
///     listener: tokio::net::TcpListener,
///     tls: Arc<rustls::ServerConfig>,
///     app: axum::Router,
/// ) -> std::io::Result<()> {
///     let acceptor = tokio_rustls::TlsAcceptor::from(tls);
///     loop {
///         let (tcp, _) = listener.accept().await?;
///         let (acceptor, app) = (acceptor.clone(), app.clone());
///         tokio::spawn(async move {
///             let Ok(stream) = acceptor.accept(tcp).await else { return };
///             // The leaf of the chain the client presented, DER, for this connection.
///             let certificate = stream
///                 .get_ref()
///                 .1
///                 .peer_certificates()
///                 .and_then(|chain| chain.first())
///                 .map(|leaf| ClientCertificate(Bytes::copy_from_slice(leaf.as_ref())));
///             let service = app.map_request(move |mut request: Request<Incoming>| {
///                 if let Some(certificate) = &certificate {
///                     request.extensions_mut().insert(certificate.clone());
///                 }
///                 request
///             });
///             let _ = hyper::server::conn::http1::Builder::new()
///                 .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
///                 .await;
///         });
///     }
/// }
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub Bytes);

impl fmt::Debug for ClientCertificate {
    // A certificate is public, but thousands of bytes of DER help nobody reading a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("der_len", &self.0.len())
            .field("x5t#S256", &certificate_thumbprint(&self.0))
            .finish()
    }
}

/// What a token is bound to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Confirmation {
    /// RFC 9449 §6: the RFC 7638 thumbprint of the DPoP key.
    pub(crate) jkt: Option<Thumbprint>,
    /// RFC 8705 §3.1: the SHA-256 of the client certificate.
    pub(crate) x5t_s256: Option<Thumbprint>,
}

/// Why a token's binding refuses the request. All of them are `invalid_token` (RFC 9449 §7.1,
/// RFC 8705 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BindingError {
    /// `cnf` is not an object, or `jkt` / `x5t#S256` is not a base64url SHA-256.
    MalformedCnf,
    /// `cnf` binds the token only by methods tollgate cannot check.
    UnsupportedMethod,
    /// The introspection answer says `token_type: DPoP` but gives no `cnf.jkt`.
    DpopWithoutKey,
    /// A DPoP-bound token came with the `Bearer` scheme (RFC 9449 §7.2).
    BoundTokenAsBearer,
    /// The `DPoP` scheme with a token that is not DPoP-bound: no key to check the proof against.
    NotDpopBound,
    /// The proof's key is not the token's (RFC 9449 §7.1).
    KeyMismatch,
    /// A certificate-bound token without a client certificate (RFC 8705 §3).
    CertificateMissing,
    /// A certificate-bound token with another client certificate (RFC 8705 §3).
    CertificateMismatch,
}

impl BindingError {
    /// A fixed description, fit for `error_description` and logs.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::MalformedCnf => "the token's cnf claim is malformed",
            Self::UnsupportedMethod => "the token is bound by an unsupported confirmation method",
            Self::DpopWithoutKey => "the DPoP token has no key binding",
            Self::BoundTokenAsBearer => "a DPoP-bound token must be sent with the DPoP scheme",
            Self::NotDpopBound => "the token is not bound to a DPoP key",
            Self::KeyMismatch => "the DPoP proof's key does not match the token's binding",
            Self::CertificateMissing => "the token requires a TLS client certificate",
            Self::CertificateMismatch => "the TLS client certificate does not match the token",
        }
    }
}

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl Confirmation {
    /// The binding of a JWT access token: its `cnf` claim (RFC 9449 §6.1, RFC 8705 §3.1).
    pub(crate) fn from_claims(claims: &Map<String, Value>) -> Result<Self, BindingError> {
        let Some(cnf) = claims.get("cnf") else {
            return Ok(Self::default());
        };
        let Value::Object(cnf) = cnf else {
            return Err(BindingError::MalformedCnf);
        };
        let member = |name: &str| match cnf.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Thumbprint::from_b64(value)
                .map(Some)
                .ok_or(BindingError::MalformedCnf),
            Some(_) => Err(BindingError::MalformedCnf),
        };
        let confirmation = Self {
            jkt: member("jkt")?,
            x5t_s256: member("x5t#S256")?,
        };
        if !cnf.is_empty() && confirmation == Self::default() {
            return Err(BindingError::UnsupportedMethod);
        }
        Ok(confirmation)
    }

    /// The binding of an introspection answer: `cnf` at its top level (RFC 9449 §6.2, RFC 8705
    /// §3.2), as in a JWT. `cnf.jkt` alone makes the token DPoP-bound; a `token_type` of
    /// `DPoP` (case-insensitive, RFC 6749 §5.1) without it is refused, since the proof could
    /// not be checked against anything. A `token_type` other than `DPoP` next to `cnf.jkt`
    /// breaks RFC 9449 §6.2, but the key binding is still enforced rather than the token
    /// refused. Keycloak says the same in `typ` (it copies its tokens' `typ` claim, `DPoP`
    /// for a DPoP-bound token), which counts alike.
    pub(crate) fn from_introspection(answer: &Map<String, Value>) -> Result<Self, BindingError> {
        let confirmation = Self::from_claims(answer)?;
        let is_dpop = |name: &str| {
            answer
                .get(name)
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("DPoP"))
        };
        let says_dpop = is_dpop("token_type") || is_dpop("typ");
        if says_dpop && confirmation.jkt.is_none() {
            return Err(BindingError::DpopWithoutKey);
        }
        Ok(confirmation)
    }

    #[cfg(test)]
    /// True when the token must come with a DPoP proof.
    pub(crate) fn is_dpop_bound(&self) -> bool {
        self.jkt.is_some()
    }

    /// Checks the binding against how the token was presented: `proof_key` is the thumbprint
    /// of a verified proof when the `DPoP` scheme was used, `None` for `Bearer`;
    /// `certificate` is the request's [`ClientCertificate`], if any.
    pub(crate) fn check(
        &self,
        proof_key: Option<&Thumbprint>,
        certificate: Option<&ClientCertificate>,
    ) -> Result<(), BindingError> {
        match (&self.jkt, proof_key) {
            // `Thumbprint`'s equality runs in constant time.
            (Some(bound), Some(presented)) if bound == presented => {}
            (Some(_), Some(_)) => return Err(BindingError::KeyMismatch),
            (Some(_), None) => return Err(BindingError::BoundTokenAsBearer),
            (None, Some(_)) => return Err(BindingError::NotDpopBound),
            (None, None) => {}
        }
        if let Some(bound) = &self.x5t_s256 {
            let certificate = certificate.ok_or(BindingError::CertificateMissing)?;
            if certificate_thumbprint(&certificate.0) != *bound {
                return Err(BindingError::CertificateMismatch);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dpop::thumbprint::certificate_thumbprint as x5t;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn key(seed: u8) -> Thumbprint {
        x5t(&[seed, seed])
    }

    #[test]
    fn cnf_members_are_read_strictly() {
        let jkt = key(1);
        let cert = Bytes::from_static(b"DER of a certificate");
        let x5t_s256 = x5t(&cert);
        let both = map(
            json!({ "cnf": { "jkt": jkt.to_b64(), "x5t#S256": x5t_s256.to_b64(), "osc": {} } }),
        );
        assert_eq!(
            Confirmation::from_claims(&both),
            Ok(Confirmation {
                jkt: Some(jkt),
                x5t_s256: Some(x5t_s256)
            })
        );
        assert_eq!(
            Confirmation::from_claims(&map(json!({}))),
            Ok(Confirmation::default())
        );
        assert_eq!(
            Confirmation::from_claims(&map(json!({ "cnf": {} }))),
            Ok(Confirmation::default())
        );
        for (cnf, error) in [
            (json!("jkt"), BindingError::MalformedCnf),
            (json!(null), BindingError::MalformedCnf),
            (json!({ "jkt": 1 }), BindingError::MalformedCnf),
            (
                json!({ "jkt": format!("{}=", jkt.to_b64()) }),
                BindingError::MalformedCnf,
            ),
            (json!({ "x5t#S256": "AAAA" }), BindingError::MalformedCnf),
            (
                json!({ "jwk": { "kty": "EC" } }),
                BindingError::UnsupportedMethod,
            ),
            (json!({ "kid": "k1" }), BindingError::UnsupportedMethod),
        ] {
            assert_eq!(
                Confirmation::from_claims(&map(json!({ "cnf": cnf.clone() }))),
                Err(error),
                "{cnf}"
            );
        }
    }

    #[test]
    fn introspection_token_type() {
        let jkt = key(1).to_b64();
        let bound = Confirmation {
            jkt: Some(key(1)),
            x5t_s256: None,
        };
        for answer in [
            json!({ "active": true, "cnf": { "jkt": jkt }, "token_type": "DPoP" }),
            json!({ "active": true, "cnf": { "jkt": jkt }, "token_type": "dpop" }),
            json!({ "active": true, "cnf": { "jkt": jkt } }),
            // Against RFC 9449 §6.2, but the binding is what matters and it is enforced.
            json!({ "active": true, "cnf": { "jkt": jkt }, "token_type": "Bearer" }),
        ] {
            assert_eq!(Confirmation::from_introspection(&map(answer)), Ok(bound));
        }
        assert_eq!(
            Confirmation::from_introspection(&map(json!({ "active": true, "token_type": "DPoP" }))),
            Err(BindingError::DpopWithoutKey)
        );
        assert_eq!(
            Confirmation::from_introspection(&map(
                json!({ "active": true, "token_type": "Bearer" })
            )),
            Ok(Confirmation::default())
        );
    }

    #[test]
    fn dpop_binding_against_the_presentation() {
        let bound = Confirmation {
            jkt: Some(key(1)),
            x5t_s256: None,
        };
        let unbound = Confirmation::default();
        assert_eq!(bound.check(Some(&key(1)), None), Ok(()));
        assert_eq!(
            bound.check(Some(&key(2)), None),
            Err(BindingError::KeyMismatch)
        );
        // RFC 9449 §7.2: a DPoP-bound token presented as a bearer token.
        assert_eq!(
            bound.check(None, None),
            Err(BindingError::BoundTokenAsBearer)
        );
        // A proof with a token bound to nothing.
        assert_eq!(
            unbound.check(Some(&key(1)), None),
            Err(BindingError::NotDpopBound)
        );
        assert_eq!(unbound.check(None, None), Ok(()));
        assert!(bound.is_dpop_bound() && !unbound.is_dpop_bound());
    }

    #[test]
    fn certificate_binding() {
        let der = Bytes::from_static(b"the client's certificate");
        let bound = Confirmation {
            jkt: None,
            x5t_s256: Some(x5t(&der)),
        };
        let mine = ClientCertificate(der);
        let other = ClientCertificate(Bytes::from_static(b"another certificate"));
        assert_eq!(bound.check(None, Some(&mine)), Ok(()));
        assert_eq!(
            bound.check(None, Some(&other)),
            Err(BindingError::CertificateMismatch)
        );
        assert_eq!(
            bound.check(None, None),
            Err(BindingError::CertificateMissing)
        );
        // An unbound token does not care about certificates.
        assert_eq!(Confirmation::default().check(None, Some(&other)), Ok(()));
        // Bound both ways: both must hold.
        let both = Confirmation {
            jkt: Some(key(1)),
            x5t_s256: Some(x5t(&mine.0)),
        };
        assert_eq!(both.check(Some(&key(1)), Some(&mine)), Ok(()));
        assert_eq!(
            both.check(Some(&key(1)), Some(&other)),
            Err(BindingError::CertificateMismatch)
        );
        assert_eq!(
            both.check(Some(&key(2)), Some(&mine)),
            Err(BindingError::KeyMismatch)
        );
        assert_eq!(
            format!("{mine:?}"),
            format!(
                "ClientCertificate {{ der_len: 24, x5t#S256: {:?} }}",
                x5t(&mine.0)
            )
        );
    }
}
