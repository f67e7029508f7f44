//! What the snapshot lets its reader do, for `kubectl auth can-i`
//! (`SelfSubjectAccessReview`) and `kubectl auth can-i --list`
//! (`SelfSubjectRulesReview`): the truth about this server, not a copy of
//! the cluster's RBAC.
//!
//! * Reads (`get`, `list`, `watch`) of a kind the bundle holds are allowed
//!   where it holds them; a kind the collector was forbidden to read, or did
//!   not collect, is not, and the reason says which (kubectl prints it:
//!   `no - …`). A namespace the bundle knows nothing of lists empty, as on
//!   the API server, so reads there are allowed.
//! * `pods/log` is allowed where the bundle holds container logs; `status`
//!   subresources where their kind is; `metrics.k8s.io` (`get`, `list`) when
//!   the bundle holds metrics.
//! * Every write is refused, with the reason that the server is a
//!   read-only snapshot, except `create` of the two reviews themselves
//!   (which store nothing, as on a cluster).
//! * Non-resource paths: `get` of discovery, `/version`, `/openapi` and the
//!   health checks.

use kpm_bundle::layout::{self, ResourceKind, Scope};
use kpm_bundle::Outcome;
use serde_json::{json, Value};

use crate::discovery::{METRICS_GROUP, METRICS_VERSION};
use crate::errors::Gr;
use crate::rbac::Attributes;
use crate::routes::State;

/// The group of the reviews.
pub const AUTHORIZATION_GROUP: &str = "authorization.k8s.io";

/// The review resources every caller may create.
pub const REVIEWS: &[&str] = &["selfsubjectaccessreviews", "selfsubjectrulesreviews"];

/// Verbs that only read.
pub const READ_VERBS: &[&str] = &["get", "list", "watch"];

/// Non-resource paths readable (RBAC patterns: a trailing `*` is a prefix).
pub const READABLE_PATHS: &[&str] = &[
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
];

/// The discovery entries of the reviews (`authorization.k8s.io/v1`): only
/// `create`, as on the API server.
pub fn review_resources() -> Vec<Value> {
    [
        ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
        ("selfsubjectrulesreviews", "SelfSubjectRulesReview"),
    ]
    .iter()
    .map(|(name, kind)| {
        json!({"name": name, "singularName": "", "namespaced": false, "kind": kind, "verbs": ["create"]})
    })
    .collect()
}

/// The answer to one access question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request would be served.
    pub allowed: bool,
    /// Why (kubectl prints it after `no - `); empty when allowed.
    pub reason: String,
}

impl Decision {
    fn yes() -> Decision {
        Decision {
            allowed: true,
            reason: String::new(),
        }
    }

    fn no(reason: impl Into<String>) -> Decision {
        Decision {
            allowed: false,
            reason: reason.into(),
        }
    }
}

fn read_only(verb: &str) -> Decision {
    Decision::no(format!(
        "{verb} is not allowed: this API server is a read-only snapshot served by kpm from a bundle; nothing can be changed"
    ))
}

/// Whether an RBAC pattern (`/apis/*`) covers `path`.
fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

/// Decides `attrs` against the snapshot.
pub fn decide(state: &State, attrs: &Attributes<'_>) -> Decision {
    match *attrs {
        Attributes::NonResource { verb, path } => {
            if verb != "get" && verb != "head" {
                return read_only(verb);
            }
            if READABLE_PATHS.iter().any(|p| path_matches(p, path)) {
                Decision::yes()
            } else {
                Decision::no(format!("{path} is not served by this snapshot"))
            }
        }
        Attributes::Resource {
            verb,
            group,
            resource,
            subresource,
            namespace,
            ..
        } => {
            if verb == "create" && group == AUTHORIZATION_GROUP && REVIEWS.contains(&resource) {
                return Decision::yes();
            }
            if !READ_VERBS.contains(&verb) {
                return read_only(verb);
            }
            decide_read(state, verb, group, resource, subresource, namespace)
        }
    }
}

fn decide_read(
    state: &State,
    verb: &str,
    group: &str,
    resource: &str,
    subresource: Option<&str>,
    namespace: Option<&str>,
) -> Decision {
    let namespace = namespace.filter(|n| !n.is_empty());
    if group == METRICS_GROUP {
        return if !state.has_metrics {
            Decision::no("the snapshot holds no metrics (metrics.k8s.io was not collected)")
        } else if verb == "watch" || !matches!(resource, "pods" | "nodes") || subresource.is_some()
        {
            Decision::no(format!(
                "{METRICS_GROUP}/{METRICS_VERSION} serves only get and list of pods and nodes"
            ))
        } else {
            Decision::yes()
        };
    }
    // events.k8s.io Events are the core Events, converted (no watch).
    let (group, resource) = if group == crate::events::GROUP && resource == "events" {
        if verb == "watch" {
            return Decision::no(format!(
                "watch of {}/{} events is not served by this snapshot",
                crate::events::GROUP,
                crate::events::VERSION
            ));
        }
        ("", "events")
    } else {
        (group, resource)
    };
    let Some(kind) = layout::all_kinds().find(|k| k.group == group && k.plural == resource) else {
        let gr = Gr { group, resource };
        return Decision::no(format!("the snapshot holds no resource {}", gr.qualified()));
    };
    match subresource {
        None => {}
        Some("status") if verb == "get" => {}
        Some("log") if verb == "get" && kind.plural == "pods" => {
            return logs_readable(state, namespace);
        }
        Some(other) => {
            return Decision::no(format!(
                "the snapshot serves no {verb} of {}/{other}",
                kind.plural
            ))
        }
    }
    kind_readable(state, kind, namespace)
}

