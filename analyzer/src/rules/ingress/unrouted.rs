//! Ingress 404s: requests no rule routes, and a default backend that is
//! not there.
//!
//! - `ingress-default-backend-missing`: an ingress controller's
//!   `--default-backend-service=<ns>/<name>` names a Service that does not
//!   exist or has no ready endpoint (a Service named by an Ingress's own
//!   `spec.defaultBackend` is judged by the backend rules in `mod.rs`).
//! - `ingress-request-unrouted`: the access logs of a class's ingress-nginx
//!   controllers show many requests proxied to `upstream-default-backend`
//!   (no rule matched), compared against every Ingress of the class.
//!
//! The Ingresses of every namespace are needed to explain a request, so
//! [`routing`] keeps each namespace's rules during the namespace pass (as
//! the engine keeps pending pods) and [`run_cluster`] judges the logs after.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::Ingress;
use kpm_model::{Evidence, Finding, LogLine, ObjectRef};
use kpm_semantics::ObjectExt;

use super::access_log::{self, Access};
use crate::command::Kubectl;
use crate::context::{ClusterCtx, IngressController, NamespaceCtx};
use crate::rules::registry::Rule;

/// Access-log lines read per log file at most.
const MAX_LINES: usize = 200_000;
/// Unrouted requests of one host or first path element before it is a
/// finding: a handful of scanner probes is not.
const MIN_REQUESTS: usize = 10;
/// ...and their share of every logged request of the class, in percent.
const MIN_SHARE_PERCENT: usize = 10;
/// Log lines quoted per finding.
const QUOTED: usize = 3;

/// One path of an Ingress rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePath {
    /// `spec.rules[].host` (empty: every host).
    pub host: String,
    /// `path` (`/` when absent).
    pub path: String,
    /// `pathType`.
    pub path_type: String,
}

/// What the access-log rule needs of one Ingress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressRouting {
    /// The Ingress.
    pub ingress: ObjectRef,
    /// Its class (spec, annotation or the default class).
    pub class: Option<String>,
    /// Its rules' paths.
    pub paths: Vec<RoutePath>,
}

/// The routing of the namespace's Ingresses, kept for [`run_cluster`].
pub fn routing(ctx: &NamespaceCtx<'_>) -> Vec<IngressRouting> {
    ctx.ns
        .ingresses
        .iter()
        .map(|ing| IngressRouting {
            ingress: ctx.object("Ingress", ing.name_any()),
            class: super::class_of(ctx, ing),
            paths: paths_of(ing),
        })
        .collect()
}

fn paths_of(ing: &Ingress) -> Vec<RoutePath> {
    let rules = ing.spec.as_ref().and_then(|s| s.rules.as_ref());
    let mut out = Vec::new();
    for rule in rules.into_iter().flatten() {
        let host = rule.host.clone().unwrap_or_default();
        for p in rule.http.iter().flat_map(|h| h.paths.iter()) {
            out.push(RoutePath {
                host: host.clone(),
                path: p.path.clone().unwrap_or_else(|| "/".to_string()),
                path_type: p.path_type.clone(),
            });
        }
    }
    out
}

/// `ingress-default-backend-missing` for the controllers whose
/// `--default-backend-service` is in this namespace.
pub fn default_backend(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut by_service: BTreeMap<String, Vec<&IngressController>> = BTreeMap::new();
    for c in &ctx.cluster.infra.ingress_controllers {
        let Some(value) = c.pod.flag("default-backend-service") else {
            continue;
        };
        let pod_ns = c.pod.object.namespace.as_deref().unwrap_or_default();
        let value = value.replace("$(POD_NAMESPACE)", pod_ns);
        if let Some((ns, name)) = value.split_once('/') {
            if ns == ctx.namespace() && !name.is_empty() {
                by_service.entry(name.to_string()).or_default().push(c);
            }
        }
    }
    by_service
        .into_iter()
        .filter_map(|(name, mut pods)| {
            // The first by name, whatever order the pods were listed in.
            pods.sort_by(|a, b| a.pod.object.name.cmp(&b.pod.object.name));
            default_backend_finding(ctx, &name, &pods)
        })
        .collect()
}

