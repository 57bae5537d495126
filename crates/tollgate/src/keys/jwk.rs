//! JWK sets (RFC 7517) parsed into [`VerifyKey`]s.
//!
//! Longer than 400 lines for a reason: the checks of one JWK, in the order they apply, with the
//! RFC section of each; one reading of a key type per function.
//!
//! Our own parser rather than a general-purpose JWK type: those commonly ignore `alg`, `use` and
//! `key_ops` and turn `kty: oct` into an HMAC key (RFC 8725 §3.1 forbids mixing key types this
//! way; docs/ARCHITECTURE.md, "Key sets"). Here every key is bound to its
//! key type *and* one algorithm, and a key that is not clearly a signature-verification key for
//! an allowed algorithm is left out. One bad key never spoils the others; only a document that is
//! not a JWK set at all is an error. A JWK set without a single usable key is a result like any
//! other: the loader decides what it means (the key set is then empty).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;

use super::snapshot::{KeySnapshot, VerifyKey};
use crate::alg::{Algorithm, Curve, KeyType};
use crate::log::{debug, warn};

/// At most this many entries of a JWKS are looked at; the rest are ignored. Real key sets hold
/// a handful of keys; this bounds the work a hostile or broken document can cause.
pub(super) const MAX_KEYS: usize = 100;

/// Longest `kid` accepted. Key ids are short labels or thumbprints (RFC 7638: 43 characters).
pub(super) const MAX_KID_LEN: usize = 256;

/// RFC 7518 §3.3 / §3.5: RSA keys of 2048 bits or more; the verifier accepts up to 8192.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// base64url (RFC 7515 §2) without padding, tolerating padding that some servers still send.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a JWKS document as a whole is unusable (the last good key set stays in use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum JwksError {
    /// Not JSON at all.
    NotJson(String),
    /// JSON, but not an object with a `keys` array (RFC 7517 §5).
    NotJwkSet(String),
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson(why) => write!(f, "JWKS is not JSON: {why}"),
            Self::NotJwkSet(why) => {
                write!(
                    f,
                    "JWKS is not a JWK set (an object with a \"keys\" array): {why}"
                )
            }
        }
    }
}

#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<serde_json::Value>,
}

/// The members of a JWK that matter here (RFC 7517 §4, RFC 7518 §6). Unknown members, `x5c`
/// among them, are ignored: certificates are neither followed nor trusted (RFC 8725 §3.10).
#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    kid: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<serde_json::Value>,
    /// Not an RFC 7517 member: Entra ID names the issuer (a `{tenantid}` template) whose
    /// tokens a key may verify. Kept with the key, which then verifies only those.
    issuer: Option<String>,
}

/// Why one JWK was left out.
enum Skip {
    /// Not meant for us (encryption key, another algorithm, an unsupported curve): DEBUG.
    Ignored(Cow<'static, str>),
    /// Broken or dangerous: WARN, since the authorization server's key set needs attention.
    Invalid(Cow<'static, str>),
}

/// The public parameters of a key, decoded but not yet handed to the crypto library.
enum Params {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// `0x04 || x || y` (SEC 1 §2.3.3 uncompressed point).
    Ec {
        point: Vec<u8>,
    },
    Ed25519 {
        x: Vec<u8>,
    },
}

/// A JWK that passed every check except building the key itself.
struct Candidate {
    kid: Option<String>,
    alg: Algorithm,
    params: Params,
    issuer: Option<String>,
}

impl Candidate {
    /// An unambiguous encoding of the public parameters, to recognise an unchanged key.
    fn fingerprint(&self) -> Box<[u8]> {
        let mut out = Vec::new();
        match &self.params {
            Params::Rsa { n, e } => {
                out.push(1);
                out.extend_from_slice(&u32::try_from(n.len()).unwrap_or(u32::MAX).to_be_bytes());
                out.extend_from_slice(n);
                out.extend_from_slice(e);
            }
            Params::Ec { point } => {
                out.push(2);
                out.extend_from_slice(point);
            }
            Params::Ed25519 { x } => {
                out.push(3);
                out.extend_from_slice(x);
            }
        }
        out.into_boxed_slice()
    }

    /// Reuses the previous snapshot's key when nothing changed, else builds a new one.
    fn into_key(self, previous: Option<&KeySnapshot>) -> Result<Arc<VerifyKey>, Skip> {
        let fingerprint = self.fingerprint();
        if let Some(existing) = previous.and_then(|snapshot| {
            snapshot.keys().iter().find(|key| {
                key.same_content(self.kid.as_deref(), self.alg, &fingerprint)
                    && key.issuer.as_deref() == self.issuer.as_deref()
            })
        }) {
            return Ok(Arc::clone(existing));
        }
        let parsed = match &self.params {
            Params::Rsa { n, e } => RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .to_parsed_public_key(rsa_params(self.alg)?),
            Params::Ec { point } => ParsedPublicKey::new(ec_params(self.alg)?, point),
            Params::Ed25519 { x } => ParsedPublicKey::new(&signature::ED25519, x),
        }
        .map_err(|why| {
            Skip::Invalid(format!("the crypto library rejects the key: {why}").into())
        })?;
        let mut key = VerifyKey::public(self.kid, self.alg, parsed, fingerprint);
        key.issuer = self.issuer.map(String::into_boxed_str);
        Ok(Arc::new(key))
    }
}

fn rsa_params(alg: Algorithm) -> Result<&'static signature::RsaParameters, Skip> {
    // RFC 7518 §3.3 (RSASSA-PKCS1-v1_5) and §3.5 (RSASSA-PSS, salt length = hash length, which
    // is what these parameters use).
    Ok(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return Err(Skip::Invalid("not an RSA algorithm".into())),
    })
}

