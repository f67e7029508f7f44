//! Controllers whose pods the API server refuses, and a near miss.
//!
//! Shapes from the sources: the ReplicaSet controller records a Warning
//! `FailedCreate` Event `Error creating: <error>` on the ReplicaSet
//! (`RealPodControl.CreatePods`, `pkg/controller/controller_utils.go`) and
//! sets `ReplicaFailure=True` / `FailedCreate` with the error in its status
//! (`calculateStatus`, `pkg/controller/replicaset/replica_set_utils.go`),
//! which the Deployment controller copies into the Deployment's conditions.
//! Errors: `pods "<pod>" is forbidden: exceeded quota: <q>, requested: …,
//! used: …, limited: …` (`staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go`)
//! and `Internal error occurred: failed calling webhook "<w>": failed to
//! call webhook: Post "https://<svc>.<ns>.svc:443/<path>?timeout=5s": no
//! endpoints available for service "<svc>"` (webhook errors of
//! `staging/src/k8s.io/apiserver`). Similar events past ten are combined by
//! the recorder (`(combined from similar events): …`).

use serde_json::{json, Value};

use super::common::{self, crashloop_events, pod_obj, pod_ref};
use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::event::{self, Source};
use crate::builders::meta;
use crate::builders::network::{self, ServicePort};
use crate::builders::pod::{ContainerState, PodFate, Terminated};
use crate::builders::policy::resource_quota;
use crate::cluster::Cluster;
use crate::expected::{finding, obj, pod, Finding};
use crate::world::World;

/// The admission scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "create-blocked", description: "In storefront, checkout was scaled from 4 to 6 replicas but ResourceQuota compute-quota caps requests.cpu at 2 and 4 pods of 500m use it all: the ReplicaSet's creations are refused (exceeded quota). In payments, payments-api's pods were deleted in a node drain and cannot be recreated: the ValidatingWebhookConfiguration policy-guard (failurePolicy Fail) calls Service policy-guard/policy-guard, whose only pod crashes at start (missing serving certificate), so every pod creation fails with 'no endpoints available for service' and Service payments-api has no endpoints: one incident from the webhook's pod to payments-api.", build: create_blocked },
    Scenario { name: "create-refused", description: "Pods refused at admission for what they are: batch enforces Pod Security restricted and the nightly-migrate Job's pod sets no securityContext; in analytics the clickhouse StatefulSet asks for a CPU limit of 2 where LimitRange container-limits allows 1, and metrics-exporter names the ServiceAccount metrics-exporter, which does not exist; in observability Gatekeeper's webhook denies the log-shipper DaemonSet's docker.io image.", build: create_refused },
    Scenario { name: "quota-near-limit", description: "Near miss: storefront's compute-quota is 90 % used (requests.cpu 3600m of 4) with all 6 checkout pods created; an earlier refusal (exceeded quota, before the quota was raised) was followed by a successful creation. The MutatingWebhookConfiguration sidecar-injector has failurePolicy Ignore and its backend is scaled to 0, yet payments-api's pods were created: nothing is refused now.", build: quota_near_limit },
];

const CHECKOUT_IMAGE: &str = "ghcr.io/acme-shop/checkout:3.15.0";
const PAYMENTS_IMAGE: &str = "ghcr.io/acme-pay/payments-api:4.7.3";

/// The checkout app: `replicas` pods each requesting `cpu`.
fn checkout(replicas: i64, cpu: &str) -> AppSpec {
    let mut app = AppSpec::new(
        "storefront",
        "checkout",
        CHECKOUT_IMAGE,
        8080,
        replicas,
        86_400 * 60,
        86_400 * 3 + 1_200,
    );
    app::resources(
        app.main_container(),
        Some(cpu),
        Some("512Mi"),
        Some("1"),
        Some("1Gi"),
    );
    app
}

