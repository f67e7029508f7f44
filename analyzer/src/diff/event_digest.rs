//! The events of a snapshot as the diff keeps them: every event as hashes
//! ([`KnownEvents`], what a later snapshot deduplicates against) and in
//! full only those a timeline from the previous snapshot can show.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{DateTime, Utc};
use kpm_model::ObjectRef;

use super::snapshot::Digest;
use crate::context::NamespaceData;

/// An event that may belong to a timeline, as far as the diff needs it.
#[derive(Debug, Clone)]
pub struct EventDigest {
    /// uid.
    pub uid: String,
    /// Involved object.
    pub object: ObjectRef,
    /// Involved object's uid.
    pub object_uid: String,
    /// `Normal` or `Warning`.
    pub event_type: String,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// First occurrence.
    pub first: Option<DateTime<Utc>>,
    /// Last occurrence.
    pub last: Option<DateTime<Utc>>,
    /// Occurrences.
    pub count: i64,
}

impl EventDigest {
    /// Hash of the uid ([`KnownEvents::by_uid`]); `None` without a uid.
    pub fn uid_key(&self) -> Option<u64> {
        uid_key(&self.uid)
    }

    /// Hash of the series ([`KnownEvents::by_series`]).
    pub fn series_key(&self) -> Option<u64> {
        let o = &self.object;
        series_key(
            &o.kind,
            o.namespace.as_deref(),
            &o.name,
            &self.object_uid,
            &self.reason,
            self.first,
        )
    }
}

/// Every event of a snapshot as a later snapshot deduplicates against it:
/// occurrences by uid, and by series (involved object, its uid, reason and
/// first occurrence) for a series recreated under another uid. Hashes only,
/// so a snapshot's 300,000 events cost a few bytes each.
#[derive(Debug, Default)]
pub struct KnownEvents {
    /// Hash of the event uid → count.
    pub by_uid: HashMap<u64, i64, Prehashed>,
    /// Hash of the series → count.
    pub by_series: HashMap<u64, i64, Prehashed>,
}

/// Keys that are already hashes ([`fnv`]) are used as they are, instead of
/// being hashed once more for every event of both snapshots.
pub type Prehashed = BuildHasherDefault<KeyIsHash>;

/// The [`Hasher`] of [`Prehashed`]: the `u64` key is the hash.
#[derive(Debug, Default)]
pub struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are written ([`Hasher::write_u64`]); anything else
        // still hashes, if slowly.
        self.0 = fnv_more(self.0 ^ FNV_START, bytes);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of `bytes` continuing from `h`.
fn fnv_more(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// FNV-1a: a cheap stable hash of an env value (never shown) or a uid
/// (only compared).
pub(crate) fn fnv(text: &str) -> u64 {
    fnv_more(FNV_START, text.as_bytes())
}

/// FNV-1a of several fields, each ended by a 0xff byte (never in UTF-8),
/// so `("ab", "c")` and `("a", "bc")` differ.
fn fnv_fields<'a>(fields: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    fields
        .into_iter()
        .fold(FNV_START, |h, f| fnv_more(fnv_more(h, f), &[0xff]))
}

/// The hash an event uid is known by; `None` for an empty uid.
pub fn uid_key(uid: &str) -> Option<u64> {
    (!uid.is_empty()).then(|| fnv(uid))
}

/// The hash an event series is known by; `None` without a first
/// occurrence.
pub fn series_key(
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    object_uid: &str,
    reason: &str,
    first: Option<DateTime<Utc>>,
) -> Option<u64> {
    let first = first?.timestamp().to_le_bytes();
    let ns = namespace.map_or(&[0xfe_u8][..], str::as_bytes);
    Some(fnv_fields([
        kind.as_bytes(),
        ns,
        name.as_bytes(),
        object_uid.as_bytes(),
        reason.as_bytes(),
        &first[..],
    ]))
}

impl Digest {
    pub(crate) fn absorb_events(&mut self, data: &NamespaceData) {
        use kpm_semantics::events::{count, first_seen, last_seen};
        for e in &data.events {
            let o = &e.involved_object;
            let (kind, name) = (o.kind.as_deref(), o.name.as_deref());
            let (object_uid, reason) = (o.uid.as_deref(), e.reason.as_deref());
            let uid = e.metadata.uid.as_deref().unwrap_or_default();
            let (first, last, n) = (first_seen(e), last_seen(e), i64::from(count(e)));
            if self.remember_events {
                if let Some(k) = uid_key(uid) {
                    self.known_events.by_uid.insert(k, n);
                }
                let series = series_key(
                    kind.unwrap_or_default(),
                    o.namespace.as_deref(),
                    name.unwrap_or_default(),
                    object_uid.unwrap_or_default(),
                    reason.unwrap_or_default(),
                    first,
                );
                if let Some(k) = series {
                    self.known_events.by_series.insert(k, n);
                }
            }
            let in_timeline = self
                .events_after
                .is_some_and(|since| last.is_some_and(|l| l > since));
            if !in_timeline {
                continue;
            }
            self.events.push(EventDigest {
                uid: uid.to_string(),
                object: ObjectRef {
                    kind: kind.unwrap_or_default().to_string(),
                    namespace: o.namespace.clone(),
                    name: name.unwrap_or_default().to_string(),
                },
                object_uid: object_uid.unwrap_or_default().to_string(),
                event_type: e.type_.clone().unwrap_or_default(),
                reason: reason.unwrap_or_default().to_string(),
                message: e.message.clone().unwrap_or_default(),
                first,
                last,
                count: n,
            });
        }
    }
}
