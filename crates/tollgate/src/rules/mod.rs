//! Revocation rules beyond one token: every token with a `jti`, and every token of a subject,
//! a client or a session issued before a time T, refused on every route without asking the
//! authorization server.
//!
//! "The user changed their password at T" becomes one rule, `sub = alice, issued before T`,
//! and every older token of Alice is refused, routine routes included, while the tokens she
//! gets after T keep working (RFC 8417 §5.4: a revocation that arrives late must not log out
//! the fresh session). Rules come from the engine's revocation API, from pushed Security Event
//! Tokens ([`crate::events`]) and from the other instances through a shared store
//! ([`RevocationRule`] is the store's form, applied and produced here unchanged).
//!
//! - **Per issuer, by target.** A rule names the issuer whose tokens it covers, exactly as
//!   their `iss` spells it, and one claim value: `jti`, `sub`, `client_id` or `sid`. A token
//!   is covered when any of its four values has a live rule of its issuer that covers its
//!   `iat`.
//! - **Issued before T, strictly.** `issued_before: Some(T)` covers tokens with `iat < T`: a
//!   token issued in the second of T itself is not covered (`iat` has whole seconds, and the
//!   token right after the event is the one that must keep working). `None` covers every
//!   token that matches, whenever issued: the form of a `jti` rule, and of a purged account.
//! - **A token without `iat` is covered by every matching rule**, with or without T: "issued
//!   before T" cannot be shown false for it. RFC 9068 §2.2 requires `iat`; tokens without it
//!   only pass with relaxed claim rules, and then a matching rule refuses them.
//! - **Rules expire by themselves**, at their `until`: T (or the time the rule was made) plus
//!   the longest token lifetime accepted, plus the leeway ([`Lifetimes`]). After it, no token
//!   the rule covers can still be valid, *provided tokens live no longer than that*: the
//!   engine must refuse a token whose `exp - iat` exceeds [`Lifetimes::longest`], or a rule
//!   would expire under it.
//! - **One entry per target.** Rules for the same target merge: the later T, the later
//!   `until`, kept apart for "every token" and "before T". Merging never covers less than the
//!   rules it merges.
//! - **Bounded** (default [`DEFAULT_CAPACITY`] targets). At the bound, expired rules are
//!   swept first; if every rule is live, the *new* rule is refused with
//!   [`RuleErrorKind::Full`], logged at WARN once per episode and counted. A live rule is
//!   never dropped: a refused rule is the caller's to retry (a pushed SET is answered 503, so
//!   its transmitter delivers it again) and stays recorded in the shared store.
//!
//! # The hit path: an epoch, and a stamp in each verified-token cache entry
//!
//! A repeated token is answered from the verified-token cache in about a microsecond; looking
//! up four claim values would hash each of them on every request. Instead, every change that
//! can cover more tokens (a rule added or widened) bumps an atomic `epoch`, and each cache
//! entry embeds a [`RuleStamp`]: the epoch at which that token was last found uncovered.
//! [`RuleMemory::check`] compares the two, so while no rule changes a hit costs two atomic
//! loads and no hashing. When the epoch moved, the token is looked up once and the stamp
//! updated. Removing expired rules only uncovers tokens, so sweeps leave the epoch alone and
//! the stamps valid.
//!
//! Readers never lock: the rules are an immutable snapshot behind an `ArcSwap`, and writers
//! (rare: a rule added, a sweep) build the next snapshot and swap it in, serialised by a
//! mutex readers never take.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::{RevocationRule, RuleTarget};

mod memory;

pub(crate) use memory::RuleMemory;

/// The default bound on rules held (one per issuer and target): about 1.5 MiB with 36-byte
/// identifiers (UUIDs), twice that for the moment a writer copies an issuer's rules. With
/// 24-hour rules (the default [`Lifetimes`]), it holds a sustained rate of one new rule every
/// 8.6 seconds.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

/// The longest issuer a rule may name, in bytes (the shared store's wire format allows the
/// same).
pub(crate) const MAX_ISSUER_BYTES: usize = 2048;

/// The longest target value a rule may name, in bytes (as the wire format).
pub(crate) const MAX_TARGET_BYTES: usize = 1024;

/// What the rules know of a token: its issuer and the four claims a rule may name, and `iat`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenIds<'a> {
    /// `iss`, exactly as the token spells it.
    pub(crate) issuer: &'a str,
    /// `jti` (RFC 7519 §4.1.7).
    pub(crate) jti: Option<&'a str>,
    /// `sub` (RFC 7519 §4.1.2).
    pub(crate) subject: Option<&'a str>,
    /// `client_id` (RFC 9068 §2.2), or the claim the issuer's profile reads it from.
    pub(crate) client_id: Option<&'a str>,
    /// `sid` (OpenID Connect Front-Channel Logout §3).
    pub(crate) session: Option<&'a str>,
    /// `iat`, Unix seconds.
    pub(crate) issued_at: Option<i64>,
}

