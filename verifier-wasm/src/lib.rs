//! Seal verification in the browser (and in Node), entirely client-side:
//! `minutier-seal` compiled to `wasm32-unknown-unknown` behind a C ABI
//! small enough to call from plain JavaScript, without generated glue
//! (`web/verifier.mjs` is the JavaScript side).
//!
//! The document is hashed as it is read, in slices, so a file larger than
//! memory can be checked; the report says, check by check, what holds,
//! what fails and what could not be checked because an earlier check
//! failed. The report is the same JSON in every environment.
//!
//! Memory protocol: the host asks for a buffer ([`buffer_alloc`]), writes
//! its bytes there and passes pointer and length; results come back as a
//! buffer whose pointer and length are packed into one `u64`
//! (`pointer << 32 | length`), which the host frees ([`buffer_free`]).

use minutier_seal::hash::{to_hex, Hash};
use minutier_seal::note::parse_verifier_keys;
use minutier_seal::verify::SealVerifier;
use minutier_seal::Error;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A document being hashed, slice by slice.
pub struct Document {
    hasher: Sha256,
    size: u64,
}

impl Document {
    pub fn new() -> Document {
        Document {
            hasher: Sha256::new(),
            size: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// The document's SHA-256 and size.
    pub fn finish(self) -> (Hash, u64) {
        (self.hasher.finalize().into(), self.size)
    }
}

impl Default for Document {
    fn default() -> Self {
        Document::new()
    }
}

/// The checks, in the order they are made.
const CHECKS: [&str; 6] = [
    "key",
    "seal",
    "signature",
    "inclusion",
    "record",
    "document",
];

/// The report on a seal checked against a document with this SHA-256 and
/// size, under the verifier keys given (one per line, oldest first).
pub fn report(seal: &str, keys: &str, sha256: &Hash, size: u64) -> Value {
    let mut checks: Vec<Value> = Vec::new();
    let mut pass = |name: &str, detail: String| {
        checks.push(json!({"check": name, "result": "pass", "detail": detail}));
    };
    let keys = match parse_verifier_keys(keys) {
        Ok(keys) if !keys.is_empty() => keys,
        Ok(_) => return failed(checks, "key", "no verifier key was given".into()),
        Err(e) => {
            return failed(
                checks,
                "key",
                format!("the verifier key cannot be read: {e}"),
            )
        }
    };
    let names: Vec<String> = keys
        .iter()
        .map(|k| {
            k.to_string()
                .split('+')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let mut verifier = match SealVerifier::with_keys(keys) {
        Ok(v) => v,
        Err(e) => {
            return failed(
                checks,
                "key",
                format!("the verifier key cannot be used: {e}"),
            )
        }
    };
    pass("key", format!("the log's key {}", names.join(", ")));
    let verified = match verifier.verify(seal) {
        Ok(v) => v,
        Err(e) => {
            // The checks before the failing one held.
            let check = failing_check(&e);
            let held = [
                ("seal", "the seal is well formed"),
                ("signature", "the checkpoint is signed by the log's key"),
                (
                    "inclusion",
                    "the record is in the log under that checkpoint",
                ),
            ];
            for (name, detail) in held.into_iter().take_while(|(name, _)| *name != check) {
                pass(name, detail.into());
            }
            return failed(checks, check, e.to_string());
        }
    };
    let cp = &verified.checkpoint;
    pass("seal", "the seal is well formed".into());
    pass(
        "signature",
        format!(
            "the checkpoint of {} records of {} is signed by the log's key",
            cp.size, cp.origin
        ),
    );
    pass(
        "inclusion",
        format!(
            "record {} is in the log under that checkpoint (Merkle inclusion proof)",
            verified.index
        ),
    );
    let r = &verified.record;
    pass(
        "record",
        format!(
            "a valid record, kind {}, of archive {}",
            r.kind, r.archive_id
        ),
    );
    let record = json!({
        "index": verified.index,
        "kind": r.kind.to_string(),
        "archive_id": r.archive_id,
        "time": r.time.to_string(),
        "actor": r.actor,
        "content_sha256": to_hex(&r.content_sha256),
        "size": r.size,
        "checkpoint_size": cp.size,
        "origin": cp.origin,
    });
    let document = if r.content_sha256 != *sha256 {
        Err(format!(
            "the file's SHA-256 is {}, the seal's is {}: this is not the document sealed, or it was altered",
            to_hex(sha256),
            to_hex(&r.content_sha256)
        ))
    } else if r.size != size {
        Err(format!(
            "the file has {size} bytes, the seal says {}",
            r.size
        ))
    } else {
        Ok(format!(
            "the file's SHA-256 and size ({size} bytes) are those sealed"
        ))
    };
    let mut out = match document {
        Ok(detail) => {
            pass("document", detail);
            json!({"ok": true, "checks": checks})
        }
        Err(detail) => failed(checks, "document", detail),
    };
    out["record"] = record;
    out
}

/// Which check an error from [`SealVerifier::verify`] belongs to.
fn failing_check(e: &Error) -> &'static str {
    match e {
        Error::NoSignatureByKey { .. }
        | Error::NoSignatureByKeys { .. }
        | Error::BadSignature { .. }
        | Error::OriginMismatch { .. }
        | Error::InvalidVerifierKey(_) => "signature",
        Error::InclusionProofFailed(_) | Error::IndexOutOfRange { .. } => "inclusion",
        Error::InvalidRecord { .. }
        | Error::InvalidField { .. }
        | Error::InvalidTimestamp { .. } => "record",
        _ => "seal",
    }
}

/// The report with `check` failed and the later checks not made.
fn failed(mut checks: Vec<Value>, check: &str, detail: String) -> Value {
    checks.push(json!({"check": check, "result": "fail", "detail": detail}));
    let after = CHECKS
        .iter()
        .position(|c| *c == check)
        .map_or(CHECKS.len(), |i| i + 1);
    for later in &CHECKS[after..] {
        checks.push(json!({
            "check": later,
            "result": "not-checked",
            "detail": format!("not checked: the {check} check failed"),
        }));
    }
    json!({"ok": false, "checks": checks})
}

// ---- The C ABI for WebAssembly hosts ----

/// A buffer of `len` bytes for the host to fill; freed with
/// [`buffer_free`].
#[no_mangle]
pub extern "C" fn buffer_alloc(len: usize) -> *mut u8 {
    let mut buffer = vec![0u8; len].into_boxed_slice();
    let ptr = buffer.as_mut_ptr();
    std::mem::forget(buffer);
    ptr
}

/// Frees a buffer from [`buffer_alloc`] or a result.
///
/// # Safety
/// `ptr` and `len` must come from [`buffer_alloc`] or a result of this
/// module, and be freed once.
#[no_mangle]
pub unsafe extern "C" fn buffer_free(ptr: *mut u8, len: usize) {
    drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)));
}

