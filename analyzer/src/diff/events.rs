//! Events between the two collections as a timeline: AFTER's events last
//! seen after BEFORE was collected, without what BEFORE already held (same
//! uid, or same object, reason and first occurrence), counting only the
//! occurrences since. BEFORE's events are known by hashes
//! ([`super::snapshot::KnownEvents`]); AFTER keeps in full only the events
//! last seen after BEFORE's collection.

use kpm_model::diff::DiffEvent;

use super::Snapshot;

/// The timeline, oldest first.
pub fn compare(before: &Snapshot, after: &Snapshot) -> Vec<DiffEvent> {
    let since = before.collected_at;
    let known = &before.digest.known_events;
    let mut out: Vec<DiffEvent> = after
        .digest
        .events
        .iter()
        .filter_map(|e| {
            let last = e.last?;
            if last <= since {
                return None;
            }
            let already = e
                .uid_key()
                .and_then(|k| known.by_uid.get(&k).copied())
                .or_else(|| {
                    e.series_key()
                        .and_then(|k| known.by_series.get(&k).copied())
                })
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
