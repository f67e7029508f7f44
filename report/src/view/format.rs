//! Small text formatters shared by the view builders.
//!
//! Done in Rust rather than in templates: tera is built without its
//! `builtins` feature (no `date` filter) and doing this once per value here
//! keeps rendering cheap on very large reports.

use chrono::{DateTime, Utc};
use kpm_model::ObjectRef;

/// `2026-11-26 04:12:03 UTC`: unambiguous in a ticket read in any time zone.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Age of `t` at `now` in the short form kubectl prints (`45s`, `3m12s`,
/// `2h5m`, `4d`), so ages read the same as in a terminal.
pub fn age(t: &DateTime<Utc>, now: &DateTime<Utc>) -> String {
    let secs = now.signed_duration_since(*t).num_seconds().max(0);
    human_duration(secs)
}

/// kubectl's `duration.HumanDuration` rules, simplified to whole units.
pub fn human_duration(secs: i64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        let s = secs % 60;
        if s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{s}s")
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        let mm = m % 60;
        if mm == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{mm}m")
        }
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        let hh = h % 24;
        if hh == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{hh}h")
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

/// Bytes in the binary units Kubernetes uses for memory (`512Mi`, `1.5Gi`).
pub fn bytes(b: u64) -> String {
    const KI: f64 = 1024.0;
    let f = b as f64;
    if f >= KI * KI * KI {
        let g = f / (KI * KI * KI);
        if (g - g.round()).abs() < 0.05 {
            format!("{:.0}Gi", g)
        } else {
            format!("{:.1}Gi", g)
        }
    } else if f >= KI * KI {
        format!("{:.0}Mi", f / (KI * KI))
    } else if f >= KI {
        format!("{:.0}Ki", f / KI)
    } else {
        format!("{b}")
    }
}

/// CPU millicores as kubectl top prints them (`250m`).
pub fn millis(m: u64) -> String {
    format!("{m}m")
}

/// Cuts `s` to at most `max` bytes on a char boundary, saying how much was
/// dropped (`… [N more bytes not shown]`): a single multi-megabyte log line,
/// annotation or name must not blow up the page. Only the kept part is
/// copied, so clipping a 100 MB string costs no more than a short one.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let kept = s.get(..cut).unwrap_or("");
    format!("{kept}… [{} more bytes not shown]", s.len() - cut)
}

/// `Kind/namespace/name` with each part clipped to `max` bytes, built without
/// copying an over-long name first.
pub fn clip_ref(o: &ObjectRef, max: usize) -> String {
    match &o.namespace {
        Some(ns) => format!(
            "{}/{}/{}",
            clip(&o.kind, max),
            clip(ns, max),
            clip(&o.name, max)
        ),
        None => format!("{}/{}", clip(&o.kind, max), clip(&o.name, max)),
    }
}

/// An optional string clipped, empty when absent.
pub fn clip_opt(s: Option<&str>, max: usize) -> String {
    s.map(|s| clip(s, max)).unwrap_or_default()
}

/// Width of a bar in percent, clamped so an over-committed limit (250 %)
/// still fits its track; the label keeps the true value.
pub fn bar_width(percent: u32) -> u32 {
    percent.min(100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ages_follow_kubectl_shapes() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(192), "3m12s");
        assert_eq!(human_duration(3600 + 300), "65m");
        assert_eq!(human_duration(5 * 3600 + 7 * 60), "5h7m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86_400 + 2 * 3600), "3d2h");
        assert_eq!(human_duration(40 * 86_400), "40d");
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 4, 12, 3).unwrap();
        let later = Utc.with_ymd_and_hms(2026, 11, 26, 4, 13, 0).unwrap();
        // Clock skew: an event stamped after collection is not negative.
        assert_eq!(age(&later, &now), "0s");
        assert_eq!(timestamp(&now), "2026-11-26 04:12:03 UTC");
    }

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(bytes(512 * 1024 * 1024), "512Mi");
        assert_eq!(bytes(1536 * 1024 * 1024), "1.5Gi");
        assert_eq!(bytes(2 * 1024 * 1024 * 1024), "2Gi");
        assert_eq!(bytes(900), "900");
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 10), "héllo");
        // `é` is two bytes: a cut inside it backs off to its start.
        assert_eq!(clip("héllo", 2), "h… [5 more bytes not shown]");
        assert_eq!(clip("héllo", 3), "hé… [3 more bytes not shown]");
        let long = "x".repeat(100_000);
        let o = ObjectRef::namespaced("Pod", "shop", &long);
        assert_eq!(
            clip_ref(&o, 4),
            "Pod/shop/xxxx… [99996 more bytes not shown]"
        );
        assert_eq!(bar_width(250), 100);
    }
}
