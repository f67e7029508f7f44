//! Unit tests of the view builder: capping, ordering, resolution of finding
//! references, and tolerance of malformed reports.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use kpm_model::*;

use super::{build, Limits};

fn finding(
    id: &str,
    rule: &str,
    severity: Severity,
    object: ObjectRef,
    caused_by: Vec<&str>,
) -> Finding {
    Finding {
        id: id.into(),
        rule: rule.into(),
        layer: Layer::Pod,
        severity,
        object,
        application: Some("shop/web".into()),
        symptom: "CrashLoopBackOff (7 restarts)".into(),
        cause: "Container web exits with code 1 right after start.".into(),
        evidence: vec![],
        next_steps: vec![],
        caused_by: caused_by.into_iter().map(String::from).collect(),
        related: vec![],
    }
}

/// The bundle the test report claims to come from, collected at `t`.
fn bundle_info(t: chrono::DateTime<Utc>) -> BundleInfo {
    BundleInfo {
        path: "b.zip".into(),
        sha256: None,
        format_version: 1,
        collected_by: "kpm-collect 0.1.0".into(),
        cluster: None,
        context: None,
        server_version: None,
        started_at: t,
        collected_at: t,
        all_namespaces: true,
        namespaces: vec!["shop".into()],
        partial: false,
    }
}

/// One incident rooted at `root` with `svc` as its consequence (plus an
/// unknown id), and one whose root is not among the findings.
fn incidents(root: &Finding, svc: &Finding) -> Vec<Incident> {
    vec![
        Incident {
            root: root.id.clone(),
            severity: Severity::Critical,
            title: "shop/web: CrashLoopBackOff → Service web has no endpoints".into(),
            consequences: vec![svc.id.clone(), "gone:Pod/shop/x".into()],
            same_cause: Vec::new(),
        },
        // Malformed: the root is not among the findings.
        Incident {
            root: "missing:Pod/shop/y".into(),
            severity: Severity::Error,
            title: "dangling".into(),
            consequences: vec![],
            same_cause: Vec::new(),
        },
    ]
}

/// Ten warning events, one a minute before `t`.
fn timeline(t: chrono::DateTime<Utc>) -> Vec<TimelineEntry> {
    (0..10)
        .map(|i| TimelineEntry {
            time: t - chrono::Duration::minutes(10 - i),
            source: "event".into(),
            object: None,
            event_type: "Warning".into(),
            reason: format!("R{i}"),
            message: "Back-off restarting failed container".into(),
            count: 1,
            object_deleted: false,
        })
        .collect()
}

/// A broken report: a crash-looping pod behind a Service without endpoints,
/// a stray cordoned node, and one dangling incident.
fn report() -> Report {
    let t = Utc.with_ymd_and_hms(2026, 11, 26, 4, 12, 3).unwrap();
    let pod = ObjectRef::namespaced("Pod", "shop", "web-6d4cf56db6-2xk8p");
    let root = finding(
        "pod-crashloop:Pod/shop/web-6d4cf56db6-2xk8p",
        "pod-crashloop",
        Severity::Critical,
        pod,
        vec![],
    );
    let svc = finding(
        "service-no-ready-endpoints:Service/shop/web",
        "service-no-ready-endpoints",
        Severity::Critical,
        ObjectRef::namespaced("Service", "shop", "web"),
        vec![&root.id],
    );
    let stray = finding(
        "node-cordoned:Node/worker-3",
        "node-cordoned",
        Severity::Warning,
        ObjectRef::cluster("Node", "worker-3"),
        vec![],
    );
    Report {
        schema_version: SCHEMA_VERSION,
        kpm_version: "0.1.0".into(),
        bundle: bundle_info(t),
        summary: Summary {
            verdict: kpm_model::Verdict::Broken,
            by_severity: BTreeMap::from([(Severity::Critical, 2), (Severity::Warning, 1)]),
            findings: 3,
            incidents: 1,
            applications: 0,
            applications_broken: 0,
            pods: 2,
            nodes: 0,
        },
        applications: vec![],
        incidents: incidents(&root, &svc),
        findings: vec![root, svc, stray],
        timeline: timeline(t),
        nodes: vec![],
        top_pods: vec![],
        coverage: vec![],
        collection: CollectionSummary::default(),
        damage: vec![],
        system_remarks: vec![],
        muted: vec![],
    }
}