fn ec_params(alg: Algorithm) -> Result<&'static signature::EcdsaVerificationAlgorithm, Skip> {
    // RFC 7518 §3.4: JWS ECDSA signatures are the fixed-width R || S, not DER.
    Ok(match alg {
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        _ => return Err(Skip::Invalid("not an ECDSA algorithm".into())),
    })
}

/// How many skip reasons a [`ParsedJwks`] keeps for the summary of an unusable set.
const SKIP_REASONS_KEPT: usize = 3;

/// A parsed JWK set: the usable keys, in document order.
#[derive(Debug)]
pub(super) struct ParsedJwks {
    pub(super) keys: Vec<Arc<VerifyKey>>,
    /// Entries in the document's `keys` array.
    pub(super) entries: usize,
    /// Entries that were left out (logged one by one).
    pub(super) skipped: usize,
    /// Why the first few were left out, for the error when none is usable.
    pub(super) skip_reasons: Vec<String>,
}

impl ParsedJwks {
    /// What an empty result is made of, for the ERROR that reports it: how many entries, and
    /// why the first ones were skipped. Never contains key material.
    pub(super) fn why_no_usable_key(&self) -> String {
        let mut text = format!(
            "no usable signature key ({} entries, {} skipped",
            self.entries, self.skipped
        );
        if !self.skip_reasons.is_empty() {
            text.push_str(": ");
            text.push_str(&self.skip_reasons.join("; "));
            if self.skipped > self.skip_reasons.len() {
                text.push_str("; ...");
            }
        }
        text.push(')');
        text
    }
}

