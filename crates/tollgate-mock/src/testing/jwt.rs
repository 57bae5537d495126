//! The parts of a compact JWT (RFC 7515 §3.1, §7.1), to take tokens apart and craft new ones.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// `bytes` in base64url without padding, as JWS segments are spelled (RFC 7515 §2).
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `value` serialized as JSON, then [`b64`]: a header or payload segment.
pub fn b64_json(value: &Value) -> String {
    b64(value.to_string())
}

/// The three segments of a compact JWS: header, payload, signature.
///
/// # Panics
/// If `token` does not have exactly three segments.
pub fn segments(token: &str) -> [String; 3] {
    match token.split('.').collect::<Vec<_>>()[..] {
        [header, payload, signature] => [header.into(), payload.into(), signature.into()],
        ref parts => panic!("not a compact JWS: {} segments in {token:?}", parts.len()),
    }
}

/// The JSON in a header or payload segment; `None` when it is not base64url or not JSON.
pub fn segment_json(segment: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The decoded, unverified JOSE header of a compact JWS.
///
/// # Panics
/// If `token` does not have three segments or its header is not base64url JSON.
pub fn jwt_header(token: &str) -> Value {
    let [header, _, _] = segments(token);
    segment_json(&header).unwrap_or_else(|| panic!("the header of {token:?} is not base64url JSON"))
}

/// The same bytes as `segment`, spelled another way: the last character changed so that only
/// its unused trailing bits differ (RFC 4648 §3.5). A token cache keyed by the token string
/// must not take it for the canonical spelling, nor a decoder accept it.
///
/// # Panics
/// If `segment` is not base64url, or its length leaves no unused bits (a multiple of 4).
pub fn non_canonical(segment: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let unused_bits = match segment.len() % 4 {
        2 => 4,
        3 => 2,
        _ => panic!(
            "a segment of {} characters has no unused bits",
            segment.len()
        ),
    };
    let last = *segment.as_bytes().last().unwrap_or(&0);
    let index = ALPHABET
        .iter()
        .position(|&c| c == last)
        .unwrap_or_else(|| panic!("{segment:?} is not base64url"));
    let mut out = segment[..segment.len() - 1].to_owned();
    out.push(char::from(ALPHABET[index ^ ((1 << unused_bits) - 1)]));
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn segments_round_trip() {
        let token = format!(
            "{}.{}.{}",
            b64_json(&json!({"alg": "none"})),
            b64("{}"),
            b64([1, 2])
        );
        let [header, payload, signature] = segments(&token);
        assert_eq!(jwt_header(&token), json!({"alg": "none"}));
        assert_eq!(segment_json(&payload), Some(json!({})));
        assert_eq!(signature, "AQI");
        assert_eq!(segment_json("!"), None);
        assert_eq!(header, "eyJhbGciOiJub25lIn0");
    }

    #[test]
    #[should_panic(expected = "not a compact JWS: 2 segments")]
    fn two_segments_are_not_a_jws() {
        segments("a.b");
    }

    #[test]
    fn a_non_canonical_spelling_decodes_leniently_to_the_same_bytes() {
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            base64::engine::GeneralPurposeConfig::new()
                .with_encode_padding(false)
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
                .with_decode_allow_trailing_bits(true),
        );
        for bytes in [&b"ab"[..], b"abcd", b"abcde"] {
            let canonical = b64(bytes);
            let other = non_canonical(&canonical);
            assert_ne!(other, canonical);
            assert_eq!(lenient.decode(&other).unwrap(), bytes);
            assert!(
                URL_SAFE_NO_PAD.decode(&other).is_err(),
                "strict decoding refuses it"
            );
        }
    }
}
