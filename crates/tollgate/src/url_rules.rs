//! The one set of rules for every URL tollgate talks to: the issuer, the JWKS URI and the
//! introspection endpoint, whether configured (checked by `TollgateBuilder::build`) or found in
//! the authorization server's metadata (checked when it is discovered).
//!
//! - Absolute, `http` or `https`, with a host, and without user info: credentials in a URL end
//!   up in logs and bypass the configured client authentication.
//! - The issuer has no query and no fragment (RFC 8414 §2). Its metadata could never be found.
//! - Under an issuer that is not plain `http`, the JWKS URI and the introspection endpoint use
//!   `https`: over plain http anyone on the path can swap the signing keys, or read every token
//!   sent to introspection (RFC 7662 §4 requires TLS). Loopback hosts (`localhost`,
//!   `127.0.0.0/8`, `::1`) are exempt: nothing travels over a network. So is everything with
//!   [`TollgateBuilder::allow_insecure_endpoints`](crate::TollgateBuilder::allow_insecure_endpoints).

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

use crate::error::{ConfigError, ConfigErrorKind};

/// Which URL is checked: the rules and the messages depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlRole {
    Issuer,
    JwksUri,
    /// A metadata document's URL (`TrustedIssuer::discovery_url`).
    DiscoveryUrl,
    IntrospectionEndpoint,
    /// The `jwks_uri` of discovered metadata (RFC 8414 §2).
    DiscoveredJwksUri,
    /// The `introspection_endpoint` of discovered metadata (RFC 8414 §2).
    DiscoveredIntrospectionEndpoint,
}

impl UrlRole {
    fn name(self) -> &'static str {
        match self {
            Self::Issuer => "issuer",
            Self::JwksUri => "jwks_uri",
            Self::DiscoveryUrl => "discovery URL",
            Self::IntrospectionEndpoint => "introspection endpoint",
            Self::DiscoveredJwksUri => "jwks_uri of the metadata",
            Self::DiscoveredIntrospectionEndpoint => "introspection_endpoint of the metadata",
        }
    }
}

/// What the endpoint rules depend on besides the URL itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UrlRules {
    /// The issuer is a plain `http` URL: its operator chose plain http for everything.
    issuer_is_plain_http: bool,
    /// `TollgateBuilder::allow_insecure_endpoints`.
    allow_insecure: bool,
}

/// Why a URL breaks the rules. Its text never contains user info or a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlError {
    role: UrlRole,
    why: &'static str,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} {}", self.role.name(), self.why)
    }
}

impl UrlError {
    /// The build-time form.
    pub(crate) fn config_error(&self) -> ConfigError {
        ConfigError::new(ConfigErrorKind::InvalidUrl, self.to_string())
    }
}

impl UrlRules {
    /// The rules under `issuer`. An issuer that is not a URL (possible with an HMAC secret,
    /// where it is only compared with `iss`) counts as not plain http: endpoints then need
    /// `https` too.
    pub(crate) fn new(issuer: &str, allow_insecure: bool) -> Self {
        Self {
            issuer_is_plain_http: Url::parse(issuer).is_ok_and(|url| url.scheme() == "http"),
            allow_insecure,
        }
    }

    /// Checks `url` in its `role`; the parsed URL when it passes.
    pub(crate) fn check(&self, url: &str, role: UrlRole) -> Result<Url, UrlError> {
        let refuse = |why| Err(UrlError { role, why });
        let Ok(parsed) = Url::parse(url) else {
            return refuse("is not an absolute URL");
        };
        if !matches!(parsed.scheme(), "https" | "http") {
            return refuse("must be an https (or http) URL");
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return refuse("has no host");
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return refuse(
                "must not contain user info: credentials in a URL end up in logs; configure \
                 the introspection client credentials instead",
            );
        }
        if role == UrlRole::Issuer {
            // RFC 8414 §2: "a URL that uses the "https" scheme and has no query or fragment
            // components". Plain http stays possible for test and loopback setups.
            if parsed.query().is_some() || parsed.fragment().is_some() {
                return refuse("must have no query and no fragment (RFC 8414 §2)");
            }
            return Ok(parsed);
        }
        if parsed.scheme() == "http"
            && !self.issuer_is_plain_http
            && !self.allow_insecure
            && !is_loopback(&parsed)
        {
            return refuse(
                "must use https under an https issuer: over plain http anyone on the path can \
                 replace the signing keys or read the tokens (RFC 7662 §4). Plain http is \
                 accepted on loopback hosts, or with TollgateBuilder::allow_insecure_endpoints",
            );
        }
        Ok(parsed)
    }
}

/// A URL for a log line: scheme, host, port and path, without user info, query or fragment
/// (which could carry credentials), at most 200 characters.
pub(crate) fn for_log(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) => {
            let mut text = parsed.origin().ascii_serialization();
            if text == "null" {
                text = format!("{}:", parsed.scheme());
            }
            text.push_str(parsed.path());
            text.chars().take(200).collect()
        }
        Err(_) => format!("{:?}", url.chars().take(64).collect::<String>()),
    }
}

