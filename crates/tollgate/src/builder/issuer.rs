//! One trusted issuer checked and built: its name and tenants, its URLs, audiences and narrow
//! switches, its key set and introspection client.

use std::sync::Arc;

use super::TollgateBuilder;
use crate::claims::{ClaimRules, JtiPolicy, ScopeSources, Switches};
use crate::dpop::SenderConstraint;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::introspection::{EndpointSource, Introspector, RevocationMemory};
use crate::issuer::{Issuer, IssuerName, TENANT_PLACEHOLDER, Tenants, TrustedIssuer};
use crate::jws::HeaderRules;
use crate::keys::{KeySet, KeySetConfig, KeySource, MetadataUrls};
use crate::url_rules::{UrlRole, UrlRules};

/// What every issuer's key set and claim rules share, from the engine-wide settings.
pub(super) struct Shared<'a> {
    pub(super) builder: &'a TollgateBuilder,
    pub(super) client: reqwest::Client,
    pub(super) leeway: i64,
    pub(super) revoked: Option<Arc<RevocationMemory>>,
}

pub(super) fn trust_error(message: String) -> ConfigError {
    ConfigError::new(ConfigErrorKind::Trust, message)
}

/// Checks one trusted issuer and builds it: its name, URLs, audiences, switches, key set and
/// introspection client.
pub(super) fn build_issuer(
    trusted: TrustedIssuer,
    shared: &Shared<'_>,
) -> Result<Issuer, ConfigError> {
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
        sender,
        ..
    } = trusted;
    let sender = sender_constraint(&issuer, sender, b.sender.dpop.is_some())?;
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
        sender,
    })
}

/// The issuer's sender constraint: as configured, else what the engine's DPoP settings allow.
fn sender_constraint(
    issuer: &str,
    configured: Option<SenderConstraint>,
    dpop: bool,
) -> Result<SenderConstraint, ConfigError> {
    match configured {
        None if dpop => Ok(SenderConstraint::BearerOrDpop),
        None => Ok(SenderConstraint::BearerOnly),
        Some(constraint) if constraint.allows_dpop() && !dpop => Err(ConfigError::new(
            ConfigErrorKind::Dpop,
            format!(
                "the issuer {issuer:?} accepts DPoP ({}), but the engine has no DPoP settings:                  set TollgateBuilder::dpop(Dpop::new()) and public_url(..)",
                constraint.name()
            ),
        )),
        Some(constraint) => Ok(constraint),
    }
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
