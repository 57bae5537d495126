//! The [`Compatibility`] group: the server's profile, and one flag per narrow switch of
//! `tollgate::TrustedIssuer`, each with its variable. The profile applies first; a flag given
//! refines it (a list flag replaces the profile's list, except the added ones: roles,
//! permissions, allowed clients and required claims, which add to it).

use clap::Args;
use clap::builder::{BoolishValueParser, PossibleValuesParser, TypedValueParser as _};
use tollgate::{AudiencePolicy, ClientIdClaim, JtiPolicy, Profile, ScopeSource, TrustedIssuer};

/// The server's profile and the narrow switches for servers that do not follow RFC 9068.
/// Each boolean takes `=true` or `=false`, and its variable `true`/`false` (or `1`/`0`,
/// `yes`/`no`, `on`/`off`); lists are repeatable, or comma-separated.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
#[command(next_help_heading = "Compatibility")]
pub struct Compatibility {
    /// The authorization server product: a preset of the switches below
    ///
    /// `strict` (the default) is RFC 9068 with nothing relaxed. The README's profile table
    /// says what each one relaxes and why. Flags given below refine the profile.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_PROFILE",
        value_name = "NAME",
        default_value = "strict",
        value_parser = PossibleValuesParser::new(Profile::NAMES)
    )]
    pub profile: String,

    /// Accept untyped tokens (Keycloak, Entra ID, Okta...); weakens security
    ///
    /// Accepts `typ: JWT` or no typ, and relaxes the claims RFC 9068 requires
    /// (`sub`, `client_id`, `iat`, `jti`; `azp` stands in for `client_id`).
    /// **Weakens security**: without `typ`, an ID token could pass for an access token;
    /// tollgate still refuses tokens carrying `nonce` or `at_hash`. Defaults to off.
    /// Prefer --profile, which relaxes only what the server needs.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_ALLOW_UNTYPED_TOKENS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = BoolishValueParser::new()
    )]
    pub allow_untyped_tokens: bool,

    /// Read scopes from an `scp` claim or a `scope` array
    ///
    /// Defaults to off: only the space-separated `scope` string of RFC 9068 §2.2.3.
    /// The same as --scope-claim scope,scope-array,scp,scp-array.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_ACCEPT_SCP_CLAIM",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = BoolishValueParser::new()
    )]
    pub accept_scp_claim: bool,

    /// Accept `typ: JWT` in the header; weakens security
    ///
    /// **Weakens security**: `typ` tells access tokens from ID tokens; tokens with
    /// `nonce` or `at_hash` are then refused. Defaults to the profile's.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_ACCEPT_TYP_JWT",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub accept_typ_jwt: Option<bool>,

    /// Accept a header without `typ`; weakens security
    ///
    /// **Weakens security** as --accept-typ-jwt does. Defaults to the profile's.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_ACCEPT_MISSING_TYP",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub accept_missing_typ: Option<bool>,

    /// Where the client id is read, in order (repeatable, or comma-separated)
    ///
    /// client_id, azp, appid, cid, or none (a token may carry no client id:
    /// **weakens security**). Replaces the profile's list.
    #[arg(
        verbatim_doc_comment,
        long = "client-id-claim",
        env = "TOLLGATE_CLIENT_ID_CLAIM",
        value_name = "NAME",
        value_delimiter = ',',
        value_parser = PossibleValuesParser::new(["client_id", "azp", "appid", "cid", "none"])
            .map(|name| client_id_claim(&name))
    )]
    pub client_id_claims: Vec<ClientIdClaim>,

    /// A form of the scopes to read (repeatable, or comma-separated)
    ///
    /// scope (a space-delimited string, RFC 9068), scope-array, scp (a string),
    /// scp-array. Replaces the profile's list.
    #[arg(
        verbatim_doc_comment,
        long = "scope-claim",
        env = "TOLLGATE_SCOPE_CLAIM",
        value_name = "FORM",
        value_delimiter = ',',
        value_parser = PossibleValuesParser::new(["scope", "scope-array", "scp", "scp-array"])
            .map(|name| scope_source(&name))
    )]
    pub scope_claims: Vec<ScopeSource>,

    /// A claim to read roles from (repeatable, or comma-separated)
    ///
    /// A name (`roles`, `cognito:groups`) or a dotted path (`realm_access.roles`).
    /// Added to the profile's. Shown by GET /me; roles are never scopes.
    #[arg(
        verbatim_doc_comment,
        long = "roles-claim",
        env = "TOLLGATE_ROLES_CLAIM",
        value_name = "PATH",
        value_delimiter = ',',
        value_parser = super::non_blank
    )]
    pub roles_claims: Vec<String>,

    /// A claim to read permissions from (repeatable, or comma-separated)
    ///
    /// Auth0's is `permissions`. Added to the profile's. Shown by GET /me.
    #[arg(
        verbatim_doc_comment,
        long = "permissions-claim",
        env = "TOLLGATE_PERMISSIONS_CLAIM",
        value_name = "NAME",
        value_delimiter = ',',
        value_parser = super::non_blank
    )]
    pub permissions_claims: Vec<String>,

    /// Whether `jti` is required: required, optional, or alias:NAME
    ///
    /// alias:NAME reads NAME when `jti` is absent (Entra ID: alias:uti).
    /// optional **weakens security**. Defaults to the profile's.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_JTI",
        value_name = "POLICY",
        value_parser = jti_policy
    )]
    pub jti: Option<JtiPolicy>,

    /// Whether `sub` is required (RFC 9068); false weakens security
    #[arg(
        long,
        env = "TOLLGATE_REQUIRE_SUBJECT",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub require_subject: Option<bool>,

    /// Whether `iat` is required (RFC 9068); false weakens security
    #[arg(
        long,
        env = "TOLLGATE_REQUIRE_ISSUED_AT",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = BoolishValueParser::new()
    )]
    pub require_issued_at: Option<bool>,

    /// What stands in for `aud`: contains, absent-with-client, empty-with-client
    ///
    /// contains: `aud` holds an --audience (RFC 9068). absent-with-client: a token without
    /// `aud` passes for an --allowed-client (Cognito); empty-with-client: `aud: []` does
    /// (Hydra). Both **weaken security**. Defaults to the profile's.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_AUDIENCE_POLICY",
        value_name = "POLICY",
        value_parser = PossibleValuesParser::new(["contains", "absent-with-client", "empty-with-client"])
            .map(|name| audience_policy(&name))
    )]
    pub audience_policy: Option<AudiencePolicy>,

    /// Only tokens of this client pass (repeatable, or comma-separated)
    ///
    /// Needed by absent-with-client and empty-with-client. Under absent-with-client
    /// (the cognito profile), --audience values are client ids and count as these.
    #[arg(
        verbatim_doc_comment,
        long = "allowed-client",
        env = "TOLLGATE_ALLOWED_CLIENT",
        value_name = "ID",
        value_delimiter = ',',
        value_parser = super::non_blank
    )]
    pub allowed_clients: Vec<String>,

    /// A claim tokens must carry with this value (repeatable, or comma-separated)
    ///
    /// NAME=VALUE, e.g. token_use=access. The same NAME twice accepts either value.
    /// A token that fails it is refused as not an access token.
    #[arg(
        verbatim_doc_comment,
        long = "require-claim",
        env = "TOLLGATE_REQUIRE_CLAIM",
        value_name = "NAME=VALUE",
        value_delimiter = ',',
        value_parser = required_claim
    )]
    pub require_claims: Vec<(String, String)>,

    /// A claim tokens must carry, whatever its value (repeatable, or comma-separated)
    #[arg(
        long = "require-claim-present",
        env = "TOLLGATE_REQUIRE_CLAIM_PRESENT",
        value_name = "NAME",
        value_delimiter = ',',
        value_parser = super::non_blank
    )]
    pub require_claims_present: Vec<String>,

    /// A claim that refuses a token carrying it (repeatable, or comma-separated)
    #[arg(
        long = "forbid-claim",
        env = "TOLLGATE_FORBID_CLAIM",
        value_name = "NAME",
        value_delimiter = ',',
        value_parser = super::non_blank
    )]
    pub forbid_claims: Vec<String>,
}

