//! Scenarios read from logs: cluster DNS down (CoreDNS crashing), and
//! applications whose logs show failed lookups or RBAC denials — with a
//! near miss that only looks like one.

use serde_json::json;

use super::common::{self, neighbour};
use super::healthy::{self, ShopOptions};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::meta;
use crate::builders::pod::{ContainerState, PodFate, Terminated};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::ids;
use crate::world::World;

/// The log-driven scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "dns-down", description: "Both CoreDNS pods crash at start: the loop plugin detects a forwarding loop through the node's resolver and exits 1, so kube-dns has no endpoints.", build: dns_down },
    Scenario { name: "app-log-errors", description: "report-exporter's logs show lookups of payments-api.payment.svc.cluster.local (namespace misspelled) failing with no such host; pod-janitor's ServiceAccount may not list pods (forbidden). Near miss: a partner API answering 403 Forbidden is not RBAC.", build: app_log_errors },
];

fn dns_down() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(&mut w, "shop", &ShopOptions::default());
    let pods: Vec<String> = w
        .cluster
        .objects("kube-system", "pods")
        .iter()
        .filter(|p| p["metadata"]["labels"]["k8s-app"] == "kube-dns")
        .map(|p| meta::name_of(p).to_string())
        .collect();
    let mut findings = vec![];
    for (i, name) in pods.iter().enumerate() {
        crash_coredns(&mut w, name, i as i64);
        findings.push(finding(
            "pod-crashloop",
            &pod("kube-system", name),
            &["exit code 1"],
        ));
    }
    // The rollout that moved the pods to a resolver pointing at itself.
    if let Some(d) = w.cluster.find_mut("kube-system", "deployments", "coredns") {
        d["status"]["readyReplicas"] = json!(0);
        d["status"]["availableReplicas"] = json!(0);
        d["status"]["unavailableReplicas"] = json!(2);
    }
    let first = pod("kube-system", pods.first().map_or("", String::as_str));
    findings.push(
        finding(
            "service-no-ready-endpoints",
            &obj("Service", "kube-system", "kube-dns"),
            &[],
        )
        .caused_by("pod-crashloop", &first),
    );
    findings.push(
        finding(
            "dns-unhealthy",
            &obj("Deployment", "kube-system", "coredns"),
            &[],
        )
        .caused_by("pod-crashloop", &first),
    );
    (w.finish(), findings)
}

/// CoreDNS pod `name` (the `i`th) crash-looping: the loop plugin found a
/// forwarding loop through the node's resolver and exits 1 at each start.
fn crash_coredns(w: &mut World, name: &str, i: i64) {
    let last = 96 + i * 13;
    let Some(p) = w.cluster.find_mut("kube-system", "pods", name) else {
        return;
    };
    // Rebuild the status as the kubelet reports a crash-looping CoreDNS.
    let spec = p["spec"].clone();
    let placement = crate::builders::pod::Placement {
        node: spec["nodeName"].as_str().unwrap_or("").to_string(),
        host_ip: p["status"]["hostIP"].as_str().unwrap_or("").to_string(),
        pod_ip: p["status"]["podIP"].as_str().unwrap_or("").to_string(),
        scheduled_ago: 1_020,
    };
    let state = ContainerState::Waiting {
        reason: "CrashLoopBackOff".into(),
        message: Some(common::crashloop_message(
            &common::pod_ref("kube-system", name),
            "coredns",
            "2m40s",
        )),
        restarts: 6,
        last: Some(Terminated::new("Error", 1, last, last - 1)),
    };
    let rebuilt = crate::builders::pod::pod(
        "kube-system",
        name,
        1_021,
        &spec,
        &PodFate::Placed(placement),
        &[state],
    );
    p["status"] = rebuilt["status"].clone();
    p["metadata"]["creationTimestamp"] = json!(ids::ago(1_021));
    let p = p.clone();
    let node = p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
    let image = p["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or("")
        .to_string();
    w.cluster.add_all(common::crashloop_events(
        &p,
        "coredns",
        &image,
        &node,
        6,
        1_016,
        20 + i * 7,
    ));
    let log = ".:53\n[INFO] plugin/reload: Running configuration SHA512 = 8a7d59126e7f114ab49c6d2613be93d8ef7d408af8ee61a710210843dc409f03133727e38f64469d9bb180f396c84ebf48a42bde3b3769730865ca9df5eb281c\nCoreDNS-1.12.1\nlinux/amd64, go1.24.1, 707c7c1\n[FATAL] plugin/loop: Loop (127.0.0.1:41527 -> :53) detected for zone \".\", see https://coredns.io/plugins/loop#troubleshooting. Query: \"HINFO 6046463396834614232.2436870916335453101.\"\n";
    w.cluster.add_log("kube-system", name, "coredns", true, log);
}

fn app_log_errors() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("payments", 86_400 * 150);
    neighbour(
        &mut w,
        "payments",
        "payments-api",
        "ghcr.io/acme-pay/payments-api:4.7.3",
    );
    w.cluster.namespace("reports", 86_400 * 40);
    let mut findings = report_exporter(&mut w);
    w.cluster.namespace("ops", 86_400 * 180);
    findings.extend(pod_janitor(&mut w));
    partner_sync(&mut w);
    (w.finish(), findings)
}

