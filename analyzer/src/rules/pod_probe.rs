//! Readiness and spec hygiene: `pod-not-ready` (readiness probes failing),
//! `probe-port-mismatch` (a probe names a port its container does not
//! declare, or aims at a number nothing listens on, as its failures show) and
//! `image-tag-mutable` (`:latest` or no tag).

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kpm_model::{Finding, ObjectRef, Severity};
use kpm_semantics::PodExt;

use super::pod::PodFacts;
use crate::command::{Kubectl, Name};
use crate::context::NamespaceCtx;
use crate::rules::registry::Rule;

/// `pod-not-ready`: the pod runs but `Ready=False` because readiness probes
/// fail (`Unhealthy` events quote the probe's answer).
pub fn not_ready(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    if facts.pod.phase() != Some("Running") || facts.pod.is_ready() {
        return None;
    }
    let ready = facts.pod.condition("Ready").map(|c| c.status.as_str());
    // A running, unready container that has a readiness probe.
    let cs = facts.container_statuses().iter().find(|cs| {
        let running = cs.state.as_ref().is_some_and(|s| s.running.is_some());
        let probed = facts
            .container(&cs.name)
            .is_some_and(|c| c.readiness_probe.is_some());
        running && !cs.ready && probed
    })?;
    let failures: Vec<_> = facts
        .events_with(&["Unhealthy"])
        .into_iter()
        .filter(|e| e.message.starts_with("Readiness probe failed"))
        .collect();
    let cause = match failures.last() {
        Some(e) => format!(
            "container {} runs but its readiness probe fails ({}, {} times): {}",
            cs.name,
            probe_target(facts.container(&cs.name).and_then(|c| c.readiness_probe.as_ref())),
            e.count,
            e.message.trim_start_matches("Readiness probe failed: ").trim()
        ),
        None if ctx.ns.unavailable("events").is_some() => format!(
            "container {} runs but is not ready; the probe's answer is unknown: events were not collected",
            cs.name
        ),
        // Without Unhealthy events the probe has not failed (yet): the
        // container may still be in its initial delay.
        None => return None,
    };
    Some(
        ctx.finding(Rule::PodNotReady, facts.object.clone())
            .symptom(format!(
                "{} {} (not ready)",
                facts.row.ready, facts.row.status
            ))
            .cause(cause)
            .field(
                &facts.object,
                "status.conditions[Ready].status",
                ready.unwrap_or("Unknown"),
            )
            .evidence_all(facts.event_evidence(&["Unhealthy"]))
            .next_command("See the probe failures", facts.describe_cmd())
            .next_command(
                "Read the app's log around the failures",
                facts.logs_cmd(&cs.name, false),
            )
            .build(),
    )
}

/// `GET :8080/healthz`, `TCP :5432`, `gRPC :9090`, `exec`.
fn probe_target(p: Option<&Probe>) -> String {
    let Some(p) = p else {
        return "no probe".to_string();
    };
    let port = |v: &IntOrString| match v {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    };
    if let Some(h) = &p.http_get {
        return format!("GET :{}{}", port(&h.port), h.path.as_deref().unwrap_or("/"));
    }
    if let Some(t) = &p.tcp_socket {
        return format!("TCP :{}", port(&t.port));
    }
    if let Some(g) = &p.grpc {
        return format!("gRPC :{}", g.port);
    }
    "exec".to_string()
}

/// The port a probe targets, if it targets one.
fn probe_port(p: &Probe) -> Option<IntOrString> {
    if let Some(h) = &p.http_get {
        return Some(h.port.clone());
    }
    if let Some(t) = &p.tcp_socket {
        return Some(t.port.clone());
    }
    p.grpc.as_ref().map(|g| IntOrString::Int(g.port))
}

/// Why a probe's named port cannot be resolved, if it cannot. The kubelet
/// resolves a name against the probed container's own `ports`.
fn named_port_problem(c: &Container, name: &str) -> Option<String> {
    let declared = c.ports.as_deref().unwrap_or_default();
    if declared.iter().any(|p| p.name.as_deref() == Some(name)) {
        return None;
    }
    let names: Vec<&str> = declared.iter().filter_map(|p| p.name.as_deref()).collect();
    Some(if names.is_empty() {
        format!(
            "named port \"{name}\", but container {} declares no named port: the kubelet cannot resolve it",
            c.name
        )
    } else {
        format!(
            "named port \"{name}\", but container {} only names {}: the kubelet cannot resolve it",
            c.name,
            names.join(", ")
        )
    })
}

/// A numeric port is used as is: declaring `containerPort` is
/// informational, so an undeclared number is valid. It is judged only when
/// the pod declares other ports and the probe's own failures say nothing
/// listens there (`connect: connection refused` on `:port`), which is the
/// effect a wrong number has.
fn numeric_port_problem(
    facts: &PodFacts<'_>,
    all: &[&Container],
    kind: &str,
    n: i32,
) -> Option<String> {
    let ports: Vec<i32> = all
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .map(|p| p.container_port)
        .collect();
    if ports.is_empty() || ports.contains(&n) {
        return None;
    }
    let prefix = format!(
        "{}{} probe failed",
        kind.get(..1)?.to_uppercase(),
        kind.get(1..)?
    );
    let refused = format!(":{n}: connect: connection refused");
    facts
        .events_with(&["Unhealthy"])
        .into_iter()
        .any(|e| e.message.starts_with(&prefix) && e.message.contains(&refused))
        .then(|| {
            let list: Vec<String> = ports.iter().map(ToString::to_string).collect();
            format!(
                "port {n}, which nothing listens on (connection refused), while the pod's containers declare {}",
                list.join(", ")
            )
        })
}