impl Default for Compatibility {
    /// What an empty command line and environment give: the strict profile, nothing else.
    fn default() -> Self {
        Self {
            profile: "strict".to_owned(),
            allow_untyped_tokens: false,
            accept_scp_claim: false,
            accept_typ_jwt: None,
            accept_missing_typ: None,
            client_id_claims: Vec::new(),
            scope_claims: Vec::new(),
            roles_claims: Vec::new(),
            permissions_claims: Vec::new(),
            jti: None,
            require_subject: None,
            require_issued_at: None,
            audience_policy: None,
            allowed_clients: Vec::new(),
            require_claims: Vec::new(),
            require_claims_present: Vec::new(),
            forbid_claims: Vec::new(),
        }
    }
}

impl Compatibility {
    /// The profile named by --profile (strict for a name clap would have refused).
    pub fn profile(&self) -> Profile {
        Profile::named(&self.profile).unwrap_or_default()
    }

    /// The audience policy in force: the flag's, else the profile's.
    pub fn audience_policy(&self) -> AudiencePolicy {
        self.audience_policy
            .unwrap_or_else(|| self.profile().audience_policy())
    }

    /// Whether anything beyond the profile is set, for the banner.
    pub fn refines_the_profile(&self) -> bool {
        *self
            != Self {
                profile: self.profile.clone(),
                ..Self::default()
            }
    }

