//! `pod-unschedulable`: a Pending pod the scheduler cannot place.
//!
//! The scheduler's message (`0/5 nodes are available: 3 Insufficient cpu,
//! 2 node(s) had untolerated taint {dedicated: gpu}. preemption: ...`) is
//! parsed into per-reason node counts, then cross-checked with the node
//! allocation: which node comes closest to fitting the pod's requests, and
//! what it lacks.

use k8s_openapi::api::core::v1::Pod;
use kpm_model::{Evidence, Finding};
use kpm_semantics::quantity::Quantity;
use kpm_semantics::resources::pod_requests_and_limits;

use super::pod::PodFacts;
use crate::command::Kubectl;
use crate::context::{NamespaceCtx, NodeFree};
use crate::rules::registry::Rule;
use kpm_semantics::PodExt;

/// One reason of a FailedScheduling message and how many nodes it excluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedReason {
    /// Nodes excluded for this reason.
    pub nodes: u32,
    /// The reason as the scheduler wrote it, e.g. `Insufficient cpu`.
    pub reason: String,
}

/// A parsed `0/N nodes are available: ...` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedMessage {
    /// N: nodes considered.
    pub total: u32,
    /// Per-reason counts, in the message's order.
    pub reasons: Vec<SchedReason>,
    /// The `preemption: ...` tail, when present.
    pub preemption: Option<String>,
}

/// Splits a reason list on `, ` outside `{...}` (taints print as `{k: v}`).
fn split_reasons(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'{') => depth += 1,
            Some(b'}') => depth -= 1,
            Some(b',') if depth == 0 && bytes.get(i + 1) == Some(&b' ') => {
                out.push(s.get(start..i).unwrap_or_default());
                start = i + 2;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(s.get(start..).unwrap_or_default());
    out.into_iter()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect()
}

/// Parses a scheduler message; `None` when it is not of the `0/N nodes are
/// available` form.
pub fn parse_message(message: &str) -> Option<SchedMessage> {
    let rest = message.trim().strip_prefix("0/")?;
    let (total, rest) = rest.split_once(" nodes are available")?;
    let total: u32 = total.trim().parse().ok()?;
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim();
    let (body, preemption) = match rest.split_once(" preemption: ") {
        Some((b, p)) => (b, Some(p.trim().to_string())),
        None => (rest, None),
    };
    let body = body.trim().trim_end_matches('.');
    let reasons = split_reasons(body)
        .into_iter()
        .map(|r| match r.split_once(' ') {
            Some((n, text)) if n.parse::<u32>().is_ok() => SchedReason {
                nodes: n.parse().unwrap_or(0),
                reason: text.to_string(),
            },
            _ => SchedReason {
                nodes: 0,
                reason: r.to_string(),
            },
        })
        .collect();
    Some(SchedMessage {
        total,
        reasons,
        preemption,
    })
}

