//! Server shapes over real HTTP: each product's documents, JWKS, tokens, ID tokens and
//! introspection answers, and signatures verified by plain jsonwebtoken against the JWKS the
//! server serves.
//!
//! Long on purpose: one table test puts what every shape must do side by side, then one test
//! per product checks what only that product does.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{get_json, introspect, post_basic};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};
use tollgate_mock::testing::{client as http, jwt_header as header_of};
use tollgate_mock::{MockAuthServer, Shape};

const TENANT: &str = "9122040d-6c67-4c5b-b112-36a304b66dad";
const OTHER_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

async fn start(shape: Shape) -> MockAuthServer {
    MockAuthServer::builder().shape(shape).start().await
}

/// Verifies `token` with jsonwebtoken against the JWKS fetched from `jwks_uri`: the key is the
/// one whose `kid` the header names, RS256 (every shape's default) whether or not the JWK says
/// so. Checks `iss`, and `aud` when `audience` is given.
async fn verify_at(
    jwks_uri: &str,
    token: &str,
    issuer: &str,
    audience: Option<&str>,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks: JwkSet = http()
        .get(jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = decode_header(token)?.kid.expect("a kid");
    let Some(jwk) = jwks.find(&kid) else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
    };
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    match audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    validation.leeway = 0;
    decode::<Value>(token, &key, &validation).map(|data| data.claims)
}

async fn verify(
    server: &MockAuthServer,
    token: &str,
    audience: Option<&str>,
) -> Result<Value, jsonwebtoken::errors::Error> {
    verify_at(&server.jwks_uri(), token, &server.issuer(), audience).await
}

