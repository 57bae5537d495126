//! Profiles and several trusted issuers (README, "Authorization servers"; docs/ARCHITECTURE.md,
//! "Issuers"), against tollgate-mock imitating each server over real loopback HTTP, discovery
//! included.
//!
//! Per profile, one row of a table and the five cases of issue #12: the server's access token
//! passes with the profile, and strict mode refuses it with its own reason (and, once `typ` is
//! fixed, with the next one, if any: how narrow the profile is); the same server's ID token is
//! refused; a token for another API is refused; a token naming the other trusted issuer but
//! signed with this one's key is refused, both ways; a token naming an untrusted issuer is
//! refused without any key fetch. Then Entra tenant templates, the strict-mode hints, and two
//! issuers through the layer while one of them rotates its keys.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use common::{InProcess, ready};
use serde_json::json;
use tollgate::{
    InvalidToken, Principal, Profile, Rejection, Tollgate, TollgateBuilder, TrustedIssuer,
};
use tollgate_mock::{Algorithm, MockAuthServer, Shape};

/// The Entra tenant of the Entra shapes.
const TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// Another tenant of the same Entra server.
const OTHER_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// How an API configures one server: which profile, and what it says is its audience.
#[derive(Clone, Copy)]
enum AudienceIs {
    /// The API's audience, as the server's administrator set it (`aud` contains it).
    Api,
    /// The server's tokens carry the client as `aud`: the client id is the audience.
    Client,
    /// No `aud` (or `aud: []`) in the server's tokens: the client id is allowlisted.
    AllowedClient,
    /// `aud` holds the API when the client asked for it, else `[]`: both.
    ApiAndAllowedClient,
}

/// One row: a server, its profile, and what each case must find.
struct Row {
    shape: Shape,
    profile: Profile,
    audience: AudienceIs,
    /// Why strict mode refuses the server's access token; `None`: it passes (the server follows
    /// RFC 9068).
    strict: Option<InvalidToken>,
    /// Why strict mode refuses it once its header says `typ: at+jwt`; `None`: it passes.
    strict_with_at_jwt: Option<InvalidToken>,
    /// Why the profile refuses the server's ID token.
    id_token: InvalidToken,
    /// Whether the server's access tokens carry the client id.
    client_id: bool,
    /// Whether they carry scopes (ZITADEL's and authentik's JWTs have none).
    scopes: bool,
    /// Whether the profile reads roles, and permissions.
    roles: bool,
    permissions: bool,
}

fn rows() -> Vec<Row> {
    use InvalidToken::*;
    let row = |shape, profile, audience, strict_with_at_jwt, id_token| Row {
        shape,
        profile,
        audience,
        strict: Some(Type),
        strict_with_at_jwt,
        id_token,
        client_id: true,
        scopes: true,
        roles: true,
        permissions: false,
    };
    vec![
        Row {
            strict: None,
            roles: false,
            ..row(
                Shape::Strict,
                Profile::strict(),
                AudienceIs::Api,
                None,
                Type,
            )
        },
        row(
            Shape::Keycloak,
            Profile::keycloak(),
            AudienceIs::Api,
            Some(MissingClaim("client_id")),
            Audience,
        ),
        row(
            Shape::EntraV1 {
                tenant: TENANT.into(),
            },
            Profile::entra_v1(),
            AudienceIs::Api,
            Some(MissingClaim("client_id")),
            Audience,
        ),
        row(
            Shape::EntraV2 {
                tenant: TENANT.into(),
            },
            Profile::entra_v2(),
            AudienceIs::Api,
            Some(MissingClaim("client_id")),
            Audience,
        ),
        Row {
            roles: false,
            permissions: true,
            ..row(
                Shape::Auth0,
                Profile::auth0(),
                AudienceIs::Api,
                Some(MissingClaim("client_id")),
                Audience,
            )
        },
        row(
            Shape::Okta,
            Profile::okta(),
            AudienceIs::Api,
            Some(MissingClaim("client_id")),
            Audience,
        ),
        row(
            Shape::Cognito,
            Profile::cognito(),
            AudienceIs::AllowedClient,
            Some(MissingClaim("aud")),
            // Its `aud` is the client, which is no audience here (`token_use: id` would refuse
            // it next).
            Audience,
        ),
        Row {
            // Hydra has no roles claim of its own (custom claims go under `ext`).
            roles: false,
            ..row(
                Shape::Hydra,
                Profile::hydra(),
                AudienceIs::ApiAndAllowedClient,
                Some(Audience),
                // `aud: [client]`; its `at_hash` and `rat` would refuse it next.
                Audience,
            )
        },
        Row {
            scopes: false,
            ..row(
                Shape::Zitadel,
                Profile::zitadel(),
                AudienceIs::Api,
                None,
                NotAccessToken,
            )
        },
        Row {
            scopes: false,
            roles: false,
            ..row(
                Shape::Authentik,
                Profile::authentik(),
                AudienceIs::Client,
                Some(MissingClaim("client_id")),
                NotAccessToken,
            )
        },
        Row {
            roles: false,
            ..row(
                Shape::Curity,
                Profile::curity(),
                AudienceIs::Api,
                None,
                Audience,
            )
        },
        Row {
            client_id: false,
            roles: false,
            ..row(
                Shape::SpringAuthorizationServer,
                Profile::spring_authorization_server(),
                AudienceIs::Client,
                Some(MissingClaim("client_id")),
                NotAccessToken,
            )
        },
        Row {
            strict: None,
            roles: false,
            ..row(
                Shape::OidcProvider,
                Profile::oidc_provider(),
                AudienceIs::Api,
                None,
                Type,
            )
        },
    ]
}

