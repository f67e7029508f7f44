//! The analysis engine: loads the cluster, then streams namespace by
//! namespace (parse, index, run rules, keep findings and a few relations,
//! drop), runs cluster rules, links consequences to causes and assembles the
//! [`Report`].

pub mod apps;
pub mod coverage;
pub mod index;
pub mod link;
pub mod logs;
pub mod system;
pub mod timeline;
pub mod usage;

use std::collections::{BTreeMap, HashSet};

use kpm_bundle::Bundle;
use kpm_model::{
    BundleInfo, CoverageGap, Damage, Finding, ObjectRef, Report, Severity, Summary, Verdict,
    SCHEMA_VERSION,
};

use crate::context::{ClusterCtx, NamespaceCtx};
use crate::load::{load_cluster, load_namespace};
use crate::policy::{self, Policy};
use crate::rules;
use kpm_semantics::PodExt;

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
    /// What the team accepts (`--config`): mutes and re-grades, counted.
    pub policy: Option<Policy>,
    /// Leave out what only the report's overview shows (applications, the
    /// timeline and top pods): a diff's analyses compare findings, not
    /// those, and keep two analyses' worth of memory less busy without them.
    pub findings_only: bool,
}

/// Whether a pod waits for a node: `Pending` with no `nodeName`.
fn is_unscheduled(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    let pending = pod.phase() == Some("Pending");
    let bound = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_some();
    pending && !bound
}

/// What the namespace pass keeps of each namespace once its objects are
/// dropped: findings, relations, usage, and what later passes need.
struct NamespacePass<'o> {
    options: &'o Options,
    facts: system::ClusterFacts,
    damage: Vec<Damage>,
    coverage: Vec<CoverageGap>,
    findings: Vec<Finding>,
    skeletons: Vec<apps::AppSkeleton>,
    links: apps::Links,
    timeline_entries: Vec<kpm_model::TimelineEntry>,
    usage: usage::UsageAccumulator,
    /// Pods waiting for a node, for the cluster rules.
    pending: Vec<k8s_openapi::api::core::v1::Pod>,
    node_events: BTreeMap<String, Vec<crate::context::EventView>>,
    /// Every Ingress's rules, for the access-log rule.
    ingress_routing: Vec<crate::rules::ingress::unrouted::IngressRouting>,
    pods_seen: usize,
    remarks: Vec<system::SetAside>,
    tally: policy::Tally,
}

impl<'o> NamespacePass<'o> {
    /// An empty pass continuing the damage and coverage found so far.
    fn new(
        options: &'o Options,
        facts: system::ClusterFacts,
        damage: Vec<Damage>,
        coverage: Vec<CoverageGap>,
    ) -> Self {
        NamespacePass {
            options,
            facts,
            damage,
            coverage,
            findings: Vec::new(),
            skeletons: Vec::new(),
            links: apps::Links::default(),
            timeline_entries: Vec::new(),
            usage: usage::UsageAccumulator::default(),
            pending: Vec::new(),
            node_events: BTreeMap::new(),
            ingress_routing: Vec::new(),
            pods_seen: 0,
            remarks: Vec::new(),
            tally: policy::Tally::default(),
        }
    }

    /// Runs the namespace rules over one namespace and keeps what outlives it.
    fn absorb(&mut self, ctx: &NamespaceCtx<'_>) {
        let data = ctx.ns;
        self.damage.extend(data.damage.iter().cloned());
        self.coverage.extend(coverage::namespace_gaps(data));
        let mut ns_findings = rules::run_namespace(ctx);
        if let Some(policy) = &self.options.policy {
            ns_findings = policy::apply(
                policy,
                ns_findings,
                |o| object_labels(ctx, o),
                &mut self.tally,
            );
        }
        let (ns_findings, aside) = system::set_aside(ctx, &self.facts, ns_findings);
        self.remarks.extend(aside);
        // Applications also link objects (`links`), which findings need.
        let skeletons = apps::build(ctx, &mut self.links);
        if !self.options.findings_only {
            self.skeletons.extend(skeletons);
            self.timeline_entries
                .extend(timeline::namespace_entries(ctx, &ns_findings));
        }
        self.usage.add_namespace(ctx, self.options.findings_only);
        self.damage.extend(ctx.take_damage());
        self.pending
            .extend(data.pods.iter().filter(|p| is_unscheduled(p)).cloned());
        for (node, event) in ctx.node_events() {
            self.node_events.entry(node).or_default().push(event);
        }
        self.ingress_routing
            .extend(rules::ingress::unrouted::routing(ctx));
        self.pods_seen += data.pods.len();
        self.findings.extend(ns_findings);
    }
}

/// The namespaces to analyse: the bundle's, or those of `--namespace` that
/// it holds (the others become coverage gaps).
fn selected_namespaces(
    options: &Options,
    in_bundle: &[String],
    coverage: &mut Vec<CoverageGap>,
) -> Vec<String> {
    if options.namespaces.is_empty() {
        return in_bundle.to_vec();
    }
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
}

