//! Introspection through the shared store: revocations learnt here are published, and with a
//! freshness budget B > 0 an active answer another instance stored less than B ago is taken
//! instead of asking the authorization server.
//!
//! A stored answer is trusted no more than a fresh one: its body is the authorization
//! server's JSON, parsed and checked by the same code at the time of use, its `fetched_at`
//! must lie within the route's budget (and not in the future), and only what agrees with
//! the verified JWT passes (the engine's `agree` runs on it as on any answer). Whoever can
//! write to the store could make a revoked token pass a sensitive route for at most B; the
//! `tollgate-redis` docs say how to keep others out.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::IntrospectionAnswer;
use super::call::unix_now;
use super::introspector::{Inner, Introspector};
use super::parse::{self, Verdict};
use crate::hash::TokenHash;
use crate::log::{debug, warn};
use crate::revoke::link::StoreLink;
use crate::store::{Fact, StoredAnswer};

/// The longest a request waits for a stored answer before it asks the authorization server.
const LOOKUP_BOUND: Duration = Duration::from_millis(50);

/// An introspector's link to the store: the store, and its issuer's namespace.
pub(crate) struct SharedLink {
    link: Arc<StoreLink>,
    issuer: usize,
}

impl Introspector {
    /// Publishes what this introspector learns through `link`, in the namespace of the
    /// issuer at `issuer`. Called once, by the builder.
    pub(crate) fn link(&self, link: Arc<StoreLink>, issuer: usize) {
        let _ = self.inner.shared.set(SharedLink { link, issuer });
    }
}

impl Inner {
    /// A revocation learnt from the authorization server, for the other instances.
    pub(super) fn publish_revoked(&self, hash: TokenHash, until: i64) {
        if let Some(shared) = self.shared.get() {
            shared.link.publish(
                shared.issuer,
                Fact::Revoked {
                    token: hash.into(),
                    until,
                },
            );
        }
    }

    /// An active answer another instance stored no longer than `max_age` ago, checked as a
    /// fresh one; `None` (ask the AS) for a budget of zero, no store, no answer, a store that
    /// does not answer within [`LOOKUP_BOUND`], or a stored answer that does not pass.
    pub(super) async fn shared_answer(
        &self,
        hash: TokenHash,
        max_age: Duration,
    ) -> Option<(Arc<IntrospectionAnswer>, Instant)> {
        let shared = self.shared.get().filter(|s| s.link.share_answers)?;
        if max_age.is_zero() {
            return None;
        }
        let link = &shared.link;
        let ns = link.namespaces.get(shared.issuer)?;
        let lookup = link.store.get_answer(ns, &hash.into());
        let stored = match tokio::time::timeout(LOOKUP_BOUND, lookup).await {
            Ok(Ok(Some(stored))) => stored,
            Ok(Ok(None)) => return None,
            Ok(Err(error)) => {
                debug!("shared store: no answer lookup ({error}); asking the AS");
                return None;
            }
            Err(_) => {
                debug!("shared store: the answer lookup took too long; asking the AS");
                return None;
            }
        };
        let now = unix_now();
        let age = now.saturating_sub(stored.fetched_at);
        let budget = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        if stored.fetched_at > now.saturating_add(leeway) {
            self.unusable_answer(link, "fetched in the future");
            return None;
        }
        if age > budget {
            return None;
        }
        match parse::parse(&stored.body, now, leeway) {
            Ok(Verdict::Active(answer)) => {
                link.counters.answers_shared.fetch_add(1, Ordering::Relaxed);
                let age = Duration::from_secs(u64::try_from(age).unwrap_or(0));
                let fetched = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                Some((answer, fetched))
            }
            // Only active answers are stored; anything else is asked about again.
            Ok(_) => None,
            Err(reason) => {
                self.unusable_answer(link, reason);
                None
            }
        }
    }

    fn unusable_answer(&self, link: &StoreLink, reason: &str) {
        link.counters.unparsable.fetch_add(1, Ordering::Relaxed);
        warn!("shared store: ignored a stored introspection answer ({reason})");
    }

    /// Stores a fresh active answer for the other instances, for at most `ttl` (the route's
    /// budget and the token's `exp`), in the background: the request does not wait.
    pub(super) fn share_answer(&self, hash: TokenHash, body: &[u8], ttl: Duration) {
        let Some(shared) = self.shared.get().filter(|s| s.link.share_answers) else {
            return;
        };
        if ttl.is_zero() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let link = Arc::clone(&shared.link);
        let issuer = shared.issuer;
        let answer = StoredAnswer {
            fetched_at: unix_now(),
            body: Bytes::copy_from_slice(body),
        };
        drop(runtime.spawn(async move {
            let Some(ns) = link.namespaces.get(issuer) else {
                return;
            };
            if let Err(error) = link.store.put_answer(ns, &hash.into(), &answer, ttl).await {
                debug!("shared store: answer not stored ({error})");
            }
        }));
    }
}
