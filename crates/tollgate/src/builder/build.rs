//! [`TollgateBuilder::build`]: every check of the configuration, then the engine.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::TollgateBuilder;
use super::issuer::{Shared, build_issuer, trust_error};
use super::sender::build_dpop;
use crate::claims::{ClientIdClaim, JtiPolicy, ScopeSource, ScopeSources, Switches};
use crate::engine::{Inner, Limits, Tollgate};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::introspection::RevocationMemory;
use crate::introspection::config::DEFAULT_REVOCATION_CAPACITY;
use crate::issuer::{Issuers, TrustedIssuer};
use crate::metadata::EngineFacts;
use crate::rejection::{DpopChallenge, Responder, Schemes};
use crate::revoke::Revocations;
use crate::revoke::link::StoreLink;
use crate::rules::{Lifetimes, RuleMemory};
use crate::store::Namespace;
use crate::verified::VerifiedCache;

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
        let dpop = build_dpop(&self.sender)?;
        let authorization_servers = authorization_servers(&trusted);

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
        // Always there: the engine's API, pushed events and the shared store revoke tokens
        // whether or not an issuer introspects.
        let capacity = if capacity == 0 {
            DEFAULT_REVOCATION_CAPACITY
        } else {
            capacity
        };
        let revoked = Arc::new(RevocationMemory::new(capacity));
        let link = self.shared_store.take().map(|store| {
            let namespaces = trusted
                .iter()
                .map(|t| Namespace::new(&t.issuer, &t.audiences))
                .collect();
            Arc::new(StoreLink::new(store, namespaces, self.share_answers))
        });
        let shared = Shared {
            builder: &self,
            client,
            leeway,
            revoked: Some(Arc::clone(&revoked)),
        };
        let issuers = trusted
            .into_iter()
            .map(|t| build_issuer(t, &shared))
            .collect::<Result<Vec<_>, _>>()?;
        for issuer in &issuers {
            issuer.keys.ensure_started();
        }
        let offered = Schemes {
            bearer: issuers.iter().any(|i| i.sender.allows_bearer()),
            dpop: issuers.iter().any(|i| i.sender.allows_dpop()),
            presented_dpop: false,
        };
        let bearer_restricted = issuers.iter().any(|i| !i.sender.allows_bearer());
        let metadata = match &self.sender.metadata {
            None => None,
            Some(metadata) => {
                let Some(public_url) = self.sender.public_url.as_deref() else {
                    return Err(ConfigError::new(
                        ConfigErrorKind::Missing,
                        "resource_metadata needs the public URL, the document's resource: \
                         set public_url(..)",
                    ));
                };
                let facts = EngineFacts {
                    public_url,
                    authorization_servers,
                    dpop_algs: dpop
                        .as_ref()
                        .map(|d| d.rules.algorithms().iter().map(|a| a.name()).collect()),
                    dpop_required: issuers.iter().all(|i| !i.sender.allows_bearer()),
                };
                Some(Arc::new(metadata.publish(&facts)?))
            }
        };
        let dpop_challenge = dpop.as_ref().map(|d| DpopChallenge {
            algs: d.rules.algs_param(),
            nonces: d.nonces.clone(),
        });
        let lifetimes = Lifetimes {
            longest: self.longest_token_lifetime,
            leeway: self.leeway,
        };
        let revocations = Arc::new(Revocations::new(
            Arc::clone(&revoked),
            RuleMemory::new(self.revocation_rule_capacity),
            lifetimes,
            link.clone(),
            issuers.iter().map(|i| i.claims.issuer.clone()).collect(),
        ));
        if let Some(link) = &link {
            for (index, issuer) in issuers.iter().enumerate() {
                if let Some(introspector) = &issuer.introspector {
                    introspector.link(Arc::clone(link), index);
                }
            }
        }
        revocations.ensure_started();
        let verified =
            VerifiedCache::new(self.verified_cache_capacity, self.verified_cache_max_bytes);
        Ok(Tollgate {
            inner: Arc::new(Inner {
                issuers: Issuers::new(issuers),
                opaque_issuer,
                revoked,
                revocations,
                verified,
                limits: Limits {
                    max_token_bytes: self.max_token_bytes,
                    accept_opaque: self.accept_opaque,
                    introspect_encrypted: self.introspect_encrypted,
                },
                responder: Arc::new(Responder {
                    realm: self.realm,
                    body_hook: self.body_hook,
                    dpop: dpop_challenge,
                    resource_metadata: metadata.as_ref().map(|m| m.url.clone()),
                    offered,
                }),
                dpop,
                bearer_restricted,
                metadata,
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
        own.sender = self.sender.constraint.take();
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
            || self.sender.constraint.is_some()
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
        if self.longest_token_lifetime < Duration::from_secs(60)
            || self.revocation_rule_capacity == 0
        {
            return Err(ConfigError::new(
                ConfigErrorKind::Bounds,
                "the longest token lifetime must be at least a minute, and the revocation rule \
                 capacity at least one",
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

/// The issuers a client may get tokens from, for the metadata's `authorization_servers`: each
/// exact name, each configured tenant of a template (a template open to any tenant names no
/// issuer a client could use).
fn authorization_servers(trusted: &[TrustedIssuer]) -> Vec<String> {
    let mut names = Vec::new();
    for issuer in trusted {
        if issuer.issuer.contains(crate::issuer::TENANT_PLACEHOLDER) {
            for tenant in &issuer.tenants {
                names.push(
                    issuer
                        .issuer
                        .replace(crate::issuer::TENANT_PLACEHOLDER, tenant),
                );
            }
        } else {
            names.push(issuer.issuer.clone());
        }
    }
    names
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
