//! An archive's metadata, aligned with SEDA 2.x (see docs/metadata.md):
//! the descriptive part a producer sends, and the management rules
//! (retention, communicability, holds) that drive its lifecycle.
//!
//! The canonical JSON of [`Metadata`] is what records commit to through
//! `metadata-sha256`, so field names are part of the contract: renaming one
//! changes every digest.

use std::fmt;
use std::str::FromStr;

use minutier_seal::Hash;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Everything known about an archive besides its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub originating_agency: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub submission_agency: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub archival_agreement: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<Date>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub document_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub language: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub custodial_history: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    #[serde(default, skip_serializing_if = "ManagementRules::is_empty")]
    pub rules: ManagementRules,
    /// Set by the appliance for archives that arrived in a SEDA transfer;
    /// never taken from a client, kept through corrections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferLink>,
}

/// Where an archive stands in the SEDA transfer it arrived in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferLink {
    /// The transfer's `MessageIdentifier`.
    pub message_identifier: String,
    /// The transferring agency's identifier.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub transferring_agency: String,
    /// `ArchiveUnit@id` in the manifest; empty for the manifest itself.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit_id: String,
    /// The units above it, nearest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_unit_ids: Vec<String>,
    /// `BinaryDataObject@id`; empty for a unit without an object (its
    /// content is then the manifest that describes it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object_id: String,
    /// The archive holding the transfer's manifest; empty for the manifest.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub manifest_archive_id: String,
}

/// SEDA management rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementRules {
    /// None: no retention period, kept forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appraisal: Option<AppraisalRule>,
    /// None: communicable at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessRule>,
    /// Holds in force, in the order they were placed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<Hold>,
}

/// Retention period (durée d'utilité administrative) and final action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppraisalRule {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rule_id: String,
    /// None: a rule of the producer's repository whose duration this
    /// appliance does not know; never due until it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_years: Option<u32>,
    /// Always set once stored (see [`Metadata::settle`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Date>,
    pub final_action: FinalAction,
}

/// What happens when the retention period ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinalAction {
    /// Definitive archives: never deleted, by anyone.
    Keep,
    /// May be eliminated, with a controller's approval.
    Destroy,
}

impl FinalAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalAction::Keep => "keep",
            FinalAction::Destroy => "destroy",
        }
    }
}

/// Communicability delay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRule {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rule_id: String,
    /// None: unknown to this appliance; not communicable until it is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_years: Option<u32>,
    /// Always set once stored (see [`Metadata::settle`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Date>,
}

/// A legal hold (SEDA HoldRule): no elimination while it is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub hold_id: String,
    pub reason: String,
    /// The hold ends by itself after this day; None: until lifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<Date>,
    pub placed_by: String,
    /// RFC 3339 time the hold was placed.
    pub placed_at: String,
}

impl Hold {
    /// Whether the hold still blocks eliminations on `today`.
    pub fn in_force(&self, today: Date) -> bool {
        self.end_date.is_none_or(|end| today <= end)
    }
}

impl ManagementRules {
    fn is_empty(&self) -> bool {
        self.appraisal.is_none() && self.access.is_none() && self.holds.is_empty()
    }

    /// The last day of the retention period, if there is one.
    pub fn retention_end(&self) -> Option<Date> {
        let rule = self.appraisal.as_ref()?;
        Some(rule.start_date?.add_years(rule.duration_years?))
    }

    /// The first day the content is communicable to everyone; None when
    /// there is no access rule, or its delay is unknown (see
    /// [`ManagementRules::restricted_on`]).
    pub fn communicable_from(&self) -> Option<Date> {
        let rule = self.access.as_ref()?;
        Some(rule.start_date?.add_years(rule.delay_years?))
    }

