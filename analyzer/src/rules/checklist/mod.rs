//! The "works locally but not in Kubernetes" checklist: cluster DNS and
//! RBAC, the two things a laptop never exercises. (Image tags and probe
//! ports, the other usual suspects, are judged by the pod layer.)
//!
//! - `dns-unhealthy` (cluster-scoped): CoreDNS / kube-dns pods
//!   (`k8s-app=kube-dns`) missing, not running or not ready.
//! - `dns-lookup-failures`: `no such host` / lookup timeouts in a pod's logs,
//!   cross-checked against the Services of the namespace (a missing Service
//!   is a naming bug, not a DNS outage).
//! - `rbac-forbidden`: `... is forbidden: User "system:serviceaccount:..."
//!   cannot <verb> resource ...` in a pod's logs, with the exact
//!   `kubectl auth can-i` and Role/RoleBinding to grant it.

pub(crate) mod patterns;
#[cfg(test)]
mod tests;

use kpm_model::{Evidence, Finding, LogLine, ObjectRef, Severity};
use kpm_semantics::ObjectExt;

use crate::command::{is_dns1123_label, is_dns1123_subdomain, Kubectl, Name};
use crate::context::{pod_ref, ClusterCtx, FindingBuilder, InfraPod, NamespaceCtx};
use crate::rules::registry::Rule;
use crate::rules::service::backends::name_list;
pub use patterns::{parse_dns_failure, parse_forbidden, DnsFailure, Forbidden};

/// Lines quoted per log file.
const MAX_LINES: usize = 5;

/// Runs the checklist rules over one namespace: application logs.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for pod in &ctx.ns.pods {
        let Some(name) = pod.metadata.name.as_deref() else {
            continue;
        };
        // CoreDNS logs its upstream failures; those are dns-unhealthy's.
        let is_dns = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("k8s-app"))
            .is_some_and(|v| v == "kube-dns");
        if is_dns {
            continue;
        }
        let files = ctx.pod_log_files(name);
        if files.is_empty() {
            continue;
        }
        let mut dns: Vec<(String, Vec<LogLine>)> = Vec::new();
        let mut rbac: Vec<(String, Vec<LogLine>)> = Vec::new();
        for file in &files {
            let lines = ctx.log_grep(&file.path, 4 * MAX_LINES, |l| {
                parse_dns_failure(l).is_some() || parse_forbidden(l).is_some()
            });
            let (d, r): (Vec<LogLine>, Vec<LogLine>) = lines
                .into_iter()
                .partition(|l| parse_dns_failure(&l.text).is_some());
            if !d.is_empty() {
                dns.push((file.path.clone(), d));
            }
            if !r.is_empty() {
                rbac.push((file.path.clone(), r));
            }
        }
        if !dns.is_empty() {
            out.push(dns_finding(ctx, pod, &dns));
        }
        if !rbac.is_empty() {
            out.extend(rbac_finding(ctx, pod, &rbac));
        }
    }
    out
}

fn log_evidence(files: &[(String, Vec<LogLine>)]) -> Vec<Evidence> {
    files
        .iter()
        .map(|(file, lines)| Evidence::Log {
            file: file.clone(),
            lines: lines.iter().take(MAX_LINES).cloned().collect(),
        })
        .collect()
}

fn dns_health(ctx: &NamespaceCtx<'_>) -> String {
    let pods = &ctx.cluster.infra.dns_pods;
    let healthy = pods.iter().filter(|p| p.healthy()).count();
    if pods.is_empty() {
        "no CoreDNS pod was found in the bundle".to_string()
    } else {
        format!("{healthy} of {} CoreDNS pods are ready", pods.len())
    }
}