/// What status and events show of a failing probe of `kind` on container
/// `c`. For readiness: `Unhealthy` readiness events (failed, or errored:
/// an unresolvable port errors, and readiness then keeps its initial
/// `Failure`) with the container not ready. For liveness and startup:
/// `… probe failed` events with restarts; an errored result is thrown away
/// by the kubelet's prober worker, so it never restarts the container.
fn probe_effect(facts: &PodFacts<'_>, c: &str, kind: &str) -> Option<String> {
    let (failed, errored) = match kind {
        "readiness" => ("Readiness probe failed", "Readiness probe errored"),
        "liveness" => ("Liveness probe failed", ""),
        _ => ("Startup probe failed", ""),
    };
    let events: u64 = facts
        .events_with(&["Unhealthy"])
        .into_iter()
        .filter(|e| {
            e.message.starts_with(failed) || (!errored.is_empty() && e.message.starts_with(errored))
        })
        .map(|e| e.count)
        .sum();
    if events == 0 {
        return None;
    }
    let cs = facts.container_statuses().iter().find(|s| s.name == c)?;
    match kind {
        "readiness" if !cs.ready => Some(format!(
            "the container is not ready ({events} Unhealthy readiness events)"
        )),
        "liveness" | "startup" if cs.restart_count > 0 => Some(format!(
            "the kubelet restarted the container {} times ({events} failed {kind} probes)",
            cs.restart_count
        )),
        _ => None,
    }
}

/// `probe-port-mismatch`: a liveness, readiness or startup probe names a
/// port its container does not declare. An error when status and events
/// show the probe failing; otherwise a warning that states only what the
/// spec shows.
pub fn probe_port_mismatch(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    let spec = facts.pod.spec.as_ref()?;
    // Every container shares the pod's network namespace, sidecars
    // included, so a number may be served by any of them.
    let all: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    for c in &spec.containers {
        let probes = [
            ("readiness", c.readiness_probe.as_ref()),
            ("liveness", c.liveness_probe.as_ref()),
            ("startup", c.startup_probe.as_ref()),
        ];
        for (kind, probe) in probes {
            let Some(probe) = probe else { continue };
            let Some(port) = probe_port(probe) else {
                continue;
            };
            let problem = match &port {
                IntOrString::String(name) => named_port_problem(c, name),
                IntOrString::Int(n) => numeric_port_problem(facts, &all, kind, *n),
            };
            let Some(problem) = problem else {
                continue;
            };
            let effect = probe_effect(facts, &c.name, kind);
            // Refusals while the app was starting are normal: a number is
            // only blamed while the container still suffers from it.
            if matches!(port, IntOrString::Int(_)) && effect.is_none() {
                continue;
            }
            let cause = match &effect {
                Some(e) => format!(
                    "the {kind} probe of container {} targets {problem}, and {e}",
                    c.name
                ),
                None => format!(
                    "the {kind} probe of container {} targets {problem}, so the probe will fail (no failure recorded yet)",
                    c.name
                ),
            };
            let mut b = facts
                .finding(ctx, Rule::ProbePortMismatch, cause)
                .field(
                    &facts.object,
                    format!("spec.containers[{}].{kind}Probe", c.name),
                    probe_target(Some(probe)),
                )
                .next_command(
                    "Compare the probe with the declared ports",
                    Kubectl::new()
                        .namespace(facts.namespace)
                        .args(["get", "pod"])
                        .name(facts.name)
                        .args(["-o"])
                        .with(
                            "jsonpath={.spec.containers[?(@.name==\"",
                            Name::Label,
                            &c.name,
                            "\")].ports}",
                        )
                        .build(),
                );
            if effect.is_some() {
                b = b.evidence_all(facts.event_evidence(&["Unhealthy"]));
            } else {
                b = b.severity(Severity::Warning);
            }
            return Some(b.build());
        }
    }
    None
}

/// Whether an image reference floats: `:latest`, or no tag and no digest.
pub fn is_mutable(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    // The tag is after the last ':' that follows the last '/' (a registry
    // port like `registry:5000/app` is not a tag).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

/// `image-tag-mutable` (info): about the workload's spec, so one finding per
/// workload (or bare pod), not per replica.
pub fn image_tag_mutable(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    let floating: Vec<(String, String)> = facts
        .containers()
        .into_iter()
        .filter_map(|(c, _)| {
            c.image
                .as_deref()
                .filter(|i| is_mutable(i))
                .map(|i| (c.name.clone(), i.to_string()))
        })
        .collect();
    if floating.is_empty() {
        return None;
    }
    let object: ObjectRef = ctx
        .owner_workload(facts.pod)
        .unwrap_or_else(|| facts.object.clone());
    let list: Vec<String> = floating
        .iter()
        .map(|(c, i)| format!("{c} uses \"{i}\""))
        .collect();
    Some(
        ctx.finding(Rule::ImageTagMutable, object.clone())
            .symptom("image without a fixed tag".to_string())
            .cause(format!(
                "{}: a restart or new node may pull a different image than the one running",
                list.join(", ")
            ))
            .related(facts.object.clone())
            .next_command(
                "See which image digests actually run",
                Kubectl::new()
                    .namespace(facts.namespace)
                    .args(["get", "pod"])
                    .name(facts.name)
                    .args(["-o", "jsonpath={.status.containerStatuses[*].imageID}"])
                    .build(),
            )
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutable_tags() {
        assert!(is_mutable("nginx"));
        assert!(is_mutable("nginx:latest"));
        assert!(is_mutable("registry.example.com:5000/shop/web"));
        assert!(!is_mutable("registry.example.com:5000/shop/web:1.4.2"));
        assert!(!is_mutable(
            "nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"
        ));
    }
}
