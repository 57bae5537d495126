//! Both metadata documents, at the root and under an issuer path.

mod common;

use common::get_json;
use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::client;

#[tokio::test]
async fn both_documents_describe_the_server() {
    let server = MockAuthServer::start().await;
    let base = server.base_url();
    assert_eq!(server.issuer(), base);
    assert!(base.starts_with("http://127.0.0.1:"));
    assert!(!base.ends_with('/'));

    let oauth = get_json(&format!("{base}/.well-known/oauth-authorization-server")).await;
    let openid = get_json(&format!("{base}/.well-known/openid-configuration")).await;
    for doc in [&oauth, &openid] {
        assert_eq!(doc["issuer"], server.issuer());
        assert_eq!(doc["jwks_uri"], server.jwks_uri());
        assert_eq!(doc["token_endpoint"], server.token_endpoint());
        assert_eq!(
            doc["introspection_endpoint"],
            server.introspection_endpoint()
        );
        assert_eq!(doc["revocation_endpoint"], server.revocation_endpoint());
        let grants = doc["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&"client_credentials".into()));
        assert!(grants.contains(&"refresh_token".into()));
        for field in [
            "token_endpoint_auth_methods_supported",
            "introspection_endpoint_auth_methods_supported",
            "revocation_endpoint_auth_methods_supported",
        ] {
            assert_eq!(
                doc[field],
                serde_json::json!(["client_secret_basic", "client_secret_post"])
            );
        }
    }
    assert!(openid["id_token_signing_alg_values_supported"].is_array());
    assert_eq!(server.discovery_fetches(), 2);
    assert_eq!(
        server.oauth_metadata_url(),
        format!("{base}/.well-known/oauth-authorization-server")
    );
    assert_eq!(
        server.openid_configuration_url(),
        format!("{base}/.well-known/openid-configuration")
    );

    // The advertised endpoints are live.
    let jwks = get_json(oauth["jwks_uri"].as_str().unwrap()).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn issuer_path_moves_everything_under_it() {
    let server = MockAuthServer::builder()
        .issuer_path("/realms/test")
        .start()
        .await;
    let base = server.base_url();
    let issuer = format!("{base}/realms/test");
    assert_eq!(server.issuer(), issuer);
    assert_eq!(server.jwks_uri(), format!("{issuer}/jwks"));

    // RFC 8414 §3: the well-known segment goes between host and path.
    let oauth = get_json(&format!(
        "{base}/.well-known/oauth-authorization-server/realms/test"
    ))
    .await;
    // OpenID Discovery §4: appended to the issuer.
    let openid = get_json(&format!("{issuer}/.well-known/openid-configuration")).await;
    for doc in [&oauth, &openid] {
        assert_eq!(doc["issuer"], issuer);
        assert_eq!(doc["jwks_uri"], server.jwks_uri());
        assert_eq!(doc["token_endpoint"], server.token_endpoint());
    }
    assert_eq!(server.discovery_fetches(), 2);

    // The root locations do not exist for a server with a path.
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/jwks",
    ] {
        let response = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(server.requests_to(path), 1);
    }
    assert_eq!(server.discovery_fetches(), 2);

    let token = server.token().sign();
    assert_eq!(
        common::verify(&server, &token).await.unwrap()["iss"],
        issuer
    );
}