fn default_backend_finding(
    ctx: &NamespaceCtx<'_>,
    name: &str,
    pods: &[&IngressController],
) -> Option<Finding> {
    let ns = ctx.namespace();
    let problem = match ctx.service(name) {
        None => format!("Service {name} does not exist in namespace {ns}"),
        Some(svc) => format!(
            "Service {name} has no ready endpoints ({})",
            super::why_no_endpoints(ctx, svc)?
        ),
    };
    let first = pods.first()?;
    let flag = format!("--default-backend-service={ns}/{name}");
    let mut f = ctx
        .finding(Rule::IngressDefaultBackendMissing, first.pod.object.clone())
        .symptom(format!(
            "ingress controller's default backend {ns}/{name} is missing (unmatched requests get the built-in 404)"
        ))
        .cause(format!(
            "The ingress controller runs with {flag}, but {problem}: requests that match no Ingress rule get the controller's built-in 404 (127.0.0.1:8181) instead of that backend."
        ))
        .field(&first.pod.object, "spec.containers[].args", flag)
        .related(ctx.object("Service", name));
    for c in pods.iter().skip(1) {
        f = f.related(c.pod.object.clone());
    }
    Some(
        f.next_command(
            "Look for the default backend Service",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "services", "-o", "wide"])
                .build(),
        )
        .next_command(
            "See the controller's flags",
            Kubectl::new()
                .namespace(first.pod.object.namespace.as_deref().unwrap_or_default())
                .args(["describe", "pod"])
                .name(&first.pod.object.name)
                .build(),
        )
        .build(),
    )
}

/// `ingress-request-unrouted` over every class with controller logs.
pub fn run_cluster(ctx: &ClusterCtx<'_>) -> Vec<Finding> {
    let mut classes: Vec<String> = ctx
        .cluster
        .ingress_routing
        .iter()
        .filter_map(|r| r.class.clone())
        .collect();
    classes.sort();
    classes.dedup();
    classes
        .iter()
        .filter_map(|class| unrouted(ctx, class))
        .collect()
}

/// The unrouted requests of one group (a host, or a first path element).
#[derive(Default)]
struct Group {
    count: usize,
    paths: BTreeMap<String, usize>,
    lines: Vec<(String, LogLine)>,
}

/// What the access logs of a class hold.
#[derive(Default)]
struct Traffic {
    total: usize,
    groups: BTreeMap<(Option<String>, String), Group>,
}

fn read_traffic(ctx: &ClusterCtx<'_>, pods: &[&IngressController]) -> Traffic {
    let mut t = Traffic::default();
    for c in pods {
        for file in &c.pod.log_files {
            let lines = ctx.log_grep(file, MAX_LINES, |l| l.contains("] ["));
            for line in lines {
                let Some(access) = access_log::parse(&line.text) else {
                    continue;
                };
                t.total += 1;
                if access.upstream == access_log::DEFAULT_BACKEND_UPSTREAM {
                    add(&mut t, access, file, line);
                }
            }
        }
    }
    t
}

fn add(t: &mut Traffic, access: Access, file: &str, line: LogLine) {
    // A host is one group whatever its paths; without a host, requests are
    // grouped by their first path element so scanner probes stay apart.
    let element = match access.host {
        Some(_) => String::new(),
        None => first_element(&access.path),
    };
    let key = (access.host.clone(), element);
    let g = t.groups.entry(key).or_default();
    g.count += 1;
    *g.paths.entry(access.path).or_default() += 1;
    if g.lines.len() < QUOTED {
        g.lines.push((file.to_string(), line));
    }
}

/// `/api/v2/orders` → `/api`; `/` → `/`.
fn first_element(path: &str) -> String {
    match path.trim_start_matches('/').split('/').next() {
        Some(e) if !e.is_empty() => format!("/{e}"),
        _ => "/".to_string(),
    }
}