/// `mock` as an API trusts it, with `profile`.
fn trusted(mock: &MockAuthServer, profile: Profile, audience: AudienceIs) -> TrustedIssuer {
    let issuer = TrustedIssuer::new(mock.issuer()).profile(profile);
    match audience {
        AudienceIs::Api => issuer.audience(mock.audience()),
        AudienceIs::Client => issuer.audience(mock.client_id()),
        AudienceIs::AllowedClient => issuer.allowed_clients([mock.client_id()]),
        AudienceIs::ApiAndAllowedClient => issuer
            .audience(mock.audience())
            .allowed_clients([mock.client_id()]),
    }
}

/// An engine with test-friendly timings that trusts `issuers`, its keys loaded.
async fn engine(issuers: impl IntoIterator<Item = TrustedIssuer>) -> Tollgate {
    let mut builder: TollgateBuilder = Tollgate::builder()
        .realm("tollgate-test")
        .unknown_kid_cooldown(Duration::from_secs(60))
        .fetch_timeout(Duration::from_secs(2));
    for issuer in issuers {
        builder = builder.trust(issuer);
    }
    ready(builder).await
}

fn refused(result: Result<Principal, Rejection>) -> InvalidToken {
    match result {
        Err(Rejection::InvalidToken(why)) => why,
        Err(other) => panic!("refused, but not as an invalid token: {other:?}"),
        Ok(principal) => panic!("accepted: {principal:?} ({:?})", principal.issuer()),
    }
}

/// The other trusted issuer of every row: a strict RFC 9068 server, with a key of its own
/// (mocks share one generated key unless told otherwise, and then a key of one would verify
/// the other's tokens by construction).
async fn partner() -> MockAuthServer {
    MockAuthServer::builder()
        .fresh_key()
        .issuer_path("/partner")
        .audience("https://partner-api.test")
        .start()
        .await
}

