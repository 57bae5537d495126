//! Sender-constrained tokens over real HTTP (README, "Sender-constrained tokens"): DPoP proofs
//! (RFC 9449) rule by rule, for JWTs and for introspected opaque tokens, against an axum
//! server on 127.0.0.1 and tollgate-mock; per-issuer and per-route constraints; the nonce
//! flow; the challenges side by side; the RFC 9728 document and `resource_metadata`.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{builder, client, hybrid_builder};
use http::HeaderMap;
use tollgate::{Dpop, Principal, Requirement, ResourceMetadata, SenderConstraint, Tollgate};
use tollgate::{TollgateBuilder, TrustedIssuer};
use tollgate_mock::MockAuthServer;
use tollgate_mock::dpop::DpopKey;
use tollgate_mock::testing::unix_now;

/// What a client sees: the status, every challenge, the nonce, the body.
#[derive(Debug)]
struct Reply {
    status: u16,
    challenges: Vec<String>,
    nonce: Option<String>,
    #[allow(dead_code, reason = "shown in failures")]
    retry_after: Option<String>,
    body: String,
}

impl Reply {
    /// The challenge of `scheme`, if any.
    fn challenge(&self, scheme: &str) -> Option<&str> {
        self.challenges
            .iter()
            .map(String::as_str)
            .find(|c| c.split(' ').next() == Some(scheme))
    }

    /// The `error` of the challenge of `scheme`.
    fn error(&self, scheme: &str) -> Option<String> {
        tollgate_mock::challenge::param(self.challenge(scheme)?, "error")
    }

    fn param(&self, scheme: &str, name: &str) -> Option<String> {
        tollgate_mock::challenge::param(self.challenge(scheme)?, name)
    }
}

/// The API under test, served on its own loopback port, with the gate built for that URL.
struct Api {
    base: String,
    http: reqwest::Client,
    gate: Tollgate,
}

async fn handler(principal: Principal) -> String {
    format!(
        "{} bound={}",
        principal.subject().unwrap_or("-"),
        principal.is_sender_constrained()
    )
}

impl Api {
    /// Binds a port, builds the gate with `public_url` = that URL, serves:
    /// `/items` (any scheme the issuer takes), `/dpop-only`, `/bearer-only`, `/step-up`.
    async fn start(
        configure: impl FnOnce(TollgateBuilder) -> TollgateBuilder,
        mock: &MockAuthServer,
    ) -> Api {
        Self::start_with(|base| configure(builder(mock).public_url(base))).await
    }

    async fn start_with(make: impl FnOnce(&str) -> TollgateBuilder) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let gate = make(&base).build().expect("valid configuration");
        assert!(gate.wait_for_keys(Duration::from_secs(10)).await);
        let mut app = Router::new()
            .route("/items", get(handler).post(handler))
            .route(
                "/dpop-only",
                get(handler).route_layer(gate.require(Requirement::routine().dpop_required())),
            )
            .route(
                "/bearer-only",
                get(handler).route_layer(gate.require(
                    Requirement::routine().sender_constraint(SenderConstraint::BearerOnly),
                )),
            )
            .layer(gate.layer());
        if let Some(metadata) = gate.resource_metadata_service() {
            app = app.route_service(tollgate::metadata::WELL_KNOWN_PATH, metadata);
        }
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Api {
            base,
            http: client(),
            gate,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, method: &str, path: &str, headers: HeaderMap) -> Reply {
        let method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let response = self
            .http
            .request(method, self.url(path))
            .headers(headers)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let all = |name| {
            response
                .headers()
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let challenges = all("www-authenticate");
        let nonce = all("dpop-nonce").into_iter().next();
        let retry_after = all("retry-after").into_iter().next();
        let body = response.text().await.unwrap();
        Reply {
            status,
            challenges,
            nonce,
            retry_after,
            body,
        }
    }

    /// `GET path` with `Authorization: DPoP token` and the proof `proof`.
    async fn dpop(&self, method: &str, path: &str, token: &str, proof: &str) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("DPoP {token}").parse().unwrap());
        headers.insert("dpop", proof.parse().unwrap());
        self.send(method, path, headers).await
    }

    async fn bearer(&self, path: &str, token: &str) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        self.send("GET", path, headers).await
    }
}

