//! `Timestamp`'s `FromStr` and `Display`, the RFC 3339 form used in records
//! and on the command line.
//!
//! Invariants: a string that parses is valid (years 1970..=9999) and displays
//! back as exactly itself; and for the first 8 bytes read as a number, every
//! valid timestamp displays as a string that parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_seal::record::Timestamp;

fuzz_target!(|data: &[u8]| {
    if let Some(s) = minutier_fuzz::text(data) {
        if let Ok(t) = s.parse::<Timestamp>() {
            assert!(t.is_valid(), "{s:?} parsed to an invalid {t:?}");
            assert_eq!(t.to_string(), s, "two spellings of {t:?}");
        }
    }
    if let Some(bytes) = data.get(..8) {
        let n = u64::from_le_bytes(bytes.try_into().unwrap());
        let valid = Timestamp(n % (Timestamp::MAX.0 + 1));
        assert_eq!(valid.to_string().parse::<Timestamp>(), Ok(valid));
        // Out-of-range values display (with a longer year) but never parse.
        let any = Timestamp(n);
        let shown = any.to_string();
        assert_eq!(
            shown.parse::<Timestamp>().is_ok(),
            any.is_valid(),
            "{shown}"
        );
    }
});
