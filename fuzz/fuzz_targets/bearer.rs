//! Authorization field values and a query string, as the middleware reads them (RFC 6750 §2):
//! no panic, a status from README, "Behaviour", and a token only if it is a b64token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::fuzzing;

fuzz_target!(|data: &[u8]| {
    // Field values separated by newlines; a last part after a NUL byte is the query.
    let (fields, query) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], std::str::from_utf8(&data[at + 1..]).ok()),
        None => (data, None),
    };
    let values: Vec<&[u8]> = fields.split(|&b| b == b'\n').collect();
    match fuzzing::bearer_token(&values, query) {
        Ok(token) => {
            let body = token.trim_end_matches('=');
            assert!(!body.is_empty());
            assert!(
                body.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)),
                "not a b64token: {token:?}"
            );
        }
        Err(status) => assert!(status == 400 || status == 401, "status {status}"),
    }
});