    /// `issuer` with the profile, then every switch given.
    pub fn apply(&self, issuer: TrustedIssuer) -> TrustedIssuer {
        let mut issuer = issuer.profile(self.profile());
        // The builder's shorthands, spelt out (TollgateBuilder::allow_untyped_tokens and
        // accept_scp_claim say which narrow switches they stand for).
        if self.allow_untyped_tokens {
            issuer = issuer
                .accept_typ_jwt(true)
                .accept_missing_typ(true)
                .client_id_claims([
                    ClientIdClaim::ClientId,
                    ClientIdClaim::Azp,
                    ClientIdClaim::None,
                ])
                .jti(JtiPolicy::Optional)
                .require_subject(false)
                .require_issued_at(false);
        }
        if self.accept_scp_claim {
            issuer = issuer.scope_sources([
                ScopeSource::ScopeString,
                ScopeSource::ScopeArray,
                ScopeSource::ScpString,
                ScopeSource::ScpArray,
            ]);
        }
        if let Some(accept) = self.accept_typ_jwt {
            issuer = issuer.accept_typ_jwt(accept);
        }
        if let Some(accept) = self.accept_missing_typ {
            issuer = issuer.accept_missing_typ(accept);
        }
        if !self.client_id_claims.is_empty() {
            issuer = issuer.client_id_claims(self.client_id_claims.iter().copied());
        }
        if !self.scope_claims.is_empty() {
            issuer = issuer.scope_sources(self.scope_claims.iter().copied());
        }
        for path in &self.roles_claims {
            issuer = issuer.roles_claim(path.clone());
        }
        for path in &self.permissions_claims {
            issuer = issuer.permissions_claim(path.clone());
        }
        if let Some(policy) = &self.jti {
            issuer = issuer.jti(policy.clone());
        }
        if let Some(require) = self.require_subject {
            issuer = issuer.require_subject(require);
        }
        if let Some(require) = self.require_issued_at {
            issuer = issuer.require_issued_at(require);
        }
        if let Some(policy) = self.audience_policy {
            issuer = issuer.audience_policy(policy);
        }
        issuer = issuer.allowed_clients(self.allowed_clients.iter().cloned());
        for (name, value) in &self.require_claims {
            issuer = issuer.require_claim(name.clone(), value.clone());
        }
        for name in &self.require_claims_present {
            issuer = issuer.require_claim_present(name.clone());
        }
        for name in &self.forbid_claims {
            issuer = issuer.forbid_claim(name.clone());
        }
        issuer
    }
}

