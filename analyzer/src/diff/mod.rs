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
use kpm_model::diff::{DiffReport, DiffVerdict, IncidentTrack, SnapshotInfo, DIFF_SCHEMA_VERSION};
use kpm_model::{ObjectRef, Report, Severity};

pub use snapshot::Digest;

use crate::ahead::Ahead;
use crate::engine::{analyze_loaded, LoadedCluster, Options};

/// One analysed bundle and what the diff keeps of it.
#[derive(Debug)]
pub struct Snapshot {
    /// The analysis, as `kpm-analyze BUNDLE` reports it.
    pub report: Report,
    /// The digest taken while analysing.
    pub digest: Digest,
    /// `(what, namespace)` → outcome of each collection step, plus
    /// `("namespace", ns)` → `ok` for every namespace in the bundle.
    pub collection: BTreeMap<(String, Option<String>), String>,
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
    let mut digest = Digest::sized_for(bundle.manifest(), followed);
    digest.kube_system_uid = snapshot::kube_system_uid(bundle);
    digest.events_after = previous;
    let options = Options {
        findings_only: true,
        ..options.clone()
    };
    let mut report = analyze_loaded(bundle, &options, &mut digest, loaded);
    // What no section reads is dropped while the next bundle is analysed.
    report.timeline = Vec::new();
    report.applications = Vec::new();
    report.top_pods = Vec::new();
    report.system_remarks = Vec::new();
    let manifest = bundle.manifest();
    let mut collection = BTreeMap::new();
    for step in manifest.steps.iter().filter(|s| s.object.is_none()) {
        collection.insert(
            (step.what.clone(), step.namespace.clone()),
            step.outcome.as_str().to_string(),
        );
    }
    for ns in bundle.namespaces() {
        collection.insert(("namespace".to_string(), Some(ns)), "ok".to_string());
    }
    Snapshot {
        report,
        digest,
        collection,
        collected_at: manifest.collection.finished_at,
    }
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
    let last = bundles.len().saturating_sub(1);
    std::thread::scope(|scope| {
        let mut out: Vec<Snapshot> = Vec::with_capacity(bundles.len());
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
            out.push(snapshot_followed(
                bundle,
                options,
                previous,
                i < last,
                loaded,
            ));
        }
        out
    })
}

/// The plural resource name of a kind, as collection steps name it.
fn plural(kind: &str) -> String {
    format!("{}s", kind.to_ascii_lowercase())
}

/// Whether `s` collected the kind of `obj` in its namespace.
pub(crate) fn collected(s: &Snapshot, obj: &ObjectRef) -> bool {
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

/// What changed from `before` to `after`. The workloads section (every
/// pod of both snapshots) runs on a second thread beside the others: the
/// analyses are over and the other core would idle.
pub fn compare(before: &Snapshot, after: &Snapshot) -> DiffReport {
    let (workloads, (findings, config)) = crate::par::both(
        || workloads::compare(before, after),
        || {
            (
                findings::compare(before, after),
                config::compare(before, after),
            )
        },
    );
    let (resolved, new, persisting) = findings::incident_counts(&findings);
    DiffReport {
        schema_version: DIFF_SCHEMA_VERSION,
        kpm_version: env!("CARGO_PKG_VERSION").to_string(),
        snapshots: vec![info(before), info(after)],
        verdict: DiffVerdict::new(resolved, new, persisting),
        warnings: collection::warnings(before, after),
        findings,
        workloads,
        config,
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
    let (first, last) = (snapshots.first()?, snapshots.last()?);
    if snapshots.len() < 2 {
        return None;
    }
    let mut report = compare(first, last);
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
