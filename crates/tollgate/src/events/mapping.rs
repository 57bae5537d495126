//! From events to revocations: which events mean "stop trusting these tokens", whose tokens,
//! and since when (the table is in the module documentation of [`crate::events`]).

use serde_json::{Map, Value};

use super::error::{ErrorCode, Refusal};
use super::set::{Claims, numeric_date};
use super::subject::{Complex, OauthToken, Subject};
use super::types::EventType;
use super::{Revocation, Transmitter};
use crate::rules::Lifetimes;
use crate::store::{Digest, RuleTarget};

/// What the mapping needs beyond the SET.
pub(super) struct Context<'a> {
    pub(super) transmitter: &'a Transmitter,
    pub(super) lifetimes: Lifetimes,
    pub(super) email_is_subject: bool,
    pub(super) now: i64,
}

/// The revocations a SET asks for, and how many of its events tollgate does not act on.
#[derive(Debug, Default)]
pub(super) struct Mapped {
    pub(super) revocations: Vec<Revocation>,
    /// Events of a type tollgate ignores, or whose subject it cannot map to tokens.
    pub(super) ignored: usize,
    /// An event was ignored only because its subject is an email address and
    /// `email_is_subject` is off (worth one WARN: it is a configuration choice).
    pub(super) email_unmapped: bool,
}

/// What an event is about: the account (its `sub`), its sessions, or one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Account,
    Session,
    /// Only subjects that name one token map (`jwt_id`, `oauth_token`): "this token was
    /// revoked" must never become "every token of this account".
    Token,
}

/// Maps every event of `claims`; a malformed event refuses the whole SET (RFC 8417 §2.2: the
/// events of one SET are aspects of one state change).
pub(super) fn map(claims: &Claims, context: &Context<'_>) -> Result<Mapped, Refusal> {
    let mut mapped = Mapped::default();
    for (uri, payload) in &claims.events {
        let event = EventType::from_uri(uri);
        let Some(action) = action(event, payload)? else {
            mapped.ignored += 1;
            continue;
        };
        let subject = event_subject(claims, payload)?;
        let before = match action.since {
            Since::CutOff => Some(cut_off(claims, payload, context)?),
            Since::Ever => None,
        };
        let before_count = mapped.revocations.len();
        let mut email = false;
        targets(
            &subject,
            action.scope,
            context,
            &mut email,
            &mut |issuer, target| {
                mapped.revocations.push(match target {
                    Target::Rule(target) => {
                        // A `jti` names one token: "before T" adds nothing to it.
                        let before = if matches!(target, RuleTarget::Jti(_)) {
                            None
                        } else {
                            before
                        };
                        Revocation::Rule(context.lifetimes.rule(
                            issuer,
                            target,
                            before,
                            context.now,
                        ))
                    }
                    Target::Token(token) => Revocation::Token {
                        issuer: issuer.to_owned(),
                        token,
                        until: context.lifetimes.until(None, context.now),
                    },
                });
            },
        )?;
        if mapped.revocations.len() == before_count {
            mapped.ignored += 1;
            mapped.email_unmapped |= email;
        }
    }
    Ok(mapped)
}

/// What an event asks for: revoke the subject's tokens (or sessions) issued before the cut-off,
/// or every token of the subject.
struct Action {
    scope: Scope,
    since: Since,
}

enum Since {
    /// Tokens issued before the event's time (RFC 8417 §5.4: a fresh session after the event
    /// survives it).
    CutOff,
    /// Every token, whenever issued.
    Ever,
}

