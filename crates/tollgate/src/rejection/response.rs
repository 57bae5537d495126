//! The response of a [`Rejection`]: status, `WWW-Authenticate` challenge (RFC 6750 §3,
//! RFC 9470 §3), `Retry-After`, `Cache-Control: no-store` and the body, built in one place for
//! the layer, the extractors, [`Tollgate::render`] and `IntoResponse`.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response};

use super::Rejection;
use crate::Tollgate;
use crate::dpop::nonce::Nonces;

impl Rejection {
    /// The `Bearer` `WWW-Authenticate` challenge, or `None` for 503: tollgate cannot decide, so
    /// it challenges for nothing (README, "Behaviour").
    ///
    /// The engine's responses may carry a `DPoP` challenge too, and `resource_metadata`
    /// (RFC 9728 §5.1); [`Tollgate::render`] gives the whole response.
    pub fn challenge(&self, realm: Option<&str>) -> Option<HeaderValue> {
        if matches!(self, Self::Unavailable { .. }) {
            return None;
        }
        Some(self.challenge_value(&ChallengeParts {
            scheme: "Bearer",
            realm,
            with_error: true,
            algs: None,
            resource_metadata: None,
        }))
    }

    /// One challenge: the scheme, the realm, the error and its parameters when `with_error`,
    /// then `algs` and `resource_metadata` when given.
    fn challenge_value(&self, parts: &ChallengeParts<'_>) -> HeaderValue {
        let mut params: Vec<(&str, String)> = Vec::with_capacity(6);
        if let Some(realm) = parts.realm {
            params.push(("realm", realm.to_owned()));
        }
        if parts.with_error {
            match self {
                Self::Unavailable { .. } | Self::MissingToken => {}
                Self::InsufficientScope { required } => {
                    params.push(("error", "insufficient_scope".to_owned()));
                    params.push(("error_description", self.description().to_owned()));
                    params.push(("scope", required.clone()));
                }
                Self::InsufficientUserAuthentication {
                    acr_values,
                    max_age,
                } => {
                    // RFC 9470 §3: the error, and what would satisfy the route.
                    params.push(("error", "insufficient_user_authentication".to_owned()));
                    params.push(("error_description", self.description().to_owned()));
                    if let Some(acr) = acr_values {
                        params.push(("acr_values", acr.clone()));
                    }
                    if let Some(max_age) = max_age {
                        params.push(("max_age", max_age.to_string()));
                    }
                }
                Self::InvalidRequest(_)
                | Self::InvalidToken(_)
                | Self::InvalidDpopProof(_)
                | Self::UseDpopNonce => {
                    params.push(("error", self.error_code().unwrap_or_default().to_owned()));
                    params.push(("error_description", self.description().to_owned()));
                }
            }
        }
        if let Some(algs) = parts.algs {
            // RFC 9449 §7.1: the algorithms accepted for proofs.
            params.push(("algs", algs.to_owned()));
        }
        if let Some(url) = parts.resource_metadata {
            // RFC 9728 §5.1.
            params.push(("resource_metadata", url.to_owned()));
        }
        let mut value = String::from(parts.scheme);
        for (i, (name, v)) in params.iter().enumerate() {
            value.push_str(if i == 0 { " " } else { ", " });
            value.push_str(name);
            value.push('=');
            push_quoted(&mut value, v);
        }
        // Everything pushed is printable ASCII after quoting; a realm or a URL with control
        // characters was refused at build time. Fall back to the bare scheme rather than panic.
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }

    /// Whether the `DPoP` challenge carries this refusal's error whatever scheme was used.
    fn is_about_dpop(&self) -> bool {
        match self {
            Self::InvalidDpopProof(_) | Self::UseDpopNonce => true,
            Self::InvalidToken(why) => why.is_about_dpop(),
            _ => false,
        }
    }

    /// The default JSON body: `{"error": ..., "error_description": ...}` (empty for a missing
    /// token, as RFC 6750 §3.1 asks that no error information be given then).
    fn default_body(&self) -> RejectionBody {
        let Some(code) = self.error_code() else {
            return RejectionBody::empty();
        };
        let body = serde_json::json!({ "error": code, "error_description": self.description() });
        RejectionBody::json(Bytes::from(body.to_string()))
    }

    /// Builds the response: status, challenge, `Retry-After`, body, and `self` in the
    /// extensions.
    pub(crate) fn to_response(
        &self,
        realm: Option<&str>,
        hook: Option<&BodyHook>,
    ) -> Response<Bytes> {
        let mut response = self.response_without_challenge(hook);
        if let Some(challenge) = self.challenge(realm) {
            response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        }
        response
    }

