//! The description and the management rules as the console's forms send
//! them (deposit, correction), read into the metadata model with a precise
//! message for each field that is not what it should be.

use serde::Deserialize;

use crate::metadata::{
    AccessRule, AppraisalRule, Date, FinalAction, Hold, ManagementRules, Metadata,
};

/// Descriptive fields.
#[derive(Debug, Deserialize, Default)]
pub struct Description {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub agency: String,
    #[serde(default)]
    pub description: String,
    /// Comma-separated.
    #[serde(default)]
    pub keywords: String,
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub end: String,
}

impl Description {
    /// Writes these fields into `m`; the title only when one was given.
    pub fn apply(&self, m: &mut Metadata) -> Result<(), String> {
        if !self.title.trim().is_empty() {
            m.title = self.title.trim().to_owned();
        }
        m.originating_agency = self.agency.trim().to_owned();
        m.description = self.description.trim().to_owned();
        m.keywords = self
            .keywords
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        m.start_date = date("start", &self.start)?;
        m.end_date = date("end", &self.end)?;
        Ok(())
    }
}

/// Management rules: retention (rule, years, final action) and access.
#[derive(Debug, Deserialize, Default)]
pub struct Rules {
    #[serde(default)]
    pub rule: String,
    #[serde(default)]
    pub years: String,
    #[serde(default, rename = "final")]
    pub final_action: String,
    #[serde(default)]
    pub access_years: String,
}

impl Rules {
    /// The rules these fields give, with `holds` kept as they are.
    pub fn to_rules(&self, holds: Vec<Hold>) -> Result<ManagementRules, String> {
        let final_action = match self.final_action.as_str() {
            "" | "keep" => FinalAction::Keep,
            "destroy" => FinalAction::Destroy,
            other => return Err(format!("final {other:?}: keep or destroy")),
        };
        let duration = years("years", &self.years)?;
        let appraisal =
            (duration.is_some() || !self.rule.trim().is_empty()).then(|| AppraisalRule {
                rule_id: self.rule.trim().to_owned(),
                duration_years: duration,
                start_date: None,
                final_action,
            });
        let access = years("access_years", &self.access_years)?.map(|delay| AccessRule {
            rule_id: String::new(),
            delay_years: Some(delay),
            start_date: None,
        });
        Ok(ManagementRules {
            appraisal,
            access,
            holds,
        })
    }

    /// The fields of existing rules, to fill a form.
    pub fn of(rules: &ManagementRules) -> Rules {
        let appraisal = rules.appraisal.as_ref();
        Rules {
            rule: appraisal.map(|a| a.rule_id.clone()).unwrap_or_default(),
            years: appraisal
                .and_then(|a| a.duration_years)
                .map(|y| y.to_string())
                .unwrap_or_default(),
            final_action: appraisal
                .map(|a| a.final_action.as_str().to_owned())
                .unwrap_or_default(),
            access_years: rules
                .access
                .as_ref()
                .and_then(|a| a.delay_years)
                .map(|y| y.to_string())
                .unwrap_or_default(),
        }
    }
}

fn date(field: &str, v: &str) -> Result<Option<Date>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| format!("{field} {v:?} is not a date (YYYY-MM-DD)"))
}

fn years(field: &str, v: &str) -> Result<Option<u32>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| format!("{field} {v:?} is not a whole number of years"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_metadata_or_say_which_is_wrong() {
        let mut m = Metadata {
            title: "Ancien titre".into(),
            ..Metadata::default()
        };
        let d = Description {
            title: " Registre ".into(),
            keywords: "conseil, , voirie".into(),
            start: "2026-01-01".into(),
            ..Description::default()
        };
        d.apply(&mut m).unwrap();
        assert_eq!(m.title, "Registre");
        assert_eq!(m.keywords, ["conseil", "voirie"]);
        assert_eq!(m.start_date.unwrap().to_string(), "2026-01-01");
        let bad = Description {
            end: "31/12/2026".into(),
            ..Description::default()
        };
        assert!(bad
            .apply(&mut m)
            .unwrap_err()
            .contains("end \"31/12/2026\" is not a date"));

        let r = Rules {
            rule: "APP-1".into(),
            years: "10".into(),
            final_action: "destroy".into(),
            access_years: "25".into(),
        };
        let rules = r.to_rules(Vec::new()).unwrap();
        assert_eq!(rules.appraisal.as_ref().unwrap().duration_years, Some(10));
        assert_eq!(rules.access.as_ref().unwrap().delay_years, Some(25));
        let back = Rules::of(&rules);
        assert_eq!(
            (
                back.rule.as_str(),
                back.years.as_str(),
                back.final_action.as_str()
            ),
            ("APP-1", "10", "destroy")
        );
        assert!(Rules {
            final_action: "burn".into(),
            ..Rules::default()
        }
        .to_rules(Vec::new())
        .is_err());
        assert!(Rules {
            years: "ten".into(),
            ..Rules::default()
        }
        .to_rules(Vec::new())
        .unwrap_err()
        .contains("whole number"));
        assert!(Rules::default()
            .to_rules(Vec::new())
            .unwrap()
            .appraisal
            .is_none());
    }
}