/// How the token of a case is made.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Jwt,
    Opaque,
}

fn bound_token(mock: &MockAuthServer, kind: Kind, key: &DpopKey) -> String {
    match kind {
        Kind::Jwt => mock.token().subject("alice").dpop_bound(key).sign(),
        Kind::Opaque => mock.opaque_token().subject("alice").dpop_bound(key).issue(),
    }
}

fn plain_token(mock: &MockAuthServer, kind: Kind) -> String {
    match kind {
        Kind::Jwt => mock.token().subject("alice").sign(),
        Kind::Opaque => mock.opaque_token().subject("alice").issue(),
    }
}

/// Every rule of RFC 9449 §4.3 and §7, for a JWT and for an opaque token, over HTTP.
#[tokio::test]
async fn every_proof_rule_over_http_for_jwt_and_opaque_tokens() {
    let mock = MockAuthServer::start().await;
    let api =
        Api::start_with(|base| hybrid_builder(&mock).public_url(base).dpop(Dpop::new())).await;
    let key = DpopKey::generate();
    let other = DpopKey::generate();
    let url = api.url("/items");
    for kind in [Kind::Jwt, Kind::Opaque] {
        let token = bound_token(&mock, kind, &key);
        let unbound = plain_token(&mock, kind);
        let good = || key.proof("GET", &url).access_token(&token);
        type Case<'a> = (&'a str, String, String, u16, Option<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            ("a right proof", token.clone(), good().sign(), 200, None),
            (
                "the proof of another method",
                token.clone(),
                good().htm("POST").sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "the proof of another URI",
                token.clone(),
                good().htu(api.url("/other")).sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "the proof of another origin (what a Host header would say)",
                token.clone(),
                good().htu("http://evil.example/items").sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "a proof too old",
                token.clone(),
                good().iat(unix_now() - 600).sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "a proof from the future",
                token.clone(),
                good().iat(unix_now() + 600).sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "ath of another token",
                token.clone(),
                good()
                    .ath("x5_4AQnx-fGDa0fXXvj8kKHGi7LS5U-1Kx5OSN2dxc8")
                    .sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "no ath",
                token.clone(),
                key.proof("GET", &url).sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "a proof by another key than the token's",
                token.clone(),
                other.proof("GET", &url).access_token(&token).sign(),
                401,
                Some("invalid_token"),
            ),
            (
                "a private key in the jwk",
                token.clone(),
                good().with_private_key().sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "alg none",
                token.clone(),
                good().alg("none").unsigned().sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "an HMAC proof",
                token.clone(),
                good()
                    .signing_algorithm(jsonwebtoken::Algorithm::HS256)
                    .sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "typ JWT",
                token.clone(),
                good().typ("JWT").sign(),
                401,
                Some("invalid_dpop_proof"),
            ),
            (
                "a proof with a token bound to nothing",
                unbound.clone(),
                key.proof("GET", &url).access_token(&unbound).sign(),
                401,
                Some("invalid_token"),
            ),
        ];
        for (what, token, proof, status, error) in cases {
            let reply = api.dpop("GET", "/items", &token, &proof).await;
            assert_eq!(reply.status, status, "{kind:?}: {what}: {reply:?}");
            assert_eq!(
                reply.error("DPoP").as_deref(),
                error,
                "{kind:?}: {what}: {reply:?}"
            );
            if status == 200 {
                assert_eq!(reply.body, "alice bound=true");
            } else {
                // The error is on the DPoP challenge; the Bearer one beside it is bare.
                assert_eq!(reply.error("Bearer"), None, "{kind:?}: {what}: {reply:?}");
                assert!(reply.param("DPoP", "algs").is_some(), "{what}");
            }
        }

        // The same proof twice: the second is a replay.
        let proof = good().sign();
        assert_eq!(api.dpop("GET", "/items", &token, &proof).await.status, 200);
        let replayed = api.dpop("GET", "/items", &token, &proof).await;
        assert_eq!(replayed.status, 401, "{kind:?}: {replayed:?}");
        assert_eq!(
            replayed.error("DPoP").as_deref(),
            Some("invalid_dpop_proof")
        );
        assert_eq!(
            replayed.param("DPoP", "error_description").as_deref(),
            Some("the DPoP proof was already used")
        );

        // A replayed jti in a new proof (re-signed, same key) is still a replay. (A jti is
        // remembered per key, whatever the token: each kind uses its own.)
        let jti = format!("the-same-jti-{kind:?}");
        let jti_proof = good().jti(jti.as_str()).sign();
        assert_eq!(
            api.dpop("GET", "/items", &token, &jti_proof).await.status,
            200
        );
        let again = good().jti(jti.as_str()).sign();
        assert_eq!(api.dpop("GET", "/items", &token, &again).await.status, 401);

        // Two DPoP headers.
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("DPoP {token}").parse().unwrap());
        headers.append("dpop", good().sign().parse().unwrap());
        headers.append("dpop", good().sign().parse().unwrap());
        let two = api.send("GET", "/items", headers).await;
        assert_eq!(two.status, 401, "{kind:?}: {two:?}");
        assert_eq!(two.error("DPoP").as_deref(), Some("invalid_dpop_proof"));

        // No proof at all.
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("DPoP {token}").parse().unwrap());
        let none = api.send("GET", "/items", headers).await;
        assert_eq!(none.status, 401);
        assert_eq!(none.error("DPoP").as_deref(), Some("invalid_dpop_proof"));

        // The bound token as a bearer token (RFC 9449 §7.2).
        let as_bearer = api.bearer("/items", &token).await;
        assert_eq!(as_bearer.status, 401, "{kind:?}: {as_bearer:?}");
        assert_eq!(as_bearer.error("DPoP").as_deref(), Some("invalid_token"));
        assert_eq!(
            as_bearer.param("DPoP", "error_description").as_deref(),
            Some("a DPoP-bound token must be sent with the DPoP scheme")
        );

        // A plain bearer token still works as one, and a POST proof for a POST.
        assert_eq!(api.bearer("/items", &unbound).await.status, 200);
        let post = key.proof("POST", &url).access_token(&token).sign();
        let posted = api.dpop("POST", "/items", &token, &post).await;
        assert_eq!(posted.status, 200, "{kind:?}: {posted:?}");
    }
}

