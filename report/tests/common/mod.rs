//! Realistic fixture reports shared by the integration tests, built the way
//! `kpm-analyze` builds them from real bundles: messages are verbatim
//! Kubernetes texts (kubelet, scheduler, ingress-nginx).

#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use kpm_model::*;

mod derived;
// Each test binary uses a different subset of the fixtures.
#[allow(unused_imports)]
pub use derived::{hostile, huge};

pub fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, h, m, s).unwrap()
}

fn bundle(partial: bool) -> BundleInfo {
    BundleInfo {
        path: "kpm-prod-eu1-20261126T041203Z.zip".into(),
        sha256: Some("9f2c4e51b0a7d3e8c6f1a2b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708".into()),
        format_version: 1,
        collected_by: "kpm-collect 0.1.0".into(),
        cluster: Some("prod-eu1".into()),
        context: Some("prod-eu1-admin@prod-eu1".into()),
        server_version: Some("v1.32.4".into()),
        started_at: at(4, 11, 41),
        collected_at: at(4, 12, 3),
        all_namespaces: false,
        namespaces: vec!["shop".into(), "payments".into(), "ingress-nginx".into()],
        partial,
    }
}

fn by_severity(c: usize, e: usize, w: usize, i: usize) -> BTreeMap<Severity, usize> {
    BTreeMap::from([
        (Severity::Critical, c),
        (Severity::Error, e),
        (Severity::Warning, w),
        (Severity::Info, i),
    ])
}

fn link(
    layer: Layer,
    objects: Vec<ObjectRef>,
    state: LinkState,
    summary: &str,
    findings: Vec<&str>,
) -> ChainLink {
    ChainLink {
        layer,
        objects,
        state,
        summary: summary.into(),
        findings: findings.into_iter().map(String::from).collect(),
    }
}

