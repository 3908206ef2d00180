//! Time synchronisation state from `chronyc -c tracking` (CSV).

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

/// What chrony says of the clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tracking {
    /// The reference (server name or address); empty when none.
    pub reference: String,
    pub stratum: u32,
    /// System time minus true time, in seconds (positive: fast).
    pub offset_seconds: f64,
    /// "Normal", "Insert second", "Delete second", "Not synchronised".
    pub leap_status: String,
}

impl Tracking {
    pub fn synchronised(&self) -> bool {
        self.leap_status != "Not synchronised" && self.stratum > 0
    }
}

/// Parses one line of `chronyc -c tracking`.
pub fn parse(csv: &str) -> Result<Tracking, String> {
    let line = csv.lines().next().unwrap_or_default();
    let fields: Vec<&str> = line.split(',').collect();
    if fields.len() < 14 {
        return Err(format!(
            "chronyc tracking gave {} fields, 14 expected: {line:?}",
            fields.len()
        ));
    }
    let number = |i: usize, what: &str| -> Result<f64, String> {
        fields[i]
            .trim()
            .parse()
            .map_err(|_| format!("chronyc tracking: {what} {:?} is not a number", fields[i]))
    };
    Ok(Tracking {
        reference: fields[1].trim().to_owned(),
        stratum: number(2, "stratum")? as u32,
        offset_seconds: number(4, "system time offset")?,
        leap_status: fields[13].trim().to_owned(),
    })
}

/// Runs `chronyc -c tracking`.
pub fn read(chronyc: &Path) -> Result<Tracking, String> {
    let out = super::run_tool(chronyc, &["-c", "tracking"], Duration::from_secs(5))?;
    parse(&String::from_utf8_lossy(&out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::fixture;

    #[test]
    fn synchronised_and_not() {
        let t = parse(&fixture("chrony-synced.csv")).unwrap();
        assert!(t.synchronised());
        assert_eq!(t.stratum, 3);
        assert_eq!(t.reference, "169.254.169.123");
        assert!((t.offset_seconds + 0.000012345).abs() < 1e-12);
        let u = parse(&fixture("chrony-unsynced.csv")).unwrap();
        assert!(!u.synchronised());
        assert!(parse("506 Cannot talk to daemon").is_err());
    }
}
