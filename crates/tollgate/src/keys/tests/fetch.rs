//! `Cache-Control`, bounded GETs, redirects, and the discovery URLs and documents.

use std::time::Duration;

use http::HeaderValue;
use reqwest::Url;
use serde_json::json;

use tollgate_mock::{Canned, Endpoint, Fault, MockAuthServer};

use super::client;
use crate::keys::discovery::{MetadataError, metadata_urls, parse_metadata};
use crate::keys::fetch::{FetchError, Freshness, get_bounded, parse_cache_control};
use crate::url_rules::UrlRules;

/// `parse_metadata` under the default rules of `issuer`.
fn parse_metadata_of(
    body: &[u8],
    issuer: &str,
) -> Result<(crate::keys::AuthServerMetadata, Url), MetadataError> {
    parse_metadata(body, issuer, &UrlRules::new(issuer, false))
}

fn freshness(values: &[&str]) -> Freshness {
    let values: Vec<HeaderValue> = values
        .iter()
        .map(|v| HeaderValue::from_str(v).unwrap())
        .collect();
    parse_cache_control(&values)
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn cache_control_max_age() {
    assert_eq!(freshness(&["max-age=300"]), Freshness::MaxAge(secs(300)));
    assert_eq!(
        freshness(&["public, max-age=60, must-revalidate"]),
        Freshness::MaxAge(secs(60))
    );
    assert_eq!(freshness(&["MAX-AGE=10"]), Freshness::MaxAge(secs(10)));
    assert_eq!(freshness(&["max-age = 7"]), Freshness::MaxAge(secs(7)));
    assert_eq!(freshness(&["max-age=\"20\""]), Freshness::MaxAge(secs(20)));
    assert_eq!(
        freshness(&["public", "max-age=5"]),
        Freshness::MaxAge(secs(5))
    );
    // The first of several counts (RFC 9111 §4.2.1).
    assert_eq!(
        freshness(&["max-age=1, max-age=2"]),
        Freshness::MaxAge(secs(1))
    );
    // Too large saturates instead of overflowing.
    assert_eq!(
        freshness(&["max-age=99999999999999999999999"]),
        Freshness::MaxAge(secs(1 << 31))
    );
}

#[test]
fn cache_control_without_usable_max_age() {
    for value in [
        "",
        "public",
        "max-age",
        "max-age=",
        "max-age=abc",
        "max-age=-5",
        "max-age=1.5",
        "s-maxage=100",
    ] {
        assert_eq!(freshness(&[value]), Freshness::Unspecified, "{value:?}");
    }
    assert_eq!(freshness(&[]), Freshness::Unspecified);
    assert_eq!(freshness(&["no-cache"]), Freshness::NoCache);
    assert_eq!(freshness(&["No-Store"]), Freshness::NoCache);
    assert_eq!(freshness(&["max-age=600, no-cache"]), Freshness::NoCache);
    assert_eq!(freshness(&["max-age=600", "no-store"]), Freshness::NoCache);
}

#[test]
fn refresh_delay_is_clamped() {
    let (default, min, max) = (secs(300), secs(60), secs(86_400));
    let next = |f: Freshness| f.next_refresh(default, min, max);
    assert_eq!(next(Freshness::MaxAge(secs(600))), secs(600));
    assert_eq!(next(Freshness::MaxAge(secs(5))), min);
    assert_eq!(next(Freshness::MaxAge(secs(0))), min);
    assert_eq!(next(Freshness::MaxAge(secs(10 * 86_400))), max);
    assert_eq!(next(Freshness::NoCache), min);
    assert_eq!(next(Freshness::Unspecified), default);
    // Inverted bounds (refused by the builder) do not panic.
    assert_eq!(
        Freshness::MaxAge(secs(5)).next_refresh(default, max, min),
        min
    );
}

#[test]
fn metadata_urls_follow_rfc8414_then_openid() {
    let urls = |issuer: &str| metadata_urls(issuer).map(|[a, b]| (a.to_string(), b.to_string()));
    assert_eq!(
        urls("https://as.example/realms/x").unwrap(),
        (
            "https://as.example/.well-known/oauth-authorization-server/realms/x".to_owned(),
            "https://as.example/realms/x/.well-known/openid-configuration".to_owned()
        )
    );
    // RFC 8414 §3.1: a terminating "/" is removed first; OpenID does not double it.
    assert_eq!(
        urls("https://as.example/realms/x/").unwrap(),
        urls("https://as.example/realms/x").unwrap()
    );
    assert_eq!(
        urls("https://as.example").unwrap(),
        (
            "https://as.example/.well-known/oauth-authorization-server".to_owned(),
            "https://as.example/.well-known/openid-configuration".to_owned()
        )
    );
    assert_eq!(
        urls("http://127.0.0.1:8080/").unwrap().0,
        "http://127.0.0.1:8080/.well-known/oauth-authorization-server"
    );
    for bad in [
        "https://as.example/?tenant=1",
        "https://as.example/#x",
        "not a url",
        "ftp://as.example",
    ] {
        assert!(metadata_urls(bad).is_err(), "{bad}");
    }
}

#[test]
fn metadata_documents_are_checked() {
    let issuer = "https://as.example/realms/x";
    let doc = |value: serde_json::Value| serde_json::to_vec(&value).unwrap();
    let (metadata, jwks) = parse_metadata_of(
        &doc(json!({
            "issuer": issuer,
            "jwks_uri": "https://as.example/realms/x/certs",
            "introspection_endpoint": "https://as.example/realms/x/introspect",
            "response_types_supported": ["code"],
        })),
        issuer,
    )
    .unwrap();
    assert_eq!(jwks.as_str(), "https://as.example/realms/x/certs");
    assert_eq!(
        metadata.introspection_endpoint.as_deref(),
        Some("https://as.example/realms/x/introspect")
    );

    // RFC 8414 §3.3: exactly the configured issuer, not even a trailing slash more.
    for other in [
        format!("{issuer}/"),
        "https://evil.example/realms/x".to_owned(),
    ] {
        let err = parse_metadata_of(
            &doc(json!({"issuer": other, "jwks_uri": "https://as.example/certs"})),
            issuer,
        )
        .unwrap_err();
        assert!(matches!(err, MetadataError::IssuerMismatch { .. }));
    }
    for bad in [
        json!({"issuer": issuer}),
        json!({"jwks_uri": "https://as.example/certs"}),
        json!([issuer]),
    ] {
        assert!(
            matches!(
                parse_metadata_of(&doc(bad.clone()), issuer),
                Err(MetadataError::Invalid(_))
            ),
            "{bad}"
        );
    }
    assert!(parse_metadata_of(b"<html>", issuer).is_err());
    // The jwks_uri is held to the URL rules; an https issuer must not hand out its keys over
    // http.
    for refused in ["not a url", "http://as.example/certs"] {
        assert!(
            matches!(
                parse_metadata_of(&doc(json!({"issuer": issuer, "jwks_uri": refused})), issuer),
                Err(MetadataError::Refused(_))
            ),
            "{refused}"
        );
    }
}

#[test]
fn discovered_endpoints_are_held_to_the_url_rules() {
    let issuer = "https://as.example/realms/x";
    let doc = |jwks: &str, introspect: &str| {
        serde_json::to_vec(&json!({
            "issuer": issuer,
            "jwks_uri": jwks,
            "introspection_endpoint": introspect,
        }))
        .unwrap()
    };
    // Under an https issuer, a plain-http introspection endpoint would send every token in
    // clear: it is never used. The keys still load.
    let (metadata, _) = parse_metadata_of(
        &doc("https://as.example/certs", "http://as.example/introspect"),
        issuer,
    )
    .unwrap();
    assert_eq!(metadata.introspection_endpoint, None);
    let why = metadata.refused_introspection_endpoint.unwrap();
    assert!(why.contains("must use https"), "{why}");
    for bad in [
        "http://as.example/introspect",
        "https://user:secret@as.example/introspect",
        "/introspect",
    ] {
        let (metadata, _) =
            parse_metadata_of(&doc("https://as.example/certs", bad), issuer).unwrap();
        assert_eq!(metadata.introspection_endpoint, None, "{bad}");
    }
    // Loopback is accepted over plain http.
    let (metadata, _) = parse_metadata_of(
        &doc(
            "http://127.0.0.1:8080/certs",
            "http://[::1]:8080/introspect",
        ),
        issuer,
    )
    .unwrap();
    assert_eq!(
        metadata.introspection_endpoint.as_deref(),
        Some("http://[::1]:8080/introspect")
    );
    // A jwks_uri that breaks the rules discards the whole document.
    for bad in [
        "http://as.example/certs",
        "https://user:secret@as.example/certs",
    ] {
        assert!(
            parse_metadata_of(&doc(bad, "https://as.example/introspect"), issuer).is_err(),
            "{bad}"
        );
    }
    // With `allow_insecure_endpoints`, plain http is used as published.
    let (metadata, jwks) = parse_metadata(
        &doc("http://as.example/certs", "http://as.example/introspect"),
        issuer,
        &UrlRules::new(issuer, true),
    )
    .unwrap();
    assert_eq!(jwks.as_str(), "http://as.example/certs");
    assert_eq!(
        metadata.introspection_endpoint.as_deref(),
        Some("http://as.example/introspect")
    );
}

async fn get(url: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
    let url = Url::parse(url).unwrap();
    get_bounded(&client(), &url, Duration::from_secs(5), max_bytes)
        .await
        .map(|fetched| fetched.body)
}

/// Makes the mock's JWKS answer 200 with exactly `body`, no content type, whole or streamed in
/// pieces without `Content-Length`.
fn serve_raw(server: &MockAuthServer, body: Vec<u8>, streamed: bool) {
    let canned = Canned::new(200).body(body);
    let canned = if streamed {
        canned.chunked(1024)
    } else {
        canned
    };
    server.set_fault(Endpoint::Jwks, Fault::Canned(canned));
}

#[tokio::test]
async fn bounded_read_refuses_a_huge_body() {
    let server = MockAuthServer::start().await;
    let jwks = server.jwks_uri();
    let big = vec![b' '; 200_000];
    for (what, streamed) in [("sized", false), ("streamed", true)] {
        serve_raw(&server, big.clone(), streamed);
        assert!(
            matches!(
                get(&jwks, 64 * 1024).await,
                Err(FetchError::TooLarge { limit: 65536 })
            ),
            "{what}"
        );
    }
    serve_raw(&server, vec![b' '; 1000], true);
    assert_eq!(get(&jwks, 1000).await.unwrap().len(), 1000);
    assert!(matches!(
        get(&jwks, 999).await,
        Err(FetchError::TooLarge { .. })
    ));
}

#[tokio::test]
async fn non_2xx_and_timeouts_are_errors() {
    let server = MockAuthServer::start().await;
    // A path the mock does not serve.
    assert!(matches!(
        get(&format!("{}/gone", server.base_url()), 1000).await,
        Err(FetchError::Status(404))
    ));
    server.set_fault(Endpoint::Jwks, Fault::Status(503));
    assert!(matches!(
        get(&server.jwks_uri(), 1000).await,
        Err(FetchError::Status(503))
    ));
    server.set_fault(Endpoint::Jwks, Fault::Latency(Duration::from_secs(5)));
    let url = Url::parse(&server.jwks_uri()).unwrap();
    let slow = get_bounded(&client(), &url, Duration::from_millis(200), 64 * 1024).await;
    assert!(matches!(slow, Err(FetchError::Timeout)), "{:?}", slow.err());
}

#[tokio::test]
async fn redirects_to_another_origin_are_refused() {
    let server = MockAuthServer::start().await;
    let elsewhere = MockAuthServer::start().await;
    server.set_fault_at("/same", Fault::Redirect("/jwks".into()));
    server.set_fault(
        Endpoint::Jwks,
        Fault::Canned(Canned::new(200).body("{\"same\":true}")),
    );
    server.set_fault_at("/away", Fault::Redirect(elsewhere.jwks_uri()));
    let url = |path: &str| format!("{}{path}", server.base_url());

    // The default client of tollgate follows no redirect at all.
    assert!(matches!(
        get(&url("/away"), 1000).await,
        Err(FetchError::Status(302))
    ));
    assert_eq!(elsewhere.jwks_fetches(), 0);

    // A user-supplied client that follows them: same origin is fine, another is refused.
    let following = reqwest::Client::new();
    let fetch = |path: &str| {
        let url = Url::parse(&url(path)).unwrap();
        let following = following.clone();
        async move { get_bounded(&following, &url, Duration::from_secs(5), 1000).await }
    };
    assert_eq!(fetch("/same").await.unwrap().body, b"{\"same\":true}");
    let away = fetch("/away").await;
    assert!(
        matches!(away, Err(FetchError::OtherOrigin(_))),
        "{:?}",
        away.err()
    );
    assert!(away.err().unwrap().to_string().contains("another origin"));
    // The following client did ask the other origin; only its answer was refused.
    assert_eq!(elsewhere.jwks_fetches(), 1);
}

#[tokio::test]
async fn connection_refused_is_described() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/jwks")).unwrap();
    let err = get_bounded(&client(), &url, Duration::from_secs(5), 1000)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, FetchError::Request(_)), "{err}");
}