/// The route's constraint and the issuer's, each way.
#[tokio::test]
async fn per_route_and_per_issuer_constraints() {
    let mock = MockAuthServer::start().await;
    let strict = MockAuthServer::start().await;
    let api = Api::start_with(|base| {
        builder(&mock).public_url(base).dpop(Dpop::new()).trust(
            TrustedIssuer::new(strict.issuer())
                .audience(strict.audience())
                .sender_constraint(SenderConstraint::DpopRequired),
        )
    })
    .await;
    let key = DpopKey::generate();
    let bound = mock.token().subject("alice").dpop_bound(&key).sign();
    let plain = mock.token().subject("alice").sign();
    let proof =
        |path: &str, token: &str| key.proof("GET", &api.url(path)).access_token(token).sign();

    // A DPoP-only route: bearer refused with the DPoP challenge alone, DPoP accepted.
    let refused = api.bearer("/dpop-only", &plain).await;
    assert_eq!(refused.status, 401, "{refused:?}");
    assert!(refused.challenge("Bearer").is_none(), "{refused:?}");
    assert_eq!(refused.error("DPoP").as_deref(), Some("invalid_token"));
    assert_eq!(
        api.dpop("GET", "/dpop-only", &bound, &proof("/dpop-only", &bound))
            .await
            .status,
        200
    );
    // A bearer-only route: the DPoP scheme refused, the Bearer challenge alone.
    let refused = api
        .dpop(
            "GET",
            "/bearer-only",
            &bound,
            &proof("/bearer-only", &bound),
        )
        .await;
    assert_eq!(refused.status, 401, "{refused:?}");
    assert!(refused.challenge("DPoP").is_none(), "{refused:?}");
    assert_eq!(refused.error("Bearer").as_deref(), Some("invalid_token"));
    assert_eq!(api.bearer("/bearer-only", &plain).await.status, 200);

    // The strict issuer requires DPoP: its bearer tokens are refused on every route.
    let strict_plain = strict.token().subject("bob").sign();
    let refused = api.bearer("/items", &strict_plain).await;
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_eq!(refused.error("DPoP").as_deref(), Some("invalid_token"));
    assert!(
        refused.challenge("Bearer").is_none(),
        "the issuer's schemes: {refused:?}"
    );
    let strict_bound = strict.token().subject("bob").dpop_bound(&key).sign();
    let accepted = api
        .dpop(
            "GET",
            "/items",
            &strict_bound,
            &proof("/items", &strict_bound),
        )
        .await;
    assert_eq!(
        (accepted.status, accepted.body.as_str()),
        (200, "bob bound=true")
    );

    // A missing token: both challenges, neither with an error, `algs` on DPoP.
    let anonymous = api.send("GET", "/items", HeaderMap::new()).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.challenges.len(), 2, "{anonymous:?}");
    assert_eq!(anonymous.error("Bearer"), None);
    assert_eq!(anonymous.error("DPoP"), None);
    assert_eq!(
        anonymous.param("DPoP", "algs").as_deref(),
        Some("ES256 ES384 EdDSA PS256 PS384 PS512 RS256 RS384 RS512")
    );
    assert_eq!(
        anonymous.param("Bearer", "realm").as_deref(),
        Some("tollgate-test")
    );
    assert_eq!(
        anonymous.param("DPoP", "realm").as_deref(),
        Some("tollgate-test")
    );
}

