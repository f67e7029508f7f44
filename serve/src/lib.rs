//! Read-only Kubernetes API over a bundle.
//!
//! `kpm-analyze serve BUNDLE` starts this server on loopback and writes a
//! kubeconfig, so real `kubectl` (get, describe, logs, top, cluster-info
//! dump) works against the snapshot as it would have against the cluster at
//! collection time: same objects, same printed columns, same error texts.
//! Everything is read-only; writes are refused with 405.
//!
//! What differs from a live API server, by design or by necessity:
//!
//! * Ages printed by the server (the AGE column, "(3m ago)") are relative to
//!   the collection end (`manifest.collection.finishedAt`); ages kubectl
//!   computes itself (`kubectl describe`) use the local clock. Every answer's
//!   `Date` header is the snapshot's clock (collection end plus the time
//!   serve has been running), so a collector run against serve stamps its
//!   bundle as the cluster's clock would have.
//! * A watch (`watch=true`) replays the state as `ADDED` events when asked
//!   to, then stays open with only bookmarks until the client leaves or its
//!   timeout passes: a snapshot never changes, so `kubectl get -w`, `rollout
//!   status` and `wait` report what it shows and keep waiting (module `watch`).
//! * OpenAPI documents (`/openapi/v3`, `/openapi/v2` also as protobuf) are
//!   generated from the `k8s-openapi` types for the served kinds
//!   (module `openapi`), so `kubectl explain` works offline.
//! * Discovery is served in both forms, aggregated (module `aggregated`)
//!   and legacy (module `discovery`); every kind's verbs are get, list and watch.
//! * A kind the manifest records as forbidden answers 403 in RBAC wording
//!   for user `kpm-snapshot`; a kind not collected answers 404 saying so,
//!   for one namespace as for all of them. An all-namespaces list that must
//!   leave some namespaces out (not collected, forbidden or failed there, or
//!   a file that cannot be read) answers the rest and names what it left
//!   out in a `Warning: 299` header (module `gaps`); only a request for
//!   exactly a damaged file fails.
//! * A missing log answers with its collection outcome (module
//!   `missing_log`); the kubelet's state messages only when the pod's
//!   recorded state proves there was no log.
//! * Objects are served as a current API server returns them from storage
//!   (module `current`): Services defaulted on read, EndpointSlices made
//!   from Endpoints where the bundle has none. The bundle is not changed.
//! * events.k8s.io/v1 Events are the core Events converted as the API
//!   server converts them (module `events`); get and list only.
//! * ReplicationControllers are never collected; they are answered as an
//!   empty list (not advertised) so `kubectl cluster-info dump` works.
//! * Logs: see the `logs` module for how `sinceSeconds` and `timestamps` behave on
//!   stored logs.
//!
//! * The only writes accepted are `POST`s of `SelfSubjectAccessReview`
//!   and `SelfSubjectRulesReview` (`kubectl auth can-i [--list]`,
//!   `kpm-collect --dry-run`), JSON or protobuf: they store nothing and
//!   answer what the snapshot serves (reads of what it holds, no writes,
//!   with the reason), narrowed by the `--rbac FILE` test knob (modules
//!   `access`, `review`, `rbac`; protobuf bodies in `wire`).
//!
//! * Access needs the per-run token (a path prefix in the kubeconfig's
//!   server URL, or a bearer header) and a loopback `Host`; connections are
//!   bounded by timeouts and a limit; objects with names no API server
//!   accepts are not served. See the modules `guard`, `server` and
//!   `docs/security.md`.
//!
//! Module map: `server` (HTTP), `routes` (URL → answer), `discovery`
//! (legacy) and `aggregated`, `openapi` (documents for `kubectl explain`),
//! `store` (lazy lists), `cache` (bounded by bytes), `index` (field
//! indexes across namespaces), `list` (selection, paging, list bodies),
//! `selectors`, `table` (server-side printing), `logs`, `missing_log`,
//! `metrics`, `logtail` (streaming), `watch`, `errors`, `gaps` (what a list
//! left out), `current` (read defaulting), `knobs` (test knobs), `rbac`,
//! `kubeconfig`, `guard` (token and `Host`).

mod access;
mod aggregated;
mod cache;
mod current;
mod discovery;
mod errors;
mod events;
mod gaps;
mod guard;
mod index;
mod knobs;
mod kubeconfig;
mod list;
mod logs;
mod logtail;
mod metrics;
mod missing_log;
mod openapi;
mod rbac;
mod review;
mod routes;
mod selectors;
mod server;
mod store;
mod table;
mod watch;
mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

// The library's surface: what `kpm-analyze serve` (the options and their
// defaults), the end-to-end tests (`tests/`: start a server, the RBAC model)
// and the fuzz targets (`fuzz/`: one request through admission, routing
// and the parsers, without a socket) use.
pub use cache::DEFAULT_BUDGET as DEFAULT_CACHE_BYTES;
pub use errors::{ApiError, ServeError};
pub use guard::{is_public, strip_token, Access};
pub use logs::LogParams;
pub use rbac::{Rbac, Rule};
pub use routes::{handle, Reply, Request, Route, State};
pub use selectors::{FieldSelector, LabelSelector};
pub use server::{admit, wants_table, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS};

