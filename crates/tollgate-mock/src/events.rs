//! Security Event Tokens (RFC 8417) as a transmitter of the Shared Signals framework sends
//! them (SSF 1.0, CAEP 1.0, RISC 1.0), signed with the server's keys, and their push delivery
//! (RFC 8935).
//!
//! [`MockAuthServer::security_event`] starts from a SET a correct receiver accepts:
//!
//! - header `{"alg": <the signing key's>, "typ": "secevent+jwt", "kid": <the signing key's>}`
//!   (RFC 8417 §2.3, SSF 1.0 §4.1.1);
//! - claims `iss` (the server's issuer), `aud` (the server's audience), `iat` (now), `jti`
//!   (random, unique), `sub_id` (`iss_sub` of the server's issuer and `"alice"`, RFC 9493
//!   §4.1) and `events` with the one event and its required members (a `credential-change`
//!   is a password `update`, a `credential-compromise` a password); no `sub`, no `exp` (SSF
//!   1.0 §4.1).
//!
//! Every member can be changed or removed, into SETs a receiver must refuse: another `typ`,
//! `aud` or `iss`, an old or future `iat`, a repeated `jti`, `alg: none` without a signature
//! ([`SecurityEventBuilder::unsigned`]), a key no JWKS publishes
//! ([`SecurityEventBuilder::unpublished_key`]), the subject inside the event as older
//! transmitters put it ([`SecurityEventBuilder::subject_in_event`]).
//!
//! With the `testing` feature, `push` delivers a SET as RFC 8935 §2.1 says.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tollgate_mock::MockAuthServer;
//! use tollgate_mock::events::{EventType, Subject};
//!
//! let server = MockAuthServer::start().await;
//! let set = server
//!     .security_event(EventType::SessionRevoked)
//!     .subject(Subject::session("s-123", Subject::iss_sub(server.issuer(), "alice")))
//!     .event_timestamp(1_767_225_600)
//!     .audience("https://receiver.example/events")
//!     .sign();
//! assert_eq!(set.split('.').count(), 3);
//! # });
//! ```

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value, json};

use crate::MockAuthServer;
use crate::keys::{SigningKey, alg_name};
use crate::tokens::compact;
use crate::util::{now, random_token};

/// The event types a transmitter sends, by their URIs (RFC 8417 §1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventType {
    /// CAEP 1.0 §3.1 `session-revoked`.
    SessionRevoked,
    /// CAEP 1.0 §3.3 `credential-change`.
    CredentialChange,
    /// CAEP 1.0 §3.2 `token-claims-change` (an event tollgate does not act on).
    TokenClaimsChange,
    /// RISC 1.0 §2.1 `account-credential-change-required`.
    AccountCredentialChangeRequired,
    /// RISC 1.0 §2.2 `account-purged`.
    AccountPurged,
    /// RISC 1.0 §2.3 `account-disabled`.
    AccountDisabled,
    /// RISC 1.0 §2.4 `account-enabled`.
    AccountEnabled,
    /// RISC 1.0 §2.7 `credential-compromise`.
    CredentialCompromise,
    /// RISC 1.0 §2.11 `sessions-revoked` (deprecated).
    SessionsRevoked,
    /// OAuth Event Types draft §3.2 `token-revoked`.
    TokenRevoked,
    /// OAuth Event Types draft §3.3 `tokens-revoked`.
    TokensRevoked,
    /// SSF 1.0 §8.1.4.1 `verification`.
    Verification,
    /// Any other URI.
    Custom(String),
}

const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";
const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";
const OAUTH: &str = "https://schemas.openid.net/secevent/oauth/event-type/";
const SSF: &str = "https://schemas.openid.net/secevent/ssf/event-type/";

