//! The engine's DPoP state: the proof rules, the nonces, the replay cache and the external URL
//! that `htu` is compared with.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use super::nonce::Nonces;
use super::replay::ReplayCache;
use super::rules::ProofRules;
use super::uri::TargetUri;

/// What the engine checks proofs with, built once from [`Dpop`](super::Dpop) and the public URL.
#[derive(Debug)]
pub(crate) struct DpopState {
    pub(crate) rules: ProofRules,
    pub(crate) nonces: Option<Arc<Nonces>>,
    pub(crate) replay: ReplayCache,
    /// The external URL the service's root is reached at, without a trailing `/`: the request
    /// path is appended to it to make the URI a proof's `htu` must name (RFC 9449 §4.3 step 9).
    base: String,
    /// The replay cache was found full: warned once per episode.
    pub(crate) full_warned: AtomicBool,
    /// Proofs refused (503) because the replay cache could not record them.
    pub(crate) unrecorded: AtomicU64,
}

impl DpopState {
    pub(crate) fn new(
        rules: ProofRules,
        nonces: Option<Nonces>,
        replay: ReplayCache,
        public_url: &str,
    ) -> Self {
        Self {
            rules,
            nonces: nonces.map(Arc::new),
            replay,
            base: public_url.trim_end_matches('/').to_owned(),
            full_warned: AtomicBool::new(false),
            unrecorded: AtomicU64::new(0),
        }
    }

    /// The external URI of a request for `path` (the request target's path; its query, if the
    /// caller leaves it in, is dropped by the comparison). Never built from the request's
    /// `Host` or forwarded headers, which the client writes. `None` when the result is not a
    /// URI (a path with bytes no URI holds).
    pub(crate) fn target(&self, path: &str) -> Option<TargetUri> {
        let mut uri = String::with_capacity(self.base.len() + path.len() + 1);
        uri.push_str(&self.base);
        if !path.starts_with('/') {
            uri.push('/');
        }
        uri.push_str(path);
        TargetUri::parse(&uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::replay::LocalReplayCache;

    fn state(base: &str) -> DpopState {
        DpopState::new(
            ProofRules::default(),
            None,
            ReplayCache::Local(LocalReplayCache::new(1)),
            base,
        )
    }

    #[test]
    fn the_target_is_the_public_url_and_the_path() {
        let s = state("https://API.example/");
        assert_eq!(
            s.target("/users/7").unwrap(),
            TargetUri::parse("https://api.example/users/7").unwrap()
        );
        let prefixed = state("https://example.com:443/api");
        assert_eq!(
            prefixed.target("/users").unwrap(),
            TargetUri::parse("https://example.com/api/users").unwrap()
        );
        assert_eq!(
            prefixed.target("*").unwrap(),
            TargetUri::parse("https://example.com/api/*").unwrap()
        );
        assert!(s.target("/a b").is_none());
    }
}
