//! Any body as a JWKS document, as a key-set refresh parses it: no panic, no unbounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::fuzzing;

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = fuzzing::parse_jwks(data) {
        // An accepted document has at least one usable key and at most the entry bound.
        assert!((1..=100).contains(&keys), "{keys} keys");
    }
});
