//! The narrow switches: each relaxes one rule of RFC 9068 for one trusted issuer, and says
//! what it weakens. Set on a [`TrustedIssuer`](crate::TrustedIssuer), one by one or through a
//! [`Profile`](crate::Profile); the defaults are strict RFC 9068.

use serde_json::{Map, Value};

/// Where a token's client id comes from: RFC 9068 §2.2 names `client_id`, and servers that
/// predate it use a claim of their own.
///
/// Set with [`TrustedIssuer::client_id_claims`](crate::TrustedIssuer::client_id_claims): the
/// claims are read in the order given and the first one present is the client id
/// ([`Principal::client_id`](crate::Principal::client_id)). Unless the list holds
/// [`ClientIdClaim::None`], a token without any of them is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientIdClaim {
    /// `client_id` (RFC 9068 §2.2, RFC 8693 §4.3). The default.
    ClientId,
    /// `azp`, OpenID Connect's authorized party (Keycloak, Entra ID v2.0, Auth0's default
    /// profile, authentik).
    Azp,
    /// `appid` (Entra ID v1.0).
    Appid,
    /// `cid` (Okta).
    Cid,
    /// A token may carry no client id at all (Spring Authorization Server puts none in its
    /// access tokens). **Weakens security**: nothing says which client the token was issued
    /// to, so an allowlist of clients cannot be kept, and a token of any client of the issuer
    /// with this API's audience passes.
    None,
}

impl ClientIdClaim {
    /// The claim's name; `None` for [`ClientIdClaim::None`].
    pub(crate) fn claim(self) -> Option<&'static str> {
        match self {
            Self::ClientId => Some("client_id"),
            Self::Azp => Some("azp"),
            Self::Appid => Some("appid"),
            Self::Cid => Some("cid"),
            Self::None => None,
        }
    }
}

/// A form of the granted scopes tollgate reads ([`Principal::scopes`](crate::Principal::scopes)).
///
/// RFC 9068 §2.2.3 has one: `scope`, a space-delimited string. Set the accepted forms with
/// [`TrustedIssuer::scope_sources`](crate::TrustedIssuer::scope_sources). `scope` is read
/// first, then `scp`: the first of the two that is present decides, and it must have an
/// accepted form, or the token is refused (a `scp` is not read at all while no `scp` form is
/// accepted: it is then just another claim). Accepting more forms does not weaken anything:
/// the scopes are the same strings either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeSource {
    /// `scope` as a space-delimited string (RFC 9068 §2.2.3). The default.
    ScopeString,
    /// `scope` as a JSON array of strings (Spring Authorization Server).
    ScopeArray,
    /// `scp` as a space-delimited string (Entra ID).
    ScpString,
    /// `scp` as a JSON array of strings (Okta, Ory Hydra).
    ScpArray,
}

impl ScopeSource {
    fn bit(self) -> u8 {
        match self {
            Self::ScopeString => 1,
            Self::ScopeArray => 2,
            Self::ScpString => 4,
            Self::ScpArray => 8,
        }
    }
}

/// A set of [`ScopeSource`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScopeSources(u8);

impl ScopeSources {
    pub(crate) fn of(sources: impl IntoIterator<Item = ScopeSource>) -> Self {
        Self(sources.into_iter().fold(0, |bits, s| bits | s.bit()))
    }

    pub(crate) fn accepts(self, source: ScopeSource) -> bool {
        self.0 & source.bit() != 0
    }

    /// Whether some form of `scp` is read.
    pub(crate) fn reads_scp(self) -> bool {
        self.accepts(ScopeSource::ScpString) || self.accepts(ScopeSource::ScpArray)
    }
}

/// Whether a token must carry `jti` (RFC 9068 §2.2 requires it), and where else it may be.
///
/// Set with [`TrustedIssuer::jti`](crate::TrustedIssuer::jti). The value is
/// [`Principal::jti`](crate::Principal::jti).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum JtiPolicy {
    /// `jti` is required (RFC 9068 §2.2). The default.
    #[default]
    Required,
    /// `jti` may be absent (Auth0's default profile, authentik). **Weakens security**: a token
    /// without an identifier cannot be told apart from another with the same claims, so
    /// nothing downstream can detect its replay or revoke it by id.
    Optional,
    /// `jti`, or this claim when `jti` is absent; one of the two is required (Entra ID's
    /// `uti`, which its documentation calls equivalent to `jti`). Weakens nothing.
    Alias(String),
}

impl JtiPolicy {
    /// `jti`, or `name` when `jti` is absent: [`JtiPolicy::Alias`].
    pub fn alias(name: impl Into<String>) -> Self {
        Self::Alias(name.into())
    }
}

/// What the audience check (RFC 9068 §4 step 4) asks of a token's `aud`.
///
/// Set with [`TrustedIssuer::audience_policy`](crate::TrustedIssuer::audience_policy). Every
/// policy still refuses a token whose `aud` is present, not empty, and names none of the
/// issuer's audiences; the relaxed ones only say what stands in for an `aud` that is absent or
/// empty, and both need [`allowed_clients`](crate::TrustedIssuer::allowed_clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AudiencePolicy {
    /// `aud` must contain one of the configured audiences. The default.
    #[default]
    Contains,
    /// A token without `aud` passes when its client id is one of
    /// [`allowed_clients`](crate::TrustedIssuer::allowed_clients) (Amazon Cognito: its access
    /// tokens carry `client_id` and no `aud`). **Weakens security**: the client stands in for
    /// the audience, so a token that client obtained for another API of the same issuer passes
    /// too.
    AbsentWithClientAllowlist,
    /// A token whose `aud` is the empty array passes when its client id is one of
    /// [`allowed_clients`](crate::TrustedIssuer::allowed_clients) (Ory Hydra, when no audience
    /// was granted). An absent `aud` is still refused. **Weakens security** as
    /// [`AbsentWithClientAllowlist`](Self::AbsentWithClientAllowlist) does.
    EmptyWithClientAllowlist,
}

