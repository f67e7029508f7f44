//! The network policy layer: `netpol-blocks-ingress`, a Service whose ready
//! endpoints are isolated by NetworkPolicies from the ingress controller
//! pods of the Ingresses that route to it. Endpoints look ready, the
//! Ingress looks fine, and every request times out at the controller.
//!
//! The verdict is computed from the policies alone ([`eval`]): for each
//! ready pod of the Service, each port an Ingress sends to (the Service
//! port's `targetPort` resolved on the pod) and each running controller
//! pod of the Ingress's class, is the controller admitted by some ingress
//! rule of some policy selecting the pod? A pair the bundle cannot settle
//! (`ipBlock` without the controller's IP, a host-network controller, a
//! namespace selector without namespace labels) is not a finding.
//!
//! Whether the traffic is really dropped depends on the CNI enforcing
//! NetworkPolicy, which a bundle cannot show, so the finding says so and
//! stays `error`; it becomes `critical` when the controller's own logs show
//! the symptom (`upstream timed out` to one of the pods, or `504` answers
//! for the Service's upstream). It causes `ServiceNotServing`, so an
//! Ingress finding about the Service links to it, and `TrafficDropped`, so
//! the `pod-log-errors` of a controller pod whose log shows those timeouts
//! (such pods are related) links to it: one incident with the policy as
//! its root.

pub mod eval;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::api::networking::v1::{Ingress, IngressServiceBackend};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kpm_model::{Evidence, Finding, LogLine, ObjectRef, Severity};
use kpm_semantics::ObjectExt;

use self::eval::{Isolation, Peer, Target, Verdict};
use crate::command::Kubectl;
use crate::context::{pod_ref, FindingBuilder, IngressController, NamespaceCtx};
use crate::rules::registry::Rule;
use crate::rules::service::backends::{backends, is_external_name, name_list};
use crate::rules::service::ports::{declared_ports, resolve_target_port, PortResolution};

/// Controller log lines quoted as the observed symptom, per file.
const LOG_LINES: usize = 5;

/// Every `netpol-blocks-ingress` finding of the namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    if ctx.ns.network_policies.is_empty() {
        return Vec::new();
    }
    routed_services(ctx)
        .into_iter()
        .filter_map(|(name, routes)| check_service(ctx, &name, &routes))
        .collect()
}

/// One Ingress backend pointing at a Service, with the controllers that
/// serve the Ingress's class.
struct Route<'a> {
    ingress: &'a Ingress,
    backend: &'a IngressServiceBackend,
    controllers: Vec<&'a IngressController>,
}

/// The Services Ingresses of the namespace route to, by name.
fn routed_services<'a>(ctx: &NamespaceCtx<'a>) -> BTreeMap<String, Vec<Route<'a>>> {
    let mut out: BTreeMap<String, Vec<Route<'a>>> = BTreeMap::new();
    for ing in &ctx.ns.ingresses {
        let Some(class) = crate::rules::ingress::class_of(ctx, ing) else {
            continue;
        };
        let controllers: Vec<&IngressController> = ctx
            .cluster
            .ingress_controllers_for_class(&class)
            .into_iter()
            .filter(|c| c.pod.healthy())
            .collect();
        let Some(spec) = ing.spec.as_ref() else {
            continue;
        };
        let paths = spec
            .rules
            .iter()
            .flatten()
            .flat_map(|r| r.http.iter().flat_map(|h| h.paths.iter()))
            .map(|p| &p.backend);
        for b in spec
            .default_backend
            .iter()
            .chain(paths)
            .filter_map(|b| b.service.as_ref())
        {
            out.entry(b.name.clone()).or_default().push(Route {
                ingress: ing,
                backend: b,
                controllers: controllers.clone(),
            });
        }
    }
    out
}

/// A (controller pod, Service pod, port) the policies deny.
struct Denial<'a> {
    controller: &'a IngressController,
    pod: &'a Pod,
    port: i32,
    protocol: String,
    isolations: Vec<Isolation<'a>>,
}