#[tokio::test]
async fn each_profile_accepts_its_servers_access_tokens_and_refuses_the_rest() {
    let partner = partner().await;
    for row in rows() {
        let name = row.profile.name();
        let mock = MockAuthServer::builder()
            .shape(row.shape.clone())
            .start()
            .await;
        let gate = engine([
            trusted(&mock, row.profile.clone(), row.audience),
            TrustedIssuer::new(partner.issuer()).audience(partner.audience()),
        ])
        .await;
        // Strict mode has no stand-in for the audience: it gets the mock's.
        let strict = match row.audience {
            AudienceIs::AllowedClient => AudienceIs::ApiAndAllowedClient,
            other => other,
        };
        let strict = engine([trusted(&mock, Profile::strict(), strict)]).await;

        // 1. The server's access token passes, and the principal says the same things
        //    whichever server issued it.
        let mut token = mock.token().scope("read write");
        if row.roles {
            token = token.roles(["auditor"]);
        }
        if row.permissions {
            token = token.permissions(["read:photos"]);
        }
        let token = token.sign();
        let principal = gate
            .validate(&token)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(principal.issuer(), Some(mock.issuer().as_str()), "{name}");
        assert_eq!(
            principal.client_id(),
            row.client_id.then(|| mock.client_id()).as_deref(),
            "{name}"
        );
        if row.scopes {
            assert!(
                principal.has_scope("read") && principal.has_scope("write"),
                "{name}: {:?}",
                principal.scopes()
            );
        }
        assert_eq!(principal.has_role("auditor"), row.roles, "{name}");
        assert!(
            !principal.has_scope("auditor"),
            "{name}: roles are no scopes"
        );
        assert_eq!(
            principal.has_permission("read:photos"),
            row.permissions,
            "{name}"
        );

        // 2. Strict mode refuses it, for its `typ`; with `typ` fixed, for the next reason.
        match row.strict {
            Some(why) => assert_eq!(refused(strict.validate(&token).await), why, "{name}"),
            None => assert!(strict.validate(&token).await.is_ok(), "{name}"),
        }
        let typed = mock.token().header("typ", "at+jwt").sign();
        match row.strict_with_at_jwt {
            Some(why) => assert_eq!(refused(strict.validate(&typed).await), why, "{name}"),
            None => assert!(strict.validate(&typed).await.is_ok(), "{name}"),
        }

        // 3. The same server's ID token is no access token.
        let id_token = mock.id_token().sign();
        assert_eq!(
            refused(gate.validate(&id_token).await),
            row.id_token,
            "{name}"
        );

        // 4. A token for another API (or, where the client stands for the audience, of
        //    another client).
        let elsewhere = match row.audience {
            AudienceIs::AllowedClient => mock.token().client_id("another-client").sign(),
            _ => mock.token().audience("https://another-api.test").sign(),
        };
        assert_eq!(
            refused(gate.validate(&elsewhere).await),
            InvalidToken::Audience,
            "{name}"
        );

        // 5. A token naming the other trusted issuer, signed with this server's key, is
        //    verified with the partner's keys only: its kid is unknown there (after one
        //    refetch), and under the partner's kid the signature fails. And the other way.
        let as_partner = mock
            .token()
            .issuer(partner.issuer())
            .header("typ", "at+jwt")
            .sign();
        assert_eq!(
            refused(gate.validate(&as_partner).await),
            InvalidToken::UnknownKey,
            "{name}"
        );
        let claims = json!({
            "iss": partner.issuer(), "sub": "alice", "aud": partner.audience(),
            "client_id": partner.client_id(), "iat": 1, "exp": 4_000_000_000_i64,
            "jti": "j1", "scope": "read",
        });
        let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": partner.signing_kid()});
        let forged = mock.sign_raw(&header, &claims, &mock.signing_kid());
        assert_eq!(
            refused(gate.validate(&forged).await),
            InvalidToken::Signature,
            "{name}"
        );
        let as_server = partner.token().issuer(mock.issuer()).sign();
        assert!(
            matches!(
                refused(gate.validate(&as_server).await),
                InvalidToken::UnknownKey | InvalidToken::Type
            ),
            "{name}"
        );

        // 6. An untrusted issuer: refused before any key is fetched from anyone.
        let (fetches, partner_fetches) = (mock.jwks_fetches(), partner.jwks_fetches());
        for iss in [Some("https://evil.test/realms/x"), None] {
            let mut token = mock.token().kid(&mock.signing_kid());
            token = match iss {
                Some(iss) => token.issuer(iss),
                None => token.remove_claim("iss"),
            };
            assert_eq!(
                refused(gate.validate(&token.unpublished_kid().sign()).await),
                InvalidToken::Issuer,
                "{name}"
            );
        }
        assert_eq!(
            (mock.jwks_fetches(), partner.jwks_fetches()),
            (fetches, partner_fetches),
            "{name}: an untrusted issuer cost a key fetch"
        );
        mock.shutdown().await;
    }
}

#[tokio::test]
async fn the_partner_keeps_its_strict_rules_beside_a_relaxed_issuer() {
    // The Keycloak issuer accepts `typ: JWT` and `azp`; the partner next to it does not.
    let partner = partner().await;
    let keycloak = MockAuthServer::builder()
        .shape(Shape::Keycloak)
        .start()
        .await;
    let gate = engine([
        trusted(&keycloak, Profile::keycloak(), AudienceIs::Api),
        TrustedIssuer::new(partner.issuer()).audience(partner.audience()),
    ])
    .await;
    assert!(gate.validate(&keycloak.token().sign()).await.is_ok());
    let untyped = partner
        .token()
        .header("typ", "JWT")
        .remove_claim("client_id")
        .claim("azp", "web")
        .sign();
    assert_eq!(refused(gate.validate(&untyped).await), InvalidToken::Type);
    assert!(gate.validate(&partner.token().sign()).await.is_ok());
    // Keycloak's refresh tokens are JWTs too: its `typ` claim says so.
    let refresh = keycloak.token().claim("typ", "Refresh").sign();
    assert_eq!(
        refused(gate.validate(&refresh).await),
        InvalidToken::NotAccessToken
    );
}

