//! [`TollgateBuilder::build`]: every check of the configuration, then the engine.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::TollgateBuilder;
use crate::claims::ClaimRules;
use crate::engine::{Inner, Limits, Tollgate};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::introspection::{EndpointSource, Introspector, RevocationMemory};
use crate::issuer::Issuer;
use crate::jws::HeaderRules;
use crate::keys::{KeySet, KeySetConfig, KeySource};
use crate::rejection::Responder;
use crate::url_rules::{UrlRole, UrlRules};
use crate::verified::VerifiedCache;

impl TollgateBuilder {
    /// Checks the configuration and builds the engine. Key loading starts in the background
    /// at once when called inside a tokio runtime, otherwise on first use.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first problem found.
    pub fn build(self) -> Result<Tollgate, ConfigError> {
        let issuer = self
            .issuer
            .ok_or_else(|| ConfigError::new(ConfigErrorKind::Missing, "an issuer is required"))?;
        let url_rules = UrlRules::new(&issuer, self.allow_insecure_endpoints);
        // With a secret the issuer is only compared with `iss`: nothing is fetched from it.
        if self.hmac_secret.is_none() {
            url_rules
                .check(&issuer, UrlRole::Issuer)
                .map_err(|e| e.config_error())?;
        }
        if let Some(uri) = &self.jwks_uri {
            url_rules
                .check(uri, UrlRole::JwksUri)
                .map_err(|e| e.config_error())?;
        }
        if let Some(introspection) = &self.introspection {
            introspection.validate(&url_rules)?;
            // Only discovery finds an endpoint that is not configured. Without one, sensitive
            // routes would answer 503 for good.
            if introspection.configured_endpoint().is_none()
                && (self.hmac_secret.is_some() || self.jwks_uri.is_some())
            {
                return Err(ConfigError::new(
                    ConfigErrorKind::Missing,
                    "introspection needs Introspection::endpoint when the keys come from a \
                     jwks_uri or an hmac_secret: no metadata is discovered to find it in",
                ));
            }
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                ConfigErrorKind::Audience,
                "at least one non-empty audience is required",
            ));
        }
        if let Some(realm) = &self.realm
            && realm.bytes().any(|b| !(0x20..0x7f).contains(&b))
        {
            return Err(ConfigError::new(
                ConfigErrorKind::Realm,
                "the realm must be printable ASCII",
            ));
        }
        let algorithms =
            crate::alg::allowlist(self.algorithms.as_deref(), self.hmac_secret.as_deref())?;
        let (min_refresh, max_refresh) = self.jwks_refresh_bounds;
        if min_refresh.is_zero()
            || min_refresh > max_refresh
            || self.fetch_timeout.is_zero()
            || self.max_token_bytes == 0
        {
            return Err(ConfigError::new(
                ConfigErrorKind::Bounds,
                "refresh bounds must satisfy 0 < min <= max, and timeouts and sizes must be non-zero",
            ));
        }
        // A zero cooldown would turn every made-up `kid` into a JWKS request.
        if self.unknown_kid_cooldown < Duration::from_secs(1) {
            return Err(ConfigError::new(
                ConfigErrorKind::Bounds,
                "the unknown-kid cooldown must be at least 1 second",
            ));
        }
        let leeway = i64::try_from(self.leeway.as_secs())
            .ok()
            .filter(|l| *l <= 3600)
            .ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::Bounds,
                    "the leeway must be at most one hour",
                )
            })?;

        let client = match self.http_client {
            Some(client) => client,
            None => default_client()?,
        };
        let source = match (self.hmac_secret, self.jwks_uri) {
            (Some(secret), _) => KeySource::Secret(secret),
            (None, Some(uri)) => KeySource::JwksUri(uri),
            (None, None) => KeySource::Discovery {
                issuer: issuer.clone(),
            },
        };
        let keys = KeySet::new(
            KeySetConfig {
                source,
                algorithms: algorithms.clone(),
                refresh_interval: self.jwks_refresh,
                min_refresh,
                max_refresh,
                unknown_kid_cooldown: self.unknown_kid_cooldown,
                max_stale: self.max_stale,
                max_body_bytes: 256 * 1024,
                fetch_timeout: self.fetch_timeout,
                url_rules,
                introspection_discovered: self
                    .introspection
                    .as_ref()
                    .is_some_and(|i| i.configured_endpoint().is_none()),
            },
            client.clone(),
        );
        // One revocation memory for the engine: a token introspection called inactive is
        // refused on every route, whichever issuer's introspector learnt it.
        let revoked = self
            .introspection
            .as_ref()
            .map(|config| Arc::new(RevocationMemory::new(config.revocation_bound())));
        let introspector = match (self.introspection, &revoked) {
            (Some(config), Some(revoked)) => {
                let endpoint = match config.configured_endpoint() {
                    Some(url) => EndpointSource::Fixed(url.to_owned()),
                    None => EndpointSource::Discovered(keys.clone()),
                };
                Some(Introspector::new(
                    config.leeway(self.leeway),
                    client,
                    endpoint,
                    Arc::clone(revoked),
                ))
            }
            _ => None,
        };
        let verified = VerifiedCache::new(
            self.verified_cache_capacity,
            self.verified_cache_max_bytes,
            self.leeway,
        );
        keys.ensure_started();
        let issuer = Issuer {
            claims: ClaimRules {
                issuer,
                audiences: self.audiences,
                leeway,
                allow_untyped: self.allow_untyped,
                accept_scp: self.accept_scp,
            },
            header: HeaderRules::new(algorithms, self.allow_untyped),
            keys,
            introspector,
        };
        Ok(Tollgate {
            inner: Arc::new(Inner {
                issuer,
                revoked,
                verified,
                limits: Limits {
                    max_token_bytes: self.max_token_bytes,
                    accept_opaque: self.accept_opaque,
                    introspect_encrypted: self.introspect_encrypted,
                },
                responder: Arc::new(Responder {
                    realm: self.realm,
                    body_hook: self.body_hook,
                }),
                sensitive_freshness: self.sensitive_freshness,
                no_introspection_warned: AtomicBool::new(false),
            }),
        })
    }
}

fn default_client() -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        // Keys and answers come from the configured host only; a redirect elsewhere is not
        // followed (docs/ARCHITECTURE.md, "Key sets").
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(http_client_error)
}

pub(super) fn http_client_error(err: reqwest::Error) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::HttpClient,
        "the default HTTP client could not be built",
    )
    .with_source(err)
}