fn dns_finding(
    ctx: &NamespaceCtx<'_>,
    pod: &k8s_openapi::api::core::v1::Pod,
    files: &[(String, Vec<LogLine>)],
) -> Finding {
    let name = pod.name_any();
    let ns = ctx.namespace();
    let failures: Vec<DnsFailure> = files
        .iter()
        .flat_map(|(_, lines)| lines.iter().filter_map(|l| parse_dns_failure(&l.text)))
        .collect();
    let total: usize = files.iter().map(|(_, l)| l.len()).sum();
    let first = failures.first().cloned().unwrap_or_default();
    let mut hosts: Vec<String> = failures.iter().filter_map(|f| f.host.clone()).collect();
    hosts.sort();
    hosts.dedup();
    let host_text = if hosts.is_empty() {
        "a host name".to_string()
    } else {
        name_list(&hosts, 3)
    };
    // A cluster-internal name whose Service does not exist is a naming bug.
    let missing_svc = hosts.iter().find_map(|h| {
        let (svc, svc_ns) = patterns::service_of_host(h, ns)?;
        (svc_ns == ns && ctx.service(&svc).is_none()).then_some((h.clone(), svc))
    });
    let resolver = first
        .resolver
        .as_deref()
        .map(|r| format!(" via {r}"))
        .unwrap_or_default();
    let lines_word = if total == 1 { "line" } else { "lines" };
    let diagnosis = match (&missing_svc, first.not_found) {
        (Some((_, svc)), _) => {
            format!("there is no Service {svc} in namespace {ns}, so the name cannot resolve")
        }
        (None, true) => format!(
            "the name does not exist in DNS ({}); check the spelling and the namespace suffix",
            dns_health(ctx)
        ),
        (None, false) => format!("the DNS server does not answer ({})", dns_health(ctx)),
    };
    let mut f = ctx
        .finding(Rule::DnsLookupFailures, pod_ref(pod))
        .symptom(format!("Pod {name} logs DNS lookup failures for {host_text}"))
        .cause(format!(
            "Pod {name} cannot resolve {host_text}{resolver}: {} ({total} log {lines_word}); {diagnosis}.",
            first.kind
        ))
        .evidence_all(log_evidence(files));
    if let Some((_, svc)) = &missing_svc {
        f = f.related(ctx.object("Service", svc)).next_command(
            "List the Services of the namespace",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "services"])
                .build(),
        );
    }
    // The host comes from a log line: it goes in the description (escaped
    // prose), never in the command, which resolves a name kpm chose.
    let host = hosts
        .first()
        .map(String::as_str)
        .unwrap_or("kubernetes.default");
    f.next_command(
        format!("Check that DNS answers from inside the cluster, then try {host} the same way"),
        Kubectl::new()
            .namespace(ns)
            .args([
                "run",
                "dnscheck",
                "--rm",
                "-it",
                "--restart=Never",
                "--image=busybox:1.36",
            ])
            .args(["--", "nslookup", "kubernetes.default"])
            .build(),
    )
    .next_command(
        "Check CoreDNS",
        Kubectl::new()
            .namespace("kube-system")
            .args(["get", "pods", "-l", "k8s-app=kube-dns", "-o", "wide"])
            .build(),
    )
    .build()
}

/// The verbs an RBAC rule can name; a verb from a log line is used only as
/// one of these constants.
const RBAC_VERBS: [&str; 8] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

fn rbac_finding(
    ctx: &NamespaceCtx<'_>,
    pod: &k8s_openapi::api::core::v1::Pod,
    files: &[(String, Vec<LogLine>)],
) -> Option<Finding> {
    let name = pod.name_any();
    let ns = ctx.namespace();
    let denials: Vec<Forbidden> = files
        .iter()
        .flat_map(|(_, lines)| lines.iter().filter_map(|l| parse_forbidden(&l.text)))
        .collect();
    let first = denials.first()?;
    let total: usize = files.iter().map(|(_, l)| l.len()).sum();
    let scope = match &first.namespace {
        Some(n) => format!("in namespace {n}"),
        None => "at cluster scope".to_string(),
    };
    let group = if first.group.is_empty() {
        "\"\" (core)".to_string()
    } else {
        first.group.clone()
    };
    let sa = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".into());
    let f = ctx
        .finding(Rule::RbacForbidden, pod_ref(pod))
        .symptom(format!("Pod {name}: {} {} forbidden", first.verb, first.resource))
        .cause(format!(
            "Pod {name} runs as {} which may not {} {} (API group {group}) {scope}: the API server answered `{}` ({total} log lines).",
            first.user, first.verb, first.resource, first.text
        ))
        .evidence_all(log_evidence(files))
        .field(&pod_ref(pod), "spec.serviceAccountName", sa.clone())
        .related(ctx.object("ServiceAccount", &sa));
    Some(grant_commands(f, ns, &sa, first).build())
}

/// Check and grant the denied permission — only when the verb is an RBAC
/// verb and the identity's names are valid.
fn grant_commands(mut f: FindingBuilder, ns: &str, sa: &str, first: &Forbidden) -> FindingBuilder {
    // The identity comes from the pod spec and the verb from a fixed list:
    // only names checked against their grammar come from the log line.
    let as_user = format!("system:serviceaccount:{ns}:{sa}");
    let sa_ref = format!("{ns}:{sa}");
    let verb = RBAC_VERBS.iter().copied().find(|v| *v == first.verb);
    let resource = if first.group.is_empty() {
        first.resource.clone()
    } else {
        format!("{}.{}", first.resource, first.group)
    };
    let role = format!("{}-{}", first.resource.replace(['.', '/'], "-"), first.verb);
    let scoped = |k: Kubectl| match &first.namespace {
        Some(n) => k.namespace(n),
        None => k,
    };
    let identity_ok = is_dns1123_label(ns) && is_dns1123_subdomain(sa);
    let (Some(verb), true) = (verb, identity_ok) else {
        return f;
    };
    f = f.next_command(
        "Confirm the permission is missing",
        scoped(Kubectl::new())
            .args(["auth", "can-i", verb])
            .value(Name::Resource, &resource)
            .with("--as=", Name::User, &as_user, "")
            .build(),
    );
    let (kind, binding) = match &first.namespace {
        Some(_) => ("role", "rolebinding"),
        None => ("clusterrole", "clusterrolebinding"),
    };
    let binding_name = match &first.namespace {
        Some(_) => role.clone(),
        None => format!("{ns}-{role}"),
    };
    let what = if first.namespace.is_some() {
        "Role"
    } else {
        "ClusterRole"
    };
    f.next_command(
        format!("Grant it with a {what}"),
        scoped(Kubectl::new())
            .args(["create", kind])
            .name(&role)
            .args([format!("--verb={verb}").as_str()])
            .with("--resource=", Name::Resource, &resource, "")
            .build(),
    )
    .next_command(
        format!("Bind the {what} to the ServiceAccount"),
        scoped(Kubectl::new())
            .args(["create", binding])
            .name(&binding_name)
            .with(&format!("--{kind}="), Name::Subdomain, &role, "")
            .with("--serviceaccount=", Name::User, &sa_ref, "")
            .build(),
    )
}

