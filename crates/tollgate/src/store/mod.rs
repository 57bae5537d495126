//! A store shared by several instances of one API: revocations that reach every instance, and
//! optionally introspection answers that the instances share.
//!
//! An API that runs as N instances behind a load balancer has N revocation memories. When one
//! instance learns that a verified token is inactive, the others would each have to learn it
//! again from the authorization server, and routine routes, which never ask it, would go on
//! accepting the token there. A [`SharedStore`] closes that gap: what one instance learns is
//! recorded and published, and every instance applies it to its own memory.
//!
//! Caveats, in plain words:
//!
//! - The store is optional. Without one, each instance keeps its own memory, as before.
//! - The request path never waits for the store for a routine decision: facts from the store
//!   are applied to local memory by a background task. Only a shared-answer lookup
//!   ([`SharedStore::get_answer`]) may be awaited on a request, and its implementations bound
//!   it by a short timeout.
//! - Only digests of tokens ([`Digest`]) are stored, never tokens. Revocation rules store the
//!   identifiers the issuer wrote (`sub`, `client_id`, `sid`, `jti`), under the issuer's
//!   [`Namespace`].
//! - A store that is down or slow loses nothing the instances hold in memory, and blocks no
//!   request: every call returns a [`StoreError`] instead of hanging.
//! - A fact that does not parse ([`wire`]) is never applied, not even in part.
//!
//! Two implementations exist: [`Memory`] (in this crate: several engines in one process, and
//! tests) and `tollgate-redis` (Redis or Redis Cluster, for instances on several machines).
//!
//! # Example
//!
//! ```
//! use futures_util::StreamExt;
//! use tollgate::store::{Digest, Fact, Memory, Namespace, Notice, SharedStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = Memory::new();
//! let ns = Namespace::new("https://issuer.example", ["https://api.example"]);
//!
//! // Another instance subscribes first, then loads: nothing published in between is lost.
//! let mut notices = store.subscribe(&ns);
//! assert!(store.load(&ns).await.unwrap().is_empty());
//!
//! let revoked = Fact::Revoked { token: Digest::of(b"header.payload."), until: i64::MAX / 2 };
//! store.publish(&ns, &revoked).await.unwrap();
//!
//! assert_eq!(notices.next().await, Some(Notice::Fact(revoked.clone())));
//! assert_eq!(store.load(&ns).await.unwrap(), vec![revoked]);
//! # }
//! ```

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;

mod error;
mod fact;
mod memory;
mod namespace;
pub mod wire;

pub use error::{StoreError, StoreErrorKind};
pub use fact::{Fact, Notice, RevocationRule, RuleTarget, StoredAnswer};
pub use memory::{Memory, MemoryBuilder};
pub use namespace::{Digest, Namespace};

/// A store shared by the instances of one API: where revocations are recorded and published,
/// and introspection answers are optionally shared.
///
/// Every method returns without waiting for the network beyond the implementation's timeouts;
/// a store that cannot answer in time returns a [`StoreError`] of kind
/// [`Timeout`](StoreErrorKind::Timeout) or [`Unavailable`](StoreErrorKind::Unavailable).
/// The futures borrow only the store: `ns`, `fact` and `key` may be dropped as soon as the
/// method returns.
pub trait SharedStore: Send + Sync + 'static {
    /// Records `fact` in `ns` until [`Fact::until`] and publishes it to every subscriber of
    /// `ns`, this instance's included.
    ///
    /// A fact whose `until` has passed is neither recorded nor published (`Ok`): nobody needs
    /// it. Publishing a fact that is already recorded keeps the later of the two `until`s, and
    /// publishes it again. `until` is the fact's whole life: the store adds no leeway (the
    /// engine puts the token's `exp` plus its leeway there).
    fn publish(&self, ns: &Namespace, fact: &Fact) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Every fact recorded in `ns` whose `until` has not passed.
    ///
    /// Call it after [`subscribe`](Self::subscribe), and again after each
    /// [`Notice::Reconnected`]: a fact published between the two then arrives on the stream,
    /// in the load, or in both (applying a fact twice is harmless), and never in neither.
    /// A recorded value that does not parse is left out (and logged by the implementation).
    fn load(&self, ns: &Namespace) -> BoxFuture<'_, Result<Vec<Fact>, StoreError>>;

    /// The facts published in `ns` by any instance, and notices about the connection.
    ///
    /// The subscription is in place when this method returns (or, for a store that connects
    /// in the background, it is followed by [`Notice::Reconnected`] once it is), so a `load`
    /// that follows misses nothing. The stream lives as long as the store; it yields
    /// [`Notice::Lost`] when the connection drops and [`Notice::Reconnected`] once it is
    /// subscribed again, after which the caller loads again.
    fn subscribe(&self, ns: &Namespace) -> BoxStream<'static, Notice>;

    /// The introspection answer another instance stored under `key`, if it is still there.
    ///
    /// The one call that a request may wait for; implementations bound it by a short timeout
    /// (50 ms for `tollgate-redis`), and the caller asks the authorization server instead
    /// when it fails.
    fn get_answer(
        &self,
        ns: &Namespace,
        key: &Digest,
    ) -> BoxFuture<'_, Result<Option<StoredAnswer>, StoreError>>;

    /// Stores an introspection answer under `key` for `ttl`.
    ///
    /// The caller chooses `ttl`: at most the route's freshness budget and at most the time
    /// left until the token's `exp` (RFC 7662 §4: an answer must not outlive what it says).
    /// A zero `ttl` stores nothing.
    fn put_answer(
        &self,
        ns: &Namespace,
        key: &Digest,
        answer: &StoredAnswer,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Marks `key` as used for `ttl`: `true` the first time, `false` while the mark lasts.
    ///
    /// For one-time values seen by any instance: a DPoP proof's `jti` (RFC 9449 §11.1), a
    /// Security Event Token's `jti` (RFC 8417 §2.2). A store that cannot record the mark
    /// returns an error, never `true`.
    fn first_use(
        &self,
        ns: &Namespace,
        key: &Digest,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;

    /// A short description for logs and diagnostics, without credentials: for example
    /// `redis://10.0.0.5:6379/0`.
    ///
    /// Defaults to `"shared store"`.
    fn describe(&self) -> String {
        "shared store".to_owned()
    }
}
