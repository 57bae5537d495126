//! [`SecurityEventReceiver`]: its configuration, and the receipt of one SET from its compact
//! form to the revocations it asks for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, StatusCode};

use super::error::{ErrorCode, Refusal, RefusalCounts};
use super::ledger::{self, DEFAULT_LEDGER_CAPACITY, LocalLedger, SetLedger};
use super::mapping::{self, Context};
use super::set::{self, Claims, Expect};
use super::{
    Receipt, ReceiverStats, RevocationSink, SignedSet, SinkErrorKind, Transmitter, VerifyErrorKind,
};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::log::{debug, warn};
use crate::rules::Lifetimes;

/// The default bound on a request body: a SET is a few hundred bytes to a few KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024;

/// The largest `max_body_bytes` accepted.
const MAX_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The longest leeway accepted, as for access tokens.
const MAX_LEEWAY: Duration = Duration::from_secs(60 * 60);

/// How long a transmitter is asked to wait when the receiver cannot take a SET now.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The receiver of pushed Security Event Tokens (RFC 8935), as a tower `Service` to mount at a
/// path of your choice, or called directly with [`receive`](Self::receive).
///
/// Cheap to clone: clones share one configuration, ledger and counters.
#[derive(Clone)]
pub struct SecurityEventReceiver {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) audiences: Vec<String>,
    pub(super) transmitters: Vec<Transmitter>,
    pub(super) lifetimes: Lifetimes,
    pub(super) max_age: Option<Duration>,
    pub(super) max_body_bytes: usize,
    pub(super) authorization: Option<HeaderValue>,
    pub(super) email_is_subject: bool,
    verifier: Box<dyn super::SetVerifier>,
    sink: Box<dyn RevocationSink>,
    ledger: Box<dyn SetLedger>,
    counters: Counters,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    accepted: AtomicU64,
    repeats: AtomicU64,
    refused: [AtomicU64; 6],
    refused_other: AtomicU64,
    ignored_events: AtomicU64,
    revocations: AtomicU64,
    /// WARN once: events with email subjects ignored for lack of `email_is_subject`.
    email_warned: std::sync::atomic::AtomicBool,
}

/// Configures a [`SecurityEventReceiver`]: [`SecurityEventReceiver::builder`].
#[must_use = "a ReceiverBuilder does nothing until `build` is called"]
pub struct ReceiverBuilder {
    audiences: Vec<String>,
    transmitters: Vec<Transmitter>,
    lifetimes: Lifetimes,
    max_age: Option<Duration>,
    max_body_bytes: usize,
    authorization: Option<String>,
    email_is_subject: bool,
    ledger_capacity: usize,
    ledger: Option<Box<dyn SetLedger>>,
}

impl std::fmt::Debug for ReceiverBuilder {
    // The authorization value is a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("audiences", &self.audiences)
            .field("transmitters", &self.transmitters)
            .field("lifetimes", &self.lifetimes)
            .field("max_age", &self.max_age)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("authorization", &self.authorization.as_ref().map(|_| "***"))
            .field("email_is_subject", &self.email_is_subject)
            .finish_non_exhaustive()
    }
}

impl SecurityEventReceiver {
    /// A receiver whose SETs must name `audience` in their `aud`: the value this receiver
    /// registered with its transmitters (SSF 1.0 §4.1.8), usually its URL.
    pub fn builder(audience: impl Into<String>) -> ReceiverBuilder {
        ReceiverBuilder {
            audiences: vec![audience.into()],
            transmitters: Vec::new(),
            lifetimes: Lifetimes::default(),
            max_age: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            authorization: None,
            email_is_subject: false,
            ledger_capacity: DEFAULT_LEDGER_CAPACITY,
            ledger: None,
        }
    }

    /// Receives one SET in its compact form: checks it, and hands the revocations it asks for
    /// to the sink. A SET received before (same issuer and `jti`) is accepted again and not
    /// applied again (RFC 8935 §2).
    ///
    /// # Errors
    ///
    /// A [`Refusal`]: 400 with an RFC 8935 §2.4 code for a bad SET, 503 when the keys or
    /// the revocation memory cannot take it now.
    pub async fn receive(&self, set: &str) -> Result<Receipt, Refusal> {
        self.receive_at(set, unix_now()).await
    }

