//! OAuth 2.0 protected resource metadata (RFC 9728): a JSON document that tells a client which
//! authorization servers issue tokens for this API, which scopes it knows, how tokens are sent
//! and whether they must be DPoP-bound, served at `/.well-known/oauth-protected-resource`.
//!
//! Caveats, in plain words:
//!
//! - The document is built once, with the engine, from its configuration: `resource` is the
//!   [`public_url`](crate::TollgateBuilder::public_url), `authorization_servers` every trusted
//!   issuer (a template's configured tenants one by one; a template open to any tenant cannot
//!   be listed), the DPoP members from [`Dpop`](crate::Dpop) and the issuers' sender
//!   constraints. The optional members come from [`ResourceMetadata`].
//! - The service answers `GET` and `HEAD` at `/.well-known/oauth-protected-resource` and at
//!   the path-suffixed form of RFC 9728 §3.1 (`/.well-known/oauth-protected-resource/api` for
//!   `https://example.com/api`), 404 elsewhere and 405 for other methods. Mount it outside the
//!   authenticating layer: a client reads it before it has a token.
//! - With metadata configured, every challenge names the document (`resource_metadata`,
//!   RFC 9728 §5.1), so a client that meets a 401 can find the authorization server.
//! - The document is not signed (`signed_metadata` is not produced).
//!
//! # Example
//!
//! ```
//! use axum::Router;
//! use axum::routing::get;
//! use http::{Request, StatusCode};
//! use http_body_util::BodyExt;
//! use tollgate::{Dpop, ResourceMetadata, Tollgate};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let gate = Tollgate::builder()
//!     .issuer("https://as.example")
//!     .audience("https://api.example")
//!     .public_url("https://api.example")
//!     .dpop(Dpop::new())
//!     .resource_metadata(ResourceMetadata::new().scopes_supported(["photos:read"]))
//!     .build()
//!     .unwrap();
//! let metadata = gate.resource_metadata_service().expect("metadata configured");
//!
//! let app = Router::new()
//!     .route("/photos", get(|| async { "photos" }).layer(gate.layer()))
//!     .route_service("/.well-known/oauth-protected-resource", metadata);
//!
//! let request = Request::get("/.well-known/oauth-protected-resource")
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = app.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! let document: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert_eq!(document["resource"], "https://api.example");
//! assert_eq!(document["authorization_servers"][0], "https://as.example");
//!
//! // A refusal names the document.
//! let anonymous = Request::get("/photos").body(axum::body::Body::empty()).unwrap();
//! let response = app.oneshot(anonymous).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! let challenge = response.headers()["www-authenticate"].to_str().unwrap();
//! assert!(challenge.contains(
//!     r#"resource_metadata="https://api.example/.well-known/oauth-protected-resource""#
//! ));
//! # }
//! ```

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use serde_json::{Map, Value};
use tower_service::Service;

use crate::Tollgate;
use crate::error::{ConfigError, ConfigErrorKind};

/// The well-known path of RFC 9728 §3.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// The optional members of the protected resource metadata (RFC 9728 §2), given to
/// [`TollgateBuilder::resource_metadata`](crate::TollgateBuilder::resource_metadata). The
/// members that follow from the engine's configuration are added to them.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ResourceMetadata {
    scopes_supported: Vec<String>,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    resource_policy_uri: Option<String>,
    resource_tos_uri: Option<String>,
    tls_client_certificate_bound_access_tokens: bool,
}

impl ResourceMetadata {
    /// No optional member.
    pub fn new() -> Self {
        Self::default()
    }

    /// `scopes_supported`: the scopes clients may ask for to call this API (recommended).
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// `resource_name`: a name for people.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// `resource_documentation`: a URL of documentation for developers.
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// `resource_policy_uri`: a URL of how data is used.
    pub fn resource_policy_uri(mut self, url: impl Into<String>) -> Self {
        self.resource_policy_uri = Some(url.into());
        self
    }

    /// `resource_tos_uri`: a URL of the terms of service.
    pub fn resource_tos_uri(mut self, url: impl Into<String>) -> Self {
        self.resource_tos_uri = Some(url.into());
        self
    }

    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.3): says that this API
    /// supports certificate-bound tokens, which it always checks. Defaults to false (the
    /// member is left out).
    pub fn tls_client_certificate_bound_access_tokens(mut self, supported: bool) -> Self {
        self.tls_client_certificate_bound_access_tokens = supported;
        self
    }
}

