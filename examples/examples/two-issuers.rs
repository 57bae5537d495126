//! Run with: `cargo run -p tollgate-examples --example two-issuers`
//!
//! One API that trusts two authorization servers at once: a Keycloak realm (its own users) and
//! a partner's Entra ID tenant (its users and applications), each with its own profile,
//! audience and keys. A token's `iss` picks the issuer whose rules and keys apply; the handler
//! reads the client id, scopes and roles through the same `Principal` accessors whichever
//! server issued the token.
//!
//! The program starts two mock authorization servers shaped like those products, serves on
//! 127.0.0.1, sends a few requests to itself, prints what happened, and exits.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tollgate::{Principal, Profile, Tollgate, TrustedIssuer};
use tollgate_mock::{MockAuthServer, Shape};

/// The partner's Entra ID tenant.
const TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

async fn whoami(principal: Principal) -> String {
    format!(
        "{} via client {} (scopes [{}], roles {:?})",
        principal.subject().unwrap_or("?"),
        principal.client_id().unwrap_or("?"),
        principal.scopes(),
        principal.roles(),
    )
}

#[tokio::main]
async fn main() {
    // `fresh_key`: each server signs with keys of its own, as real ones do.
    let keycloak = MockAuthServer::builder()
        .shape(Shape::Keycloak)
        .audience("orders-api")
        .fresh_key()
        .start()
        .await;
    let entra = MockAuthServer::builder()
        .shape(Shape::EntraV2 {
            tenant: TENANT.into(),
        })
        .audience("6e74172b-be56-4843-9ff4-e66a39bb12e3")
        .fresh_key()
        .start()
        .await;

    let gate = Tollgate::builder()
        .trust(
            TrustedIssuer::new(keycloak.issuer())
                .profile(Profile::keycloak())
                // What Keycloak's Audience mapper puts in `aud` for this API.
                .audience("orders-api"),
        )
        .trust(
            // Every tenant's tokens carry their own `iss`: the multi-tenant template, with the
            // partner's tenant allowed, and the keys from the multi-tenant metadata.
            TrustedIssuer::new(entra.tenant_issuer("{tenantid}").expect("an Entra shape"))
                .profile(Profile::entra_v2())
                .discovery_url(entra.multi_tenant_metadata_url().expect("an Entra shape"))
                .tenants([TENANT])
                // The API's application (client) id in the partner's tenant.
                .audience("6e74172b-be56-4843-9ff4-e66a39bb12e3"),
        )
        .build()
        .expect("valid tollgate configuration");
    assert!(
        gate.wait_for_keys(Duration::from_secs(10)).await,
        "the signing keys did not load"
    );

    let app = Router::new()
        .route("/whoami", get(whoami))
        .layer(gate.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let url = format!(
        "http://{}/whoami",
        listener.local_addr().expect("bound address")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let tokens = [
        (
            "Keycloak user",
            keycloak
                .token()
                .subject("alice")
                .scope("orders:read")
                .roles(["clerk"])
                .sign(),
        ),
        (
            "Entra partner app",
            entra
                .token()
                .tenant(TENANT)
                .subject("partner-app")
                .scope("Orders.Read")
                .roles(["Orders.Export"])
                .sign(),
        ),
        (
            "Entra, another tenant",
            entra
                .token()
                .tenant("72f988bf-86f1-41af-91ab-2d7cd011db47")
                .sign(),
        ),
        ("Keycloak ID token", keycloak.id_token().sign()),
        (
            "Keycloak key, Entra iss",
            keycloak
                .token()
                .issuer(entra.tenant_issuer(TENANT).expect("an Entra shape"))
                .sign(),
        ),
    ];
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client");
    for (what, token) in tokens {
        let response = client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("the API answers");
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        println!("{what:<24} -> {status}  {}", challenge.unwrap_or(body));
    }
}
