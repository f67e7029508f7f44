//! Timestamps, counts and table cells of core/v1 Events as kubectl shows them.
//!
//! An Event written by the legacy recorder carries `firstTimestamp`,
//! `lastTimestamp` and `count`; one written through the events.k8s.io API
//! (kubelet and scheduler today) carries `eventTime` and, once repeated, a
//! `series` with `lastObservedTime` and `count`, leaving the legacy fields
//! empty. kubectl reconciles the two:
//! - `eventTime()` of `kubectl/pkg/cmd/events` / `describe.SortableEvents`
//!   orders by `series.lastObservedTime` when there is a series, else
//!   `lastTimestamp`, else `eventTime` ([`last_seen`]; kpm adds
//!   `metadata.creationTimestamp` as a last resort so every event sorts);
//! - `printEvent` (`kubectl get events`) shows FIRST SEEN from
//!   `firstTimestamp` else `eventTime`, and COUNT from the series, else
//!   `count`, else 1 ([`first_seen`], [`count`], [`event_row`]);
//! - `DescribeEvents` prints "2m (x5 over 10m)" ([`describe_age`]) and
//!   orders by `lastTimestamp` only ([`sort_events_for_describe`]).
//!
//! Checked against kubectl v1.32 (`kubectl describe pod`, `kubectl events`).

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Event;
use serde::{Deserialize, Serialize};

use crate::duration::{age, age_opt};
use crate::time::{micro_to_chrono, to_chrono};

fn last_timestamp(ev: &Event) -> Option<DateTime<Utc>> {
    ev.last_timestamp.as_ref().and_then(to_chrono)
}

fn first_timestamp(ev: &Event) -> Option<DateTime<Utc>> {
    ev.first_timestamp.as_ref().and_then(to_chrono)
}

fn event_time(ev: &Event) -> Option<DateTime<Utc>> {
    ev.event_time.as_ref().and_then(micro_to_chrono)
}

fn series_last_observed(ev: &Event) -> Option<DateTime<Utc>> {
    ev.series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref())
        .and_then(micro_to_chrono)
}

fn creation(ev: &Event) -> Option<DateTime<Utc>> {
    ev.metadata.creation_timestamp.as_ref().and_then(to_chrono)
}

/// When the event last happened: the instant kubectl sorts events by.
pub fn last_seen(ev: &Event) -> Option<DateTime<Utc>> {
    series_last_observed(ev)
        .or_else(|| last_timestamp(ev))
        .or_else(|| event_time(ev))
        .or_else(|| creation(ev))
}

/// When the event first happened (`firstTimestamp`, else `eventTime`, else
/// the object's creation).
pub fn first_seen(ev: &Event) -> Option<DateTime<Utc>> {
    first_timestamp(ev)
        .or_else(|| event_time(ev))
        .or_else(|| creation(ev))
}

/// How many times the event happened: the series count, else `count`, and 1
/// for a singleton written by the new API (which leaves `count` unset).
pub fn count(ev: &Event) -> i32 {
    if let Some(series) = &ev.series {
        return series.count.unwrap_or(0);
    }
    match ev.count {
        Some(c) if c != 0 => c,
        _ => 1,
    }
}

/// Sorts events oldest first by [`last_seen`], the order of `kubectl
/// events`. Stable, so equal times keep list order.
pub fn sort_events(events: &mut [Event]) {
    events.sort_by_key(last_seen);
}

/// Sorts events the way `kubectl describe` does (`DescribeEvents` with
/// `util/event.SortableEvents`): by `lastTimestamp` alone, so events from
/// the new API, which leave it empty, come first in list order.
pub fn sort_events_for_describe(events: &mut [Event]) {
    events.sort_by_key(last_timestamp);
}

/// The "From" cell of `kubectl describe`'s event table:
/// `source.component`, else `reportingComponent` (no host).
pub fn describe_from(ev: &Event) -> String {
    ev.source
        .as_ref()
        .and_then(|s| s.component.clone())
        .filter(|c| !c.is_empty())
        .or_else(|| ev.reporting_component.clone())
        .unwrap_or_default()
}

/// The "Age" cell of `kubectl describe`'s event table: `45s`,
/// `2m (x5 over 10m)`.
pub fn describe_age(ev: &Event, now: DateTime<Utc>) -> String {
    let first = match event_time(ev) {
        Some(t) => age(t, now),
        None => age_opt(first_timestamp(ev), now),
    };
    if let Some(series) = &ev.series {
        let last = age_opt(series_last_observed(ev), now);
        return format!("{last} (x{} over {first})", series.count.unwrap_or(0));
    }
    let c = ev.count.unwrap_or(0);
    if c > 1 {
        return format!("{} (x{c} over {first})", age_opt(last_timestamp(ev), now));
    }
    first
}

