//! Where the appliance keeps its data, agreed by the daemon and the CLI.

use std::path::PathBuf;

/// The default data directory: `/var/lib/minutier` for the appliance's
/// service (root, or any user where that directory exists), else
/// `$XDG_DATA_HOME/minutier` or `~/.local/share/minutier`.
pub fn default_data_dir() -> PathBuf {
    let system = PathBuf::from("/var/lib/minutier");
    let is_root = std::env::var_os("USER").is_some_and(|u| u == "root")
        || std::env::var_os("HOME").is_some_and(|h| h == "/root");
    if is_root || system.is_dir() {
        return system;
    }
    match std::env::var_os("XDG_DATA_HOME") {
        Some(d) => PathBuf::from(d).join("minutier"),
        None => std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".local/share/minutier"))
            .unwrap_or_else(|| PathBuf::from("minutier-data")),
    }
}
