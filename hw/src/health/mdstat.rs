//! Software RAID state from `/proc/mdstat`.

use serde::Serialize;

/// One md array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Array {
    pub name: String,
    /// "active", "inactive"; "(read-only)" and the like appended.
    pub state: String,
    pub level: String,
    /// Member devices as listed, with `(F)` for failed and `(S)` spares.
    pub devices: Vec<String>,
    /// Members expected and present (`[2/1]`), when given.
    pub expected: Option<u32>,
    pub present: Option<u32>,
    /// `recovery = 12.6%`, `resync = …`, `check = …`, when running.
    pub sync: Option<String>,
}

impl Array {
    /// Fewer members than expected, or a failed member.
    pub fn degraded(&self) -> bool {
        matches!((self.expected, self.present), (Some(e), Some(p)) if p < e)
            || self.devices.iter().any(|d| d.ends_with("(F)"))
            || self.state != "active"
    }
}

/// Parses the contents of `/proc/mdstat`.
pub fn parse(text: &str) -> Vec<Array> {
    let mut arrays: Vec<Array> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some((name, rest)) = line.split_once(" : ") {
            if !name.starts_with("md") {
                continue;
            }
            let mut words = rest.split_whitespace().peekable();
            let mut state = words.next().unwrap_or_default().to_owned();
            while let Some(w) = words.peek().filter(|w| w.starts_with('(')) {
                state.push(' ');
                state.push_str(w);
                words.next();
            }
            let level = match words.peek() {
                Some(w) if w.starts_with("raid") || *w == "linear" || *w == "multipath" => {
                    words.next().unwrap_or_default().to_owned()
                }
                _ => String::new(),
            };
            arrays.push(Array {
                name: name.trim().to_owned(),
                state,
                level,
                devices: words.map(str::to_owned).collect(),
                expected: None,
                present: None,
                sync: None,
            });
        } else if let Some(array) = arrays.last_mut() {
            if let Some(counts) = trimmed
                .split_whitespace()
                .find(|w| w.starts_with('[') && w.contains('/') && w.ends_with(']'))
            {
                let inner = &counts[1..counts.len() - 1];
                if let Some((e, p)) = inner.split_once('/') {
                    array.expected = e.parse().ok();
                    array.present = p.parse().ok();
                }
            }
            for op in ["recovery", "resync", "reshape", "check", "repair"] {
                if let Some(at) = trimmed.find(&format!("{op} =")) {
                    let rest = &trimmed[at..];
                    let end = rest.find('(').unwrap_or(rest.len());
                    array.sync = Some(rest[..end].trim().to_owned());
                }
            }
        }
    }
    arrays
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::fixture;

    #[test]
    fn a_clean_mirror() {
        let a = parse(&fixture("mdstat-clean.txt"));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].name, "md0");
        assert_eq!(a[0].level, "raid1");
        assert_eq!((a[0].expected, a[0].present), (Some(2), Some(2)));
        assert!(!a[0].degraded());
        assert_eq!(a[0].sync, None);
    }

    #[test]
    fn a_degraded_array_rebuilding_next_to_a_clean_one() {
        let a = parse(&fixture("mdstat-degraded-recovering.txt"));
        assert_eq!(a.len(), 2);
        let md1 = &a[0];
        assert_eq!((md1.name.as_str(), md1.level.as_str()), ("md1", "raid5"));
        assert!(md1.devices.contains(&"sdb1[1](F)".to_owned()));
        assert_eq!((md1.expected, md1.present), (Some(4), Some(3)));
        assert_eq!(md1.sync.as_deref(), Some("recovery = 12.6%"));
        assert!(md1.degraded());
        assert!(!a[1].degraded());
    }

    #[test]
    fn no_arrays() {
        assert!(parse(&fixture("mdstat-none.txt")).is_empty());
        assert!(parse("").is_empty());
    }
}
