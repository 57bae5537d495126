//! Microsoft Entra ID, v1.0 and v2.0 access tokens. Facts from the Microsoft identity platform
//! docs (MicrosoftDocs/entra-docs): `access-tokens.md` ("Token formats", "Validate the
//! issuer", "Validate the signing key issuer", the v1 sample token) and
//! `access-token-claims-reference.md` (header and payload claims).
//!
//! The real issuers live on two hosts (`sts.windows.net` for v1, `login.microsoftonline.com`
//! for v2); the mock serves both forms on its own address.

use serde_json::{Value, json};

use super::keys::{KeyStyle, KidSpelling};
use super::{Document, Layout, Purpose, Server, Shape, client, ids, openid, stamp};
use crate::state::Config;
use crate::tokens::ClaimSet;

#[derive(Debug)]
pub(super) struct Entra {
    v2: bool,
}

pub(super) static V1: Entra = Entra { v2: false };
pub(super) static V2: Entra = Entra { v2: true };

/// The stable object id of the default user.
const OID: &str = "5b3f6a2e-1c4d-4e8a-9f7b-a11ce0000001";
/// The literal placeholder of the multi-tenant documents.
const TEMPLATE: &str = "{tenantid}";

/// The issuer of `tenant`'s tokens on this server, for an Entra shape.
pub(crate) fn tenant_issuer(config: &Config, tenant: &str) -> Option<String> {
    let base = &config.base_url;
    match config.shape {
        Shape::EntraV1 { .. } => Some(format!("{base}/{tenant}/")),
        Shape::EntraV2 { .. } => Some(format!("{base}/{tenant}/v2.0")),
        _ => None,
    }
}

fn tenant(config: &Config) -> String {
    config.shape.tenant().unwrap_or_default().to_owned()
}

impl Entra {
    /// The tenant-independent JWKS path (`/common/discovery[/v2.0]/keys`).
    fn common_keys(&self) -> &'static str {
        if self.v2 {
            "/common/discovery/v2.0/keys"
        } else {
            "/common/discovery/keys"
        }
    }
}

impl Server for Entra {
    fn default_path(&self, shape: &Shape) -> String {
        let tenant = shape.tenant().unwrap_or_default();
        if self.v2 {
            format!("/{tenant}/v2.0")
        } else {
            format!("/{tenant}")
        }
    }

    fn trailing_slash(&self) -> bool {
        // v1: `https://sts.windows.net/{tid}/`.
        !self.v2
    }

    fn layout(&self, base: &str, shape: &Shape) -> Layout {
        let tenant = shape.tenant().unwrap_or_default();
        let (common, keys, token) = if self.v2 {
            ("/common/v2.0", "discovery/v2.0/keys", "oauth2/v2.0/token")
        } else {
            ("/common", "discovery/keys", "oauth2/token")
        };
        Layout {
            jwks: format!("/{tenant}/{keys}"),
            token: format!("/{tenant}/{token}"),
            // No RFC 7662 endpoint, and no RFC 8414 document (unconfirmed as documented
            // statements: none appears in any metadata).
            introspection: None,
            revocation: None,
            documents: vec![
                (openid(base), Document::OpenId),
                (openid(common), Document::MultiTenant),
            ],
            more_jwks: vec![self.common_keys().to_owned()],
        }
    }

    fn key_style(&self) -> KeyStyle {
        KeyStyle {
            // `kid` and `x5t` are the same certificate thumbprint.
            kid: KidSpelling::Thumbprint,
            certificate: Some("accounts.accesscontrol.windows.net"),
            // The documented keys carry no `alg`.
            alg: false,
            use_: true,
            x5c: true,
            x5t: true,
            x5t_s256: false,
        }
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        // Unconfirmed: Microsoft tells clients to check for new keys every 24 hours.
        Some("max-age=86400, private")
    }