/// One row of `kubectl get events -o wide`, all cells as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRow {
    /// LAST SEEN
    pub last_seen: String,
    /// TYPE (`Normal`, `Warning`)
    pub type_: String,
    /// REASON
    pub reason: String,
    /// OBJECT, e.g. `pod/web-1`
    pub object: String,
    /// SUBOBJECT (the involved object's field path)
    pub subobject: String,
    /// SOURCE, e.g. `kubelet, worker-2`
    pub source: String,
    /// MESSAGE (trimmed)
    pub message: String,
    /// FIRST SEEN
    pub first_seen: String,
    /// COUNT
    pub count: i32,
    /// NAME
    pub name: String,
}

/// Computes the `kubectl get events -o wide` row (`printEvent`) at `now`.
pub fn event_row(ev: &Event, now: DateTime<Utc>) -> EventRow {
    let first_seen = match first_timestamp(ev) {
        Some(t) => age(t, now),
        None => age_opt(event_time(ev), now),
    };
    let last_seen = if ev.series.is_some() {
        age_opt(series_last_observed(ev), now)
    } else {
        match last_timestamp(ev) {
            Some(t) => age(t, now),
            None => first_seen.clone(),
        }
    };
    let obj = &ev.involved_object;
    let kind = obj.kind.as_deref().unwrap_or_default().to_lowercase();
    let object = match obj.name.as_deref() {
        Some(n) if !n.is_empty() => format!("{kind}/{n}"),
        _ => kind,
    };
    let pick = |a: Option<&String>, b: Option<&String>| {
        a.filter(|s| !s.is_empty())
            .or(b.filter(|s| !s.is_empty()))
            .cloned()
            .unwrap_or_default()
    };
    let component = pick(
        ev.source.as_ref().and_then(|s| s.component.as_ref()),
        ev.reporting_component.as_ref(),
    );
    let instance = pick(
        ev.source.as_ref().and_then(|s| s.host.as_ref()),
        ev.reporting_instance.as_ref(),
    );
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    EventRow {
        last_seen,
        type_: ev.type_.clone().unwrap_or_default(),
        reason: ev.reason.clone().unwrap_or_default(),
        object,
        subobject: obj.field_path.clone().unwrap_or_default(),
        source,
        message: ev.message.as_deref().unwrap_or_default().trim().to_owned(),
        first_seen,
        count: count(ev),
        name: ev.metadata.name.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
    }

    /// A BackOff event from the legacy recorder, repeated 42 times.
    fn legacy_backoff() -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": "checkout-7d4b9c8f6d-x2x9z.17c9a1b2c3d4e5f6", "namespace": "shop",
                         "creationTimestamp": "2024-05-01T11:30:00Z"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "checkout-7d4b9c8f6d-x2x9z",
                               "apiVersion": "v1", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff",
            "message": "Back-off restarting failed container app in pod checkout-7d4b9c8f6d-x2x9z_shop(5b1e0c1c-8f1e-4a51-9d0e-3c3b1f6f2a10)",
            "source": {"component": "kubelet", "host": "worker-2"},
            "firstTimestamp": "2024-05-01T11:30:00Z",
            "lastTimestamp": "2024-05-01T11:58:00Z",
            "count": 42,
            "type": "Warning",
            "eventTime": null,
            "reportingComponent": "kubelet",
            "reportingInstance": "worker-2"
        }))
        .unwrap()
    }

    /// A FailedScheduling event from the events.k8s.io API with a series.
    fn series_failed_scheduling() -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": "web-5f9c.17c9a1b2", "namespace": "shop",
                         "creationTimestamp": "2024-05-01T11:00:00Z"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-5f9c"},
            "reason": "FailedScheduling",
            "message": "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
            "source": {},
            "firstTimestamp": null,
            "lastTimestamp": null,
            "type": "Warning",
            "eventTime": "2024-05-01T11:00:00.123456Z",
            "series": {"count": 7, "lastObservedTime": "2024-05-01T11:55:00.000001Z"},
            "action": "Scheduling",
            "reportingComponent": "default-scheduler",
            "reportingInstance": "default-scheduler-control-plane"
        }))
        .unwrap()
    }

    /// A singleton Scheduled event from the new API (no count, no series).
    fn singleton_scheduled() -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": "web-5f9c.17c9a1b3", "namespace": "shop",
                         "creationTimestamp": "2024-05-01T11:59:30Z"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-5f9c"},
            "reason": "Scheduled",
            "message": "Successfully assigned shop/web-5f9c to worker-1",
            "source": {},
            "type": "Normal",
            "eventTime": "2024-05-01T11:59:30.000000Z",
            "action": "Binding",
            "reportingComponent": "default-scheduler",
            "reportingInstance": "default-scheduler-control-plane"
        }))
        .unwrap()
    }

    #[test]
    fn legacy_event_times_and_count() {
        let ev = legacy_backoff();
        assert_eq!(last_seen(&ev), at("2024-05-01T11:58:00Z"));
        assert_eq!(first_seen(&ev), at("2024-05-01T11:30:00Z"));
        assert_eq!(count(&ev), 42);
        assert_eq!(describe_age(&ev, now()), "2m (x42 over 30m)");
    }

    #[test]
    fn series_event_uses_last_observed_time() {
        let ev = series_failed_scheduling();
        assert_eq!(
            last_seen(&ev).map(|t| t.timestamp()),
            at("2024-05-01T11:55:00Z").map(|t| t.timestamp())
        );
        assert_eq!(
            first_seen(&ev).map(|t| t.timestamp_subsec_micros()),
            Some(123_456)
        );
        assert_eq!(count(&ev), 7);
        assert_eq!(describe_age(&ev, now()), "4m59s (x7 over 59m)");
        let row = event_row(&ev, now());
        assert_eq!(row.last_seen, "4m59s");
        assert_eq!(row.first_seen, "59m");
        assert_eq!(
            row.source,
            "default-scheduler, default-scheduler-control-plane"
        );
        assert_eq!(row.count, 7);
    }

    #[test]
    fn singleton_new_api_event() {
        let ev = singleton_scheduled();
        assert_eq!(count(&ev), 1);
        assert_eq!(last_seen(&ev), at("2024-05-01T11:59:30Z"));
        assert_eq!(describe_age(&ev, now()), "30s");
        let row = event_row(&ev, now());
        assert_eq!(row.last_seen, "30s");
        assert_eq!(row.object, "pod/web-5f9c");
    }

    #[test]
    fn row_cells_of_legacy_event() {
        let row = event_row(&legacy_backoff(), now());
        assert_eq!(row.last_seen, "2m");
        assert_eq!(row.type_, "Warning");
        assert_eq!(row.reason, "BackOff");
        assert_eq!(row.object, "pod/checkout-7d4b9c8f6d-x2x9z");
        assert_eq!(row.subobject, "spec.containers{app}");
        assert_eq!(row.source, "kubelet, worker-2");
        assert_eq!(row.first_seen, "30m");
        assert_eq!(row.count, 42);
    }

    #[test]
    fn falls_back_to_creation_timestamp() {
        let ev: Event = serde_json::from_value(json!({
            "metadata": {"name": "x", "creationTimestamp": "2024-05-01T10:00:00Z"},
            "involvedObject": {"kind": "Node", "name": "worker-1"}
        }))
        .unwrap();
        assert_eq!(last_seen(&ev), at("2024-05-01T10:00:00Z"));
        assert_eq!(first_seen(&ev), at("2024-05-01T10:00:00Z"));
        assert_eq!(event_row(&ev, now()).last_seen, "<unknown>");
    }

    #[test]
    fn describe_orders_by_last_timestamp_only() {
        // kubectl v1.32 `describe pod` printed these in this order: the
        // new-API events (no lastTimestamp) first, in list order.
        let mut evs = vec![
            legacy_backoff(),
            series_failed_scheduling(),
            singleton_scheduled(),
        ];
        sort_events_for_describe(&mut evs);
        let reasons: Vec<_> = evs.iter().map(|e| e.reason.clone().unwrap()).collect();
        assert_eq!(reasons, ["FailedScheduling", "Scheduled", "BackOff"]);
        let from: Vec<_> = evs.iter().map(describe_from).collect();
        assert_eq!(from, ["default-scheduler", "default-scheduler", "kubelet"]);
    }

    #[test]
    fn sorts_oldest_first() {
        let mut evs = vec![
            singleton_scheduled(),
            legacy_backoff(),
            series_failed_scheduling(),
        ];
        sort_events(&mut evs);
        let reasons: Vec<_> = evs.iter().map(|e| e.reason.clone().unwrap()).collect();
        assert_eq!(reasons, ["FailedScheduling", "BackOff", "Scheduled"]);
    }
}
