//! Small output helpers shared by the commands.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// Prints one JSON document (pretty, newline-terminated) on stdout.
pub fn print_json<T: Serialize>(value: &T) {
    let text = serde_json::to_string_pretty(value).expect("JSON serialisation of plain data");
    let mut out = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) is not worth a panic.
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Writes `text` to `path`, or to stdout when there is no path. Seals and
/// checkpoints are written byte for byte: their signatures cover every byte.
pub fn write_text(path: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match path {
        Some(path) if path != Path::new("-") => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write to stdout")
        }
    }
}

/// Aligned columns, two spaces apart, with an optional header row. Columns
/// in `right` are right-aligned (numbers); trailing spaces are trimmed.
pub fn table<const N: usize>(
    header: Option<[&str; N]>,
    rows: &[[String; N]],
    right: &[usize],
    indent: &str,
) -> String {
    let header = header.map(|h| h.map(String::from));
    let all: Vec<&[String; N]> = header.iter().chain(rows.iter()).collect();
    let widths: Vec<usize> = (0..N)
        .map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in all {
        let mut line = String::from(indent);
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[c] - cell.chars().count());
            if right.contains(&c) {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// "1.5 MB"-style sizes for people (decimal units, as disks are sold).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// "2 h 5 min"-style durations for people: the two largest units.
pub fn human_duration(ms: u64) -> String {
    let secs = ms / 1000;
    if secs == 0 {
        return format!("{ms} ms");
    }
    let units = [(86_400, "d"), (3600, "h"), (60, "min"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, name) in units {
        if rest >= size || !parts.is_empty() {
            parts.push(format!("{} {name}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.len() == 2 && parts[1].starts_with("0 ") {
        parts.pop();
    }
    parts.join(" ")
}

/// A spinner on stderr with `message`, when stderr is a terminal; else the
/// message once, as a line.
pub fn spinner(message: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        eprintln!("{message}");
        return None;
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}") {
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_trim_lines() {
        let rows = [
            ["a".to_string(), "1".to_string(), "x".to_string()],
            ["bbb".to_string(), "100".to_string(), String::new()],
        ];
        assert_eq!(
            table(Some(["ID", "N", "T"]), &rows, &[1], ""),
            "ID     N  T\na      1  x\nbbb  100\n"
        );
        assert_eq!(table(None, &rows[..1], &[], "  "), "  a  1  x\n");
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1500), "1.5 kB");
        assert_eq!(human_bytes(2_000_000_000), "2.0 GB");
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(human_duration(0), "0 ms");
        assert_eq!(human_duration(450), "450 ms");
        assert_eq!(human_duration(45_000), "45 s");
        assert_eq!(human_duration(125_000), "2 min 5 s");
        assert_eq!(human_duration(3_600_000), "1 h");
        assert_eq!(human_duration(3_660_000), "1 h 1 min");
        assert_eq!(human_duration(90_061_000), "1 d 1 h");
    }
}