/// What to serve and how: plain options, so the library knows nothing of
/// the command line (`kpm-analyze serve` maps its flags onto them; tests
/// build them directly). The test knobs (`page_size`, `latency_ms`, `fail`,
/// `no_apf`) are for end-to-end tests and stay off in real use.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Bundle to serve: a zip or an unpacked bundle directory.
    pub bundle: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Where to write the kubeconfig (default: a private per-user
    /// directory, `$XDG_RUNTIME_DIR/kpm/` or `~/.cache/kpm/serve/`). Written
    /// 0600 through a temporary file and a rename; an existing path that is
    /// not a regular file (a symlink) is refused.
    pub kubeconfig: Option<PathBuf>,
    /// A connection that sends no complete request header, or takes no
    /// response bytes, for this many milliseconds is closed (slow or idle
    /// clients cannot hold connections). Usually
    /// [`DEFAULT_IDLE_TIMEOUT_MS`].
    pub idle_timeout_ms: u64,
    /// Connections served at once; further clients wait in the listen
    /// queue until one closes. Usually [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// Test knob: at most this many items per list page, even when the
    /// client sets no `limit`.
    pub page_size: Option<usize>,
    /// Test knob: delay every request by this many milliseconds.
    pub latency_ms: Option<u64>,
    /// Memory for parsed lists, in MiB: the least recently used lists are
    /// dropped beyond it and parsed again when asked for. Usually
    /// [`DEFAULT_CACHE_BYTES`] in MiB.
    pub cache_mib: usize,
    /// Test knob: forced failures, e.g. `secrets=403`,
    /// `pods=500`, `events=timeout`, `configmaps=404`, `shop/secrets=403`,
    /// `pods/log=500`, `shop/pods=429x2` (first two requests only), `pods=410`
    /// (expired continue token).
    pub fail: Vec<String>,
    /// Test knob: do not send the API Priority and Fairness response headers
    /// (`X-Kubernetes-PF-FlowSchema-UID`, `X-Kubernetes-PF-PriorityLevel-UID`)
    /// that a real API server, like this one by default, puts on every
    /// answer: imitates a server without APF.
    pub no_apf: bool,
    /// Test knob: the caller holds exactly the Roles and ClusterRoles in
    /// FILE (YAML documents or a JSON List, e.g. deploy/rbac.yaml); other
    /// requests answer RBAC's 403. Bindings only name the caller.
    pub rbac: Option<PathBuf>,
}

/// The former name of [`ServeOptions`], kept while the end-to-end tests
/// (`tests/`) still spell it.
pub type ServeArgs = ServeOptions;

/// A server started by [`start`]. Dropping it stops the server.
pub struct RunningServer {
    /// Address it listens on.
    pub addr: SocketAddr,
    /// The kubeconfig written for it.
    pub kubeconfig: PathBuf,
    /// The bearer token every request must carry (also in the kubeconfig).
    pub token: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, drops open connections and waits for the server
    /// task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Opens the bundle, binds 127.0.0.1, writes the kubeconfig and serves in
/// the background of the current tokio runtime.
pub async fn start(args: ServeOptions) -> Result<RunningServer, ServeError> {
    let mut knobs = knobs::Knobs::new(args.page_size, args.latency_ms, &args.fail)?;
    knobs.no_apf = args.no_apf;
    if let Some(path) = &args.rbac {
        knobs.rbac = Some(Arc::new(rbac::Rbac::load(path)?));
    }
    let bundle = kpm_bundle::Bundle::open(&args.bundle)?;
    let wanted = server::loopback(args.port);
    let listener = TcpListener::bind(wanted)
        .await
        .map_err(|cause| ServeError::Bind {
            addr: wanted,
            cause,
        })?;
    let addr = listener.local_addr().map_err(|cause| ServeError::Bind {
        addr: wanted,
        cause,
    })?;
    let token = guard::new_token().map_err(|cause| ServeError::Token { cause })?;
    let kubeconfig = match &args.kubeconfig {
        Some(path) => path.clone(),
        None => kubeconfig::default_path(&args.bundle, addr.port())?,
    };
    let text = kubeconfig::render(bundle.manifest(), &format!("http://{addr}/{token}"), &token);
    kubeconfig::write_private(&kubeconfig, &text)?;
    let budget = args.cache_mib.saturating_mul(1 << 20);
    let mut state = State::with_budget(bundle, addr.to_string(), budget);
    state.knobs = knobs;
    let state = Arc::new(state);
    // Build the field indexes while the first requests are answered: they
    // read every namespace once, which `kubectl describe node` must not
    // wait for. A request that needs one before it is ready waits for it.
    let warm = state.clone();
    std::thread::Builder::new()
        .name("kpm-serve-index".into())
        .spawn(move || warm.store.warm_indexes())
        .map_err(|cause| ServeError::Thread { cause })?;
    let (stop, stopped) = oneshot::channel();
    let conn = server::Connections {
        access: guard::Access {
            token: token.clone(),
            port: addr.port(),
        },
        idle_timeout: std::time::Duration::from_millis(args.idle_timeout_ms.max(1)),
        max_connections: args.max_connections.max(1),
    };
    let task = tokio::spawn(server::accept_loop(listener, state, conn, stopped));
    Ok(RunningServer {
        addr,
        kubeconfig,
        token,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Blocking entry point of `kpm-analyze serve`: serves until Ctrl-C, after
/// calling `started` once the server answers (the command line says there
/// where it listens). Errors name the bundle or address themselves.
pub fn run(args: ServeOptions, started: impl FnOnce(&RunningServer)) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = start(args).await?;
        started(&server);
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        server.shutdown().await;
        Ok(())
    })
}