    /// [`receive`](Self::receive) at the Unix time `now`.
    pub(crate) async fn receive_at(&self, set: &str, now: i64) -> Result<Receipt, Refusal> {
        let inner = &self.inner;
        inner.counters.received.fetch_add(1, Ordering::Relaxed);
        let result = inner.receive(set, now).await;
        match &result {
            Ok(receipt) if receipt.repeat => {
                inner.counters.repeats.fetch_add(1, Ordering::Relaxed);
            }
            Ok(receipt) => {
                inner.counters.accepted.fetch_add(1, Ordering::Relaxed);
                let counters = &inner.counters;
                counters
                    .ignored_events
                    .fetch_add(receipt.ignored_events as u64, Ordering::Relaxed);
                counters
                    .revocations
                    .fetch_add(receipt.revocations.len() as u64, Ordering::Relaxed);
            }
            Err(refusal) => self.count_refusal(refusal),
        }
        result
    }

    pub(super) fn count_refusal(&self, refusal: &Refusal) {
        let counters = &self.inner.counters;
        match refusal.code() {
            Some(code) => {
                counters.refused[RefusalCounts::slot(code)].fetch_add(1, Ordering::Relaxed)
            }
            None => counters.refused_other.fetch_add(1, Ordering::Relaxed),
        };
        debug!("security event refused: {refusal}");
    }

    /// What the receiver has received, accepted and refused so far.
    pub fn stats(&self) -> ReceiverStats {
        let counters = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ReceiverStats {
            received: load(&counters.received),
            accepted: load(&counters.accepted),
            repeats: load(&counters.repeats),
            refused: RefusalCounts::from_parts(
                counters.refused.each_ref().map(load),
                load(&counters.refused_other),
            ),
            ignored_events: load(&counters.ignored_events),
            revocations: load(&counters.revocations),
            ledger_evicted: self.inner.ledger.evicted(),
        }
    }
}

impl std::fmt::Debug for SecurityEventReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityEventReceiver")
            .field("audiences", &self.inner.audiences)
            .field("transmitters", &self.inner.transmitters)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// The checks, in the order RFC 8935 §2 lists what a recipient validates: the SET
    /// parses, its issuer is trusted, it is authentic, this recipient is its audience, its
    /// events are well formed and the transmitter may send them.
    async fn receive(&self, set: &str, now: i64) -> Result<Receipt, Refusal> {
        let parsed = set::parse(set)?;
        let Some(transmitter) = self
            .transmitters
            .iter()
            .find(|transmitter| transmitter.issuer == parsed.issuer)
        else {
            return Err(Refusal::set(
                ErrorCode::InvalidIssuer,
                "the SET's issuer is not a transmitter this receiver trusts",
            ));
        };
        let alg = parsed.alg.clone()?;
        let signed = SignedSet {
            issuer: &parsed.issuer,
            alg,
            kid: parsed.kid.as_deref(),
            signing_input: parsed.signing_input,
            signature: &parsed.signature,
        };
        if let Err(error) = self.verifier.verify(&signed).await {
            return Err(match error.kind() {
                VerifyErrorKind::UnknownKey => Refusal::set(
                    ErrorCode::InvalidKey,
                    "no key of the SET's issuer has the SET's `kid`",
                ),
                VerifyErrorKind::BadSignature => Refusal::set(
                    ErrorCode::InvalidKey,
                    "the SET's signature does not verify with its issuer's key",
                ),
                VerifyErrorKind::Unavailable => Refusal::http(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(error.retry_after().unwrap_or(RETRY_AFTER)),
                    "the issuer's keys are not available yet; deliver the SET again later",
                ),
            });
        }
        let leeway = secs(self.lifetimes.leeway);
        let claims = Claims::check(
            parsed.issuer,
            parsed.claims,
            &Expect {
                audiences: &self.audiences,
                now,
                leeway,
                max_age: self.max_age.map(secs),
            },
        )?;
        let mapped = mapping::map(
            &claims,
            &Context {
                transmitter,
                lifetimes: self.lifetimes,
                email_is_subject: self.email_is_subject,
                now,
            },
        )?;
        if mapped.email_unmapped && !self.counters.email_warned.swap(true, Ordering::Relaxed) {
            warn!(
                "a security event about an email address was ignored: tokens carry no email \
                 address to match; if this issuer's `sub` is the email address, enable \
                 ReceiverBuilder::email_is_subject"
            );
        }

        // RFC 8935 §2: a repeat gets the answer the first delivery got, and is not applied
        // again. Recorded only once applied: a SET refused for lack of room is applied when
        // its transmitter delivers it again.
        let key = ledger::key(&claims.issuer, &claims.jti);
        if self.ledger.seen(&key, now).await {
            return Ok(Receipt {
                repeat: true,
                revocations: Vec::new(),
                ignored_events: 0,
            });
        }
        if !mapped.revocations.is_empty()
            && let Err(error) = self.sink.apply(&mapped.revocations)
        {
            return Err(match error.kind() {
                SinkErrorKind::Full => Refusal::http(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(RETRY_AFTER),
                    "the revocation memory is full; deliver the SET again later",
                ),
                SinkErrorKind::Unavailable => Refusal::http(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(RETRY_AFTER),
                    "the revocations cannot be recorded now; deliver the SET again later",
                ),
            });
        }
        // After its cut-off plus one token lifetime a SET revokes nothing more: a repeat
        // forgotten by then would change nothing.
        let until = self.lifetimes.until(Some(claims.issued_at.max(now)), now);
        self.ledger.record(&key, until, now).await;
        Ok(Receipt {
            repeat: false,
            revocations: mapped.revocations,
            ignored_events: mapped.ignored,
        })
    }
}