/// The action an event type asks for, after checking the members tollgate reads; `None` for
/// an event tollgate does not act on. Members tollgate does not read are not checked.
fn action(event: EventType, payload: &Map<String, Value>) -> Result<Option<Action>, Refusal> {
    let revoke = |scope| {
        Ok(Some(Action {
            scope,
            since: Since::CutOff,
        }))
    };
    match event {
        EventType::SessionRevoked => revoke(Scope::Session),
        // RISC 1.0 §2.11: deprecated, meant every session of the account.
        EventType::SessionsRevoked | EventType::TokensRevoked => revoke(Scope::Account),
        EventType::CredentialChange => {
            // CAEP 1.0 §3.3: both REQUIRED; `credential_type` may be any value the parties
            // agree on, `change_type` is one of four.
            required_string(payload, "credential_type")?;
            match required_string(payload, "change_type")? {
                // A new credential leaves the old ones (and their tokens) as they were.
                "create" => Ok(None),
                "revoke" | "update" | "delete" => revoke(Scope::Account),
                _ => Err(Refusal::invalid(
                    "a credential-change event's `change_type` is not create, revoke, update or \
                     delete (CAEP 1.0 §3.3)",
                )),
            }
        }
        EventType::CredentialCompromise => {
            // RISC 1.0 §2.7: REQUIRED.
            required_string(payload, "credential_type")?;
            revoke(Scope::Account)
        }
        EventType::CredentialChangeRequired | EventType::AccountDisabled => revoke(Scope::Account),
        // RISC 1.0 §2.2: deleted for good; nothing of it may pass, whenever issued.
        EventType::AccountPurged => Ok(Some(Action {
            scope: Scope::Account,
            since: Since::Ever,
        })),
        // OAuth Event Types draft §3.2: one token; its subject says which.
        EventType::TokenRevoked => Ok(Some(Action {
            scope: Scope::Token,
            since: Since::Ever,
        })),
        EventType::Other => Ok(None),
    }
}

fn required_string<'a>(payload: &'a Map<String, Value>, name: &str) -> Result<&'a str, Refusal> {
    payload
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .ok_or(Refusal::invalid(
            "an event lacks a member its definition requires",
        ))
}

/// The event's subject: the SET's `sub_id` (RFC 9493 §4.1, SSF 1.0 §3.1), else the `subject`
/// inside the event, where older CAEP and RISC events and the OAuth draft put it (SSF 1.0
/// §3.1.1). The two are never combined (RFC 9493 §4.1).
fn event_subject(claims: &Claims, payload: &Map<String, Value>) -> Result<Subject, Refusal> {
    if let Some(subject) = &claims.subject {
        return Ok(subject.clone());
    }
    match payload.get("subject") {
        Some(value) => super::subject::parse(value),
        None => Err(Refusal::invalid(
            "the event has no subject: neither `sub_id` nor a `subject` in the event",
        )),
    }
}

/// The time before which tokens are revoked: the event's `event_timestamp` (CAEP 1.0 §2, RISC
/// 1.0 §2.7), else the SET's `toe` (RFC 8417 §2.2), else its `iat`. An `event_timestamp`
/// beyond 10^11 is read as milliseconds: the 2021 CAEP drafts' examples wrote them so (10^11
/// seconds is the year 5138).
fn cut_off(
    claims: &Claims,
    payload: &Map<String, Value>,
    context: &Context<'_>,
) -> Result<i64, Refusal> {
    let at = match payload.get("event_timestamp") {
        None => claims.time_of_event.unwrap_or(claims.issued_at),
        value => {
            let seconds = numeric_date(value).ok_or(Refusal::invalid(
                "an event's `event_timestamp` is not a NumericDate (CAEP 1.0 §2)",
            ))?;
            if seconds > 100_000_000_000 {
                seconds / 1000
            } else {
                seconds
            }
        }
    };
    let leeway = i64::try_from(context.lifetimes.leeway.as_secs()).unwrap_or(i64::MAX);
    if at > context.now.saturating_add(leeway) {
        // An event from the future would refuse tokens not issued yet, fresh logins after
        // the real event included.
        return Err(Refusal::invalid(
            "the event's time is in the future beyond the leeway",
        ));
    }
    Ok(at)
}

enum Target {
    Rule(RuleTarget),
    Token(Digest),
}

