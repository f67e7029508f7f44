//! `service-target-port-mismatch`: does each Service `targetPort` (number or
//! name) land on a port the selected pods' containers declare?
//!
//! A named targetPort that no container declares is definitely broken: the
//! EndpointSlice controller cannot resolve it and publishes no port for those
//! pods. A numeric one is valid Kubernetes whether declared or not — traffic
//! goes to the number, and `containerPort` is informational — so a numeric
//! target the pods do not declare is only an `info` remark ("check the app
//! listens there"), never a claim that traffic is lost.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kpm_model::{Finding, Severity};
use kpm_semantics::ObjectExt;

use super::backends::{name_list, Backends};
use crate::command::{Kubectl, Name};
use crate::context::{pod_ref, NamespaceCtx};
use crate::rules::registry::Rule;

/// How a targetPort resolves against one pod's containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortResolution {
    /// A container declares it: `(container, containerPort)`.
    Found(String, i32),
    /// A named target that no container port carries (with the Service
    /// port's protocol): the endpoints controller cannot resolve it.
    Missing,
    /// A numeric target the containers do not declare while they declare
    /// other ports: valid, traffic still goes to that number.
    NotDeclared,
    /// The containers declare no port at all: a numeric target cannot be
    /// checked.
    Undeclared,
}

/// Resolves a Service port's target (`targetPort`, defaulting to `port`)
/// against `pod`'s containers (init sidecars included), as the endpoints
/// controller's `FindPort` does: a name must match a container port name
/// with the same protocol, a number is taken as is.
pub fn resolve_target_port(port: &ServicePort, pod: &Pod) -> PortResolution {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    let declared = declared_ports(pod);
    if declared.is_empty() {
        return match &port.target_port {
            Some(IntOrString::String(_)) => PortResolution::Missing,
            _ => PortResolution::Undeclared,
        };
    }
    let hit = declared.iter().find(|(_, p)| {
        p.protocol.as_deref().unwrap_or("TCP") == protocol
            && match &port.target_port {
                Some(IntOrString::String(name)) => p.name.as_deref() == Some(name.as_str()),
                Some(IntOrString::Int(n)) => p.container_port == *n,
                None => p.container_port == port.port,
            }
    });
    match (hit, &port.target_port) {
        (Some((container, p)), _) => {
            PortResolution::Found((*container).to_string(), p.container_port)
        }
        (None, Some(IntOrString::String(_))) => PortResolution::Missing,
        (None, _) => PortResolution::NotDeclared,
    }
}

/// Every port `pod` declares, with its container's name: the regular
/// containers' and the restartable init containers' (sidecars).
pub(crate) fn declared_ports(pod: &Pod) -> Vec<(&str, &k8s_openapi::api::core::v1::ContainerPort)> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    // Restartable init containers (sidecars) serve traffic too.
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten().map(move |p| (c.name.as_str(), p)))
        .collect()
}

/// `8080/TCP (http) in app` for every declared port of a pod.
fn describe_declared(pod: &Pod) -> String {
    let ports: Vec<String> = declared_ports(pod)
        .into_iter()
        .map(|(c, p)| {
            let proto = p.protocol.as_deref().unwrap_or("TCP");
            match &p.name {
                Some(n) => format!("{}/{proto} ({n}) in {c}", p.container_port),
                None => format!("{}/{proto} in {c}", p.container_port),
            }
        })
        .collect();
    if ports.is_empty() {
        "no ports".to_string()
    } else {
        ports.join(", ")
    }
}

fn target_text(port: &ServicePort) -> String {
    match &port.target_port {
        Some(IntOrString::String(name)) => format!("named port {name}"),
        Some(IntOrString::Int(n)) => format!("port {n}"),
        None => format!("port {}", port.port),
    }
}

/// One finding per Service listing every port whose target no selected pod
/// serves. Named targets that resolve nowhere are the rule's critical case;
/// when there is none, numeric targets no pod declares give an `info`
/// remark. Pods of one template are judged once (by their distinct
/// declared ports).
pub fn target_port_mismatch(
    ctx: &NamespaceCtx<'_>,
    svc: &Service,
    b: &Backends<'_>,
) -> Option<Finding> {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref())?;
    let named = unserved(ports, b, &PortResolution::Missing);
    if !named.is_empty() {
        return mismatch_finding(ctx, svc, b, &named, true);
    }
    let numeric = unserved(ports, b, &PortResolution::NotDeclared);
    if numeric.is_empty() {
        return None;
    }
    mismatch_finding(ctx, svc, b, &numeric, false)
}