impl ReceiverBuilder {
    /// Also accept SETs whose `aud` names `audience`: a receiver known under several names.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Trusts SETs from `transmitter`: their `iss`, and the token issuers they may revoke
    /// tokens of. At least one is required.
    pub fn transmitter(mut self, transmitter: Transmitter) -> Self {
        self.transmitters.push(transmitter);
        self
    }

    /// The longest lifetime (`exp - iat`) of an access token this API accepts: a rule lives
    /// that long after its cut-off, and is then dropped. The engine must refuse tokens that
    /// live longer, or they would outlive the rules that cover them.
    ///
    /// Defaults to 24 hours.
    pub fn longest_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.longest = lifetime;
        self
    }

    /// The clock skew allowed for a SET's `iat` and event times, and added to every rule's
    /// life. At most one hour.
    ///
    /// Defaults to 60 seconds.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.lifetimes.leeway = leeway;
        self
    }

    /// Refuses SETs issued longer ago than `age` (`invalid_request`). RFC 8935 sets no limit,
    /// and a late SET revokes only tokens older than its event, so there is none by default;
    /// set one if your transmitters promise timely delivery.
    ///
    /// Defaults to none.
    pub fn max_set_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// The largest request body read: a longer one is answered 413 unread. At most 1 MiB.
    ///
    /// Defaults to 16 KiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Requires this exact `Authorization` header value on every push, compared in constant
    /// time: the value given to the transmitter as the stream's `authorization_header` (SSF
    /// 1.0 §6.1.1). A push without it is refused with `authentication_failed` before its body
    /// is read, which keeps the cost of unauthenticated requests low (RFC 8935 §5.4).
    ///
    /// Defaults to none: only the SET's signature authenticates it.
    pub fn authorization(mut self, value: impl Into<String>) -> Self {
        self.authorization = Some(value.into());
        self
    }

    /// Reads an `email` subject (RFC 9493 §3.2.2) as the token's `sub`, compared exactly. For
    /// issuers whose `sub` is the email address only. Off, events about an email address are
    /// accepted and ignored (a WARN once says so).
    ///
    /// Defaults to off.
    pub fn email_is_subject(mut self, enabled: bool) -> Self {
        self.email_is_subject = enabled;
        self
    }

    /// How many applied SETs are remembered for de-duplication. A repeat that was forgotten
    /// is applied again, which changes nothing (see the module documentation).
    ///
    /// Defaults to 10 000.
    pub fn dedup_capacity(mut self, capacity: usize) -> Self {
        self.ledger_capacity = capacity;
        self
    }

    /// Whether a transmitter is configured (the engine adds its issuers otherwise).
    pub(crate) fn has_transmitters(&self) -> bool {
        !self.transmitters.is_empty()
    }

    /// Every token issuer the configured transmitters speak for.
    pub(crate) fn token_issuers(&self) -> impl Iterator<Item = &str> {
        self.transmitters
            .iter()
            .flat_map(|t| t.token_issuers.iter().map(String::as_str))
    }

    /// Remembers applied SETs in `ledger` instead of in process (the engine shares them
    /// through its store).
    #[allow(dead_code)] // the engine's store wiring calls it
    pub(crate) fn ledger(mut self, ledger: impl SetLedger) -> Self {
        self.ledger = Some(Box::new(ledger));
        self
    }

    /// Builds the receiver: SETs are verified with `verifier`, and what they revoke goes to
    /// `sink`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first problem: no transmitter, an empty audience, issuer
    /// or token issuer, a transmitter without token issuers, one transmitter twice, a leeway above one hour, a zero lifetime, a
    /// body bound of zero or above 1 MiB, an authorization value that cannot be a header.
    pub fn build(
        self,
        verifier: impl super::SetVerifier,
        sink: impl RevocationSink,
    ) -> Result<SecurityEventReceiver, ConfigError> {
        if self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                ConfigErrorKind::Audience,
                "the security-event receiver's audience is empty",
            ));
        }
        if self.transmitters.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "the security-event receiver trusts no transmitter",
            ));
        }
        for (index, transmitter) in self.transmitters.iter().enumerate() {
            if transmitter.issuer.is_empty()
                || transmitter.token_issuers.is_empty()
                || transmitter.token_issuers.iter().any(String::is_empty)
            {
                return Err(ConfigError::new(
                    ConfigErrorKind::Missing,
                    "a security-event transmitter has an empty issuer, no token issuer, or an \
                     empty one",
                ));
            }
            if self.transmitters[..index]
                .iter()
                .any(|other| other.issuer == transmitter.issuer)
            {
                return Err(ConfigError::new(
                    ConfigErrorKind::Bounds,
                    "a security-event transmitter is configured twice",
                ));
            }
        }
        if self.lifetimes.leeway > MAX_LEEWAY || self.lifetimes.longest.is_zero() {
            return Err(ConfigError::new(
                ConfigErrorKind::Bounds,
                "the security-event receiver's leeway is above one hour, or its longest token \
                 lifetime is zero",
            ));
        }
        if self.max_body_bytes == 0 || self.max_body_bytes > MAX_MAX_BODY_BYTES {
            return Err(ConfigError::new(
                ConfigErrorKind::Bounds,
                "the security-event receiver's max_body_bytes is zero or above 1 MiB",
            ));
        }
        let authorization = match self.authorization {
            None => None,
            Some(value) => Some(
                HeaderValue::try_from(value)
                    .ok()
                    .filter(|value| !value.is_empty())
                    .ok_or_else(|| {
                        ConfigError::new(
                            ConfigErrorKind::Credentials,
                            "the security-event receiver's authorization value is empty or \
                             cannot be an HTTP header value",
                        )
                    })?,
            ),
        };
        let ledger = self
            .ledger
            .unwrap_or_else(|| Box::new(LocalLedger::new(self.ledger_capacity)));
        Ok(SecurityEventReceiver {
            inner: Arc::new(Inner {
                audiences: self.audiences,
                transmitters: self.transmitters,
                lifetimes: self.lifetimes,
                max_age: self.max_age,
                max_body_bytes: self.max_body_bytes,
                authorization,
                email_is_subject: self.email_is_subject,
                verifier: Box::new(verifier),
                sink: Box::new(sink),
                ledger,
                counters: Counters::default(),
            }),
        })
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}