/// Sees the loaded data while the analysis streams over it, so a consumer
/// that needs more than the report (the diff) reads each namespace once,
/// in the same pass, instead of loading the bundle a second time.
pub(crate) trait Observer {
    /// The cluster-scoped data, once, before the namespaces.
    fn cluster(&mut self, cluster: &crate::context::ClusterData);
    /// One namespace, while it is loaded.
    fn namespace(&mut self, data: &crate::context::NamespaceData);
}

/// Observes nothing: plain analysis.
struct NoObserver;

impl Observer for NoObserver {
    fn cluster(&mut self, _: &crate::context::ClusterData) {}
    fn namespace(&mut self, _: &crate::context::NamespaceData) {}
}

/// Analyses an open bundle. Never fails: what cannot be read is listed as
/// damage and coverage gaps.
pub fn analyze(bundle: &Bundle, options: &Options) -> Report {
    analyze_observed(bundle, options, &mut NoObserver)
}

/// A bundle's cluster-scoped data, read before its namespaces: what
/// [`analyze_loaded`] starts from. A diff reads the next bundle's while the
/// one before is analysed.
#[derive(Debug)]
pub(crate) struct LoadedCluster {
    cluster: crate::context::ClusterData,
    /// What reading the cluster files found damaged.
    damage: Vec<Damage>,
}

impl LoadedCluster {
    /// Reads `bundle`'s cluster-scoped files and runs the infra pass.
    pub(crate) fn read(bundle: &Bundle) -> LoadedCluster {
        let mut damage = Vec::new();
        let cluster = load_cluster(bundle, &mut damage);
        LoadedCluster { cluster, damage }
    }
}

/// [`analyze`], showing `observer` the cluster and each namespace.
pub(crate) fn analyze_observed(
    bundle: &Bundle,
    options: &Options,
    observer: &mut dyn Observer,
) -> Report {
    analyze_loaded(bundle, options, observer, LoadedCluster::read(bundle))
}

/// [`analyze_observed`] from `loaded`, `bundle`'s cluster data read
/// beforehand.
pub(crate) fn analyze_loaded(
    bundle: &Bundle,
    options: &Options,
    observer: &mut dyn Observer,
    loaded: LoadedCluster,
) -> Report {
    pass_namespaces(bundle, options, observer, loaded).finish()
}

/// An analysis whose namespaces were all seen, before its cluster rules
/// and assembly: the observer has seen everything it will see, so a diff
/// can compare what it observed while [`Passed::finish`] runs.
pub(crate) struct Passed<'a> {
    bundle: &'a Bundle,
    options: &'a Options,
    cluster: crate::context::ClusterData,
    in_bundle: Vec<String>,
    pass: NamespacePass<'a>,
}

/// The first part of [`analyze_loaded`]: every namespace, in order,
/// shown to `observer` and through the namespace rules.
pub(crate) fn pass_namespaces<'a>(
    bundle: &'a Bundle,
    options: &'a Options,
    observer: &mut dyn Observer,
    loaded: LoadedCluster,
) -> Passed<'a> {
    // What opening found (ignored manifest fields, refused entries) is
    // damage whatever the options, listed before what loading found.
    let mut damage: Vec<Damage> = bundle.problems().iter().map(to_damage).collect();
    if options.verify {
        damage.extend(bundle.verify().iter().map(to_damage));
    }
    let LoadedCluster {
        cluster,
        damage: load_damage,
    } = loaded;
    damage.extend(load_damage);
    let mut coverage: Vec<CoverageGap> = coverage::cluster_gaps(&cluster);
    let in_bundle = bundle.namespaces();
    let namespaces = selected_namespaces(options, &in_bundle, &mut coverage);
    observer.cluster(&cluster);
    let facts = system::ClusterFacts::from_nodes(&cluster.nodes);
    let mut pass = NamespacePass::new(options, facts, damage, coverage);
    // Namespaces are parsed on background threads, analysed here in order,
    // and freed on another.
    let freed = crate::par::BackgroundDrop::new();
    crate::par::pipeline(
        &namespaces,
        |name| load_namespace(bundle, name),
        |_, data| {
            observer.namespace(&data);
            let ctx = NamespaceCtx::new(bundle, &cluster, &data);
            pass.absorb(&ctx);
            // A namespace lives only while its rules run.
            drop(ctx);
            freed.later(data);
        },
    );
    drop(freed);
    Passed {
        bundle,
        options,
        cluster,
        in_bundle,
        pass,
    }
}

impl Passed<'_> {
    /// The second part of [`analyze_loaded`]: the cluster rules over what
    /// the namespaces left, then links, order and the report.
    pub(crate) fn finish(self) -> Report {
        let Passed {
            bundle,
            options,
            mut cluster,
            in_bundle,
            mut pass,
        } = self;
        cluster.pending_pods = std::mem::take(&mut pass.pending);
        cluster.ingress_routing = std::mem::take(&mut pass.ingress_routing);
        cluster.node_events = std::mem::take(&mut pass.node_events)
            .into_iter()
            .map(|(node, events)| (node, crate::engine::index::merge_events(events)))
            .collect();
        let cctx = ClusterCtx::new(bundle, &cluster);
        let cluster_findings = cluster_findings(&cctx, options, &mut pass.tally);
        pass.findings.extend(cluster_findings);
        pass.damage.extend(cctx.take_damage());
        assemble(bundle, options, &cluster, in_bundle, pass)
    }
}

