//! SHA-256 thumbprints: of a public JWK (RFC 7638, the `cnf.jkt` of RFC 9449 §6) and of a DER
//! certificate (the `cnf.x5t#S256` of RFC 8705 §3.1).

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{self, Context, SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Length of a base64url (unpadded) SHA-256 digest.
pub(crate) const B64_LEN: usize = 43;

/// A SHA-256 thumbprint. Equality runs in constant time: one side of every comparison is a
/// value from the request.
#[derive(Clone, Copy)]
pub(crate) struct Thumbprint([u8; 32]);

impl Thumbprint {
    /// Parses the base64url form a token carries (`cnf.jkt`, `cnf.x5t#S256`): exactly 43
    /// characters of strict base64url, no padding, no stray trailing bits (RFC 7515 §2).
    pub(crate) fn from_b64(value: &str) -> Option<Self> {
        if value.len() != B64_LEN {
            return None;
        }
        let mut out = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(value, &mut out) {
            Ok(32) => Some(Self(out)),
            _ => None,
        }
    }

    /// The base64url form, as `cnf` members carry it.
    pub(crate) fn to_b64(self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The digest, for keys of the replay cache.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn of_digest(digest: &digest::Digest) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }
}

impl PartialEq for Thumbprint {
    fn eq(&self, other: &Self) -> bool {
        verify_slices_are_equal(&self.0, &other.0).is_ok()
    }
}

impl Eq for Thumbprint {}

impl fmt::Debug for Thumbprint {
    // Thumbprints are public values; a prefix is enough to correlate log lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b64 = self.to_b64();
        write!(f, "Thumbprint({}..)", &b64[..8])
    }
}

/// The required public members of a JWK (RFC 7638 §3.2), as the JWK spells them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PublicJwk<'a> {
    /// `kty: RSA`: `e`, `n` (RFC 7518 §6.3.1).
    Rsa { n: &'a str, e: &'a str },
    /// `kty: EC`: `crv`, `x`, `y` (RFC 7518 §6.2.1).
    Ec {
        crv: &'a str,
        x: &'a str,
        y: &'a str,
    },
    /// `kty: OKP`: `crv`, `x` (RFC 8037 §2).
    Okp { crv: &'a str, x: &'a str },
}

impl PublicJwk<'_> {
    /// The RFC 7638 SHA-256 thumbprint: the required members only, in lexicographic order of
    /// their names, no whitespace (§3.1, §3.3).
    ///
    /// The canonical JSON is hashed piece by piece, never built. `None` when a value holds a
    /// character outside base64url (which also covers every curve name): such a value would
    /// need escaping, and §3.3 hashes values unescaped, so no two implementations would agree.
    pub(crate) fn thumbprint(&self) -> Option<Thumbprint> {
        let mut ctx = Context::new(&SHA256);
        let mut put = |pieces: &[&str]| {
            for (i, piece) in pieces.iter().enumerate() {
                // Odd positions are member values; even ones are this code's own JSON syntax.
                if i % 2 == 1 && !is_plain(piece) {
                    return None;
                }
                ctx.update(piece.as_bytes());
            }
            Some(())
        };
        match *self {
            Self::Rsa { n, e } => put(&[r#"{"e":""#, e, r#"","kty":"RSA","n":""#, n, r#""}"#])?,
            Self::Ec { crv, x, y } => put(&[
                r#"{"crv":""#,
                crv,
                r#"","kty":"EC","x":""#,
                x,
                r#"","y":""#,
                y,
                r#""}"#,
            ])?,
            Self::Okp { crv, x } => {
                put(&[r#"{"crv":""#, crv, r#"","kty":"OKP","x":""#, x, r#""}"#])?;
            }
        }
        Some(Thumbprint::of_digest(&ctx.finish()))
    }
}

/// Non-empty and only base64url characters: nothing JSON would escape.
pub(crate) fn is_plain(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The RFC 8705 §3.1 `x5t#S256` of a certificate: the SHA-256 of its DER encoding.
pub(crate) fn certificate_thumbprint(der: &[u8]) -> Thumbprint {
    Thumbprint::of_digest(&digest::digest(&SHA256, der))
}

/// The RFC 9449 §4.2 `ath` of an access token, base64url: the SHA-256 of its ASCII octets.
/// Written into a stack buffer: this runs on every DPoP request.
pub(crate) fn access_token_hash(token: &str, out: &mut [u8; B64_LEN]) {
    let digest = digest::digest(&SHA256, token.as_bytes());
    // 32 bytes always encode to exactly 43 characters, so the slice is always large enough.
    let _ = URL_SAFE_NO_PAD.encode_slice(digest.as_ref(), out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RSA key of RFC 7638 §3.1 (also RFC 7517 Appendix A.1).
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn b64(thumbprint: Option<Thumbprint>) -> String {
        thumbprint.unwrap().to_b64()
    }

    #[test]
    fn rfc_7638_rsa_example() {
        let jwk = PublicJwk::Rsa {
            n: RFC7638_N,
            e: "AQAB",
        };
        assert_eq!(
            b64(jwk.thumbprint()),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn rfc_9449_ec_example() {
        // RFC 9449 §6.1: the key of the proof examples and its `jkt`.
        let jwk = PublicJwk::Ec {
            crv: "P-256",
            x: "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            y: "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
        };
        assert_eq!(
            b64(jwk.thumbprint()),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn rfc_8037_okp_example() {
        // RFC 8037 Appendix A.3.
        let jwk = PublicJwk::Okp {
            crv: "Ed25519",
            x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        };
        assert_eq!(
            b64(jwk.thumbprint()),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn values_that_would_need_escaping_have_no_thumbprint() {
        for bad in ["", "a\"b", "a\\b", "a b", "é", "AQ=="] {
            assert!(
                PublicJwk::Rsa {
                    n: RFC7638_N,
                    e: bad
                }
                .thumbprint()
                .is_none()
            );
            assert!(
                PublicJwk::Okp {
                    crv: bad,
                    x: "AQAB"
                }
                .thumbprint()
                .is_none()
            );
        }
    }

    #[test]
    fn rfc_9449_ath_example() {
        // RFC 9449 §7.1: the access token of the examples and the `ath` of its proof.
        let mut out = [0u8; B64_LEN];
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", &mut out);
        assert_eq!(&out, b"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
    }

    #[test]
    fn base64_form_is_strict() {
        let t = certificate_thumbprint(b"a certificate");
        let text = t.to_b64();
        assert_eq!(text.len(), B64_LEN);
        assert_eq!(Thumbprint::from_b64(&text), Some(t));
        assert_ne!(
            Thumbprint::from_b64(&text),
            Some(certificate_thumbprint(b"another"))
        );
        // The 43rd character carries 4 bits of the digest and 2 bits that must be zero: the
        // same digest with one of those bits set is another spelling, refused.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = ALPHABET
            .iter()
            .position(|&c| c == text.as_bytes()[42])
            .unwrap();
        assert_eq!(last & 0b11, 0);
        let stray_bits = format!("{}{}", &text[..42], char::from(ALPHABET[last | 1]));
        // Padding, the standard alphabet, a wrong length, nothing.
        for bad in [
            stray_bits,
            format!("{}=", &text[..42]),
            format!("{text}="),
            format!("+/{}", &text[2..]),
            text[..42].to_owned(),
            String::new(),
        ] {
            assert_eq!(Thumbprint::from_b64(&bad), None, "{bad}");
        }
    }
}
