//! `service-target-port-mismatch`: does each Service `targetPort` (number or
//! name) land on a port the selected pods' containers declare?
//!
//! A named targetPort that no container declares is definitely broken: the
//! EndpointSlice controller cannot resolve it and publishes no port for those
//! pods. A numeric one is judged only when the containers declare ports at
//! all: traffic goes to the number whether declared or not, so a pod that
//! declares nothing proves nothing.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kpm_model::Finding;

use super::backends::{name_list, Backends};
use crate::command::{Kubectl, Name};
use crate::context::{pod_ref, NamespaceCtx};
use crate::rules::registry::Rule;

/// How a targetPort resolves against one pod's containers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortResolution {
    /// A container declares it: `(container, containerPort)`.
    Found(String, i32),
    /// The containers declare ports, none of them this one.
    Missing,
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
    match hit {
        Some((container, p)) => PortResolution::Found((*container).to_string(), p.container_port),
        None => PortResolution::Missing,
    }
}

fn declared_ports(pod: &Pod) -> Vec<(&str, &k8s_openapi::api::core::v1::ContainerPort)> {
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

/// One finding per Service listing every port whose target matches no
/// declared container port of the selected pods. Pods of one template
/// are judged once (by their distinct declared ports).
pub fn target_port_mismatch(
    ctx: &NamespaceCtx<'_>,
    svc: &Service,
    b: &Backends<'_>,
) -> Option<Finding> {
    let ports = svc.spec.as_ref().and_then(|s| s.ports.as_ref())?;
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    let ns = ctx.namespace();
    let mut broken: Vec<(usize, &ServicePort, Vec<&Pod>)> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let missing: Vec<&Pod> = b
            .selected
            .iter()
            .copied()
            .filter(|p| resolve_target_port(port, p) == PortResolution::Missing)
            .collect();
        // Broken only when no selected pod serves the port: a rollout with
        // old and new templates side by side still has endpoints.
        let served = b
            .selected
            .iter()
            .any(|p| matches!(resolve_target_port(port, p), PortResolution::Found(..)));
        if !missing.is_empty() && !served {
            broken.push((i, port, missing));
        }
    }
    let (_, first_port, first_pods) = broken.first()?;
    let svc_ref = ctx.object("Service", name);
    let example = first_pods.first().copied()?;
    let declared = describe_declared(example);
    let parts: Vec<String> = broken
        .iter()
        .map(|(_, p, _)| format!("port {} targets {}", p.port, target_text(p)))
        .collect();
    // Distinct declared-port layouts among the pods, so a mixed rollout is visible.
    let layouts: BTreeSet<String> = broken
        .iter()
        .flat_map(|(_, _, pods)| pods.iter().map(|p| describe_declared(p)))
        .collect();
    let pod_names: Vec<String> = first_pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let mut f = ctx
        .finding(Rule::ServiceTargetPortMismatch, svc_ref.clone())
        .symptom(format!(
            "Service {name}: {} matches no container port",
            target_text(first_port)
        ))
        .cause(format!(
            "Service {name} {} but the selected pods ({}) declare {declared}.",
            parts.join(" and "),
            name_list(&pod_names, 3)
        ));
    for (i, p, _) in &broken {
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
                .name(example.metadata.name.as_deref().unwrap_or_default())
                .args(["-o", "jsonpath={.spec.containers[*].ports}"])
                .build(),
        )
        .build(),
    )
}
