//! Ingress layer: does each Ingress route to a Service port with ready
//! endpoints, through a live controller, with its TLS Secrets present?
//!
//! - `ingress-backend-service-missing`: a backend names a Service that does
//!   not exist in the namespace.
//! - `ingress-backend-port-missing`: the backend port (number or name) is not
//!   a port of the Service.
//! - `ingress-backend-no-endpoints`: the backend Service has no ready
//!   endpoint (related to the Service so the engine links it to the
//!   Service's own finding).
//! - `ingress-controller-down`: no running, ready controller pod serves the
//!   Ingress's class.
//! - `ingress-tls-secret-missing`: a `tls[].secretName` Secret does not exist.
//!
//! One finding per Ingress and rule, listing every broken backend, so an
//! Ingress with ten paths to a dead Service is one line in the report.

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressServiceBackend};
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::ObjectExt;

use crate::command::{Kubectl, Name};
use crate::context::{FindingBuilder, IngressController, NamespaceCtx};
use crate::rules::registry::Rule;
use crate::rules::service::backends::{backends, explain_not_ready, is_external_name, name_list};

/// Annotation older Ingresses use instead of `spec.ingressClassName`.
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// IngressClass `spec.controller` values of controllers that run as pods in
/// the cluster (so their absence is visible in a bundle). Cloud-managed
/// controllers (GCE, ALB...) run outside and are never judged down.
const IN_CLUSTER_CONTROLLERS: &[&str] = &[
    "k8s.io/ingress-nginx",
    "traefik.io/ingress-controller",
    "haproxy.org/ingress-controller/haproxy",
    "ingress-controllers.konghq.com/kong",
    "projectcontour.io/ingress-controller",
];

/// Runs the ingress rules over one namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for ing in &ctx.ns.ingresses {
        out.extend(check_backends(ctx, ing));
        out.extend(check_tls(ctx, ing));
        out.extend(check_controller(ctx, ing));
    }
    out
}

/// One routed backend: where it is routed from and the Service it names.
struct Route<'a> {
    /// `shop.example.com/api` or `default backend`.
    from: String,
    /// JSON-path-like location in the Ingress.
    path: String,
    backend: &'a IngressServiceBackend,
}

fn routes(ing: &Ingress) -> Vec<Route<'_>> {
    let mut out = Vec::new();
    let Some(spec) = ing.spec.as_ref() else {
        return out;
    };
    if let Some(b) = spec.default_backend.as_ref().and_then(service_of) {
        out.push(Route {
            from: "default backend".to_string(),
            path: "spec.defaultBackend.service".to_string(),
            backend: b,
        });
    }
    for (i, rule) in spec.rules.iter().flatten().enumerate() {
        let host = rule.host.as_deref().unwrap_or("*");
        for (j, p) in rule.http.iter().flat_map(|h| h.paths.iter()).enumerate() {
            if let Some(b) = service_of(&p.backend) {
                out.push(Route {
                    from: format!("{host}{}", p.path.as_deref().unwrap_or("/")),
                    path: format!("spec.rules[{i}].http.paths[{j}].backend.service"),
                    backend: b,
                });
            }
        }
    }
    out
}

/// Removes repeated items, keeping the first occurrence's position.
fn dedup_keep_order<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut seen: Vec<T> = Vec::with_capacity(items.len());
    items.retain(|x| {
        if seen.contains(x) {
            false
        } else {
            seen.push(x.clone());
            true
        }
    });
}

fn service_of(b: &IngressBackend) -> Option<&IngressServiceBackend> {
    b.service.as_ref()
}

fn port_text(b: &IngressServiceBackend) -> String {
    match b.port.as_ref() {
        Some(p) => match (&p.name, p.number) {
            (Some(name), _) => format!("port {name}"),
            (None, Some(n)) => format!("port {n}"),
            (None, None) => "no port".to_string(),
        },
        None => "no port".to_string(),
    }
}