/// The epoch at which one verified token was last found uncovered by every rule.
///
/// Embedded in a verified-token cache entry (behind its `Arc`: the stamp is updated through a
/// shared reference). A new stamp has never been checked. See [`RuleMemory::check`].
#[derive(Debug, Default)]
pub(crate) struct RuleStamp(AtomicU64);

impl RuleStamp {
    /// A stamp that has never been checked: the first [`RuleMemory::check`] looks the token up.
    pub(crate) const fn new() -> Self {
        // Epochs start at 1, so 0 never matches.
        Self(AtomicU64::new(0))
    }

    /// Whether the token was found uncovered at `epoch`.
    fn is(&self, epoch: u64) -> bool {
        self.0.load(Ordering::Relaxed) == epoch
    }

    /// Records that the token was uncovered at `epoch`. Epochs only grow: a slower reader
    /// that checked at an older epoch never moves the stamp back.
    fn mark(&self, epoch: u64) {
        self.0.fetch_max(epoch, Ordering::Relaxed);
    }
}

/// How long rules must live: the longest token lifetime accepted and the clock leeway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetimes {
    /// The longest lifetime (`exp - iat`) of a token the engine accepts.
    pub(crate) longest: Duration,
    /// The leeway of the engine's time checks.
    pub(crate) leeway: Duration,
}

impl Default for Lifetimes {
    /// 24 hours (Auth0's default access-token lifetime, the longest default among the servers
    /// tollgate knows) and 60 seconds (the engine's default leeway).
    fn default() -> Self {
        Self {
            longest: Duration::from_secs(24 * 60 * 60),
            leeway: Duration::from_secs(60),
        }
    }
}

impl Lifetimes {
    /// Until when a rule made at `now` must live: after `issued_before` (or `now` for a rule
    /// without one) plus the longest lifetime and the leeway, no token it covers can still be
    /// valid. A rule whose T lies in the past may come out already expired: it covers nothing
    /// that is still valid.
    pub(crate) fn until(&self, issued_before: Option<i64>, now: i64) -> i64 {
        let extra = secs(self.longest).saturating_add(secs(self.leeway));
        issued_before.unwrap_or(now).saturating_add(extra)
    }

    /// [`longest`](Self::longest) in whole seconds.
    pub(crate) fn longest_secs(&self) -> i64 {
        secs(self.longest)
    }

    /// A rule for `target` of `issuer`, with its `until` from [`until`](Self::until).
    pub(crate) fn rule(
        &self,
        issuer: &str,
        target: RuleTarget,
        issued_before: Option<i64>,
        now: i64,
    ) -> RevocationRule {
        RevocationRule {
            issuer: issuer.to_owned(),
            target,
            issued_before,
            until: self.until(issued_before, now),
        }
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// What happened to a rule given to [`RuleMemory::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// A new target: the rule is held.
    Added,
    /// The target had a rule; this one covers more (a later T or `until`), and the two merged.
    Widened,
    /// The target's rule already covers everything this one does.
    Unchanged,
    /// The rule's `until` has passed: it covers no token that is still valid.
    Expired,
}

/// Why [`RuleMemory::add`] refused a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleErrorKind {
    /// Every held rule is live and the memory is at its bound: the new target is refused.
    Full,
    /// An empty or too long issuer or target value, or a negative time.
    Invalid,
}

/// A rule the memory did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleError {
    kind: RuleErrorKind,
    message: String,
}

impl RuleError {
    fn full(capacity: usize) -> Self {
        Self {
            kind: RuleErrorKind::Full,
            message: format!(
                "revocation rules: the memory holds {capacity} live rules, its bound; the new \
                 rule is refused"
            ),
        }
    }

    fn invalid(why: &str) -> Self {
        Self {
            kind: RuleErrorKind::Invalid,
            message: format!("revocation rule: {why}"),
        }
    }

    /// What kind of refusal this is.
    pub(crate) fn kind(&self) -> RuleErrorKind {
        self.kind
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleError {}

/// The checks every rule passes before it is held (the wire format's, for rules made here).
fn validate(rule: &RevocationRule) -> Result<(), RuleError> {
    if rule.issuer.is_empty() || rule.issuer.len() > MAX_ISSUER_BYTES {
        return Err(RuleError::invalid(&format!(
            "the issuer is empty or longer than {MAX_ISSUER_BYTES} bytes"
        )));
    }
    let (_, value) = rule.target.parts();
    if value.is_empty() || value.len() > MAX_TARGET_BYTES {
        return Err(RuleError::invalid(&format!(
            "the target is empty or longer than {MAX_TARGET_BYTES} bytes"
        )));
    }
    if rule.issued_before.is_some_and(|before| before < 0) || rule.until <= 0 {
        return Err(RuleError::invalid("a time is negative"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
