//! `verify_chain`, the per-archive chain check behind `minutier history`.
//!
//! The input is split on NUL bytes into records, numbered by their position
//! times a stride taken from the first byte. Invariants: an accepted chain
//! starts with an `ingest` record (an appliance event for the `appliance`
//! chain) with `previous none`, links every later
//! record to the leaf hash of the one before, names one archive, and has
//! increasing indices; refusals never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_seal::chain::verify_chain;
use minutier_seal::record::RecordKind;

fuzz_target!(|data: &[u8]| {
    let Some((&stride, rest)) = data.split_first() else {
        return;
    };
    let records: Vec<(u64, &[u8])> = rest
        .split(|b| *b == 0)
        .enumerate()
        .map(|(i, r)| (i as u64 * u64::from(stride), r))
        .collect();
    let archive = records
        .first()
        .and_then(|(_, r)| minutier_seal::record::Record::decode(r).ok())
        .map(|r| r.archive_id)
        .unwrap_or_else(|| "a".into());
    match verify_chain(&archive, &records) {
        Ok(links) => {
            assert_eq!(links.len(), records.len());
            let first = links[0].record.kind;
            assert!(
                first == RecordKind::Ingest || (first.is_appliance() && archive == "appliance"),
                "a chain started with {first}"
            );
            assert_eq!(links[0].record.previous, None);
            for pair in links.windows(2) {
                assert!(pair[0].index < pair[1].index);
                assert_eq!(pair[1].record.previous, Some(pair[0].leaf_hash));
                assert_eq!(pair[1].record.archive_id, archive);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
