//! `metadata::canonical_json` over any JSON document serde_json accepts (the
//! daemon hashes the canonical form of a document's metadata into its
//! record).
//!
//! Invariants: the canonical form is valid UTF-8 and valid JSON with no
//! insignificant whitespace; `digest` is SHA-256 of it; every float in it is
//! written in a form that Rust's correctly rounded parser reads back as the
//! same number (the documented "shortest round-trip form"); for documents
//! without floats it parses back to the same value, and canonical twice is
//! canonical once (same bytes, so the digest is stable). Canonical twice is
//! canonical once is also required of documents with floats when serde_json
//! parses floats exactly (its `float_roundtrip` feature; see README.md).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use minutier_seal::hash::sha256;
use minutier_seal::metadata::{canonical_json, digest};
use serde_json::Value;

/// Whether serde_json, as built here, parses floats with correct rounding.
/// Without its `float_roundtrip` feature it does not: "2.2222222222222226e50"
/// (the shortest form of a double) parses to a neighbouring double, so a
/// document's canonical form, parsed and canonicalised again, can change.
fn exact_float_parsing() -> bool {
    static EXACT: OnceLock<bool> = OnceLock::new();
    *EXACT.get_or_init(|| {
        let text = "2.2222222222222226e50";
        serde_json::from_str::<f64>(text).ok() == text.parse::<f64>().ok()
    })
}

/// Every float in `v`.
fn floats(v: &Value) -> Vec<f64> {
    let mut out = Vec::new();
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Number(n) if n.is_f64() => out.extend(n.as_f64()),
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let canon = canonical_json(&value);
    let text = std::str::from_utf8(&canon).expect("canonical JSON is UTF-8");
    let reparsed: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("canonical JSON {text:?} does not parse: {e}"));
    assert_eq!(digest(&value), sha256(&canon));

    let floats = floats(&value);
    for f in &floats {
        let shown = serde_json::Number::from_f64(*f).unwrap().to_string();
        assert_eq!(shown.parse::<f64>(), Ok(*f), "{shown} is not {f:e}");
    }
    if floats.is_empty() {
        assert_eq!(reparsed, value, "canonical JSON changed the value");
    }
    if floats.is_empty() || exact_float_parsing() {
        assert_eq!(
            String::from_utf8_lossy(&canonical_json(&reparsed)),
            text,
            "canonicalisation is not idempotent"
        );
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