/// An Ingress's routes sorted by what is wrong with their backend.
#[derive(Default)]
struct Verdicts<'r, 'a> {
    /// Routes to a Service that does not exist.
    missing_svc: Vec<&'r Route<'a>>,
    /// Routes to a port the Service lacks, with the ports it has.
    missing_port: Vec<(&'r Route<'a>, String)>,
    /// Routes to a Service without ready endpoints, with why.
    no_endpoints: Vec<(&'r Route<'a>, String)>,
}

fn check_backends(ctx: &NamespaceCtx<'_>, ing: &Ingress) -> Vec<Finding> {
    let all = routes(ing);
    let v = judge_routes(ctx, &all);
    let mut out = Vec::new();
    out.extend(service_missing(ctx, ing, &v.missing_svc));
    out.extend(port_missing(ctx, ing, &v.missing_port));
    out.extend(no_endpoints(ctx, ing, &v.no_endpoints));
    out
}

/// Sorts the routes into the three broken-backend lists; routes to a
/// healthy Service or an ExternalName Service are in none.
fn judge_routes<'r, 'a>(ctx: &NamespaceCtx<'_>, all: &'r [Route<'a>]) -> Verdicts<'r, 'a> {
    let mut v = Verdicts::default();
    // Judge each Service once even when many paths route to it.
    let mut judged: std::collections::HashMap<&str, Option<String>> =
        std::collections::HashMap::new();
    for route in all {
        let svc_name = route.backend.name.as_str();
        let Some(svc) = ctx.service(svc_name) else {
            v.missing_svc.push(route);
            continue;
        };
        let ports = svc
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_deref())
            .unwrap_or(&[]);
        // ExternalName Services have no ports to check and no endpoints.
        if is_external_name(svc) {
            continue;
        }
        if !port_exists(route.backend, ports) {
            v.missing_port.push((route, ports_text(ports)));
            continue;
        }
        let verdict = judged
            .entry(svc_name)
            .or_insert_with(|| why_no_endpoints(ctx, svc));
        if let Some(why) = verdict.clone() {
            v.no_endpoints.push((route, why));
        }
    }
    v
}

/// Whether the backend's port (by name or number) is one of the Service's.
fn port_exists(backend: &IngressServiceBackend, ports: &[ServicePort]) -> bool {
    match backend.port.as_ref() {
        Some(p) => match (&p.name, p.number) {
            (Some(n), _) => ports
                .iter()
                .any(|sp| sp.name.as_deref() == Some(n.as_str())),
            (None, Some(num)) => ports.iter().any(|sp| sp.port == num),
            (None, None) => false,
        },
        None => false,
    }
}

/// The Service's ports as `80 (http), 443`, or `no ports`.
fn ports_text(ports: &[ServicePort]) -> String {
    let have: Vec<String> = ports
        .iter()
        .map(|sp| match &sp.name {
            Some(n) if !n.is_empty() => format!("{} ({n})", sp.port),
            _ => sp.port.to_string(),
        })
        .collect();
    if have.is_empty() {
        "no ports".to_string()
    } else {
        have.join(", ")
    }
}

/// Why the Service has no ready endpoint, or `None` when it has one.
fn why_no_endpoints(ctx: &NamespaceCtx<'_>, svc: &Service) -> Option<String> {
    let b = backends(ctx, svc);
    if b.has_ready() {
        None
    } else if b.selector.is_some() && b.selected.is_empty() {
        Some("its selector matches no pod".to_string())
    } else {
        let mut scratch = Vec::new();
        let groups = explain_not_ready(ctx, &b.selected, &mut scratch);
        let reasons: Vec<String> = groups.iter().map(|g| g.reason.clone()).collect();
        Some(format!(
            "0 of its {} selected pods are ready: {}",
            b.selected.len(),
            reasons.join("; ")
        ))
    }
}

