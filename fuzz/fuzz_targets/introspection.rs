//! Any body as an RFC 7662 introspection answer: no panic, and only a JSON object whose
//! `active` member is the boolean `true` can be an active answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::fuzzing;

fuzz_target!(|data: &[u8]| {
    let now = 1_700_000_000;
    if fuzzing::parse_introspection(data, now) == Ok(true) {
        let answer: serde_json::Value =
            serde_json::from_slice(data).expect("an active answer is JSON");
        assert_eq!(answer["active"], serde_json::Value::Bool(true), "{answer}");
    }
});
