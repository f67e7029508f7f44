//! List answers: which stored lists answer a scope, and the list body
//! (JSON or Table) written as items are selected.

use std::sync::Arc;

use kpm_bundle::layout::{ResourceKind, Scope};

use super::{Reply, Request, State};
use crate::errors::{ApiError, Gr};
use crate::gaps::Gaps;
use crate::list::{
    combined_resource_version, list_body, select_page, Candidates, ListParams, ListWriter,
};
use crate::store::{Item, Loaded};
use crate::table::{Include, TableWriter};

/// The lists to answer from, or the error replayed from the manifest.
pub(crate) fn lists_for(
    state: &State,
    kind: &ResourceKind,
    ns: Option<&str>,
) -> Result<Vec<Arc<Loaded>>, ApiError> {
    let store = &state.store;
    match (kind.scope, ns) {
        (Scope::Cluster, _) => match store.load(kind, None)? {
            Some(l) => Ok(vec![l]),
            None => Err(store.missing_error(kind, None, "list", None)),
        },
        (Scope::Namespaced, None) => store.load_all(kind).map(|(lists, _)| lists),
        (Scope::Namespaced, Some(ns)) => match store.load(kind, Some(ns))? {
            Some(l) => Ok(vec![l]),
            None if store.namespaces().iter().any(|n| n == ns) => {
                Err(store.missing_error(kind, Some(ns), "list", None))
            }
            None => {
                if store
                    .bundle()
                    .manifest()
                    .outcome_of(kind.plural, Some(ns))
                    .is_some()
                {
                    return Err(store.missing_error(kind, Some(ns), "list", None));
                }
                // A kind collected nowhere is not empty anywhere; a
                // namespace the cluster listed but the bundle has nothing
                // of was not collected.
                store.check_all_namespaces(kind)?;
                if store.namespace_listed(ns) {
                    return Err(store.missing_error(kind, Some(ns), "list", None));
                }
                // A namespace the bundle knows nothing of: empty, as the API
                // server lists a namespace that does not exist.
                Ok(Vec::new())
            }
        },
    }
}

/// The body of a list answer, written as items are selected.
enum Body<'k> {
    Json(ListWriter),
    Table(TableWriter<'k>),
}

impl Body<'_> {
    fn push(&mut self, list: &Loaded, item: &Item) -> Result<(), ApiError> {
        match self {
            Body::Json(w) => {
                w.item(list.raw(item));
                Ok(())
            }
            Body::Table(w) => w.row(list.raw(item)),
        }
    }

    fn finish(self, rv: &str, continue_token: Option<&str>) -> Vec<u8> {
        match self {
            Body::Json(w) => w.finish(rv, continue_token),
            Body::Table(w) => w.finish(rv, continue_token),
        }
    }
}

/// A list answer (or the start of a watch), JSON or Table.
pub(super) fn list(
    state: &State,
    req: &Request<'_>,
    kind: &'static ResourceKind,
    ns: Option<&str>,
) -> Result<Reply, ApiError> {
    if req
        .param("watch")
        .is_some_and(crate::watch::params::is_true)
    {
        return crate::watch::plan(state, req, kind, ns, None).map(Reply::watch);
    }
    let params = ListParams::from_query(req.query, kind.plural)?;
    let cap = state.knobs.page_size;
    let store = &state.store;
    let lists;
    let mut gaps = Gaps::default();
    let (candidates, rv) = match (kind.scope, ns) {
        (Scope::Namespaced, None) => {
            gaps = store.check_all_namespaces(kind)?;
            // `kubectl describe node` asks for the pods and the events of one
            // node across every namespace: answer from an index, not a scan.
            let indexed = crate::index::INDEXED
                .iter()
                .filter(|(plural, _)| *plural == kind.plural)
                .find_map(|(_, field)| {
                    let value = params.field.required(field)?;
                    let index = store.index(kind.plural, field)?;
                    gaps.extend(index.gaps());
                    Some(index.get(value))
                });
            let candidates = match indexed {
                Some(positions) => Candidates::Indexed(store, kind, positions),
                None => Candidates::Namespaces(store, kind),
            };
            (candidates, store.bundle_resource_version())
        }
        _ => {
            lists = lists_for(state, kind, ns)?;
            let rv = combined_resource_version(lists.iter().map(|l| l.resource_version.as_str()));
            (Candidates::Lists(&lists), rv)
        }
    };
    let mut body = if req.table {
        Body::Table(TableWriter::new(
            kind,
            Include::from_query(req.param("includeObject")),
            store.now(),
        )?)
    } else {
        Body::Json(ListWriter::new(&kind.list_kind(), &kind.api_version()))
    };
    let page = select_page(kind.plural, candidates, &params, cap, &mut |l, it| {
        body.push(l, it)
    })?;
    let mut reply = Reply::raw_json(200, body.finish(&rv, page.continue_token.as_deref()));
    gaps.extend(&page.gaps);
    reply.warning = crate::gaps::join(left_out_warning(page.left_out, kind.plural), gaps.warning());
    Ok(reply)
}

/// The `Warning` of a list that passed over objects with invalid names.
pub fn left_out_warning(left_out: usize, plural: &str) -> Option<String> {
    (left_out > 0).then(|| {
        format!(
            "kpm: {left_out} {plural} left out of this list: their names are not valid Kubernetes names (kpm-analyze serve lists them on its standard error)"
        )
    })
}

/// ReplicationControllers are not collected (a kind superseded by
/// Deployments), but `kubectl cluster-info dump` lists them in every
/// namespace and gives up on a 404. They are answered as an empty list, and
/// deliberately left out of discovery so `kubectl get rc` says the snapshot
/// has no such resource.
pub(super) fn replication_controllers(
    state: &State,
    req: &Request<'_>,
    name: Option<&str>,
) -> Result<Reply, ApiError> {
    if let Some(name) = name {
        return Err(ApiError::not_found(
            Gr {
                group: "",
                resource: "replicationcontrollers",
            },
            name,
        ));
    }
    let rv = state.store.bundle_resource_version();
    if req
        .param("watch")
        .is_some_and(crate::watch::params::is_true)
    {
        let plan = crate::watch::Plan::empty(
            "ReplicationController",
            "v1".into(),
            req,
            rv,
            state.store.now(),
        )?;
        return Ok(Reply::watch(plan));
    }
    Ok(Reply::raw_json(
        200,
        list_body("ReplicationControllerList", "v1", &rv, &[], None),
    ))
}