/// The cluster rules' findings, after the policy.
fn cluster_findings(
    cctx: &ClusterCtx<'_>,
    options: &Options,
    tally: &mut policy::Tally,
) -> Vec<Finding> {
    let cluster_findings = rules::run_cluster(cctx);
    let Some(policy) = &options.policy else {
        return cluster_findings;
    };
    let node_labels = |o: &ObjectRef| {
        let node = (o.kind == "Node")
            .then(|| cctx.cluster.node(&o.name))
            .flatten();
        node.and_then(|n| n.metadata.labels.as_ref())
            .into_iter()
            .collect()
    };
    policy::apply(policy, cluster_findings, node_labels, tally)
}

/// Links, orders and counts the findings and builds the report.
fn assemble(
    bundle: &Bundle,
    options: &Options,
    cluster: &crate::context::ClusterData,
    in_bundle: Vec<String>,
    pass: NamespacePass<'_>,
) -> Report {
    let manifest = bundle.manifest();
    let NamespacePass {
        mut coverage,
        findings,
        skeletons,
        links,
        timeline_entries,
        usage,
        pods_seen,
        remarks,
        tally,
        damage,
        ..
    } = pass;
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
    let summary = summarize(&findings, &incidents, &applications, pods_seen, cluster);
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
        nodes: usage.node_summaries(cluster),
        top_pods: usage.top_pods(),
        coverage,
        collection: coverage::collection_summary(bundle),
        damage: dedupe_damage(damage),
        system_remarks: system::group(remarks),
        muted: options
            .policy
            .as_ref()
            .map(|p| tally.finish(p))
            .unwrap_or_default(),
    }
}

/// The report's counts and verdict.
fn summarize(
    findings: &[Finding],
    incidents: &[kpm_model::Incident],
    applications: &[kpm_model::Application],
    pods_seen: usize,
    cluster: &crate::context::ClusterData,
) -> Summary {
    let mut by_severity = BTreeMap::new();
    for s in Severity::ALL {
        by_severity.insert(s, findings.iter().filter(|f| f.severity == s).count());
    }
    Summary {
        verdict: Verdict::from_counts(&by_severity),
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
    }
}

/// The label sets a namespaced object is known by, for policy entries
/// matching on labels: its own and, for a workload, its pod template's.
fn object_labels<'a>(ctx: &NamespaceCtx<'a>, o: &ObjectRef) -> Vec<&'a BTreeMap<String, String>> {
    use k8s_openapi::api::core::v1::PodTemplateSpec;
    let template = |t: Option<&'a PodTemplateSpec>| {
        t.and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.as_ref())
    };
    let name = o.name.as_str();
    let (own, tmpl) = match o.kind.as_str() {
        "Pod" => (ctx.pod(name).and_then(|p| p.metadata.labels.as_ref()), None),
        "Deployment" => ctx.deployment(name).map_or((None, None), |d| {
            (
                d.metadata.labels.as_ref(),
                template(d.spec.as_ref().map(|s| &s.template)),
            )
        }),
        "ReplicaSet" => ctx.replicaset(name).map_or((None, None), |d| {
            (
                d.metadata.labels.as_ref(),
                template(d.spec.as_ref().and_then(|s| s.template.as_ref())),
            )
        }),
        "StatefulSet" => ctx.statefulset(name).map_or((None, None), |d| {
            (
                d.metadata.labels.as_ref(),
                template(d.spec.as_ref().map(|s| &s.template)),
            )
        }),
        "DaemonSet" => ctx.daemonset(name).map_or((None, None), |d| {
            (
                d.metadata.labels.as_ref(),
                template(d.spec.as_ref().map(|s| &s.template)),
            )
        }),
        "Job" => ctx.job(name).map_or((None, None), |d| {
            (
                d.metadata.labels.as_ref(),
                template(d.spec.as_ref().map(|s| &s.template)),
            )
        }),
        "Service" => (
            ctx.service(name).and_then(|s| s.metadata.labels.as_ref()),
            None,
        ),
        "Secret" => (
            ctx.secret(name).and_then(|s| s.metadata.labels.as_ref()),
            None,
        ),
        "ConfigMap" => (
            ctx.config_map(name)
                .and_then(|s| s.metadata.labels.as_ref()),
            None,
        ),
        "PersistentVolumeClaim" => (ctx.pvc(name).and_then(|s| s.metadata.labels.as_ref()), None),
        "Ingress" => (
            ctx.ns
                .ingresses
                .iter()
                .find(|i| i.metadata.name.as_deref() == Some(name))
                .and_then(|i| i.metadata.labels.as_ref()),
            None,
        ),
        _ => (None, None),
    };
    own.into_iter().chain(tmpl).collect()
}

/// A bundle error as report damage, under the file it names (the bundle
/// itself when it names none).
pub fn to_damage(e: &kpm_bundle::BundleError) -> Damage {
    Damage {
        file: e.file().unwrap_or_default().to_string(),
        problem: e.to_string(),
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
