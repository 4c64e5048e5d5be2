//! UTC day ranges, as `reconcile`, `list` and `verify` take them
//! (`--from 2026-03-01 --to 2026-03-31`, both days included).

use std::fmt;

use chrono::{DateTime, Days, NaiveDate, Utc};

/// An inclusive range of UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    from: NaiveDate,
    to: NaiveDate,
}

/// Why a day range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DayRangeError {
    #[error("{0:?} is not a date: expected YYYY-MM-DD (a UTC day)")]
    NotADate(String),
    #[error("--from {from} is after --to {to}")]
    Reversed { from: NaiveDate, to: NaiveDate },
}

impl DayRange {
    /// `from..=to`; refused when `from` is after `to`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, DayRangeError> {
        if from > to {
            return Err(DayRangeError::Reversed { from, to });
        }
        Ok(Self { from, to })
    }

    /// From two `YYYY-MM-DD` strings.
    pub fn parse(from: &str, to: &str) -> Result<Self, DayRangeError> {
        Self::new(parse_day(from)?, parse_day(to)?)
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// How many days, both ends included.
    pub fn len_days(&self) -> u64 {
        (self.to - self.from).num_days().unsigned_abs() + 1
    }

    /// Every day, in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let to = self.to;
        self.from.iter_days().take_while(move |d| *d <= to)
    }

    /// Whether `day` is inside.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    /// Midnight UTC at the start of the first day.
    pub fn start(&self) -> DateTime<Utc> {
        midnight(self.from)
    }

    /// Midnight UTC after the last day (exclusive end).
    pub fn end(&self) -> DateTime<Utc> {
        midnight(next_day(self.to))
    }

    /// The ISO-8601 interval `start/end` Genesys's analytics API takes.
    pub fn interval(&self) -> String {
        format!(
            "{}/{}",
            crate::transcript::fmt_time(self.start()),
            crate::transcript::fmt_time(self.end())
        )
    }

    /// Consecutive ranges of at most `max_days` days each that cover this one.
    pub fn chunks(&self, max_days: u64) -> Vec<DayRange> {
        let max_days = max_days.max(1);
        let mut out = Vec::new();
        let mut from = self.from;
        loop {
            let last = from
                .checked_add_days(Days::new(max_days - 1))
                .map_or(self.to, |d| d.min(self.to));
            out.push(DayRange { from, to: last });
            if last >= self.to {
                return out;
            }
            from = next_day(last);
        }
    }

    /// The two halves (the first one gets the middle day), or `None` for a single day.
    pub fn halves(&self) -> Option<(DayRange, DayRange)> {
        if self.from == self.to {
            return None;
        }
        let first_len = self.len_days().div_ceil(2);
        let mid = self.from + Days::new(first_len - 1);
        Some((
            DayRange {
                from: self.from,
                to: mid,
            },
            DayRange {
                from: next_day(mid),
                to: self.to,
            },
        ))
    }
}

impl fmt::Display for DayRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{} to {}", self.from, self.to)
        }
    }
}

/// `YYYY-MM-DD`.
pub fn parse_day(s: &str) -> Result<NaiveDate, DayRangeError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| DayRangeError::NotADate(s.into()))
}

/// The UTC day of an instant.
pub fn day_of(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn next_day(d: NaiveDate) -> NaiveDate {
    d.succ_opt().unwrap_or(NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: &str, b: &str) -> DayRange {
        DayRange::parse(a, b).unwrap()
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!(r("2026-03-01", "2026-03-31").len_days(), 31);
        assert!(matches!(
            DayRange::parse("2026-3-x", "2026-03-02"),
            Err(DayRangeError::NotADate(_))
        ));
        assert!(matches!(
            DayRange::parse("2026-03-02", "2026-03-01"),
            Err(DayRangeError::Reversed { .. })
        ));
    }

    #[test]
    fn interval_is_half_open_midnight_to_midnight() {
        assert_eq!(
            r("2026-09-20", "2026-09-20").interval(),
            "2026-09-20T00:00:00.000Z/2026-09-21T00:00:00.000Z"
        );
    }

    #[test]
    fn chunks_cover_without_overlap() {
        let whole = r("2026-01-01", "2026-03-15");
        let chunks = whole.chunks(31);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0], r("2026-01-01", "2026-01-31"));
        assert_eq!(chunks[1], r("2026-02-01", "2026-03-03"));
        assert_eq!(chunks[2], r("2026-03-04", "2026-03-15"));
        let days: u64 = chunks.iter().map(DayRange::len_days).sum();
        assert_eq!(days, whole.len_days());
        assert_eq!(r("2026-01-01", "2026-01-01").chunks(31).len(), 1);
    }

    #[test]
    fn halves_split_by_days() {
        let (a, b) = r("2026-01-01", "2026-01-03").halves().unwrap();
        assert_eq!(
            (a, b),
            (r("2026-01-01", "2026-01-02"), r("2026-01-03", "2026-01-03"))
        );
        assert!(r("2026-01-01", "2026-01-01").halves().is_none());
        assert_eq!(r("2026-01-01", "2026-01-03").days().count(), 3);
    }
}
