//! The store: commands with timeouts, and the subscriber's background task.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt as _};
use redis::{PushInfo, PushKind, RedisResult, Value};
use tokio::sync::{Notify, broadcast, mpsc};
use tollgate::store::{
    Digest, Fact, Namespace, Notice, SharedStore, StoreError, StoredAnswer, wire,
};

use crate::builder::RedisStoreBuilder;
use crate::connection::{Connection, Scripts};
use crate::error::{down, from_redis, is_connection_loss, timeout};
use crate::keys;

/// The longest a fact is kept, whatever its `until`: a year.
const MAX_FACT_TTL_MS: i64 = 366 * 24 * 3600 * 1000;

/// Fact keys read per `MGET` in a load.
const LOAD_CHUNK: usize = 500;

/// At most one WARN about malformed values per this time; the next says how many there were.
const MALFORMED_WARN_EVERY: Duration = Duration::from_secs(60);

/// Settings chosen on the builder.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) request_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) load_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) heartbeat: Duration,
    pub(crate) channel_capacity: usize,
}

/// A [`SharedStore`] on Redis or Redis Cluster.
///
/// Cheap to clone: clones share one connection and one background task, which ends when the
/// last clone is dropped (and with it every subscription stream).
#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("redis", &self.shared.describe)
            .field("status", &self.status())
            .finish()
    }
}

/// What a [`RedisStore`] has seen, for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisStatus {
    connected: bool,
    outages: u64,
    malformed: u64,
}

impl RedisStatus {
    /// Whether the store believes Redis reachable (its last command or health check
    /// succeeded, or none has run yet).
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Outages since the store was made: each a WARN in the log.
    pub fn outages(&self) -> u64 {
        self.outages
    }

    /// Values read from Redis (keys or channel messages) that did not follow the wire
    /// format and were ignored.
    pub fn malformed_ignored(&self) -> u64 {
        self.malformed
    }
}

struct Shared {
    connection: Connection,
    scripts: Scripts,
    describe: String,
    settings: Settings,
    /// Whether Redis is believed reachable. While not, calls fail at once.
    up: AtomicBool,
    /// When the current outage began.
    down_since: Mutex<Option<Instant>>,
    outages: AtomicU64,
    channels: Mutex<HashMap<String, Channel>>,
    /// Wakes the keeper (a new subscription, a lost connection). Outside `Shared` in the
    /// keeper, so that waiting on it keeps no store alive.
    wake: Arc<Notify>,
    malformed: AtomicU64,
    malformed_warned: Mutex<MalformedLog>,
}

/// One channel (one namespace) and its subscribers in this process.
struct Channel {
    notices: broadcast::Sender<Notice>,
    state: ChannelState,
    /// A key of the namespace (its index) that the keeper reads to check that the
    /// namespace's slot is served: in a cluster, a node other than the one subscribed to
    /// may hold it.
    probe: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ChannelState {
    /// Not subscribed yet, and no outage told.
    Pending,
    /// `SUBSCRIBE` confirmed since the last loss.
    Live,
    /// Not subscribed, and the subscribers were told (`Lost`).
    Lost,
}

#[derive(Default)]
struct MalformedLog {
    last: Option<Instant>,
    since_last: u64,
}

impl RedisStore {
    /// Connects to `url` with the default settings; see [`RedisStoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder().connect(url).await
    }

    /// Connects to a Redis Cluster with the default settings; see
    /// [`RedisStoreBuilder::cluster`].
    pub async fn cluster<I, S>(urls: I) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::builder().cluster(urls).await
    }

    /// Other timeouts, TLS roots, or a connection in the background.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder::default()
    }

    /// What the store has seen: connected or not, outages, malformed values ignored.
    pub fn status(&self) -> RedisStatus {
        RedisStatus {
            connected: self.shared.up.load(Ordering::SeqCst),
            outages: self.shared.outages.load(Ordering::Relaxed),
            malformed: self.shared.malformed.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn start(
        connection: Connection,
        pushes: mpsc::UnboundedReceiver<PushInfo>,
        describe: String,
        settings: Settings,
    ) -> Result<Self, StoreError> {
        let wake = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            connection,
            scripts: Scripts::new(),
            describe,
            settings,
            up: AtomicBool::new(true),
            down_since: Mutex::new(None),
            outages: AtomicU64::new(0),
            channels: Mutex::new(HashMap::new()),
            wake: wake.clone(),
            malformed: AtomicU64::new(0),
            malformed_warned: Mutex::new(MalformedLog::default()),
        });
        tokio::spawn(read_pushes(Arc::downgrade(&shared), pushes));
        tokio::spawn(keep(Arc::downgrade(&shared), wake));
        Ok(Self { shared })
    }
}