/// Parses a JWKS body into keys for the allowed algorithms.
///
/// Keys whose content is unchanged since `previous` keep their `Arc`, so that everything
/// verified with them stays valid; keys that vanished are simply not carried over.
pub(super) fn parse_jwks(
    body: &[u8],
    allowed: &[Algorithm],
    previous: Option<&KeySnapshot>,
) -> Result<ParsedJwks, JwksError> {
    let set: RawJwkSet = serde_json::from_slice(body).map_err(|err| {
        // serde_json's messages can quote the input; positions are enough to find the fault.
        let at = format!("line {} column {}", err.line(), err.column());
        match err.classify() {
            serde_json::error::Category::Data => JwksError::NotJwkSet(at),
            _ => JwksError::NotJson(at),
        }
    })?;
    let entries = set.keys.len();
    if entries > MAX_KEYS {
        warn!("JWKS has {entries} entries; only the first {MAX_KEYS} are considered");
    }
    let mut keys: Vec<Arc<VerifyKey>> = Vec::new();
    let mut seen_kids: HashSet<String> = HashSet::new();
    let mut skipped = entries.saturating_sub(MAX_KEYS);
    let mut skip_reasons = Vec::new();
    for (index, value) in set.keys.into_iter().take(MAX_KEYS).enumerate() {
        let result = serde_json::from_value::<RawJwk>(value)
            .map_err(|_| Skip::Invalid("not a JWK object (RFC 7517 §4)".into()))
            .and_then(|raw| check_jwk(raw, allowed))
            .and_then(|candidate| {
                if let Some(kid) = &candidate.kid
                    && seen_kids.contains(kid)
                {
                    return Err(Skip::Invalid(
                        format!("duplicate kid {kid:?}; the first key with it is kept").into(),
                    ));
                }
                candidate.into_key(previous)
            });
        match result {
            Ok(key) => {
                // Only a usable key claims its kid: a broken first entry does not block the
                // good one that follows with the same kid.
                if let Some(kid) = &key.kid {
                    seen_kids.insert(kid.clone());
                }
                keys.push(key);
            }
            Err(Skip::Ignored(why)) => {
                skipped += 1;
                debug!("JWKS entry {index} ignored: {why}");
                if skip_reasons.len() < SKIP_REASONS_KEPT {
                    skip_reasons.push(format!("entry {index} ignored: {why}"));
                }
            }
            Err(Skip::Invalid(why)) => {
                skipped += 1;
                warn!("JWKS entry {index} skipped: {why}");
                if skip_reasons.len() < SKIP_REASONS_KEPT {
                    skip_reasons.push(format!("entry {index} skipped: {why}"));
                }
            }
        }
    }
    Ok(ParsedJwks {
        keys,
        entries,
        skipped,
        skip_reasons,
    })
}

/// The public members of one JWK that arrives on its own, outside any JWK set: the `jwk`
/// header of a DPoP proof (RFC 9449 §4.2). The caller has already refused private members.
pub(crate) struct PublicJwkMembers<'a> {
    pub(crate) kty: &'a str,
    pub(crate) alg: Option<&'a str>,
    pub(crate) crv: Option<&'a str>,
    pub(crate) n: Option<&'a str>,
    pub(crate) e: Option<&'a str>,
    pub(crate) x: Option<&'a str>,
    pub(crate) y: Option<&'a str>,
}

/// Builds the verification key of one public JWK for exactly `alg`, with every check a key
/// from a JWK set gets (key type and curve fit the algorithm, RSA size, coordinate lengths,
/// never `kty: oct`). A JWK without `alg` takes `alg`; one with another `alg` is refused.
/// `None` when the key is unusable; nothing is logged (the key comes from a client, not from
/// the authorization server).
pub(crate) fn single_public_key(
    jwk: &PublicJwkMembers<'_>,
    alg: Algorithm,
) -> Option<Arc<VerifyKey>> {
    let owned = |value: Option<&str>| value.map(str::to_owned);
    let raw = RawJwk {
        kty: Some(jwk.kty.to_owned()),
        use_: None,
        key_ops: None,
        // jsonwebtoken's Debug spelling of an algorithm is its JWS name.
        alg: Some(jwk.alg.map_or_else(|| alg.name().to_owned(), str::to_owned)),
        kid: None,
        crv: owned(jwk.crv),
        n: owned(jwk.n),
        e: owned(jwk.e),
        x: owned(jwk.x),
        y: owned(jwk.y),
        d: None,
        issuer: None,
    };
    check_jwk(raw, &[alg])
        .and_then(|candidate| candidate.into_key(None))
        .ok()
}