/// What every shape is checked for, over HTTP.
struct Expect {
    shape: Shape,
    /// The issuer is the base URL plus this.
    issuer_path: &'static str,
    /// Metadata documents served for the issuer, relative to the base URL (Entra's
    /// multi-tenant documents have tests of their own).
    documents: Vec<&'static str>,
    /// Metadata locations that answer 404.
    not_served: Vec<&'static str>,
    /// The JWKS, relative to the base URL.
    jwks: &'static str,
    cache_control: Option<&'static str>,
    /// Header `typ` of access and ID tokens.
    at_typ: Option<&'static str>,
    id_typ: Option<&'static str>,
    /// The introspection endpoint, relative to the base URL, and whether discovery names it.
    introspection: Option<(&'static str, bool)>,
    /// What `aud` of a default access token holds, if it can be checked by jsonwebtoken.
    audience: Audience,
}

#[derive(Clone, Copy)]
enum Audience {
    /// The configured audience.
    Api,
    /// The client id.
    Client,
    /// None to check (absent, or `[]`).
    None,
}

fn expectations() -> Vec<Expect> {
    let entra_v1 = Box::leak(format!("/{TENANT}/").into_boxed_str());
    let entra_v1_doc =
        Box::leak(format!("/{TENANT}/.well-known/openid-configuration").into_boxed_str());
    let entra_v1_keys = Box::leak(format!("/{TENANT}/discovery/keys").into_boxed_str());
    let entra_v2 = Box::leak(format!("/{TENANT}/v2.0").into_boxed_str());
    let entra_v2_doc =
        Box::leak(format!("/{TENANT}/v2.0/.well-known/openid-configuration").into_boxed_str());
    let entra_v2_keys = Box::leak(format!("/{TENANT}/discovery/v2.0/keys").into_boxed_str());
    let entra_v2_inserted = Box::leak(
        format!("/.well-known/oauth-authorization-server/{TENANT}/v2.0").into_boxed_str(),
    );
    vec![
        Expect {
            shape: Shape::Strict,
            issuer_path: "",
            documents: vec![
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration",
            ],
            not_served: vec![],
            jwks: "/jwks",
            cache_control: Some("max-age=300"),
            at_typ: Some("at+jwt"),
            id_typ: Some("JWT"),
            introspection: Some(("/introspect", true)),
            audience: Audience::Api,
        },
        Expect {
            shape: Shape::Keycloak,
            issuer_path: "/realms/tollgate",
            documents: vec![
                "/realms/tollgate/.well-known/openid-configuration",
                "/realms/tollgate/.well-known/oauth-authorization-server",
            ],
            not_served: vec!["/.well-known/oauth-authorization-server/realms/tollgate"],
            jwks: "/realms/tollgate/protocol/openid-connect/certs",
            cache_control: Some("no-cache"),
            at_typ: Some("JWT"),
            id_typ: Some("JWT"),
            introspection: Some((
                "/realms/tollgate/protocol/openid-connect/token/introspect",
                true,
            )),
            audience: Audience::Api,
        },
        Expect {
            shape: Shape::EntraV1 {
                tenant: TENANT.into(),
            },
            issuer_path: entra_v1,
            documents: vec![entra_v1_doc],
            not_served: vec![
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration",
            ],
            jwks: entra_v1_keys,
            cache_control: Some("max-age=86400, private"),
            at_typ: Some("JWT"),
            id_typ: Some("JWT"),
            introspection: None,
            audience: Audience::Api,
        },
        Expect {
            shape: Shape::EntraV2 {
                tenant: TENANT.into(),
            },
            issuer_path: entra_v2,
            documents: vec![entra_v2_doc],
            not_served: vec![entra_v2_inserted],
            jwks: entra_v2_keys,
            cache_control: Some("max-age=86400, private"),
            at_typ: Some("JWT"),
            id_typ: Some("JWT"),
            introspection: None,
            audience: Audience::Api,
        },
        Expect {
            shape: Shape::Auth0,
            issuer_path: "/",
            documents: vec![
                "/.well-known/openid-configuration",
                "/.well-known/oauth-authorization-server",
            ],
            not_served: vec![],
            jwks: "/.well-known/jwks.json",
            cache_control: Some(
                "public, max-age=15, stale-while-revalidate=15, stale-if-error=86400",
            ),
            at_typ: Some("JWT"),
            id_typ: Some("JWT"),
            introspection: None,
            audience: Audience::Api,
        },
        Expect {
            shape: Shape::Okta,
            issuer_path: "/oauth2/default",
            documents: vec![
                "/oauth2/default/.well-known/openid-configuration",
                "/oauth2/default/.well-known/oauth-authorization-server",
            ],
            not_served: vec!["/.well-known/oauth-authorization-server/oauth2/default"],
            jwks: "/oauth2/default/v1/keys",
            cache_control: Some("max-age=86400, must-revalidate"),
            at_typ: None,
            id_typ: None,
            introspection: Some(("/oauth2/default/v1/introspect", true)),
            audience: Audience::Api,
        },
        Expect {
            shape: Shape::Cognito,
            issuer_path: "/us-east-1_tollgate",
            documents: vec!["/us-east-1_tollgate/.well-known/openid-configuration"],
            not_served: vec!["/.well-known/oauth-authorization-server/us-east-1_tollgate"],
            jwks: "/us-east-1_tollgate/.well-known/jwks.json",
            cache_control: None,
            at_typ: None,
            id_typ: None,
            introspection: None,
            audience: Audience::None,
        },
        Expect {
            shape: Shape::Hydra,
            issuer_path: "/",
            documents: vec![
                "/.well-known/openid-configuration",
                "/.well-known/oauth-authorization-server",
            ],
            not_served: vec![],
            jwks: "/.well-known/jwks.json",
            cache_control: None,
            at_typ: Some("JWT"),
            id_typ: Some("JWT"),
            introspection: Some(("/admin/oauth2/introspect", false)),
            audience: Audience::None,
        },
        Expect {
            shape: Shape::Zitadel,
            issuer_path: "",
            documents: vec!["/.well-known/openid-configuration"],
            not_served: vec!["/.well-known/oauth-authorization-server"],
            jwks: "/oauth/v2/keys",
            cache_control: None,
            at_typ: Some("JWT"),
            id_typ: Some("JWT"),
            introspection: Some(("/oauth/v2/introspect", true)),
            audience: Audience::Api,
        },
        Expect {
            shape: Shape::Authentik,
            issuer_path: "/application/o/tollgate/",
            documents: vec!["/application/o/tollgate/.well-known/openid-configuration"],
            not_served: vec!["/.well-known/oauth-authorization-server/application/o/tollgate"],
            jwks: "/application/o/tollgate/jwks/",
            cache_control: None,
            at_typ: Some("JWT"),
            id_typ: Some("JWT"),
            introspection: Some(("/application/o/introspect/", true)),
            audience: Audience::Client,
        },
        Expect {
            shape: Shape::Curity,
            issuer_path: "/oauth/v2/oauth-anonymous",
            documents: vec!["/oauth/v2/oauth-anonymous/.well-known/openid-configuration"],
            not_served: vec!["/.well-known/oauth-authorization-server/oauth/v2/oauth-anonymous"],
            jwks: "/oauth/v2/oauth-anonymous/jwks",
            cache_control: None,
            at_typ: None,
            id_typ: None,
            introspection: Some(("/oauth/v2/oauth-introspect", true)),
            audience: Audience::Api,
        },
        Expect {
            shape: Shape::SpringAuthorizationServer,
            issuer_path: "",
            documents: vec![
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration",
            ],
            not_served: vec![],
            jwks: "/oauth2/jwks",
            cache_control: Some("no-cache, no-store, max-age=0, must-revalidate"),
            at_typ: None,
            id_typ: None,
            introspection: Some(("/oauth2/introspect", true)),
            audience: Audience::Client,
        },
        Expect {
            shape: Shape::OidcProvider,
            issuer_path: "",
            documents: vec![
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration",
            ],
            not_served: vec![],
            jwks: "/jwks",
            cache_control: None,
            at_typ: Some("at+jwt"),
            id_typ: None,
            introspection: Some(("/token/introspection", true)),
            audience: Audience::Api,
        },
    ]
}

#[tokio::test]
async fn every_shape_over_http() {
    let expectations = expectations();
    assert_eq!(
        expectations.len(),
        Shape::all(TENANT).len(),
        "every shape is covered"
    );
    for expect in expectations {
        let name = expect.shape.name();
        let server = start(expect.shape.clone()).await;
        let base = server.base_url();
        assert_eq!(server.shape(), expect.shape);
        assert_eq!(
            server.issuer(),
            format!("{base}{}", expect.issuer_path),
            "{name}"
        );

        // The documents speak for the issuer and point at the served JWKS.
        for path in &expect.documents {
            let doc = get_json(&format!("{base}{path}")).await;
            assert_eq!(doc["issuer"], server.issuer(), "{name} {path}");
            assert_eq!(
                doc["jwks_uri"],
                format!("{base}{}", expect.jwks),
                "{name} {path}"
            );
            match expect.introspection {
                Some((path, true)) => {
                    assert_eq!(
                        doc["introspection_endpoint"],
                        format!("{base}{path}"),
                        "{name}"
                    )
                }
                _ => assert!(doc.get("introspection_endpoint").is_none(), "{name}"),
            }
        }
        for path in &expect.not_served {
            let response = http().get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(response.status(), 404, "{name} {path}");
        }
        assert_eq!(
            server.jwks_uri(),
            format!("{base}{}", expect.jwks),
            "{name}"
        );

        // The JWKS, with the product's Cache-Control.
        let response = http().get(server.jwks_uri()).send().await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            expect.cache_control,
            "{name}"
        );
        let jwks: Value = response.json().await.unwrap();
        assert_eq!(
            jwks,
            server.jwks(),
            "{name}: server.jwks() is what is served"
        );

        // Access and ID tokens: header typ, and signatures that verify against that JWKS.
        let token = server.token().sign();
        assert_eq!(header_of(&token)["typ"].as_str(), expect.at_typ, "{name}");
        let audience = match expect.audience {
            Audience::Api => Some(server.audience()),
            Audience::Client => Some(server.client_id()),
            Audience::None => None,
        };
        let claims = verify(&server, &token, audience.as_deref())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(claims["sub"], "alice", "{name}");
        let id_token = server.id_token().sign();
        assert_eq!(
            header_of(&id_token)["typ"].as_str(),
            expect.id_typ,
            "{name}"
        );
        assert_eq!(header_of(&id_token)["kid"], server.id_token_kid(), "{name}");
        verify(&server, &id_token, Some(&server.client_id()))
            .await
            .unwrap_or_else(|e| panic!("{name} ID token: {e}"));

        // Introspection where the product has it; 404 where it has none.
        let url = server.introspection_endpoint();
        match expect.introspection {
            Some((path, _)) => assert_eq!(url, format!("{base}{path}"), "{name}"),
            None => assert!(url.ends_with("/introspect"), "{name}"),
        }
        let opaque = server.opaque_token().issue();
        let response = post_basic(&server, &url, &[("token", &opaque)]).await;
        if expect.introspection.is_some() {
            assert_eq!(response.status(), 200, "{name}");
            let answer: Value = response.json().await.unwrap();
            assert_eq!(answer["active"], true, "{name}");
        } else {
            assert_eq!(response.status(), 404, "{name}");
        }
        // An ID token is never an active token.
        if expect.introspection.is_some() && expect.shape != Shape::OidcProvider {
            assert_eq!(
                introspect(&server, &id_token).await,
                json!({ "active": false }),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn the_token_endpoint_moves_and_issues_shaped_tokens() {
    for shape in Shape::all(TENANT) {
        let name = shape.name();
        let server = start(shape).await;
        let response = post_basic(
            &server,
            &server.token_endpoint(),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "read write"),
            ],
        )
        .await;
        assert_eq!(response.status(), 200, "{name}");
        let answer: Value = response.json().await.unwrap();
        let token = answer["access_token"].as_str().unwrap();
        let claims = verify(&server, token, None)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(claims["sub"], server.client_id(), "{name}");
        assert_eq!(server.token_requests(), 1, "{name}");
    }
}

#[tokio::test]
async fn keycloak() {
    let server = start(Shape::Keycloak).await;
    let jwks = get_json(&server.jwks_uri()).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "the signing key and the encryption key");
    let enc_kid = server.encryption_kid().unwrap();
    let (sig, enc) = (&keys[0], &keys[1]);
    assert_eq!(sig["kid"], server.signing_kid());
    assert_eq!(
        (sig["use"].as_str(), sig["alg"].as_str()),
        (Some("sig"), Some("RS256"))
    );
    assert_eq!(enc["kid"], enc_kid);
    assert_eq!(
        (enc["use"].as_str(), enc["alg"].as_str()),
        (Some("enc"), Some("RSA-OAEP"))
    );
    for key in keys {
        let kid = key["kid"].as_str().unwrap();
        assert_eq!(kid.len(), 43, "{kid}");
        assert!(URL_SAFE_NO_PAD.decode(kid).is_ok(), "{kid}");
        let cert = STANDARD.decode(key["x5c"][0].as_str().unwrap()).unwrap();
        assert_eq!(
            key["x5t"],
            thumbprint(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert)
        );
        assert_eq!(
            key["x5t#S256"],
            thumbprint(&aws_lc_rs::digest::SHA256, &cert)
        );
    }
    // The certificate holds the key it stands beside.
    let cert = STANDARD.decode(sig["x5c"][0].as_str().unwrap()).unwrap();
    let spki = server.public_key_der(&server.signing_kid());
    assert!(cert.windows(spki.len()).any(|w| w == spki.as_slice()));

    let claims = server.token().claims();
    assert_eq!(claims["typ"], "Bearer");
    assert_eq!(claims["azp"], server.client_id());
    assert!(claims.get("client_id").is_none());
    assert_eq!(claims["scope"], "read");
    assert_eq!(
        claims["realm_access"]["roles"],
        json!([
            "default-roles-tollgate",
            "offline_access",
            "uma_authorization"
        ])
    );
    assert_eq!(claims["aud"], server.audience());
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36, "a UUID");
    let claims = server
        .token()
        .client_id("shop")
        .roles(["admin"])
        .scope("orders:read")
        .claims();
    assert_eq!(claims["azp"], "shop");
    assert_eq!(claims["realm_access"], json!({ "roles": ["admin"] }));
    assert_eq!(claims["scope"], "orders:read");

