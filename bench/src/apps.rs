//! The application under load, started once per configuration: the same small JSON handler,
//! without authentication, behind tollgate, and behind each peer crate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tollgate::{Introspection, Requirement, Tollgate};
use tollgate_mock::MockAuthServer;

/// The one path every server answers on.
pub const PATH: &str = "/api/items";

/// What every server answers: a small JSON document.
fn body() -> Value {
    json!({ "items": [{ "id": 1, "name": "alpha" }, { "id": 2, "name": "beta" }], "next": null })
}

async fn items() -> axum::Json<Value> {
    axum::Json(body())
}

async fn items07() -> axum07::Json<Value> {
    axum07::Json(body())
}

/// Which axum serves a row (jwt-authorizer needs 0.7).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Framework {
    Axum08,
    Axum07,
}

/// One configuration of the application.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    NoAuth,
    NoAuthLayer,
    NoAuth07,
    TollgateRoutine,
    TollgateRoutineRouteLayer,
    TollgatePool,
    TollgateMiss,
    TollgateNoCache,
    TollgateSensitiveCached,
    TollgateSensitiveLayer,
    TollgateSensitiveLive,
    Jsonwebtoken,
    JwtAuthorizer,
    TowerOauth2,
    OauthResourceServer,
}

/// The verified-token cache capacity of the `miss` row: a quarter of the token pool, so that
/// the pool cycling through it is a stream of misses (with inserts and evictions) under load.
pub const MISS_CACHE_CAPACITY: u64 = 256;

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::NoAuth,
        Kind::NoAuthLayer,
        Kind::NoAuth07,
        Kind::TollgateRoutine,
        Kind::TollgateRoutineRouteLayer,
        Kind::TollgatePool,
        Kind::TollgateMiss,
        Kind::TollgateNoCache,
        Kind::TollgateSensitiveCached,
        Kind::TollgateSensitiveLayer,
        Kind::TollgateSensitiveLive,
        Kind::Jsonwebtoken,
        Kind::JwtAuthorizer,
        Kind::TowerOauth2,
        Kind::OauthResourceServer,
    ];

    /// Short name, used by `--rows`.
    pub fn key(self) -> &'static str {
        match self {
            Kind::NoAuth => "none",
            Kind::NoAuthLayer => "none-layer",
            Kind::NoAuth07 => "none07",
            Kind::TollgateRoutine => "routine",
            Kind::TollgateRoutineRouteLayer => "routine-route",
            Kind::TollgatePool => "pool",
            Kind::TollgateMiss => "miss",
            Kind::TollgateNoCache => "nocache",
            Kind::TollgateSensitiveCached => "sensitive",
            Kind::TollgateSensitiveLayer => "sensitive-layer",
            Kind::Jsonwebtoken => "jsonwebtoken",
            Kind::TollgateSensitiveLive => "live",
            Kind::JwtAuthorizer => "jwt-authorizer",
            Kind::TowerOauth2 => "tower-oauth2",
            Kind::OauthResourceServer => "oauth-rs",
        }
    }

    /// The row label of the table.
    pub fn label(self) -> &'static str {
        match self {
            Kind::NoAuth => "no auth (axum 0.8)",
            Kind::NoAuthLayer => "no auth, pass-through layer",
            Kind::NoAuth07 => "no auth (axum 0.7)",
            Kind::TollgateRoutine => "tollgate routine",
            Kind::TollgateRoutineRouteLayer => "tollgate routine, route_layer",
            Kind::TollgatePool => "tollgate routine, pool",
            Kind::TollgateMiss => "tollgate routine, pool > cache",
            Kind::TollgateNoCache => "tollgate routine, cache 0",
            Kind::TollgateSensitiveCached => "tollgate sensitive, 60 s",
            Kind::TollgateSensitiveLayer => "tollgate sensitive, 60 s, layer",
            Kind::Jsonwebtoken => "bare jsonwebtoken, pool",
            Kind::TollgateSensitiveLive => "tollgate sensitive, 0 s",
            Kind::JwtAuthorizer => "jwt-authorizer 0.15",
            Kind::TowerOauth2 => "tower-oauth2-rs 0.12",
            Kind::OauthResourceServer => "oauth-resource-server 0.4",
        }
    }

    pub fn framework(self) -> Framework {
        match self {
            Kind::NoAuth07 | Kind::JwtAuthorizer => Framework::Axum07,
            _ => Framework::Axum08,
        }
    }

    /// The no-auth row on the same framework: the baseline of this row's ratio.
    pub fn baseline(self) -> Kind {
        match self.framework() {
            Framework::Axum07 => Kind::NoAuth07,
            Framework::Axum08 => Kind::NoAuth,
        }
    }

    /// The rows without authentication.
    pub fn is_baseline(self) -> bool {
        matches!(self, Kind::NoAuth | Kind::NoAuth07)
    }

    /// Rows whose requests may reach the introspection endpoint.
    pub fn introspects(self) -> bool {
        matches!(
            self,
            Kind::TollgateSensitiveCached
                | Kind::TollgateSensitiveLayer
                | Kind::TollgateSensitiveLive
        )
    }

    /// Rows whose connections cycle through the whole token pool (`--pool`) rather than
    /// sending one token each.
    pub fn uses_pool(self) -> bool {
        matches!(
            self,
            Kind::TollgatePool | Kind::TollgateMiss | Kind::Jsonwebtoken
        )
    }
}