/// What the engine's configuration contributes to the document.
pub(crate) struct EngineFacts<'a> {
    pub(crate) public_url: &'a str,
    pub(crate) authorization_servers: Vec<String>,
    /// `Some` with the proof algorithms when DPoP is accepted.
    pub(crate) dpop_algs: Option<Vec<&'static str>>,
    /// Every issuer requires DPoP.
    pub(crate) dpop_required: bool,
}

/// The document, its URL and the paths it is served at.
#[derive(Debug)]
pub(crate) struct Published {
    pub(crate) url: String,
    document: Map<String, Value>,
    body: Bytes,
    paths: Vec<String>,
}

impl ResourceMetadata {
    /// The document, built from these members and the engine's facts.
    pub(crate) fn publish(&self, facts: &EngineFacts<'_>) -> Result<Published, ConfigError> {
        let url = reqwest::Url::parse(facts.public_url).map_err(|_| {
            ConfigError::new(ConfigErrorKind::InvalidUrl, "the public URL is not a URL")
        })?;
        // RFC 9728 §3.1: the well-known segment goes between the host and the path; a path
        // of `/` alone is no path.
        let path = url.path().trim_end_matches('/');
        let mut origin = url.clone();
        origin.set_path("");
        let origin = origin.as_str().trim_end_matches('/').to_owned();
        let metadata_url = format!("{origin}{WELL_KNOWN_PATH}{path}");
        let mut paths = vec![WELL_KNOWN_PATH.to_owned()];
        if !path.is_empty() {
            paths.push(format!("{WELL_KNOWN_PATH}{path}"));
        }

        let mut doc = Map::new();
        doc.insert("resource".into(), facts.public_url.into());
        if !facts.authorization_servers.is_empty() {
            doc.insert(
                "authorization_servers".into(),
                facts.authorization_servers.clone().into(),
            );
        }
        if !self.scopes_supported.is_empty() {
            doc.insert(
                "scopes_supported".into(),
                self.scopes_supported.clone().into(),
            );
        }
        // Tokens are read from the Authorization header only (RFC 6750 §2.1, RFC 9449 §7.1).
        doc.insert("bearer_methods_supported".into(), vec!["header"].into());
        for (name, value) in [
            ("resource_name", &self.resource_name),
            ("resource_documentation", &self.resource_documentation),
            ("resource_policy_uri", &self.resource_policy_uri),
            ("resource_tos_uri", &self.resource_tos_uri),
        ] {
            if let Some(value) = value {
                doc.insert(name.into(), value.clone().into());
            }
        }
        if self.tls_client_certificate_bound_access_tokens {
            doc.insert(
                "tls_client_certificate_bound_access_tokens".into(),
                true.into(),
            );
        }
        if let Some(algs) = &facts.dpop_algs {
            doc.insert(
                "dpop_signing_alg_values_supported".into(),
                algs.clone().into(),
            );
        }
        doc.insert(
            "dpop_bound_access_tokens_required".into(),
            facts.dpop_required.into(),
        );
        let body = Bytes::from(Value::Object(doc.clone()).to_string());
        Ok(Published {
            url: metadata_url,
            document: doc,
            body,
            paths,
        })
    }
}

impl Tollgate {
    /// The service that serves this engine's protected resource metadata (RFC 9728), or
    /// `None` when the builder had no
    /// [`resource_metadata`](crate::TollgateBuilder::resource_metadata). See the
    /// [module documentation](crate::metadata).
    pub fn resource_metadata_service(&self) -> Option<ResourceMetadataService> {
        self.inner
            .metadata
            .as_ref()
            .map(|published| ResourceMetadataService {
                published: Arc::clone(published),
            })
    }
}

/// Serves the protected resource metadata document; made by
/// [`Tollgate::resource_metadata_service`]. A tower service for any request body, cheap to
/// clone, never failing.
#[derive(Debug, Clone)]
pub struct ResourceMetadataService {
    published: Arc<Published>,
}

impl ResourceMetadataService {
    /// The document's members.
    pub fn document(&self) -> &Map<String, Value> {
        &self.published.document
    }

    /// The document's URL, as challenges name it (`resource_metadata`).
    pub fn url(&self) -> &str {
        &self.published.url
    }