/// Calls `emit` with each (token issuer, target) that `subject` names. An issuer the
/// transmitter does not speak for is `access_denied` (RFC 8935 §2: the recipient must be
/// willing to accept this SET from this transmitter).
fn targets(
    subject: &Subject,
    scope: Scope,
    context: &Context<'_>,
    email: &mut bool,
    emit: &mut dyn FnMut(&str, Target),
) -> Result<(), Refusal> {
    let every_issuer = |emit: &mut dyn FnMut(&str, Target), target: &dyn Fn() -> Target| {
        for issuer in &context.transmitter.token_issuers {
            emit(issuer, target());
        }
    };
    let names_a_token = matches!(
        subject,
        Subject::JwtId { .. } | Subject::OauthToken(_) | Subject::Aliases(_)
    );
    if scope == Scope::Token && !names_a_token {
        return Ok(());
    }
    match subject {
        Subject::IssSub { iss, sub } => {
            check_issuer(context, iss)?;
            emit(iss, Target::Rule(RuleTarget::Subject(sub.clone())));
        }
        Subject::JwtId { iss, jti } => {
            check_issuer(context, iss)?;
            emit(iss, Target::Rule(RuleTarget::Jti(jti.clone())));
        }
        // An opaque identifier: a session's in a session event (the CAEP 1.0 §3.1
        // examples), else the account's, taken as its `sub`.
        Subject::Opaque(id) => every_issuer(emit, &|| {
            Target::Rule(match scope {
                Scope::Session => RuleTarget::Session(id.clone()),
                Scope::Account | Scope::Token => RuleTarget::Subject(id.clone()),
            })
        }),
        Subject::Email(address) => {
            if context.email_is_subject {
                every_issuer(emit, &|| Target::Rule(RuleTarget::Subject(address.clone())));
            } else {
                *email = true;
            }
        }
        Subject::Aliases(identifiers) => {
            // One entity under several names: each name that maps covers its tokens.
            for identifier in identifiers {
                targets(identifier, scope, context, email, emit)?;
            }
        }
        Subject::Complex(complex) => complex_targets(complex, scope, context, email, emit)?,
        Subject::OauthToken(token) => {
            if let Some(digest) = token_digest(token) {
                every_issuer(emit, &|| Target::Token(digest));
            }
        }
        Subject::OauthClient(client_id) => every_issuer(emit, &|| {
            Target::Rule(RuleTarget::Client(client_id.clone()))
        }),
        Subject::Other => {}
    }
    Ok(())
}

/// A complex subject (SSF 1.0 §3.3) describes one principal by several attributes, and a
/// session event revokes the sessions that match all of them. A rule has one target, so the
/// most specific member that maps is taken: the session (in a session event), else the user.
/// That covers at least what the event meant (a session belongs to one user); a subject of
/// devices, tenants or groups alone maps to nothing.
fn complex_targets(
    complex: &Complex,
    scope: Scope,
    context: &Context<'_>,
    email: &mut bool,
    emit: &mut dyn FnMut(&str, Target),
) -> Result<(), Refusal> {
    if scope == Scope::Session
        && let Some(Subject::Opaque(id)) = &complex.session
    {
        // The session's issuer is the user's, when the subject names one.
        return match &complex.user {
            Some(Subject::IssSub { iss, .. }) => {
                check_issuer(context, iss)?;
                emit(iss, Target::Rule(RuleTarget::Session(id.clone())));
                Ok(())
            }
            _ => {
                for issuer in &context.transmitter.token_issuers {
                    emit(issuer, Target::Rule(RuleTarget::Session(id.clone())));
                }
                Ok(())
            }
        };
    }
    match &complex.user {
        Some(user) => targets(user, Scope::Account, context, email, emit),
        None => Ok(()),
    }
}

fn check_issuer(context: &Context<'_>, issuer: &str) -> Result<(), Refusal> {
    if context
        .transmitter
        .token_issuers
        .iter()
        .any(|i| i == issuer)
    {
        Ok(())
    } else {
        Err(Refusal::set(
            ErrorCode::AccessDenied,
            "the SET names tokens of an issuer this transmitter is not trusted for",
        ))
    }
}

/// The digest a revoked token is remembered under: for a JWT its signed part with the dot
/// that ends it, so that a rewritten signature is still refused (docs/ARCHITECTURE.md,
/// "Caches"); for an opaque token the whole token. Only `plain` identifiers carry the token:
/// a prefix matches no digest, and the draft never fixed how `hash_*` values are made.
fn token_digest(token: &OauthToken) -> Option<Digest> {
    if token.identifier_alg != "plain" || token.token_type != "access_token" {
        return None;
    }
    let value = token.token.as_str();
    let jwt = value.matches('.').take(3).count() == 2;
    Some(match (jwt, value.rfind('.')) {
        (true, Some(dot)) => Digest::of(&value.as_bytes()[..=dot]),
        _ => Digest::of(value.as_bytes()),
    })
}
