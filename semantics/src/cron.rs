//! CronJob schedules as the CronJob controller reads them: robfig/cron v3's
//! `ParseStandard` (`parser.go`, `spec.go`), which kube-controller-manager
//! uses for `spec.schedule`.
//!
//! Five fields `minute hour day-of-month month day-of-week` with `*`, `?`,
//! lists, ranges, steps (`N/step` means `N-max/step`) and the names
//! `jan`…`dec`, `sun`…`sat`; the descriptors `@yearly`/`@annually`,
//! `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly` and `@every
//! <duration>`; a `CRON_TZ=<zone> ` or `TZ=<zone> ` prefix. Day matching is
//! robfig's: when day-of-month or day-of-week is a star (`*`, `?`, or a
//! starred range with step 1) both must match, otherwise either may.
//!
//! Times are wall-clock times ([`NaiveDateTime`]) in the schedule's zone.
//! This crate has no time-zone database: callers that only know instants
//! evaluate in UTC and allow for the zone's offset (a fixed offset moves
//! every fire time alike, so counts over a window differ by at most one at
//! each end; a DST change moves one fire time by an hour).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Why a schedule could not be parsed (robfig's wording where it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// Not five fields after the time-zone prefix.
    #[error("expected exactly 5 fields, found {0}: {1}")]
    FieldCount(usize, String),
    /// A field value is not a number or a known name.
    #[error("failed to parse int from {0}")]
    NotANumber(String),
    /// A range or value outside the field's bounds, or reversed.
    #[error("{0}")]
    Range(String),
    /// An unknown `@` descriptor or a bad `@every` duration.
    #[error("unrecognized descriptor: {0}")]
    Descriptor(String),
}

/// robfig's `starBit`: the field was written as a star.
const STAR: u64 = 1 << 63;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    every: Option<Duration>,
    zone: Option<String>,
}

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTE: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// Parses `spec.schedule` as the CronJob controller does.
pub fn parse(spec: &str) -> Result<Schedule, CronError> {
    let mut text = spec.trim();
    let mut zone = None;
    for prefix in ["CRON_TZ=", "TZ="] {
        if let Some(rest) = text.strip_prefix(prefix) {
            let (z, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            zone = Some(z.to_string());
            text = rest.trim();
            break;
        }
    }
    let mut schedule = if text.starts_with('@') {
        descriptor(text)?
    } else {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [m, h, dom, mon, dow] = fields.as_slice() else {
            return Err(CronError::FieldCount(fields.len(), text.to_string()));
        };
        Schedule {
            minute: field(m, &MINUTE)?,
            hour: field(h, &HOUR)?,
            dom: field(dom, &DOM)?,
            month: field(mon, &MONTH)?,
            dow: field(dow, &DOW)?,
            every: None,
            zone: None,
        }
    };
    schedule.zone = zone;
    Ok(schedule)
}

fn bits(min: u32, max: u32, step: u32) -> u64 {
    (min..=max)
        .step_by(step as usize)
        .fold(0, |acc, i| acc | 1 << i)
}

fn all(b: &Bounds) -> u64 {
    bits(b.min, b.max, 1) | STAR
}

fn descriptor(text: &str) -> Result<Schedule, CronError> {
    let at = |minute: u64, hour: u64, dom: u64, month: u64, dow: u64| Schedule {
        minute,
        hour,
        dom,
        month,
        dow,
        every: None,
        zone: None,
    };
    let first = |b: &Bounds| 1u64 << b.min;
    Ok(match text {
        "@yearly" | "@annually" => at(1, 1, first(&DOM), first(&MONTH), all(&DOW)),
        "@monthly" => at(1, 1, first(&DOM), all(&MONTH), all(&DOW)),
        "@weekly" => at(1, 1, all(&DOM), all(&MONTH), first(&DOW)),
        "@daily" | "@midnight" => at(1, 1, all(&DOM), all(&MONTH), all(&DOW)),
        "@hourly" => at(1, all(&HOUR), all(&DOM), all(&MONTH), all(&DOW)),
        _ => {
            let d = text
                .strip_prefix("@every ")
                .and_then(go_duration)
                .filter(|d| *d >= Duration::seconds(1))
                .ok_or_else(|| CronError::Descriptor(text.to_string()))?;
            Schedule {
                every: Some(d),
                ..at(0, 0, 0, 0, 0)
            }
        }
    })
}

/// A Go `time.ParseDuration` string made of `h`, `m` and `s` parts
/// (`1h30m`, `90s`); sub-second units are rounded away as robfig does.
fn go_duration(s: &str) -> Option<Duration> {
    let mut total = 0i64;
    let mut number = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().ok()?;
        number.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
    }
    number.is_empty().then(|| Duration::seconds(total))
}

