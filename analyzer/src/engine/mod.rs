//! The analysis engine: loads the cluster, then streams namespace by
//! namespace (parse, index, run rules, keep findings and a few relations,
//! drop), runs cluster rules, links consequences to causes and assembles the
//! [`Report`].

pub mod apps;
pub mod coverage;
pub mod index;
pub mod link;
pub mod logs;
pub mod timeline;
pub mod usage;

use std::collections::{BTreeMap, HashSet};

use kpm_bundle::Bundle;
use kpm_model::{
    BundleInfo, CoverageGap, Damage, Finding, Report, Severity, Summary, SCHEMA_VERSION,
};

use crate::context::{ClusterCtx, NamespaceCtx};
use crate::load::{load_cluster, load_namespace};
use crate::rules;

/// What to analyse and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only these namespaces (every namespace of the bundle when empty).
    pub namespaces: Vec<String>,
    /// Drop findings below this severity.
    pub min_severity: Option<Severity>,
    /// Verify every file's checksum against the manifest first.
    pub verify: bool,
    /// SHA-256 of the bundle file, when the caller computed it.
    pub bundle_sha256: Option<String>,
}

/// Whether a pod waits for a node: `Pending` with no `nodeName`.
fn is_unscheduled(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    let pending = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending");
    let bound = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_some();
    pending && !bound
}

/// Analyses an open bundle. Never fails: what cannot be read is listed as
/// damage and coverage gaps.
#[allow(clippy::too_many_lines)] // TODO(structure): split
pub fn analyze(bundle: &Bundle, options: &Options) -> Report {
    let manifest = bundle.manifest();
    let mut damage: Vec<Damage> = Vec::new();
    if options.verify {
        damage.extend(bundle.verify().into_iter().map(|e| Damage {
            file: damage_file(&e),
            problem: e.to_string(),
        }));
    }
    let mut cluster = load_cluster(bundle, &mut damage);
    let mut coverage: Vec<CoverageGap> = coverage::cluster_gaps(&cluster);

    let in_bundle = bundle.namespaces();
    let namespaces: Vec<String> = if options.namespaces.is_empty() {
        in_bundle.clone()
    } else {
        for ns in &options.namespaces {
            if !in_bundle.contains(ns) {
                coverage.push(CoverageGap {
                    check: "every check".to_string(),
                    namespace: Some(ns.clone()),
                    reason: format!("namespace {ns} is not in the bundle"),
                });
            }
        }
        in_bundle
            .iter()
            .filter(|n| options.namespaces.contains(n))
            .cloned()
            .collect()
    };

    let mut findings: Vec<Finding> = Vec::new();
    let mut skeletons = Vec::new();
    let mut links = apps::Links::default();
    let mut timeline_entries = Vec::new();
    let mut usage_acc = usage::UsageAccumulator::default();
    let mut pending = Vec::new();
    let mut node_events: BTreeMap<String, Vec<crate::context::EventView>> = BTreeMap::new();
    let mut pods_seen = 0usize;
    // Namespaces are parsed on background threads, analysed here in order,
    // and freed on another.
    let freed = crate::par::BackgroundDrop::new();
    crate::par::pipeline(
        &namespaces,
        |name| load_namespace(bundle, name),
        |_, data| {
            damage.extend(data.damage.iter().cloned());
            coverage.extend(coverage::namespace_gaps(&data));
            let ctx = NamespaceCtx::new(bundle, &cluster, &data);
            let ns_findings = rules::run_namespace(&ctx);
            skeletons.extend(apps::build(&ctx, &mut links));
            timeline_entries.extend(timeline::namespace_entries(&ctx, &ns_findings));
            usage_acc.add_namespace(&ctx);
            damage.extend(ctx.take_damage());
            pending.extend(data.pods.iter().filter(|p| is_unscheduled(p)).cloned());
            for (node, event) in ctx.node_events() {
                node_events.entry(node).or_default().push(event);
            }
            pods_seen += data.pods.len();
            findings.extend(ns_findings);
            // A namespace lives only while its rules run.
            drop(ctx);
            freed.later(data);
        },
    );
    drop(freed);
    cluster.pending_pods = pending;
    cluster.node_events = node_events
        .into_iter()
        .map(|(node, events)| (node, crate::engine::index::merge_events(events)))
        .collect();
    let cctx = ClusterCtx::new(bundle, &cluster);
    findings.extend(rules::run_cluster(&cctx));
    damage.extend(cctx.take_damage());

    let mut findings = dedupe(findings);
    for f in &mut findings {
        if f.application.is_none() {
            f.application = links.object_app.get(&f.object.to_string()).cloned();
        }
    }
    link::link(&mut findings, &links);
    link::adopt_cause_application(&mut findings);
    if let Some(min) = options.min_severity {
        findings.retain(|f| f.severity >= min);
        link::prune_dangling(&mut findings);
    }
    sort_findings(&mut findings);
    let incidents = link::incidents(&findings);
    let roots = link::roots_of(&findings);
    let applications = apps::finish(skeletons, &findings, &roots);

    let mut by_severity = BTreeMap::new();
    for s in Severity::ALL {
        by_severity.insert(s, findings.iter().filter(|f| f.severity == s).count());
    }
    let summary = Summary {
        by_severity,
        findings: findings.len(),
        incidents: incidents.len(),
        applications: applications.len(),
        applications_broken: applications
            .iter()
            .filter(|a| a.severity.is_some_and(|s| s >= Severity::Error))
            .count(),
        pods: pods_seen,
        nodes: cluster.nodes.len(),
    };
    dedupe_coverage(&mut coverage);
    Report {
        schema_version: SCHEMA_VERSION,
        kpm_version: env!("CARGO_PKG_VERSION").to_string(),
        bundle: BundleInfo {
            path: bundle.path().display().to_string(),
            sha256: options.bundle_sha256.clone(),
            format_version: manifest.format_version,
            collected_by: format!("{} {}", manifest.tool.name, manifest.tool.version),
            cluster: manifest.cluster.name.clone(),
            context: manifest.cluster.context.clone(),
            server_version: cluster.server_version.clone(),
            started_at: manifest.collection.started_at,
            collected_at: manifest.collection.finished_at,
            all_namespaces: manifest.scope.all_namespaces,
            namespaces: in_bundle,
            partial: manifest.collection.interrupted || manifest.collection.timed_out,
        },
        summary,
        applications,
        incidents,
        findings,
        timeline: timeline::finish(
            timeline_entries,
            manifest.collection.started_at,
            manifest.collection.finished_at,
        ),
        nodes: usage_acc.node_summaries(&cluster),
        top_pods: usage_acc.top_pods(),
        coverage,
        collection: coverage::collection_summary(bundle),
        damage: dedupe_damage(damage),
    }
}