#[test]
fn incidents_resolve_references_and_skip_dangling_ones() {
    let v = build(&report(), &Limits::html());
    assert_eq!(
        v.incidents.items.len(),
        1,
        "the dangling incident is skipped"
    );
    assert_eq!(v.incidents.hidden, 1);
    let inc = &v.incidents.items[0];
    assert_eq!(inc.root.anchor, "f-0");
    // The unknown consequence id is not shown; the known one links to its root.
    assert_eq!(inc.consequences.total, 1);
    assert_eq!(inc.consequences.items[0].caused_by[0].anchor, "f-0");
}

#[test]
fn findings_outside_incidents_are_still_shown() {
    let v = build(&report(), &Limits::html());
    assert_eq!(v.other_findings.total, 1);
    assert_eq!(v.other_findings.items[0].rule, "node-cordoned");
    assert_eq!(v.findings_hidden, 0);
}

#[test]
fn timeline_keeps_the_most_recent_entries() {
    let mut limits = Limits::html();
    limits.timeline = 3;
    let v = build(&report(), &limits);
    assert_eq!(v.timeline.hidden, 7);
    let reasons: Vec<&str> = v.timeline.items.iter().map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons, ["R7", "R8", "R9"]);
    assert_eq!(v.timeline.items[2].age, "60s");
}

#[test]
fn caps_count_hidden_findings() {
    let mut limits = Limits::html();
    limits.consequences = 0;
    limits.orphans = 0;
    let v = build(&report(), &limits);
    // The consequence and the stray finding are capped away.
    assert_eq!(v.findings_hidden, 2);
    assert_eq!(v.verdict.status, "critical");
    assert_eq!(v.verdict.counts[0].severity, "critical");
    assert_eq!(v.verdict.counts[3].count, 0, "every level present");
}

#[test]
fn nodes_needing_attention_come_first() {
    let mut r = report();
    let alloc = |p: u32| ResourceAllocation {
        resource: "memory".into(),
        allocatable: "14Gi".into(),
        requests: "7Gi".into(),
        requests_percent: p,
        limits: "28Gi".into(),
        limits_percent: 200,
        usage: None,
        usage_percent: None,
    };
    let node = |name: &str, status: &str, problems: Vec<String>, p: u32| NodeSummary {
        name: name.into(),
        status: status.into(),
        problems,
        pods: 10,
        allocation: vec![alloc(p)],
    };
    r.nodes = vec![
        node("a-full", "Ready", vec![], 97),
        node("b-idle", "Ready", vec![], 5),
        node(
            "c-down",
            "NotReady",
            vec!["Ready: Kubelet stopped posting node status.".into()],
            20,
        ),
        node("d-cordoned", "Ready,SchedulingDisabled", vec![], 10),
    ];
    let mut limits = Limits::html();
    limits.nodes = 3;
    let v = build(&r, &limits);
    let names: Vec<&str> = v.nodes.items.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["c-down", "d-cordoned", "a-full"]);
    assert_eq!(v.nodes.hidden, 1);
    assert!(!v.nodes.items[0].ready && v.nodes.items[1].ready);
    let bar = &v.nodes.items[2].bars[0];
    assert!(bar.hot);
    assert_eq!((bar.limits_percent, bar.limits_width), (200, 100));
}

#[test]
fn alike_root_causes_of_one_application_fold_into_one_line() {
    let mut r = report();
    let twin = finding(
        "pod-crashloop:Pod/shop/web-6d4cf56db6-9qz7w",
        "pod-crashloop",
        Severity::Critical,
        ObjectRef::namespaced("Pod", "shop", "web-6d4cf56db6-9qz7w"),
        vec![],
    );
    let mut other = finding(
        "pod-oom-killed:Pod/shop/web-6d4cf56db6-k2m4d",
        "pod-oom-killed",
        Severity::Critical,
        ObjectRef::namespaced("Pod", "shop", "web-6d4cf56db6-k2m4d"),
        vec![],
    );
    other.cause = "Container web was OOMKilled.".into();
    let roots = vec![r.findings[0].id.clone(), twin.id.clone(), other.id.clone()];
    r.findings.extend([twin, other]);
    r.applications.push(Application {
        key: "shop/web".into(),
        namespace: "shop".into(),
        name: "web".into(),
        workload: Some(ObjectRef::namespaced("Deployment", "shop", "web")),
        chain: vec![],
        first_broken: Some(Layer::Pod),
        root_causes: roots,
        severity: Some(Severity::Critical),
    });
    let v = build(&r, &Limits::html());
    let app = &v.applications.items[0];
    let lines: Vec<(&str, usize)> = app
        .root_causes
        .items
        .iter()
        .map(|r| (r.rule.as_str(), r.same_elsewhere))
        .collect();
    assert_eq!(lines, [("pod-crashloop", 1), ("pod-oom-killed", 0)]);
    assert!(app.root_causes.items[0].object.contains("2xk8p"));
}
