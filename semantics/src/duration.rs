//! Human-readable durations and ages exactly as kubectl prints them.
//!
//! Mirrors `k8s.io/apimachinery/pkg/util/duration.HumanDuration` and the
//! `translateTimestampSince` helper of `pkg/printers/internalversion/printers.go`
//! (used for the AGE column, the RESTARTS "(2m ago)" suffix and event ages).

use chrono::{DateTime, TimeDelta, Utc};

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_MINUTE: i128 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i128 = 60 * NANOS_PER_MINUTE;

/// Formats a duration like `HumanDuration`: `45s`, `5m30s`, `3h2m`, `2d3h`,
/// `400d`, `3y45d`, `10y`. Precision degrades as the duration grows, so that
/// the column stays short.
///
/// Durations down to -1s print `0s` (HumanDuration tolerates small clock skew
/// between the client and the server); anything more negative is `<invalid>`.
pub fn human_duration(d: TimeDelta) -> String {
    // Go's time.Duration is a nanosecond count; chrono's subsec_nanos carries
    // the sign of the whole delta, so this sum is the exact nanosecond count.
    let nanos = i128::from(d.num_seconds()) * NANOS_PER_SECOND + i128::from(d.subsec_nanos());
    // Integer division truncates toward zero, like Go's int(d.Seconds()) and
    // int(d / time.Minute).
    let seconds = nanos / NANOS_PER_SECOND;
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = nanos / NANOS_PER_MINUTE;
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = nanos / NANOS_PER_HOUR;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{h}h", hours / 24);
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{dy}d", hours / 24 / 365);
    }
    format!("{}y", hours / 24 / 365)
}

/// The AGE of an object created at `then`, seen at `now` (kpm passes the
/// bundle's collection time, never the wall clock, so reports are
/// reproducible). Mirrors `translateTimestampSince`.
pub fn age(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    human_duration(now.signed_duration_since(then))
}

/// Like [`age`] for an optional timestamp: a missing timestamp (Go's zero
/// `metav1.Time`) prints `<unknown>` as kubectl does.
pub fn age_opt(then: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match then {
        Some(t) => age(t, now),
        None => "<unknown>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> TimeDelta {
        TimeDelta::seconds(s)
    }

    #[test]
    fn seconds_up_to_two_minutes() {
        assert_eq!(human_duration(secs(0)), "0s");
        assert_eq!(human_duration(secs(45)), "45s");
        assert_eq!(human_duration(secs(119)), "119s");
        assert_eq!(human_duration(TimeDelta::milliseconds(1999)), "1s");
    }

    #[test]
    fn minutes_with_seconds_below_ten_minutes() {
        assert_eq!(human_duration(secs(120)), "2m");
        assert_eq!(human_duration(secs(330)), "5m30s");
        assert_eq!(human_duration(secs(599)), "9m59s");
        assert_eq!(human_duration(secs(600)), "10m");
        assert_eq!(human_duration(secs(179 * 60 + 59)), "179m");
    }

    #[test]
    fn hours_days_years() {
        assert_eq!(human_duration(secs(3 * 3600)), "3h");
        assert_eq!(human_duration(secs(3 * 3600 + 2 * 60 + 5)), "3h2m");
        assert_eq!(human_duration(secs(8 * 3600 + 59 * 60)), "8h");
        assert_eq!(human_duration(secs(47 * 3600)), "47h");
        assert_eq!(human_duration(secs(51 * 3600)), "2d3h");
        assert_eq!(human_duration(secs(7 * 86400)), "7d");
        assert_eq!(human_duration(secs(8 * 86400 + 5 * 3600)), "8d");
        assert_eq!(human_duration(secs(400 * 86400)), "400d");
        assert_eq!(human_duration(secs((3 * 365 + 45) * 86400)), "3y45d");
        assert_eq!(human_duration(secs(2 * 365 * 86400)), "2y");
        assert_eq!(human_duration(secs(10 * 365 * 86400 + 86400 * 100)), "10y");
    }

    #[test]
    fn negative_durations_tolerate_one_second_of_skew() {
        assert_eq!(human_duration(TimeDelta::milliseconds(-500)), "0s");
        assert_eq!(human_duration(TimeDelta::milliseconds(-1999)), "0s");
        assert_eq!(human_duration(secs(-2)), "<invalid>");
    }

    #[test]
    fn age_uses_the_given_now() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let then = DateTime::parse_from_rfc3339("2024-04-29T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(age(then, now), "2d3h");
        assert_eq!(age_opt(None, now), "<unknown>");
        // A timestamp in the future beyond the skew tolerance.
        assert_eq!(age(now, then), "<invalid>");
    }
}