    fn key_issuer(&self, config: &Config) -> Option<String> {
        // The v2 keys carry the issuer they may sign for: the template matches every tenant.
        self.v2
            .then(|| format!("{}/{TEMPLATE}/v2.0", config.base_url))
    }

    fn typ(&self, _purpose: Purpose) -> Option<&'static str> {
        Some("JWT")
    }

    fn header_x5t(&self) -> bool {
        // "v2.0 tokens contain only the kid"; v1 tokens repeat it as the legacy x5t.
        !self.v2
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        let iat = stamp(config, c);
        c.set("aud", config.audience.clone());
        c.set("iss", config.issuer.clone());
        c.set("nbf", iat);
        c.set("aio", ids::base64url(48));
        c.set("name", "Alice");
        c.set("oid", OID);
        c.set("rh", ids::base64url(24));
        c.set("scp", "read");
        c.set("sub", "alice");
        c.set("tid", tenant(config));
        // Entra's equivalent of jti.
        c.set("uti", ids::base64url(16));
        if self.v2 {
            c.set("azp", client(config));
            c.set("azpacr", "1");
            c.set("preferred_username", "alice@tollgate.test");
            c.set("ver", "2.0");
        } else {
            c.set("acr", "1");
            c.set("amr", json!(["pwd"]));
            c.set("appid", client(config));
            c.set("appidacr", "1");
            c.set("unique_name", "alice@tollgate.test");
            c.set("upn", "alice@tollgate.test");
            c.set("ver", "1.0");
        }
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        let iat = stamp(config, c);
        // The ID token's audience is the client app, never the API.
        c.set("aud", client(config));
        c.set("iss", config.issuer.clone());
        c.set("nbf", iat);
        c.set("name", "Alice");
        c.set("nonce", ids::nonce());
        c.set("oid", OID);
        c.set("sub", "alice");
        c.set("tid", tenant(config));
        if self.v2 {
            c.set("aio", ids::base64url(48));
            c.set("preferred_username", "alice@tollgate.test");
            c.set("rh", ids::base64url(24));
            c.set("uti", ids::base64url(16));
            c.set("ver", "2.0");
        } else {
            c.set("amr", json!(["pwd"]));
            c.set("unique_name", "alice@tollgate.test");
            c.set("upn", "alice@tollgate.test");
            c.set("ver", "1.0");
        }
    }

    fn client_id(&self, c: &mut ClaimSet, id: &str) {
        match (c.purpose(), self.v2) {
            (Purpose::Id, _) => c.set("aud", id),
            (Purpose::Access, true) => c.set("azp", id),
            (Purpose::Access, false) => c.set("appid", id),
        }
    }

    fn scope(&self, c: &mut ClaimSet, scope: &str) {
        c.set("scp", scope);
    }

    fn document(&self, config: &Config, document: Document) -> Value {
        let (issuer, jwks_uri, region) = if document == Document::MultiTenant {
            let issuer = if self.v2 {
                format!("{}/{TEMPLATE}/v2.0", config.base_url)
            } else {
                format!("{}/{TEMPLATE}/", config.base_url)
            };
            (issuer, config.url(self.common_keys()), Value::Null)
        } else {
            (
                config.issuer.clone(),
                config.url(&config.paths.jwks),
                "EU".into(),
            )
        };
        let response_types = if self.v2 {
            json!(["code", "id_token", "code id_token", "id_token token"])
        } else {
            json!([
                "code",
                "id_token",
                "code id_token",
                "token id_token",
                "token"
            ])
        };
        json!({
            // The mock serves one token endpoint: the tenant's, also in the common document.
            "token_endpoint": config.url(&config.paths.token),
            "token_endpoint_auth_methods_supported": [
                "client_secret_post", "private_key_jwt", "client_secret_basic"
            ],
            "jwks_uri": jwks_uri,
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": response_types,
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer,
            "request_uri_parameter_supported": false,
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "tenant_region_scope": region,
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        })
    }
}