#[tokio::test]
async fn entra_tenant_templates_accept_the_listed_tenants_only() {
    let mock = MockAuthServer::builder()
        .shape(Shape::EntraV2 {
            tenant: TENANT.into(),
        })
        .start()
        .await;
    let template = mock.tenant_issuer("{tenantid}").unwrap();
    let metadata = mock.multi_tenant_metadata_url().unwrap();
    let multi = |issuer: TrustedIssuer| {
        issuer
            .profile(Profile::entra_v2())
            .discovery_url(metadata.clone())
            .audience(mock.audience())
    };
    let listed = engine([multi(TrustedIssuer::new(&template)).tenants([TENANT])]).await;
    let any = engine([multi(TrustedIssuer::new(&template)).any_tenant()]).await;

    let ours = mock.token().tenant(TENANT).sign();
    let theirs = mock.token().tenant(OTHER_TENANT).sign();
    assert_eq!(
        listed.validate(&ours).await.unwrap().issuer(),
        mock.tenant_issuer(TENANT).as_deref()
    );
    assert_eq!(
        refused(listed.validate(&theirs).await),
        InvalidToken::Issuer
    );
    assert!(any.validate(&ours).await.is_ok());
    assert!(any.validate(&theirs).await.is_ok());

    // Entra's keys name their issuer (a template): a token whose `tid` is not the tenant of
    // its `iss` is not one the key signs for.
    let mismatched = mock
        .token()
        .tenant(TENANT)
        .claim("tid", OTHER_TENANT)
        .sign();
    assert_eq!(
        refused(any.validate(&mismatched).await),
        InvalidToken::Issuer
    );
    let no_tid = mock.token().tenant(TENANT).remove_claim("tid").sign();
    assert_eq!(refused(any.validate(&no_tid).await), InvalidToken::Issuer);
}

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn strict_mode_names_the_switch_that_would_accept_a_token_once() {
    let logs = tollgate_mock::testing::LogCapture::start("tollgate=warn");
    let keycloak = MockAuthServer::builder()
        .shape(Shape::Keycloak)
        .start()
        .await;
    let strict = engine([trusted(&keycloak, Profile::strict(), AudienceIs::Api)]).await;
    for _ in 0..3 {
        let _ = strict.validate(&keycloak.token().sign()).await;
        let typed = keycloak.token().header("typ", "at+jwt").sign();
        let _ = strict.validate(&typed).await;
    }
    assert_eq!(
        logs.count("WARN", "TrustedIssuer::accept_typ_jwt"),
        1,
        "{}",
        logs.text()
    );
    assert_eq!(
        logs.count("WARN", "client_id_claims([ClientIdClaim::Azp])"),
        1,
        "{}",
        logs.text()
    );
    assert!(logs.text().contains(&keycloak.issuer()), "{}", logs.text());

    let cognito = MockAuthServer::builder()
        .shape(Shape::Cognito)
        .start()
        .await;
    let strict = engine([TrustedIssuer::new(cognito.issuer()).audience("x")]).await;
    let _ = strict.validate(&cognito.token().sign()).await;
    let typed = cognito.token().header("typ", "at+jwt").sign();
    let _ = strict.validate(&typed).await;
    assert_eq!(
        logs.count("WARN", "accept_missing_typ"),
        1,
        "{}",
        logs.text()
    );
    assert_eq!(
        logs.count("WARN", "AudiencePolicy::AbsentWithClientAllowlist"),
        1,
        "{}",
        logs.text()
    );
    // Only warnings that name a switch, and never a token.
    for line in logs.lines() {
        assert!(line.contains("TrustedIssuer::"), "{line}");
        assert!(!line.contains("eyJ"), "{line}");
    }
}

/// A route behind `gate.layer()` that answers who vouched for the token.
fn app(gate: &Tollgate) -> Router {
    Router::new()
        .route(
            "/me",
            get(|principal: Principal| async move {
                format!(
                    "{} {}",
                    principal.issuer().unwrap_or("-"),
                    principal.client_id().unwrap_or("-")
                )
            }),
        )
        .layer(gate.layer())
}