/// Lookups of a Service in a misspelled namespace (`payment`) fail.
fn report_exporter(w: &mut World) -> Vec<Finding> {
    let mut findings = vec![];
    let d = neighbour(
        w,
        "reports",
        "report-exporter",
        "ghcr.io/acme-data/report-exporter:1.2.0",
    );
    for name in &d.pods {
        let mut log = String::new();
        for j in 0..6 {
            let ago = 3_000 - j * 300;
            log.push_str(&format!(
                "{{\"level\":\"error\",\"ts\":\"{}\",\"msg\":\"export batch failed\",\"error\":\"Post \\\"http://payments-api.payment.svc.cluster.local/v1/settlements/export\\\": dial tcp: lookup payments-api.payment.svc.cluster.local on 172.20.0.10:53: no such host\"}}\n",
                common::iso_ms(ago, 312)
            ));
        }
        w.cluster
            .add_log("reports", name, "report-exporter", false, &log);
        findings.push(finding(
            "dns-lookup-failures",
            &pod("reports", name),
            &["payments-api.payment.svc.cluster.local"],
        ));
    }
    findings
}

/// A ServiceAccount that may not list pods.
fn pod_janitor(w: &mut World) -> Vec<Finding> {
    let mut findings = vec![];
    let mut janitor = AppSpec::new(
        "ops",
        "pod-janitor",
        "ghcr.io/acme-ops/pod-janitor:0.6.1",
        8080,
        1,
        86_400 * 2,
        86_400 * 2,
    );
    janitor.pod_spec["serviceAccountName"] = json!("pod-janitor");
    let d = app::deploy_healthy(w, &janitor);
    for name in &d.pods {
        let line = |ago: i64| {
            format!(
            "E1120 {}       1 reflector.go:166] \"Unhandled Error\" err=\"k8s.io/client-go@v0.33.2/tools/cache/reflector.go:285: Failed to watch *v1.Pod: failed to list *v1.Pod: pods is forbidden: User \\\"system:serviceaccount:ops:pod-janitor\\\" cannot list resource \\\"pods\\\" in API group \\\"\\\" at the cluster scope\" logger=\"UnhandledError\"\n",
            &common::iso_ms(ago, 411).get(11..23).unwrap_or("14:00:00.000")
        )
        };
        let log = format!(
            "I1120 {}       1 main.go:48] \"Starting pod janitor\" maxAge=\"72h\"\n{}{}",
            &common::iso_ms(86_400 * 2 - 14, 5)
                .get(11..23)
                .unwrap_or("14:00:00.000"),
            line(1_200),
            line(600)
        );
        w.cluster.add_log("ops", name, "pod-janitor", false, &log);
        findings.push(finding(
            "rbac-forbidden",
            &pod("ops", name),
            &["system:serviceaccount:ops:pod-janitor"],
        ));
    }
    findings
}

/// Near miss: an HTTP 403 from a partner is not Kubernetes RBAC.
fn partner_sync(w: &mut World) {
    let d = neighbour(
        w,
        "payments",
        "partner-sync",
        "ghcr.io/acme-pay/partner-sync:2.0.4",
    );
    for name in &d.pods {
        let log = format!(
            "{} WARN  partner API answered 403 Forbidden for GET https://api.partner.example/v2/payouts: {{\"error\":\"forbidden\",\"detail\":\"token lacks scope payouts:read\"}}\n{} INFO  retrying with refreshed token\n{} INFO  synced 112 payouts\n",
            common::iso_ms(1_500, 2), common::iso_ms(1_499, 80), common::iso_ms(1_497, 640)
        );
        w.cluster
            .add_log("payments", name, "partner-sync", false, &log);
    }
}
