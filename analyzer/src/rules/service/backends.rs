//! What stands behind a Service: the pods its selector picks, which of them
//! are ready, and why the others are not.
//!
//! Shared by the service rules and the ingress rules (an Ingress backend is
//! only as good as its Service's endpoints). Readiness is judged on the pods
//! themselves — the same facts the EndpointSlice controller uses — so a
//! bundle whose Endpoints are stale or missing is still judged right; the
//! Endpoints / EndpointSlices are read only to corroborate.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Service};
use kpm_model::Evidence;
use kpm_semantics::ObjectExt;
use kpm_semantics::PodExt;

use crate::context::{pod_ref, NamespaceCtx};

/// The pods behind one Service and their readiness.
#[derive(Debug)]
pub struct Backends<'a> {
    /// The Service's selector when it has a non-empty one; `None` means the
    /// endpoints are managed by hand (or by another controller).
    pub selector: Option<&'a BTreeMap<String, String>>,
    /// Pods the selector picks, in bundle order.
    pub selected: Vec<&'a Pod>,
    /// Those that would be ready endpoints.
    pub ready: Vec<&'a Pod>,
    /// What the Endpoints / EndpointSlices of the Service say.
    pub published: Published,
}

/// Ready and not-ready addresses published for a Service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// An Endpoints object or at least one EndpointSlice exists.
    pub present: bool,
    /// Ready addresses (Endpoints `addresses`, or slice endpoints with
    /// `conditions.ready` not false).
    pub ready: usize,
    /// Not-ready addresses (Endpoints `notReadyAddresses`, or slice endpoints
    /// with `conditions.ready: false`).
    pub not_ready: usize,
}

impl Backends<'_> {
    /// Whether traffic sent to the Service can reach at least one pod.
    pub fn has_ready(&self) -> bool {
        match self.selector {
            Some(_) => !self.ready.is_empty(),
            None => self.published.ready > 0,
        }
    }
}

/// `key=value,key=value` as kubectl prints a selector.
pub fn selector_text(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether the Service routes to pods at all: `ExternalName` Services
/// resolve to a DNS name and have no endpoints by design.
pub fn is_external_name(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName")
}

/// Whether a pod would be a ready endpoint: not terminating and condition
/// `Ready=True`. With `publishNotReadyAddresses` any pod with an IP counts.
pub fn pod_is_ready_endpoint(pod: &Pod, publish_not_ready: bool) -> bool {
    if pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let status = pod.status.as_ref();
    if publish_not_ready {
        return status
            .and_then(|s| s.pod_ip.as_ref())
            .is_some_and(|ip| !ip.is_empty());
    }
    pod.is_ready()
}

/// Computes the backends of `svc` from the namespace's pod label index.
pub fn backends<'a>(ctx: &NamespaceCtx<'a>, svc: &'a Service) -> Backends<'a> {
    let spec = svc.spec.as_ref();
    let selector = spec
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty());
    let publish_not_ready = spec
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let selected = selector
        .map(|s| ctx.pods_selected_by(s))
        .unwrap_or_default();
    let ready = selected
        .iter()
        .copied()
        .filter(|p| pod_is_ready_endpoint(p, publish_not_ready))
        .collect();
    let name = svc.name_any();
    Backends {
        selector,
        selected,
        ready,
        published: published(ctx, name),
    }
}

/// Counts the addresses the Endpoints object (or, when there is none, the
/// EndpointSlices) of Service `name` publish.
pub fn published(ctx: &NamespaceCtx<'_>, name: &str) -> Published {
    if let Some(ep) = ctx.endpoints(name) {
        let mut out = Published {
            present: true,
            ..Published::default()
        };
        for subset in ep.subsets.iter().flatten() {
            out.ready += subset.addresses.as_ref().map_or(0, Vec::len);
            out.not_ready += subset.not_ready_addresses.as_ref().map_or(0, Vec::len);
        }
        return out;
    }
    let slices = ctx.endpoint_slices(name);
    let mut out = Published {
        present: !slices.is_empty(),
        ..Published::default()
    };
    for ep in slices.iter().flat_map(|s| s.endpoints.iter()) {
        // The API documents a nil `ready` as "unknown, treat as ready".
        if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
            out.not_ready += 1;
        } else {
            out.ready += 1;
        }
    }
    out
}

