//! `metrics.k8s.io/v1beta1`: node and pod metrics as collected, so that
//! `kubectl top` works offline. Served only when the bundle holds metrics;
//! without them the group is absent from discovery, as on a cluster without
//! metrics-server, and kubectl says the Metrics API is not available.

use std::sync::Arc;

use kpm_bundle::layout;
use serde_json::Value;

use crate::errors::{ApiError, Gr};
use crate::list::{combined_resource_version, select_page, Candidates, ListParams, ListWriter};
use crate::routes::{with_type_meta, Reply, Request, State};
use crate::store::Loaded;

/// Cache keys for the metrics lists; not kind plurals, so no field labels
/// are indexed for them.
const NODE_KEY: &str = "nodemetrics";
const POD_KEY: &str = "podmetrics";

fn api_version() -> String {
    format!(
        "{}/{}",
        crate::discovery::METRICS_GROUP,
        crate::discovery::METRICS_VERSION
    )
}

/// Whether the bundle holds any metrics file.
pub fn bundle_has_metrics(bundle: &kpm_bundle::Bundle) -> bool {
    bundle.entries().any(|e| {
        matches!(
            layout::classify(e),
            layout::Entry::NodeMetrics | layout::Entry::PodMetrics { .. }
        )
    })
}

fn lists(state: &State, plural: &str, ns: Option<&str>) -> Result<Vec<Arc<Loaded>>, ApiError> {
    let store = &state.store;
    let mut out = Vec::new();
    match (plural, ns) {
        ("nodes", None) => {
            if let Some(l) = store.load_path(NODE_KEY, None, layout::NODE_METRICS)? {
                out.push(l);
            }
        }
        ("pods", Some(ns)) => {
            if let Some(l) = store.load_path(POD_KEY, Some(ns), &layout::pod_metrics_path(ns))? {
                out.push(l);
            }
        }
        ("pods", None) => {
            for ns in store.namespaces() {
                if let Some(l) =
                    store.load_path(POD_KEY, Some(ns), &layout::pod_metrics_path(ns))?
                {
                    out.push(l);
                }
            }
        }
        _ => return Err(ApiError::no_such_resource()),
    }
    Ok(out)
}

/// Answers a metrics list or get.
pub fn answer(
    state: &State,
    req: &Request<'_>,
    plural: &str,
    ns: Option<&str>,
    name: Option<&str>,
) -> Result<Reply, ApiError> {
    let kind = match plural {
        "nodes" => "NodeMetrics",
        "pods" => "PodMetrics",
        _ => return Err(ApiError::no_such_resource()),
    };
    let lists = lists(state, plural, ns)?;
    if let Some(name) = name {
        let obj: Value = lists
            .iter()
            .find_map(|l| Some(l.value(l.items.get(l.position(name)?)?)))
            .unwrap_or_else(|| {
                Err(ApiError::not_found(
                    Gr {
                        group: crate::discovery::METRICS_GROUP,
                        resource: plural,
                    },
                    name,
                ))
            })?;
        return Ok(Reply::json(200, &with_type_meta(obj, kind, &api_version())));
    }
    let params = ListParams::from_query(req.query, plural)?;
    let mut body = ListWriter::new(&format!("{kind}List"), &api_version());
    let page = select_page(
        plural,
        Candidates::Lists(&lists),
        &params,
        state.knobs.page_size,
        &mut |l, it| {
            body.item(l.raw(it));
            Ok(())
        },
    )?;
    let rv = combined_resource_version(lists.iter().map(|l| l.resource_version.as_str()));
    let mut reply = Reply::raw_json(200, body.finish(&rv, page.continue_token.as_deref()));
    reply.warning = crate::routes::left_out_warning(page.left_out, plural);
    Ok(reply)
}