/// Makes the Deployment `name` and its ReplicaSet `rs` want `wanted` pods
/// while `have` exist, refused with `error` (the ReplicaSet's
/// `ReplicaFailure` condition, copied to the Deployment) since `since_ago`.
fn short_of_pods(
    w: &mut World,
    ns: &str,
    name: &str,
    rs: &str,
    wanted: i64,
    error: &str,
    since_ago: i64,
) {
    let at = crate::ids::ago(since_ago);
    let failure = json!({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": at, "reason": "FailedCreate", "message": error});
    if let Some(r) = w.cluster.find_mut(ns, "replicasets", rs) {
        r["spec"]["replicas"] = json!(wanted);
        r["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
            json!(wanted.to_string());
        r["status"]["conditions"] = json!([failure.clone()]);
    }
    if let Some(d) = w.cluster.find_mut(ns, "deployments", name) {
        d["spec"]["replicas"] = json!(wanted);
        let available = d["status"]["availableReplicas"].as_i64().unwrap_or(0);
        d["status"]["unavailableReplicas"] = json!(wanted - available);
        let mut f = failure;
        f["lastUpdateTime"] = json!(at);
        let conds = json!([
            {"type": "Available", "status": "False", "lastUpdateTime": at, "lastTransitionTime": at, "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."},
            {"type": "Progressing", "status": "True", "lastUpdateTime": crate::ids::ago(86_400 * 3 + 1_180), "lastTransitionTime": crate::ids::ago(86_400 * 3 + 1_200), "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{rs}\" has successfully progressed.")},
            f,
        ]);
        d["status"]["conditions"] = conds;
    }
}

/// `FailedCreate` events of the ReplicaSet `rs` (a Value with its
/// metadata): three single ones naming their pods, then the combined one.
fn failed_creates(
    rs: &Value,
    error_for: impl Fn(&str) -> String,
    first_ago: i64,
    combined: u32,
) -> Vec<Value> {
    let ns = meta::namespace_of(rs);
    let name = meta::name_of(rs);
    let src = Source::controller("replicaset-controller");
    let mut out = Vec::new();
    for i in 0..3_i64 {
        let pod = format!(
            "{name}-{}",
            crate::ids::suffix(&format!("{ns}/{name}/refused/{i}"), 5)
        );
        let at = first_ago - i;
        let msg = format!("Error creating: {}", error_for(&pod));
        out.push(event::event(
            ns,
            rs,
            None,
            "Warning",
            "FailedCreate",
            &msg,
            &src,
            1,
            at,
            at,
        ));
    }
    let pod = format!(
        "{name}-{}",
        crate::ids::suffix(&format!("{ns}/{name}/refused/last"), 5)
    );
    let msg = format!(
        "(combined from similar events): Error creating: {}",
        error_for(&pod)
    );
    out.push(event::event(
        ns,
        rs,
        None,
        "Warning",
        "FailedCreate",
        &msg,
        &src,
        combined,
        first_ago - 30,
        41,
    ));
    out
}

fn object_of(w: &World, ns: &str, plural: &str, name: &str) -> Value {
    w.cluster
        .objects(ns, plural)
        .iter()
        .find(|o| meta::name_of(o) == name)
        .cloned()
        .unwrap_or(Value::Null)
}

/// storefront: checkout scaled 4 → 6, two pods refused by compute-quota.
fn quota_exceeded(w: &mut World) -> Vec<Finding> {
    w.cluster.namespace("storefront", 86_400 * 200);
    let app = checkout(4, "500m");
    let d = app::deploy_healthy(w, &app);
    common::expose(w, &app, "checkout");
    w.cluster.add(resource_quota(
        "storefront",
        "compute-quota",
        &[
            ("limits.cpu", "8"),
            ("limits.memory", "16Gi"),
            ("pods", "20"),
            ("requests.cpu", "2"),
            ("requests.memory", "8Gi"),
        ],
        &[
            ("limits.cpu", "4"),
            ("limits.memory", "4Gi"),
            ("pods", "4"),
            ("requests.cpu", "2"),
            ("requests.memory", "2Gi"),
        ],
    ));
    let refused = |pod: &str| {
        format!("pods \"{pod}\" is forbidden: exceeded quota: compute-quota, requested: requests.cpu=500m, used: requests.cpu=2, limited: requests.cpu=2")
    };
    let rs = d.replica_set.clone();
    short_of_pods(
        w,
        "storefront",
        "checkout",
        &rs,
        6,
        &refused(&format!(
            "{rs}-{}",
            crate::ids::suffix(&format!("storefront/{rs}/refused/0"), 5)
        )),
        1_500,
    );
    let dep = object_of(w, "storefront", "deployments", "checkout");
    w.cluster.add(event::event(
        "storefront",
        &dep,
        None,
        "Normal",
        "ScalingReplicaSet",
        &format!("Scaled up replica set {rs} to 6 from 4"),
        &Source::controller("deployment-controller"),
        1,
        1_500,
        1_500,
    ));
    let rs_obj = object_of(w, "storefront", "replicasets", &rs);
    w.cluster
        .add_all(failed_creates(&rs_obj, refused, 1_499, 23));
    vec![finding(
        "admission-quota-exceeded",
        &obj("ReplicaSet", "storefront", &rs),
        &[
            "ResourceQuota compute-quota",
            "requests.cpu is capped at 2 with 2 used (100 %)",
            "each new pod asks for 500m",
            "4 of 6 pods exist",
        ],
    )]
}

/// The policy-guard webhook: configuration, Service, and its one pod
/// crashing at start. Returns the expected pod finding's object.
fn policy_guard(w: &mut World) -> String {
    w.cluster.namespace("policy-guard", 86_400 * 300);
    let image = "ghcr.io/acme-platform/policy-guard:1.8.2";
    let age = 2_400;
    let mut app = AppSpec::new(
        "policy-guard",
        "policy-guard",
        image,
        8443,
        1,
        86_400 * 300,
        age,
    );
    app.main_container()["args"] = json!([
        "--tls-cert-file=/certs/tls.crt",
        "--tls-private-key-file=/certs/tls.key",
        "--port=8443"
    ]);
    let d = app::deploy(w, &app, |_, name, pl| {
        let st = ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some(common::crashloop_message(
                &pod_ref("policy-guard", name),
                "policy-guard",
                "5m0s",
            )),
            restarts: 9,
            last: Some(Terminated::new("Error", 1, 190, 189)),
        };
        (PodFate::Placed(pl), vec![st])
    });
    let name = d.pods.first().cloned().unwrap_or_default();
    let p = pod_obj(w, "policy-guard", &name);
    let node = d.nodes.first().cloned().flatten().unwrap_or_default();
    w.cluster.add_all(crashloop_events(
        &p,
        "policy-guard",
        image,
        &node,
        9,
        age - 8,
        30,
    ));
    let log = format!(
        "{} INFO policy-guard 1.8.2 starting port=8443\n{} FATAL unable to load serving certificate: open /certs/tls.crt: no such file or directory\n",
        crate::ids::ago(190),
        crate::ids::ago(189)
    );
    w.cluster
        .add_log("policy-guard", &name, "policy-guard", true, &log);
    w.cluster
        .add_log("policy-guard", &name, "policy-guard", false, &log);
    let sel = app.selector();
    let svc = network::service(
        "policy-guard",
        "policy-guard",
        86_400 * 300,
        &World::cluster_ip("policy-guard/policy-guard"),
        &sel,
        &[ServicePort::tcp("https", 443, json!(8443))],
    );
    w.cluster.add(svc);
    w.cluster.add(webhook_configuration(
        "ValidatingWebhookConfiguration",
        "policy-guard",
        "pods.policy-guard.example.com",
        "Fail",
        ("policy-guard", "policy-guard", "/validate-pods"),
        "payments",
    ));
    pod("policy-guard", &name)
}

/// A webhook configuration with one webhook on pod CREATE in namespace
/// `scope`, calling `service` (namespace, name, path) on 443.
fn webhook_configuration(
    kind: &str,
    name: &str,
    webhook: &str,
    policy: &str,
    service: (&str, &str, &str),
    scope: &str,
) -> Value {
    let mut c = meta::object(
        "admissionregistration.k8s.io/v1",
        kind,
        None,
        name,
        86_400 * 280,
    );
    let (ns, svc, path) = service;
    let mut hook = json!({
        "name": webhook,
        "admissionReviewVersions": ["v1"],
        "clientConfig": {"service": {"namespace": ns, "name": svc, "path": path, "port": 443}, "caBundle": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUUREQmh3YjJ4cFkza3QKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="},
        "failurePolicy": policy,
        "matchPolicy": "Equivalent",
        "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": [scope]}]},
        "objectSelector": {},
        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"], "scope": "Namespaced"}],
        "sideEffects": "None",
        "timeoutSeconds": 5,
    });
    if kind.starts_with("Mutating") {
        hook["reinvocationPolicy"] = json!("Never");
    }
    c["webhooks"] = json!([hook]);
    c
}