fn client_id_claim(name: &str) -> ClientIdClaim {
    match name {
        "azp" => ClientIdClaim::Azp,
        "appid" => ClientIdClaim::Appid,
        "cid" => ClientIdClaim::Cid,
        "none" => ClientIdClaim::None,
        _ => ClientIdClaim::ClientId,
    }
}

fn scope_source(name: &str) -> ScopeSource {
    match name {
        "scope-array" => ScopeSource::ScopeArray,
        "scp" => ScopeSource::ScpString,
        "scp-array" => ScopeSource::ScpArray,
        _ => ScopeSource::ScopeString,
    }
}

fn audience_policy(name: &str) -> AudiencePolicy {
    match name {
        "absent-with-client" => AudiencePolicy::AbsentWithClientAllowlist,
        "empty-with-client" => AudiencePolicy::EmptyWithClientAllowlist,
        _ => AudiencePolicy::Contains,
    }
}

fn jti_policy(value: &str) -> Result<JtiPolicy, &'static str> {
    match value.trim() {
        "required" => Ok(JtiPolicy::Required),
        "optional" => Ok(JtiPolicy::Optional),
        other => match other.strip_prefix("alias:").map(str::trim) {
            Some(name) if !name.is_empty() && name != "jti" => Ok(JtiPolicy::alias(name)),
            _ => Err("expected required, optional or alias:NAME"),
        },
    }
}

fn required_claim(value: &str) -> Result<(String, String), &'static str> {
    match value.split_once('=') {
        Some((name, claim)) if !name.trim().is_empty() && !claim.is_empty() => {
            Ok((name.trim().to_owned(), claim.to_owned()))
        }
        _ => Err("expected NAME=VALUE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_to_the_switches_they_name() {
        assert_eq!(client_id_claim("cid"), ClientIdClaim::Cid);
        assert_eq!(client_id_claim("none"), ClientIdClaim::None);
        assert_eq!(scope_source("scp-array"), ScopeSource::ScpArray);
        assert_eq!(
            audience_policy("empty-with-client"),
            AudiencePolicy::EmptyWithClientAllowlist
        );
        assert_eq!(jti_policy("alias:uti"), Ok(JtiPolicy::alias("uti")));
        assert_eq!(jti_policy("optional"), Ok(JtiPolicy::Optional));
        for bad in ["alias:", "alias:jti", "maybe", ""] {
            assert!(jti_policy(bad).is_err(), "{bad}");
        }
        assert_eq!(
            required_claim("token_use=access"),
            Ok(("token_use".into(), "access".into()))
        );
        assert_eq!(
            required_claim("url=https://x?a=b"),
            Ok(("url".into(), "https://x?a=b".into()))
        );
        for bad in ["token_use", "=access", "token_use="] {
            assert!(required_claim(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_cognito_profile_makes_the_audience_a_client() {
        let cognito = Compatibility {
            profile: "cognito".into(),
            ..Compatibility::default()
        };
        assert_eq!(
            cognito.audience_policy(),
            AudiencePolicy::AbsentWithClientAllowlist
        );
        assert!(!cognito.refines_the_profile());
        let refined = Compatibility {
            audience_policy: Some(AudiencePolicy::Contains),
            ..cognito
        };
        assert_eq!(refined.audience_policy(), AudiencePolicy::Contains);
        assert!(refined.refines_the_profile());
    }
}
