//! One connection for everything, to a single Redis or to a cluster: commands, scripts and
//! the RESP3 push messages of pub/sub share it.

use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, RedisResult, Script, ScriptInvocation};

/// A multiplexed connection that reconnects by itself. Clones share the connection.
#[derive(Clone)]
pub(crate) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        match self.clone() {
            Self::Single(mut connection) => cmd.query_async(&mut connection).await,
            Self::Cluster(mut connection) => cmd.query_async(&mut connection).await,
        }
    }

    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> RedisResult<T> {
        match self.clone() {
            Self::Single(mut connection) => invocation.invoke_async(&mut connection).await,
            Self::Cluster(mut connection) => invocation.invoke_async(&mut connection).await,
        }
    }

    /// `SUBSCRIBE`; the connection resubscribes by itself after a reconnect, and the store's
    /// keeper subscribes again to be sure (a second `SUBSCRIBE` to a channel is a no-op).
    pub(crate) async fn subscribe(&self, channels: &[String]) -> RedisResult<()> {
        match self.clone() {
            Self::Single(mut connection) => connection.subscribe(channels).await,
            Self::Cluster(mut connection) => connection.subscribe(channels).await,
        }
    }
}

/// Scripts run with `EVALSHA` (loaded on first use, again after a `NOSCRIPT`).
pub(crate) struct Scripts {
    pub(crate) publish: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            publish: Script::new(PUBLISH),
        }
    }
}

/// Records a fact and publishes it, atomically (the key, the index and the message agree).
///
/// KEYS[1] the fact's key, KEYS[2] the namespace's index (a sorted set of fact keys by expiry,
/// in Redis time); ARGV[1] the encoded fact, ARGV[2] its time to live in milliseconds,
/// ARGV[3] its member in the index, ARGV[4] the channel, ARGV[5] the longest TTL of a fact. Keeps the later expiry when the fact
/// is there already, trims expired members, keeps the index as long as its last member, and
/// returns the number of subscribers reached (on this node).
///
/// Time comes from Redis (`TIME`), so instances with skewed clocks agree on the index.
const PUBLISH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local expires = tonumber(last[2] or '')
if expires then
  -- A score not written by this script (too large, not whole) must not stop the publish.
  expires = math.min(math.floor(expires), now + tonumber(ARGV[5]))
  redis.call('PEXPIREAT', KEYS[2], string.format('%.0f', expires))
end
return redis.call('PUBLISH', ARGV[4], ARGV[1])
";
