//! `--tz`: times shown in the reader's zone. The vault stores UTC and keeps
//! it; only what is shown changes. Without `--tz`, stored times are shown as
//! stored (RFC 3339 UTC), as before.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The zone times are shown in: UTC as stored, or an IANA zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Zone(Option<Tz>);

impl Zone {
    /// UTC, times shown exactly as stored.
    pub const STORED: Zone = Zone(None);

    /// An IANA zone name (`Europe/Berlin`, `America/New_York`, `UTC`).
    pub fn parse(name: &str) -> Result<Zone, String> {
        name.trim().parse::<Tz>().map(|tz| Zone(Some(tz))).map_err(|_| {
            format!("--tz {name:?}: not a time zone of the IANA database (for example Europe/Berlin)")
        })
    }

    /// The zone's name, `UTC` when none was given.
    pub fn name(&self) -> &'static str {
        self.0.map_or("UTC", |tz| tz.name())
    }

    /// Whether a zone was asked for.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// A stored time for a person: as stored without a zone; in the zone,
    /// `2026-09-20 11:14:03.512 CEST`. A time that does not parse is shown as stored.
    pub fn show(&self, stored: &str) -> String {
        match (self.0, parse(stored)) {
            (Some(tz), Some(t)) => t
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S%.3f %Z")
                .to_string(),
            _ => stored.to_string(),
        }
    }

    /// The day and the time of day of a stored time, in the zone (UTC
    /// without one): `("2026-09-20", "11:14:03 CEST")`.
    pub fn day_and_time(&self, stored: &str) -> Option<(String, String)> {
        let t = parse(stored)?;
        Some(match self.0 {
            Some(tz) => {
                let l = t.with_timezone(&tz);
                (
                    l.format("%Y-%m-%d").to_string(),
                    l.format("%H:%M:%S %Z").to_string(),
                )
            }
            None => (
                t.format("%Y-%m-%d").to_string(),
                t.format("%H:%M:%S").to_string(),
            ),
        })
    }
}

fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_utc_is_shown_in_the_zone_with_its_abbreviation() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.show("2026-09-20T09:14:03.512Z"),
            "2026-09-20 11:14:03.512 CEST"
        );
        assert_eq!(
            berlin.show("2026-01-20T23:30:00.000Z"),
            "2026-01-21 00:30:00.000 CET"
        );
        assert_eq!(
            berlin.day_and_time("2026-01-20T23:30:00.000Z"),
            Some(("2026-01-21".into(), "00:30:00 CET".into()))
        );
        assert_eq!(
            Zone::STORED.show("2026-09-20T09:14:03.512Z"),
            "2026-09-20T09:14:03.512Z"
        );
        assert_eq!(berlin.show("not a time"), "not a time");
        assert!(Zone::parse("Mars/Olympus").is_err());
    }
}
