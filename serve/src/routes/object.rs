//! Answers about one object: GET (JSON or Table) and a pod's log.

use kpm_bundle::layout::{self, ResourceKind};
use serde_json::Value;

use super::lists::lists_for;
use super::{Reply, Request, State};
use crate::errors::{ApiError, Gr};
use crate::logs::{self, LogParams};
use crate::logtail::LogStream;
use crate::table::{self, Include};

/// Finds one object and parses it.
pub fn find(
    state: &State,
    kind: &ResourceKind,
    ns: Option<&str>,
    name: &str,
) -> Result<Value, ApiError> {
    let lists = match lists_for(state, kind, ns) {
        Ok(l) => l,
        Err(e) if e.code == 403 => {
            return Err(state.store.missing_error(kind, ns, "get", Some(name)));
        }
        Err(e) => return Err(e),
    };
    lists
        .iter()
        .find_map(|l| {
            let item = l.items.get(l.position(name)?)?;
            Some(l.value(item))
        })
        .unwrap_or_else(|| {
            Err(ApiError::not_found(
                Gr {
                    group: kind.group,
                    resource: kind.plural,
                },
                name,
            ))
        })
}

/// Adds `kind`/`apiVersion`, which list items do not carry but a GET answer
/// does.
pub fn with_type_meta(mut obj: Value, kind: &str, api_version: &str) -> Value {
    if let Some(map) = obj.as_object_mut() {
        map.entry("kind").or_insert_with(|| kind.into());
        map.entry("apiVersion")
            .or_insert_with(|| api_version.into());
    }
    obj
}

/// A GET of one object (or the start of a watch on it), JSON or Table.
pub(super) fn get(
    state: &State,
    req: &Request<'_>,
    kind: &'static ResourceKind,
    ns: Option<&str>,
    name: &str,
) -> Result<Reply, ApiError> {
    if req
        .param("watch")
        .is_some_and(crate::watch::params::is_true)
    {
        return crate::watch::plan(state, req, kind, ns, Some(name)).map(Reply::watch);
    }
    let obj = find(state, kind, ns, name)?;
    if req.table {
        let t = table::render(
            kind,
            std::slice::from_ref(&obj),
            Include::from_query(req.param("includeObject")),
            state.store.now(),
        )?;
        let rv = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        return Ok(Reply::json(200, &table::with_list_meta(t, rv, None)));
    }
    Ok(Reply::json(
        200,
        &with_type_meta(obj, kind.kind, &kind.api_version()),
    ))
}

/// A pod's log, streamed from the bundle.
pub(super) fn pod_log(
    state: &State,
    req: &Request<'_>,
    kind: &ResourceKind,
    ns: &str,
    name: &str,
) -> Result<Reply, ApiError> {
    let pod = find(state, kind, Some(ns), name)?;
    let params = LogParams::from_query(req.query, state.store.now())?;
    let container = logs::choose_container(&pod, name, params.container.as_deref())?;
    let bundle = state.store.bundle();
    let mut path = layout::log_path(ns, name, &container, params.previous);
    if !bundle.contains(&path)
        && !params.previous
        && logs::waiting_after_termination(&pod, &container)
    {
        // The kubelet answers a container waiting to restart with the log
        // of its last terminated instance.
        path = layout::log_path(ns, name, &container, true);
    }
    if !bundle.contains(&path) {
        let missing = crate::missing_log::MissingLog {
            pod: &pod,
            namespace: ns,
            pod_name: name,
            container: &container,
            previous: params.previous,
            path: &path,
        };
        return Err(missing.error(bundle));
    }
    let mut reply = Reply::text(Vec::new());
    reply.warning = logs::timestamps_warning(req.query);
    reply.stream = Some(LogStream {
        source: state.store.open_log(&path)?,
        plan: logs::plan(&params, &pod, &container),
    });
    Ok(reply)
}