    /// Whether the content is still restricted on `today`: its delay runs,
    /// or it is a rule whose delay this appliance does not know.
    pub fn restricted_on(&self, today: Date) -> bool {
        match &self.access {
            None => false,
            Some(rule) if rule.delay_years.is_none() => true,
            Some(_) => self.communicable_from().is_some_and(|from| today < from),
        }
    }

    /// None: no appraisal rule yet, so kept until one is set.
    pub fn final_action(&self) -> Option<FinalAction> {
        self.appraisal.as_ref().map(|r| r.final_action)
    }

    /// Holds still in force on `today`.
    pub fn holds_in_force(&self, today: Date) -> impl Iterator<Item = &Hold> {
        self.holds.iter().filter(move |h| h.in_force(today))
    }
}

const MAX_TITLE: usize = 1024;
const MAX_TEXT: usize = 64 * 1024;
const MAX_KEYWORDS: usize = 256;
const MAX_SHORT: usize = 256;
/// Longest retention or communicability delay accepted, in years.
pub const MAX_YEARS: u32 = 1000;
/// Most holds on one archive.
pub const MAX_HOLDS: usize = 64;
pub const MAX_REASON: usize = 1024;

impl Metadata {
    /// Checks the metadata a client sent; the message names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if self.title.trim().is_empty() {
            return bad("metadata.title is required (give the document a title)".into());
        }
        for (field, value, max) in [
            ("title", &self.title, MAX_TITLE),
            ("originating_agency", &self.originating_agency, MAX_SHORT),
            ("submission_agency", &self.submission_agency, MAX_SHORT),
            ("archival_agreement", &self.archival_agreement, MAX_SHORT),
            ("document_type", &self.document_type, MAX_SHORT),
            ("language", &self.language, 35),
            ("description", &self.description, MAX_TEXT),
            ("custodial_history", &self.custodial_history, MAX_TEXT),
            ("file_name", &self.file_name, MAX_SHORT * 4),
            ("media_type", &self.media_type, MAX_SHORT),
        ] {
            if value.len() > max {
                return bad(format!(
                    "metadata.{field} is {} bytes; at most {max} are accepted",
                    value.len()
                ));
            }
            let multiline = matches!(field, "description" | "custodial_history");
            if !multiline && value.chars().any(char::is_control) {
                return bad(format!("metadata.{field} contains control characters"));
            }
        }
        if !self.language.is_empty()
            && !self
                .language
                .split('-')
                .all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return bad(format!(
                "metadata.language {:?} is not a language tag such as \"fr\" or \"fr-FR\"",
                self.language
            ));
        }
        if self.file_name.contains('/') || self.file_name.contains('\\') {
            return bad("metadata.file_name must be a base name, without directories".into());
        }
        if self.keywords.len() > MAX_KEYWORDS {
            return bad(format!(
                "{} keywords given; at most {MAX_KEYWORDS} are accepted",
                self.keywords.len()
            ));
        }
        if let Some(k) = self
            .keywords
            .iter()
            .find(|k| k.trim().is_empty() || k.len() > MAX_SHORT || k.chars().any(char::is_control))
        {
            return bad(format!(
                "keyword {k:?} is empty, too long or contains control characters"
            ));
        }
        if let (Some(s), Some(e)) = (self.start_date, self.end_date) {
            if s > e {
                return bad(format!("metadata.start_date {s} is after end_date {e}"));
            }
        }
        self.rules.validate()
    }

    /// Fills the rules' missing start dates: the content's end date, else
    /// `today` (the ingest or change date). Stored metadata is settled, so
    /// its deadlines never move.
    pub fn settle(&mut self, today: Date) {
        let default = self.end_date.unwrap_or(today);
        if let Some(rule) = &mut self.rules.appraisal {
            rule.start_date.get_or_insert(default);
        }
        if let Some(rule) = &mut self.rules.access {
            rule.start_date.get_or_insert(default);
        }
    }

    /// SHA-256 of the canonical JSON form (see docs/seal-format.md).
    pub fn digest(&self) -> Hash {
        minutier_seal::metadata::digest(&self.to_json())
    }

    /// The canonical JSON bytes [`Metadata::digest`] covers.
    pub fn canonical_json(&self) -> Vec<u8> {
        minutier_seal::metadata::canonical_json(&self.to_json())
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("metadata always serialises")
    }
}