/// Checks one JWK and decodes its parameters, without building the key yet.
fn check_jwk(raw: RawJwk, allowed: &[Algorithm]) -> Result<Candidate, Skip> {
    if let Some(kid) = &raw.kid
        && kid.len() > MAX_KID_LEN
    {
        return Err(Skip::Invalid(
            format!("kid of {} bytes (at most {MAX_KID_LEN})", kid.len()).into(),
        ));
    }
    let name = describe(raw.kid.as_deref());
    // RFC 7517 §4.2: only `sig` keys (or keys that do not say) are for signatures.
    match raw.use_.as_deref() {
        None | Some("sig") => {}
        Some(other) => {
            return Err(Skip::Ignored(
                format!("{name}: use {}", quoted(other)).into(),
            ));
        }
    }
    // RFC 7517 §4.3: when `key_ops` is present, it must allow verification.
    if let Some(ops) = &raw.key_ops
        && !ops.iter().any(|op| op == "verify")
    {
        return Err(Skip::Ignored(
            format!("{name}: key_ops without \"verify\"").into(),
        ));
    }
    // A published private key means anyone can sign tokens: refuse it loudly.
    if raw.d.is_some() {
        return Err(Skip::Invalid(
            format!("{name} contains private key material (\"d\"); the authorization server is leaking its key").into(),
        ));
    }
    let declared = match raw.alg.as_deref() {
        None => None,
        Some("none") => return Err(Skip::Invalid(format!("{name}: alg \"none\"").into())),
        Some(other) => match Algorithm::from_jwk_name(other) {
            Some(alg) => Some(alg),
            // Encryption algorithms (RSA-OAEP, ECDH-ES, ...) and signature algorithms this
            // crate does not verify (ES512, ES256K, ...).
            None => {
                return Err(Skip::Ignored(
                    format!("{name}: unsupported alg {}", quoted(other)).into(),
                ));
            }
        },
    };
    let kty = raw.kty.as_deref().unwrap_or("");
    let (alg, params) = match kty {
        "RSA" => rsa_key(&name, &raw, declared, allowed)?,
        "EC" => ec_key(&name, &raw, declared, allowed)?,
        "OKP" => okp_key(&name, &raw, declared, allowed)?,
        // RFC 8725 §3.1: a symmetric key never comes from a JWKS; turning one into an
        // HMAC key would let anyone who can read the JWKS sign tokens.
        "oct" => {
            return Err(Skip::Invalid(
                format!("{name}: symmetric (kty \"oct\") keys are never taken from a JWKS").into(),
            ));
        }
        "" => return Err(Skip::Invalid(format!("{name}: no kty").into())),
        other => {
            return Err(Skip::Invalid(
                format!("{name}: unknown kty {}", quoted(other)).into(),
            ));
        }
    };
    Ok(Candidate {
        kid: raw.kid,
        alg,
        params,
        issuer: raw.issuer,
    })
}

/// A member value from the document, shortened and escaped for a log line.
fn quoted(value: &str) -> String {
    let short: String = value.chars().take(32).collect();
    format!("{short:?}")
}

/// `key "abc"` or `key without kid`, for log lines.
fn describe(kid: Option<&str>) -> String {
    match kid {
        Some(kid) => format!("key {kid:?}"),
        None => "key without kid".to_owned(),
    }
}

/// The key's algorithm: the declared one, which must fit the key type, or the derived one.
/// Either way it must be in the allowlist (RFC 8725 §3.1).
fn bind_alg(
    name: &str,
    declared: Option<Algorithm>,
    derived: Algorithm,
    fits: impl Fn(Algorithm) -> bool,
    allowed: &[Algorithm],
) -> Result<Algorithm, Skip> {
    let alg = match declared {
        Some(alg) if fits(alg) => alg,
        Some(alg) => {
            return Err(Skip::Invalid(
                format!("{name}: alg {alg:?} does not fit its key type or curve").into(),
            ));
        }
        None => derived,
    };
    if allowed.contains(&alg) {
        Ok(alg)
    } else {
        Err(Skip::Ignored(
            format!("{name}: {alg:?} is not an allowed algorithm").into(),
        ))
    }
}

fn rsa_key(
    name: &str,
    raw: &RawJwk,
    declared: Option<Algorithm>,
    allowed: &[Algorithm],
) -> Result<(Algorithm, Params), Skip> {
    // An RSA JWK without `alg` is taken as RS256, the algorithm nearly every deployment uses
    // and the one RFC 7518 §3.1 recommends. Servers that sign PS* must say so in `alg`.
    let alg = bind_alg(
        name,
        declared,
        Algorithm::RS256,
        |alg| alg.key_type() == KeyType::Rsa,
        allowed,
    )?;
    // RFC 7518 §6.3.1: unsigned big-endian integers. Leading zero octets are tolerated (some
    // libraries emit them) and removed, as the key builder wants the minimal encoding.
    let n = strip_leading_zeros(decode(name, "n", raw.n.as_deref())?);
    let e = strip_leading_zeros(decode(name, "e", raw.e.as_deref())?);
    let bits = bit_len(&n);
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(Skip::Invalid(
            format!(
                "{name}: RSA modulus of {bits} bits ({RSA_MIN_BITS} to {RSA_MAX_BITS} required, \
                 RFC 7518 §3.3)"
            )
            .into(),
        ));
    }
    // Public exponents are small odd numbers (3, 65537); anything else is a broken key.
    if e.is_empty() || e.len() > 8 || e.last().is_some_and(|low| low % 2 == 0) || e == [1] {
        return Err(Skip::Invalid(
            format!("{name}: invalid RSA exponent").into(),
        ));
    }
    Ok((alg, Params::Rsa { n, e }))
}

