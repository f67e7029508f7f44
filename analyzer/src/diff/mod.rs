//! `kpm-analyze diff`: what changed between two snapshots of one cluster.
//!
//! A diff consumes two analyses; it does not re-implement rules. Each
//! bundle is analysed as usual ([`crate::analyze`]) while a [`Digest`] of
//! its workloads, pods, ConfigMaps/Secrets, nodes and events is taken in the
//! same pass over the namespaces; then each section compares the two sides
//! through hash maps keyed by identity (linear in objects, never pairwise):
//!
//! - [`findings`]: new, resolved, persisting (rule + workload revision);
//! - [`workloads`]: templates, rollouts, replicas, pods, restarts, crashes;
//! - [`config`]: ConfigMaps and Secrets changed, and pods predating it;
//! - [`nodes`]: nodes added, removed, conditions; capacity before → after;
//! - [`events`]: the timeline between the collections, deduplicated;
//! - [`collection`]: kinds not collected alike, and cluster/scope warnings.
//!
//! An object missing on one side whose kind that side did not collect is
//! left out (the collection section says why), never reported removed.

pub mod collection;
pub mod config;
pub mod event_digest;
pub mod events;
pub mod findings;
pub mod nodes;
pub mod snapshot;
pub mod template;
pub mod workloads;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use kpm_bundle::Bundle;
use kpm_model::diff::{
    ConfigDelta, DiffReport, DiffVerdict, IncidentTrack, SnapshotInfo, WorkloadDelta,
    DIFF_SCHEMA_VERSION,
};
use kpm_model::{ObjectRef, Report, Severity};

pub use snapshot::Digest;

use crate::ahead::Ahead;
use crate::engine::{pass_namespaces, LoadedCluster, Options};

/// `(what, namespace)` → outcome of each collection step of a bundle.
pub type Collection = BTreeMap<(String, Option<String>), String>;

/// One analysed bundle and what the diff keeps of it.
#[derive(Debug)]
pub struct Snapshot {
    /// The analysis, as `kpm-analyze BUNDLE` reports it.
    pub report: Report,
    /// The digest taken while analysing.
    pub digest: Digest,
    /// `(what, namespace)` → outcome of each collection step, plus
    /// `("namespace", ns)` → `ok` for every namespace in the bundle.
    pub collection: Collection,
    /// When collection finished.
    pub collected_at: DateTime<Utc>,
}

/// Analyses `bundle` and takes its digest in the same pass. `previous` is
/// when the snapshot it follows was collected: its events last seen after
/// that are kept for the timeline (none when it follows nothing). Every
/// event is remembered, as for a snapshot another follows.
pub fn snapshot(bundle: &Bundle, options: &Options, previous: Option<DateTime<Utc>>) -> Snapshot {
    snapshot_followed(bundle, options, previous, true, LoadedCluster::read(bundle))
}

/// [`snapshot`] from `bundle`'s cluster data read beforehand, remembering
/// every event only when `followed` by another snapshot (the last of a
/// series needs none).
fn snapshot_followed(
    bundle: &Bundle,
    options: &Options,
    previous: Option<DateTime<Utc>>,
    followed: bool,
    loaded: LoadedCluster,
) -> Snapshot {
    snapshot_beside(bundle, options, previous, followed, loaded, |_| ()).0
}