    /// The response with everything but `WWW-Authenticate`.
    fn response_without_challenge(&self, hook: Option<&BodyHook>) -> Response<Bytes> {
        let body = match hook {
            Some(hook) => hook(self),
            None => self.default_body(),
        };
        let mut response = Response::new(body.bytes);
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        if let Self::Unavailable { retry_after, .. } = self {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
        }
        if let Some(content_type) = body.content_type {
            headers.insert(CONTENT_TYPE, content_type);
        }
        // RFC 6750 §3.1 recommends no-store, and shared caches must not keep an auth failure.
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        response.extensions_mut().insert(self.clone());
        response
    }
}

impl Tollgate {
    /// The response the layer gives for `rejection`: status, `WWW-Authenticate` with this
    /// engine's realm, `Retry-After`, `Cache-Control: no-store`, the body from
    /// [`TollgateBuilder::rejection_body`](crate::TollgateBuilder::rejection_body) or the
    /// default JSON, and the rejection in the response extensions.
    ///
    /// For code that calls [`validate`](Self::validate) itself and answers over HTTP. The
    /// `IntoResponse` of [`Rejection`] (feature `axum`) knows no engine: it renders without a
    /// realm and with the default body.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tollgate::{Rejection, Tollgate};
    ///
    /// let gate = Tollgate::builder()
    ///     .issuer("https://as.example")
    ///     .audience("api")
    ///     .realm("photos")
    ///     .build()
    ///     .unwrap();
    /// let response = gate.render(&Rejection::MissingToken);
    /// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="photos""#);
    /// ```
    pub fn render(&self, rejection: &Rejection) -> http::Response<bytes::Bytes> {
        self.inner.responder.respond(rejection)
    }
}

/// The body of a rejection response, as returned by a body hook
/// ([`TollgateBuilder::rejection_body`](crate::TollgateBuilder::rejection_body)).
#[derive(Debug, Clone, Default)]
pub struct RejectionBody {
    content_type: Option<HeaderValue>,
    bytes: Bytes,
}

impl RejectionBody {
    /// No body.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A body with a content type.
    pub fn new(content_type: HeaderValue, bytes: impl Into<Bytes>) -> Self {
        Self {
            content_type: Some(content_type),
            bytes: bytes.into(),
        }
    }

    /// An `application/json` body.
    pub fn json(bytes: impl Into<Bytes>) -> Self {
        Self::new(HeaderValue::from_static("application/json"), bytes)
    }
}

/// Replaces the body of rejection responses; status and challenge stay tollgate's.
pub(crate) type BodyHook = std::sync::Arc<dyn Fn(&Rejection) -> RejectionBody + Send + Sync>;

/// How an engine answers refusals: its realm, body hook, the challenges it offers.
pub(crate) struct Responder {
    pub(crate) realm: Option<String>,
    pub(crate) body_hook: Option<BodyHook>,
    /// The `DPoP` challenge's parts, when the engine accepts DPoP.
    pub(crate) dpop: Option<DpopChallenge>,
    /// The URL of the RFC 9728 document, for `resource_metadata` (RFC 9728 §5.1).
    pub(crate) resource_metadata: Option<String>,
    /// The schemes some issuer accepts somewhere: what a refusal offers when neither the
    /// route nor the token's issuer says more.
    pub(crate) offered: Schemes,
}

/// What the `DPoP` challenge needs: `algs`, and the nonces for `DPoP-Nonce`.
pub(crate) struct DpopChallenge {
    /// RFC 9449 §7.1 `algs`: the accepted proof algorithms, space-separated.
    pub(crate) algs: String,
    pub(crate) nonces: Option<std::sync::Arc<Nonces>>,
}

/// Which challenges a refusal carries, and which scheme the request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schemes {
    pub(crate) bearer: bool,
    pub(crate) dpop: bool,
    /// The request used the `DPoP` scheme: the error goes on the `DPoP` challenge.
    pub(crate) presented_dpop: bool,
}

impl Schemes {
    #[cfg(test)]
    /// Bearer only, as an engine without DPoP offers.
    pub(crate) const BEARER: Self = Self {
        bearer: true,
        dpop: false,
        presented_dpop: false,
    };
}

/// The parts of one challenge.
struct ChallengeParts<'a> {
    scheme: &'static str,
    realm: Option<&'a str>,
    with_error: bool,
    algs: Option<&'a str>,
    resource_metadata: Option<&'a str>,
}

impl Responder {
    #[cfg(test)]
    /// A responder with a realm and a body hook, offering the `Bearer` challenge alone.
    pub(crate) fn plain(realm: Option<String>, body_hook: Option<BodyHook>) -> Self {
        Self {
            realm,
            body_hook,
            dpop: None,
            resource_metadata: None,
            offered: Schemes::BEARER,
        }
    }