/// A tollgate for the mock: issuer, audience, and introspection with the mock's client.
pub fn gate(mock: &MockAuthServer) -> tollgate::TollgateBuilder {
    Tollgate::builder()
        .issuer(mock.issuer())
        .audience(mock.audience())
        .introspection(Introspection::client_secret_basic(
            mock.client_id(),
            mock.client_secret(),
        ))
}

/// Starts the application of `kind` on 127.0.0.1; must run inside the server runtime, which
/// then also runs the middleware's background tasks (key refresh).
pub async fn start(kind: Kind, mock: &MockAuthServer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    let issuer = mock.issuer();
    let audience = mock.audience();
    match kind.framework() {
        Framework::Axum08 => {
            let app = axum::Router::new();
            let app = match kind {
                Kind::NoAuth => app.route(PATH, axum::routing::get(items)),
                // What axum spends on any `Router::layer`: a layer that changes nothing.
                Kind::NoAuthLayer => app
                    .route(PATH, axum::routing::get(items))
                    .layer(tower::util::MapRequestLayer::new(
                        |r: axum::http::Request<axum::body::Body>| r,
                    )),
                Kind::TollgateRoutine
                | Kind::TollgatePool
                | Kind::TollgateMiss
                | Kind::TollgateNoCache => {
                    let mut builder = gate(mock);
                    if kind == Kind::TollgateNoCache {
                        builder = builder.verified_cache_capacity(0);
                    }
                    if kind == Kind::TollgateMiss {
                        builder = builder.verified_cache_capacity(MISS_CACHE_CAPACITY);
                    }
                    let gate = ready(builder).await;
                    app.route(PATH, axum::routing::get(items))
                        .layer(gate.layer())
                }
                Kind::TollgateRoutineRouteLayer => {
                    let gate = ready(gate(mock)).await;
                    app.route(
                        PATH,
                        axum::routing::get(items).route_layer(gate.layer()),
                    )
                }
                Kind::TollgateSensitiveLayer => {
                    // The same requirement as the row below, on the whole router.
                    let gate = ready(gate(mock)).await;
                    app.route(PATH, axum::routing::get(items))
                        .layer(gate.require(Requirement::sensitive(Duration::from_secs(60))))
                }
                Kind::Jsonwebtoken => {
                    let layer = crate::bare::BareLayer::discover(mock).await;
                    app.route(PATH, axum::routing::get(items)).layer(layer)
                }
                Kind::TollgateSensitiveCached | Kind::TollgateSensitiveLive => {
                    let gate = ready(gate(mock)).await;
                    let budget = if kind == Kind::TollgateSensitiveLive {
                        Duration::ZERO
                    } else {
                        Duration::from_secs(60)
                    };
                    // A route annotation validates the token itself (tollgate's `require`
                    // docs): no outer layer, so each request is validated once.
                    app.route(
                        PATH,
                        axum::routing::get(items)
                            .route_layer(gate.require(Requirement::sensitive(budget))),
                    )
                }
                Kind::TowerOauth2 => {
                    use tower_oauth2_resource_server::server::OAuth2ResourceServer;
                    use tower_oauth2_resource_server::tenant::TenantConfiguration;
                    // As its docs show: a tenant from the issuer URL (OIDC discovery), the
                    // audience, the default claims.
                    let tenant = TenantConfiguration::builder(issuer.clone())
                        .audiences(std::slice::from_ref(&audience))
                        .build()
                        .await
                        .expect("tower-oauth2-resource-server tenant");
                    let server = <OAuth2ResourceServer>::builder()
                        .add_tenant(tenant)
                        .build()
                        .await
                        .expect("tower-oauth2-resource-server");
                    app.route(PATH, axum::routing::get(items))
                        .layer(server.into_layer())
                }
                Kind::OauthResourceServer => {
                    use oauth_resource_server::axum::AuthLayer;
                    use oauth_resource_server::{
                        KeyNaming, OAuthConfig, OAuthValidator, static_token_policy,
                    };
                    // As its quickstart: issuer (keys discovered from it), audience, resource,
                    // a required scope (the mock grants `read`), and `require_at_jwt`, which its
                    // docs say to turn on for servers that issue `at+jwt` (the mock does).
                    let config = OAuthConfig {
                        enabled: true,
                        issuer: issuer.clone(),
                        audience: audience.clone(),
                        resource: format!("http://{addr}"),
                        required_scope: Some("read".into()),
                        require_at_jwt: true,
                        ..OAuthConfig::default()
                    };
                    let resolved = config
                        .resolve(KeyNaming::Dotted("oauth"))
                        .expect("valid oauth-resource-server configuration")
                        .expect("enabled");
                    let oauth =
                        Arc::new(OAuthValidator::new(&resolved).expect("oauth-resource-server"));
                    oauth.spawn_background_refresh();
                    oauth
                        .refresh_now()
                        .await
                        .expect("oauth-resource-server keys");
                    let decision =
                        static_token_policy(None, Some(&resolved), false).expect("policy");
                    let auth = AuthLayer::from_decision(decision, Some(oauth)).expect("layer");
                    app.route(PATH, axum::routing::get(items)).route_layer(auth)
                }
                Kind::NoAuth07 | Kind::JwtAuthorizer => unreachable!("axum 0.7 rows"),
            };
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
        }
        Framework::Axum07 => {
            let app = axum07::Router::new().route(PATH, axum07::routing::get(items07));
            let app = match kind {
                Kind::NoAuth07 => app,
                Kind::JwtAuthorizer => {
                    use jwt_authorizer::{Authorizer, IntoLayer, JwtAuthorizer, Validation};
                    // As its README: an authorizer from the issuer (OIDC discovery), with
                    // issuer and audience validation.
                    let auth: Authorizer = JwtAuthorizer::from_oidc(&issuer)
                        .validation(Validation::new().iss(&[&issuer]).aud(&[&audience]))
                        .build()
                        .await
                        .expect("jwt-authorizer");
                    app.layer(auth.into_layer())
                }
                _ => unreachable!("axum 0.8 rows"),
            };
            tokio::spawn(async move {
                let _ = axum07::serve(listener, app).await;
            });
        }
    }
    addr
}

/// Builds a gate and waits for its keys.
pub async fn ready(builder: tollgate::TollgateBuilder) -> Tollgate {
    let gate = builder.build().expect("valid tollgate configuration");
    assert!(
        gate.wait_for_keys(Duration::from_secs(10)).await,
        "tollgate keys did not load"
    );
    gate
}