/// payments: payments-api's ReplicaSet cannot recreate its 2 pods.
fn webhook_down(w: &mut World, guard_pod: &str) -> Vec<Finding> {
    w.cluster.namespace("payments", 86_400 * 150);
    let app = AppSpec::new(
        "payments",
        "payments-api",
        PAYMENTS_IMAGE,
        8080,
        0,
        86_400 * 90,
        86_400 * 5 + 600,
    );
    let d = app::deploy_healthy(w, &app);
    common::expose(w, &app, "payments-api");
    let rs = d.replica_set.clone();
    let refused = |_: &str| {
        "Internal error occurred: failed calling webhook \"pods.policy-guard.example.com\": failed to call webhook: Post \"https://policy-guard.policy-guard.svc:443/validate-pods?timeout=5s\": no endpoints available for service \"policy-guard\"".to_string()
    };
    short_of_pods(w, "payments", "payments-api", &rs, 2, &refused(""), 1_080);
    let rs_obj = object_of(w, "payments", "replicasets", &rs);
    w.cluster
        .add_all(failed_creates(&rs_obj, refused, 1_079, 31));
    let rs_key = obj("ReplicaSet", "payments", &rs);
    vec![
        finding("pod-crashloop", guard_pod, &["exit code 1"]),
        finding("service-no-ready-endpoints", "Service/policy-guard/policy-guard", &[])
            .caused_by("pod-crashloop", guard_pod),
        finding(
            "admission-webhook-unreachable",
            &rs_key,
            &[
                "webhook pods.policy-guard.example.com of ValidatingWebhookConfiguration policy-guard",
                "failurePolicy Fail",
                "no endpoints available for service \"policy-guard\"",
                "Service policy-guard/policy-guard has 0 ready endpoint(s) (1 not ready)",
                "0 of 2 pods exist",
            ],
        )
        .caused_by("service-no-ready-endpoints", "Service/policy-guard/policy-guard"),
        finding("service-no-ready-endpoints", "Service/payments/payments-api", &["has no pods"])
            .caused_by("admission-webhook-unreachable", &rs_key),
    ]
}

