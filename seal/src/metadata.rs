//! Canonical JSON for descriptive metadata, so that its digest is stable.
//!
//! A record commits to the document's metadata through
//! `metadata-sha256 = SHA-256(canonical_json(metadata))`. The canonical form:
//!
//! - no insignificant whitespace;
//! - object members sorted by key, comparing the keys' UTF-8 bytes
//!   (equivalently, by Unicode code point); keys are unique by construction;
//! - strings escaped as serde_json (and most JSON libraries) do: `\"`, `\\`,
//!   `\b`, `\f`, `\n`, `\r`, `\t`, other characters below U+0020 as `\u00xx`
//!   (lowercase hex), everything else, including non-ASCII, written as raw
//!   UTF-8;
//! - numbers as serde_json prints them: integers in plain decimal, floats in
//!   shortest round-trip form. Floats have no portable canonical form, so
//!   metadata should use integers or strings for anything that matters.
//!
//! Python's `json.dumps(v, sort_keys=True, separators=(",", ":"),
//! ensure_ascii=False).encode()` produces the same bytes for metadata without
//! floats (Python compares keys by code point, which is the same order).
//! Beware of libraries that sort by UTF-16 code units (JavaScript, Java): they
//! order keys outside the Basic Multilingual Plane differently.

use serde_json::Value;

use crate::hash::sha256;
use crate::Hash;

/// The canonical JSON encoding of `value` (see the module documentation).
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value);
    out
}

/// SHA-256 of [`canonical_json`].
pub fn digest(value: &Value) -> Hash {
    sha256(&canonical_json(value))
}

/// Work left to do while writing; an explicit stack instead of recursion, so
/// arbitrarily deep values cannot overflow the call stack.
enum Task<'a> {
    Value(&'a Value),
    Raw(&'static [u8]),
    Key(&'a str),
}

fn write_value(out: &mut Vec<u8>, root: &Value) {
    let mut stack = vec![Task::Value(root)];
    while let Some(task) = stack.pop() {
        match task {
            Task::Raw(bytes) => out.extend_from_slice(bytes),
            Task::Key(k) => {
                write_string(out, k);
                out.push(b':');
            }
            Task::Value(v) => match v {
                Value::Null => out.extend_from_slice(b"null"),
                Value::Bool(true) => out.extend_from_slice(b"true"),
                Value::Bool(false) => out.extend_from_slice(b"false"),
                Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
                Value::String(s) => write_string(out, s),
                Value::Array(items) => {
                    out.push(b'[');
                    stack.push(Task::Raw(b"]"));
                    // Pushed in reverse so they pop in order.
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push(Task::Value(item));
                        if i > 0 {
                            stack.push(Task::Raw(b","));
                        }
                    }
                }
                Value::Object(map) => {
                    out.push(b'{');
                    stack.push(Task::Raw(b"}"));
                    // Sorted here rather than trusting the map's iteration
                    // order, which depends on serde_json's features.
                    let mut members: Vec<(&String, &Value)> = map.iter().collect();
                    members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                    for (i, (k, v)) in members.into_iter().enumerate().rev() {
                        stack.push(Task::Value(v));
                        stack.push(Task::Key(k));
                        if i > 0 {
                            stack.push(Task::Raw(b","));
                        }
                    }
                }
            },
        }
    }
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: &Value) -> String {
        String::from_utf8(canonical_json(v)).unwrap()
    }

    #[test]
    fn sorts_and_compacts() {
        let v = json!({"b": 1, "a": [true, null, {"z": "x", "é": 2, "Z": -3}], "": {}});
        assert_eq!(
            canon(&v),
            r#"{"":{},"a":[true,null,{"Z":-3,"z":"x","é":2}],"b":1}"#
        );
        assert_eq!(canon(&json!([])), "[]");
        assert_eq!(canon(&json!({})), "{}");
        assert_eq!(canon(&json!(1.5)), "1.5");
        assert_eq!(canon(&json!(u64::MAX)), "18446744073709551615");
    }

    #[test]
    fn escapes_like_serde_json() {
        let s = "q\"b\\n\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}é𝄞/";
        assert_eq!(canon(&json!(s)), serde_json::to_string(s).unwrap());
        assert_eq!(canon(&json!("\u{1}")), r#""\u0001""#);
    }

    #[test]
    fn bytewise_key_order_differs_from_utf16_order() {
        // U+1D11E sorts before U+FF61 in UTF-16 (its surrogates start with
        // 0xD8) but after it in UTF-8 byte order; we use byte order.
        let v = json!({"\u{ff61}": 1, "\u{1d11e}": 2});
        assert_eq!(canon(&v), "{\"\u{ff61}\":1,\"\u{1d11e}\":2}");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        // Built by hand: serde_json's parser would refuse this depth.
        let mut v = json!(0);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        let out = canonical_json(&v);
        assert_eq!(out.len(), 200_001);
        // Dismantle iteratively; the recursive Drop of Value would overflow.
        let mut cur = v;
        while let Value::Array(mut items) = cur {
            cur = items.pop().unwrap_or(Value::Null);
        }
    }
}