/// [`snapshot_followed`], running `beside` on another thread with the
/// finished digest while the cluster rules and the report's assembly run
/// here: what reads only digests need not wait for them, and the other
/// core would idle.
fn snapshot_beside<T: Send>(
    bundle: &Bundle,
    options: &Options,
    previous: Option<DateTime<Utc>>,
    followed: bool,
    loaded: LoadedCluster,
    beside: impl FnOnce(Side<'_>) -> T + Send,
) -> (Snapshot, T) {
    let mut digest = Digest::sized_for(bundle.manifest(), followed);
    digest.kube_system_uid = snapshot::kube_system_uid(bundle);
    digest.events_after = previous;
    let collection = collection_of(bundle);
    let options = Options {
        findings_only: true,
        ..options.clone()
    };
    let passed = pass_namespaces(bundle, &options, &mut digest, loaded);
    let side = Side {
        digest: &digest,
        collection: &collection,
    };
    let (beside, mut report) = crate::par::both(|| beside(side), || passed.finish());
    // What no section reads is dropped while the next bundle is analysed.
    report.timeline = Vec::new();
    report.applications = Vec::new();
    report.top_pods = Vec::new();
    report.system_remarks = Vec::new();
    let snapshot = Snapshot {
        report,
        digest,
        collection,
        collected_at: bundle.manifest().collection.finished_at,
    };
    (snapshot, beside)
}

/// What `bundle` collected: each step's outcome, and every namespace.
fn collection_of(bundle: &Bundle) -> Collection {
    let mut collection = Collection::new();
    let steps = bundle.manifest().steps.iter();
    for step in steps.filter(|s| s.object.is_none()) {
        collection.insert(
            (step.what.clone(), step.namespace.clone()),
            step.outcome.as_str().to_string(),
        );
    }
    for ns in bundle.namespaces() {
        collection.insert(("namespace".to_string(), Some(ns)), "ok".to_string());
    }
    collection
}

/// Analyses bundles (oldest first) one after the other: each analysis
/// already keeps every core busy (namespaces load on background threads),
/// and one at a time keeps peak memory at one analysis plus the compact
/// digests of those before it and the next one's cluster data. Each
/// snapshot keeps the events of the timeline from the one before; all but
/// the last remember every event for the next to deduplicate against.
///
/// While one is analysed, the next one's cluster data is read at idle
/// priority ([`crate::ahead`]): an analysis leaves a core idle for a while
/// (its cluster files' tail, its largest namespace's rules, its cluster
/// rules), and what is read there the next analysis need not read.
pub fn snapshots(bundles: &[Bundle], options: &Options) -> Vec<Snapshot> {
    in_turn(bundles, options, |_, _| ()).0
}

/// What changed across `bundles` (oldest first, at least two): a pair
/// compared, or a series ([`series`]). The sections that read only the
/// first and the last digests run beside the last analysis's cluster rules.
/// The snapshots come back with the report, for the caller to free or not.
pub fn diff(bundles: &[Bundle], options: &Options) -> Option<(DiffReport, Vec<Snapshot>)> {
    let (snaps, sections) = in_turn(bundles, options, digest_sections);
    let sections = sections?;
    let report = match snaps.as_slice() {
        [before, after] => compare_with(before, after, sections),
        _ => series_with(&snaps, sections)?,
    };
    Some((report, snaps))
}

/// [`snapshots`], with `beside_last` run on the first snapshot and the
/// last one's digest beside the last analysis's cluster rules (not run
/// for fewer than two bundles).
fn in_turn<T: Send>(
    bundles: &[Bundle],
    options: &Options,
    beside_last: impl Fn(Side<'_>, Side<'_>) -> T + Sync,
) -> (Vec<Snapshot>, Option<T>) {
    let last = bundles.len().saturating_sub(1);
    std::thread::scope(|scope| {
        let mut out: Vec<Snapshot> = Vec::with_capacity(bundles.len());
        let mut beside = None;
        let mut this: Option<Ahead<'_, LoadedCluster>> = None;
        for (i, bundle) in bundles.iter().enumerate() {
            // Started before this one's own read, whose tail leaves a core idle.
            let next = bundles
                .get(i + 1)
                .map(|following| Ahead::start(scope, || LoadedCluster::read(following)));
            let loaded = match std::mem::replace(&mut this, next) {
                Some(ahead) => ahead.wait(),
                None => LoadedCluster::read(bundle),
            };
            let previous = out.last().map(|s| s.collected_at);
            let snapshot = match out.first() {
                Some(first) if i == last => {
                    let beside_first = |side: Side<'_>| beside_last(first.side(), side);
                    let (s, t) =
                        snapshot_beside(bundle, options, previous, false, loaded, beside_first);
                    beside = Some(t);
                    s
                }
                _ => snapshot_followed(bundle, options, previous, i < last, loaded),
            };
            out.push(snapshot);
        }
        (out, beside)
    })
}

/// What the digest sections read of one snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// The digest.
    pub digest: &'a Digest,
    /// What was collected.
    pub collection: &'a Collection,
}

impl Snapshot {
    /// The part the digest sections read.
    pub fn side(&self) -> Side<'_> {
        Side {
            digest: &self.digest,
            collection: &self.collection,
        }
    }
}

/// The sections that read only digests and collections, not reports.
#[derive(Debug)]
pub struct DigestSections {
    /// [`workloads::compare`].
    pub workloads: Vec<WorkloadDelta>,
    /// [`config::compare`].
    pub config: Vec<ConfigDelta>,
}