impl Shared {
    /// Runs one command within `limit`; fails at once while Redis is known to be down.
    async fn run<T>(
        &self,
        what: &str,
        limit: Duration,
        command: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        if !self.up.load(Ordering::SeqCst) {
            return Err(down(what, &self.describe));
        }
        match tokio::time::timeout(limit, command).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                if is_connection_loss(&error) {
                    self.lost(&format!("{what} failed"));
                }
                Err(from_redis(what, &self.describe, error))
            }
            Err(_) => Err(timeout(what, &self.describe, limit)),
        }
    }

    /// The connection is gone: one WARN per outage, and `Lost` to every live channel.
    fn lost(&self, why: &str) {
        if self.up.swap(false, Ordering::SeqCst) {
            self.outages.fetch_add(1, Ordering::Relaxed);
            *lock(&self.down_since) = Some(Instant::now());
            tracing::warn!(
                "shared store {} is unreachable ({why}): instances serve from their local \
                 memory, and reconnect in the background",
                self.describe
            );
        }
        for channel in lock(&self.channels).values_mut() {
            // A channel never subscribed is told as well: its subscribers wait for nothing.
            if channel.state != ChannelState::Lost {
                channel.state = ChannelState::Lost;
                // No subscriber left is not an error.
                let _ = channel.notices.send(Notice::Lost);
            }
        }
        self.wake.notify_one();
    }

    fn reachable(&self) {
        if !self.up.swap(true, Ordering::SeqCst) {
            let since = lock(&self.down_since).take();
            tracing::info!(
                "shared store {} is reachable again{}",
                self.describe,
                since.map_or_else(String::new, |since| format!(
                    " after {:.1?}",
                    since.elapsed()
                ))
            );
        }
    }

    /// A value from Redis that does not parse: ignored, counted, and logged at most once a
    /// minute (whoever can write to Redis could otherwise fill the log).
    fn malformed(&self, place: &str, error: &StoreError) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
        let mut log = lock(&self.malformed_warned);
        log.since_last += 1;
        let due = log
            .last
            .is_none_or(|last| last.elapsed() >= MALFORMED_WARN_EVERY);
        if due {
            tracing::warn!(
                "shared store {}: ignored {} value(s) that do not follow the wire format, the \
                 last one {place}: {error}",
                self.describe,
                log.since_last
            );
            log.last = Some(Instant::now());
            log.since_last = 0;
        }
    }

    fn deliver(&self, data: &[Value]) {
        let [Value::BulkString(channel), Value::BulkString(payload), ..] = data else {
            return;
        };
        let Ok(channel) = std::str::from_utf8(channel) else {
            return;
        };
        let notice = match wire::decode_fact(payload) {
            Ok(fact) => Notice::Fact(fact),
            Err(error) => {
                self.malformed(&format!("on channel {channel}"), &error);
                return;
            }
        };
        if let Some(channel) = lock(&self.channels).get(channel) {
            let _ = channel.notices.send(notice);
        }
    }

    /// One round of the keeper: subscribe what is not subscribed, and check that every
    /// namespace's keys can be read (`EXISTS` on its index goes to the node of its slot).
    async fn keep_once(&self) {
        let (pending, probes): (Vec<(String, String)>, Vec<String>) = {
            let channels = lock(&self.channels);
            let pending = channels
                .iter()
                .filter(|(_, channel)| channel.state != ChannelState::Live)
                .map(|(name, channel)| (name.clone(), channel.probe.clone()))
                .collect();
            let probes = channels
                .values()
                .map(|channel| channel.probe.clone())
                .collect();
            (pending, probes)
        };
        let limit = self.settings.command_timeout;
        if pending.is_empty() {
            if probes.is_empty() {
                let ping = redis::cmd("PING");
                if let Err(why) = self.check(limit, &ping, "PING").await {
                    self.lost(&why);
                    return;
                }
            }
            for probe in probes {
                let mut exists = redis::cmd("EXISTS");
                exists.arg(probe);
                if let Err(why) = self.check(limit, &exists, "EXISTS").await {
                    self.lost(&why);
                    return;
                }
            }
            self.reachable();
            return;
        }
        for (name, probe) in pending {
            let channels = [name.clone()];
            match tokio::time::timeout(limit, self.connection.subscribe(&channels)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    self.lost(&format!("SUBSCRIBE failed: {error}"));
                    return;
                }
                Err(_) => {
                    self.lost(&format!("no answer to SUBSCRIBE within {limit:?}"));
                    return;
                }
            }
            // Subscribed; `Reconnected` only once a load would work as well.
            let mut exists = redis::cmd("EXISTS");
            exists.arg(probe);
            if let Err(why) = self.check(limit, &exists, "EXISTS").await {
                self.lost(&why);
                return;
            }
            self.reachable();
            if let Some(channel) = lock(&self.channels).get_mut(&name)
                && channel.state != ChannelState::Live
            {
                channel.state = ChannelState::Live;
                // Subscribed (again): the subscribers load now, and miss nothing.
                let _ = channel.notices.send(Notice::Reconnected);
            }
        }
    }

    /// Runs a health-check command; the reason it failed, if it did.
    async fn check(&self, limit: Duration, cmd: &redis::Cmd, name: &str) -> Result<(), String> {
        match tokio::time::timeout(limit, self.connection.query::<Value>(cmd)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(format!("{name} failed: {error}")),
            Err(_) => Err(format!("no answer to {name} within {limit:?}")),
        }
    }
}

