//! The daemon's configuration parser: `toml::from_str::<Config>` (what
//! `Config::from_file` runs on the file's text) followed by
//! `Config::validate`.
//!
//! Invariants: neither panics; a document that gives a `Config` is a valid
//! TOML table, and the same document with one more, unknown, top-level key is
//! refused (`deny_unknown_fields`: a misspelt setting must not be silently
//! ignored); a configuration that validates has the bounds `validate`
//! promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minutier_daemon::config::Config;

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
    assert!(
        toml::from_str::<toml::Table>(s).is_ok(),
        "a Config document is not a TOML table"
    );
    // A key line before the input stays at the top level of the document.
    let misspelt = format!("fuzz_unknown_setting = 1\n{s}");
    assert!(
        toml::from_str::<Config>(&misspelt).is_err(),
        "an unknown setting was accepted"
    );
    if config.validate().is_ok() {
        assert!(config.max_batch >= 1);
        assert!(config.inline_threshold <= 1 << 20);
        assert!((1..=19).contains(&config.compression_level));
        assert!(!config.server_names.is_empty());
        if let Some(t) = &config.timestamping {
            let url = t.tsa_url.to_ascii_lowercase();
            assert!(
                url.starts_with("http://") || url.starts_with("https://"),
                "{url}"
            );
            assert!(!url.contains(char::is_whitespace));
            assert!((1..=300).contains(&t.timeout_seconds));
            let interval = t.interval().as_secs();
            assert!((1..=168 * 3600).contains(&interval), "{interval}");
            assert!(t.ca_file.is_none() || url.starts_with("https://"));
        }
    }
});