/// A claim named by a path: a top-level name (`roles`, `cognito:groups`,
/// `https://example.com/roles`) or, when no claim has that whole name, its dot-separated
/// members in nested objects (`realm_access.roles`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaimPath(String);

impl ClaimPath {
    pub(crate) fn new(path: impl Into<String>) -> Self {
        Self(path.into())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The value at this path, if there is one.
    pub(crate) fn find<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        if let Some(value) = claims.get(&self.0) {
            return Some(value);
        }
        let mut segments = self.0.split('.');
        let mut value = claims.get(segments.next()?)?;
        for segment in segments {
            value = value.as_object()?.get(segment)?;
        }
        Some(value)
    }
}

/// One issuer's switches: what its tokens may do that RFC 9068 does not allow. The default is
/// strict RFC 9068; [`Profile`](crate::Profile)s are presets of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Switches {
    /// `typ: JWT` (header) passes besides `at+jwt`.
    pub(crate) accept_typ_jwt: bool,
    /// A header without `typ` passes.
    pub(crate) accept_missing_typ: bool,
    /// Where the client id is read, in order; [`ClientIdClaim::None`] makes it optional.
    pub(crate) client_id: Vec<ClientIdClaim>,
    pub(crate) scopes: ScopeSources,
    /// Where roles are read; joined in order, each role once.
    pub(crate) roles: Vec<ClaimPath>,
    /// Where permissions are read; joined in order, each once.
    pub(crate) permissions: Vec<ClaimPath>,
    pub(crate) jti: JtiPolicy,
    pub(crate) require_subject: bool,
    pub(crate) require_issued_at: bool,
    pub(crate) audience_policy: AudiencePolicy,
    /// Client ids whose tokens pass; empty means any client.
    pub(crate) allowed_clients: Vec<String>,
    /// Claims that must be a string equal to one of the values (discriminators).
    pub(crate) required_values: Vec<(String, Vec<String>)>,
    /// Claims that must be present, whatever their value.
    pub(crate) required_present: Vec<String>,
    /// Claims that must be absent.
    pub(crate) forbidden: Vec<String>,
}

impl Default for Switches {
    /// Strict RFC 9068.
    fn default() -> Self {
        Self {
            accept_typ_jwt: false,
            accept_missing_typ: false,
            client_id: vec![ClientIdClaim::ClientId],
            scopes: ScopeSources::of([ScopeSource::ScopeString]),
            roles: Vec::new(),
            permissions: Vec::new(),
            jti: JtiPolicy::Required,
            require_subject: true,
            require_issued_at: true,
            audience_policy: AudiencePolicy::Contains,
            allowed_clients: Vec::new(),
            required_values: Vec::new(),
            required_present: Vec::new(),
            forbidden: Vec::new(),
        }
    }
}

impl Switches {
    /// Whether `typ` is relaxed: ID tokens must then be told apart by their claims.
    pub(crate) fn typ_relaxed(&self) -> bool {
        self.accept_typ_jwt || self.accept_missing_typ
    }

    /// Whether a token may lack a client id.
    pub(crate) fn client_id_optional(&self) -> bool {
        self.client_id.contains(&ClientIdClaim::None)
    }

    /// `require_claim(name, value)`: another accepted value when `name` already has some.
    pub(crate) fn require_value(&mut self, name: String, value: String) {
        match self.required_values.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => {
                if !values.contains(&value) {
                    values.push(value);
                }
            }
            None => self.required_values.push((name, vec![value])),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn claim_paths_prefer_the_whole_name_then_walk_objects() {
        let claims = json!({
            "realm_access": {"roles": ["admin"]},
            "https://example.com/roles": ["editor"],
            "cognito:groups": ["ops"],
        });
        let claims = claims.as_object().unwrap();
        let find = |path: &str| ClaimPath::new(path).find(claims).cloned();
        assert_eq!(find("realm_access.roles"), Some(json!(["admin"])));
        assert_eq!(find("https://example.com/roles"), Some(json!(["editor"])));
        assert_eq!(find("cognito:groups"), Some(json!(["ops"])));
        assert_eq!(find("realm_access.groups"), None);
        assert_eq!(find("realm_access.roles.x"), None);
        assert_eq!(find("missing"), None);
    }

    #[test]
    fn a_required_claim_named_twice_accepts_either_value() {
        let mut switches = Switches::default();
        switches.require_value("typ".into(), "Bearer".into());
        switches.require_value("typ".into(), "DPoP".into());
        switches.require_value("typ".into(), "Bearer".into());
        switches.require_value("ver".into(), "2.0".into());
        assert_eq!(
            switches.required_values,
            [
                (
                    "typ".to_owned(),
                    vec!["Bearer".to_owned(), "DPoP".to_owned()]
                ),
                ("ver".to_owned(), vec!["2.0".to_owned()]),
            ]
        );
    }
}