/// Ports of the Service whose target resolves as `how` on some selected
/// pod while no selected pod serves it: a rollout with old and new
/// templates side by side still has endpoints.
fn unserved<'p, 'a>(
    ports: &'p [ServicePort],
    b: &Backends<'a>,
    how: &PortResolution,
) -> Vec<(usize, &'p ServicePort, Vec<&'a Pod>)> {
    let mut out = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let hit: Vec<&Pod> = b
            .selected
            .iter()
            .copied()
            .filter(|p| resolve_target_port(port, p) == *how)
            .collect();
        let served = b
            .selected
            .iter()
            .any(|p| matches!(resolve_target_port(port, p), PortResolution::Found(..)));
        if !hit.is_empty() && !served {
            out.push((i, port, hit));
        }
    }
    out
}

/// Why the ports do not meet: for a named targetPort the endpoints publish
/// nothing; a numeric one only matters if the application does not listen.
fn mismatch_cause(
    name: &str,
    broken: &[(usize, &ServicePort, Vec<&Pod>)],
    pod_names: &[String],
    named: bool,
) -> String {
    let declared = broken
        .first()
        .and_then(|(_, _, pods)| pods.first())
        .map_or_else(|| "no ports".to_string(), |p| describe_declared(p));
    let parts: Vec<String> = broken
        .iter()
        .map(|(_, p, _)| format!("port {} targets {}", p.port, target_text(p)))
        .collect();
    if named {
        format!(
            "Service {name} {} but the selected pods ({}) declare {declared}: the endpoints controller cannot resolve the name, so it publishes no port for them and connections to the Service fail.",
            parts.join(" and "),
            name_list(pod_names, 3)
        )
    } else {
        format!(
            "Service {name} {} and the selected pods ({}) declare {declared}. A numeric targetPort need not be declared and traffic still goes to it; this only matters if the application does not listen there.",
            parts.join(" and "),
            name_list(pod_names, 3)
        )
    }
}

fn mismatch_finding(
    ctx: &NamespaceCtx<'_>,
    svc: &Service,
    b: &Backends<'_>,
    broken: &[(usize, &ServicePort, Vec<&Pod>)],
    named: bool,
) -> Option<Finding> {
    let name = svc.name_any();
    let ns = ctx.namespace();
    let (_, first_port, first_pods) = broken.first()?;
    let svc_ref = ctx.object("Service", name);
    // Distinct declared-port layouts among the pods, so a mixed rollout is visible.
    let layouts: BTreeSet<String> = broken
        .iter()
        .flat_map(|(_, _, pods)| pods.iter().map(|p| describe_declared(p)))
        .collect();
    let pod_names: Vec<String> = first_pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let cause = mismatch_cause(name, broken, &pod_names, named);
    let mut f = ctx
        .finding(Rule::ServiceTargetPortMismatch, svc_ref.clone())
        .symptom(if named {
            format!(
                "Service {name}: {} matches no container port",
                target_text(first_port)
            )
        } else {
            format!(
                "Service {name}: {} is not a declared container port",
                target_text(first_port)
            )
        })
        .cause(cause);
    if !named {
        f = f.severity(Severity::Info);
    }
    for (i, p, _) in broken {
        let value = match &p.target_port {
            Some(IntOrString::String(n)) => n.clone(),
            Some(IntOrString::Int(n)) => n.to_string(),
            None => format!("{} (defaulted from port)", p.port),
        };
        f = f.field(&svc_ref, format!("spec.ports[{i}].targetPort"), value);
    }
    for layout in layouts.iter().take(3) {
        f = f.note(format!("selected pods declare {layout}"));
    }
    for pod in &b.selected {
        f = f.related(pod_ref(pod));
    }
    let example = pod_names.first().cloned().unwrap_or_default();
    Some(
        f.next_command(
            "Compare the Service ports with the pods' ports",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "service"])
                .value(Name::Label, name)
                .args(["-o", "yaml"])
                .build(),
        )
        .next_command(
            "See the ports the pods declare",
            Kubectl::new()
                .namespace(ns)
                .args(["get", "pod"])
                .name(&example)
                .args(["-o", "jsonpath={.spec.containers[*].ports}"])
                .build(),
        )
        .build(),
    )
}