/// Whether the bundle holds container logs in `namespace` (anywhere for
/// every namespace).
fn logs_readable(state: &State, namespace: Option<&str>) -> Decision {
    let prefix = match namespace {
        Some(ns) => format!("logs/{ns}/"),
        None => "logs/".to_string(),
    };
    if state
        .store
        .bundle()
        .entries()
        .any(|e| e.starts_with(&prefix))
    {
        return Decision::yes();
    }
    Decision::no(match namespace {
        Some(ns) => format!("no container logs were collected in namespace {ns}"),
        None => "no container logs were collected".to_string(),
    })
}

/// Whether a list of `kind` in `namespace` (every namespace when None)
/// would be answered.
fn kind_readable(state: &State, kind: &ResourceKind, namespace: Option<&str>) -> Decision {
    let store = &state.store;
    let bundle = store.bundle();
    let gr = Gr {
        group: kind.group,
        resource: kind.plural,
    };
    let why_missing = |ns: Option<&str>| {
        let place = ns.map_or_else(String::new, |ns| format!(" in namespace {ns}"));
        match bundle.manifest().outcome_of(kind.plural, ns) {
            Some(Outcome::Forbidden) => format!(
                "the collector was forbidden to read {}{place}: the snapshot holds none",
                gr.qualified()
            ),
            Some(Outcome::Ok) | None => {
                format!("{}{place} were not collected", gr.qualified())
            }
            Some(_) => format!(
                "collecting {}{place} failed: the snapshot holds none",
                gr.qualified()
            ),
        }
    };
    match (kind.scope, namespace) {
        (Scope::Cluster, _) => match kind.path(None) {
            Some(p) if bundle.contains(&p) => Decision::yes(),
            _ => Decision::no(why_missing(None)),
        },
        (Scope::Namespaced, Some(ns)) => {
            let stored = store.holds(kind, ns);
            let known = store.namespaces().iter().any(|n| n == ns);
            let recorded = bundle
                .manifest()
                .outcome_of(kind.plural, Some(ns))
                .is_some();
            if stored || (!known && !recorded) {
                Decision::yes()
            } else {
                Decision::no(why_missing(Some(ns)))
            }
        }
        (Scope::Namespaced, None) => {
            if store.check_all_namespaces(kind).is_err() {
                return Decision::no(why_missing(None));
            }
            let any = store.namespaces().iter().any(|ns| store.holds(kind, ns));
            if any {
                Decision::yes()
            } else {
                Decision::no(format!("{} were not collected", gr.qualified()))
            }
        }
    }
}

/// The `status` of a `SelfSubjectRulesReview` in `namespace`: the rules
/// [`decide`] applies there, as `resourceRules` and `nonResourceRules`.
pub fn rules(state: &State, namespace: &str) -> Value {
    let ns = Some(namespace).filter(|n| !n.is_empty());
    let mut resource_rules = vec![json!({
        "verbs": ["create"], "apiGroups": [AUTHORIZATION_GROUP], "resources": REVIEWS,
    })];
    let mut groups: Vec<&str> = Vec::new();
    for k in layout::all_kinds() {
        if !groups.contains(&k.group) {
            groups.push(k.group);
        }
    }
    for group in groups {
        let readable: Vec<&str> = layout::all_kinds()
            .filter(|k| k.group == group)
            .filter(|k| kind_readable(state, k, ns).allowed)
            .map(|k| k.plural)
            .collect();
        if !readable.is_empty() {
            resource_rules
                .push(json!({"verbs": READ_VERBS, "apiGroups": [group], "resources": readable}));
        }
    }
    let events = layout::kind_by_plural("events");
    if events.is_some_and(|k| kind_readable(state, k, ns).allowed) {
        resource_rules.push(json!({"verbs": ["get", "list"], "apiGroups": [crate::events::GROUP], "resources": ["events"]}));
    }
    if logs_readable(state, ns).allowed {
        resource_rules
            .push(json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}));
    }
    if state.has_metrics {
        resource_rules.push(
            json!({"verbs": ["get", "list"], "apiGroups": [METRICS_GROUP], "resources": ["nodes", "pods"]}),
        );
    }
    json!({
        "resourceRules": resource_rules,
        "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": READABLE_PATHS}],
        "incomplete": false,
    })
}