/// A route requirement that accepts DPoP needs an engine with DPoP settings.
#[tokio::test]
async fn dpop_without_settings_is_refused_at_build_and_attach() {
    let mock = MockAuthServer::start().await;
    let gate = builder(&mock).build().unwrap();
    let error = gate
        .try_require(Requirement::routine().dpop_required())
        .map(|_| ())
        .unwrap_err();
    assert_eq!(error.kind(), tollgate::ConfigErrorKind::Requirement);
    let error = builder(&mock)
        .sender_constraint(SenderConstraint::DpopRequired)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), tollgate::ConfigErrorKind::Dpop);
    let error = builder(&mock).dpop(Dpop::new()).build().unwrap_err();
    assert_eq!(error.kind(), tollgate::ConfigErrorKind::Dpop, "{error}");
    let error = builder(&mock)
        .public_url("https://api.example/?q")
        .dpop(Dpop::new())
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), tollgate::ConfigErrorKind::InvalidUrl);
    // Without DPoP settings, the DPoP scheme is no token, as any other scheme.
    let key = DpopKey::generate();
    let token = mock.token().dpop_bound(&key).sign();
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("DPoP {token}").parse().unwrap());
    let request = {
        let mut r = http::Request::new(());
        *r.headers_mut() = headers;
        r
    };
    assert!(gate.wait_for_keys(Duration::from_secs(10)).await);
    assert_eq!(
        gate.validate_request(&request, &Requirement::routine())
            .await
            .unwrap_err(),
        tollgate::Rejection::MissingToken
    );
    // And the bound token is refused as a bearer token by `validate`, which proves nothing.
    assert_eq!(
        gate.validate(&token).await.unwrap_err(),
        tollgate::Rejection::InvalidToken(tollgate::InvalidToken::DpopBoundAsBearer)
    );
}

