//! Request routing: URL → discovery, list, get, log or metrics answer.
//!
//! Everything here is synchronous and runs on a blocking thread: the first
//! request for a big list parses it, and that must not stall the runtime.
mod lists;
mod object;
mod reply;
mod route;
mod state;

use kpm_bundle::layout::{self, Scope};

pub use self::lists::left_out_warning;
pub(crate) use self::lists::lists_for;
use self::lists::{list, replication_controllers};
pub use self::object::with_type_meta;
use self::object::{get, pod_log};
pub use self::reply::Reply;
pub use self::route::{Request, Route};
pub use self::state::State;
use crate::discovery::{self, METRICS_GROUP, METRICS_VERSION};
use crate::errors::ApiError;

/// Answers a GET.
pub fn handle(state: &State, req: &Request<'_>) -> Reply {
    match answer(state, req) {
        Ok(r) => r,
        Err(e) => Reply::error(&e),
    }
}

fn answer(state: &State, req: &Request<'_>) -> Result<Reply, ApiError> {
    match req.route {
        Route::Static(segs) => static_doc(state, segs),
        Route::Resource {
            group,
            version,
            plural,
            namespace,
            name,
            subresource,
        } => {
            if group == METRICS_GROUP {
                if version != METRICS_VERSION || !state.has_metrics {
                    return Err(ApiError::no_such_resource());
                }
                return crate::metrics::answer(
                    state,
                    req,
                    plural,
                    namespace.as_deref(),
                    name.as_deref(),
                );
            }
            if group == crate::events::GROUP {
                return crate::events::answer(
                    state,
                    req,
                    version,
                    plural,
                    namespace.as_deref(),
                    name.as_deref(),
                    subresource.as_deref(),
                );
            }
            if group.is_empty() && plural == "replicationcontrollers" {
                return replication_controllers(state, req, name.as_deref());
            }
            let kind = layout::all_kinds()
                .find(|k| k.group == group && k.version == version && k.plural == plural)
                .ok_or_else(ApiError::no_such_resource)?;
            // A namespaced kind under a cluster path (or the reverse) is not
            // a URL the API server serves, except the all-namespaces list.
            let ns = namespace.as_deref();
            match (kind.scope, ns, name) {
                (Scope::Cluster, Some(_), _) | (Scope::Namespaced, None, Some(_)) => {
                    return Err(ApiError::no_such_resource())
                }
                _ => {}
            }
            match (name, subresource.as_deref()) {
                (None, _) => list(state, req, kind, ns),
                (Some(n), None | Some("status")) => get(state, req, kind, ns, n),
                (Some(n), Some("log")) if kind.plural == "pods" => {
                    pod_log(state, req, kind, ns.unwrap_or(""), n)
                }
                _ => Err(ApiError::no_such_resource()),
            }
        }
    }
}

fn static_doc(state: &State, segs: &[String]) -> Result<Reply, ApiError> {
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let doc = match segs.as_slice() {
        ["healthz" | "readyz" | "livez", ..] => return Ok(Reply::text("ok")),
        ["version"] => {
            let bundle = state.store.bundle();
            if bundle.contains(layout::CLUSTER_VERSION) {
                let raw = bundle
                    .read_bytes(layout::CLUSTER_VERSION)
                    .map_err(ApiError::internal)?;
                return Ok(Reply::raw_json(200, raw));
            }
            match &bundle.manifest().cluster.server_version {
                Some(v) => discovery::version_from_manifest(v),
                None => return Err(ApiError::not_collected("/version")),
            }
        }
        ["api"] => discovery::core_versions(&state.server_address),
        ["api", v] => discovery::resource_list("", v, state.has_metrics)
            .ok_or_else(ApiError::no_such_resource)?,
        ["apis"] => discovery::group_list(state.has_metrics),
        ["apis", g] => {
            discovery::group(g, state.has_metrics).ok_or_else(ApiError::no_such_resource)?
        }
        ["apis", g, v] => discovery::resource_list(g, v, state.has_metrics)
            .ok_or_else(ApiError::no_such_resource)?,
        [] => {
            serde_json::json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]})
        }
        ["openapi", rest @ ..] => {
            return crate::openapi::document(rest)
                .map(|doc| Reply::raw_json(200, doc.to_vec()))
                .ok_or_else(ApiError::no_such_resource)
        }
        _ => return Err(ApiError::no_such_resource()),
    };
    Ok(Reply::json(200, &doc))
}

#[cfg(test)]
mod tests;
