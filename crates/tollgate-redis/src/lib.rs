//! A Redis shared store for tollgate: what one instance of an API learns about a token
//! (revoked, or a rule that revokes many) reaches every instance, and introspection answers
//! can be shared between them.
//!
//! [`RedisStore`] implements [`tollgate::store::SharedStore`] on a single Redis or on a Redis
//! Cluster, over `redis://` or `rediss://` (TLS, rustls with the webpki roots), with `AUTH`
//! (password, or ACL user and password) taken from the URL.
//!
//! Caveats, in plain words:
//!
//! - Redis 6 or later (single or cluster): the store speaks RESP3, so that pub/sub messages
//!   and commands share one connection.
//! - No call waits longer than its timeout, and while Redis is known to be down, calls fail
//!   at once ([`StoreErrorKind::Unavailable`](tollgate::store::StoreErrorKind::Unavailable))
//!   instead of waiting: a slow or absent Redis never slows a request. The connection comes
//!   back by itself; subscriptions are restored and each subscriber is told
//!   ([`Notice::Reconnected`](tollgate::store::Notice::Reconnected)), so that it loads again.
//! - A new subscription's first notice is `Reconnected` too, once Redis confirmed the
//!   `SUBSCRIBE` (the keeper task sends it): a load after that notice misses nothing. During
//!   an outage, the first notice is `Lost`.
//! - An outage is logged at WARN once, its end at INFO. Values in Redis (keys or channel
//!   messages) that do not follow tollgate's [wire format](tollgate::store::wire) are
//!   ignored, counted ([`RedisStatus::malformed_ignored`]) and logged at WARN at most once a
//!   minute.
//! - Only digests of tokens are stored, never tokens; rules store the identifiers they name
//!   (`sub`, `client_id`, `sid`, `jti`). Logs and errors show the Redis address without
//!   credentials. Whoever can write to the Redis can revoke tokens (they cannot make a token
//!   valid): give tollgate's Redis user the keys `tollgate:*` and the channels `tollgate:*`
//!   only, and keep others out.
//! - A fact is kept at most a year, whatever its `until`.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use tollgate::store::{Digest, Fact, Namespace, SharedStore};
//! use tollgate_redis::RedisStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tollgate::store::StoreError> {
//! let store = RedisStore::builder()
//!     .request_timeout(Duration::from_millis(20))
//!     .connect("rediss://tollgate:secret@redis.internal:6380/0")
//!     .await?;
//! let ns = Namespace::new("https://as.example", ["https://api.example"]);
//! let until = 1_900_000_000; // the token's `exp` plus the leeway
//! store
//!     .publish(&ns, &Fact::Revoked { token: Digest::of(b"header.payload."), until })
//!     .await?;
//! assert!(!store.load(&ns).await?.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! # Keys
//!
//! Every key of a namespace (one issuer and its audiences, see
//! [`Namespace`](tollgate::store::Namespace)) starts with `tollgate:{<ns>}:`, where `<ns>` is
//! 22 base64url characters. The braces make `<ns>` the Redis Cluster hash tag: all keys and
//! the channel of a namespace live in one slot.
//!
//! | key | type | value | expiry |
//! |---|---|---|---|
//! | `tollgate:{<ns>}:rev:<digest>` | string | a revoked token's fact (wire format) | its `until` |
//! | `tollgate:{<ns>}:rule:<rule id>` | string | a revocation rule (wire format) | its `until` |
//! | `tollgate:{<ns>}:idx` | sorted set | the members `rev:<digest>` and `rule:<id>`, scored by expiry (Unix ms) | its last member's |
//! | `tollgate:{<ns>}:ans:<digest>` | string | a shared introspection answer (wire format) | set by the caller: at most the freshness budget and the token's `exp` |
//! | `tollgate:{<ns>}:once:<digest>` | string | `1` (`SET NX PX`) | the mark's TTL |
//! | channel `tollgate:{<ns>}:events` | pub/sub | each fact published | — |
//!
//! `<digest>` is a [`Digest`](tollgate::store::Digest) in 43 base64url characters.
//!
//! Publishing is one script (`EVALSHA`): set the fact's key with its TTL (keeping a later
//! expiry already there), add it to the index, trim the index's expired members, and
//! `PUBLISH` it, atomically. Loading never uses `KEYS` or `SCAN`: it reads the index
//! (`ZRANGE`, O(log N + M)) and the facts by `MGET` in batches of 500, so its cost grows with
//! the namespace's live facts M, not with the size of the database. A fact found under the
//! key of another fact, or that does not parse, is left out.
//!
//! # Redis Cluster
//!
//! [`RedisStore::cluster`] takes one or more node URLs and discovers the rest. Everything
//! works as on a single Redis: the hash tag puts a namespace's keys in one slot, so the
//! publish script and `MGET` are single-slot; `PUBLISH` in a cluster reaches subscribers on
//! every node. Subscriptions follow the slot map after a failover or resharding. The store's
//! health check reads each subscribed namespace's index (`EXISTS`, routed to the node of its
//! slot), and says `Reconnected` only once that node answers: a subscription on another node
//! is not enough, since the load that follows needs the slot. Any node's disconnection makes
//! the store resubscribe and its subscribers reload, which costs a load but misses nothing.
//! Tested: a three-master cluster (no replicas) with the node of a namespace's slot killed
//! and restarted. Not tested: failover to a replica, resharding. A cluster is connected
//! eagerly (at least one node must answer at start); there is no lazy variant.
//!
//! # Why this client
//!
//! The `redis` crate (1.8, with its Tokio connection manager and `cluster-async`) rather than
//! `fred` (10.1), after trying both against Debian's `redis-server` 7.0 on loopback:
//!
//! | | `redis` 1.8 | `fred` 10.1 |
//! |---|---|---|
//! | crates added to tollgate's tree (`cargo tree -e normal`) | 15 | 27 |
//! | their build on top of tollgate's (dev, 2 busy cores) | 51 s | 70 s |
//! | `SET` / `GET` round trip, p50 | 44–47 µs / 41–47 µs | 54–58 µs / 52–57 µs |
//! | `SET` / `GET` round trip, p99 | 131–151 µs / 136–154 µs | 123–316 µs / 121–232 µs |
//! | `PUBLISH` to message, p50 | 51–96 µs | 75–87 µs |
//! | Redis killed: a command in flight | fails at once (connection reset) | retried until its timeout |
//! | Redis back after 12 s: subscription restored by itself | yes, once retries are unbounded (the default gives up after ~6 s) | yes |
//! | wrong password | retried by the manager (9 s here): checked first with a plain connection | fails at once |
//! | password in `Debug` output | redacted | printed in clear (`Config`) |
//! | pub/sub that survives reconnects | RESP3 push on the connection manager, resubscribed by it | a separate `SubscriberClient` |
//! | Redis Cluster (3 masters): `PUBLISH`, `SPUBLISH`, `GET` p50 | yes, yes, 233 µs (debug build) | yes, yes, 167 µs (debug build) |
//! | `rediss://` with a private CA, plus `AUTH` | yes | yes |
//!
//! Round trips: release builds, 5,000 sequential commands after 1,000 of warm-up, two runs
//! each, on a shared, busy 2-core machine; the ranges are the two runs.
//!
//! Both reconnect and resubscribe well once configured; `redis` is leaner, was faster here,
//! and never prints a password, which in a security library outweighs `fred`'s friendlier
//! defaults. Its two traps are handled in this crate: retries without end (so subscriptions
//! come back after any outage) and a first connection checked without the manager (so a
//! wrong password fails at once with [`StoreErrorKind::Auth`](tollgate::store::StoreErrorKind::Auth)).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod builder;
mod connection;
mod error;
mod keys;
mod store;

pub use builder::RedisStoreBuilder;
pub use store::{RedisStatus, RedisStore};
