//! French first, English available: the language of a page, and dates,
//! numbers and sizes written the way a reader of that language expects.
//!
//! Texts sit in the templates as pairs (`lang.t("Archives", "Archives")`),
//! so each page reads in both languages at once and nothing is left
//! untranslated by a missing key.

use minutier_seal::certificate::FRENCH_MONTHS;
use time::{Date, Month, OffsetDateTime, UtcOffset, Weekday};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch in the header.
    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }

    /// The French or the English text.
    pub fn t<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Fr => fr,
            Lang::En => en,
        }
    }

    /// A whole number, grouped by thousands: `12 345` (narrow no-break
    /// space) in French, `12,345` in English.
    pub fn number(self, n: u64) -> String {
        let digits = n.to_string();
        let sep = match self {
            Lang::Fr => "\u{202f}",
            Lang::En => ",",
        };
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(sep);
            }
            out.push(c);
        }
        out
    }

    /// A size in bytes: `1,5 Mo` in French, `1.5 MB` in English (powers of
    /// 1000, as file managers show them).
    pub fn bytes(self, n: u64) -> String {
        let units = match self {
            Lang::Fr => ["o", "ko", "Mo", "Go", "To", "Po"],
            Lang::En => ["B", "kB", "MB", "GB", "TB", "PB"],
        };
        if n < 1000 {
            return format!("{} {}", n, units[0]);
        }
        let mut value = n as f64;
        let mut unit = 0;
        while value >= 1000.0 && unit < units.len() - 1 {
            value /= 1000.0;
            unit += 1;
        }
        let text = format!("{value:.1}");
        let text = match self {
            Lang::Fr => text.replace('.', ","),
            Lang::En => text,
        };
        format!("{text}\u{a0}{}", units[unit])
    }

    /// A moment, in Paris time: `29 novembre 2026 à 20:15:03` or
    /// `29 November 2026, 20:15:03`.
    pub fn time(self, unix_millis: u64) -> String {
        let Some(t) = paris(unix_millis) else {
            return "—".into();
        };
        let (h, m, s) = (t.hour(), t.minute(), t.second());
        match self {
            Lang::Fr => format!(
                "{} à {h:02}:{m:02}:{s:02}",
                self.date_parts(t.day(), t.month(), t.year())
            ),
            Lang::En => format!(
                "{}, {h:02}:{m:02}:{s:02}",
                self.date_parts(t.day(), t.month(), t.year())
            ),
        }
    }

    /// A calendar date: `29 novembre 2026` / `29 November 2026`.
    pub fn date(self, date: &crate::metadata::Date) -> String {
        let text = date.to_string();
        let mut parts = text.split('-').map(|p| p.parse::<i32>().unwrap_or(0));
        let (y, m, d) = (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(1),
            parts.next().unwrap_or(1),
        );
        match Month::try_from(m as u8) {
            Ok(month) => self.date_parts(d as u8, month, y),
            Err(_) => text,
        }
    }

    fn date_parts(self, day: u8, month: Month, year: i32) -> String {
        const EN: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let i = month as usize - 1;
        match self {
            Lang::Fr if day == 1 => format!("1er {} {year}", FRENCH_MONTHS[i]),
            Lang::Fr => format!("{day} {} {year}", FRENCH_MONTHS[i]),
            Lang::En => format!("{day} {} {year}", EN[i]),
        }
    }

    /// How long ago: `il y a 3 min` / `3 min ago`.
    pub fn age(self, millis: u64) -> String {
        let s = millis / 1000;
        let amount = match s {
            0..60 => format!("{s} s"),
            60..3600 => format!("{} min", s / 60),
            3600..86400 => format!("{} h", s / 3600),
            _ => format!("{} {}", s / 86400, self.t("j", "d")),
        };
        match self {
            Lang::Fr => format!("il y a {amount}"),
            Lang::En => format!("{amount} ago"),
        }
    }
}

/// The time in Paris (CET, CEST from the last Sunday of March to the last
/// Sunday of October, changing at 01:00 UTC), without a time-zone database.
fn paris(unix_millis: u64) -> Option<OffsetDateTime> {
    let utc = OffsetDateTime::from_unix_timestamp_nanos(unix_millis as i128 * 1_000_000).ok()?;
    let year = utc.year();
    let change = |month: Month| -> Option<OffsetDateTime> {
        let mut day = Date::from_calendar_date(year, month, 31).ok()?;
        while day.weekday() != Weekday::Sunday {
            day = day.previous_day()?;
        }
        Some(day.with_hms(1, 0, 0).ok()?.assume_utc())
    };
    let summer = utc >= change(Month::March)? && utc < change(Month::October)?;
    let offset = UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).ok()?;
    Some(utc.to_offset(offset))
}

/// The language asked for by the browser (`Accept-Language`), French
/// unless English comes first.
pub fn negotiate(accept_language: Option<&str>) -> Lang {
    let Some(header) = accept_language else {
        return Lang::Fr;
    };
    for part in header.split(',') {
        let tag = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if tag.starts_with("fr") {
            return Lang::Fr;
        }
        if tag.starts_with("en") {
            return Lang::En;
        }
    }
    Lang::Fr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_sizes_read_the_french_way() {
        assert_eq!(Lang::Fr.number(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(Lang::En.number(1234567), "1,234,567");
        assert_eq!(Lang::Fr.number(999), "999");
        assert_eq!(Lang::Fr.bytes(1_500_000), "1,5\u{a0}Mo");
        assert_eq!(Lang::En.bytes(1_500_000), "1.5\u{a0}MB");
        assert_eq!(Lang::Fr.bytes(12), "12 o");
    }

    #[test]
    fn times_are_in_paris_time_across_daylight_saving() {
        // 2026-11-29T19:54:43Z: winter, UTC+1.
        assert_eq!(
            Lang::Fr.time(1_795_982_083_000),
            "29 novembre 2026 à 20:54:43"
        );
        // 2026-07-01T12:00:00Z: summer, UTC+2.
        assert_eq!(Lang::En.time(1_782_907_200_000), "1 July 2026, 14:00:00");
        assert_eq!(
            Lang::Fr.time(1_782_907_200_000),
            "1er juillet 2026 à 14:00:00"
        );
        // The changes: 2026-03-29T01:00Z and 2026-10-25T01:00Z.
        assert!(Lang::En.time(1_774_745_999_000).ends_with("01:59:59"));
        assert!(Lang::En.time(1_774_746_000_000).ends_with("03:00:00"));
        assert!(Lang::En.time(1_792_890_000_000).ends_with("02:00:00"));
    }

    #[test]
    fn french_unless_english_comes_first() {
        assert_eq!(negotiate(None), Lang::Fr);
        assert_eq!(negotiate(Some("en-GB,en;q=0.9,fr;q=0.8")), Lang::En);
        assert_eq!(negotiate(Some("fr-FR,fr;q=0.9,en;q=0.8")), Lang::Fr);
        assert_eq!(negotiate(Some("de-DE")), Lang::Fr);
    }
}
