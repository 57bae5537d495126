//! Subject identifiers (RFC 9493 §3), the Shared Signals framework's complex subjects and
//! extra formats (SSF 1.0 §3.3, §3.5), and the older spellings some transmitters still send.
//!
//! Read strictly (RFC 9493 §3): an identifier has every member its format requires, each a
//! non-empty string, and no member its format does not describe. The leniencies, each for
//! transmitters that the specifications say differ:
//!
//! - `subject_type` in place of `format`: Google's RISC transmitter (RISC 1.0 §3.1 asks
//!   receivers to accept it) and the OAuth Event Types draft (§2). Both members at once are
//!   refused: they could disagree.
//! - `iss-sub` for `iss_sub`: the older RISC spelling (the RFC 8417 §2.1.4 example).
//! - `phone` for `phone_number`: RISC 1.0 §2.5 and §2.6 name the format `phone`.
//! - A complex subject without `"format": "complex"`: the 2021 CAEP drafts wrote
//!   `{"user": {...}, "session": {...}}`. Taken as complex when every member is one of SSF
//!   §3.3's names and holds an object.

use std::fmt;

use serde_json::{Map, Value};

use super::error::Refusal;

/// A subject, as far as tollgate reads it.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Subject {
    /// RFC 9493 §3.2.3.
    IssSub { iss: String, sub: String },
    /// RFC 9493 §3.2.2.
    Email(String),
    /// RFC 9493 §3.2.4.
    Opaque(String),
    /// RFC 9493 §3.2.8: identifiers of one entity.
    Aliases(Vec<Subject>),
    /// SSF 1.0 §3.5.1: the JWT with this `iss` and `jti`.
    JwtId { iss: String, jti: String },
    /// SSF 1.0 §3.3.
    Complex(Box<Complex>),
    /// OAuth Event Types draft §2.1: a token, by its value, a prefix or a hash.
    OauthToken(OauthToken),
    /// OAuth Event Types draft §2.2.
    OauthClient(String),
    /// A well-formed identifier tollgate cannot map to tokens (`account`, `phone_number`,
    /// `did`, `uri`, `saml_assertion_id`, `ip-addresses`), or a format it does not know (SSF
    /// 1.0 §3.4 allows formats agreed between the parties).
    Other,
}

/// SSF 1.0 §3.3: members that all describe one principal.
#[derive(Clone, Default, PartialEq, Eq)]
pub(super) struct Complex {
    pub(super) user: Option<Subject>,
    pub(super) session: Option<Subject>,
    /// Members tollgate does not map (`device`, `tenant`, `application`, `org_unit`, `group`,
    /// others): whether any was present.
    pub(super) others: bool,
}

/// OAuth Event Types draft §2.1.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct OauthToken {
    pub(super) token_type: String,
    /// `token_identifier_alg`: `plain`, `prefix` or `hash_*`.
    pub(super) identifier_alg: String,
    /// The token, its prefix or its hash, as `identifier_alg` says. Never logged.
    pub(super) token: String,
}

impl fmt::Debug for Subject {
    // Subjects name people: Debug shows their shape only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IssSub { .. } => f.write_str("IssSub(..)"),
            Self::Email(_) => f.write_str("Email(..)"),
            Self::Opaque(_) => f.write_str("Opaque(..)"),
            Self::Aliases(list) => f.debug_tuple("Aliases").field(list).finish(),
            Self::JwtId { .. } => f.write_str("JwtId(..)"),
            Self::Complex(complex) => f
                .debug_struct("Complex")
                .field("user", &complex.user)
                .field("session", &complex.session)
                .field("others", &complex.others)
                .finish(),
            Self::OauthToken(token) => f
                .debug_struct("OauthToken")
                .field("token_type", &token.token_type)
                .field("identifier_alg", &token.identifier_alg)
                .finish_non_exhaustive(),
            Self::OauthClient(_) => f.write_str("OauthClient(..)"),
            Self::Other => f.write_str("Other"),
        }
    }
}

/// The member names SSF 1.0 §3.3 gives complex subjects.
const COMPLEX_MEMBERS: [&str; 7] = [
    "user",
    "session",
    "device",
    "application",
    "tenant",
    "org_unit",
    "group",
];

/// Reads a subject identifier.
pub(super) fn parse(value: &Value) -> Result<Subject, Refusal> {
    parse_at(value, Depth::Top)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    Top,
    /// Inside a complex subject: simple identifiers only (SSF 1.0 §3.3).
    InComplex,
    /// Inside `aliases`: no `aliases` again (RFC 9493 §3.2.8).
    InAliases,
}

