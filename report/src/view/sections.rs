//! Views of the non-finding sections: application chains, timeline, nodes,
//! top pods, coverage, collection and damage.

use chrono::{DateTime, Utc};
use kpm_model::{
    Application, ChainLink, Layer, LinkState, NodeSummary, PodUsage, Report, TimelineEntry,
};
use serde::Serialize;

use super::findings::FindingIndex;
use super::format::{age, bar_width, bytes, clip, clip_opt, clip_ref, millis, timestamp};
use super::{Capped, Limits};

/// A root cause named under an application's chain.
#[derive(Debug, Clone, Serialize)]
pub struct RootRef {
    pub anchor: String,
    pub rule: String,
    pub severity: String,
    pub object: String,
    pub cause: String,
    /// Further objects with the same rule and cause (two replicas OOMKilled
    /// alike), folded into this line instead of repeating it.
    pub same_elsewhere: usize,
}

/// One box of the Ingress → Service → Endpoints → Pods → Nodes drawing.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    pub label: String,
    pub layer: String,
    pub state: String,
    pub state_label: String,
    pub summary: String,
    pub objects: Capped<String>,
    pub findings: usize,
    /// The first broken link walking from the outside in: the one the
    /// drawing marks and names the root cause under.
    pub first_broken: bool,
    /// One of the application's root-cause findings sits at this link: the
    /// drawing shows where the break starts, not only where it shows.
    pub has_root_cause: bool,
}

/// An application with its chain.
#[derive(Debug, Clone, Serialize)]
pub struct AppView {
    pub anchor: String,
    pub key: String,
    pub namespace: String,
    pub name: String,
    pub workload: String,
    pub severity: String,
    pub first_broken: String,
    pub links: Vec<LinkView>,
    pub root_causes: Capped<RootRef>,
}

/// Display name of a chain layer.
pub fn layer_label(l: Layer) -> &'static str {
    match l {
        Layer::Ingress => "Ingress",
        Layer::Service => "Service",
        Layer::Endpoints => "Endpoints",
        Layer::Pod => "Pods",
        Layer::Node => "Nodes",
        Layer::Autoscaling => "Autoscaling",
        Layer::Config => "Config",
        Layer::Resources => "Resources",
        Layer::Dns => "DNS",
        Layer::Rbac => "RBAC",
        Layer::Workload => "Workloads",
        Layer::Network => "Network policy",
        Layer::Admission => "Admission",
    }
}

fn state_names(s: LinkState) -> (&'static str, &'static str) {
    match s {
        LinkState::Ok => ("ok", "OK"),
        LinkState::Degraded => ("degraded", "Degraded"),
        LinkState::Broken => ("broken", "Broken"),
        LinkState::Absent => ("absent", "none"),
        LinkState::Unknown => ("unknown", "Not checked"),
    }
}

fn link_view(l: &ChainLink, app: &Application, limits: &Limits) -> LinkView {
    let first_broken = app.first_broken;
    let (state, state_label) = state_names(l.state);
    LinkView {
        label: layer_label(l.layer).to_string(),
        layer: l.layer.as_str().to_string(),
        state: state.to_string(),
        state_label: state_label.to_string(),
        summary: clip(&l.summary, limits.short_text),
        objects: Capped::take(&l.objects, limits.objects_per_link, |o| {
            clip(&o.name, limits.name)
        }),
        findings: l.findings.len(),
        first_broken: first_broken == Some(l.layer) && l.state == LinkState::Broken,
        has_root_cause: l.findings.iter().any(|f| app.root_causes.contains(f)),
    }
}

/// Builds the view of one application.
pub fn app_view(a: &Application, pos: usize, index: &FindingIndex<'_>, limits: &Limits) -> AppView {
    AppView {
        anchor: format!("a-{pos}"),
        key: clip(&a.key, limits.name),
        namespace: clip(&a.namespace, limits.name),
        name: clip(&a.name, limits.name),
        workload: a
            .workload
            .as_ref()
            .map(|w| clip_ref(w, limits.name))
            .unwrap_or_default(),
        severity: a
            .severity
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        first_broken: a
            .first_broken
            .map(|l| layer_label(l).to_string())
            .unwrap_or_default(),
        links: a.chain.iter().map(|l| link_view(l, a, limits)).collect(),
        root_causes: {
            let mut roots: Vec<RootRef> = Vec::new();
            for (f, anchor) in a.root_causes.iter().filter_map(|id| index.get(id)) {
                let rule = clip(&f.rule, limits.name);
                let cause = clip(&f.cause, limits.short_text);
                if let Some(same) = roots
                    .iter_mut()
                    .find(|r| r.rule == rule && r.cause == cause)
                {
                    same.same_elsewhere += 1;
                    continue;
                }
                roots.push(RootRef {
                    anchor,
                    rule,
                    severity: f.severity.as_str().to_string(),
                    object: clip_ref(&f.object, limits.name),
                    cause,
                    same_elsewhere: 0,
                });
            }
            Capped::take(&roots, limits.roots_per_app, Clone::clone)
        },
    }
}

/// One timeline row.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineRow {
    pub time: String,
    pub age: String,
    pub source: String,
    pub object: String,
    pub namespace: String,
    pub event_type: String,
    pub warning: bool,
    pub reason: String,
    pub message: String,
    pub count: u64,
}

