//! Conversion of k8s-openapi timestamps (`metav1.Time`, `metav1.MicroTime`,
//! which wrap `jiff::Timestamp`) to `chrono::DateTime<Utc>`.
//!
//! The rest of kpm speaks `chrono` (mandated crate), while k8s-openapi 0.29
//! stores times as `jiff` values; converting through the exact nanosecond
//! count keeps sub-second precision (MicroTime) without depending on `jiff`.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Converts a `metav1.Time` to chrono. `None` only if the instant is outside
/// chrono's range, which no real API server produces.
pub fn to_chrono(t: &Time) -> Option<DateTime<Utc>> {
    from_nanos(t.0.as_nanosecond())
}

/// Converts a `metav1.MicroTime` (used by `eventTime` and event series) to chrono.
pub fn micro_to_chrono(t: &MicroTime) -> Option<DateTime<Utc>> {
    from_nanos(t.0.as_nanosecond())
}

/// Converts an optional `metav1.Time` field, the usual shape in the API types.
pub fn opt_to_chrono(t: Option<&Time>) -> Option<DateTime<Utc>> {
    t.and_then(to_chrono)
}

fn from_nanos(nanos: i128) -> Option<DateTime<Utc>> {
    let secs = i64::try_from(nanos.div_euclid(NANOS_PER_SECOND)).ok()?;
    let sub = u32::try_from(nanos.rem_euclid(NANOS_PER_SECOND)).ok()?;
    DateTime::from_timestamp(secs, sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(s: &str) -> Time {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap()
    }

    #[test]
    fn converts_rfc3339_times() {
        let t = time("2024-05-01T10:20:30Z");
        let c = to_chrono(&t).unwrap();
        assert_eq!(c.to_rfc3339(), "2024-05-01T10:20:30+00:00");
    }

    #[test]
    fn keeps_microseconds_of_microtime() {
        let t: MicroTime =
            serde_json::from_value(serde_json::json!("2024-05-01T10:20:30.123456Z")).unwrap();
        let c = micro_to_chrono(&t).unwrap();
        assert_eq!(c.timestamp_subsec_micros(), 123_456);
    }

    #[test]
    fn times_before_epoch_convert() {
        let t = time("1969-12-31T23:59:59.5Z");
        let c = to_chrono(&t).unwrap();
        assert_eq!(c.timestamp(), -1);
        assert_eq!(c.timestamp_subsec_millis(), 500);
    }
}