/// The workloads section (every pod of both snapshots) on a second thread
/// beside the config section.
pub fn digest_sections(before: Side<'_>, after: Side<'_>) -> DigestSections {
    let (workloads, config) = crate::par::both(
        || workloads::compare(before, after),
        || config::compare(before, after),
    );
    DigestSections { workloads, config }
}

/// The plural resource name of a kind, as collection steps name it.
fn plural(kind: &str) -> String {
    format!("{}s", kind.to_ascii_lowercase())
}

/// Whether `s` collected the kind of `obj` in its namespace.
pub(crate) fn collected(s: Side<'_>, obj: &ObjectRef) -> bool {
    let key = (plural(&obj.kind), obj.namespace.clone());
    s.collection.get(&key).is_some_and(|o| o == "ok")
}

/// Whether `s` collected a cluster-scoped kind (`nodes`).
pub(crate) fn collected_cluster(s: &Snapshot, what: &str) -> bool {
    s.collection
        .get(&(what.to_string(), None))
        .is_some_and(|o| o == "ok")
}

fn info(s: &Snapshot) -> SnapshotInfo {
    let b = &s.report.bundle;
    SnapshotInfo {
        path: b.path.clone(),
        started_at: b.started_at,
        collected_at: s.collected_at,
        cluster: b.cluster.clone(),
        server_version: b.server_version.clone(),
        findings: s.report.findings.len(),
        incidents: s.report.incidents.len(),
    }
}

/// What changed from `before` to `after`.
pub fn compare(before: &Snapshot, after: &Snapshot) -> DiffReport {
    compare_with(before, after, digest_sections(before.side(), after.side()))
}

/// [`compare`], with the digest sections already compared.
fn compare_with(before: &Snapshot, after: &Snapshot, sections: DigestSections) -> DiffReport {
    let findings = findings::compare(before, after);
    let (resolved, new, persisting) = findings::incident_counts(&findings);
    DiffReport {
        schema_version: DIFF_SCHEMA_VERSION,
        kpm_version: env!("CARGO_PKG_VERSION").to_string(),
        snapshots: vec![info(before), info(after)],
        verdict: DiffVerdict::new(resolved, new, persisting),
        warnings: collection::warnings(before, after),
        findings,
        workloads: sections.workloads,
        config: sections.config,
        nodes: nodes::compare(before, after),
        capacity: nodes::capacity(before, after),
        events: events::compare(before, after),
        collection: collection::compare(before, after),
        series: Vec::new(),
    }
}

/// A series of snapshots (at least two): the sections compare the first
/// with the last, the timeline runs through every step, and each incident
/// is tracked across all snapshots.
pub fn series(snapshots: &[Snapshot]) -> Option<DiffReport> {
    // Fewer than two snapshots compare nothing: checked before any section runs.
    let [first, .., last] = snapshots else {
        return None;
    };
    series_with(snapshots, digest_sections(first.side(), last.side()))
}

/// [`series`], with the first and last digests already compared.
fn series_with(snapshots: &[Snapshot], sections: DigestSections) -> Option<DiffReport> {
    let [first, .., last] = snapshots else {
        return None;
    };
    let mut report = compare_with(first, last, sections);
    report.snapshots = snapshots.iter().map(info).collect();
    report.events = snapshots
        .windows(2)
        .flat_map(|w| match w {
            [b, a] => events::compare(b, a),
            _ => Vec::new(),
        })
        .collect();
    for w in snapshots.windows(2).skip(1) {
        if let [b, a] = w {
            report.warnings.extend(collection::warnings(b, a));
        }
    }
    let mut seen = BTreeSet::new();
    report.warnings.retain(|w| seen.insert(w.clone()));
    report.series = tracks(snapshots);
    Some(report)
}

/// Each root (rule, subject) of any snapshot, with its worst severity in
/// every snapshot.
fn tracks(snapshots: &[Snapshot]) -> Vec<IncidentTrack> {
    let mut states: BTreeMap<(String, String), Vec<Option<Severity>>> = BTreeMap::new();
    let n = snapshots.len();
    for (i, s) in snapshots.iter().enumerate() {
        let groups: HashMap<_, _> = findings::groups(s);
        for (k, g) in groups.into_iter().filter(|(_, g)| g.root) {
            let v = states.entry(k).or_insert_with(|| vec![None; n]);
            if let Some(slot) = v.get_mut(i) {
                *slot = Some(g.severity);
            }
        }
    }
    states
        .into_iter()
        .map(|((rule, subject), states)| IncidentTrack {
            rule,
            subject,
            states,
        })
        .collect()
}

#[cfg(test)]
mod tests;