/// What was judged for one Service.
#[derive(Default)]
struct Judged<'a> {
    denied: Vec<Denial<'a>>,
    ingresses: Vec<ObjectRef>,
    /// `ip:port` of the denied pods, as nginx names its upstreams.
    upstream_addrs: Vec<String>,
    /// `<ns>-<service>-<port>`, ingress-nginx's `$proxy_upstream_name`.
    upstream_names: Vec<String>,
    /// Pairs admitted or undecided, said beside the denials (a policy
    /// admitting one controller replica but not the other).
    others: Vec<String>,
    /// Namespace labels looked up so far, by namespace: each lookup scans
    /// every Namespace, and a Service has pods × controllers pairs.
    ns_labels: HashMap<String, Option<&'a BTreeMap<String, String>>>,
}

fn check_service(ctx: &NamespaceCtx<'_>, name: &str, routes: &[Route<'_>]) -> Option<Finding> {
    let svc = ctx.service(name)?;
    if is_external_name(svc) {
        return None;
    }
    let b = backends(ctx, svc);
    if b.ready.is_empty() {
        return None;
    }
    let mut judged = Judged::default();
    for route in routes {
        let Some(sp) = service_port(svc, route.backend) else {
            continue;
        };
        let ing = ObjectRef::namespaced("Ingress", ctx.namespace(), route.ingress.name_any());
        if !judged.ingresses.contains(&ing) {
            judged.ingresses.push(ing);
        }
        // ingress-nginx's upstream name uses the backend port as the
        // Ingress writes it: its name, else its number.
        let written = route
            .backend
            .port
            .as_ref()
            .and_then(|p| p.name.clone().or_else(|| p.number.map(|n| n.to_string())));
        if let Some(port) = written {
            judged
                .upstream_names
                .push(format!("{}-{name}-{port}", ctx.namespace()));
        }
        for pod in &b.ready {
            judge_pod(ctx, pod, sp, &route.controllers, &mut judged);
        }
    }
    if judged.denied.is_empty() {
        return None;
    }
    finding(ctx, svc, &b.ready, judged)
}

/// The Service port an Ingress backend names (by name or number).
fn service_port<'s>(svc: &'s Service, b: &IngressServiceBackend) -> Option<&'s ServicePort> {
    let port = b.port.as_ref()?;
    svc.spec
        .as_ref()?
        .ports
        .iter()
        .flatten()
        .find(|p| match (&port.name, port.number) {
            (Some(n), _) => p.name.as_deref() == Some(n.as_str()),
            (None, Some(n)) => p.port == n,
            (None, None) => false,
        })
}

/// The port number traffic for `sp` reaches on `pod`, as the endpoints
/// controller resolves it; `None` when a named target does not resolve
/// (that is `service-target-port-mismatch`'s finding).
fn pod_port(sp: &ServicePort, pod: &Pod) -> Option<i32> {
    match resolve_target_port(sp, pod) {
        PortResolution::Found(_, n) => Some(n),
        PortResolution::Missing => None,
        PortResolution::NotDeclared | PortResolution::Undeclared => match &sp.target_port {
            Some(IntOrString::Int(n)) => Some(*n),
            Some(IntOrString::String(_)) => None,
            None => Some(sp.port),
        },
    }
}

/// Names of `pod`'s declared container ports `port`/`protocol` (what a
/// named policy port resolves against).
fn port_names(pod: &Pod, port: i32, protocol: &str) -> Vec<String> {
    declared_ports(pod)
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p.container_port == port && p.protocol.as_deref().unwrap_or("TCP") == protocol)
        .filter_map(|p| p.name.clone())
        .collect()
}

/// Labels of namespace `ns` from the collected Namespaces; `None` when it
/// is not among them (a namespace selector then cannot be judged).
fn namespace_labels<'a>(ctx: &NamespaceCtx<'a>, ns: &str) -> Option<&'a BTreeMap<String, String>> {
    static NONE: BTreeMap<String, String> = BTreeMap::new();
    let n = ctx
        .cluster
        .namespaces
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(ns))?;
    Some(n.metadata.labels.as_ref().unwrap_or(&NONE))
}

