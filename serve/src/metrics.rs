//! `metrics.k8s.io/v1beta1`: node and pod metrics as collected, so that
//! `kubectl top` works offline. Served only when the bundle holds metrics;
//! without them the group is absent from discovery, as on a cluster without
//! metrics-server, and kubectl says the Metrics API is not available.

use std::sync::Arc;

use kpm_bundle::{layout, Outcome};
use serde_json::Value;

use crate::errors::{ApiError, Gr};
use crate::gaps::Gaps;
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

/// The metrics lists to answer from, with the namespaces an
/// all-namespaces list leaves out (not collected, or damaged); an error
/// naming the collection outcome when there is none to answer from.
fn lists(
    state: &State,
    plural: &str,
    ns: Option<&str>,
) -> Result<(Vec<Arc<Loaded>>, Gaps), ApiError> {
    let store = &state.store;
    let mut gaps = Gaps::default();
    let mut out = Vec::new();
    match (plural, ns) {
        ("nodes", None) => match store.load_path(NODE_KEY, None, layout::NODE_METRICS)? {
            Some(l) => out.push(l),
            None => return Err(missing(state, "metrics/nodes", None)),
        },
        ("pods", Some(ns)) => {
            match store.load_path(POD_KEY, Some(ns), &layout::pod_metrics_path(ns))? {
                Some(l) => out.push(l),
                None if store.namespaces().iter().any(|n| n == ns) => {
                    return Err(missing(state, "metrics/pods", Some(ns)))
                }
                None => {}
            }
        }
        ("pods", None) => {
            let mut absent = Vec::new();
            for ns in store.namespaces() {
                match store.load_path(POD_KEY, Some(ns), &layout::pod_metrics_path(ns)) {
                    Ok(Some(l)) => out.push(l),
                    Ok(None) => absent.push(ns.as_str()),
                    Err(e) => gaps.note(crate::store::damage_note(&e)),
                }
            }
            if out.is_empty() && gaps.warning().is_none() {
                return Err(missing(state, "metrics/pods", None));
            }
            if !absent.is_empty() {
                gaps.note(format!(
                    "pod metrics not collected in namespaces {}",
                    absent.join(", ")
                ));
            }
        }
        _ => return Err(ApiError::no_such_resource()),
    }
    Ok((out, gaps))
}

/// Why metrics the bundle lacks are missing, from the manifest step
/// `what` (`metrics/nodes`, `metrics/pods`) in `ns`.
fn missing(state: &State, what: &str, ns: Option<&str>) -> ApiError {
    let resource = what.trim_start_matches("metrics/");
    let gr = Gr {
        group: crate::discovery::METRICS_GROUP,
        resource,
    };
    let outcome = state.store.bundle().manifest().outcome_of(what, ns);
    match outcome {
        Some(Outcome::Forbidden) => ApiError::forbidden(gr, "list", None, ns),
        Some(o @ (Outcome::Timeout | Outcome::Error)) => ApiError::internal(format!(
            "{} could not be collected (outcome {})",
            gr.qualified(),
            o.as_str()
        )),
        _ => ApiError::not_collected(&match ns {
            Some(ns) => format!("{} in namespace {ns}", gr.qualified()),
            None => gr.qualified(),
        }),
    }
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
    let (lists, gaps) = lists(state, plural, ns)?;
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
    reply.warning = crate::gaps::join(
        crate::routes::left_out_warning(page.left_out, plural),
        gaps.warning(),
    );
    Ok(reply)
}