/// `ingress-backend-service-missing` over the routes to missing Services.
fn service_missing(
    ctx: &NamespaceCtx<'_>,
    ing: &Ingress,
    missing_svc: &[&Route<'_>],
) -> Option<Finding> {
    if missing_svc.is_empty() {
        return None;
    }
    let name = ing.name_any();
    let ns = ctx.namespace();
    let ing_ref = ctx.object("Ingress", name);
    let mut names: Vec<String> = missing_svc.iter().map(|r| r.backend.name.clone()).collect();
    dedup_keep_order(&mut names);
    let froms: Vec<String> = missing_svc.iter().map(|r| r.from.clone()).collect();
    let mut f = ctx
        .finding(Rule::IngressBackendServiceMissing, ing_ref.clone())
        .symptom(format!(
            "Ingress {name} routes to missing Service {} (503 from the controller)",
            names.join(", ")
        ))
        .cause(format!(
            "Ingress {name} routes {} to Service {}, which does not exist in namespace {ns}.",
            name_list(&froms, 3),
            names.join(", ")
        ));
    for r in missing_svc {
        f = f.field(&ing_ref, format!("{}.name", r.path), r.backend.name.clone());
    }
    for n in &names {
        f = f.related(ctx.object("Service", n));
    }
    Some(
        f.next_command(
            "List the Services that do exist",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "services"])
                .build(),
        )
        .next_command("See the Ingress routes", describe_ingress(ns, name))
        .build(),
    )
}

/// `ingress-backend-port-missing` over the routes to absent Service ports.
fn port_missing(
    ctx: &NamespaceCtx<'_>,
    ing: &Ingress,
    missing_port: &[(&Route<'_>, String)],
) -> Option<Finding> {
    if missing_port.is_empty() {
        return None;
    }
    let name = ing.name_any();
    let ns = ctx.namespace();
    let ing_ref = ctx.object("Ingress", name);
    let parts: Vec<String> = missing_port
        .iter()
        .map(|(r, have)| {
            format!(
                "{} of Service {} (which exposes {have})",
                port_text(r.backend),
                r.backend.name
            )
        })
        .collect();
    let mut f = ctx
        .finding(Rule::IngressBackendPortMissing, ing_ref.clone())
        .symptom(format!(
            "Ingress {name} backend port not found on its Service"
        ))
        .cause(format!("Ingress {name} routes to {}.", parts.join("; ")));
    for (r, _) in missing_port {
        f = f
            .field(&ing_ref, format!("{}.port", r.path), port_text(r.backend))
            .related(ctx.object("Service", &r.backend.name));
    }
    let first = missing_port
        .first()
        .map(|(r, _)| r.backend.name.clone())
        .unwrap_or_default();
    Some(
        f.next_command(
            "See the Service's ports",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "service"])
                .value(Name::Label, &first)
                .args(["-o", "jsonpath={.spec.ports}"])
                .build(),
        )
        .next_command("See the Ingress routes", describe_ingress(ns, name))
        .build(),
    )
}

/// `ingress-backend-no-endpoints` over the routes to Services without a
/// ready endpoint.
fn no_endpoints(
    ctx: &NamespaceCtx<'_>,
    ing: &Ingress,
    no_endpoints: &[(&Route<'_>, String)],
) -> Option<Finding> {
    if no_endpoints.is_empty() {
        return None;
    }
    let name = ing.name_any();
    let ns = ctx.namespace();
    let ing_ref = ctx.object("Ingress", name);
    let mut services: Vec<(String, String)> = no_endpoints
        .iter()
        .map(|(r, why)| (r.backend.name.clone(), why.clone()))
        .collect();
    dedup_keep_order(&mut services);
    let parts: Vec<String> = services
        .iter()
        .map(|(s, why)| format!("Service {s}, which has no ready endpoints ({why})"))
        .collect();
    let mut f = ctx
        .finding(Rule::IngressBackendNoEndpoints, ing_ref.clone())
        .symptom(format!(
            "Ingress {name} backend has no ready endpoints (503 Service Unavailable)"
        ))
        .cause(format!("Ingress {name} routes to {}.", parts.join("; ")));
    for (r, _) in no_endpoints {
        f = f.field(&ing_ref, format!("{}.name", r.path), r.backend.name.clone());
    }
    for (s, _) in &services {
        f = f.related(ctx.object("Service", s)).next_command(
            "See the Service's endpoints",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "endpointslices", "-l"])
                .with("kubernetes.io/service-name=", Name::Label, s, "")
                .build(),
        );
    }
    Some(f.build())
}