fn judge_pod<'a>(
    ctx: &NamespaceCtx<'a>,
    pod: &'a Pod,
    sp: &ServicePort,
    controllers: &[&'a IngressController],
    judged: &mut Judged<'a>,
) {
    let Some(port) = pod_port(sp, pod) else {
        return;
    };
    let protocol = sp.protocol.clone().unwrap_or_else(|| "TCP".to_string());
    let names = port_names(pod, port, &protocol);
    let empty = BTreeMap::new();
    let target = Target {
        namespace: ctx.namespace(),
        labels: pod.metadata.labels.as_ref().unwrap_or(&empty),
        port,
        protocol: &protocol,
        port_names: &names,
    };
    if let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()) {
        let addr = format!("{ip}:{port}");
        if !judged.upstream_addrs.contains(&addr) {
            judged.upstream_addrs.push(addr);
        }
    }
    for c in controllers {
        let net = ctx.cluster.infra.pod_network.get(&c.pod.object.to_string());
        // A host-network controller's packets carry the node's address:
        // whether pod selectors apply to it is up to the CNI.
        if net.is_some_and(|n| n.host_network) {
            continue;
        }
        let ns = c.pod.object.namespace.as_deref().unwrap_or_default();
        let peer = Peer {
            namespace: ns,
            labels: &c.pod.labels,
            namespace_labels: *judged
                .ns_labels
                .entry(ns.to_string())
                .or_insert_with(|| namespace_labels(ctx, ns)),
            ip: net.and_then(|n| n.ip),
        };
        let pair = format!(
            "{} → {} ({protocol}/{port})",
            c.pod.object.name,
            pod.name_any()
        );
        let other = match eval::evaluate(&ctx.ns.network_policies, &peer, &target) {
            Verdict::Denied(isolations) => {
                judged.denied.push(Denial {
                    controller: c,
                    pod,
                    port,
                    protocol: protocol.clone(),
                    isolations,
                });
                continue;
            }
            Verdict::NotIsolated => continue,
            Verdict::Allowed { policy, rule } => format!(
                "{pair} is admitted by rule {} of {}",
                rule + 1,
                policy.name_any()
            ),
            Verdict::Unknown { policy, rule, why } => format!(
                "{pair} cannot be judged (rule {} of {}): {why}",
                rule + 1,
                policy.name_any()
            ),
        };
        if !judged.others.contains(&other) {
            judged.others.push(other);
        }
    }
}

/// Why one policy admits nothing of the traffic, as a sentence.
fn isolation_text(iso: &Isolation<'_>) -> String {
    let name = iso.policy.name_any();
    if iso.misses.is_empty() {
        return format!(
            "{name} has no ingress rule (it denies all ingress to the pods it selects)"
        );
    }
    let rules: Vec<String> = iso
        .misses
        .iter()
        .map(|m| {
            let mut why: Vec<String> = m.peers.iter().flatten().cloned().collect();
            why.extend(m.ports.clone());
            format!("rule {} misses: {}", m.rule + 1, why.join(" and "))
        })
        .collect();
    format!("{name}: {}", rules.join("; "))
}

/// Controller log lines showing requests to the Service failing: nginx's
/// `upstream timed out` naming a denied pod, or access lines answering 504
/// for the Service's upstream.
fn observed(ctx: &NamespaceCtx<'_>, judged: &Judged<'_>) -> Vec<Evidence> {
    let mut files: Vec<&String> = judged
        .denied
        .iter()
        .flat_map(|d| d.controller.pod.log_files.iter())
        .collect();
    files.sort();
    files.dedup();
    let mut out = Vec::new();
    for file in files {
        let lines: Vec<LogLine> = ctx.log_grep(file, LOG_LINES, |l| {
            let timeout = l.contains("upstream timed out")
                && judged
                    .upstream_addrs
                    .iter()
                    .any(|a| l.contains(&format!("//{a}")));
            let gateway = l.contains("\" 504 ")
                && judged
                    .upstream_names
                    .iter()
                    .any(|n| l.contains(&format!("[{n}]")));
            timeout || gateway
        });
        if !lines.is_empty() {
            out.push(Evidence::Log {
                file: file.clone(),
                lines,
            });
        }
    }
    out
}

/// The distinct pods, controller pod names and policy names of the
/// denials, in the order met.
struct Named<'a> {
    pods: Vec<&'a Pod>,
    controllers: Vec<String>,
    policies: Vec<String>,
}

fn named<'a>(denied: &[Denial<'a>]) -> Named<'a> {
    let mut n = Named {
        pods: Vec::new(),
        controllers: Vec::new(),
        policies: Vec::new(),
    };
    for d in denied {
        if !n.pods.iter().any(|p| std::ptr::eq(*p, d.pod)) {
            n.pods.push(d.pod);
        }
        let c = d.controller.pod.object.name.clone();
        if !n.controllers.contains(&c) {
            n.controllers.push(c);
        }
        for iso in &d.isolations {
            let p = iso.policy.name_any().to_string();
            if !n.policies.contains(&p) {
                n.policies.push(p);
            }
        }
    }
    n
}

