//! The builder's settings for sender-constrained tokens (RFC 9449, RFC 8705) and protected
//! resource metadata (RFC 9728): the public URL, DPoP, the shared replay store, the
//! builder's own issuer's sender constraint, the metadata's optional members.

use std::sync::Arc;

use super::TollgateBuilder;
use crate::dpop::gate::DpopState;
use crate::dpop::replay::{LocalReplayCache, ReplayCache};
use crate::dpop::{Dpop, SenderConstraint};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::metadata::ResourceMetadata;
use crate::store::{Namespace, SharedStore};

/// What the setters below collect.
#[derive(Default)]
pub(super) struct SenderSettings {
    pub(super) public_url: Option<String>,
    pub(super) dpop: Option<Dpop>,
    /// The builder's own issuer's.
    pub(super) constraint: Option<SenderConstraint>,
    pub(super) replay_store: Option<(Arc<dyn SharedStore>, Namespace)>,
    pub(super) metadata: Option<ResourceMetadata>,
}

impl TollgateBuilder {
    /// The external URL the service's root is reached at, as clients address it, such as
    /// `https://api.example.com` (or `https://example.com/api` behind a proxy that strips
    /// `/api`). DPoP proofs' `htu` must equal it followed by the request's path (RFC 9449
    /// §4.3), and it is the `resource` of the protected resource metadata (RFC 9728 §2).
    ///
    /// Required for DPoP and for the metadata. Behind a proxy, the URL the service sees differs
    /// from the client's, and `Host` and forwarded headers are the client's to write, so they
    /// are never used for it. An absolute `http` or `https` URL with a host, without user info,
    /// query or fragment.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.sender.public_url = Some(url.into());
        self
    }

    /// Accepts DPoP-bound tokens with their proofs (RFC 9449), under these settings; see
    /// [`Dpop`]. Needs [`public_url`](Self::public_url). Each issuer then accepts either scheme
    /// unless its [`sender_constraint`](crate::TrustedIssuer::sender_constraint) says
    /// otherwise. Without it, the `DPoP` scheme is treated as no token (401), and DPoP-bound
    /// tokens are refused.
    pub fn dpop(mut self, dpop: Dpop) -> Self {
        self.sender.dpop = Some(dpop);
        self
    }

    /// The sender constraint of the builder's own [`issuer`](Self::issuer), as
    /// [`TrustedIssuer::sender_constraint`](crate::TrustedIssuer::sender_constraint) sets it
    /// for the others.
    pub fn sender_constraint(mut self, constraint: SenderConstraint) -> Self {
        self.sender.constraint = Some(constraint);
        self
    }

    /// Shares the DPoP replay cache between the instances of the API through `store`, under
    /// `namespace` (use one namespace per API: the instances that serve the same URLs). A
    /// proof accepted by one instance is then refused by every other (RFC 9449 §11.1).
    ///
    /// Each instance still checks its own bounded cache first; then the store is asked
    /// (`SharedStore::first_use`), once per accepted proof. A store that cannot answer makes
    /// the request 503 with `Retry-After`: a proof is never accepted unrecorded. Needs
    /// [`dpop`](Self::dpop). Defaults to a cache of this instance only.
    pub fn dpop_replay_store(mut self, store: Arc<dyn SharedStore>, namespace: Namespace) -> Self {
        self.sender.replay_store = Some((store, namespace));
        self
    }

    /// Describes the API in an RFC 9728 protected resource metadata document, served by
    /// [`Tollgate::resource_metadata_service`](crate::Tollgate::resource_metadata_service),
    /// and names that document in every challenge (`resource_metadata`, RFC 9728 §5.1). Needs
    /// [`public_url`](Self::public_url), the document's `resource`.
    pub fn resource_metadata(mut self, metadata: ResourceMetadata) -> Self {
        self.sender.metadata = Some(metadata);
        self
    }
}

/// The public URL, checked: absolute `http(s)` with a host, no user info, query or fragment.
pub(super) fn check_public_url(url: &str) -> Result<(), ConfigError> {
    let refuse = || {
        Err(ConfigError::new(
            ConfigErrorKind::InvalidUrl,
            "the public URL must be an absolute http or https URL with a host, without user \
             info, query or fragment",
        ))
    };
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return refuse();
    };
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none_or(str::is_empty)
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || url.contains(['?', '#'])
    {
        return refuse();
    }
    Ok(())
}

/// The engine's DPoP state, if DPoP is configured.
pub(super) fn build_dpop(settings: &SenderSettings) -> Result<Option<DpopState>, ConfigError> {
    let dpop_error = |message: &str| Err(ConfigError::new(ConfigErrorKind::Dpop, message));
    if let Some(url) = &settings.public_url {
        check_public_url(url)?;
    }
    let Some(dpop) = &settings.dpop else {
        if settings.replay_store.is_some() {
            return dpop_error("dpop_replay_store needs DPoP settings: TollgateBuilder::dpop(..)");
        }
        return Ok(None);
    };
    let Some(public_url) = &settings.public_url else {
        return dpop_error(
            "DPoP needs the public URL clients address the API at (TollgateBuilder::public_url): \
             proofs name it in htu, and the request alone cannot say it",
        );
    };
    let (rules, nonces, capacity) = dpop.build()?;
    let local = LocalReplayCache::new(capacity);
    let replay = match &settings.replay_store {
        None => ReplayCache::Local(local),
        Some((store, ns)) => ReplayCache::Shared {
            local,
            store: Arc::clone(store),
            ns: ns.clone(),
        },
    };
    Ok(Some(DpopState::new(rules, nonces, replay, public_url)))
}