fn create_blocked() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    let mut findings = quota_exceeded(&mut w);
    let guard = policy_guard(&mut w);
    findings.extend(webhook_down(&mut w, &guard));
    (w.finish(), findings)
}

fn quota_near_limit() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace("storefront", 86_400 * 200);
    let mut app = checkout(6, "600m");
    app.scaled_out = Some((5, 1_320));
    let d = app::deploy_healthy(&mut w, &app);
    common::expose(&mut w, &app, "checkout");
    w.cluster.add(resource_quota(
        "storefront",
        "compute-quota",
        &[
            ("limits.cpu", "8"),
            ("limits.memory", "16Gi"),
            ("pods", "10"),
            ("requests.cpu", "4"),
            ("requests.memory", "8Gi"),
        ],
        &[
            ("limits.cpu", "6"),
            ("limits.memory", "6Gi"),
            ("pods", "6"),
            ("requests.cpu", "3600m"),
            ("requests.memory", "3Gi"),
        ],
    ));
    // Refused while the quota was 3 CPUs, created once it was raised.
    let rs = object_of(&w, "storefront", "replicasets", &d.replica_set);
    let refused = |pod: &str| {
        format!("pods \"{pod}\" is forbidden: exceeded quota: compute-quota, requested: requests.cpu=600m, used: requests.cpu=3, limited: requests.cpu=3")
    };
    let src = Source::controller("replicaset-controller");
    let first = format!(
        "{}-{}",
        d.replica_set,
        crate::ids::suffix("storefront/near/refused", 5)
    );
    w.cluster.add(event::event(
        "storefront",
        &rs,
        None,
        "Warning",
        "FailedCreate",
        &format!("Error creating: {}", refused(&first)),
        &src,
        1,
        2_460,
        2_460,
    ));
    let created = d.pods.last().cloned().unwrap_or_default();
    w.cluster.add(event::event(
        "storefront",
        &rs,
        None,
        "Normal",
        "SuccessfulCreate",
        &format!("Created pod: {created}"),
        &src,
        1,
        1_320,
        1_320,
    ));
    injector_ignored(&mut w);
    (w.finish(), Vec::new())
}

