//! Request routing: URL → discovery, list, get, log or metrics answer.
//!
//! Everything here is synchronous and runs on a blocking thread: the first
//! request for a big list parses it, and that must not stall the runtime.

use std::sync::Arc;

use kpm_bundle::layout::{self, ResourceKind, Scope};
use serde_json::Value;

use crate::discovery::{self, METRICS_GROUP, METRICS_VERSION};
use crate::errors::{ApiError, Gr};
use crate::gaps::Gaps;
use crate::knobs::Target;
use crate::list::{
    combined_resource_version, list_body, select_page, Candidates, ListParams, ListWriter,
};
use crate::logs::{self, LogParams};
use crate::logtail::LogStream;
use crate::store::{Item, Loaded, Store};
use crate::table::{self, Include, TableWriter};

/// Shared server state.
pub struct State {
    /// The bundle and its caches.
    pub(crate) store: Store,
    /// Test knobs.
    pub(crate) knobs: crate::knobs::Knobs,
    /// `127.0.0.1:PORT`, for `/api`.
    pub(crate) server_address: String,
    /// Whether the bundle holds any metrics (serves `metrics.k8s.io`).
    pub(crate) has_metrics: bool,
}

impl State {
    /// Serves `bundle` as reachable at `server_address` (`127.0.0.1:PORT`),
    /// with no test knobs and the default cache budget: what the fuzz
    /// targets answer requests from without a socket.
    pub fn new(bundle: kpm_bundle::Bundle, server_address: String) -> State {
        State::with_budget(bundle, server_address, crate::cache::DEFAULT_BUDGET)
    }

    /// Like [`State::new`], caching about `budget` bytes of parsed lists.
    pub(crate) fn with_budget(
        bundle: kpm_bundle::Bundle,
        server_address: String,
        budget: usize,
    ) -> State {
        State {
            has_metrics: crate::metrics::bundle_has_metrics(&bundle),
            store: Store::with_budget(bundle, budget),
            knobs: crate::knobs::Knobs::default(),
            server_address,
        }
    }

    /// Collection end: the "now" of every age and of `sinceSeconds`.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.store.now()
    }
}

/// A finished answer.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body (sent before `stream`, if any).
    pub body: Vec<u8>,
    /// A body streamed from the bundle (logs) instead of held.
    pub stream: Option<LogStream>,
    /// Text of a `Warning` response header (kubectl prints it).
    pub warning: Option<String>,
    /// A watch to stream after the headers ([`crate::watch`]).
    pub watch: Option<crate::watch::Plan>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply::raw_json(status, serde_json::to_vec(value).unwrap_or_default())
    }

    /// A JSON answer already serialised.
    pub fn raw_json(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body,
            stream: None,
            warning: None,
            watch: None,
        }
    }

    /// The start of a watch stream.
    pub fn watch(plan: crate::watch::Plan) -> Reply {
        let mut reply = Reply::raw_json(200, Vec::new());
        reply.watch = Some(plan);
        reply
    }

    /// A `Status` failure.
    pub fn error(e: &ApiError) -> Reply {
        Reply::json(e.code, &e.to_status())
    }

    fn text(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            stream: None,
            warning: None,
            watch: None,
        }
    }
}

/// What a request asks for, parsed from the URL alone.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// A document that is not about objects (`/version`, discovery, health).
    Static(Vec<String>),
    /// A list, a get, or a subresource of a kind.
    Resource {
        /// API group.
        group: String,
        /// Version.
        version: String,
        /// Plural name.
        plural: String,
        /// Namespace in the URL.
        namespace: Option<String>,
        /// Object name.
        name: Option<String>,
        /// Subresource (`log`, `status`).
        subresource: Option<String>,
    },
}

impl Route {
    /// Parses a URL path.
    pub fn parse(path: &str) -> Route {
        let segs: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let (group, version, rest) = match segs.as_slice() {
            [api, v, rest @ ..] if api == "api" && !rest.is_empty() => {
                (String::new(), v.clone(), rest.to_vec())
            }
            [apis, g, v, rest @ ..] if apis == "apis" && !rest.is_empty() => {
                (g.clone(), v.clone(), rest.to_vec())
            }
            _ => return Route::Static(segs),
        };
        let resource = |plural: &str,
                        namespace: Option<&String>,
                        name: Option<&String>,
                        sub: Option<&String>| Route::Resource {
            group: group.clone(),
            version: version.clone(),
            plural: plural.to_string(),
            namespace: namespace.cloned(),
            name: name.cloned(),
            subresource: sub.cloned(),
        };
        match rest.as_slice() {
            // `namespaces/<ns>/<plural>...`, unless `<plural>` is a
            // subresource of the namespace itself.
            [ns_word, ns, plural, tail @ ..]
                if ns_word == "namespaces" && plural != "status" && plural != "finalize" =>
            {
                match tail {
                    [] => resource(plural, Some(ns), None, None),
                    [name] => resource(plural, Some(ns), Some(name), None),
                    [name, sub] => resource(plural, Some(ns), Some(name), Some(sub)),
                    _ => Route::Static(segs.clone()),
                }
            }
            [plural] => resource(plural, None, None, None),
            [plural, name] => resource(plural, None, Some(name), None),
            [plural, name, sub] => resource(plural, None, Some(name), Some(sub)),
            _ => Route::Static(segs.clone()),
        }
    }

    /// The knob target of this route, if it is about a resource.
    pub fn target<'a>(&'a self, verb: &'a str) -> Option<Target<'a>> {
        match self {
            Route::Static(_) => None,
            Route::Resource {
                group,
                plural,
                namespace,
                name,
                subresource,
                ..
            } => Some(Target {
                gr: Gr {
                    group,
                    resource: plural,
                },
                subresource: subresource.as_deref().filter(|s| *s != "status"),
                namespace: namespace.as_deref(),
                name: name.as_deref(),
                verb,
            }),
        }
    }
}

/// The request as the router needs it.
pub struct Request<'a> {
    /// Parsed path.
    pub route: &'a Route,
    /// Decoded query pairs.
    pub query: &'a [(String, String)],
    /// Whether the client asked for a `meta.k8s.io` Table.
    pub table: bool,
}

impl Request<'_> {
    fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(qk, _)| qk == k)
            .map(|(_, v)| v.as_str())
    }
}

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

fn list(
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
fn replication_controllers(
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

fn get(
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

fn pod_log(
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

#[cfg(test)]
mod tests;
