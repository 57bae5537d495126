//! Configurations `build` refuses, and ones it accepts.

use super::build::http_client_error;
use super::*;
use crate::alg::Algorithm;
use crate::error::ConfigErrorKind;
use crate::{Introspection, JtiPolicy};

fn kind(builder: TollgateBuilder) -> ConfigErrorKind {
    match builder.build() {
        Ok(_) => panic!("configuration should be refused"),
        Err(e) => {
            // "invalid tollgate configuration: what: why", naming the mistake after the prefix.
            let text = e.to_string();
            let why = text
                .strip_prefix("invalid tollgate configuration: ")
                .unwrap_or_else(|| panic!("{text:?} lacks the prefix"));
            assert!(why.len() > 10, "{text:?} does not say what is wrong");
            e.kind()
        }
    }
}

fn base() -> TollgateBuilder {
    Tollgate::builder()
        .issuer("https://as.test")
        .audience("api")
}

#[test]
fn bad_configuration_fails_at_build_time() {
    assert_eq!(
        kind(Tollgate::builder().audience("api")),
        ConfigErrorKind::Missing
    );
    assert_eq!(
        kind(Tollgate::builder().issuer("as.test").audience("api")),
        ConfigErrorKind::InvalidUrl
    );
    assert_eq!(
        kind(Tollgate::builder().issuer("ftp://as.test").audience("api")),
        ConfigErrorKind::InvalidUrl
    );
    assert_eq!(
        kind(base().jwks_uri("not a url")),
        ConfigErrorKind::InvalidUrl
    );
    assert_eq!(
        kind(Tollgate::builder().issuer("https://as.test")),
        ConfigErrorKind::Audience
    );
    assert_eq!(kind(base().audience("")), ConfigErrorKind::Audience);
    assert_eq!(kind(base().algorithms([])), ConfigErrorKind::Algorithms);
    assert_eq!(
        kind(base().algorithms([Algorithm::HS256])),
        ConfigErrorKind::Algorithms
    );
    assert_eq!(
        kind(base().hmac_secret(vec![7u8; 16])),
        ConfigErrorKind::Algorithms
    );
    assert_eq!(
        kind(
            base()
                .hmac_secret(vec![7u8; 32])
                .algorithms([Algorithm::RS256])
        ),
        ConfigErrorKind::Algorithms
    );
    assert_eq!(
        kind(base().leeway(Duration::from_secs(7200))),
        ConfigErrorKind::Bounds
    );
    assert_eq!(
        kind(base().jwks_refresh_bounds(Duration::from_secs(60), Duration::from_secs(30))),
        ConfigErrorKind::Bounds
    );
    assert_eq!(kind(base().max_token_bytes(0)), ConfigErrorKind::Bounds);
}

#[test]
fn an_issuer_with_a_query_or_fragment_fails_at_build_time() {
    // RFC 8414 §2: no query, no fragment. Discovery could never find its metadata, so
    // such an issuer used to build and answer 503 forever.
    for issuer in [
        "https://as.test/?tenant=1",
        "https://as.test/realms/x?x=1",
        "https://as.test/#f",
        "https://user:pw@as.test",
    ] {
        assert_eq!(
            kind(Tollgate::builder().issuer(issuer).audience("api")),
            ConfigErrorKind::InvalidUrl,
            "{issuer}"
        );
    }
    // The same with a JWKS URI: the issuer is still an RFC 8414 issuer identifier.
    assert_eq!(
        kind(
            Tollgate::builder()
                .issuer("https://as.test?x=1")
                .audience("api")
                .jwks_uri("https://as.test/jwks")
        ),
        ConfigErrorKind::InvalidUrl
    );
}