/// `localhost`, `127.0.0.0/8` or `::1` (also as `::ffff:127.x.y.z`): the same machine, where
/// plain http crosses no network (RFC 6761 §6.3 for the name).
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // An IPv6 host comes in brackets (RFC 3986 §3.2.2).
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => host
            .strip_suffix('.')
            .unwrap_or(host)
            .eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTPS: &str = "https://as.example/realms/x";

    fn check(issuer: &str, allow_insecure: bool, url: &str, role: UrlRole) -> bool {
        UrlRules::new(issuer, allow_insecure)
            .check(url, role)
            .is_ok()
    }

    #[test]
    fn every_url_is_absolute_http_with_a_host_and_no_user_info() {
        for role in [
            UrlRole::Issuer,
            UrlRole::JwksUri,
            UrlRole::DiscoveryUrl,
            UrlRole::IntrospectionEndpoint,
            UrlRole::DiscoveredJwksUri,
            UrlRole::DiscoveredIntrospectionEndpoint,
        ] {
            assert!(
                check(HTTPS, false, "https://as.example/x", role),
                "{role:?}"
            );
            for bad in [
                "as.example/x",
                "/x",
                "",
                "ftp://as.example/x",
                "file:///etc/passwd",
                "https://user@as.example/x",
                "https://user:secret@as.example/x",
                "https://:secret@as.example/x",
            ] {
                assert!(!check(HTTPS, true, bad, role), "{role:?} {bad}");
            }
        }
    }

    #[test]
    fn an_issuer_has_no_query_and_no_fragment() {
        let issuer = |url| check(HTTPS, false, url, UrlRole::Issuer);
        assert!(issuer("https://as.example/realms/x/"));
        assert!(issuer("http://127.0.0.1:8080"));
        // Plain http is the operator's choice for the issuer itself.
        assert!(issuer("http://keycloak:8080/realms/x"));
        for bad in [
            "https://as.example/?tenant=1",
            "https://as.example/?",
            "https://as.example/#",
            "https://as.example/realms/x#f",
        ] {
            assert!(!issuer(bad), "{bad}");
        }
        // An endpoint may have a query.
        assert!(check(
            HTTPS,
            false,
            "https://as.example/jwks?v=2",
            UrlRole::JwksUri
        ));
    }

    #[test]
    fn plain_http_endpoints_only_on_loopback_under_an_https_issuer() {
        for role in [
            UrlRole::JwksUri,
            UrlRole::IntrospectionEndpoint,
            UrlRole::DiscoveredJwksUri,
            UrlRole::DiscoveredIntrospectionEndpoint,
        ] {
            for remote in [
                "http://as.example/x",
                "http://10.0.0.1/x",
                "http://[fe80::1]/x",
                "http://localhost.example/x",
                "http://128.0.0.1/x",
            ] {
                assert!(!check(HTTPS, false, remote, role), "{role:?} {remote}");
                // The switch accepts them.
                assert!(check(HTTPS, true, remote, role), "{role:?} {remote}");
                // So does a plain-http issuer.
                assert!(check("http://as.example", false, remote, role));
                // An issuer that is not a URL (HMAC) asks for https too.
                assert!(!check("my-service", false, remote, role));
            }
            for local in [
                "http://localhost/x",
                "http://LOCALHOST.:8080/x",
                "http://127.0.0.1:9/x",
                "http://127.255.0.9/x",
                "http://[::1]:8080/x",
                "http://[::ffff:127.0.0.1]/x",
            ] {
                assert!(check(HTTPS, false, local, role), "{role:?} {local}");
            }
        }
    }

    #[test]
    fn urls_in_logs_carry_no_credentials() {
        assert_eq!(
            for_log("https://user:hunter2@as.example:8443/x/introspect?key=hunter2#f"),
            "https://as.example:8443/x/introspect"
        );
        assert_eq!(for_log("/relative"), "\"/relative\"");
        assert!(!for_log("ftp://u:hunter2@x/y").contains("hunter2"));
    }

    #[test]
    fn messages_name_the_url_and_the_fix_without_echoing_it() {
        let error = UrlRules::new(HTTPS, false)
            .check(
                "http://user:hunter2@as.example/x",
                UrlRole::IntrospectionEndpoint,
            )
            .unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("the introspection endpoint"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let text = UrlRules::new(HTTPS, false)
            .check("http://as.example/x", UrlRole::JwksUri)
            .unwrap_err()
            .to_string();
        assert!(text.contains("allow_insecure_endpoints"), "{text}");
        assert_eq!(
            UrlRules::new(HTTPS, false)
                .check("x", UrlRole::Issuer)
                .unwrap_err()
                .config_error()
                .kind(),
            ConfigErrorKind::InvalidUrl
        );
    }
}