/// The sidecar injector is scaled to 0 and its webhook ignores failures:
/// payments-api's pods were created all the same.
fn injector_ignored(w: &mut World) {
    w.cluster.namespace("sidecar-injector", 86_400 * 300);
    let injector = AppSpec::new(
        "sidecar-injector",
        "sidecar-injector",
        "ghcr.io/acme-platform/sidecar-injector:0.12.1",
        8443,
        0,
        86_400 * 300,
        86_400 * 2,
    );
    app::deploy_healthy(w, &injector);
    let sel = injector.selector();
    w.cluster.add(network::service(
        "sidecar-injector",
        "sidecar-injector",
        86_400 * 300,
        &World::cluster_ip("sidecar-injector/sidecar-injector"),
        &sel,
        &[ServicePort::tcp("https", 443, json!(8443))],
    ));
    w.cluster.add(webhook_configuration(
        "MutatingWebhookConfiguration",
        "sidecar-injector",
        "inject.sidecar-injector.example.com",
        "Ignore",
        ("sidecar-injector", "sidecar-injector", "/inject"),
        "payments",
    ));
    w.cluster.namespace("payments", 86_400 * 150);
    let payments = AppSpec::new(
        "payments",
        "payments-api",
        PAYMENTS_IMAGE,
        8080,
        2,
        86_400 * 90,
        1_000,
    );
    app::deploy_healthy(w, &payments);
    common::expose(w, &payments, "payments-api");
}

/// A pod spec of one container with requests and limits.
fn one_container(name: &str, image: &str, cpu_limit: &str) -> Value {
    let mut c = crate::app::container(name, image, 8080);
    if let Some(m) = c.as_object_mut() {
        m.remove("readinessProbe");
        m.remove("livenessProbe");
    }
    app::resources(
        &mut c,
        Some("250m"),
        Some("256Mi"),
        Some(cpu_limit),
        Some("1Gi"),
    );
    json!({"containers": [c]})
}