impl EventType {
    /// The event's URI.
    pub fn uri(&self) -> String {
        let (base, name) = match self {
            Self::SessionRevoked => (CAEP, "session-revoked"),
            Self::CredentialChange => (CAEP, "credential-change"),
            Self::TokenClaimsChange => (CAEP, "token-claims-change"),
            Self::AccountCredentialChangeRequired => (RISC, "account-credential-change-required"),
            Self::AccountPurged => (RISC, "account-purged"),
            Self::AccountDisabled => (RISC, "account-disabled"),
            Self::AccountEnabled => (RISC, "account-enabled"),
            Self::CredentialCompromise => (RISC, "credential-compromise"),
            Self::SessionsRevoked => (RISC, "sessions-revoked"),
            Self::TokenRevoked => (OAUTH, "token-revoked"),
            Self::TokensRevoked => (OAUTH, "tokens-revoked"),
            Self::Verification => (SSF, "verification"),
            Self::Custom(uri) => return uri.clone(),
        };
        format!("{base}{name}")
    }

    /// The members the event's definition requires, with plausible values.
    fn default_payload(&self) -> Map<String, Value> {
        let payload = match self {
            Self::CredentialChange => {
                json!({"credential_type": "password", "change_type": "update"})
            }
            Self::CredentialCompromise => json!({"credential_type": "password"}),
            Self::TokenClaimsChange => json!({"claims": {"role": "reader"}}),
            Self::Verification => json!({"state": random_token(8)}),
            _ => json!({}),
        };
        match payload {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

/// A subject identifier (RFC 9493 §3, SSF 1.0 §3), as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(Value);

impl Subject {
    /// `{"format": "iss_sub", "iss": ..., "sub": ...}` (RFC 9493 §3.2.3).
    pub fn iss_sub(iss: impl Into<String>, sub: impl Into<String>) -> Self {
        Self(json!({"format": "iss_sub", "iss": iss.into(), "sub": sub.into()}))
    }

    /// `{"format": "email", "email": ...}` (RFC 9493 §3.2.2).
    pub fn email(address: impl Into<String>) -> Self {
        Self(json!({"format": "email", "email": address.into()}))
    }

    /// `{"format": "opaque", "id": ...}` (RFC 9493 §3.2.4): a session id in CAEP's examples.
    pub fn opaque(id: impl Into<String>) -> Self {
        Self(json!({"format": "opaque", "id": id.into()}))
    }

    /// `{"format": "jwt_id", "iss": ..., "jti": ...}` (SSF 1.0 §3.5.1): one JWT.
    pub fn jwt_id(iss: impl Into<String>, jti: impl Into<String>) -> Self {
        Self(json!({"format": "jwt_id", "iss": iss.into(), "jti": jti.into()}))
    }

    /// `{"format": "aliases", "identifiers": [...]}` (RFC 9493 §3.2.8).
    pub fn aliases(identifiers: impl IntoIterator<Item = Subject>) -> Self {
        let list: Vec<Value> = identifiers.into_iter().map(|s| s.0).collect();
        Self(json!({"format": "aliases", "identifiers": list}))
    }

    /// A complex subject (SSF 1.0 §3.3): `{"format": "complex", <name>: <subject>, ...}`.
    pub fn complex<I, S>(members: I) -> Self
    where
        I: IntoIterator<Item = (S, Subject)>,
        S: Into<String>,
    {
        let mut map = Map::new();
        map.insert("format".into(), "complex".into());
        for (name, subject) in members {
            map.insert(name.into(), subject.0);
        }
        Self(Value::Object(map))
    }

    /// The CAEP 1.0 §3.1 session subject: `complex` with an `opaque` `session` and a `user`.
    pub fn session(session_id: impl Into<String>, user: Subject) -> Self {
        Self::complex([("session", Self::opaque(session_id)), ("user", user)])
    }

    /// The OAuth Event Types draft's access token, by its value (§2.1, `plain`), written with
    /// `subject_type` as the draft does.
    pub fn oauth_access_token(token: impl Into<String>) -> Self {
        Self(json!({
            "subject_type": "oauth_token",
            "token_type": "access_token",
            "token_identifier_alg": "plain",
            "token": token.into(),
        }))
    }

    /// Any JSON, as it is.
    pub fn raw(value: Value) -> Self {
        Self(value)
    }

    /// The same subject in the older spelling: `subject_type` instead of `format` (Google's
    /// RISC transmitter), `iss-sub` for `iss_sub`, and a complex subject without its format
    /// (the 2021 CAEP drafts); nested members too.
    #[must_use]
    pub fn legacy(self) -> Self {
        fn rewrite(value: Value) -> Value {
            let Value::Object(mut map) = value else {
                return value;
            };
            match map.remove("format") {
                Some(Value::String(format)) if format == "complex" => {}
                Some(Value::String(format)) => {
                    let format = if format == "iss_sub" {
                        "iss-sub".to_owned()
                    } else {
                        format
                    };
                    map.insert("subject_type".into(), format.into());
                }
                Some(other) => {
                    map.insert("format".into(), other);
                }
                None => {}
            }
            Value::Object(map.into_iter().map(|(k, v)| (k, rewrite(v))).collect())
        }
        Self(rewrite(self.0))
    }

    /// The JSON value.
    pub fn to_value(&self) -> Value {
        self.0.clone()
    }
}

/// Which key signs.
#[derive(Debug, Clone)]
enum Signer {
    Signing,
    Kid(String),
    Algorithm(Algorithm),
    /// Material no JWKS publishes, under the signing key's `kid`.
    Unpublished,
    /// `alg: none` and an empty signature.
    Unsigned,
}

/// Builds a signed SET of a [`MockAuthServer`]: [`MockAuthServer::security_event`].
#[derive(Debug, Clone)]
#[must_use = "a SecurityEventBuilder does nothing until `sign` is called"]
pub struct SecurityEventBuilder<'a> {
    server: &'a MockAuthServer,
    claims: Map<String, Value>,
    /// The first event's URI: where the event setters write.
    event: String,
    header: Vec<(String, Option<Value>)>,
    signer: Signer,
}

impl MockAuthServer {
    /// Builds a Security Event Token of `event` from this server as transmitter (see the
    /// [`events`](crate::events) module for the defaults).
    pub fn security_event(&self, event: EventType) -> SecurityEventBuilder<'_> {
        let uri = event.uri();
        let mut events = Map::new();
        events.insert(uri.clone(), Value::Object(event.default_payload()));
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer().into());
        claims.insert("aud".into(), self.audience().into());
        claims.insert("iat".into(), now().into());
        claims.insert("jti".into(), random_token(16).into());
        claims.insert("sub_id".into(), Subject::iss_sub(self.issuer(), "alice").0);
        claims.insert("events".into(), Value::Object(events));
        SecurityEventBuilder {
            server: self,
            claims,
            event: uri,
            header: Vec::new(),
            signer: Signer::Signing,
        }
    }
}