#[tokio::test]
async fn two_issuers_serve_through_the_layer_while_one_rotates_its_keys() {
    let keycloak = MockAuthServer::builder()
        .shape(Shape::Keycloak)
        .start()
        .await;
    let entra = MockAuthServer::builder()
        .shape(Shape::EntraV2 {
            tenant: TENANT.into(),
        })
        .start()
        .await;
    let gate = engine([
        trusted(&keycloak, Profile::keycloak(), AudienceIs::Api),
        trusted(&entra, Profile::entra_v2(), AudienceIs::Api),
    ])
    .await;
    let app = InProcess::new(app(&gate));
    let entra_token = entra.token().sign();
    let entra_said = format!("{} {}", entra.issuer(), entra.client_id());
    let before = keycloak.token().sign();
    assert_eq!(app.get("/me", &before).await.status, 200);
    let entra_fetches = entra.jwks_fetches();

    // Rotation at Keycloak: a new signing key, the old one retired. Entra's tokens keep
    // being served throughout, by requests running while Keycloak's keys change.
    let serving = {
        let app = app.clone();
        let token = entra_token.clone();
        let said = entra_said.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                let answer = app.get("/me", &token).await;
                assert_eq!((answer.status, answer.body.as_str()), (200, said.as_str()));
                tokio::task::yield_now().await;
            }
        })
    };
    let old = keycloak.signing_kid();
    let new = keycloak.add_key(Algorithm::ES256);
    keycloak.set_signing_key(&new);
    keycloak.retire_key(&old);
    let after = keycloak.token().sign();
    let answer = app.get("/me", &after).await;
    assert_eq!(
        (answer.status, answer.body),
        (
            200,
            format!("{} {}", keycloak.issuer(), keycloak.client_id())
        )
    );
    // The refetch the new kid caused dropped the retired key: the old token is gone too.
    assert_eq!(app.get("/me", &before).await.status, 401);
    serving.await.unwrap();
    assert_eq!(app.get("/me", &entra_token).await.status, 200);
    // Keycloak's rotation cost Entra nothing.
    assert_eq!(entra.jwks_fetches(), entra_fetches);
    let diagnostics = gate.diagnostics();
    assert_eq!(diagnostics.issuers.len(), 2);
    assert!(diagnostics.keys_loaded);
}

#[tokio::test]
async fn each_issuer_introspects_its_own_tokens_and_opaque_ones_go_to_the_designated_one() {
    let ours = MockAuthServer::builder().fresh_key().start().await;
    let partner = partner().await;
    let introspecting = |mock: &MockAuthServer| {
        TrustedIssuer::new(mock.issuer())
            .audience(mock.audience())
            .introspection(tollgate::Introspection::client_secret_basic(
                mock.client_id(),
                mock.client_secret(),
            ))
    };
    let gate = engine([
        introspecting(&ours),
        introspecting(&partner).opaque_tokens(),
    ])
    .await;
    let sensitive = tollgate::Requirement::sensitive(Duration::ZERO);

    // A sensitive route asks the issuer of the token, and only it.
    let token = ours.token().sign();
    assert!(gate.validate_with(&token, &sensitive).await.is_ok());
    assert_eq!(
        (ours.introspection_count(), partner.introspection_count()),
        (1, 0)
    );

    // Opaque tokens carry no `iss`: they go to the designated issuer.
    let opaque = partner.opaque_token().issue();
    let principal = gate.validate(&opaque).await.unwrap();
    assert_eq!(principal.format(), tollgate::TokenFormat::Opaque);
    let foreign = ours.opaque_token().issue();
    assert_eq!(
        refused(gate.validate(&foreign).await),
        InvalidToken::Inactive
    );
    assert_eq!(
        (ours.introspection_count(), partner.introspection_count()),
        (1, 2)
    );

    // What one issuer's introspection learns is the engine's: a revoked token is refused on
    // routine routes too, without asking anyone again.
    ours.revoke(&token);
    assert_eq!(
        refused(gate.validate_with(&token, &sensitive).await),
        InvalidToken::Inactive
    );
    assert_eq!(refused(gate.validate(&token).await), InvalidToken::Inactive);
    assert_eq!(
        (ours.introspection_count(), partner.introspection_count()),
        (2, 2)
    );
    assert_eq!(gate.diagnostics().revoked_tokens_remembered, 1);
}
