//! What a request asks for, parsed from the URL and query alone.

use crate::errors::Gr;
use crate::knobs::Target;

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
    /// The first value of query parameter `k`.
    pub(super) fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(qk, _)| qk == k)
            .map(|(_, v)| v.as_str())
    }
}