    /// The paths the service answers at.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.published.paths.iter().map(String::as_str)
    }

    fn answer(&self, method: &Method, path: &str) -> Response<MetadataBody> {
        if !self.published.paths.iter().any(|p| p == path) {
            return status(StatusCode::NOT_FOUND);
        }
        let head = method == Method::HEAD;
        if method != Method::GET && !head {
            let mut response = status(StatusCode::METHOD_NOT_ALLOWED);
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let body = if head {
            MetadataBody(None)
        } else {
            MetadataBody(Some(self.published.body.clone()))
        };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        // RFC 9728 §3.2.
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
        response
    }
}

fn status(code: StatusCode) -> Response<MetadataBody> {
    let mut response = Response::new(MetadataBody(None));
    *response.status_mut() = code;
    response
}

impl<B> Service<Request<B>> for ResourceMetadataService {
    type Response = Response<MetadataBody>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.answer(request.method(), request.uri().path())))
    }
}

/// The body of the metadata service's answers: the document, or nothing.
#[derive(Debug)]
pub struct MetadataBody(Option<Bytes>);

impl Body for MetadataBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(url: &str) -> EngineFacts<'_> {
        EngineFacts {
            public_url: url,
            authorization_servers: vec!["https://as.example".into()],
            dpop_algs: Some(vec!["ES256", "EdDSA"]),
            dpop_required: false,
        }
    }

    #[test]
    fn the_well_known_url_goes_between_host_and_path() {
        let root = ResourceMetadata::new()
            .publish(&facts("https://api.example"))
            .unwrap();
        assert_eq!(
            root.url,
            "https://api.example/.well-known/oauth-protected-resource"
        );
        assert_eq!(root.paths, [WELL_KNOWN_PATH]);
        let nested = ResourceMetadata::new()
            .publish(&facts("https://example.com:8443/api/v1/"))
            .unwrap();
        assert_eq!(
            nested.url,
            "https://example.com:8443/.well-known/oauth-protected-resource/api/v1"
        );
        assert_eq!(
            nested.paths,
            [
                WELL_KNOWN_PATH.to_owned(),
                format!("{WELL_KNOWN_PATH}/api/v1")
            ]
        );
    }

    #[test]
    fn members_member_by_member() {
        let published = ResourceMetadata::new()
            .scopes_supported(["read", "write"])
            .resource_name("Photos")
            .resource_documentation("https://docs.example/photos")
            .resource_policy_uri("https://docs.example/policy")
            .resource_tos_uri("https://docs.example/tos")
            .tls_client_certificate_bound_access_tokens(true)
            .publish(&facts("https://api.example"))
            .unwrap();
        let expected = serde_json::json!({
            "resource": "https://api.example",
            "authorization_servers": ["https://as.example"],
            "scopes_supported": ["read", "write"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Photos",
            "resource_documentation": "https://docs.example/photos",
            "resource_policy_uri": "https://docs.example/policy",
            "resource_tos_uri": "https://docs.example/tos",
            "tls_client_certificate_bound_access_tokens": true,
            "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
            "dpop_bound_access_tokens_required": false,
        });
        assert_eq!(Value::Object(published.document.clone()), expected);
        let body: Value = serde_json::from_slice(&published.body).unwrap();
        assert_eq!(body, expected);
    }

    #[test]
    fn methods_and_paths() {
        let service = ResourceMetadataService {
            published: Arc::new(
                ResourceMetadata::new()
                    .publish(&facts("https://api.example/api"))
                    .unwrap(),
            ),
        };
        for path in [WELL_KNOWN_PATH, "/.well-known/oauth-protected-resource/api"] {
            let ok = service.answer(&Method::GET, path);
            assert_eq!(ok.status(), StatusCode::OK, "{path}");
            assert_eq!(ok.headers()[CONTENT_TYPE], "application/json");
            assert!(ok.body().0.is_some());
            let head = service.answer(&Method::HEAD, path);
            assert_eq!(head.status(), StatusCode::OK);
            assert!(head.body().0.is_none());
        }
        assert_eq!(
            service.answer(&Method::GET, "/other").status(),
            StatusCode::NOT_FOUND
        );
        let post = service.answer(&Method::POST, WELL_KNOWN_PATH);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[ALLOW], "GET, HEAD");
    }
}