/// Server nonces (RFC 9449 §8, §9): a proof without one is answered `use_dpop_nonce` with a
/// fresh nonce, the retry with it passes.
#[tokio::test]
async fn the_nonce_flow() {
    let mock = MockAuthServer::start().await;
    let api = Api::start(|b| b.dpop(Dpop::new().nonce_secret([9u8; 32])), &mock).await;
    let key = DpopKey::generate();
    let token = mock.token().subject("alice").dpop_bound(&key).sign();
    let url = api.url("/items");
    let first = api
        .dpop(
            "GET",
            "/items",
            &token,
            &key.proof("GET", &url).access_token(&token).sign(),
        )
        .await;
    assert_eq!(first.status, 401, "{first:?}");
    assert_eq!(first.error("DPoP").as_deref(), Some("use_dpop_nonce"));
    let nonce = first.nonce.clone().expect("a DPoP-Nonce header");
    let wrong = api
        .dpop(
            "GET",
            "/items",
            &token,
            &key.proof("GET", &url)
                .access_token(&token)
                .nonce("made-up")
                .sign(),
        )
        .await;
    assert_eq!(wrong.error("DPoP").as_deref(), Some("use_dpop_nonce"));
    // The retry, as a client does it with the mock's helper.
    let retry = api
        .send(
            "GET",
            "/items",
            key.request_headers_with_nonce("GET", &url, &token, &nonce),
        )
        .await;
    assert_eq!(retry.status, 200, "{retry:?}");
    // The current nonce needs no new one.
    assert_eq!(retry.nonce, None);
}

/// RFC 9728: the document member by member, at both paths, and `resource_metadata` on every
/// challenge.
#[tokio::test]
async fn the_protected_resource_metadata_and_its_challenges() {
    let mock = MockAuthServer::start().await;
    let partner = MockAuthServer::start().await;
    let api = Api::start_with(|base| {
        builder(&mock)
            .public_url(base)
            .dpop(Dpop::new().algorithms([tollgate::Algorithm::ES256, tollgate::Algorithm::EdDSA]))
            .trust(TrustedIssuer::new(partner.issuer()).audience(partner.audience()))
            .resource_metadata(
                ResourceMetadata::new()
                    .scopes_supported(["items:read"])
                    .resource_name("Items"),
            )
    })
    .await;
    let reply = api
        .send("GET", tollgate::metadata::WELL_KNOWN_PATH, HeaderMap::new())
        .await;
    assert_eq!(reply.status, 200);
    let document: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        document,
        serde_json::json!({
            "resource": api.base,
            "authorization_servers": [mock.issuer(), partner.issuer()],
            "scopes_supported": ["items:read"],
            "bearer_methods_supported": ["header"],
            "resource_name": "Items",
            "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
            "dpop_bound_access_tokens_required": false,
        })
    );
    let metadata_url = format!("{}{}", api.base, tollgate::metadata::WELL_KNOWN_PATH);
    let anonymous = api.send("GET", "/items", HeaderMap::new()).await;
    for scheme in ["Bearer", "DPoP"] {
        assert_eq!(
            anonymous.param(scheme, "resource_metadata").as_deref(),
            Some(metadata_url.as_str()),
            "{anonymous:?}"
        );
    }
    let expired = api.bearer("/items", &mock.token().expired().sign()).await;
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.param("Bearer", "resource_metadata").as_deref(),
        Some(metadata_url.as_str())
    );
    // Not a protected route: no challenge there, and others are 404.
    assert_eq!(
        api.send(
            "GET",
            "/.well-known/oauth-protected-resource/x",
            HeaderMap::new()
        )
        .await
        .status,
        401,
        "outside the metadata routes, the layer answers"
    );
    assert_eq!(
        api.gate.resource_metadata_service().unwrap().url(),
        metadata_url
    );
}