/// Reads the connection's push messages: pub/sub messages and disconnections.
async fn read_pushes(shared: Weak<Shared>, mut pushes: mpsc::UnboundedReceiver<PushInfo>) {
    while let Some(push) = pushes.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match push.kind {
            PushKind::Message | PushKind::SMessage => shared.deliver(&push.data),
            PushKind::Disconnection => shared.lost("the connection closed"),
            _ => {}
        }
    }
}

/// The keeper: subscribes new channels, resubscribes after a loss (and says
/// `Reconnected`), and checks the connection every heartbeat.
async fn keep(shared: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        let every = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            shared.keep_once().await;
            let calm = shared.up.load(Ordering::SeqCst)
                && lock(&shared.channels)
                    .values()
                    .all(|channel| channel.state == ChannelState::Live);
            if calm {
                shared.settings.heartbeat
            } else {
                shared.settings.heartbeat / 4
            }
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = wake.notified() => {}
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; the data stays usable if something did.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Unix time in milliseconds; a clock before 1970 reads as 0.
fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// A TTL in whole milliseconds for `PX`: at least 1 (Redis refuses 0).
fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis())
        .unwrap_or(MAX_FACT_TTL_MS)
        .clamp(1, MAX_FACT_TTL_MS)
}

impl SharedStore for RedisStore {
    fn publish(&self, ns: &Namespace, fact: &Fact) -> BoxFuture<'_, Result<(), StoreError>> {
        let prepared = prepare_publish(ns, fact, unix_ms());
        let shared = &self.shared;
        Box::pin(async move {
            let Some((key, index, value, ttl, member, channel)) = prepared? else {
                return Ok(());
            };
            let mut invocation = shared.scripts.publish.prepare_invoke();
            invocation
                .key(key)
                .key(index)
                .arg(value)
                .arg(ttl)
                .arg(member)
                .arg(channel)
                .arg(MAX_FACT_TTL_MS);
            shared
                .run(
                    "publish",
                    shared.settings.command_timeout,
                    shared.connection.invoke::<i64>(&invocation),
                )
                .await
                .map(drop)
        })
    }

    fn load(&self, ns: &Namespace) -> BoxFuture<'_, Result<Vec<Fact>, StoreError>> {
        let ns = ns.clone();
        let shared = &self.shared;
        Box::pin(async move {
            let mut rejected = Vec::new();
            let facts = shared
                .run("load", shared.settings.load_timeout, async {
                    let mut zrange = redis::cmd("ZRANGE");
                    zrange.arg(keys::index(&ns)).arg(0).arg(-1);
                    let members: Vec<Vec<u8>> = shared.connection.query(&zrange).await?;
                    let mut facts = Vec::with_capacity(members.len());
                    for chunk in members.chunks(LOAD_CHUNK) {
                        // A member that is not text was not written by tollgate.
                        let chunk: Vec<&str> = chunk
                            .iter()
                            .filter_map(|member| std::str::from_utf8(member).ok())
                            .collect();
                        if chunk.is_empty() {
                            continue;
                        }
                        let mut mget = redis::cmd("MGET");
                        for member in &chunk {
                            mget.arg(keys::fact_key(&ns, member));
                        }
                        let values: Vec<Option<Vec<u8>>> = shared.connection.query(&mget).await?;
                        for (member, value) in chunk.iter().zip(values) {
                            // Gone since: expired between the two reads.
                            let Some(value) = value else { continue };
                            match decode_under(member, &value) {
                                Ok(fact) => facts.push(fact),
                                Err(error) => rejected.push((member.to_string(), error)),
                            }
                        }
                    }
                    Ok(facts)
                })
                .await?;
            for (member, error) in rejected {
                shared.malformed(&format!("in key {}", keys::fact_key(&ns, &member)), &error);
            }
            Ok(facts)
        })
    }

    fn subscribe(&self, ns: &Namespace) -> BoxStream<'static, Notice> {
        let name = keys::channel(ns);
        let probe = keys::index(ns);
        let capacity = self.shared.settings.channel_capacity;
        let up = self.shared.up.load(Ordering::SeqCst);
        let (receiver, pending) = {
            let mut channels = lock(&self.shared.channels);
            let channel = channels.entry(name).or_insert_with(|| Channel {
                notices: broadcast::channel(capacity).0,
                // During an outage, this stream says so itself (below).
                state: if up {
                    ChannelState::Pending
                } else {
                    ChannelState::Lost
                },
                probe,
            });
            (
                channel.notices.subscribe(),
                channel.state != ChannelState::Live,
            )
        };
        if pending {
            self.shared.wake.notify_one();
        }
        // Subscribed during an outage: say so first; `Reconnected` follows when it ends.
        let first = (!up).then_some(Notice::Lost);
        let notices = stream::unfold(receiver, |mut receiver| async move {
            match receiver.recv().await {
                Ok(notice) => Some((notice, receiver)),
                // Notices were skipped: the subscriber must reload to miss nothing.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    Some((Notice::Reconnected, receiver))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        stream::iter(first).chain(notices).boxed()
    }

    fn get_answer(
        &self,
        ns: &Namespace,
        key: &Digest,
    ) -> BoxFuture<'_, Result<Option<StoredAnswer>, StoreError>> {
        let key = keys::answer(ns, key);
        let shared = &self.shared;
        Box::pin(async move {
            let mut get = redis::cmd("GET");
            get.arg(&key);
            let value: Option<Vec<u8>> = shared
                .run(
                    "get_answer",
                    shared.settings.request_timeout,
                    shared.connection.query(&get),
                )
                .await?;
            let Some(value) = value else {
                return Ok(None);
            };
            match wire::decode_answer(&value) {
                Ok(answer) => Ok(Some(answer)),
                Err(error) => {
                    // As if absent: the caller asks the authorization server.
                    shared.malformed(&format!("in key {key}"), &error);
                    Ok(None)
                }
            }
        })
    }

    fn put_answer(
        &self,
        ns: &Namespace,
        key: &Digest,
        answer: &StoredAnswer,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let key = keys::answer(ns, key);
        let value = wire::encode_answer(answer);
        let shared = &self.shared;
        Box::pin(async move {
            let value = value?;
            if ttl.is_zero() {
                return Ok(());
            }
            let mut set = redis::cmd("SET");
            set.arg(&key).arg(value).arg("PX").arg(ttl_ms(ttl));
            shared
                .run(
                    "put_answer",
                    shared.settings.command_timeout,
                    shared.connection.query::<Value>(&set),
                )
                .await
                .map(drop)
        })
    }

    fn first_use(
        &self,
        ns: &Namespace,
        key: &Digest,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let key = keys::once(ns, key);
        let shared = &self.shared;
        Box::pin(async move {
            let mut set = redis::cmd("SET");
            set.arg(&key).arg(1).arg("NX").arg("PX").arg(ttl_ms(ttl));
            // `OK` when set, nil when the key was there.
            let answer: Option<String> = shared
                .run(
                    "first_use",
                    shared.settings.request_timeout,
                    shared.connection.query(&set),
                )
                .await?;
            Ok(answer.is_some())
        })
    }

    fn describe(&self) -> String {
        self.shared.describe.clone()
    }
}