const NOT_AN_IDENTIFIER: &str = "a subject is not a subject identifier (RFC 9493 §3): not an object, no format, a \
     missing or empty member, or a member its format does not have";

fn parse_at(value: &Value, depth: Depth) -> Result<Subject, Refusal> {
    let object = value
        .as_object()
        .ok_or(Refusal::invalid(NOT_AN_IDENTIFIER))?;
    let format = match (object.get("format"), object.get("subject_type")) {
        (Some(_), Some(_)) => {
            return Err(Refusal::invalid(
                "a subject has both `format` and `subject_type`",
            ));
        }
        (Some(format), None) | (None, Some(format)) => {
            Some(format.as_str().ok_or(Refusal::invalid(NOT_AN_IDENTIFIER))?)
        }
        (None, None) => None,
    };
    let format_member = if object.contains_key("format") {
        "format"
    } else {
        "subject_type"
    };
    let Some(format) = format else {
        // The 2021 CAEP drafts: a complex subject without its format.
        if depth == Depth::Top && looks_complex(object) {
            return complex(object, None);
        }
        return Err(Refusal::invalid(NOT_AN_IDENTIFIER));
    };
    let only = |members: &[&str]| exactly(object, format_member, members);
    match format {
        "iss_sub" | "iss-sub" => {
            only(&["iss", "sub"])?;
            Ok(Subject::IssSub {
                iss: member(object, "iss")?,
                sub: member(object, "sub")?,
            })
        }
        "email" => {
            only(&["email"])?;
            Ok(Subject::Email(member(object, "email")?))
        }
        "opaque" => {
            only(&["id"])?;
            Ok(Subject::Opaque(member(object, "id")?))
        }
        "jwt_id" => {
            only(&["iss", "jti"])?;
            Ok(Subject::JwtId {
                iss: member(object, "iss")?,
                jti: member(object, "jti")?,
            })
        }
        "account" | "uri" => {
            only(&["uri"])?;
            member(object, "uri")?;
            Ok(Subject::Other)
        }
        "phone_number" | "phone" => {
            only(&["phone_number"])?;
            member(object, "phone_number")?;
            Ok(Subject::Other)
        }
        "did" => {
            only(&["url"])?;
            member(object, "url")?;
            Ok(Subject::Other)
        }
        "saml_assertion_id" => {
            only(&["issuer", "assertion_id"])?;
            member(object, "issuer")?;
            member(object, "assertion_id")?;
            Ok(Subject::Other)
        }
        "ip-addresses" => {
            only(&["ip-addresses"])?;
            let addresses = object
                .get("ip-addresses")
                .and_then(Value::as_array)
                .filter(|list| !list.is_empty())
                .ok_or(Refusal::invalid(NOT_AN_IDENTIFIER))?;
            if !addresses
                .iter()
                .all(|a| a.as_str().is_some_and(|s| !s.is_empty()))
            {
                return Err(Refusal::invalid(NOT_AN_IDENTIFIER));
            }
            Ok(Subject::Other)
        }
        "aliases" if depth == Depth::Top => {
            only(&["identifiers"])?;
            let identifiers = object
                .get("identifiers")
                .and_then(Value::as_array)
                .filter(|list| !list.is_empty())
                .ok_or(Refusal::invalid(NOT_AN_IDENTIFIER))?;
            identifiers
                .iter()
                .map(|identifier| parse_at(identifier, Depth::InAliases))
                .collect::<Result<Vec<_>, _>>()
                .map(Subject::Aliases)
        }
        "aliases" => Err(Refusal::invalid(
            "`aliases` may not nest, nor sit in a complex subject (RFC 9493 §3.2.8)",
        )),
        "complex" if depth == Depth::Top => complex(object, Some(format_member)),
        "complex" => Err(Refusal::invalid(
            "a complex subject may not nest (SSF 1.0 §3.3)",
        )),
        "oauth_token" => {
            only(&["token_type", "token_identifier_alg", "token"])?;
            Ok(Subject::OauthToken(OauthToken {
                token_type: member(object, "token_type")?,
                identifier_alg: member(object, "token_identifier_alg")?,
                token: member(object, "token")?,
            }))
        }
        "oauth_client" => {
            only(&["client_id"])?;
            Ok(Subject::OauthClient(member(object, "client_id")?))
        }
        "" => Err(Refusal::invalid(NOT_AN_IDENTIFIER)),
        // SSF 1.0 §3.4: a format the parties agreed on; its members are theirs.
        _ => Ok(Subject::Other),
    }
}