fn value(s: &str, b: &Bounds) -> Result<u32, CronError> {
    let lower = s.to_ascii_lowercase();
    if let Some((_, v)) = b.names.iter().find(|(n, _)| *n == lower) {
        return Ok(*v);
    }
    s.parse().map_err(|_| CronError::NotANumber(s.to_string()))
}

/// One field: comma-separated ranges (robfig's `getField` / `getRange`).
fn field(text: &str, b: &Bounds) -> Result<u64, CronError> {
    text.split(',').try_fold(0, |acc, r| Ok(acc | range(r, b)?))
}

fn range(expr: &str, b: &Bounds) -> Result<u64, CronError> {
    let (span, step) = match expr.split_once('/') {
        Some((span, step)) => (span, Some(step)),
        None => (expr, None),
    };
    let (start, mut end, mut extra) = if span == "*" || span == "?" {
        (b.min, b.max, STAR)
    } else {
        let (lo, hi) = match span.split_once('-') {
            Some((lo, hi)) => (value(lo, b)?, Some(value(hi, b)?)),
            None => (value(span, b)?, None),
        };
        (lo, hi.unwrap_or(lo), 0)
    };
    let step = match step {
        None => 1,
        Some(s) => {
            let step: u32 = s
                .parse()
                .map_err(|_| CronError::NotANumber(s.to_string()))?;
            if !span.contains('-') {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
    };
    if span.matches('-').count() > 1 || expr.matches('/').count() > 1 {
        return Err(CronError::Range(format!(
            "too many hyphens or slashes: {expr}"
        )));
    }
    if start < b.min || end > b.max || start > end || step == 0 {
        return Err(CronError::Range(format!(
            "range {start}-{end}/{step} outside {}-{}: {expr}",
            b.min, b.max
        )));
    }
    Ok(bits(start, end, step) | extra)
}

fn has(set: u64, i: u32) -> bool {
    set & (1 << i) != 0
}

impl Schedule {
    /// The `CRON_TZ=` / `TZ=` zone of the schedule text, if any.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }

    /// The fixed interval of an `@every` schedule.
    pub fn every(&self) -> Option<Duration> {
        self.every
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        let dom = has(self.dom, d.day());
        let dow = has(self.dow, d.weekday().num_days_from_sunday());
        if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first fire time strictly after `t` (robfig's `SpecSchedule.Next`
    /// on wall-clock time), or `None` when none comes within five years
    /// (`0 0 30 2 *`).
    pub fn next_after(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        if let Some(d) = self.every {
            return t.checked_add_signed(d);
        }
        let limit = t.year() + 5;
        // Start at the next whole minute.
        let mut day = t.date();
        let mut minute_of_day = t.hour() * 60 + t.minute() + 1;
        while day.year() <= limit {
            if !has(self.month, day.month()) {
                day = first_of_next_month(day)?;
                minute_of_day = 0;
                continue;
            }
            if !self.day_matches(day) || minute_of_day >= 24 * 60 {
                day = day.succ_opt()?;
                minute_of_day = 0;
                continue;
            }
            let found = (minute_of_day..24 * 60)
                .find(|m| has(self.hour, m / 60) && has(self.minute, m % 60));
            match found {
                Some(m) => {
                    let time = NaiveTime::from_hms_opt(m / 60, m % 60, 0)?;
                    return Some(day.and_time(time));
                }
                None => minute_of_day = 24 * 60,
            }
        }
        None
    }

    /// How many fire times fall in `(from, to]`, counting at most `cap`.
    pub fn count_between(&self, from: NaiveDateTime, to: NaiveDateTime, cap: usize) -> usize {
        let mut n = 0;
        let mut t = from;
        while n < cap {
            match self.next_after(t) {
                Some(next) if next <= to => {
                    n += 1;
                    t = next;
                }
                _ => break,
            }
        }
        n
    }

    /// The longest wait between two consecutive fire times over the year
    /// after `from` (at most `cap` fire times looked at): the period a run
    /// can be late by before one is really missed.
    pub fn longest_gap(&self, from: NaiveDateTime, cap: usize) -> Option<Duration> {
        if let Some(d) = self.every {
            return Some(d);
        }
        let end = from + Duration::days(366);
        let mut prev = self.next_after(from)?;
        let mut longest = Duration::zero();
        for _ in 0..cap {
            let Some(next) = self.next_after(prev) else {
                break;
            };
            longest = longest.max(next - prev);
            if next > end {
                break;
            }
            prev = next;
        }
        Some(longest)
    }
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn next(spec: &str, from: &str) -> String {
        parse(spec)
            .unwrap()
            .next_after(at(from))
            .map(|t| t.format("%Y-%m-%d %H:%M %a").to_string())
            .unwrap_or_default()
    }

    #[test]
    fn five_fields_with_steps_ranges_lists_and_names() {
        assert_eq!(
            next("*/30 * * * *", "2026-11-20 14:30"),
            "2026-11-20 15:00 Fri"
        );
        assert_eq!(
            next("0 6 1 */3 *", "2026-11-20 14:30"),
            "2027-01-01 06:00 Fri"
        );
        assert_eq!(
            next("15 9-17/4 * * mon-fri", "2026-11-20 14:30"),
            "2026-11-20 17:15 Fri"
        );
        assert_eq!(
            next("15 9-17/4 * * mon-fri", "2026-11-20 17:15"),
            "2026-11-23 09:15 Mon"
        );
        assert_eq!(
            next("0 0 * JAN,jul SUN", "2026-11-20 14:30"),
            "2027-01-03 00:00 Sun"
        );
        assert_eq!(
            next("5/20 * * * *", "2026-11-20 14:30"),
            "2026-11-20 14:45 Fri"
        );
        assert_eq!(
            next("? ? ? ? ?", "2026-11-20 14:30"),
            "2026-11-20 14:31 Fri"
        );
    }

    #[test]
    fn day_of_month_and_week_or_unless_one_is_a_star() {
        // Neither a star: the 13th or any Friday.
        assert_eq!(
            next("0 0 13 * 5", "2026-11-20 14:30"),
            "2026-11-27 00:00 Fri"
        );
        assert_eq!(
            next("0 0 13 * 5", "2026-12-05 00:00"),
            "2026-12-11 00:00 Fri"
        );
        // Day-of-week is a star: only the 13th.
        assert_eq!(
            next("0 0 13 * *", "2026-11-20 14:30"),
            "2026-12-13 00:00 Sun"
        );
        // `*/2` (step > 1) is not a star in robfig v3: odd days or Mondays.
        assert_eq!(
            next("0 0 */2 * 1", "2026-11-20 14:30"),
            "2026-11-21 00:00 Sat"
        );
    }

    #[test]
    fn descriptors_time_zones_and_every() {
        assert_eq!(next("@hourly", "2026-11-20 14:30"), "2026-11-20 15:00 Fri");
        assert_eq!(next("@daily", "2026-11-20 14:30"), "2026-11-21 00:00 Sat");
        assert_eq!(next("@weekly", "2026-11-20 14:30"), "2026-11-22 00:00 Sun");
        assert_eq!(next("@monthly", "2026-11-20 14:30"), "2026-12-01 00:00 Tue");
        assert_eq!(next("@yearly", "2026-11-20 14:30"), "2027-01-01 00:00 Fri");
        let s = parse("CRON_TZ=Europe/Berlin 0 3 * * *").unwrap();
        assert_eq!(s.zone(), Some("Europe/Berlin"));
        assert_eq!(parse("TZ=UTC @daily").unwrap().zone(), Some("UTC"));
        let every = parse("@every 1h30m").unwrap();
        assert_eq!(every.every(), Some(Duration::minutes(90)));
        assert_eq!(
            every.next_after(at("2026-11-20 14:30")),
            Some(at("2026-11-20 16:00"))
        );
    }

    #[test]
    fn impossible_dates_end_and_bad_specs_are_errors() {
        assert_eq!(
            parse("0 0 30 2 *")
                .unwrap()
                .next_after(at("2026-01-01 00:00")),
            None
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-03-01 00:00"),
            "2028-02-29 00:00 Tue"
        );
        assert!(matches!(parse("* * * *"), Err(CronError::FieldCount(4, _))));
        assert!(matches!(parse("60 * * * *"), Err(CronError::Range(_))));
        assert!(matches!(parse("5-1 * * * *"), Err(CronError::Range(_))));
        assert!(matches!(parse("*/0 * * * *"), Err(CronError::Range(_))));
        assert!(matches!(parse("x * * * *"), Err(CronError::NotANumber(_))));
        assert!(matches!(
            parse("@fortnightly"),
            Err(CronError::Descriptor(_))
        ));
        assert!(matches!(parse("* * * * 7"), Err(CronError::Range(_))));
    }

    #[test]
    fn counts_and_gaps() {
        let s = parse("*/10 * * * *").unwrap();
        assert_eq!(
            s.count_between(at("2026-11-19 18:00"), at("2026-11-20 14:30"), 1000),
            123
        );
        assert_eq!(
            s.count_between(at("2026-11-19 18:00"), at("2026-11-20 14:30"), 100),
            100
        );
        assert_eq!(
            s.longest_gap(at("2026-11-20 14:30"), 100_000),
            Some(Duration::minutes(10))
        );
        let weekdays = parse("0 9 * * 1-5").unwrap();
        assert_eq!(
            weekdays.longest_gap(at("2026-11-20 14:30"), 1000),
            Some(Duration::days(3))
        );
        let weekly = parse("0 3 * * 0").unwrap();
        assert_eq!(
            weekly.count_between(at("2026-11-17 03:00"), at("2026-11-20 14:30"), 10),
            0
        );
    }
}
