//! `Record::decode`, the parser of the log entries the daemon appends and the
//! CLI reads out of seals.
//!
//! Invariants: a record that decodes is valid, re-encodes to exactly the input
//! bytes (one encoding per record) and has the leaf hash of those bytes; an
//! input that does not decode is refused by a specific check, never by the
//! "not in canonical form" catch-all, which is meant to be unreachable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_seal::hash::leaf_hash;
use minutier_seal::record::Record;
use minutier_seal::Error;

fuzz_target!(|data: &[u8]| {
    match Record::decode(data) {
        Ok(record) => {
            assert_eq!(
                record.encode(),
                data,
                "decode accepted a non-canonical encoding"
            );
            assert_eq!(
                record.validate(),
                Ok(()),
                "decode accepted an invalid record"
            );
            assert_eq!(record.leaf_hash(), leaf_hash(data));
            assert_eq!(Record::decode(&record.encode()).as_ref(), Ok(&record));
        }
        Err(Error::InvalidRecord { line: 0, reason }) if reason == "not in canonical form" => {
            panic!(
                "the canonical-form catch-all rejected {:?}: a strict check is missing",
                String::from_utf8_lossy(data)
            );
        }
        Err(e) => {
            // Errors are shown to users: formatting must not panic.
            let _ = e.to_string();
        }
    }
});