impl SecurityEventBuilder<'_> {
    /// Sets `sub_id`, the SET's subject (RFC 9493 §4.1). Defaults to `iss_sub` of the server's
    /// issuer and `"alice"`.
    pub fn subject(mut self, subject: Subject) -> Self {
        self.claims.insert("sub_id".into(), subject.0);
        self
    }

    /// Puts the subject inside the event as `subject`, and removes `sub_id`: how CAEP and
    /// RISC events before SSF 1.0, and the OAuth draft's events, carry it (SSF 1.0 §3.1.1).
    pub fn subject_in_event(mut self, subject: Subject) -> Self {
        self.claims.remove("sub_id");
        self.event_claim("subject", subject.0)
    }

    /// Sets `aud` (a string). Defaults to the server's audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.claims.insert("aud".into(), audience.into().into());
        self
    }

    /// Sets `iss`. Defaults to the server's issuer. The signing key stays the server's.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.claims.insert("iss".into(), issuer.into().into());
        self
    }

    /// Sets `iat` (Unix seconds). Defaults to now.
    pub fn issued_at(mut self, iat: i64) -> Self {
        self.claims.insert("iat".into(), iat.into());
        self
    }

    /// Sets `jti`: the same value twice is a replay. Defaults to a random value.
    pub fn jti(mut self, jti: impl Into<String>) -> Self {
        self.claims.insert("jti".into(), jti.into().into());
        self
    }

    /// Sets the event's `event_timestamp` (CAEP 1.0 §2, Unix seconds). Defaults to none.
    pub fn event_timestamp(self, seconds: i64) -> Self {
        self.event_claim("event_timestamp", seconds)
    }

    /// Sets a member of the event's payload (`change_type`, `reason_admin`, `subject`, ...).
    pub fn event_claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        if let Some(payload) = self.payload() {
            payload.insert(name.to_owned(), value.into());
        }
        self
    }

    /// Removes a member of the event's payload.
    pub fn remove_event_claim(mut self, name: &str) -> Self {
        if let Some(payload) = self.payload() {
            payload.remove(name);
        }
        self
    }

    /// Adds another event to the SET, with the members its definition requires (SSF 1.0
    /// §4.2.1 allows several only as alternative URIs of one event).
    pub fn also_event(mut self, event: EventType) -> Self {
        if let Some(Value::Object(events)) = self.claims.get_mut("events") {
            events.insert(event.uri(), Value::Object(event.default_payload()));
        }
        self
    }

    /// Adds or replaces any top-level claim (`sub`, `exp`, `toe`, `txn`, an `events` that is
    /// not an object, ...).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a top-level claim.
    pub fn remove_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Adds or replaces a header member (`typ`, `kid`, `crit`, ...). Changing `alg` here
    /// changes the header only, not the key that signs.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.push((name.to_owned(), Some(value.into())));
        self
    }

    /// Removes a header member.
    pub fn remove_header(mut self, name: &str) -> Self {
        self.header.push((name.to_owned(), None));
        self
    }

    /// Signs with the key that has this `kid`, published or retired.
    ///
    /// # Panics
    ///
    /// At [`sign`](Self::sign), if the server never had such a key.
    pub fn kid(mut self, kid: &str) -> Self {
        self.signer = Signer::Kid(kid.to_owned());
        self
    }

    /// Signs with a published key of this algorithm (made and published if there is none).
    pub fn algorithm(mut self, alg: Algorithm) -> Self {
        self.signer = Signer::Algorithm(alg);
        self
    }

    /// Signs with material no JWKS publishes, under the signing key's `kid`: a forgery.
    pub fn unpublished_key(mut self) -> Self {
        self.signer = Signer::Unpublished;
        self
    }

    /// No signature: header `alg: none` (no `kid`) and an empty third segment.
    pub fn unsigned(mut self) -> Self {
        self.signer = Signer::Unsigned;
        self
    }

    /// The claims the SET will carry, as they stand.
    #[must_use]
    pub fn claims(&self) -> Value {
        Value::Object(self.claims.clone())
    }

    fn payload(&mut self) -> Option<&mut Map<String, Value>> {
        match self.claims.get_mut("events") {
            Some(Value::Object(events)) => match events.get_mut(&self.event) {
                Some(Value::Object(payload)) => Some(payload),
                _ => None,
            },
            _ => None,
        }
    }

    fn key(&self) -> Option<SigningKey> {
        let keys = self.server.shared().keys();
        Some(match &self.signer {
            Signer::Signing => keys.signing().clone(),
            Signer::Kid(kid) => keys.expect(kid).clone(),
            Signer::Algorithm(alg) => match keys.published_for(*alg) {
                Some(key) => key.clone(),
                None => {
                    drop(keys);
                    let kid = self.server.add_key(*alg);
                    return Some(self.server.shared().keys().expect(&kid).clone());
                }
            },
            Signer::Unpublished => {
                let signing = keys.signing();
                signing.impostor(signing.kid().to_owned())
            }
            Signer::Unsigned => return None,
        })
    }

    /// The compact SET.
    #[must_use]
    pub fn sign(self) -> String {
        let key = self.key();
        let mut header = Map::new();
        match &key {
            Some(key) => {
                header.insert("alg".into(), alg_name(key.alg()).into());
                header.insert("typ".into(), "secevent+jwt".into());
                header.insert("kid".into(), key.kid().into());
            }
            None => {
                header.insert("alg".into(), "none".into());
                header.insert("typ".into(), "secevent+jwt".into());
            }
        }
        for (name, value) in &self.header {
            match value {
                Some(value) => header.insert(name.clone(), value.clone()),
                None => header.remove(name),
            };
        }
        let header = serde_json::to_vec(&header).expect("JSON values serialize");
        let claims = serde_json::to_vec(&self.claims).expect("JSON values serialize");
        match key {
            Some(key) => compact(&header, &claims, &key, key.alg()),
            None => {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                format!("{}.{}.", b64.encode(header), b64.encode(claims))
            }
        }
    }
}