/// The Deployment a CoreDNS pod name belongs to: `coredns-5d78c9869d-x2x7q`
/// → `coredns` (pod names of a Deployment are `<deploy>-<rs hash>-<suffix>`).
fn dns_deployment(pods: &[InfraPod]) -> ObjectRef {
    let name = pods
        .first()
        .map(|p| p.object.name.as_str())
        .and_then(|n| n.rsplitn(3, '-').nth(2))
        .unwrap_or("coredns");
    ObjectRef::namespaced("Deployment", "kube-system", name)
}

/// Runs the cluster-scoped checklist rules: cluster DNS health.
pub fn run_cluster(ctx: &ClusterCtx<'_>) -> Vec<Finding> {
    let pods = &ctx.cluster.infra.dns_pods;
    let healthy = pods.iter().filter(|p| p.healthy()).count();
    if !pods.is_empty() && healthy == pods.len() {
        return Vec::new();
    }
    if pods.is_empty() {
        return dns_absent(ctx).into_iter().collect();
    }
    vec![dns_not_ready(ctx, pods, healthy)]
}

/// `dns-unhealthy` when kube-system was collected and holds no DNS pod.
fn dns_absent(ctx: &ClusterCtx<'_>) -> Option<Finding> {
    // Absence means something only when kube-system was collected.
    let collected = ctx
        .bundle
        .contains(&kpm_bundle::layout::namespaced_path("kube-system", "pods"));
    if !collected {
        return None;
    }
    let svc = ObjectRef::namespaced("Service", "kube-system", "kube-dns");
    Some(ctx
        .finding(Rule::DnsUnhealthy, svc)
        .symptom("No CoreDNS pod in kube-system")
        .cause("No CoreDNS / kube-dns pod (k8s-app=kube-dns) exists in kube-system, so no pod in the cluster can resolve Service names.")
        .next_command(
            "Look for the DNS Deployment",
            Kubectl::new()
                .namespace("kube-system")
                .args(["get", "deployments,pods", "-l", "k8s-app=kube-dns"])
                .build(),
        )
        .build())
}

/// `dns-unhealthy` when some (`healthy` > 0: warning) or all (critical) DNS
/// pods are not ready.
fn dns_not_ready(ctx: &ClusterCtx<'_>, pods: &[InfraPod], healthy: usize) -> Finding {
    let object = dns_deployment(pods);
    let states: Vec<String> = pods
        .iter()
        .filter(|p| !p.healthy())
        .map(|p| {
            let state = if p.running {
                "running but not ready"
            } else {
                "not running"
            };
            format!("{} {state} (phase {})", p.object.name, p.phase)
        })
        .collect();
    let severity = if healthy == 0 {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let impact = if healthy == 0 {
        "no pod in the cluster can resolve Service names"
    } else {
        "lookups sent to the broken replicas time out"
    };
    let mut f = ctx
        .finding(Rule::DnsUnhealthy, object)
        .severity(severity)
        .symptom(format!("CoreDNS {healthy}/{} ready", pods.len()))
        .cause(format!(
            "{} of {} CoreDNS pods are not ready ({}): {impact}.",
            pods.len() - healthy,
            pods.len(),
            name_list(&states, 3)
        ));
    for p in pods.iter().filter(|p| !p.healthy()) {
        f = f.related(p.object.clone());
        if let Some(file) = p.log_files.first() {
            if let Some(tail) = ctx.log_tail(file, 5) {
                f = f.evidence(tail.to_evidence());
            }
        }
    }
    let first = pods
        .iter()
        .find(|p| !p.healthy())
        .map(|p| p.object.name.clone())
        .unwrap_or_default();
    f.next_command(
        "See why CoreDNS is not ready",
        Kubectl::new()
            .namespace("kube-system")
            .args(["describe", "pod"])
            .name(&first)
            .build(),
    )
    .next_command(
        "Read its log",
        Kubectl::new()
            .namespace("kube-system")
            .args(["logs"])
            .name(&first)
            .build(),
    )
    .build()
}