/// The cause sentence: which policies isolate how many pods from which
/// controller pods on which port, why no rule admits them, and the effect
/// (seen in the logs, or conditional on the CNI).
fn cause_text(
    service: &str,
    ready: usize,
    first: &Denial<'_>,
    n: &Named<'_>,
    why: &[String],
    seen: bool,
) -> String {
    let controller_ns = first
        .controller
        .pod
        .object
        .namespace
        .as_deref()
        .unwrap_or_default();
    let effect = if seen {
        "the controller's logs show the requests timing out"
    } else {
        "if your CNI enforces NetworkPolicy, the controller's connections to these pods are dropped and requests time out (504)"
    };
    let one = n.policies.len() == 1;
    format!(
        "NetworkPolic{} {} isolate{} {} of {ready} ready pods of Service {service} for ingress and no ingress rule admits the {} controller pods ({}, namespace {controller_ns}) on {}/{}: {}; {effect}",
        if one { "y" } else { "ies" },
        n.policies.join(", "),
        if one { "s" } else { "" },
        n.pods.len(),
        first.controller.implementation,
        name_list(&n.controllers, 3),
        first.protocol,
        first.port,
        why.join("; "),
    )
}

/// Each policy as a related object with its `spec.podSelector`.
fn with_policies(
    ctx: &NamespaceCtx<'_>,
    mut f: FindingBuilder,
    policies: &[String],
) -> FindingBuilder {
    for p in policies {
        let r = ObjectRef::namespaced("NetworkPolicy", ctx.namespace(), p);
        if let Some(policy) = ctx.ns.network_policies.iter().find(|x| x.name_any() == p) {
            let sel = policy
                .spec
                .as_ref()
                .and_then(|s| s.pod_selector.as_ref())
                .map_or_else(|| "{}".to_string(), eval::selector_text);
            f = f.field(&r, "spec.podSelector", sel);
        }
        f = f.related(r);
    }
    f
}

fn finding(
    ctx: &NamespaceCtx<'_>,
    svc: &Service,
    ready: &[&Pod],
    judged: Judged<'_>,
) -> Option<Finding> {
    let name = svc.name_any();
    let object = ObjectRef::namespaced("Service", ctx.namespace(), name);
    let first = judged.denied.first()?;
    let n = named(&judged.denied);
    let why: Vec<String> = first.isolations.iter().map(isolation_text).collect();
    let logs = observed(ctx, &judged);
    let cause = cause_text(name, ready.len(), first, &n, &why, !logs.is_empty());
    // Controller pods whose own logs show the symptom are related, so
    // their `pod-log-errors` link here (`TrafficDropped`); an error of a
    // controller that shows none is about something else.
    let seen: Vec<&str> = logs
        .iter()
        .filter_map(|e| match e {
            Evidence::Log { file, .. } => Some(file.as_str()),
            _ => None,
        })
        .collect();
    let controllers: Vec<ObjectRef> = judged
        .denied
        .iter()
        .map(|d| &d.controller.pod)
        .filter(|p| p.log_files.iter().any(|f| seen.contains(&f.as_str())))
        .map(|p| p.object.clone())
        .collect();
    let mut f = ctx
        .finding(Rule::NetpolBlocksIngress, object)
        .symptom(format!(
            "endpoints ready ({}), ingress traffic dropped by NetworkPolicy",
            ready.len()
        ))
        .cause(cause);
    if !logs.is_empty() {
        f = f.severity(Severity::Critical).evidence_all(logs);
    }
    f = with_policies(ctx, f, &n.policies);
    for w in why.iter().chain(&judged.others) {
        f = f.note(w.clone());
    }
    let related = n
        .pods
        .iter()
        .map(|p| pod_ref(p))
        .chain(judged.ingresses.iter().cloned())
        .chain(controllers);
    for r in related {
        f = f.related(r);
    }
    f.next_command(
        "Read the policies that select the pods",
        Kubectl::new()
            .namespace(ctx.namespace())
            .args(["get", "networkpolicy", "-o", "yaml"])
            .build(),
    )
    .next_command(
        "See how kubectl reads the isolating policy",
        Kubectl::new()
            .namespace(ctx.namespace())
            .args(["describe", "networkpolicy"])
            .name(n.policies.first().map_or("", String::as_str))
            .build(),
    )
    .build()
    .into()
}
