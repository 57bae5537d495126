//! The event types tollgate knows, by their URIs (RFC 8417 §1.2: an event is named by a URI).

/// The URIs of the event types tollgate knows: those it acts on, and those it acknowledges
/// and ignores.
pub mod uri {
    /// CAEP 1.0 §3.1: sessions of the subject were revoked.
    pub const CAEP_SESSION_REVOKED: &str =
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
    /// CAEP 1.0 §3.3: a credential of the subject was created, changed, revoked or deleted.
    pub const CAEP_CREDENTIAL_CHANGE: &str =
        "https://schemas.openid.net/secevent/caep/event-type/credential-change";
    /// RISC 1.0 §2.1: the account must change its credential before it is used again.
    pub const RISC_ACCOUNT_CREDENTIAL_CHANGE_REQUIRED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required";
    /// RISC 1.0 §2.2: the account was permanently deleted.
    pub const RISC_ACCOUNT_PURGED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-purged";
    /// RISC 1.0 §2.3: the account was disabled.
    pub const RISC_ACCOUNT_DISABLED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
    /// RISC 1.0 §2.7: a credential of the account was compromised.
    pub const RISC_CREDENTIAL_COMPROMISE: &str =
        "https://schemas.openid.net/secevent/risc/event-type/credential-compromise";
    /// RISC 1.0 §2.11, deprecated in favour of CAEP `session-revoked`: every session of the
    /// account was revoked.
    pub const RISC_SESSIONS_REVOKED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked";
    /// OAuth Event Types 1.0 §3.2 (a 2018 draft, never finished): one token was revoked.
    pub const OAUTH_TOKEN_REVOKED: &str =
        "https://schemas.openid.net/secevent/oauth/event-type/token-revoked";
    /// OAuth Event Types 1.0 §3.3 (the same draft): every token of the account was revoked.
    pub const OAUTH_TOKENS_REVOKED: &str =
        "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked";
    /// SSF 1.0 §8.1.4.1: a stream verification, acknowledged and ignored.
    pub const SSF_VERIFICATION: &str =
        "https://schemas.openid.net/secevent/ssf/event-type/verification";
    /// SSF 1.0 §8.1.5: the stream's status changed, acknowledged and ignored.
    pub const SSF_STREAM_UPDATED: &str =
        "https://schemas.openid.net/secevent/ssf/event-type/stream-updated";
}

/// An event type, as far as tollgate tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventType {
    SessionRevoked,
    CredentialChange,
    CredentialChangeRequired,
    AccountPurged,
    AccountDisabled,
    CredentialCompromise,
    SessionsRevoked,
    TokenRevoked,
    TokensRevoked,
    /// An event tollgate does not act on (SSF stream management included).
    Other,
}

impl EventType {
    /// The type an event URI names; URIs compare exactly (RFC 8417 §1.2 names events by URI,
    /// and the registries spell each one way).
    pub(super) fn from_uri(event: &str) -> Self {
        match event {
            uri::CAEP_SESSION_REVOKED => Self::SessionRevoked,
            uri::CAEP_CREDENTIAL_CHANGE => Self::CredentialChange,
            uri::RISC_ACCOUNT_CREDENTIAL_CHANGE_REQUIRED => Self::CredentialChangeRequired,
            uri::RISC_ACCOUNT_PURGED => Self::AccountPurged,
            uri::RISC_ACCOUNT_DISABLED => Self::AccountDisabled,
            uri::RISC_CREDENTIAL_COMPROMISE => Self::CredentialCompromise,
            uri::RISC_SESSIONS_REVOKED => Self::SessionsRevoked,
            uri::OAUTH_TOKEN_REVOKED => Self::TokenRevoked,
            uri::OAUTH_TOKENS_REVOKED => Self::TokensRevoked,
            _ => Self::Other,
        }
    }
}

/// Whether `text` has the shape of an absolute URI: a scheme (RFC 3986 §3.1) and a colon, no
/// whitespace or control character.
pub(super) fn is_uri(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_name_their_types_exactly() {
        assert_eq!(
            EventType::from_uri(uri::CAEP_SESSION_REVOKED),
            EventType::SessionRevoked
        );
        assert_eq!(
            EventType::from_uri(&uri::CAEP_SESSION_REVOKED.to_uppercase()),
            EventType::Other
        );
        assert_eq!(
            EventType::from_uri(&format!("{}/", uri::RISC_ACCOUNT_PURGED)),
            EventType::Other
        );
        assert_eq!(EventType::from_uri(uri::SSF_VERIFICATION), EventType::Other);
    }

    #[test]
    fn event_names_must_be_uris() {
        for good in [uri::OAUTH_TOKEN_REVOKED, "urn:example:event", "x-y.z+w:1"] {
            assert!(is_uri(good), "{good}");
        }
        for bad in [
            "",
            "session-revoked",
            ":x",
            "1http://x",
            "http:",
            "http://a b",
            "ht tp:x",
        ] {
            assert!(!is_uri(bad), "{bad}");
        }
    }
}