/// An SSF 1.0 §3.3 complex subject; `format_member` is the member that said so, if any.
fn complex(object: &Map<String, Value>, format_member: Option<&str>) -> Result<Subject, Refusal> {
    let mut complex = Complex::default();
    let mut members = 0;
    for (name, value) in object {
        if Some(name.as_str()) == format_member {
            continue;
        }
        members += 1;
        let subject = parse_at(value, Depth::InComplex)?;
        match name.as_str() {
            "user" => complex.user = Some(subject),
            "session" => complex.session = Some(subject),
            // SSF 1.0 §3.3: other names MAY be used; tollgate maps none of them.
            _ => complex.others = true,
        }
    }
    if members == 0 {
        return Err(Refusal::invalid(
            "a complex subject has no member (SSF 1.0 §3.3)",
        ));
    }
    Ok(Subject::Complex(Box::new(complex)))
}

fn looks_complex(object: &Map<String, Value>) -> bool {
    !object.is_empty()
        && object
            .iter()
            .all(|(name, value)| COMPLEX_MEMBERS.contains(&name.as_str()) && value.is_object())
}

/// RFC 9493 §3: no member beyond the format's own.
fn exactly(
    object: &Map<String, Value>,
    format_member: &str,
    members: &[&str],
) -> Result<(), Refusal> {
    if object
        .keys()
        .all(|name| name == format_member || members.contains(&name.as_str()))
    {
        Ok(())
    } else {
        Err(Refusal::invalid(NOT_AN_IDENTIFIER))
    }
}