    let id = server.id_token().sign();
    let id_claims = verify(&server, &id, Some(&server.client_id()))
        .await
        .unwrap();
    assert_eq!(id_claims["typ"], "ID");
    assert_eq!(id_claims["azp"], server.client_id());
    assert!(id_claims["nonce"].is_string() && id_claims["at_hash"].is_string());

    // Introspection: token_type is the typ claim; refresh tokens come back active.
    let token = server.token().sign();
    let answer = introspect(&server, &token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["typ"], "Bearer");
    assert_eq!(answer["client_id"], server.client_id());
    assert_eq!(answer["username"], "alice");
    let refresh = server.refresh_token().issue();
    let answer = introspect(&server, &refresh).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "Refresh");
    assert_eq!(answer["typ"], "Refresh");
    assert_eq!(answer["client_id"], server.client_id());
    // Keycloak refuses hints it does not know.
    let url = server.introspection_endpoint();
    for (hint, status) in [
        ("access_token", 200),
        ("refresh_token", 200),
        ("id_token", 400),
    ] {
        let response = post_basic(
            &server,
            &url,
            &[("token", &token), ("token_type_hint", hint)],
        )
        .await;
        assert_eq!(response.status(), status, "{hint}");
    }
    // Without credentials: invalid_client, as always.
    let response = http()
        .post(&url)
        .form(&[("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // The mock signs with the encryption key on request, for tests that a resource server
    // never verifies with a `use: enc` key; jsonwebtoken, which ignores `use`, would accept it.
    let forged = server.token().kid(&enc_kid).sign();
    assert_eq!(header_of(&forged)["kid"], enc_kid);
    verify(&server, &forged, Some(&server.audience()))
        .await
        .unwrap();
}

fn thumbprint(alg: &'static aws_lc_rs::digest::Algorithm, der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(alg, der))
}

#[tokio::test]
async fn keycloak_never_signs_with_its_encryption_key_by_algorithm() {
    // The signing key is ES256; an RS256 token must get a new RS256 signing key, not the
    // RSA-OAEP encryption key.
    let server = MockAuthServer::builder()
        .shape(Shape::Keycloak)
        .signing_algorithm(Algorithm::ES256)
        .start()
        .await;
    let enc_kid = server.encryption_kid().unwrap();
    let token = server.token().algorithm(Algorithm::RS256).sign();
    let kid = header_of(&token)["kid"].as_str().unwrap().to_owned();
    assert_ne!(kid, enc_kid);
    assert_eq!(kid.len(), 43, "added keys get the shape's kid spelling");
    verify(&server, &token, Some(&server.audience()))
        .await
        .unwrap();
}

#[tokio::test]
async fn entra_v1() {
    let server = start(Shape::EntraV1 {
        tenant: TENANT.into(),
    })
    .await;
    let jwks = get_json(&server.jwks_uri()).await;
    let key = &jwks["keys"][0];
    assert!(key.get("alg").is_none(), "Entra keys carry no alg");
    assert!(key.get("issuer").is_none());
    assert_eq!(key["kid"], key["x5t"], "kid is the certificate thumbprint");
    assert_eq!(key["kid"].as_str().unwrap().len(), 27);

    let token = server.token().sign();
    let header = header_of(&token);
    assert_eq!(header["x5t"], header["kid"]);
    let claims = verify(&server, &token, Some(&server.audience()))
        .await
        .unwrap();
    assert_eq!(claims["iss"], format!("{}/{TENANT}/", server.base_url()));
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["appid"], server.client_id());
    assert_eq!(claims["tid"], TENANT);
    assert!(claims.get("jti").is_none() && claims["uti"].is_string());
    let claims = server
        .token()
        .client_id("other-app")
        .scope("user.read mail.read")
        .roles(["Tasks.Write"])
        .claims();
    assert_eq!(claims["appid"], "other-app");
    assert_eq!(claims["scp"], "user.read mail.read");
    assert_eq!(claims["roles"], json!(["Tasks.Write"]));

    // The multi-tenant document: the {tenantid} template.
    let common = get_json(&server.multi_tenant_metadata_url().unwrap()).await;
    assert_eq!(
        common["issuer"],
        format!("{}/{{tenantid}}/", server.base_url())
    );
    assert_eq!(
        server.tenant_issuer("{tenantid}").unwrap(),
        common["issuer"]
    );
    // Another tenant's token verifies against the common keys, with that tenant's issuer.
    let other = server.token().tenant(OTHER_TENANT).sign();
    let other_issuer = server.tenant_issuer(OTHER_TENANT).unwrap();
    let claims = verify_at(
        common["jwks_uri"].as_str().unwrap(),
        &other,
        &other_issuer,
        Some(&server.audience()),
    )
    .await
    .unwrap();
    assert_eq!(claims["tid"], OTHER_TENANT);

    let id = server.id_token().claims();
    assert_eq!(id["aud"], server.client_id());
    assert!(id["nonce"].is_string() && id.get("scp").is_none());
    assert_eq!(id["ver"], "1.0");
}

#[tokio::test]
async fn entra_v2_multi_tenant() {
    let server = start(Shape::EntraV2 {
        tenant: TENANT.into(),
    })
    .await;
    let base = server.base_url();
    let template = format!("{base}/{{tenantid}}/v2.0");
    let tenant_jwks = get_json(&server.jwks_uri()).await;
    assert_eq!(tenant_jwks["keys"][0]["issuer"], template, "per-key issuer");
    assert!(tenant_jwks["keys"][0].get("alg").is_none());

    let url = server.multi_tenant_metadata_url().unwrap();
    assert_eq!(
        url,
        format!("{base}/common/v2.0/.well-known/openid-configuration")
    );
    let common = get_json(&url).await;
    assert_eq!(common["issuer"], template);
    assert_eq!(
        common["jwks_uri"],
        format!("{base}/common/discovery/v2.0/keys")
    );
    let common_jwks = get_json(common["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(common_jwks, tenant_jwks);
    assert_eq!(server.jwks_fetches(), 2, "both JWKS paths count");
    assert_eq!(server.discovery_fetches(), 1);

    let token = server.token().sign();
    assert!(
        header_of(&token).get("x5t").is_none(),
        "v2 headers carry the kid only"
    );
    let claims = verify(&server, &token, Some(&server.audience()))
        .await
        .unwrap();
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["azp"], server.client_id());
    assert_eq!(claims["azpacr"], "1");
    assert_eq!(claims["scp"], "read");

    let other = server.token().tenant(OTHER_TENANT).sign();
    let issuer = template.replace("{tenantid}", OTHER_TENANT);
    assert_eq!(server.tenant_issuer(OTHER_TENANT).unwrap(), issuer);
    let claims = verify_at(
        common["jwks_uri"].as_str().unwrap(),
        &other,
        &issuer,
        Some(&server.audience()),
    )
    .await
    .unwrap();
    assert_eq!(claims["tid"], OTHER_TENANT);

    // An ID token of a tenant follows the same rule.
    let id = server.id_token().tenant(OTHER_TENANT).claims();
    assert_eq!(id["iss"], issuer);
    assert_eq!(id["aud"], server.client_id());
    assert_eq!(server.tenant_issuer("x"), Some(format!("{base}/x/v2.0")));
}

#[tokio::test]
async fn entra_has_no_issuer_path_to_override() {
    let started = tokio::spawn(async {
        MockAuthServer::builder()
            .shape(Shape::EntraV2 {
                tenant: TENANT.into(),
            })
            .issuer_path("/other")
            .start()
            .await
    })
    .await;
    assert!(started.is_err(), "an Entra issuer path is its tenant's");
}

#[tokio::test]
#[should_panic(expected = "tenant() needs an Entra shape")]
async fn tenants_are_entra_only() {
    let server = start(Shape::Keycloak).await;
    let _ = server.token().tenant(OTHER_TENANT);
}

#[tokio::test]
async fn auth0() {
    let server = start(Shape::Auth0).await;
    let key = &get_json(&server.jwks_uri()).await["keys"][0];
    assert!(key["x5c"].is_array() && key["x5t"].is_string());
    assert_eq!(key["kid"].as_str().unwrap().len(), 22);

    let token = server.token().permissions(["read:orders"]).sign();
    let claims = verify(&server, &token, Some(&server.audience()))
        .await
        .unwrap();
    assert_eq!(claims["iss"], format!("{}/", server.base_url()));
    assert_eq!(
        claims["aud"],
        json!([server.audience(), format!("{}/userinfo", server.base_url())])
    );
    assert_eq!(claims["azp"], server.client_id());
    assert_eq!(claims["permissions"], json!(["read:orders"]));
    assert!(claims.get("jti").is_none(), "the Auth0 profile has no jti");
    // A machine-to-machine token's audience is the API alone.
    let claims = server.token().audience("https://other.api").claims();
    assert_eq!(claims["aud"], "https://other.api");

    let id = server.id_token().claims();
    assert_eq!(id["aud"], server.client_id());
    assert!(id["nonce"].is_string() && id.get("scope").is_none());
}

#[tokio::test]
async fn okta() {
    let server = start(Shape::Okta).await;
    let token = server.token().scope("orders:read orders:write").sign();
    let header = header_of(&token);
    assert!(header.get("typ").is_none());
    let claims = verify(&server, &token, Some(&server.audience()))
        .await
        .unwrap();
    assert_eq!(claims["cid"], server.client_id());
    assert_eq!(claims["scp"], json!(["orders:read", "orders:write"]));
    assert!(claims["jti"].as_str().unwrap().starts_with("AT."));
    assert_eq!(claims["ver"], 1);
    assert!(claims.get("scope").is_none());
    let groups = server.token().roles(["Everyone"]).claims();
    assert_eq!(groups["groups"], json!(["Everyone"]));

    let id = server.id_token().claims();
    assert!(id["jti"].as_str().unwrap().starts_with("ID."));
    assert_eq!(id["aud"], server.client_id());
    assert!(id.get("cid").is_none() && id.get("scp").is_none());

    let answer = introspect(&server, &token).await;
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["scope"], "orders:read orders:write");
    assert_eq!(answer["client_id"], server.client_id());
    assert_eq!(answer["username"], "alice");
    assert_eq!(answer["uid"], claims["uid"]);
    let refresh = server.refresh_token().issue();
    let answer = introspect(&server, &refresh).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "Bearer", "no refresh-token marker");
    for absent in ["jti", "iat", "aud", "iss"] {
        assert!(answer.get(absent).is_none(), "{absent}");
    }
}

