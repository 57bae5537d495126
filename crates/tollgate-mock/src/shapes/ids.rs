//! Random identifiers spelled the way each product spells them (`jti`s, `kid`s, user ids).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    aws_lc_rs::rand::fill(&mut buf).expect("aws-lc-rs: system randomness");
    buf
}

/// A version 4 UUID (RFC 9562 §5.4), lower-case hex with dashes.
pub(crate) fn uuid() -> String {
    let mut b = random::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `n` random bytes, base64url without padding.
pub(crate) fn base64url(n: usize) -> String {
    crate::util::random_token(n)
}

/// 32 random bytes in standard base64 with `=` padding, starting with `+/` so that every
/// such `kid` holds all three characters a base64url decoder chokes on (Cognito's spelling).
pub(crate) fn base64_padded() -> String {
    let mut b = random::<32>();
    // 0xFB 0xF. encodes as "+/": sextets 62 and 63.
    b[0] = 0xfb;
    b[1] |= 0xf0;
    STANDARD.encode(b)
}

/// A negative 32-bit decimal integer, as Curity's `kid`s look.
pub(crate) fn negative_decimal() -> String {
    let b = random::<4>();
    let n = u32::from_be_bytes(b) | 0x4000_0000;
    format!("-{}", n & 0x7fff_ffff)
}

/// `n` random decimal digits, the first one not zero (ZITADEL's numeric ids).
pub(crate) fn digits(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for byte in random::<32>() {
            // 250 = 25 * 10: rejection sampling keeps the digits uniform.
            if byte < 250 && out.len() < n {
                let digit = char::from(b'0' + byte % 10);
                if !(out.is_empty() && digit == '0') {
                    out.push(digit);
                }
            }
        }
    }
    out
}

/// `n` random characters of `[A-Za-z0-9]`.
pub(crate) fn alphanumeric(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for byte in random::<32>() {
            // 248 = 4 * 62.
            if byte < 248 && out.len() < n {
                out.push(char::from(ALPHABET[usize::from(byte) % ALPHABET.len()]));
            }
        }
    }
    out
}

/// `n` random lower-case hex digits.
pub(crate) fn hex(n: usize) -> String {
    let bytes = random::<32>();
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .chars()
        .take(n)
        .collect()
}

/// A 21-character nanoid (`[A-Za-z0-9_-]`), node-oidc-provider's `jti`.
pub(crate) fn nanoid() -> String {
    base64url(16).chars().take(21).collect()
}

/// A random `nonce` (OpenID Connect Core 1.0 §3.1.2.1).
pub(crate) fn nonce() -> String {
    base64url(16)
}

/// An `at_hash` (OpenID Connect Core 1.0 §3.1.3.6): the left half of the SHA-256 of an access
/// token, base64url. The default ID tokens are not issued with a real access token, so it is
/// the hash of a random one.
pub(crate) fn at_hash() -> String {
    let digest = digest::digest(&digest::SHA256, base64url(32).as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));

        let kid = base64_padded();
        assert_eq!(kid.len(), 44);
        assert!(kid.starts_with("+/") && kid.ends_with('='));

        let curity = negative_decimal();
        assert!(curity.starts_with('-'));
        assert!(curity[1..].parse::<u32>().unwrap() >= 0x4000_0000);

        let zitadel = digits(18);
        assert_eq!(zitadel.len(), 18);
        assert!(zitadel.chars().all(|c| c.is_ascii_digit()));
        assert!(!zitadel.starts_with('0'));

        assert_eq!(alphanumeric(40).len(), 40);
        assert!(alphanumeric(40).chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(hex(32).len(), 32);
        assert_eq!(nanoid().len(), 21);
        assert_eq!(at_hash().len(), 22);
    }
}