fn check_tls(ctx: &NamespaceCtx<'_>, ing: &Ingress) -> Option<Finding> {
    // Without the Secrets list nothing can be said; the engine reports the gap.
    if ctx.ns.unavailable("secrets").is_some() {
        return None;
    }
    let name = ing.name_any();
    let ns = ctx.namespace();
    let tls = ing.spec.as_ref().and_then(|s| s.tls.as_ref())?;
    let missing: Vec<(usize, &str, String)> = tls
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let secret = t.secret_name.as_deref().filter(|s| !s.is_empty())?;
            let hosts = t.hosts.as_ref().map(|h| h.join(", ")).unwrap_or_default();
            ctx.secret(secret).is_none().then_some((i, secret, hosts))
        })
        .collect();
    let (_, first, _) = missing.first()?;
    let ing_ref = ctx.object("Ingress", name);
    let parts: Vec<String> = missing
        .iter()
        .map(|(_, s, hosts)| {
            if hosts.is_empty() {
                format!("Secret {s}")
            } else {
                format!("Secret {s} (hosts {hosts})")
            }
        })
        .collect();
    let mut f = ctx
        .finding(Rule::IngressTlsSecretMissing, ing_ref.clone())
        .symptom(format!("Ingress {name} TLS Secret {first} not found (controller serves its default certificate)"))
        .cause(format!(
            "Ingress {name} terminates TLS with {}, which does not exist in namespace {ns}.",
            parts.join(" and ")
        ));
    for (i, s, _) in &missing {
        f = f
            .field(
                &ing_ref,
                format!("spec.tls[{i}].secretName"),
                (*s).to_string(),
            )
            .related(ctx.object("Secret", s));
    }
    Some(
        f.next_command(
            "Check whether the Secret exists",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "secret"])
                .name(first)
                .build(),
        )
        .next_command(
            "If cert-manager issues it, see the Certificate",
            Kubectl::new()
                .namespace(ns)
                .args(["describe", "certificate"])
                .name(first)
                .build(),
        )
        .build(),
    )
}

/// The IngressClass name an Ingress uses: `spec.ingressClassName`, the
/// legacy annotation, or the cluster's default class.
pub(crate) fn class_of(ctx: &NamespaceCtx<'_>, ing: &Ingress) -> Option<String> {
    ing.spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.clone())
        .or_else(|| {
            ing.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(CLASS_ANNOTATION).cloned())
        })
        .or_else(|| {
            ctx.cluster
                .default_ingress_class()
                .and_then(|c| c.metadata.name.clone())
        })
}

fn describe_controller(c: &IngressController) -> String {
    let state = match (c.pod.running, c.pod.ready) {
        (true, true) => "running and ready".to_string(),
        (true, false) => "running but not ready".to_string(),
        // Phase stays Running while a container crash-loops.
        (false, _) if c.pod.phase == "Running" => {
            "not ready, containers not running (restarting)".to_string()
        }
        (false, _) => format!("not running (phase {})", c.pod.phase),
    };
    format!("{} {state}", c.pod.object.name)
}