/// `(allocatable, requests, requests %, limits, limits %)` of one resource.
type Alloc<'a> = (&'a str, &'a str, u32, &'a str, u32);
/// Measured `(usage, %)` of cpu and memory.
type Usage<'a> = ((&'a str, u32), (&'a str, u32));

fn node(
    name: &str,
    status: &str,
    problems: Vec<&str>,
    pods: u32,
    cpu: Alloc<'_>,
    mem: Alloc<'_>,
    usage: Option<Usage<'_>>,
) -> NodeSummary {
    let (cu, mu) = match usage {
        Some((c, m)) => (Some(c), Some(m)),
        None => (None, None),
    };
    NodeSummary {
        name: name.into(),
        status: status.into(),
        problems: problems.into_iter().map(String::from).collect(),
        pods,
        allocation: vec![
            ResourceAllocation {
                resource: "cpu".into(),
                allocatable: cpu.0.into(),
                requests: cpu.1.into(),
                requests_percent: cpu.2,
                limits: cpu.3.into(),
                limits_percent: cpu.4,
                usage: cu.map(|u| u.0.to_string()),
                usage_percent: cu.map(|u| u.1),
            },
            ResourceAllocation {
                resource: "memory".into(),
                allocatable: mem.0.into(),
                requests: mem.1.into(),
                requests_percent: mem.2,
                limits: mem.3.into(),
                limits_percent: mem.4,
                usage: mu.map(|u| u.0.to_string()),
                usage_percent: mu.map(|u| u.1),
            },
        ],
    }
}

const OOM_POD: &str = "web-6d4cf56db6-2xk8p";

/// shop/web: the container is OOMKilled and crash-loops, so Service web has
/// no ready endpoints and the Ingress answers 503. A second, independent
/// incident: payments/ledger probes a port the container does not declare.
#[allow(clippy::too_many_lines)] // TODO(structure): split
pub fn crashloop_oom() -> Report {
    let pod = ObjectRef::namespaced("Pod", "shop", OOM_POD);
    let svc = ObjectRef::namespaced("Service", "shop", "web");
    let ing = ObjectRef::namespaced("Ingress", "shop", "web");
    let oom_id = format!("pod-oom-killed:Pod/shop/{OOM_POD}");
    let ep_id = "service-no-ready-endpoints:Service/shop/web".to_string();
    let ing_id = "ingress-backend-no-endpoints:Ingress/shop/web".to_string();
    let ledger_pod = ObjectRef::namespaced("Pod", "payments", "ledger-0");
    let probe_id = "probe-port-mismatch:Pod/payments/ledger-0".to_string();
    let nolimits_id = "resources-no-limits:Deployment/payments/reporting".to_string();

    let oom = Finding {
        id: oom_id.clone(),
        rule: "pod-oom-killed".into(),
        layer: Layer::Pod,
        severity: Severity::Critical,
        object: pod.clone(),
        application: Some("shop/web".into()),
        symptom: "CrashLoopBackOff (14 restarts), last state OOMKilled".into(),
        cause: "Container web was killed for exceeding its 512Mi memory limit (exit code 137); usage was 498Mi just before collection.".into(),
        evidence: vec![
            Evidence::Field {
                object: pod.clone(),
                path: "status.containerStatuses[web].lastState.terminated.reason".into(),
                value: "OOMKilled".into(),
            },
            Evidence::Field {
                object: pod.clone(),
                path: "status.containerStatuses[web].lastState.terminated.exitCode".into(),
                value: "137".into(),
            },
            Evidence::Metric {
                name: "memory usage of container web".into(),
                value: "498Mi".into(),
                compared_to: Some("limit 512Mi".into()),
            },
            Evidence::Event {
                object: pod.clone(),
                event_type: "Warning".into(),
                reason: "BackOff".into(),
                message: format!("Back-off restarting failed container web in pod {OOM_POD}_shop(6a3e2c1d-7b41-4e0f-9d52-8f1c2b7a9e30)"),
                count: 61,
                first_seen: Some(at(3, 24, 10)),
                last_seen: Some(at(4, 11, 52)),
            },
            Evidence::Log {
                file: format!("logs/shop/{OOM_POD}/web.previous.log"),
                lines: vec![
                    LogLine { number: 412, text: "{\"level\":\"info\",\"ts\":\"2026-11-26T04:06:31Z\",\"msg\":\"warming product cache\",\"items\":182000}".into() },
                    LogLine { number: 413, text: "{\"level\":\"info\",\"ts\":\"2026-11-26T04:06:44Z\",\"msg\":\"cache warm\",\"heap_mb\":471}".into() },
                    LogLine { number: 414, text: "{\"level\":\"warn\",\"ts\":\"2026-11-26T04:06:52Z\",\"msg\":\"slow query\",\"table\":\"orders\",\"ms\":2310}".into() },
                ],
            },
        ],
        next_steps: vec![
            NextStep {
                description: "See the last termination and the memory limit".into(),
                command: format!("kubectl -n shop describe pod {OOM_POD}"),
            },
            NextStep {
                description: "Read the log of the killed container".into(),
                command: format!("kubectl -n shop logs {OOM_POD} -c web --previous"),
            },
        ],
        caused_by: vec![],
        related: vec![ObjectRef::namespaced("Deployment", "shop", "web")],
    };
    let no_endpoints = Finding {
        id: ep_id.clone(),
        rule: "service-no-ready-endpoints".into(),
        layer: Layer::Endpoints,
        severity: Severity::Critical,
        object: svc.clone(),
        application: Some("shop/web".into()),
        symptom: "0/2 endpoints ready".into(),
        cause: "Service web selects 2 pods (app=web) but none is ready: both crash-loop after OOMKilled.".into(),
        evidence: vec![Evidence::Field {
            object: ObjectRef::namespaced("EndpointSlice", "shop", "web-7x2kq"),
            path: "endpoints[*].conditions.ready".into(),
            value: "false, false".into(),
        }],
        next_steps: vec![NextStep {
            description: "Check which pods back the Service".into(),
            command: "kubectl -n shop get endpointslices -l kubernetes.io/service-name=web".into(),
        }],
        caused_by: vec![oom_id.clone()],
        related: vec![pod.clone(), ObjectRef::namespaced("Pod", "shop", "web-6d4cf56db6-q9v7d")],
    };
    let ingress = Finding {
        id: ing_id.clone(),
        rule: "ingress-backend-no-endpoints".into(),
        layer: Layer::Ingress,
        severity: Severity::Critical,
        object: ing.clone(),
        application: Some("shop/web".into()),
        symptom: "shop.example.com/ answers 503".into(),
        cause: "Ingress web routes / to Service web:80, which has no ready endpoints.".into(),
        evidence: vec![Evidence::Log {
            file: "logs/ingress-nginx/ingress-nginx-controller-5c8d66c76d-lx2nw/controller.log".into(),
            lines: vec![LogLine {
                number: 20817,
                text: "W1126 04:11:58.204113       7 controller.go:1216] Service \"shop/web\" does not have any active Endpoint.".into(),
            }],
        }],
        next_steps: vec![],
        caused_by: vec![ep_id.clone()],
        related: vec![],
    };
    let probe = Finding {
        id: probe_id.clone(),
        rule: "probe-port-mismatch".into(),
        layer: Layer::Pod,
        severity: Severity::Error,
        object: ledger_pod.clone(),
        application: Some("payments/ledger".into()),
        symptom: "Running, 0/1 ready".into(),
        cause: "The readiness probe of container ledger targets port 8081, but the container only declares port 8080 (http).".into(),
        evidence: vec![Evidence::Event {
            object: ledger_pod.clone(),
            event_type: "Warning".into(),
            reason: "Unhealthy".into(),
            message: "Readiness probe failed: Get \"http://10.244.2.17:8081/ready\": dial tcp 10.244.2.17:8081: connect: connection refused".into(),
            count: 212,
            first_seen: Some(at(3, 5, 0)),
            last_seen: Some(at(4, 11, 59)),
        }],
        next_steps: vec![NextStep {
            description: "Compare the probe with the container ports".into(),
            command: "kubectl -n payments get pod ledger-0 -o jsonpath='{.spec.containers[0].readinessProbe}{\"\\n\"}{.spec.containers[0].ports}'".into(),
        }],
        caused_by: vec![],
        related: vec![],
    };
    let nolimits = Finding {
        id: nolimits_id.clone(),
        rule: "resources-no-limits".into(),
        layer: Layer::Resources,
        severity: Severity::Warning,
        object: ObjectRef::namespaced("Deployment", "payments", "reporting"),
        application: Some("payments/reporting".into()),
        symptom: "container reporter has no memory limit".into(),
        cause: "Container reporter sets no memory or CPU limit; one leak can starve node worker-2."
            .into(),
        evidence: vec![],
        next_steps: vec![],
        caused_by: vec![],
        related: vec![],
    };

    let web_pods = vec![
        pod.clone(),
        ObjectRef::namespaced("Pod", "shop", "web-6d4cf56db6-q9v7d"),
    ];
    Report {
        schema_version: SCHEMA_VERSION,
        kpm_version: "0.1.0".into(),
        bundle: bundle(false),
        summary: Summary {
            by_severity: by_severity(3, 1, 1, 0),
            findings: 5,
            incidents: 3,
            applications: 3,
            applications_broken: 2,
            pods: 9,
            nodes: 3,
        },
        applications: vec![
            Application {
                key: "shop/web".into(),
                namespace: "shop".into(),
                name: "web".into(),
                workload: Some(ObjectRef::namespaced("Deployment", "shop", "web")),
                chain: vec![
                    link(Layer::Ingress, vec![ing.clone()], LinkState::Broken, "503: no endpoints", vec![&ing_id]),
                    link(Layer::Service, vec![svc.clone()], LinkState::Ok, "ClusterIP 80→8080", vec![]),
                    link(Layer::Endpoints, vec![ObjectRef::namespaced("EndpointSlice", "shop", "web-7x2kq")], LinkState::Broken, "0/2 ready", vec![&ep_id]),
                    link(Layer::Pod, web_pods, LinkState::Broken, "0/2 ready, CrashLoopBackOff", vec![&oom_id]),
                    link(Layer::Node, vec![ObjectRef::cluster("Node", "worker-1"), ObjectRef::cluster("Node", "worker-2")], LinkState::Ok, "2 nodes Ready", vec![]),
                ],
                first_broken: Some(Layer::Ingress),
                root_causes: vec![oom_id.clone()],
                severity: Some(Severity::Critical),
            },
            Application {
                key: "payments/ledger".into(),
                namespace: "payments".into(),
                name: "ledger".into(),
                workload: Some(ObjectRef::namespaced("StatefulSet", "payments", "ledger")),
                chain: vec![
                    link(Layer::Ingress, vec![], LinkState::Absent, "no Ingress", vec![]),
                    link(Layer::Service, vec![ObjectRef::namespaced("Service", "payments", "ledger")], LinkState::Ok, "ClusterIP 8080", vec![]),
                    link(Layer::Endpoints, vec![], LinkState::Broken, "0/1 ready", vec![]),
                    link(Layer::Pod, vec![ledger_pod.clone()], LinkState::Broken, "Running, 0/1 ready", vec![&probe_id]),
                    link(Layer::Node, vec![ObjectRef::cluster("Node", "worker-2")], LinkState::Ok, "Ready", vec![]),
                ],
                first_broken: Some(Layer::Endpoints),
                root_causes: vec![probe_id.clone()],
                severity: Some(Severity::Error),
            },
            Application {
                key: "payments/reporting".into(),
                namespace: "payments".into(),
                name: "reporting".into(),
                workload: Some(ObjectRef::namespaced("Deployment", "payments", "reporting")),
                chain: vec![
                    link(Layer::Ingress, vec![], LinkState::Absent, "no Ingress", vec![]),
                    link(Layer::Service, vec![], LinkState::Absent, "no Service", vec![]),
                    link(Layer::Endpoints, vec![], LinkState::Absent, "", vec![]),
                    link(Layer::Pod, vec![ObjectRef::namespaced("Pod", "payments", "reporting-7f9b8c5d4-kq2ms")], LinkState::Ok, "1/1 ready", vec![]),
                    link(Layer::Node, vec![ObjectRef::cluster("Node", "worker-2")], LinkState::Ok, "Ready", vec![]),
                ],
                first_broken: None,
                root_causes: vec![nolimits_id.clone()],
                severity: Some(Severity::Warning),
            },
        ],
        incidents: vec![
            Incident {
                root: oom_id.clone(),
                severity: Severity::Critical,
                title: "shop/web: OOMKilled → Service web has no endpoints → Ingress web 503".into(),
                consequences: vec![ep_id.clone(), ing_id.clone()],
                same_cause: Vec::new(),
            },
            Incident {
                root: probe_id.clone(),
                severity: Severity::Error,
                title: "payments/ledger: readiness probe on undeclared port 8081".into(),
                consequences: vec![],
                same_cause: Vec::new(),
            },
            Incident {
                root: nolimits_id.clone(),
                severity: Severity::Warning,
                title: "payments/reporting: no resource limits".into(),
                consequences: vec![],
                same_cause: Vec::new(),
            },
        ],
        findings: vec![oom, no_endpoints, ingress, probe, nolimits],
        timeline: vec![
            TimelineEntry { time: at(3, 5, 0), source: "event".into(), object: Some(ledger_pod.clone()), event_type: "Warning".into(), reason: "Unhealthy".into(), message: "Readiness probe failed: Get \"http://10.244.2.17:8081/ready\": dial tcp 10.244.2.17:8081: connect: connection refused".into(), count: 212 },
            TimelineEntry { time: at(3, 24, 2), source: "termination".into(), object: Some(pod.clone()), event_type: String::new(), reason: "OOMKilled".into(), message: "container web exited with code 137".into(), count: 1 },
            TimelineEntry { time: at(3, 24, 10), source: "event".into(), object: Some(pod.clone()), event_type: "Warning".into(), reason: "BackOff".into(), message: format!("Back-off restarting failed container web in pod {OOM_POD}_shop(6a3e2c1d-7b41-4e0f-9d52-8f1c2b7a9e30)"), count: 61 },
            TimelineEntry { time: at(4, 6, 20), source: "event".into(), object: Some(pod.clone()), event_type: "Normal".into(), reason: "Pulled".into(), message: "Container image \"registry.example.com/shop/web:1.8.3\" already present on machine".into(), count: 15 },
            TimelineEntry { time: at(4, 12, 3), source: "collection".into(), object: None, event_type: String::new(), reason: "Collected".into(), message: "bundle written by kpm-collect 0.1.0".into(), count: 1 },
        ],
        nodes: vec![
            node("worker-1", "Ready", vec![], 4, ("3920m", "3100m", 79, "6", 153), ("14Gi", "11Gi", 78, "16Gi", 114), Some((("1210m", 30), ("9.1Gi", 65)))),
            node("worker-2", "Ready", vec!["MemoryPressure: kubelet has insufficient memory available"], 5, ("3920m", "3750m", 95, "7800m", 198), ("14Gi", "13.4Gi", 95, "18Gi", 128), Some((("2980m", 76), ("13.1Gi", 93)))),
            node("control-plane-1", "Ready,SchedulingDisabled", vec![], 9, ("1930m", "950m", 49, "0", 0), ("3.5Gi", "290Mi", 8, "390Mi", 10), None),
        ],
        top_pods: vec![
            PodUsage { pod: pod.clone(), cpu_millis: 412, memory_bytes: 498 * 1024 * 1024, memory_limit_bytes: Some(512 * 1024 * 1024) },
            PodUsage { pod: ObjectRef::namespaced("Pod", "payments", "reporting-7f9b8c5d4-kq2ms"), cpu_millis: 96, memory_bytes: 3 * 1024 * 1024 * 1024, memory_limit_bytes: None },
            PodUsage { pod: ledger_pod, cpu_millis: 35, memory_bytes: 301 * 1024 * 1024, memory_limit_bytes: Some(1024 * 1024 * 1024) },
        ],
        coverage: vec![],
        collection: CollectionSummary {
            steps_total: 58,
            failed_steps: vec![],
            redaction: BTreeMap::from([("secret-data".to_string(), 14), ("env-password".to_string(), 3)]),
            redaction_enabled: true,
        },
        damage: vec![],
    }
}

/// A healthy cluster: two applications, nothing found.
pub fn healthy() -> Report {
    let mut r = crashloop_oom();
    r.summary = Summary {
        by_severity: by_severity(0, 0, 0, 0),
        findings: 0,
        incidents: 0,
        applications: 2,
        applications_broken: 0,
        pods: 5,
        nodes: 2,
    };
    let pods = vec![
        ObjectRef::namespaced("Pod", "shop", "web-6d4cf56db6-2xk8p"),
        ObjectRef::namespaced("Pod", "shop", "web-6d4cf56db6-q9v7d"),
    ];
    r.applications = vec![Application {
        key: "shop/web".into(),
        namespace: "shop".into(),
        name: "web".into(),
        workload: Some(ObjectRef::namespaced("Deployment", "shop", "web")),
        chain: vec![
            link(
                Layer::Ingress,
                vec![ObjectRef::namespaced("Ingress", "shop", "web")],
                LinkState::Ok,
                "shop.example.com",
                vec![],
            ),
            link(
                Layer::Service,
                vec![ObjectRef::namespaced("Service", "shop", "web")],
                LinkState::Ok,
                "ClusterIP 80→8080",
                vec![],
            ),
            link(Layer::Endpoints, vec![], LinkState::Ok, "2/2 ready", vec![]),
            link(Layer::Pod, pods, LinkState::Ok, "2/2 ready", vec![]),
            link(
                Layer::Node,
                vec![ObjectRef::cluster("Node", "worker-1")],
                LinkState::Ok,
                "Ready",
                vec![],
            ),
        ],
        first_broken: None,
        root_causes: vec![],
        severity: None,
    }];
    r.incidents = vec![];
    r.findings = vec![];
    r.timeline
        .retain(|e| e.reason == "Pulled" || e.source == "collection");
    r.nodes.truncate(1);
    r.nodes.iter_mut().for_each(|n| n.problems.clear());
    r.top_pods.truncate(1);
    r.top_pods
        .iter_mut()
        .for_each(|p| p.memory_bytes = 180 * 1024 * 1024);
    r
}

/// An interrupted collection without permission on secrets: coverage gaps,
/// failed steps and a corrupt file, plus one unschedulable pod.
#[allow(clippy::too_many_lines)] // TODO(structure): split
pub fn partial_bundle() -> Report {
    let pod = ObjectRef::namespaced("Pod", "shop", "search-5b7f9d8c6-m4kzt");
    let id = "pod-unschedulable:Pod/shop/search-5b7f9d8c6-m4kzt".to_string();
    let f = Finding {
        id: id.clone(),
        rule: "pod-unschedulable".into(),
        layer: Layer::Pod,
        severity: Severity::Critical,
        object: pod.clone(),
        application: Some("shop/search".into()),
        symptom: "Pending".into(),
        cause: "No node has 6Gi of memory free for the request: worker-1 is closest with 3.0Gi allocatable left.".into(),
        evidence: vec![Evidence::Event {
            object: pod.clone(),
            event_type: "Warning".into(),
            reason: "FailedScheduling".into(),
            message: "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.".into(),
            count: 37,
            first_seen: Some(at(3, 40, 0)),
            last_seen: Some(at(4, 10, 30)),
        }],
        next_steps: vec![NextStep {
            description: "Compare requests with what each node has left".into(),
            command: "kubectl describe nodes | grep -A 8 'Allocated resources'".into(),
        }],
        caused_by: vec![],
        related: vec![],
    };
    let mut r = healthy();
    r.bundle = bundle(true);
    r.summary = Summary {
        by_severity: by_severity(1, 0, 0, 0),
        findings: 1,
        incidents: 1,
        applications: 1,
        applications_broken: 1,
        pods: 4,
        nodes: 1,
    };
    r.applications = vec![Application {
        key: "shop/search".into(),
        namespace: "shop".into(),
        name: "search".into(),
        workload: Some(ObjectRef::namespaced("Deployment", "shop", "search")),
        chain: vec![
            link(
                Layer::Ingress,
                vec![],
                LinkState::Absent,
                "no Ingress",
                vec![],
            ),
            link(
                Layer::Service,
                vec![ObjectRef::namespaced("Service", "shop", "search")],
                LinkState::Ok,
                "ClusterIP 9200",
                vec![],
            ),
            link(
                Layer::Endpoints,
                vec![],
                LinkState::Broken,
                "0/1 ready",
                vec![],
            ),
            link(
                Layer::Pod,
                vec![pod.clone()],
                LinkState::Broken,
                "Pending",
                vec![&id],
            ),
            link(
                Layer::Node,
                vec![],
                LinkState::Unknown,
                "no node assigned",
                vec![],
            ),
        ],
        first_broken: Some(Layer::Endpoints),
        root_causes: vec![id.clone()],
        severity: Some(Severity::Critical),
    }];
    r.incidents = vec![Incident {
        root: id.clone(),
        severity: Severity::Critical,
        title: "shop/search: Pending, 2 Insufficient memory".into(),
        consequences: vec![],
        same_cause: Vec::new(),
    }];
    r.findings = vec![f];
    r.top_pods = vec![];
    r.coverage = vec![
        CoverageGap {
            check: "secret rotation".into(),
            namespace: Some("payments".into()),
            reason: "secrets: forbidden (403) during collection".into(),
        },
        CoverageGap {
            check: "resource pressure".into(),
            namespace: None,
            reason: "metrics/nodes.json missing: metrics API not available (the server could not find the requested resource)".into(),
        },
        CoverageGap {
            check: "Ingress routing".into(),
            namespace: Some("shop".into()),
            reason: "collection timed out before ingresses were listed".into(),
        },
    ];
    r.collection = CollectionSummary {
        steps_total: 41,
        failed_steps: vec![
            FailedStep {
                what: "secrets".into(),
                namespace: Some("payments".into()),
                object: None,
                outcome: "forbidden".into(),
                message: Some("secrets is forbidden: User \"system:serviceaccount:kpm:collector\" cannot list resource \"secrets\" in API group \"\" in the namespace \"payments\"".into()),
            },
            FailedStep {
                what: "logs".into(),
                namespace: Some("shop".into()),
                object: Some("search-5b7f9d8c6-m4kzt/search".into()),
                outcome: "error".into(),
                message: Some("container \"search\" in pod \"search-5b7f9d8c6-m4kzt\" is waiting to start: ContainerCreating".into()),
            },
            FailedStep {
                what: "ingresses".into(),
                namespace: Some("shop".into()),
                object: None,
                outcome: "timeout".into(),
                message: None,
            },
        ],
        redaction: BTreeMap::new(),
        redaction_enabled: false,
    };
    r.damage = vec![Damage {
        file: "namespaces/shop/events.json".into(),
        problem: "sha256 mismatch: manifest says 3b1f…, file hashes to 77c0…".into(),
    }];
    r
}