fn ec_key(
    name: &str,
    raw: &RawJwk,
    declared: Option<Algorithm>,
    allowed: &[Algorithm],
) -> Result<(Algorithm, Params), Skip> {
    let crv = raw.crv.as_deref();
    let curve = match (crv, crv.and_then(Curve::from_jwk_name)) {
        (_, Some(curve)) => curve,
        (Some("P-521" | "secp256k1"), None) => {
            return Err(Skip::Ignored(format!("{name}: unsupported curve").into()));
        }
        (Some(other), None) => {
            return Err(Skip::Invalid(
                format!("{name}: unknown EC curve {}", quoted(other)).into(),
            ));
        }
        (None, None) => return Err(Skip::Invalid(format!("{name}: EC key without crv").into())),
    };
    // The curve decides the algorithm (RFC 7518 §3.4): ES256 is P-256 only, ES384 P-384 only.
    let derived = curve.algorithm();
    let alg = bind_alg(
        name,
        declared,
        derived,
        |alg| alg.key_type() == KeyType::Ec(curve),
        allowed,
    )?;
    let coordinate_len = curve.coordinate_len();
    let x = decode(name, "x", raw.x.as_deref())?;
    let y = decode(name, "y", raw.y.as_deref())?;
    // RFC 7518 §6.2.1.2/3: each coordinate is the full size of the field, zeros kept.
    if x.len() != coordinate_len || y.len() != coordinate_len {
        return Err(Skip::Invalid(
            format!("{name}: EC coordinates must be {coordinate_len} bytes each").into(),
        ));
    }
    let mut point = Vec::with_capacity(1 + 2 * coordinate_len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok((alg, Params::Ec { point }))
}

fn okp_key(
    name: &str,
    raw: &RawJwk,
    declared: Option<Algorithm>,
    allowed: &[Algorithm],
) -> Result<(Algorithm, Params), Skip> {
    match raw.crv.as_deref() {
        Some("Ed25519") => {}
        // Ed448 signatures are not supported; X25519/X448 are key-agreement keys (RFC 8037 §3.2).
        Some("Ed448" | "X25519" | "X448") => {
            return Err(Skip::Ignored(format!("{name}: unsupported curve").into()));
        }
        Some(other) => {
            return Err(Skip::Invalid(
                format!("{name}: unknown OKP curve {}", quoted(other)).into(),
            ));
        }
        None => return Err(Skip::Invalid(format!("{name}: OKP key without crv").into())),
    }
    let alg = bind_alg(
        name,
        declared,
        Algorithm::EdDSA,
        |alg| alg.key_type() == KeyType::Ed25519,
        allowed,
    )?;
    // RFC 8037 §2: `x` is the raw 32-byte public key.
    let x = decode(name, "x", raw.x.as_deref())?;
    if x.len() != 32 {
        return Err(Skip::Invalid(
            format!("{name}: Ed25519 key must be 32 bytes").into(),
        ));
    }
    Ok((alg, Params::Ed25519 { x }))
}

fn decode(name: &str, member: &str, value: Option<&str>) -> Result<Vec<u8>, Skip> {
    let value =
        value.ok_or_else(|| Skip::Invalid(format!("{name}: missing \"{member}\"").into()))?;
    B64.decode(value)
        .map_err(|_| Skip::Invalid(format!("{name}: \"{member}\" is not base64url").into()))
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// Bit length of a minimal big-endian unsigned integer.
fn bit_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(&first) => (bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}