/// Starts hashing a document; returns its handle.
#[no_mangle]
pub extern "C" fn document_new() -> *mut Document {
    Box::into_raw(Box::new(Document::new()))
}

/// Hashes the next slice of the document.
///
/// # Safety
/// `doc` from [`document_new`], not yet given to [`verify_seal`];
/// `ptr`/`len` a readable buffer.
#[no_mangle]
pub unsafe extern "C" fn document_update(doc: *mut Document, ptr: *const u8, len: usize) {
    (*doc).update(std::slice::from_raw_parts(ptr, len));
}

/// Checks the seal (UTF-8 at `seal_ptr`) under the verifier keys (UTF-8 at
/// `keys_ptr`) against the document hashed so far, which it consumes;
/// returns the JSON report as a packed result buffer.
///
/// # Safety
/// `doc` from [`document_new`], used no more afterwards; the other
/// pointers readable buffers of the lengths given.
#[no_mangle]
pub unsafe extern "C" fn verify_seal(
    doc: *mut Document,
    seal_ptr: *const u8,
    seal_len: usize,
    keys_ptr: *const u8,
    keys_len: usize,
) -> u64 {
    let (sha256, size) = Box::from_raw(doc).finish();
    let text =
        |ptr, len| String::from_utf8_lossy(std::slice::from_raw_parts(ptr, len)).into_owned();
    let out = report(
        &text(seal_ptr, seal_len),
        &text(keys_ptr, keys_len),
        &sha256,
        size,
    );
    let bytes = serde_json::to_vec(&out)
        .expect("a report serialises")
        .into_boxed_slice();
    let len = bytes.len() as u64;
    let ptr = Box::into_raw(bytes) as *mut u8 as usize as u64;
    (ptr << 32) | len
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEAL: &str = include_str!("../../seal/tests/vectors/log/seal-3.tlog-proof");
    const KEY: &str = include_str!("../../seal/tests/vectors/verifier.key");

    fn sealed() -> (Hash, u64) {
        let v = SealVerifier::with_keys(parse_verifier_keys(KEY).unwrap())
            .unwrap()
            .verify(SEAL)
            .unwrap();
        (v.record.content_sha256, v.record.size)
    }

    fn results(report: &Value) -> Vec<(String, String)> {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["check"].as_str().unwrap().into(),
                    c["result"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    #[test]
    fn a_matching_document_passes_every_check() {
        let (sha, size) = sealed();
        let r = report(SEAL, KEY, &sha, size);
        assert_eq!(r["ok"], true, "{r}");
        assert!(results(&r).iter().all(|(_, res)| res == "pass"), "{r}");
        assert_eq!(r["record"]["index"], 3);
    }

    #[test]
    fn another_document_fails_the_document_check_only() {
        let (mut sha, size) = sealed();
        sha[0] ^= 1;
        let r = report(SEAL, KEY, &sha, size);
        assert_eq!(r["ok"], false);
        let res = results(&r);
        assert_eq!(
            res.last().unwrap(),
            &("document".into(), "fail".into()),
            "{r}"
        );
        assert!(res[..5].iter().all(|(_, x)| x == "pass"), "{r}");
        let (sha, size) = sealed();
        let r = report(SEAL, KEY, &sha, size + 1);
        assert!(
            r["checks"][5]["detail"].as_str().unwrap().contains("bytes"),
            "{r}"
        );
    }

    #[test]
    fn failures_name_their_check_and_skip_the_rest() {
        let (sha, size) = sealed();
        let r = report(SEAL, "not a key", &sha, size);
        assert_eq!(results(&r)[0], ("key".into(), "fail".into()));
        assert_eq!(results(&r)[1].1, "not-checked");
        let r = report("garbage", KEY, &sha, size);
        assert_eq!(results(&r)[1], ("seal".into(), "fail".into()), "{r}");
        // A different signature line: the signature check fails.
        let lines: Vec<&str> = SEAL.lines().collect();
        let sig = lines.iter().rposition(|l| l.starts_with('—')).unwrap();
        let mut forged: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let mut bytes = forged[sig].clone().into_bytes();
        let at = bytes.len() - 5;
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        forged[sig] = String::from_utf8(bytes).unwrap();
        let r = report(&(forged.join("\n") + "\n"), KEY, &sha, size);
        assert_eq!(results(&r)[2], ("signature".into(), "fail".into()), "{r}");
        assert!(results(&r)[3..].iter().all(|(_, x)| x == "not-checked"));
    }

    #[test]
    fn documents_hash_in_slices() {
        let mut d = Document::new();
        d.update(b"Registre ");
        d.update(b"des ");
        d.update("délibérations".as_bytes());
        let (sha, size) = d.finish();
        assert_eq!(
            sha,
            minutier_seal::hash::sha256("Registre des délibérations".as_bytes())
        );
        assert_eq!(size, "Registre des délibérations".len() as u64);
    }
}