fn damage_file(e: &kpm_bundle::BundleError) -> String {
    use kpm_bundle::BundleError as E;
    match e {
        E::ChecksumMismatch { file, .. }
        | E::ListedButMissing { file }
        | E::Read { file, .. }
        | E::MissingFile { file }
        | E::TruncatedJson { file, .. }
        | E::MalformedJson { file, .. }
        | E::UnsafePath { file } => file.clone(),
        _ => String::new(),
    }
}

/// Two rules (or two passes) may report the same id; the first wins and
/// later evidence is dropped, so ids stay unique.
fn dedupe(findings: Vec<Finding>) -> Vec<Finding> {
    let mut seen = HashSet::new();
    findings
        .into_iter()
        .filter(|f| seen.insert(f.id.clone()))
        .collect()
}

fn dedupe_damage(damage: Vec<Damage>) -> Vec<Damage> {
    let mut seen = HashSet::new();
    damage
        .into_iter()
        .filter(|d| seen.insert((d.file.clone(), d.problem.clone())))
        .collect()
}

fn dedupe_coverage(gaps: &mut Vec<CoverageGap>) {
    let mut seen = HashSet::new();
    gaps.retain(|g| seen.insert((g.check.clone(), g.namespace.clone(), g.reason.clone())));
}

/// Worst first; within a severity, along the chain (layer order), then by id.
fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| {
                a.caused_by
                    .is_empty()
                    .cmp(&b.caused_by.is_empty())
                    .reverse()
            })
            .then_with(|| a.layer.cmp(&b.layer))
            .then_with(|| a.id.cmp(&b.id))
    });
}
