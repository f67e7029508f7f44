//! serve's request handling without a socket: an input is a request head
//! (`GET <target>` then `Name: value` header lines). It goes through
//! `server::admit` (Host and token checks) when it makes a valid
//! `http::Request`, and in any case through `Route::parse`, the query
//! decoding serve uses, the selector and log-option parsers and
//! `routes::handle` over a scenario bundle read in place; a streamed log
//! answer is drained.

use anyhow::{Context, Result};
use kpm_bundle::layout::{self, Scope};
use kpm_bundle::Bundle;
use kpm_serve::{Access, FieldSelector, LabelSelector, LogParams, Request, Route, State};

use super::Target;
use crate::corpus::{self, Paths};
use crate::mutate::{Mutator, Shape};

/// The token of the fuzzed server (seeds carry it, mutations break it).
const TOKEN: &str = "f00dfeed";
/// The port the `Host` must name.
const PORT: u16 = 8001;

/// URL pieces and query parameters kubectl sends.
const DICT: &[&str] = &[
    "/api/v1/",
    "/apis/apps/v1/",
    "/apis/metrics.k8s.io/v1beta1/",
    "namespaces/",
    "/log",
    "/status",
    "?",
    "&",
    "=",
    "%2F",
    "%3D",
    "%",
    "+",
    "labelSelector=",
    "fieldSelector=",
    "limit=",
    "continue=",
    "watch=true",
    "tailLines=",
    "limitBytes=",
    "sinceSeconds=",
    "sinceTime=",
    "previous=true",
    "timestamps=true",
    "container=",
    "resourceVersion=",
    "includeObject=Object",
    "Host: ",
    "Accept: application/json;as=Table;v=v1;g=meta.k8s.io",
    "Authorization: Bearer ",
    "/f00dfeed",
    "127.0.0.1:8001",
    "localhost:8001",
    "[::1]:8001",
];

/// See the module docs.
pub struct ServeTarget {
    state: State,
    access: Access,
}

impl ServeTarget {
    /// Serves `testdata/demo` (it has metrics) as `kpm-analyze serve` would.
    pub fn new(paths: &Paths) -> Result<ServeTarget> {
        let base = paths.testdata().join("demo");
        let bundle = Bundle::open_with(&base, super::fuzz_budgets())
            .with_context(|| format!("opening {}", base.display()))?;
        let state = State::new(bundle, format!("127.0.0.1:{PORT}"));
        let access = Access {
            token: TOKEN.to_string(),
            port: PORT,
        };
        Ok(ServeTarget { state, access })
    }

    fn route(&self, path: &str, query: &str, table: bool) {
        let route = Route::parse(path);
        let _ = route.target("get");
        let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (k, v) in &query {
            match k.as_str() {
                "labelSelector" => drop(LabelSelector::parse(v)),
                "fieldSelector" => {
                    if let Ok(f) = FieldSelector::parse(v) {
                        let _ = f.validate("pods");
                    }
                }
                _ => {}
            }
        }
        let _ = LogParams::from_query(&query, self.state.now());
        let req = Request {
            route: &route,
            query: &query,
            table,
        };
        let reply = kpm_serve::handle(&self.state, &req);
        if let Some(stream) = reply.stream {
            let mut sent = 0usize;
            let _ = stream.run(&mut |piece| {
                sent += piece.len();
                true
            });
        }
    }
}

impl Target for ServeTarget {
    fn name(&self) -> &'static str {
        "serve"
    }

    fn mutator(&self) -> Mutator {
        Mutator::new(Shape::Text, DICT, 256 << 10)
    }

    fn seeds(&self, paths: &Paths) -> Vec<Vec<u8>> {
        let mut out = corpus::files_in(&paths.seeds("serve"));
        let head = "Host: 127.0.0.1:8001\nAccept: application/json";
        for kind in layout::all_kinds() {
            let prefix = if kind.group.is_empty() {
                format!("/api/{}", kind.version)
            } else {
                format!("/apis/{}/{}", kind.group, kind.version)
            };
            let urls = match kind.scope {
                Scope::Cluster => vec![format!("{prefix}/{}?limit=500", kind.plural)],
                Scope::Namespaced => vec![
                    format!("{prefix}/{}?limit=500&labelSelector=app%3Dweb", kind.plural),
                    format!(
                        "{prefix}/namespaces/shop/{}?fieldSelector=metadata.name%3Dx",
                        kind.plural
                    ),
                ],
            };
            for url in urls {
                out.push(format!("GET /{TOKEN}{url}\n{head}").into_bytes());
                out.push(format!("GET {url}\n{head};as=Table;v=v1;g=meta.k8s.io\nAuthorization: Bearer {TOKEN}").into_bytes());
            }
        }
        out
    }

    fn run(&mut self, input: &[u8]) -> bool {
        let text = String::from_utf8_lossy(input);
        let mut lines = text.split('\n');
        let first = lines.next().unwrap_or("");
        let target = first.split_once(' ').map_or(first, |(_, t)| t);
        let mut builder = hyper::Request::builder().uri(target);
        let mut accept = String::new();
        for line in lines {
            if let Some((k, v)) = line.split_once(':') {
                let v = v.trim_start();
                if k.eq_ignore_ascii_case("accept") {
                    accept = v.to_string();
                }
                builder = builder.header(k, v);
            }
        }
        let table = kpm_serve::wants_table(&accept);
        let (raw_path, query) = target.split_once('?').unwrap_or((target, ""));
        let admitted = match builder.body(()) {
            Ok(req) => kpm_serve::admit(&self.access, &req).ok(),
            Err(_) => None,
        };
        // The router sees what admit passed on, and also the raw path: a
        // mangled Host must not keep the fuzzer away from the router.
        if let Some(path) = &admitted {
            self.route(path, query, table);
        }
        let stripped = kpm_serve::strip_token(raw_path, TOKEN).unwrap_or(raw_path);
        let _ = kpm_serve::is_public(raw_path);
        self.route(stripped, query, table);
        admitted.is_some()
    }
}