/// batch enforces `restricted`: the nightly-migrate Job's pod (no
/// securityContext) is refused by Pod Security admission.
fn pod_security(w: &mut World) -> Vec<Finding> {
    let ns = w.cluster.namespace("batch", 86_400 * 160);
    ns.labels = vec![
        (
            "pod-security.kubernetes.io/enforce".into(),
            "restricted".into(),
        ),
        (
            "pod-security.kubernetes.io/enforce-version".into(),
            "latest".into(),
        ),
    ];
    let spec = one_container("migrate", "ghcr.io/acme-shop/ledger-tools:3.5.0", "1");
    let mut job = crate::builders::workload::job("batch", "nightly-migrate", 900, &spec, 0);
    job["status"] = json!({"active": 0, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}, "startTime": crate::ids::ago(900)});
    let checks = "allowPrivilegeEscalation != false (container \"migrate\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"migrate\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"migrate\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"migrate\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")";
    let src = Source::controller("job-controller");
    for (i, ago) in [(0_i64, 899_i64), (1, 880), (2, 40)] {
        let pod = format!(
            "nightly-migrate-{}",
            crate::ids::suffix(&format!("batch/nightly-migrate/{i}"), 5)
        );
        let msg = format!("Error creating: pods \"{pod}\" is forbidden: violates PodSecurity \"restricted:latest\": {checks}");
        let count = if i == 2 { 12 } else { 1 };
        w.cluster.add(event::event(
            "batch",
            &job,
            None,
            "Warning",
            "FailedCreate",
            &msg,
            &src,
            count,
            ago + 20 * i,
            ago,
        ));
    }
    w.cluster.add(job);
    vec![finding(
        "admission-pod-security",
        "Job/batch/nightly-migrate",
        &[
            "namespace batch enforces Pod Security level restricted",
            "4 check(s): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile",
            "0 of 1 pods exist",
        ],
    )]
}

