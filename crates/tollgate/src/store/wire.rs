//! The wire format of shared-store values: how a [`Fact`] and a [`StoredAnswer`] are written
//! to a store and onto its channel, and read back.
//!
//! A small JSON object with a version, read strictly: an unknown member, a missing one, a
//! wrong type, a second value for one member, a digest that is not 43 base64url characters,
//! anything beyond the size bound: the value is refused whole ([`StoreErrorKind::Malformed`]),
//! never applied in part. Writers refuse what readers would refuse, so a bad fact fails where
//! it is made.
//!
//! Version 1:
//!
//! ```text
//! {"v":1,"type":"revoked","token":"<43 base64url characters>","until":1767225600}
//! {"v":1,"type":"rule","iss":"https://as.example","target":{"sub":"alice"},"issued_before":1767222000,"until":1767225600}
//! {"v":1,"fetched_at":1767222000123,"body":"{\"active\":true,...}"}
//! ```
//!
//! A rule's `target` has exactly one member: `jti`, `sub`, `client_id` or `sid`;
//! `issued_before` may be absent. Times are Unix seconds, `fetched_at` Unix milliseconds.
//! An answer's `body` is the authorization server's JSON text as a JSON string.
//!
//! Error texts name what is wrong and where (a line and column), never the value read: a
//! store holds what anyone with access wrote, and logs are no place to echo it.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Digest, Fact, RevocationRule, RuleTarget, StoreError, StoreErrorKind, StoredAnswer};

/// The version this tollgate writes and the only one it reads.
pub const VERSION: u32 = 1;

/// The largest encoded fact read or written, in bytes.
pub const MAX_FACT_BYTES: usize = 8 * 1024;

/// The largest encoded answer read or written, in bytes: four times the default bound on an
/// introspection answer's body (64 KiB), room for JSON escaping.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The longest issuer in a rule, in bytes.
const MAX_ISSUER_BYTES: usize = 2048;

/// The longest target value in a rule (a `sub`, a `jti`), in bytes.
const MAX_TARGET_BYTES: usize = 1024;

/// Encodes a fact, after checking that a reader would accept it.
pub fn encode_fact(fact: &Fact) -> Result<String, StoreError> {
    check_fact(fact)?;
    let wire = match fact {
        Fact::Revoked { token, until } => WireFactOut {
            v: VERSION,
            kind: "revoked",
            token: Some(token.to_base64url()),
            iss: None,
            target: None,
            issued_before: None,
            until: *until,
        },
        Fact::Rule(rule) => WireFactOut {
            v: VERSION,
            kind: "rule",
            token: None,
            iss: Some(&rule.issuer),
            target: Some(WireTarget::from(&rule.target)),
            issued_before: rule.issued_before,
            until: rule.until,
        },
    };
    let text = serde_json::to_string(&wire).map_err(|error| encode_error("fact", &error))?;
    if text.len() > MAX_FACT_BYTES {
        return Err(malformed(format!(
            "shared-store fact: {} bytes encoded, more than the {MAX_FACT_BYTES} allowed",
            text.len()
        )));
    }
    Ok(text)
}

/// Decodes a fact written by [`encode_fact`]; anything else is refused whole.
pub fn decode_fact(bytes: &[u8]) -> Result<Fact, StoreError> {
    const WHAT: &str = "shared-store fact";
    check_size(WHAT, bytes, MAX_FACT_BYTES)?;
    check_version(WHAT, bytes)?;
    let wire: WireFactIn =
        serde_json::from_slice(bytes).map_err(|error| decode_error(WHAT, &error))?;
    let fact = match (wire.kind.as_str(), wire.token, wire.iss, wire.target) {
        ("revoked", Some(token), None, None) if wire.issued_before.is_none() => {
            let token = Digest::from_base64url(&token).ok_or_else(|| {
                malformed(format!("{WHAT}: `token` is not 43 base64url characters"))
            })?;
            Fact::Revoked {
                token,
                until: wire.until,
            }
        }
        ("revoked", ..) => {
            return Err(malformed(format!(
                "{WHAT}: a revoked token has `token` and `until`, and nothing of a rule"
            )));
        }
        ("rule", None, Some(issuer), Some(target)) => Fact::Rule(RevocationRule {
            issuer,
            target: target.into(),
            issued_before: wire.issued_before,
            until: wire.until,
        }),
        ("rule", ..) => {
            return Err(malformed(format!(
                "{WHAT}: a rule has `iss`, `target` and `until`, and no `token`"
            )));
        }
        _ => return Err(malformed(format!("{WHAT}: unknown `type`"))),
    };
    check_fact(&fact)?;
    Ok(fact)
}

/// Encodes an introspection answer. Its body must be UTF-8 text (RFC 8259 §8.1: JSON
/// exchanged between systems is UTF-8).
pub fn encode_answer(answer: &StoredAnswer) -> Result<String, StoreError> {
    const WHAT: &str = "shared-store answer";
    let body = std::str::from_utf8(&answer.body)
        .map_err(|_| malformed(format!("{WHAT}: the body is not UTF-8")))?;
    if answer.fetched_at < 0 {
        return Err(malformed(format!("{WHAT}: `fetched_at` is negative")));
    }
    let text = serde_json::to_string(&WireAnswer {
        v: VERSION,
        fetched_at: answer.fetched_at,
        body: body.into(),
    })
    .map_err(|error| encode_error("answer", &error))?;
    if text.len() > MAX_ANSWER_BYTES {
        return Err(malformed(format!(
            "{WHAT}: {} bytes encoded, more than the {MAX_ANSWER_BYTES} allowed",
            text.len()
        )));
    }
    Ok(text)
}

