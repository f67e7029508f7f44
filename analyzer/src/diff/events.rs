//! Events between the two collections as a timeline: AFTER's events last
//! seen after BEFORE was collected, without what BEFORE already held (same
//! uid, or same object, reason and first occurrence), counting only the
//! occurrences since. One hash map over BEFORE's events.

use std::collections::HashMap;

use kpm_model::diff::DiffEvent;

use super::snapshot::EventDigest;
use super::Snapshot;

/// The second key an event is known by when its uid changed (a recreated
/// series): involved object, reason and first occurrence.
fn series_key(e: &EventDigest) -> Option<String> {
    let first = e.first?;
    Some(format!(
        "{}|{}|{}|{}",
        e.object,
        e.object_uid,
        e.reason,
        first.timestamp()
    ))
}

/// The timeline, oldest first.
pub fn compare(before: &Snapshot, after: &Snapshot) -> Vec<DiffEvent> {
    let since = before.collected_at;
    let mut known: HashMap<&str, i64> = HashMap::new();
    let mut known_series: HashMap<String, i64> = HashMap::new();
    for e in &before.digest.events {
        if !e.uid.is_empty() {
            known.insert(e.uid.as_str(), e.count);
        }
        if let Some(k) = series_key(e) {
            known_series.insert(k, e.count);
        }
    }
    let mut out: Vec<DiffEvent> = after
        .digest
        .events
        .iter()
        .filter_map(|e| {
            let last = e.last?;
            if last <= since {
                return None;
            }
            let already = known
                .get(e.uid.as_str())
                .copied()
                .or_else(|| series_key(e).and_then(|k| known_series.get(&k).copied()))
                .unwrap_or(0);
            let count = e.count - already;
            (count > 0).then(|| DiffEvent {
                time: last,
                object: e.object.clone(),
                event_type: e.event_type.clone(),
                reason: e.reason.clone(),
                message: e.message.clone(),
                count,
            })
        })
        .collect();
    out.sort_by(|x, y| {
        x.time
            .cmp(&y.time)
            .then_with(|| x.object.cmp(&y.object))
            .then_with(|| x.reason.cmp(&y.reason))
    });
    out
}