/// analytics: LimitRange container-limits allows 1 CPU per container, the
/// clickhouse StatefulSet asks for a limit of 2; metrics-exporter names a
/// ServiceAccount that does not exist.
fn analytics(w: &mut World) -> Vec<Finding> {
    w.cluster.namespace("analytics", 86_400 * 220);
    let mut lr = meta::object(
        "v1",
        "LimitRange",
        Some("analytics"),
        "container-limits",
        86_400 * 200,
    );
    lr["spec"] = json!({"limits": [{"type": "Container",
        "max": {"cpu": "1", "memory": "2Gi"},
        "default": {"cpu": "500m", "memory": "512Mi"},
        "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]});
    w.cluster.add(lr);
    let spec = one_container(
        "clickhouse",
        "docker.io/clickhouse/clickhouse-server:24.8",
        "2",
    );
    let sel = [("app.kubernetes.io/name", "clickhouse")];
    let r = crate::builders::workload::Replicas {
        desired: 1,
        current: 0,
        ready: 0,
    };
    let mut sts = crate::builders::workload::stateful_set(
        "analytics",
        "clickhouse",
        1_800,
        &sel,
        &spec,
        r,
        "clickhouse",
    );
    sts["status"] = json!({"replicas": 0, "availableReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0, "observedGeneration": 1, "collisionCount": 0,
        "currentRevision": format!("clickhouse-{}", crate::ids::template_hash("sts/analytics/clickhouse")), "updateRevision": format!("clickhouse-{}", crate::ids::template_hash("sts/analytics/clickhouse"))});
    let msg = "create Pod clickhouse-0 in StatefulSet clickhouse failed error: pods \"clickhouse-0\" is forbidden: maximum cpu usage per Container is 1, but limit is 2";
    w.cluster.add(event::event(
        "analytics",
        &sts,
        None,
        "Warning",
        "FailedCreate",
        msg,
        &Source::controller("statefulset-controller"),
        19,
        1_790,
        55,
    ));
    w.cluster.add(sts);
    let mut out = vec![finding(
        "admission-limit-range",
        "StatefulSet/analytics/clickhouse",
        &[
            "LimitRange container-limits",
            "maximum cpu usage per Container is 1, but limit is 2",
            "0 of 1 pods exist",
        ],
    )];
    out.push(service_account_missing(w));
    out
}

/// metrics-exporter names a ServiceAccount that does not exist.
fn service_account_missing(w: &mut World) -> Finding {
    let mut exporter = AppSpec::new(
        "analytics",
        "metrics-exporter",
        "ghcr.io/acme-shop/metrics-exporter:0.9.0",
        9100,
        0,
        86_400 * 40,
        700,
    );
    exporter.pod_spec["serviceAccountName"] = json!("metrics-exporter");
    let d = app::deploy_healthy(w, &exporter);
    let rs = d.replica_set.clone();
    let refused = |pod: &str| {
        format!("pods \"{pod}\" is forbidden: error looking up service account analytics/metrics-exporter: serviceaccount \"metrics-exporter\" not found")
    };
    short_of_pods(
        w,
        "analytics",
        "metrics-exporter",
        &rs,
        1,
        &refused(&format!(
            "{rs}-{}",
            crate::ids::suffix(&format!("analytics/{rs}/refused/0"), 5)
        )),
        700,
    );
    let rs_obj = object_of(w, "analytics", "replicasets", &rs);
    w.cluster.add_all(failed_creates(&rs_obj, refused, 699, 14));
    finding(
        "admission-service-account-missing",
        &obj("ReplicaSet", "analytics", &rs),
        &[
            "ServiceAccount metrics-exporter",
            "serviceaccount \"metrics-exporter\" not found",
        ],
    )
}

/// observability: Gatekeeper denies the log-shipper DaemonSet's image.
fn webhook_denied(w: &mut World) -> Vec<Finding> {
    w.cluster.namespace("observability", 86_400 * 260);
    let image = "docker.io/fluent/fluent-bit:3.1.4";
    let spec = one_container("log-shipper", image, "500m");
    let nodes = w.cluster.cluster_list("nodes").len() as i64;
    let sel = [("app.kubernetes.io/name", "log-shipper")];
    let mut ds = crate::builders::workload::daemon_set(
        "observability",
        "log-shipper",
        2_000,
        &sel,
        &spec,
        nodes,
        0,
    );
    ds["status"] = json!({"currentNumberScheduled": 0, "desiredNumberScheduled": nodes, "numberAvailable": 0, "numberMisscheduled": 0,
        "numberReady": 0, "numberUnavailable": nodes, "observedGeneration": 1, "updatedNumberScheduled": 0});
    let msg = format!("Error creating: admission webhook \"validation.gatekeeper.sh\" denied the request: [allowed-repos] container <log-shipper> has an invalid image repo <{image}>, allowed repos are [\"ghcr.io/acme-\"]");
    w.cluster.add(event::event(
        "observability",
        &ds,
        None,
        "Warning",
        "FailedCreate",
        &msg,
        &Source::controller("daemonset-controller"),
        27,
        1_990,
        62,
    ));
    w.cluster.add(ds);
    w.cluster.add(webhook_configuration(
        "ValidatingWebhookConfiguration",
        "gatekeeper-validating-webhook-configuration",
        "validation.gatekeeper.sh",
        "Ignore",
        (
            "gatekeeper-system",
            "gatekeeper-webhook-service",
            "/v1/admit",
        ),
        "observability",
    ));
    vec![finding(
        "admission-webhook-denied",
        "DaemonSet/observability/log-shipper",
        &[
            "webhook validation.gatekeeper.sh of ValidatingWebhookConfiguration gatekeeper-validating-webhook-configuration",
            "invalid image repo <docker.io/fluent/fluent-bit:3.1.4>",
        ],
    ),
    // What users see: no log-shipper pod on any of the three nodes; the
    // refusal is why.
    finding(
        "daemonset-not-ready",
        "DaemonSet/observability/log-shipper",
        &["numberReady 0 of desiredNumberScheduled 3"],
    )
    .caused_by(
        "admission-webhook-denied",
        "DaemonSet/observability/log-shipper",
    )]
}

fn create_refused() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    let mut findings = pod_security(&mut w);
    findings.extend(analytics(&mut w));
    findings.extend(webhook_denied(&mut w));
    (w.finish(), findings)
}