/// RFC 9493 §3: a required member is a string, neither null nor empty.
fn member(object: &Map<String, Value>, name: &str) -> Result<String, Refusal> {
    object
        .get(name)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .ok_or(Refusal::invalid(NOT_AN_IDENTIFIER))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ok(value: Value) -> Subject {
        parse(&value).unwrap_or_else(|refusal| panic!("{value}: {refusal}"))
    }

    fn refused(value: Value) {
        assert!(parse(&value).is_err(), "{value} should be refused");
    }

    fn iss_sub(iss: &str, sub: &str) -> Subject {
        Subject::IssSub {
            iss: iss.into(),
            sub: sub.into(),
        }
    }

    #[test]
    fn rfc_9493_formats() {
        assert_eq!(
            ok(json!({"format":"iss_sub","iss":"https://as","sub":"alice"})),
            iss_sub("https://as", "alice")
        );
        assert_eq!(
            ok(json!({"format":"email","email":"a@example.com"})),
            Subject::Email("a@example.com".into())
        );
        assert_eq!(
            ok(json!({"format":"opaque","id":"s-1"})),
            Subject::Opaque("s-1".into())
        );
        for other in [
            json!({"format":"account","uri":"acct:a@example.com"}),
            json!({"format":"phone_number","phone_number":"+12065550100"}),
            json!({"format":"did","url":"did:example:123"}),
            json!({"format":"uri","uri":"https://example.com/u/1"}),
            json!({"format":"saml_assertion_id","issuer":"i","assertion_id":"a"}),
            json!({"format":"ip-addresses","ip-addresses":["10.0.0.1"]}),
            json!({"format":"x-acme-employee","number":7}),
        ] {
            assert_eq!(ok(other.clone()), Subject::Other, "{other}");
        }
        assert_eq!(
            ok(json!({"format":"aliases","identifiers":[
                {"format":"email","email":"a@example.com"},
                {"format":"iss_sub","iss":"https://as","sub":"alice"}
            ]})),
            Subject::Aliases(vec![
                Subject::Email("a@example.com".into()),
                iss_sub("https://as", "alice")
            ])
        );
    }

    #[test]
    fn ssf_formats() {
        assert_eq!(
            ok(json!({"format":"jwt_id","iss":"https://as","jti":"j-1"})),
            Subject::JwtId {
                iss: "https://as".into(),
                jti: "j-1".into()
            }
        );
        let Subject::Complex(complex) = ok(json!({
            "format":"complex",
            "session":{"format":"opaque","id":"s-1"},
            "user":{"format":"iss_sub","iss":"https://as","sub":"alice"},
            "tenant":{"format":"opaque","id":"t-1"}
        })) else {
            panic!("not complex")
        };
        assert_eq!(complex.session, Some(Subject::Opaque("s-1".into())));
        assert_eq!(complex.user, Some(iss_sub("https://as", "alice")));
        assert!(complex.others);
    }

    #[test]
    fn each_refusal_of_rfc_9493_section_3() {
        // Not an object, no format, an empty format.
        refused(json!("alice"));
        refused(json!({"iss":"https://as","sub":"alice"}));
        refused(json!({"format":"","id":"x"}));
        refused(json!({"format":7,"id":"x"}));
        // A required member missing, null, empty or not a string.
        refused(json!({"format":"iss_sub","iss":"https://as"}));
        refused(json!({"format":"iss_sub","iss":"https://as","sub":null}));
        refused(json!({"format":"iss_sub","iss":"https://as","sub":""}));
        refused(json!({"format":"opaque","id":5}));
        refused(json!({"format":"ip-addresses","ip-addresses":[]}));
        refused(json!({"format":"ip-addresses","ip-addresses":[""]}));
        // A member the format does not describe.
        refused(json!({"format":"email","email":"a@example.com","sub":"alice"}));
        refused(json!({"format":"opaque","id":"x","format2":"y"}));
        // Nesting the rules forbid.
        refused(json!({"format":"aliases","identifiers":[]}));
        refused(json!({"format":"aliases","identifiers":[
            {"format":"aliases","identifiers":[{"format":"opaque","id":"x"}]}
        ]}));
        refused(
            json!({"format":"complex","user":{"format":"complex","session":{"format":"opaque","id":"x"}}}),
        );
        refused(json!({"format":"complex"}));
        refused(json!({"format":"complex","user":{"format":"iss_sub","iss":"x"}}));
        // Both spellings of the format.
        refused(json!({"format":"opaque","subject_type":"opaque","id":"x"}));
    }

    #[test]
    fn older_spellings_are_read() {
        // Google's RISC transmitter and the OAuth draft: `subject_type`; the older `iss-sub`.
        assert_eq!(
            ok(json!({"subject_type":"iss-sub","iss":"https://as","sub":"alice"})),
            iss_sub("https://as", "alice")
        );
        assert_eq!(
            ok(json!({"subject_type":"iss_sub","iss":"https://as","sub":"alice"})),
            iss_sub("https://as", "alice")
        );
        // RISC's `phone`.
        assert_eq!(
            ok(json!({"format":"phone","phone_number":"+12065550100"})),
            Subject::Other
        );
        // The 2021 CAEP drafts' complex subject without a format.
        let Subject::Complex(complex) = ok(json!({
            "session":{"subject_type":"opaque","id":"s-1"},
            "user":{"subject_type":"iss-sub","iss":"https://as","sub":"alice"}
        })) else {
            panic!("not complex")
        };
        assert_eq!(complex.session, Some(Subject::Opaque("s-1".into())));
        assert!(!complex.others);
        // Without a format, anything but complex member names is still refused.
        refused(json!({"user":{"format":"opaque","id":"x"},"sub":"alice"}));
        refused(json!({"user":"alice"}));
    }

    #[test]
    fn oauth_draft_formats() {
        let Subject::OauthToken(token) = ok(json!({
            "subject_type":"oauth_token","token_type":"access_token",
            "token_identifier_alg":"plain","token":"secret-token"
        })) else {
            panic!("not a token")
        };
        assert_eq!(
            (token.identifier_alg.as_str(), token.token.as_str()),
            ("plain", "secret-token")
        );
        assert_eq!(
            ok(json!({"subject_type":"oauth_client","client_id":"app"})),
            Subject::OauthClient("app".into())
        );
        refused(json!({"subject_type":"oauth_token","token_type":"access_token","token":"x"}));
    }

    #[test]
    fn debug_shows_no_identifier() {
        let subject = ok(json!({"format":"complex",
            "user":{"format":"email","email":"alice@example.com"},
            "session":{"format":"opaque","id":"s-secret"}}));
        let token = ok(
            json!({"subject_type":"oauth_token","token_type":"access_token",
            "token_identifier_alg":"plain","token":"tok-secret"}),
        );
        let text = format!("{subject:?} {token:?}");
        for hidden in ["alice", "s-secret", "tok-secret"] {
            assert!(!text.contains(hidden), "{text}");
        }
        assert!(text.contains("Email(..)"), "{text}");
    }
}