fn unrouted(ctx: &ClusterCtx<'_>, class: &str) -> Option<Finding> {
    let pods = ctx.cluster.ingress_controllers_for_class(class);
    if pods.is_empty() {
        return None;
    }
    let traffic = read_traffic(ctx, &pods);
    let routes: Vec<&IngressRouting> = ctx
        .cluster
        .ingress_routing
        .iter()
        .filter(|r| r.class.as_deref() == Some(class))
        .collect();
    let mut significant: Vec<(&(Option<String>, String), &Group)> = traffic
        .groups
        .iter()
        .filter(|(_, g)| {
            g.count >= MIN_REQUESTS && g.count * 100 >= traffic.total * MIN_SHARE_PERCENT
        })
        .collect();
    significant.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    let ((host, element), top) = *significant.first()?;
    let explanation = explain(host.as_deref(), element, top, &routes);
    let count: usize = significant.iter().map(|(_, g)| g.count).sum();
    let object = ObjectRef::cluster("IngressClass", class);
    let mut f = ctx
        .finding(Rule::IngressRequestUnrouted, object)
        .symptom(format!(
            "{count} of {} requests through class {class} matched no Ingress rule (404 from the default backend)",
            traffic.total
        ))
        .cause(explanation);
    for (file, line) in &top.lines {
        f = f.evidence(Evidence::Log {
            file: file.clone(),
            lines: vec![line.clone()],
        });
    }
    for r in &routes {
        f = f.related(r.ingress.clone());
    }
    for c in &pods {
        f = f.related(c.pod.object.clone());
    }
    let first = pods.first()?;
    Some(
        f.next_command(
            "List the Ingresses and their hosts",
            Kubectl::new()
                .args(["get", "ingress", "-A", "-o", "wide"])
                .build(),
        )
        .next_command(
            "Read the controller's access log",
            Kubectl::new()
                .namespace(first.pod.object.namespace.as_deref().unwrap_or_default())
                .args(["logs"])
                .name(&first.pod.object.name)
                .args(["--tail=200"])
                .build(),
        )
        .build(),
    )
}

/// The paths of a group, most requested first: `/api/v2/orders (41)`.
fn top_paths(g: &Group) -> String {
    let mut paths: Vec<(&String, &usize)> = g.paths.iter().collect();
    paths.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = paths
        .iter()
        .take(3)
        .map(|(p, n)| format!("{p} ({n})"))
        .collect();
    shown.join(", ")
}

/// `shop.example.com Prefix /, api.example.com Exact /v1`.
fn rule_list(paths: &[&RoutePath]) -> String {
    let shown: Vec<String> = paths
        .iter()
        .take(6)
        .map(|p| {
            let host = if p.host.is_empty() { "*" } else { &p.host };
            format!("{host} {} {}", p.path_type, p.path)
        })
        .collect();
    let more = paths.len().saturating_sub(6);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Why the group's requests matched no rule, against the class's rules.
fn explain(host: Option<&str>, element: &str, g: &Group, routes: &[&IngressRouting]) -> String {
    let all: Vec<&RoutePath> = routes.iter().flat_map(|r| r.paths.iter()).collect();
    let count = g.count;
    let paths = top_paths(g);
    if all.is_empty() {
        return format!(
            "{count} requests ({paths}) went to the default backend: no Ingress of the class has a rule."
        );
    }
    match host {
        Some(host) => {
            let for_host: Vec<&RoutePath> = all
                .iter()
                .copied()
                .filter(|p| access_log::host_matches(&p.host, host))
                .collect();
            if for_host.is_empty() {
                let mut hosts: Vec<&str> = all.iter().map(|p| p.host.as_str()).collect();
                hosts.sort_unstable();
                hosts.dedup();
                format!(
                    "Host {host} has no rule ({count} requests: {paths}); rules exist for {}.",
                    hosts.join(", ")
                )
            } else {
                let top = g
                    .paths
                    .iter()
                    .max_by_key(|(_, n)| **n)
                    .map(|(p, _)| p.as_str());
                let element = first_element(top.unwrap_or("/"));
                format!(
                    "Path {element} of host {host} matches none of its paths ({count} requests: {paths}); the host's rules are {}.",
                    rule_list(&for_host)
                )
            }
        }
        None => {
            let sample = g.paths.keys().next().map_or(element, String::as_str);
            let matching: Vec<&RoutePath> = all
                .iter()
                .copied()
                .filter(|p| access_log::path_matches(&p.path, &p.path_type, sample))
                .collect();
            if matching.is_empty() {
                format!(
                    "Path {element} matches no path of any rule of the class ({count} requests: {paths}); the rules are {}.",
                    rule_list(&all)
                )
            } else {
                format!(
                    "{count} requests for {paths} matched no rule, although {} routes that path: they named a host no rule has (the access-log format does not record the Host header).",
                    rule_list(&matching)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests;
