//! `metadata::canonical_json` over any JSON document serde_json accepts (the
//! daemon parses clients' metadata with serde_json, then hashes its canonical
//! form into the record).
//!
//! Invariants: the canonical form is valid UTF-8 and valid JSON, canonical
//! twice is canonical once (parse it, canonicalise again: same bytes, so the
//! digest is stable), `digest` is SHA-256 of it, it has no insignificant
//! whitespace, and, for documents without floats, it parses back to the same
//! value (nothing is lost or changed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_seal::hash::sha256;
use minutier_seal::metadata::{canonical_json, digest};
use serde_json::Value;

fn has_float(v: &Value) -> bool {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n) if n.is_f64() => return true,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    false
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let canon = canonical_json(&value);
    let text = std::str::from_utf8(&canon).expect("canonical JSON is UTF-8");
    let reparsed: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("canonical JSON {text:?} does not parse: {e}"));
    assert_eq!(
        String::from_utf8_lossy(&canonical_json(&reparsed)),
        text,
        "canonicalisation is not idempotent"
    );
    assert_eq!(digest(&value), sha256(&canon));
    if !has_float(&value) {
        assert_eq!(reparsed, value, "canonical JSON changed the value");
    }
    // No insignificant whitespace: every whitespace byte is inside a string.
    let mut in_string = false;
    let mut escaped = false;
    for &b in &canon {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (_, false, b'"') => in_string = !in_string,
            (false, _, b' ' | b'\n' | b'\r' | b'\t') => {
                panic!("whitespace outside strings: {text:?}")
            }
            _ => {}
        }
    }
});