fn check_controller(ctx: &NamespaceCtx<'_>, ing: &Ingress) -> Option<Finding> {
    let name = ing.name_any();
    let class = class_of(ctx, ing)?;
    let controller = ctx
        .cluster
        .ingress_class(&class)
        .and_then(|c| c.spec.as_ref())
        .and_then(|s| s.controller.clone());
    let pods = ctx.cluster.ingress_controllers_for_class(&class);
    if pods.iter().any(|c| c.pod.healthy()) {
        return None;
    }
    let ing_ref = ctx.object("Ingress", name);
    let cause = controller_down_cause(ctx, name, &class, controller.as_deref(), &pods)?;
    let mut f = ctx
        .finding(Rule::IngressControllerDown, ing_ref.clone())
        .symptom(format!(
            "Ingress {name}: no ready {class} ingress controller"
        ))
        .cause(cause)
        .field(&ing_ref, "spec.ingressClassName", class.clone());
    if let Some(c) = &controller {
        f = f.field(
            &ObjectRef::cluster("IngressClass", &class),
            "spec.controller",
            c.clone(),
        );
    }
    for c in &pods {
        f = f.related(c.pod.object.clone());
    }
    Some(controller_commands(f, pods.first().copied()).build())
}

/// Why no controller serves the class, or `None` when the bundle cannot
/// tell (no controller pod for a class whose controller may run outside the
/// cluster, or namespaces not all collected).
fn controller_down_cause(
    ctx: &NamespaceCtx<'_>,
    name: &str,
    class: &str,
    controller: Option<&str>,
    pods: &[&IngressController],
) -> Option<String> {
    let controller_text = controller.map_or_else(|| format!("class {class}"), str::to_string);
    if pods.is_empty() {
        // Absence proves something only for controllers that run as pods,
        // and only when every namespace was collected — kube-system's pods
        // included, which every real cluster has: a bundle without them did
        // not see the system namespaces (forbidden, or synthetic).
        let in_cluster = controller.is_some_and(|c| IN_CLUSTER_CONTROLLERS.contains(&c));
        let full = ctx.bundle.manifest().scope.all_namespaces
            && ctx
                .bundle
                .contains(&kpm_bundle::layout::namespaced_path("kube-system", "pods"));
        if !in_cluster || !full {
            return None;
        }
        Some(format!(
            "Ingress {name} uses IngressClass {class} ({controller_text}) but no controller pod for it runs in any namespace."
        ))
    } else {
        let states: Vec<String> = pods.iter().map(|c| describe_controller(c)).collect();
        Some(format!(
            "Ingress {name} uses IngressClass {class} ({controller_text}) but none of its {} controller pods is running and ready: {}.",
            pods.len(),
            name_list(&states, 3)
        ))
    }
}

/// The next steps: look at the first controller pod, or search the cluster
/// for one when there is none.
fn controller_commands(f: FindingBuilder, first: Option<&IngressController>) -> FindingBuilder {
    match first {
        Some(c) => {
            let pns = c.pod.object.namespace.clone().unwrap_or_default();
            f.next_command(
                "See why the controller is down",
                Kubectl::new()
                    .namespace(&pns)
                    .args(["describe", "pod"])
                    .name(&c.pod.object.name)
                    .build(),
            )
            .next_command(
                "Read the controller's log",
                Kubectl::new()
                    .namespace(&pns)
                    .args(["logs"])
                    .name(&c.pod.object.name)
                    .args(["--previous"])
                    .build(),
            )
        }
        None => f.next_command(
            "Look for the controller anywhere in the cluster",
            Kubectl::new()
                .args([
                    "get",
                    "pods",
                    "-A",
                    "-l",
                    "app.kubernetes.io/component=controller",
                ])
                .build(),
        ),
    }
}

/// `kubectl -n NS describe ingress NAME`: every Ingress finding's way to
/// see the routes as the controller reads them.
fn describe_ingress(ns: &str, name: &str) -> Option<String> {
    Kubectl::new()
        .namespace(ns)
        .args(["describe", "ingress"])
        .name(name)
        .build()
}

#[cfg(test)]
mod tests;