/// Why one pod is not a ready endpoint, grouped with the pods that share
/// the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct NotReadyGroup {
    /// e.g. ``readiness probe failing: `Readiness probe failed: HTTP probe
    /// failed with statuscode: 503` (42 times)`` or `not running: STATUS
    /// CrashLoopBackOff`.
    pub reason: String,
    /// Readiness probe failures summed over the group's pods (from the
    /// `Unhealthy` events), when the reason is a failing probe.
    pub probe_failures: Option<u64>,
    /// Pod names sharing it.
    pub pods: Vec<String>,
}

/// Explains, per group of pods, why the selected pods are not ready:
/// the pod STATUS when it is not running, else the last readiness probe
/// failure quoted from the `Unhealthy` events. Evidence (events, status
/// fields) is appended to `evidence`, at most a few items per group.
pub fn explain_not_ready(
    ctx: &NamespaceCtx<'_>,
    pods: &[&Pod],
    evidence: &mut Vec<Evidence>,
) -> Vec<NotReadyGroup> {
    let mut groups: Vec<NotReadyGroup> = Vec::new();
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let (reason, failures, ev) = not_ready_reason(ctx, pod);
        match groups.iter_mut().find(|g| g.reason == reason) {
            Some(g) => {
                g.pods.push(name);
                if let (Some(total), Some(n)) = (g.probe_failures.as_mut(), failures) {
                    *total += n;
                }
            }
            None => {
                evidence.extend(ev);
                groups.push(NotReadyGroup {
                    reason,
                    probe_failures: failures,
                    pods: vec![name],
                });
            }
        }
    }
    groups
}

fn not_ready_reason(ctx: &NamespaceCtx<'_>, pod: &Pod) -> (String, Option<u64>, Vec<Evidence>) {
    let name = pod.name_any();
    let row = kpm_semantics::pod_status::pod_row(pod, ctx.now);
    if pod.metadata.deletion_timestamp.is_some() {
        return (format!("{} (being deleted)", row.status), None, Vec::new());
    }
    let running = row.status == "Running";
    if !running {
        let field = Evidence::Field {
            object: pod_ref(pod),
            path: "STATUS".to_string(),
            value: format!(
                "{} (ready {}, restarts {})",
                row.status, row.ready, row.restarts
            ),
        };
        return (
            format!("not running: STATUS {}", row.status),
            None,
            vec![field],
        );
    }
    let unhealthy: Vec<_> = ctx
        .pod_events_with_reason(name, "Unhealthy")
        .into_iter()
        .filter(|e| e.message.starts_with("Readiness probe"))
        .collect();
    if let Some(last) = unhealthy.last() {
        let total: u64 = unhealthy.iter().map(|e| e.count).sum();
        return (
            format!("readiness probe failing: `{}`", last.message.trim()),
            Some(total),
            vec![last.to_evidence()],
        );
    }
    (
        format!(
            "Running but not Ready (READY {}) without readiness probe events",
            row.ready
        ),
        None,
        vec![Evidence::Field {
            object: pod_ref(pod),
            path: "status.conditions[Ready].status".to_string(),
            value: "False".to_string(),
        }],
    )
}

/// `a, b, c and 4 more` — keeps causes readable at scale.
pub fn name_list(names: &[String], max: usize) -> String {
    if names.len() <= max {
        return names.join(", ");
    }
    let shown = names
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    format!("{shown} and {} more", names.len() - max)
}

/// One sentence fragment per group: ``web-1, web-2: readiness probe
/// failing: `...` (42 times)``.
pub fn describe_groups(groups: &[NotReadyGroup]) -> String {
    groups
        .iter()
        .map(|g| {
            let times = match g.probe_failures {
                Some(1) => " (once)".to_string(),
                Some(n) => format!(" ({n} times)"),
                None => String::new(),
            };
            format!("{}: {}{times}", name_list(&g.pods, 3), g.reason)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