/// Decodes an answer written by [`encode_answer`]; anything else is refused whole.
pub fn decode_answer(bytes: &[u8]) -> Result<StoredAnswer, StoreError> {
    const WHAT: &str = "shared-store answer";
    check_size(WHAT, bytes, MAX_ANSWER_BYTES)?;
    check_version(WHAT, bytes)?;
    let wire: WireAnswer<'_> =
        serde_json::from_slice(bytes).map_err(|error| decode_error(WHAT, &error))?;
    if wire.fetched_at < 0 {
        return Err(malformed(format!("{WHAT}: `fetched_at` is negative")));
    }
    Ok(StoredAnswer {
        fetched_at: wire.fetched_at,
        body: Bytes::from(wire.body.into_owned()),
    })
}

/// The checks shared by writer and reader.
fn check_fact(fact: &Fact) -> Result<(), StoreError> {
    const WHAT: &str = "shared-store fact";
    if fact.until() <= 0 {
        return Err(malformed(format!("{WHAT}: `until` is not a positive time")));
    }
    if let Fact::Rule(rule) = fact {
        if rule.issuer.is_empty() || rule.issuer.len() > MAX_ISSUER_BYTES {
            return Err(malformed(format!(
                "{WHAT}: `iss` is empty or longer than {MAX_ISSUER_BYTES} bytes"
            )));
        }
        let (_, value) = rule.target.parts();
        if value.is_empty() || value.len() > MAX_TARGET_BYTES {
            return Err(malformed(format!(
                "{WHAT}: the target is empty or longer than {MAX_TARGET_BYTES} bytes"
            )));
        }
        if rule.issued_before.is_some_and(|before| before < 0) {
            return Err(malformed(format!("{WHAT}: `issued_before` is negative")));
        }
    }
    Ok(())
}

fn check_size(what: &str, bytes: &[u8], max: usize) -> Result<(), StoreError> {
    if bytes.len() > max {
        return Err(malformed(format!(
            "{what}: {} bytes, more than the {max} allowed",
            bytes.len()
        )));
    }
    Ok(())
}

/// Reads `v` first, leniently, so that a value from a newer tollgate is reported as such
/// rather than as a member this version does not know.
fn check_version(what: &str, bytes: &[u8]) -> Result<(), StoreError> {
    #[derive(Deserialize)]
    struct Probe {
        v: u64,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|error| decode_error(what, &error))?;
    if probe.v != u64::from(VERSION) {
        return Err(malformed(format!(
            "{what}: wire version {} (this tollgate reads {VERSION})",
            probe.v
        )));
    }
    Ok(())
}

fn malformed(message: String) -> StoreError {
    StoreError::new(StoreErrorKind::Malformed, message)
}

/// A parse error, by category and position only: serde's own text may quote the value.
fn decode_error(what: &str, error: &serde_json::Error) -> StoreError {
    use serde_json::error::Category;
    let why = match error.classify() {
        Category::Io => "cannot be read",
        Category::Syntax => "is not JSON",
        Category::Data => "has a missing, unknown, repeated or mistyped member",
        Category::Eof => "ends too early",
    };
    malformed(format!(
        "{what}: {why} (line {}, column {})",
        error.line(),
        error.column()
    ))
}

fn encode_error(what: &str, error: &serde_json::Error) -> StoreError {
    malformed(format!("shared-store {what}: cannot be encoded ({error})"))
}

#[derive(Serialize)]
struct WireFactOut<'a> {
    v: u32,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<WireTarget<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_before: Option<i64>,
    until: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFactIn {
    #[allow(dead_code)] // checked by `check_version`
    v: u64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    target: Option<WireTargetIn>,
    #[serde(default)]
    issued_before: Option<i64>,
    until: i64,
}

/// A rule's target: an object with exactly one member (serde's externally tagged enum).
#[derive(Serialize)]
enum WireTarget<'a> {
    #[serde(rename = "jti")]
    Jti(&'a str),
    #[serde(rename = "sub")]
    Subject(&'a str),
    #[serde(rename = "client_id")]
    Client(&'a str),
    #[serde(rename = "sid")]
    Session(&'a str),
}

impl<'a> From<&'a RuleTarget> for WireTarget<'a> {
    fn from(target: &'a RuleTarget) -> Self {
        match target {
            RuleTarget::Jti(value) => Self::Jti(value),
            RuleTarget::Subject(value) => Self::Subject(value),
            RuleTarget::Client(value) => Self::Client(value),
            RuleTarget::Session(value) => Self::Session(value),
        }
    }
}

#[derive(Deserialize)]
enum WireTargetIn {
    #[serde(rename = "jti")]
    Jti(String),
    #[serde(rename = "sub")]
    Subject(String),
    #[serde(rename = "client_id")]
    Client(String),
    #[serde(rename = "sid")]
    Session(String),
}

impl From<WireTargetIn> for RuleTarget {
    fn from(target: WireTargetIn) -> Self {
        match target {
            WireTargetIn::Jti(value) => Self::Jti(value),
            WireTargetIn::Subject(value) => Self::Subject(value),
            WireTargetIn::Client(value) => Self::Client(value),
            WireTargetIn::Session(value) => Self::Session(value),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireAnswer<'a> {
    v: u32,
    fetched_at: i64,
    #[serde(borrow)]
    body: std::borrow::Cow<'a, str>,
}

#[cfg(test)]
mod tests;