/// The replay cache shared through a store: a proof accepted by one instance is refused by
/// another.
#[tokio::test]
async fn a_shared_replay_cache_spans_instances() {
    use std::sync::Arc;
    use tollgate::store::{Memory, Namespace, SharedStore};

    let mock = MockAuthServer::start().await;
    let store: Arc<dyn SharedStore> = Arc::new(Memory::new());
    let ns = Namespace::new("https://api.example", ["dpop"]);
    // Both instances are reached at the same public URL, as behind one load balancer.
    let make = |store: Arc<dyn SharedStore>| {
        builder(&mock)
            .public_url("https://api.example")
            .dpop(Dpop::new())
            .dpop_replay_store(store, ns.clone())
            .build()
            .unwrap()
    };
    let (one, two) = (make(Arc::clone(&store)), make(Arc::clone(&store)));
    assert!(one.wait_for_keys(Duration::from_secs(10)).await);
    assert!(two.wait_for_keys(Duration::from_secs(10)).await);
    let key = DpopKey::generate();
    let token = mock.token().subject("alice").dpop_bound(&key).sign();
    let headers = key.request_headers("GET", "https://api.example/items", &token);
    let request = || {
        let mut r = http::Request::get("/items").body(()).unwrap();
        *r.headers_mut() = headers.clone();
        r
    };
    let requirement = Requirement::routine();
    assert!(one.validate_request(&request(), &requirement).await.is_ok());
    assert_eq!(
        two.validate_request(&request(), &requirement)
            .await
            .unwrap_err(),
        tollgate::Rejection::InvalidDpopProof("the DPoP proof was already used")
    );
    // A store that cannot answer refuses the proof (503), never accepts it unchecked.
    let down = Memory::new();
    let broken = make(Arc::new(down.clone()));
    assert!(broken.wait_for_keys(Duration::from_secs(10)).await);
    down.set_available(false);
    let fresh = key.request_headers("GET", "https://api.example/items", &token);
    let mut r = http::Request::get("/items").body(()).unwrap();
    *r.headers_mut() = fresh;
    let refused = broken.validate_request(&r, &requirement).await.unwrap_err();
    assert_eq!(
        refused.status(),
        http::StatusCode::SERVICE_UNAVAILABLE,
        "{refused:?}"
    );
    // Counted: the proof the store could not record, and what each instance holds.
    let diagnostics = broken.diagnostics();
    assert_eq!(diagnostics.dpop_proofs_unrecorded, 1);
    assert_eq!(one.diagnostics().dpop_proofs_remembered, 1);
    assert_eq!(one.diagnostics().dpop_proofs_unrecorded, 0);
}

/// Shaped servers whose introspection answers say `token_type: DPoP`: an opaque DPoP-bound
/// token passes with its proof and is refused as a bearer token.
#[tokio::test]
async fn answers_typed_dpop_by_shaped_servers() {
    use tollgate::{Introspection, Profile};
    use tollgate_mock::Shape;
    for (shape, profile) in [
        (Shape::Keycloak, Profile::keycloak()),
        (
            Shape::SpringAuthorizationServer,
            Profile::spring_authorization_server(),
        ),
        (Shape::OidcProvider, Profile::oidc_provider()),
    ] {
        let mock = MockAuthServer::builder().shape(shape.clone()).start().await;
        let audience = match shape {
            Shape::SpringAuthorizationServer => mock.client_id(),
            _ => mock.audience(),
        };
        let api = Api::start_with(|base| {
            Tollgate::builder()
                .public_url(base)
                .dpop(Dpop::new())
                .trust(
                    TrustedIssuer::new(mock.issuer())
                        .profile(profile)
                        .audience(audience.clone())
                        .introspection(Introspection::client_secret_basic(
                            mock.client_id(),
                            mock.client_secret(),
                        )),
                )
        })
        .await;
        let key = DpopKey::generate();
        let token = mock
            .opaque_token()
            .audience(audience.clone())
            .dpop_bound(&key)
            .issue();
        let url = api.url("/items");
        let proof = key.proof("GET", &url).access_token(&token).sign();
        let accepted = api.dpop("GET", "/items", &token, &proof).await;
        assert_eq!(accepted.status, 200, "{shape:?}: {accepted:?}");
        let as_bearer = api.bearer("/items", &token).await;
        assert_eq!(as_bearer.status, 401, "{shape:?}: {as_bearer:?}");
        assert_eq!(
            as_bearer.param("DPoP", "error_description").as_deref(),
            Some("a DPoP-bound token must be sent with the DPoP scheme"),
            "{shape:?}"
        );
    }
}