/// The scheduler's latest word: the `PodScheduled=False` condition message,
/// else the last FailedScheduling event.
fn scheduler_message(facts: &PodFacts<'_>) -> Option<String> {
    let cond = facts
        .pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| {
            c.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
        .and_then(|c| c.message.clone())
        .filter(|m| !m.is_empty());
    cond.or_else(|| {
        facts
            .events_with(&["FailedScheduling"])
            .last()
            .map(|e| e.message.clone())
    })
}

fn is_pending_unbound(pod: &Pod) -> bool {
    let pending = pod.phase() == Some("Pending");
    pending
        && pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_none()
}

/// `pod-unschedulable`.
pub fn unschedulable(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    if !is_pending_unbound(facts.pod) {
        return None;
    }
    let message = scheduler_message(facts)?;
    let parsed = parse_message(&message);
    let cause = match &parsed {
        Some(p) if !p.reasons.is_empty() => {
            let parts: Vec<String> = p
                .reasons
                .iter()
                .map(|r| {
                    if r.nodes > 0 {
                        format!("{} node(s): {}", r.nodes, r.reason)
                    } else {
                        r.reason.clone()
                    }
                })
                .collect();
            format!(
                "no node can run the pod (0/{} available): {}",
                p.total,
                parts.join("; ")
            )
        }
        _ => format!("the scheduler cannot place the pod: {message}"),
    };
    let mut b = facts
        .finding(ctx, Rule::PodUnschedulable, cause)
        .evidence_all(facts.event_evidence(&["FailedScheduling"]))
        .next_command("See the scheduler's reasons", facts.describe_cmd())
        .next_command(
            "Compare requests with what the nodes have left",
            Kubectl::new().args(["describe", "nodes"]).build(),
        );
    if facts.events_with(&["FailedScheduling"]).is_empty() {
        b = b.field(
            &facts.object,
            "status.conditions[PodScheduled].message",
            message.clone(),
        );
    }
    b = b.evidence_all(fit_evidence(ctx, facts.pod));
    Some(b.build())
}

/// Per node: free cpu and memory (allocatable minus requests of its
/// non-terminated pods, from `derived/node-allocation.json`) against the
/// pod's requests; the closest node first.
pub fn fit_evidence(ctx: &NamespaceCtx<'_>, pod: &Pod) -> Vec<Evidence> {
    if ctx.cluster.node_allocation.is_none() {
        return Vec::new();
    }
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let (requests, _) = pod_requests_and_limits(spec);
    let want = |r: &str| requests.get(r).copied().unwrap_or(Quantity::ZERO);
    let (cpu, mem) = (want("cpu"), want("memory"));
    if cpu.is_zero() && mem.is_zero() {
        return Vec::new();
    }
    let short = |want: &Quantity, free: &Quantity| {
        if want.is_zero() || free.nanos() >= want.nanos() {
            0.0
        } else {
            (want.nanos() - free.nanos()) as f64 / want.nanos() as f64
        }
    };
    // Shortfall ratio per node: the larger of cpu and memory missing as a
    // fraction of the request; 0 means it fits. Only the three closest
    // nodes are formatted: a 5,000-node cluster is scored, not printed.
    let mut scored: Vec<(f64, &NodeFree)> = ctx
        .cluster
        .node_free()
        .iter()
        .map(|n| (short(&cpu, &n.cpu).max(short(&mem, &n.memory)), n))
        .collect();
    let by_score = |a: &(f64, &NodeFree), b: &(f64, &NodeFree)| {
        a.0.total_cmp(&b.0).then_with(|| a.1.node.cmp(&b.1.node))
    };
    let keep = scored.len().min(3);
    if keep > 0 && scored.len() > keep {
        scored.select_nth_unstable_by(keep - 1, by_score);
        scored.truncate(keep);
    }
    scored.sort_by(by_score);
    let wanted = format!(
        "pod requests {} cpu, {} memory",
        fmt_cpu(&cpu),
        fmt_mem(&mem)
    );
    scored
        .into_iter()
        .map(|(_, n)| Evidence::Metric {
            name: format!("room on node {}", n.node),
            value: format!(
                "{} cpu, {} memory free",
                fmt_cpu(&n.cpu),
                fmt_mem(&n.memory)
            ),
            compared_to: Some(wanted.clone()),
        })
        .collect()
}

fn fmt_cpu(q: &Quantity) -> String {
    format!("{}m", q.millis())
}

fn fmt_mem(q: &Quantity) -> String {
    format!("{}Mi", q.value() / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scheduler_message_with_taint_and_preemption() {
        let m = "0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 4 Insufficient memory. preemption: 0/5 nodes are available: 1 Preemption is not helpful for scheduling, 4 No preemption victims found for incoming pod.";
        let p = parse_message(m).unwrap();
        assert_eq!(p.total, 5);
        assert_eq!(
            p.reasons,
            vec![
                SchedReason {
                    nodes: 1,
                    reason:
                        "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
                            .into()
                },
                SchedReason {
                    nodes: 4,
                    reason: "Insufficient memory".into()
                },
            ]
        );
        assert!(p.preemption.unwrap().starts_with("0/5 nodes"));
    }

    #[test]
    fn parses_reason_without_count_and_rejects_other_text() {
        let p = parse_message("0/3 nodes are available: persistentvolumeclaim \"data\" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.").unwrap();
        assert_eq!(p.reasons.len(), 1);
        assert_eq!(p.reasons.first().map(|r| r.nodes), Some(0));
        assert!(parse_message(
            "running PreBind plugin \"VolumeBinding\": binding volumes: timed out"
        )
        .is_none());
    }

    #[test]
    fn splits_taints_with_commas_inside_braces() {
        let r = split_reasons("2 node(s) had untolerated taint {a: b, c: d}, 1 Insufficient cpu");
        assert_eq!(
            r,
            vec![
                "2 node(s) had untolerated taint {a: b, c: d}",
                "1 Insufficient cpu"
            ]
        );
    }
}