/// The most recent `limit` entries: closest to the failure, which is what a
/// post-mortem reads first; older ones are counted as hidden.
pub fn timeline(
    entries: &[TimelineEntry],
    limits: &Limits,
    now: &DateTime<Utc>,
) -> Capped<TimelineRow> {
    let skip = entries.len().saturating_sub(limits.timeline);
    let items = entries
        .iter()
        .skip(skip)
        .map(|e| TimelineRow {
            time: timestamp(&e.time),
            age: age(&e.time, now),
            source: clip(&e.source, limits.name),
            object: match (&e.object, e.object_deleted) {
                (Some(o), true) => format!("{} (deleted)", clip_ref(o, limits.name)),
                (Some(o), false) => clip_ref(o, limits.name),
                (None, _) => String::new(),
            },
            namespace: clip_opt(
                e.object.as_ref().and_then(|o| o.namespace.as_deref()),
                limits.name,
            ),
            warning: e.event_type == "Warning",
            event_type: clip(&e.event_type, limits.name),
            reason: clip(&e.reason, limits.short_text),
            message: clip(&e.message, limits.timeline_text),
            count: e.count,
        })
        .collect();
    Capped {
        items,
        total: entries.len(),
        hidden: skip,
    }
}

/// One resource bar of a node.
#[derive(Debug, Clone, Serialize)]
pub struct BarView {
    pub resource: String,
    pub allocatable: String,
    pub requests: String,
    pub requests_percent: u32,
    pub requests_width: u32,
    pub limits: String,
    pub limits_percent: u32,
    pub limits_width: u32,
    pub usage: String,
    pub usage_percent: Option<u32>,
    pub usage_width: u32,
    /// Requests at or above 90 %: the scheduler is about to refuse pods.
    pub hot: bool,
}

/// One node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub name: String,
    pub status: String,
    pub ready: bool,
    /// Not ready, cordoned or under pressure.
    pub attention: bool,
    pub problems: Vec<String>,
    pub pods: u32,
    pub bars: Vec<BarView>,
}

fn max_requests(n: &NodeSummary) -> u32 {
    n.allocation
        .iter()
        .map(|a| a.requests_percent)
        .max()
        .unwrap_or(0)
}

fn node_needs_attention(n: &NodeSummary) -> bool {
    !n.problems.is_empty() || n.status != "Ready"
}

/// Nodes that need attention first (not ready, pressure, cordoned), then the
/// fullest by requests: on a 5,000-node cluster those are the ones to see.
pub fn nodes(report: &Report, limits: &Limits) -> Capped<NodeView> {
    let mut order: Vec<&NodeSummary> = report.nodes.iter().collect();
    order.sort_by(|a, b| {
        node_needs_attention(b)
            .cmp(&node_needs_attention(a))
            .then(max_requests(b).cmp(&max_requests(a)))
            .then(a.name.cmp(&b.name))
    });
    let items = order
        .iter()
        .take(limits.nodes)
        .map(|n| NodeView {
            name: clip(&n.name, limits.name),
            ready: n.status.split(',').next() == Some("Ready"),
            attention: node_needs_attention(n),
            status: clip(&n.status, limits.short_text),
            problems: n
                .problems
                .iter()
                .take(limits.related)
                .map(|p| clip(p, limits.short_text))
                .collect(),
            pods: n.pods,
            bars: n
                .allocation
                .iter()
                .take(limits.related)
                .map(|a| BarView {
                    resource: clip(&a.resource, limits.name),
                    allocatable: clip(&a.allocatable, limits.name),
                    requests: clip(&a.requests, limits.name),
                    requests_percent: a.requests_percent,
                    requests_width: bar_width(a.requests_percent),
                    limits: clip(&a.limits, limits.name),
                    limits_percent: a.limits_percent,
                    limits_width: bar_width(a.limits_percent),
                    usage: clip_opt(a.usage.as_deref(), limits.name),
                    usage_percent: a.usage_percent,
                    usage_width: a.usage_percent.map(bar_width).unwrap_or(0),
                    hot: a.requests_percent >= 90,
                })
                .collect(),
        })
        .collect();
    Capped {
        items,
        total: report.nodes.len(),
        hidden: report.nodes.len().saturating_sub(limits.nodes),
    }
}

/// One "top pods" row.
#[derive(Debug, Clone, Serialize)]
pub struct PodRow {
    pub pod: String,
    pub namespace: String,
    pub name: String,
    pub cpu: String,
    pub memory: String,
    pub memory_limit: String,
    pub memory_percent: Option<u64>,
    pub memory_width: u64,
}

/// Top pods, in the analyzer's order (by memory).
pub fn top_pods(pods: &[PodUsage], limits: &Limits) -> Capped<PodRow> {
    Capped::take(pods, limits.top_pods, |p| {
        let percent = p
            .memory_limit_bytes
            .filter(|l| *l > 0)
            .map(|l| p.memory_bytes.saturating_mul(100) / l);
        PodRow {
            pod: clip_ref(&p.pod, limits.name),
            namespace: clip_opt(p.pod.namespace.as_deref(), limits.name),
            name: clip(&p.pod.name, limits.name),
            cpu: millis(p.cpu_millis),
            memory: bytes(p.memory_bytes),
            memory_limit: p.memory_limit_bytes.map(bytes).unwrap_or_default(),
            memory_percent: percent,
            memory_width: percent.map(|x| x.min(100)).unwrap_or(0),
        }
    })
}