    /// The answer with the challenges of every scheme some issuer accepts.
    pub(crate) fn respond(&self, rejection: &Rejection) -> Response<Bytes> {
        self.respond_in(rejection, self.offered)
    }

    /// The answer with the challenges of `schemes`: `Bearer` and `DPoP` side by side where
    /// both are accepted (RFC 9449 §7.1), the error on the one the request used, or on `DPoP`
    /// for a refusal about DPoP. A `use_dpop_nonce` answer carries a fresh `DPoP-Nonce`
    /// (RFC 9449 §9).
    pub(crate) fn respond_in(&self, rejection: &Rejection, schemes: Schemes) -> Response<Bytes> {
        let mut response = rejection.response_without_challenge(self.body_hook.as_ref());
        if matches!(rejection, Rejection::Unavailable { .. }) {
            return response;
        }
        let dpop = self.dpop.as_ref().filter(|_| schemes.dpop);
        let bearer = schemes.bearer || dpop.is_none();
        let error_on_dpop =
            dpop.is_some() && (rejection.is_about_dpop() || schemes.presented_dpop || !bearer);
        let resource_metadata = self.resource_metadata.as_deref();
        let headers = response.headers_mut();
        if bearer {
            let value = rejection.challenge_value(&ChallengeParts {
                scheme: "Bearer",
                realm: self.realm.as_deref(),
                with_error: !error_on_dpop,
                algs: None,
                resource_metadata,
            });
            headers.append(WWW_AUTHENTICATE, value);
        }
        if let Some(dpop) = dpop {
            let value = rejection.challenge_value(&ChallengeParts {
                scheme: "DPoP",
                realm: self.realm.as_deref(),
                with_error: error_on_dpop,
                algs: Some(&dpop.algs),
                resource_metadata,
            });
            headers.append(WWW_AUTHENTICATE, value);
            if let (Rejection::UseDpopNonce, Some(nonces)) = (rejection, &dpop.nonces)
                && let Ok(nonce) = HeaderValue::from_str(&nonces.issue(crate::engine::now()))
            {
                headers.insert(DPOP_NONCE, nonce);
            }
        }
        response
    }
}

/// The response header that carries a server nonce (RFC 9449 §8.1).
pub(crate) const DPOP_NONCE: http::HeaderName = http::HeaderName::from_static("dpop-nonce");

/// Appends `value` as an RFC 9110 §5.6.4 quoted-string.
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::StatusCode;

    use super::*;
    use crate::rejection::{InvalidToken, Unavailable};

    fn challenge(r: &Rejection, realm: Option<&str>) -> String {
        r.challenge(realm)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn missing_token_has_no_error_code() {
        assert_eq!(
            challenge(&Rejection::MissingToken, Some("api")),
            r#"Bearer realm="api""#
        );
        assert_eq!(challenge(&Rejection::MissingToken, None), "Bearer");
    }

    #[test]
    fn invalid_token_challenge() {
        let r = Rejection::InvalidToken(InvalidToken::Expired);
        assert_eq!(
            challenge(&r, Some("api")),
            r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#
        );
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn scope_challenge_and_escaping() {
        let r = Rejection::InsufficientScope {
            required: "admin write".into(),
        };
        let c = challenge(&r, Some(r#"we"ird\realm"#));
        assert!(
            c.starts_with(r#"Bearer realm="we\"ird\\realm", error="insufficient_scope""#),
            "{c}"
        );
        assert!(c.ends_with(r#"scope="admin write""#), "{c}");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn unavailable_has_retry_after_and_no_challenge() {
        let r = Rejection::Unavailable {
            reason: Unavailable::Keys,
            retry_after: Duration::from_secs(7),
        };
        let resp = r.to_response(Some("api"), None);
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(resp.headers()[RETRY_AFTER], "7");
        assert_eq!(resp.extensions().get::<Rejection>(), Some(&r));
    }

    #[test]
    fn hook_replaces_body_only() {
        let hook: BodyHook = std::sync::Arc::new(|r: &Rejection| {
            RejectionBody::new(HeaderValue::from_static("text/plain"), r.to_string())
        });
        let r = Rejection::InvalidRequest("two Authorization headers");
        let resp = r.to_response(None, Some(&hook));
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.headers()[CONTENT_TYPE], "text/plain");
        assert_eq!(
            resp.body().as_ref(),
            b"invalid_request: two Authorization headers"
        );
        assert!(challenge(&r, None).contains(r#"error="invalid_request""#));
    }
}