#[tokio::test]
async fn cognito() {
    let server = start(Shape::Cognito).await;
    let jwks = get_json(&server.jwks_uri()).await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert_ne!(server.id_token_kid(), server.signing_kid());
    assert!(kids.contains(&server.id_token_kid().as_str()));
    for kid in kids {
        assert!(
            kid.contains('+') && kid.contains('/') && kid.ends_with('='),
            "{kid}"
        );
        assert!(URL_SAFE_NO_PAD.decode(kid).is_err(), "not base64url");
    }

    let token = server.token().roles(["admins"]).sign();
    assert_eq!(header_of(&token)["kid"], server.signing_kid());
    let claims = verify(&server, &token, None).await.unwrap();
    assert!(
        claims.get("aud").is_none(),
        "Cognito access tokens have no aud"
    );
    assert_eq!(claims["token_use"], "access");
    assert_eq!(claims["client_id"], server.client_id());
    assert_eq!(claims["cognito:groups"], json!(["admins"]));

    let id = server.id_token().sign();
    assert_eq!(header_of(&id)["kid"], server.id_token_kid(), "another key");
    let id_claims = verify(&server, &id, Some(&server.client_id()))
        .await
        .unwrap();
    assert_eq!(id_claims["token_use"], "id");
    assert_eq!(id_claims["cognito:username"], "alice");
}

