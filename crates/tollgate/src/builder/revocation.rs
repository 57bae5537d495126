//! The builder's revocation settings: the shared store, the longest token lifetime, the
//! bound on revocation rules.

use std::sync::Arc;
use std::time::Duration;

use super::TollgateBuilder;
use crate::store::SharedStore;

impl TollgateBuilder {
    /// Shares revocations (and, unless [`share_introspection_answers`] turns it off,
    /// introspection answers) with the other instances of this API through `store`: Redis
    /// with `tollgate-redis`, or [`store::Memory`](crate::store::Memory) for engines in one
    /// process.
    ///
    /// Each trusted issuer has its own [`Namespace`](crate::store::Namespace) (its name and
    /// audiences, as configured), so instances that trust the same issuer for the same API
    /// share, and nothing else. Background tasks (started at `build` inside a tokio runtime,
    /// else on the first request) subscribe to each namespace, then load it, and apply what
    /// they receive to local memory; requests read only local memory. What this instance
    /// learns is queued (at most 10 000, the oldest dropped first) and published; a store that
    /// is down is logged once per outage and counted in
    /// [`Diagnostics::shared_store`](crate::Diagnostics::shared_store).
    ///
    /// DPoP proofs are not shared by this setting: a store outage must never refuse requests
    /// here, while a shared replay cache has to refuse a proof it cannot record. To share them
    /// as well, pass the same store to [`dpop_replay_store`](Self::dpop_replay_store), and
    /// accept that DPoP requests are answered 503 while the store is down.
    ///
    /// Defaults to none: each instance keeps its own memory.
    ///
    /// [`share_introspection_answers`]: Self::share_introspection_answers
    pub fn shared_store(mut self, store: Arc<dyn SharedStore>) -> Self {
        self.shared_store = Some(store);
        self
    }

    /// With a [`shared_store`](Self::shared_store): whether sensitive routes with a freshness
    /// budget B > 0 take an introspection answer another instance stored less than B ago,
    /// instead of asking the authorization server (RFC 7662 §4 lets a resource server cache
    /// answers; the stored body is validated again exactly like a fresh one). N instances
    /// then make about one call per token per B, not N. A lookup waits at most the store's
    /// own bound (50 ms for `tollgate-redis`), then asks the authorization server. Budget zero
    /// always asks it.
    ///
    /// Defaults to on (when a store is configured).
    pub fn share_introspection_answers(mut self, share: bool) -> Self {
        self.share_answers = share;
        self
    }

    /// The longest lifetime (`exp - iat`) of an access token this engine accepts: a token
    /// that lives longer is refused (401, `invalid_token`). Revocation rules ("every token of
    /// alice issued before T") live until T plus this lifetime plus the leeway and are then
    /// forgotten, which is safe only because no token covered by them can still be valid.
    /// Tokens without `iat` are not checked (and every matching rule covers them).
    ///
    /// Defaults to 24 hours (Auth0's default access-token lifetime, the longest default of
    /// the servers tollgate has profiles for). At least one minute.
    pub fn longest_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.longest_token_lifetime = lifetime;
        self
    }

    /// How many revocation rules (one per issuer and target) the engine holds. At the bound,
    /// expired rules are swept first, then a new rule is refused (logged once, counted in
    /// [`Diagnostics::revocation_rules_refused`](crate::Diagnostics::revocation_rules_refused));
    /// a live rule is never dropped.
    ///
    /// Defaults to 10 000.
    pub fn revocation_rule_capacity(mut self, rules: usize) -> Self {
        self.revocation_rule_capacity = rules;
        self
    }
}