#[test]
fn plain_http_endpoints_under_an_https_issuer_fail_at_build_time() {
    let introspection =
        |url: &str| Introspection::client_secret_basic("api", "secret").endpoint(url);
    assert_eq!(
        kind(base().jwks_uri("http://as.test/jwks")),
        ConfigErrorKind::InvalidUrl
    );
    assert_eq!(
        kind(base().introspection(introspection("http://as.test/introspect"))),
        ConfigErrorKind::InvalidUrl
    );
    assert_eq!(
        kind(base().jwks_uri("https://user@as.test/jwks")),
        ConfigErrorKind::InvalidUrl
    );
    // Loopback is the same machine: nobody on a path can rewrite it.
    for url in [
        "http://127.0.0.1:8080/jwks",
        "http://127.1.2.3/jwks",
        "http://[::1]:9000/jwks",
        "http://localhost/jwks",
    ] {
        assert!(base().jwks_uri(url).build().is_ok(), "{url}");
    }
    assert!(
        base()
            .jwks_uri("https://as.test/jwks")
            .introspection(introspection("http://localhost:8081/introspect"))
            .build()
            .is_ok()
    );
    // The switch accepts plain http anywhere (and says it weakens security).
    assert!(
        base()
            .allow_insecure_endpoints(true)
            .jwks_uri("http://as.test/jwks")
            .introspection(introspection("http://as.test/introspect"))
            .build()
            .is_ok()
    );
    // It does not relax the other rules.
    assert_eq!(
        kind(
            base()
                .allow_insecure_endpoints(true)
                .jwks_uri("http://user:pw@as.test/jwks")
        ),
        ConfigErrorKind::InvalidUrl
    );
    // A plain-http issuer chose plain http for everything.
    assert!(
        Tollgate::builder()
            .issuer("http://as.test")
            .audience("api")
            .jwks_uri("http://as.test/jwks")
            .introspection(introspection("http://as.test/introspect"))
            .build()
            .is_ok()
    );
}

#[test]
fn a_zero_unknown_kid_cooldown_fails_at_build_time() {
    for cooldown in [Duration::ZERO, Duration::from_millis(999)] {
        assert_eq!(
            kind(base().unknown_kid_cooldown(cooldown)),
            ConfigErrorKind::Bounds,
            "{cooldown:?}"
        );
    }
    assert!(
        base()
            .unknown_kid_cooldown(Duration::from_secs(1))
            .build()
            .is_ok()
    );
}

#[test]
fn introspection_without_an_endpoint_needs_discovery() {
    // With a JWKS URI or a secret nothing is discovered: the endpoint could never be
    // found, sensitive routes would answer 503 forever, and fail-open ones stay open.
    let introspection = || Introspection::client_secret_basic("api", "secret");
    assert_eq!(
        kind(
            base()
                .jwks_uri("https://as.test/jwks")
                .introspection(introspection())
        ),
        ConfigErrorKind::Missing
    );
    assert_eq!(
        kind(
            base()
                .hmac_secret(vec![7u8; 32])
                .introspection(introspection())
        ),
        ConfigErrorKind::Missing
    );
    assert!(base().introspection(introspection()).build().is_ok());
}

#[test]
fn error_kinds_name_the_mistake() {
    assert_eq!(kind(base().realm("bad\nrealm")), ConfigErrorKind::Realm);
    assert_eq!(kind(base().realm("tab\there")), ConfigErrorKind::Realm);
    assert_eq!(kind(base().realm("caf\u{e9}")), ConfigErrorKind::Realm);
    for introspection in [
        Introspection::client_secret_basic("", "secret"),
        Introspection::client_secret_post("api", ""),
        Introspection::bearer(""),
        Introspection::bearer("bad\ncredential"),
    ] {
        assert_eq!(
            kind(base().introspection(introspection)),
            ConfigErrorKind::Credentials
        );
    }
}

#[test]
fn the_http_client_error_keeps_its_source() {
    use std::error::Error as _;
    // Any reqwest error will do: a request to a URL that does not parse.
    let cause = reqwest::Client::new().get("not a url").build().unwrap_err();
    let text = cause.to_string();
    let error = http_client_error(cause);
    assert_eq!(error.kind(), ConfigErrorKind::HttpClient);
    let source = error.source().expect("the cause is kept");
    assert_eq!(source.to_string(), text);
    assert!(source.downcast_ref::<reqwest::Error>().is_some());
    // Still `Clone`, and the clone keeps it too.
    assert!(error.clone().source().is_some());
}

