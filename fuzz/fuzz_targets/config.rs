//! The daemon's configuration parser: `toml::from_str::<Config>` (what
//! `Config::from_file` runs on the file's text) followed by
//! `Config::validate`.
//!
//! Invariants: neither panics; a document that gives a `Config` is a valid
//! TOML table whose keys are all known fields (`deny_unknown_fields`); a
//! configuration that validates has the bounds `validate` promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_daemon::config::Config;

const FIELDS: [&str; 8] = [
    "data_dir",
    "listen",
    "origin",
    "max_document_size",
    "inline_threshold",
    "compression_level",
    "max_batch",
    "server_names",
];

fuzz_target!(|data: &[u8]| {
    let Some(s) = minutier_fuzz::text(data) else {
        return;
    };
    let config = match toml::from_str::<Config>(s) {
        Ok(c) => c,
        Err(e) => {
            // The daemon prints this error at start-up.
            let _ = e.to_string();
            return;
        }
    };
    let table: toml::Table = toml::from_str(s).expect("a Config document is a TOML table");
    for k in table.keys() {
        assert!(FIELDS.contains(&k.as_str()), "unknown key {k:?} accepted");
    }
    if config.validate().is_ok() {
        assert!(config.max_batch >= 1);
        assert!(config.inline_threshold <= 1 << 20);
        assert!((1..=19).contains(&config.compression_level));
        assert!(!config.server_names.is_empty());
    }
});