impl ManagementRules {
    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        let rule_id_ok = |id: &str| {
            id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if let Some(rule) = &self.appraisal {
            match rule.duration_years {
                Some(years) if years > MAX_YEARS => {
                    return bad(format!(
                        "rules.appraisal.duration_years is {years}; at most {MAX_YEARS} years"
                    ))
                }
                None if rule.rule_id.is_empty() => {
                    return bad("rules.appraisal needs a duration_years or a rule_id".into())
                }
                _ => {}
            }
            if !rule_id_ok(&rule.rule_id) {
                return bad(format!(
                    "rules.appraisal.rule_id {:?} must be at most 64 letters, digits, '-', '_' or '.'",
                    rule.rule_id
                ));
            }
        }
        if let Some(rule) = &self.access {
            match rule.delay_years {
                Some(years) if years > MAX_YEARS => {
                    return bad(format!(
                        "rules.access.delay_years is {years}; at most {MAX_YEARS} years"
                    ))
                }
                None if rule.rule_id.is_empty() => {
                    return bad("rules.access needs a delay_years or a rule_id".into())
                }
                _ => {}
            }
            if !rule_id_ok(&rule.rule_id) {
                return bad(format!(
                    "rules.access.rule_id {:?} must be at most 64 letters, digits, '-', '_' or '.'",
                    rule.rule_id
                ));
            }
        }
        Ok(())
    }
}

/// Checks a free-text reason (for holds, eliminations, refusals).
pub fn validate_reason(field: &str, reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(Error::InvalidArgument(format!("{field} is required")));
    }
    if reason.len() > MAX_REASON {
        return Err(Error::InvalidArgument(format!(
            "{field} is {} bytes; at most {MAX_REASON} are accepted",
            reason.len()
        )));
    }
    if reason.chars().any(char::is_control) || reason.trim() != reason {
        return Err(Error::InvalidArgument(format!(
            "{field} must be one line of text without leading or trailing spaces"
        )));
    }
    Ok(())
}

/// A calendar day (proleptic Gregorian, years 1 to 9999), written
/// `YYYY-MM-DD`. Retention and access deadlines are whole days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month))
            .then_some(())
            .filter(|_| (1..=days_in_month(year, month)).contains(&day))
            .map(|_| Date { year, month, day })
    }

    /// The UTC day of a time in milliseconds since the Unix epoch.
    pub fn from_unix_millis(millis: u64) -> Date {
        let text = minutier_seal::record::Timestamp(millis).to_string();
        text[..10].parse().expect("timestamps print a valid date")
    }

    /// The same day `years` later; 29 February becomes 28 February in a
    /// common year. Saturates at 9999-12-31.
    pub fn add_years(self, years: u32) -> Date {
        let year = u32::from(self.year) + years;
        if year > 9999 {
            return Date {
                year: 9999,
                month: 12,
                day: 31,
            };
        }
        let year = year as u16;
        let day = self.day.min(days_in_month(year, self.month));
        Date {
            year,
            month: self.month,
            day,
        }
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = String;

    fn from_str(s: &str) -> Result<Date, String> {
        let err = || format!("{s:?} is not a date of the form YYYY-MM-DD");
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err());
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u16> {
            b[r].iter().try_fold(0u16, |acc, c| {
                c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
            })
        };
        let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) else {
            return Err(err());
        };
        Date::new(y, m as u8, d as u8).ok_or_else(err)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses an optional date field from a client: empty means absent.