#[tokio::test]
async fn hydra() {
    let server = start(Shape::Hydra).await;
    let jwks = get_json(&server.jwks_uri()).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "two key sets");
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!(key["kid"].as_str().unwrap().len(), 36, "UUID kids");
    }

    let token = server.token().scope("read write").sign();
    let claims = verify(&server, &token, None).await.unwrap();
    assert_eq!(claims["aud"], json!([]));
    assert_eq!(claims["client_id"], server.client_id());
    assert_eq!(claims["scp"], json!(["read", "write"]));
    assert_eq!(
        server.token().audience("api").claims()["aud"],
        json!(["api"])
    );

    let id = server.id_token().sign();
    assert_eq!(header_of(&id)["kid"], server.id_token_kid());
    assert_ne!(server.id_token_kid(), server.signing_kid());
    let id_claims = verify(&server, &id, Some(&server.client_id()))
        .await
        .unwrap();
    assert_eq!(id_claims["aud"], json!([server.client_id()]));
    assert!(id_claims["at_hash"].is_string() && id_claims["rat"].is_number());

    // The admin endpoint takes no client authentication at all.
    let url = server.introspection_endpoint();
    let answer: Value = http()
        .post(&url)
        .form(&[("token", &token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_use"], "access_token");
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["scope"], "read write");
    assert_eq!(answer["aud"], json!([]));
    let refresh = server.refresh_token().issue();
    let answer = introspect(&server, &refresh).await;
    assert_eq!(answer["token_use"], "refresh_token");
    assert_eq!(answer["token_type"], "Bearer");
}

#[tokio::test]
async fn zitadel() {
    let server = MockAuthServer::builder()
        .shape(Shape::Zitadel)
        .client("tollgate-rs", "tollgate-secret")
        .client("other-api", "other-secret")
        .start()
        .await;
    let key = &get_json(&server.jwks_uri()).await["keys"][0];
    assert!(
        key["kid"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_digit())
    );

    let token = server
        .token()
        .scope("openid orders")
        .roles(["admin"])
        .sign();
    let claims = verify(&server, &token, Some(&server.audience()))
        .await
        .unwrap();
    assert_eq!(
        claims["aud"],
        json!([server.audience(), server.client_id()])
    );
    assert_eq!(claims["client_id"], server.client_id());
    assert!(claims.get("azp").is_none());
    assert!(claims.get("scope").is_none(), "no scope in ZITADEL JWTs");
    assert_eq!(
        claims["urn:zitadel:iam:org:project:roles"]["admin"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
    let claims = server.token().client_id("app-2").claims();
    assert_eq!(claims["aud"], json!([server.audience(), "app-2"]));

    let id = server.id_token().claims();
    assert_eq!(
        id["aud"],
        json!([server.audience(), server.client_id()]),
        "same aud"
    );
    assert_eq!(id["azp"], server.client_id());
    assert_eq!(id["client_id"], server.client_id());

    // Introspection knows the scope; the caller must be in the audience.
    let answer = introspect(&server, &token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["scope"], "openid orders");
    assert_eq!(answer["token_type"], "Bearer");
    let response = http()
        .post(server.introspection_endpoint())
        .basic_auth("other-api", Some("other-secret"))
        .form(&[("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "active": false }),
        "not meant for the caller"
    );
    let refresh = server.refresh_token().issue();
    assert_eq!(
        introspect(&server, &refresh).await,
        json!({ "active": false })
    );
    let opaque = server.opaque_token().scope("profile").issue();
    assert_eq!(introspect(&server, &opaque).await["scope"], "profile");
}

#[tokio::test]
async fn authentik() {
    let server = MockAuthServer::builder()
        .shape(Shape::Authentik)
        .client("tollgate-rs", "tollgate-secret")
        .client("other-provider", "other-secret")
        .start()
        .await;
    let key = &get_json(&server.jwks_uri()).await["keys"][0];
    let kid = key["kid"].as_str().unwrap();
    assert!(kid.len() == 32 && kid.chars().all(|c| c.is_ascii_hexdigit()));

    let token = server.token().roles(["admins"]).sign();
    let claims = verify(&server, &token, Some(&server.client_id()))
        .await
        .unwrap();
    assert_eq!(
        claims["aud"],
        server.client_id(),
        "the provider's client id"
    );
    assert_eq!(claims["azp"], server.client_id());
    assert!(claims["uid"].is_string() && claims.get("jti").is_none());
    assert!(claims.get("scope").is_none());
    assert_eq!(claims["groups"], json!(["admins"]));

    let id = server.id_token().claims();
    assert!(id.get("azp").is_none() && id.get("uid").is_none());
    assert_eq!(id["aud"], server.client_id());

    // client_id is the caller's; a failed authentication is just inactive.
    let response = http()
        .post(server.introspection_endpoint())
        .basic_auth("other-provider", Some("other-secret"))
        .form(&[("token", &token)])
        .send()
        .await
        .unwrap();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["client_id"], "other-provider");
    assert_eq!(answer["scope"], "read");
    let response = http()
        .post(server.introspection_endpoint())
        .basic_auth("tollgate-rs", Some("wrong"))
        .form(&[("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "active": false })
    );
    // A refresh token answers the same shape: nothing marks it.
    let refresh = server.refresh_token().issue();
    let answer = introspect(&server, &refresh).await;
    assert_eq!(answer["active"], true);
    assert!(answer.get("token_type").is_none());
}

#[tokio::test]
async fn curity() {
    let server = start(Shape::Curity).await;
    let key = &get_json(&server.jwks_uri()).await["keys"][0];
    let kid = key["kid"].as_str().unwrap();
    assert!(
        kid.starts_with('-') && kid[1..].parse::<u32>().is_ok(),
        "{kid}"
    );

    let token = server.token().sign();
    let header = header_of(&token);
    assert!(header.get("typ").is_none());
    assert_eq!(header["x5t"], key["x5t"]);
    let claims = verify(&server, &token, Some(&server.audience()))
        .await
        .unwrap();
    assert_eq!(claims["purpose"], "access_token");
    assert_eq!(claims["client_id"], server.client_id());
    assert!(claims["delegationId"].is_string());
    assert_eq!(server.id_token().claims()["purpose"], "id");

    let answer = introspect(&server, &token).await;
    assert_eq!(answer["token_type"], "bearer", "lower case");
    assert_eq!(answer["purpose"], "access_token");
}

#[tokio::test]
async fn spring_authorization_server() {
    let server = start(Shape::SpringAuthorizationServer).await;
    let key = &get_json(&server.jwks_uri()).await["keys"][0];
    assert!(key.get("alg").is_none() && key.get("use").is_none());

    let token = server.token().scope("read write").sign();
    let header = header_of(&token);
    assert_eq!(
        header.as_object().unwrap().len(),
        2,
        "alg and kid only: {header}"
    );
    let claims = verify(&server, &token, Some(&server.client_id()))
        .await
        .unwrap();
    assert_eq!(claims["aud"], server.client_id());
    assert_eq!(claims["scope"], json!(["read", "write"]));
    for absent in ["client_id", "azp", "cid"] {
        assert!(claims.get(absent).is_none(), "{absent}");
    }
    assert_eq!(server.token().client_id("shop").claims()["aud"], "shop");

    let id = server.id_token().claims();
    assert_eq!(
        id["aud"],
        server.client_id(),
        "the same aud as the access token"
    );
    assert_eq!(id["azp"], server.client_id());
    assert!(id["nonce"].is_string() && id.get("scope").is_none());

    let answer = introspect(&server, &token).await;
    assert_eq!(answer["scope"], "read write");
    assert_eq!(answer["aud"], json!([server.client_id()]));
    assert_eq!(answer["client_id"], server.client_id());
    assert_eq!(answer["token_type"], "Bearer");
    let refresh = server.refresh_token().issue();
    let answer = introspect(&server, &refresh).await;
    assert_eq!(answer["active"], true);
    assert!(
        answer.get("token_type").is_none(),
        "no token_type: a refresh token"
    );
    assert_eq!(answer["client_id"], server.client_id());
}

#[tokio::test]
async fn oidc_provider() {
    let server = start(Shape::OidcProvider).await;
    let response = http().get(server.jwks_uri()).send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    let jwks: Value = response.json().await.unwrap();
    assert!(jwks["keys"][0].get("alg").is_none());

    let token = server.token().sign();
    let claims = verify(&server, &token, Some(&server.audience()))
        .await
        .unwrap();
    assert_eq!(claims["client_id"], server.client_id());
    assert_eq!(claims["jti"].as_str().unwrap().len(), 21);
    assert!(header_of(&server.id_token().sign()).get("typ").is_none());

    // JWTs cannot be introspected there; opaque tokens can.
    let url = server.introspection_endpoint();
    let response = post_basic(&server, &url, &[("token", &token)]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "unsupported_token_type"
    );
    let opaque = server.opaque_token().issue();
    let answer = introspect(&server, &opaque).await;
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["client_id"], server.client_id());
    let refresh = server.refresh_token().issue();
    let answer = introspect(&server, &refresh).await;
    assert_eq!(answer["active"], true);
    assert!(answer.get("token_type").is_none());
}

#[tokio::test]
async fn builder_settings_apply_on_top_of_a_shape() {
    let server = MockAuthServer::builder()
        .shape(Shape::Keycloak)
        .issuer_path("/realms/shop")
        .jwks_cache_control("max-age=60")
        .audience("orders-api")
        .start()
        .await;
    assert!(server.issuer().ends_with("/realms/shop"));
    assert!(
        server
            .jwks_uri()
            .ends_with("/realms/shop/protocol/openid-connect/certs")
    );
    let response = http().get(server.jwks_uri()).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "max-age=60");
    let claims = server.token().claims();
    assert_eq!(claims["aud"], "orders-api");
    assert_eq!(claims["realm_access"]["roles"][0], "default-roles-shop");

    // A trailing slash stays the shape's.
    let server = MockAuthServer::builder()
        .shape(Shape::Authentik)
        .issuer_path("/application/o/shop")
        .start()
        .await;
    assert!(server.issuer().ends_with("/application/o/shop/"));
    let doc = get_json(&format!(
        "{}.well-known/openid-configuration",
        server.issuer()
    ))
    .await;
    assert_eq!(doc["issuer"], server.issuer());
}

#[tokio::test]
async fn setters_still_break_any_claim() {
    let server = start(Shape::Cognito).await;
    let claims = server
        .token()
        .claim("token_use", "id")
        .remove_claim("client_id")
        .header("typ", "at+jwt")
        .claims();
    assert_eq!(claims["token_use"], "id");
    assert!(claims.get("client_id").is_none());
    let token = server.token().header("typ", "at+jwt").sign();
    assert_eq!(header_of(&token)["typ"], "at+jwt");
    let expired = server.token().expired().sign();
    assert!(verify(&server, &expired, None).await.is_err());
    let forged = server.token().unpublished_key().sign();
    assert!(verify(&server, &forged, None).await.is_err());
}

#[tokio::test]
async fn rotation_keeps_the_shape() {
    let server = start(Shape::Curity).await;
    let first = server.signing_kid();
    let second = server.add_key(Algorithm::RS256);
    assert!(second.starts_with('-'), "{second}");
    server.set_signing_key(&second);
    let token = server.token().sign();
    assert_eq!(header_of(&token)["kid"], second);
    verify(&server, &token, Some(&server.audience()))
        .await
        .unwrap();
    server.retire_key(&first);
    let jwks = get_json(&server.jwks_uri()).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert!(
        jwks["keys"][0]["x5t"].is_string(),
        "added keys are certified too"
    );
}

#[tokio::test]
async fn revocation_and_faults_work_at_the_products_paths() {
    let server = start(Shape::Okta).await;
    let token = server.token().sign();
    assert!(
        server
            .revocation_endpoint()
            .ends_with("/oauth2/default/v1/revoke")
    );
    let response = post_basic(&server, &server.revocation_endpoint(), &[("token", &token)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(server.revocation_requests(), 1);
    assert_eq!(
        introspect(&server, &token).await,
        json!({ "active": false })
    );

    let server = start(Shape::EntraV2 {
        tenant: TENANT.into(),
    })
    .await;
    server.set_fault(
        tollgate_mock::Endpoint::Jwks,
        tollgate_mock::Fault::Status(503),
    );
    let common = format!("{}/common/discovery/v2.0/keys", server.base_url());
    for url in [server.jwks_uri(), common] {
        let response = http().get(&url).send().await.unwrap();
        assert_eq!(response.status(), 503, "{url}");
    }
    assert_eq!(server.jwks_fetches(), 2);
    server.clear_faults();
    get_json(&server.jwks_uri()).await;
}

/// Servers that support DPoP name a DPoP-bound token's type `DPoP` in their introspection
/// answers (RFC 9449 §6.2), beside its `cnf.jkt`; the others stay `Bearer`.
#[tokio::test]
async fn dpop_bound_tokens_are_typed_dpop_where_the_server_does() {
    use tollgate_mock::dpop::DpopKey;
    let key = DpopKey::generate();
    for shape in [
        Shape::Keycloak,
        Shape::SpringAuthorizationServer,
        Shape::OidcProvider,
    ] {
        let server = start(shape.clone()).await;
        let opaque = server.opaque_token().dpop_bound(&key).issue();
        let answer = introspect(&server, &opaque).await;
        assert_eq!(answer["token_type"], "DPoP", "{shape:?}: {answer}");
        assert_eq!(answer["cnf"]["jkt"], key.thumbprint(), "{shape:?}");
        let plain = introspect(&server, &server.opaque_token().issue()).await;
        assert_eq!(plain["token_type"], "Bearer", "{shape:?}: {plain}");
        if shape != Shape::OidcProvider {
            // JWTs too, where the server introspects them.
            let jwt = server.token().dpop_bound(&key).sign();
            let answer = introspect(&server, &jwt).await;
            assert_eq!(answer["token_type"], "DPoP", "{shape:?}: {answer}");
        }
    }
    let keycloak = start(Shape::Keycloak).await;
    let answer = introspect(&keycloak, &keycloak.opaque_token().dpop_bound(&key).issue()).await;
    assert_eq!(
        answer["typ"], "DPoP",
        "Keycloak says it in typ too: {answer}"
    );
}