#[test]
fn good_configurations_build_without_a_runtime() {
    assert!(base().build().is_ok());
    assert!(base().jwks_uri("https://as.test/jwks").build().is_ok());
    assert!(base().hmac_secret(vec![7u8; 32]).build().is_ok());
    assert_eq!(
        kind(
            base()
                .hmac_secret(vec![7u8; 32])
                .algorithms([Algorithm::HS512])
        ),
        ConfigErrorKind::Algorithms
    );
    assert!(
        base()
            .hmac_secret(vec![7u8; 64])
            .algorithms([Algorithm::HS512])
            .build()
            .is_ok()
    );
    assert!(
        base()
            .introspection(
                Introspection::client_secret_post("api", "secret")
                    .endpoint("https://as.test/introspect")
            )
            .build()
            .is_ok()
    );
}

fn partner() -> TrustedIssuer {
    TrustedIssuer::new("https://partner.test").audience("api")
}

const V2: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
const COMMON: &str =
    "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration";

#[test]
fn trusted_issuers_build_beside_the_own_one_or_alone() {
    assert!(base().trust(partner()).build().is_ok());
    assert!(Tollgate::builder().trust(partner()).build().is_ok());
    let gate = base()
        .trust(partner())
        .trust(
            TrustedIssuer::new(V2)
                .profile(crate::Profile::entra_v2())
                .discovery_url(COMMON)
                .tenants(["t1"])
                .audience("api"),
        )
        .build()
        .unwrap();
    let names: Vec<&str> = gate.inner.issuers.iter().map(|i| i.name()).collect();
    assert_eq!(names, ["https://as.test", "https://partner.test", V2]);
    // Debug names every issuer, and no secret.
    let debug = format!("{gate:?}");
    assert!(
        debug.contains("https://partner.test") && debug.contains(V2),
        "{debug}"
    );
}

#[test]
fn single_issuer_settings_need_the_own_issuer() {
    for builder in [
        Tollgate::builder().trust(partner()).audience("api"),
        Tollgate::builder()
            .trust(partner())
            .allow_untyped_tokens(true),
        Tollgate::builder()
            .trust(partner())
            .jwks_uri("https://as.test/jwks"),
        Tollgate::builder()
            .trust(partner())
            .introspection(Introspection::client_secret_basic("a", "b")),
    ] {
        assert_eq!(kind(builder), ConfigErrorKind::Missing);
    }
    assert_eq!(kind(Tollgate::builder()), ConfigErrorKind::Missing);
}

#[test]
fn contradicting_trust_fails_at_build_time() {
    let introspecting =
        || partner().introspection(Introspection::client_secret_basic("api", "secret"));
    let template = || TrustedIssuer::new(V2).audience("api").discovery_url(COMMON);
    let cases = [
        // The same issuer twice.
        base().trust(TrustedIssuer::new("https://as.test").audience("x")),
        // Opaque tokens to two issuers, or to one that cannot introspect them.
        Tollgate::builder()
            .trust(introspecting().opaque_tokens())
            .trust(
                TrustedIssuer::new("https://other.test")
                    .audience("api")
                    .introspection(Introspection::client_secret_basic("api", "secret"))
                    .opaque_tokens(),
            ),
        Tollgate::builder().trust(partner().opaque_tokens()),
        // Templates: tenants needed, exactly one way; a place to find the keys needed.
        Tollgate::builder().trust(template()),
        Tollgate::builder().trust(template().tenants(["t"]).any_tenant()),
        Tollgate::builder().trust(TrustedIssuer::new(V2).audience("api").tenants(["t"])),
        Tollgate::builder().trust(template().tenants(["a/b"])),
        Tollgate::builder().trust(partner().tenants(["t"])),
        Tollgate::builder().trust(partner().any_tenant()),
        // Keys from two places.
        Tollgate::builder().trust(
            partner()
                .jwks_uri("https://partner.test/jwks")
                .discovery_url("https://partner.test/.well-known/openid-configuration"),
        ),
        // Switches that mean nothing.
        Tollgate::builder().trust(partner().client_id_claims([])),
        Tollgate::builder().trust(partner().scope_sources([])),
        Tollgate::builder().trust(partner().roles_claim("")),
        Tollgate::builder().trust(partner().jti(JtiPolicy::alias("jti"))),
        Tollgate::builder().trust(partner().require_claim("", "x")),
        Tollgate::builder().trust(partner().require_claim_present("uid").forbid_claim("uid")),
    ];
    for (i, builder) in cases.into_iter().enumerate() {
        assert_eq!(kind(builder), ConfigErrorKind::Trust, "case {i}");
    }
}

