//! [`TollgateBuilder::build`]: every check of the configuration, then the engine.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::TollgateBuilder;
use crate::claims::{ClaimRules, ClientIdClaim, JtiPolicy, ScopeSource, ScopeSources, Switches};
use crate::engine::{Inner, Limits, Tollgate};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::introspection::{EndpointSource, Introspector, RevocationMemory};
use crate::issuer::{Issuer, IssuerName, Issuers, TENANT_PLACEHOLDER, Tenants, TrustedIssuer};
use crate::jws::HeaderRules;
use crate::keys::{KeySet, KeySetConfig, KeySource, MetadataUrls};
use crate::rejection::Responder;
use crate::url_rules::{UrlRole, UrlRules};
use crate::verified::VerifiedCache;

/// What every issuer's key set and claim rules share, from the engine-wide settings.
struct Shared<'a> {
    builder: &'a TollgateBuilder,
    client: reqwest::Client,
    leeway: i64,
    revoked: Option<Arc<RevocationMemory>>,
}

impl TollgateBuilder {
    /// Checks the configuration and builds the engine. Key loading starts in the background
    /// at once when called inside a tokio runtime, otherwise on first use.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first problem found.
    pub fn build(mut self) -> Result<Tollgate, ConfigError> {
        let mut trusted = Vec::with_capacity(self.trusted.len() + 1);
        match self.own_issuer() {
            Some(own) => trusted.push(own),
            None if self.uses_own_issuer_settings() => {
                return Err(ConfigError::new(
                    ConfigErrorKind::Missing,
                    "an issuer is required: audience, jwks_uri, hmac_secret, algorithms, \
                     introspection, allow_untyped_tokens and accept_scp_claim describe the \
                     builder's own issuer, set with issuer(..); give them to a TrustedIssuer \
                     otherwise",
                ));
            }
            None => {}
        }
        trusted.append(&mut self.trusted);
        if trusted.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "an issuer is required: set issuer(..) or trust(TrustedIssuer::new(..))",
            ));
        }
        self.check_engine_settings()?;
        let leeway = i64::try_from(self.leeway.as_secs())
            .ok()
            .filter(|l| *l <= 3600)
            .ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::Bounds,
                    "the leeway must be at most one hour",
                )
            })?;
        check_trust(&trusted)?;
        let opaque_issuer = opaque_issuer(&trusted)?;

        let client = match self.http_client.take() {
            Some(client) => client,
            None => default_client()?,
        };
        // One revocation memory for the engine: a token introspection called inactive is
        // refused on every route, whichever issuer's introspector learnt it. Its bound is the
        // sum of what the issuers ask for.
        let capacity: usize = trusted
            .iter()
            .filter_map(|t| t.introspection.as_ref())
            .map(crate::Introspection::revocation_bound)
            .fold(0, usize::saturating_add);
        let revoked = (capacity > 0).then(|| Arc::new(RevocationMemory::new(capacity)));
        let shared = Shared {
            builder: &self,
            client,
            leeway,
            revoked,
        };
        let issuers = trusted
            .into_iter()
            .map(|t| build_issuer(t, &shared))
            .collect::<Result<Vec<_>, _>>()?;
        let revoked = shared.revoked;
        for issuer in &issuers {
            issuer.keys.ensure_started();
        }
        let verified = VerifiedCache::new(
            self.verified_cache_capacity,
            self.verified_cache_max_bytes,
            self.leeway,
        );
        Ok(Tollgate {
            inner: Arc::new(Inner {
                issuers: Issuers::new(issuers),
                opaque_issuer,
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

    /// The builder's own issuer, from the single-issuer setters: the first one trusted.
    fn own_issuer(&mut self) -> Option<TrustedIssuer> {
        let issuer = self.issuer.take()?;
        let mut own = TrustedIssuer::new(issuer);
        own.jwks_uri = self.jwks_uri.take();
        own.hmac_secret = self.hmac_secret.take();
        own.audiences = std::mem::take(&mut self.audiences);
        own.algorithms = self.algorithms.take();
        own.introspection = self.introspection.take();
        own.switches = compatibility(self.allow_untyped, self.accept_scp);
        Some(own)
    }

    /// Whether a setter that describes the builder's own issuer was used without `issuer`.
    fn uses_own_issuer_settings(&self) -> bool {
        self.jwks_uri.is_some()
            || self.hmac_secret.is_some()
            || !self.audiences.is_empty()
            || self.algorithms.is_some()
            || self.introspection.is_some()
            || self.allow_untyped
            || self.accept_scp
    }

    /// The settings every issuer shares: the realm, the refresh bounds, the sizes, timeouts.
    fn check_engine_settings(&self) -> Result<(), ConfigError> {
        if let Some(realm) = &self.realm
            && realm.bytes().any(|b| !(0x20..0x7f).contains(&b))
        {
            return Err(ConfigError::new(
                ConfigErrorKind::Realm,
                "the realm must be printable ASCII",
            ));
        }
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
        Ok(())
    }
}

/// The narrow switches `allow_untyped_tokens` and `accept_scp_claim` stand for.
pub(super) fn compatibility(allow_untyped: bool, accept_scp: bool) -> Switches {
    let mut switches = Switches::default();
    if allow_untyped {
        switches.accept_typ_jwt = true;
        switches.accept_missing_typ = true;
        switches.client_id = vec![
            ClientIdClaim::ClientId,
            ClientIdClaim::Azp,
            ClientIdClaim::None,
        ];
        switches.jti = JtiPolicy::Optional;
        switches.require_subject = false;
        switches.require_issued_at = false;
    }
    if accept_scp {
        switches.scopes = ScopeSources::of([
            ScopeSource::ScopeString,
            ScopeSource::ScopeArray,
            ScopeSource::ScpString,
            ScopeSource::ScpArray,
        ]);
    }
    switches
}

fn trust_error(message: String) -> ConfigError {
    ConfigError::new(ConfigErrorKind::Trust, message)
}

/// What the issuers must agree on: distinct names.
fn check_trust(trusted: &[TrustedIssuer]) -> Result<(), ConfigError> {
    for (i, issuer) in trusted.iter().enumerate() {
        if trusted[..i]
            .iter()
            .any(|other| other.issuer == issuer.issuer)
        {
            return Err(trust_error(format!(
                "the issuer {:?} is trusted twice",
                issuer.issuer
            )));
        }
    }
    Ok(())
}

/// Where opaque tokens go: the issuer marked with `opaque_tokens()`, else the only one with
/// introspection.
fn opaque_issuer(trusted: &[TrustedIssuer]) -> Result<Option<usize>, ConfigError> {
    let mut marked = trusted
        .iter()
        .enumerate()
        .filter(|(_, t)| t.opaque_tokens)
        .map(|(i, _)| i);
    match (marked.next(), marked.next()) {
        (Some(_), Some(_)) => Err(trust_error(
            "opaque_tokens() marks more than one issuer: opaque tokens carry no iss, so one \
             issuer alone can be asked about them"
                .to_owned(),
        )),
        (Some(index), None) => {
            if trusted[index].introspection.is_none() {
                return Err(trust_error(format!(
                    "the issuer {:?} takes opaque tokens but has no introspection to check them",
                    trusted[index].issuer
                )));
            }
            Ok(Some(index))
        }
        (None, _) => {
            let mut with_introspection = trusted
                .iter()
                .enumerate()
                .filter(|(_, t)| t.introspection.is_some())
                .map(|(i, _)| i);
            Ok(
                match (with_introspection.next(), with_introspection.next()) {
                    (Some(index), None) => Some(index),
                    _ => None,
                },
            )
        }
    }
}

/// Checks one trusted issuer and builds it: its name, URLs, audiences, switches, key set and
/// introspection client.
fn build_issuer(trusted: TrustedIssuer, shared: &Shared<'_>) -> Result<Issuer, ConfigError> {
    let b = shared.builder;
    let TrustedIssuer {
        issuer,
        discovery_url,
        jwks_uri,
        hmac_secret,
        audiences,
        algorithms,
        introspection,
        tenants,
        any_tenant,
        switches,
        quirks,
        ..
    } = trusted;
    let name = issuer_name(&issuer, tenants, any_tenant)?;
    // A template is checked as the URL of one of its tenants.
    let concrete = issuer.replace(TENANT_PLACEHOLDER, "tenant");
    let url_rules = UrlRules::new(&concrete, b.allow_insecure_endpoints);
    // With a secret the issuer is only compared with `iss`: nothing is fetched from it.
    if hmac_secret.is_none() {
        url_rules
            .check(&concrete, UrlRole::Issuer)
            .map_err(|e| e.config_error())?;
    }
    for (uri, role) in [
        (&jwks_uri, UrlRole::JwksUri),
        (&discovery_url, UrlRole::DiscoveryUrl),
    ] {
        if let Some(uri) = uri {
            url_rules.check(uri, role).map_err(|e| e.config_error())?;
        }
    }
    let sources = usize::from(hmac_secret.is_some())
        + usize::from(jwks_uri.is_some())
        + usize::from(discovery_url.is_some());
    if sources > 1 {
        return Err(trust_error(format!(
            "the issuer {issuer:?} has more than one of hmac_secret, jwks_uri and discovery_url: \
             its keys come from one place"
        )));
    }
    if name.is_template() && sources == 0 {
        return Err(trust_error(format!(
            "the template issuer {issuer:?} needs a discovery_url or a jwks_uri: no metadata \
             URL can be derived from a template"
        )));
    }
    if let Some(introspection) = &introspection {
        introspection.validate(&url_rules)?;
        // Only discovery finds an endpoint that is not configured. Without one, sensitive
        // routes would answer 503 for good.
        if introspection.configured_endpoint().is_none()
            && (hmac_secret.is_some() || jwks_uri.is_some())
        {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "introspection needs Introspection::endpoint when the keys come from a \
                 jwks_uri or an hmac_secret: no metadata is discovered to find it in",
            ));
        }
    }
    check_audiences(&issuer, &audiences, &switches)?;
    check_switches(&issuer, &switches)?;
    let algorithms = crate::alg::allowlist(algorithms.as_deref(), hmac_secret.as_deref())?;

    let (min_refresh, max_refresh) = b.jwks_refresh_bounds;
    let metadata = match (&discovery_url, quirks.openid_first) {
        (Some(url), _) => MetadataUrls::Only(url.clone()),
        (None, true) => MetadataUrls::OpenIdFirst,
        (None, false) => MetadataUrls::Rfc8414First,
    };
    let source = match (hmac_secret, jwks_uri) {
        (Some(secret), _) => KeySource::Secret(secret),
        (None, Some(uri)) => KeySource::JwksUri(uri),
        (None, None) => KeySource::Discovery {
            issuer: issuer.clone(),
        },
    };
    let keys = KeySet::new(
        KeySetConfig {
            source,
            metadata,
            honor_cache_control: !quirks.ignore_jwks_cache_control,
            algorithms: algorithms.clone(),
            refresh_interval: b.jwks_refresh,
            min_refresh,
            max_refresh,
            unknown_kid_cooldown: b.unknown_kid_cooldown,
            max_stale: b.max_stale,
            max_body_bytes: 256 * 1024,
            fetch_timeout: b.fetch_timeout,
            url_rules,
            introspection_discovered: introspection
                .as_ref()
                .is_some_and(|i| i.configured_endpoint().is_none()),
        },
        shared.client.clone(),
    );
    let introspector = match (introspection, &shared.revoked) {
        (Some(config), Some(revoked)) => {
            let endpoint = match config.configured_endpoint() {
                Some(url) => EndpointSource::Fixed(url.to_owned()),
                None => EndpointSource::Discovered(keys.clone()),
            };
            Some(Introspector::new(
                config.leeway(b.leeway),
                shared.client.clone(),
                endpoint,
                Arc::clone(revoked),
            ))
        }
        _ => None,
    };
    Ok(Issuer {
        header: HeaderRules::new(
            algorithms,
            switches.accept_typ_jwt,
            switches.accept_missing_typ,
        ),
        claims: ClaimRules {
            issuer: name,
            audiences,
            leeway: shared.leeway,
            switches,
        },
        keys,
        introspector,
        hints: Default::default(),
    })
}

/// The issuer's name; a template needs its tenants (or `any_tenant`), an exact name neither.
fn issuer_name(
    issuer: &str,
    tenants: Vec<String>,
    any_tenant: bool,
) -> Result<IssuerName, ConfigError> {
    let is_template = IssuerName::new(issuer, Tenants::Any).is_template();
    if issuer.is_empty() {
        return Err(ConfigError::new(
            ConfigErrorKind::Missing,
            "an issuer must not be empty",
        ));
    }
    if !is_template {
        if issuer.contains(TENANT_PLACEHOLDER) {
            return Err(trust_error(format!(
                "the issuer {issuer:?} holds {TENANT_PLACEHOLDER} more than once"
            )));
        }
        if any_tenant || !tenants.is_empty() {
            return Err(trust_error(format!(
                "the issuer {issuer:?} has tenants but is no template (it holds no \
                 {TENANT_PLACEHOLDER})"
            )));
        }
        return Ok(IssuerName::new(issuer, Tenants::Any));
    }
    let tenants = match (any_tenant, tenants.is_empty()) {
        (true, true) => Tenants::Any,
        (false, false) => {
            if let Some(bad) = tenants.iter().find(|t| {
                t.is_empty()
                    || !t
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            }) {
                return Err(trust_error(format!(
                    "the tenant {bad:?} of {issuer:?} is not one path segment of letters, \
                     digits, '-', '_' and '.'"
                )));
            }
            Tenants::Only(tenants)
        }
        (true, false) => {
            return Err(trust_error(format!(
                "the template issuer {issuer:?} has both tenants and any_tenant"
            )));
        }
        (false, true) => {
            return Err(trust_error(format!(
                "the template issuer {issuer:?} needs tenants([..]), or any_tenant() to accept \
                 every tenant"
            )));
        }
    };
    Ok(IssuerName::new(issuer, tenants))
}

/// At least one non-empty audience, unless an allowed client may stand in for it; the relaxed
/// audience policies need the allowlist.
fn check_audiences(
    issuer: &str,
    audiences: &[String],
    switches: &Switches,
) -> Result<(), ConfigError> {
    use crate::claims::AudiencePolicy;
    let relaxed = switches.audience_policy != AudiencePolicy::Contains;
    if relaxed && switches.allowed_clients.is_empty() {
        return Err(ConfigError::new(
            ConfigErrorKind::Audience,
            format!(
                "the audience policy of {issuer:?} lets a client stand in for the audience: it \
                 needs allowed_clients([..])"
            ),
        ));
    }
    if audiences.iter().any(String::is_empty)
        || switches.allowed_clients.iter().any(String::is_empty)
        || (audiences.is_empty() && !relaxed)
    {
        return Err(ConfigError::new(
            ConfigErrorKind::Audience,
            "at least one non-empty audience is required",
        ));
    }
    Ok(())
}

/// Switches that cannot mean what they say.
fn check_switches(issuer: &str, switches: &Switches) -> Result<(), ConfigError> {
    let refuse = |what: &str| Err(trust_error(format!("the issuer {issuer:?}: {what}")));
    if switches.client_id.is_empty() {
        return refuse("client_id_claims is empty (use [ClientIdClaim::None] to require none)");
    }
    if switches.scopes == ScopeSources::of([]) {
        return refuse("scope_sources is empty");
    }
    if switches
        .roles
        .iter()
        .chain(&switches.permissions)
        .any(|p| p.as_str().is_empty())
    {
        return refuse("a roles or permissions claim has an empty name");
    }
    if let JtiPolicy::Alias(alias) = &switches.jti
        && (alias.is_empty() || alias == "jti")
    {
        return refuse("the jti alias must name another claim");
    }
    let names = switches
        .required_values
        .iter()
        .map(|(name, _)| name)
        .chain(&switches.required_present)
        .chain(&switches.forbidden);
    if names.clone().any(String::is_empty) {
        return refuse("a required or forbidden claim has an empty name");
    }
    if let Some(both) = switches.forbidden.iter().find(|f| {
        switches.required_present.contains(f)
            || switches.required_values.iter().any(|(name, _)| name == *f)
    }) {
        return refuse(&format!(
            "the claim {both:?} is both required and forbidden"
        ));
    }
    Ok(())
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
