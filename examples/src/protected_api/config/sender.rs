//! The sender-constraint options of `protected-api`: DPoP (RFC 9449) and the public URL the
//! API is reached at (its proofs' `htu`, and its RFC 9728 metadata's `resource`).

use clap::Args;
use tollgate::SenderConstraint;

/// How tokens may be presented, and where the API is reached.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
#[command(next_help_heading = "Sender-constrained tokens")]
pub struct SenderConfig {
    /// DPoP-bound tokens (RFC 9449): required, allowed or off
    ///
    /// required: only `Authorization: DPoP <token>` with a proof;
    /// allowed: DPoP-bound tokens with their proof, other tokens as Bearer;
    /// off (the default): Bearer only, DPoP-bound tokens refused.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_DPOP",
        value_name = "MODE",
        value_parser = sender_constraint,
        default_value = "off"
    )]
    pub dpop: SenderConstraint,

    /// The URL clients reach the API at, e.g. `https://api.example.com`
    ///
    /// DPoP proofs must name it in htu, followed by the request's path, and the
    /// protected resource metadata (RFC 9728, GET /.well-known/oauth-protected-resource)
    /// gives it as `resource`. Behind a proxy, its external URL. Defaults to
    /// `http://ADDR` of --listen.
    #[arg(
        verbatim_doc_comment,
        long,
        env = "TOLLGATE_PUBLIC_URL",
        value_name = "URL"
    )]
    pub public_url: Option<String>,
}

impl Default for SenderConfig {
    /// What an empty command line and environment give: `--dpop off`, no public URL.
    fn default() -> Self {
        Self {
            dpop: SenderConstraint::BearerOnly,
            public_url: None,
        }
    }
}

impl SenderConfig {
    /// The constraint `--dpop` asks for (`off` when not given).
    pub fn constraint(&self) -> SenderConstraint {
        self.dpop
    }
}

fn sender_constraint(value: &str) -> Result<SenderConstraint, String> {
    match value {
        "required" | "allowed" | "off" => {
            SenderConstraint::named(value).ok_or_else(|| format!("unknown mode {value:?}"))
        }
        other => Err(format!(
            "{other:?} is not a DPoP mode: use required, allowed or off"
        )),
    }
}