pub fn parse_optional_date(field: &str, s: &str) -> Result<Option<Date>> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|e| Error::InvalidArgument(format!("{field}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn dates_are_checked_and_printed_back() {
        assert_eq!(d("2024-02-29").to_string(), "2024-02-29");
        for bad in [
            "2023-02-29",
            "2023-13-01",
            "2023-1-01",
            "0000-01-01",
            "2023-01-00",
            "２０２３-01-01",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert_eq!(Date::from_unix_millis(0), d("1970-01-01"));
        assert_eq!(Date::from_unix_millis(1_709_251_199_999), d("2024-02-29"));
    }

    #[test]
    fn adding_years_keeps_the_day_or_falls_back_to_february_28() {
        assert_eq!(d("2024-02-29").add_years(1), d("2025-02-28"));
        assert_eq!(d("2024-02-29").add_years(4), d("2028-02-29"));
        assert_eq!(d("2000-06-15").add_years(50), d("2050-06-15"));
        assert_eq!(d("2000-06-15").add_years(9000), d("9999-12-31"));
    }

    #[test]
    fn start_dates_default_to_the_end_date_then_today() {
        let mut m = Metadata {
            title: "t".into(),
            end_date: Some(d("2001-12-31")),
            rules: ManagementRules {
                appraisal: Some(AppraisalRule {
                    rule_id: String::new(),
                    duration_years: Some(10),
                    start_date: None,
                    final_action: FinalAction::Destroy,
                }),
                access: Some(AccessRule {
                    rule_id: "AR048".into(),
                    delay_years: Some(50),
                    start_date: Some(d("1990-01-01")),
                }),
                holds: vec![],
            },
            ..Default::default()
        };
        m.settle(d("2026-11-29"));
        assert_eq!(m.rules.retention_end(), Some(d("2011-12-31")));
        assert_eq!(m.rules.communicable_from(), Some(d("2040-01-01")));
        m.end_date = None;
        m.rules.appraisal.as_mut().unwrap().start_date = None;
        m.settle(d("2026-11-29"));
        assert_eq!(m.rules.retention_end(), Some(d("2036-11-29")));
        assert_eq!(ManagementRules::default().final_action(), None);
    }

    #[test]
    fn validation_names_the_field() {
        let mut m = Metadata {
            title: "t".into(),
            start_date: Some(d("2024-05-01")),
            end_date: Some(d("2024-01-01")),
            ..Default::default()
        };
        assert!(m.validate().unwrap_err().to_string().contains("start_date"));
        m.end_date = None;
        m.validate().unwrap();
        m.language = "fr FR".into();
        assert!(m.validate().unwrap_err().to_string().contains("language"));
        m.language = "fr-FR".into();
        m.rules.access = Some(AccessRule {
            rule_id: String::new(),
            delay_years: Some(5000),
            start_date: None,
        });
        assert!(m
            .validate()
            .unwrap_err()
            .to_string()
            .contains("delay_years"));
    }

    #[test]
    fn digest_ignores_absent_fields_and_covers_rules() {
        let m = Metadata {
            title: "Délibération".into(),
            ..Default::default()
        };
        let json: serde_json::Value = serde_json::from_slice(&m.canonical_json()).unwrap();
        assert_eq!(json, serde_json::json!({"title": "Délibération"}));
        let mut held = m.clone();
        held.rules.holds.push(Hold {
            hold_id: "h1".into(),
            reason: "contentieux".into(),
            end_date: None,
            placed_by: "x".into(),
            placed_at: "2026-11-29T00:00:00.000Z".into(),
        });
        assert_ne!(m.digest(), held.digest());
        let back: Metadata = serde_json::from_slice(&held.canonical_json()).unwrap();
        assert_eq!(back, held);
    }

    #[test]
    fn reasons_are_one_line() {
        validate_reason("reason", "fin de DUA").unwrap();
        for bad in ["", " x", "a\nb", &"x".repeat(2000)] {
            assert!(validate_reason("reason", bad).is_err(), "{bad:?}");
        }
    }
}