/// What a receiver answered a push.
#[cfg(feature = "testing")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAnswer {
    /// The status code: 202 when the SET was accepted (RFC 8935 §2.2).
    pub status: u16,
    /// The `Content-Type` header, if any (`application/json` for an error, RFC 8935 §2.3).
    pub content_type: Option<String>,
    /// The `Content-Language` header, if any (RFC 8935 §2.3 requires it on errors).
    pub content_language: Option<String>,
    /// The body: empty on success (RFC 8935 §2.2), `{"err": ..., "description": ...}` on a
    /// 400 (§2.3).
    pub body: String,
}

#[cfg(feature = "testing")]
impl PushAnswer {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The `err` member of an RFC 8935 §2.3 error body.
    pub fn err(&self) -> Option<String> {
        self.json()
            .get("err")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

/// Delivers `set` to `url` as RFC 8935 §2.1 says: `POST`, `Content-Type:
/// application/secevent+jwt`, `Accept: application/json`, the SET as the body.
///
/// # Panics
///
/// If the request cannot be sent or its answer read.
#[cfg(feature = "testing")]
pub async fn push(url: &str, set: &str) -> PushAnswer {
    push_with(url, set, &[]).await
}

/// [`push`] with extra or replaced headers (an `Authorization`, another `Content-Type`).
///
/// # Panics
///
/// As [`push`].
#[cfg(feature = "testing")]
pub async fn push_with(url: &str, set: &str, headers: &[(&str, &str)]) -> PushAnswer {
    let mut request = crate::testing::client()
        .post(url)
        .body(set.to_owned())
        .build()
        .unwrap_or_else(|e| panic!("building the push to {url}: {e}"));
    let defaults = [
        ("content-type", "application/secevent+jwt"),
        ("accept", "application/json"),
    ];
    // Later values replace earlier ones: a test's header wins over the default.
    for (name, value) in defaults.iter().chain(headers) {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|e| panic!("header name {name:?}: {e}"));
        let value = http::HeaderValue::from_str(value)
            .unwrap_or_else(|e| panic!("header value for {name}: {e}"));
        request.headers_mut().insert(name, value);
    }
    let response = crate::testing::client()
        .execute(request)
        .await
        .unwrap_or_else(|e| panic!("pushing the SET to {url}: {e}"));
    let header = |name: http::HeaderName| {
        response
            .headers()
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    let content_type = header(http::header::CONTENT_TYPE);
    let content_language = header(http::header::CONTENT_LANGUAGE);
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("reading the answer of {url}: {e}"));
    PushAnswer {
        status,
        content_type,
        content_language,
        body,
    }
}
