//! Metrics from troubleshoot's `node-metrics/`, gathered per file and
//! written as metrics lists at the end.

use std::collections::BTreeSet;

use super::super::Skipped;
use super::{keep_extra, State};
use crate::error::Result;
use crate::layout;
use crate::manifest::{Outcome, Step};
use crate::writer::BundleWriter;

/// One `node-metrics/<node>.json`: its figures gathered for
/// [`place_metrics`], the file itself kept under `foreign/`.
pub(super) fn place_node_metrics(
    writer: &mut BundleWriter,
    state: &mut State,
    path: &str,
    bytes: &[u8],
) -> Result<()> {
    if let Err(reason) = state.metrics.add(bytes) {
        state.problems.push(Skipped {
            path: path.to_string(),
            reason: format!("{reason} (kept under foreign/)"),
        });
    }
    keep_extra(writer, path, bytes)
}

/// The metrics read from `node-metrics/`: `metrics/nodes.json` and a pod
/// metrics list for every namespace (empty where no pod had figures: the
/// metrics were collected, the namespace had no running containers).
pub(super) fn place_metrics(writer: &mut BundleWriter, state: &mut State) -> Result<()> {
    use super::super::node_metrics::API_VERSION;
    let metrics = std::mem::take(&mut state.metrics);
    if metrics.nodes.is_empty() {
        return Ok(());
    }
    let list = |kind: &str, items: Vec<serde_json::Value>| serde_json::json!({"kind": kind, "apiVersion": API_VERSION, "metadata": {}, "items": items});
    let mut step = Step::new("metrics/nodes", Outcome::Ok);
    step.items = metrics.nodes.len() as u64;
    step.bytes = writer
        .write_json(
            layout::NODE_METRICS,
            &list("NodeMetricsList", metrics.nodes),
        )?
        .size;
    step.path = Some(layout::NODE_METRICS.to_string());
    state.steps.push(step);
    let mut pods = metrics.pods;
    let namespaces: BTreeSet<String> = state
        .namespaces
        .iter()
        .chain(pods.keys())
        .cloned()
        .collect();
    for ns in namespaces {
        let items = pods.remove(&ns).unwrap_or_default();
        let path = layout::pod_metrics_path(&ns);
        let mut step = Step::new("metrics/pods", Outcome::Ok);
        step.namespace = Some(ns);
        step.items = items.len() as u64;
        step.bytes = writer
            .write_json(&path, &list("PodMetricsList", items))?
            .size;
        step.path = Some(path);
        state.steps.push(step);
    }
    Ok(())
}