/// What the publish script is given: the fact's key, the index, the value, the TTL (ms), the
/// index member and the channel; `None` for a fact whose `until` has passed.
type Publish = (String, String, String, i64, String, String);

fn prepare_publish(
    ns: &Namespace,
    fact: &Fact,
    now_ms: i64,
) -> Result<Option<Publish>, StoreError> {
    let ttl = fact.until().saturating_mul(1000).saturating_sub(now_ms);
    if ttl <= 0 {
        return Ok(None);
    }
    let member = keys::fact_member(fact)?;
    let value = wire::encode_fact(fact)?;
    Ok(Some((
        keys::fact_key(ns, &member),
        keys::index(ns),
        value,
        ttl.min(MAX_FACT_TTL_MS),
        member,
        keys::channel(ns),
    )))
}

/// Decodes a fact read under `member` and checks it belongs there: a value copied to
/// another key is as malformed as garbage.
fn decode_under(member: &str, value: &[u8]) -> Result<Fact, StoreError> {
    let fact = wire::decode_fact(value)?;
    match keys::fact_member(&fact) {
        Ok(expected) if expected == member => Ok(fact),
        _ => Err(StoreError::new(
            tollgate::store::StoreErrorKind::Malformed,
            "shared-store fact: stored under the key of another fact",
        )),
    }
}