#[test]
fn a_stand_in_for_the_audience_needs_an_allowlist() {
    use crate::{AudiencePolicy, Profile};
    // Cognito's tokens have no `aud`: without allowed clients, nothing would check whom a
    // token is for.
    let cognito = || TrustedIssuer::new("https://cognito-idp.eu-west-1.amazonaws.com/pool");
    assert_eq!(
        kind(Tollgate::builder().trust(cognito().profile(Profile::cognito()))),
        ConfigErrorKind::Audience
    );
    assert_eq!(
        kind(
            Tollgate::builder()
                .trust(partner().audience_policy(AudiencePolicy::EmptyWithClientAllowlist))
        ),
        ConfigErrorKind::Audience
    );
    // The allowlist alone will do; a profile applied later keeps it.
    assert!(
        Tollgate::builder()
            .trust(
                cognito()
                    .allowed_clients(["app"])
                    .profile(Profile::cognito())
            )
            .build()
            .is_ok()
    );
    // Strict mode has no stand-in: an allowlist does not replace the audience.
    assert_eq!(
        kind(
            Tollgate::builder().trust(TrustedIssuer::new("https://x.test").allowed_clients(["a"]))
        ),
        ConfigErrorKind::Audience
    );
}

#[test]
fn a_discovery_url_follows_the_endpoint_rules() {
    assert_eq!(
        kind(Tollgate::builder().trust(
            partner().discovery_url("http://partner.test/.well-known/openid-configuration")
        )),
        ConfigErrorKind::InvalidUrl
    );
    assert!(
        Tollgate::builder()
            .trust(partner().discovery_url("http://127.0.0.1:9/.well-known/openid-configuration"))
            .build()
            .is_ok()
    );
}

#[test]
fn the_compatibility_switches_stand_for_narrow_ones() {
    use super::build::compatibility;
    use crate::claims::{ScopeSources, Switches};
    use crate::{ClientIdClaim, ScopeSource};
    assert_eq!(compatibility(false, false), Switches::default());
    let untyped = compatibility(true, false);
    assert!(untyped.accept_typ_jwt && untyped.accept_missing_typ);
    assert_eq!(
        untyped.client_id,
        [
            ClientIdClaim::ClientId,
            ClientIdClaim::Azp,
            ClientIdClaim::None
        ]
    );
    assert_eq!(untyped.jti, JtiPolicy::Optional);
    assert!(!untyped.require_subject && !untyped.require_issued_at);
    assert_eq!(untyped.scopes, Switches::default().scopes);
    let scp = compatibility(false, true);
    assert_eq!(
        scp.scopes,
        ScopeSources::of([
            ScopeSource::ScopeString,
            ScopeSource::ScopeArray,
            ScopeSource::ScpString,
            ScopeSource::ScpArray,
        ])
    );
    assert!(!scp.accept_typ_jwt);
}

#[test]
fn no_profile_enables_hmac() {
    use crate::Profile;
    for name in Profile::NAMES {
        let gate = Tollgate::builder()
            .trust(
                TrustedIssuer::new("https://as.test")
                    .profile(Profile::named(name).unwrap())
                    .audience("api")
                    .allowed_clients(["app"]),
            )
            .build()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let issuer = gate.inner.issuers.get(0).unwrap();
        assert!(
            issuer
                .header
                .algorithms
                .iter()
                .all(|alg| alg.hmac_min_len() == 0),
            "{name}: {:?}",
            issuer.header.algorithms
        );
    }
}
