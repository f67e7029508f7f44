//! A bundle served in-process with `kpm_serve::start` on a free localhost
//! port for the duration of one test: the one way the `serve_*` tests (which
//! point kubectl at it) and the `collect_*` tests (which point kpm-collect at
//! it) start the snapshot server.
//!
//! Used by `support::serve` and `support::collect`. It lives in the test
//! binary rather than the kpm-e2e library, which stays free of the
//! kpm-serve/tokio dependencies for crates that only need its paths.

use std::path::{Path, PathBuf};

/// Test knobs of the served API (see `kpm_serve::ServeArgs`).
#[derive(Default, Clone)]
pub struct Knobs {
    /// Largest page a list returns before handing out a `continue` token.
    pub page_size: Option<usize>,
    /// Delay added to every request.
    pub latency_ms: Option<u64>,
    /// Request paths answered with an error.
    pub fail: Vec<String>,
    /// Leave out the API Priority and Fairness response headers.
    pub no_apf: bool,
    /// `--idle-timeout-ms` (header read and stalled write), when not the
    /// default.
    pub idle_timeout_ms: Option<u64>,
    /// `--max-connections`, when not the default.
    pub max_connections: Option<usize>,
    /// `--rbac FILE`: the caller's Roles and ClusterRoles.
    pub rbac: Option<PathBuf>,
}

impl Knobs {
    /// Only pagination: lists in pages of `n` items.
    pub fn page_size(n: usize) -> Self {
        Knobs {
            page_size: Some(n),
            ..Knobs::default()
        }
    }

    /// Only latency: every request delayed by `ms` milliseconds.
    pub fn latency_ms(ms: u64) -> Self {
        Knobs {
            latency_ms: Some(ms),
            ..Knobs::default()
        }
    }
}

/// A running snapshot server plus the runtime that drives it; shut down
/// when dropped.
pub struct Served {
    /// Where the kubeconfig and scratch files live (also `HOME` for the
    /// clients, so they find no other cluster or cache).
    pub dir: tempfile::TempDir,
    /// The kubeconfig the server wrote for its clients.
    pub kubeconfig: PathBuf,
    /// `127.0.0.1:PORT`.
    pub addr: std::net::SocketAddr,
    /// The bearer token the server requires.
    pub token: String,
    server: Option<kpm_serve::RunningServer>,
    rt: tokio::runtime::Runtime,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// Serves `bundle` with `knobs`; panics when the server does not start.
pub fn serve(bundle: &Path, knobs: Knobs) -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let args = kpm_serve::ServeArgs {
        bundle: bundle.to_path_buf(),
        port: 0,
        kubeconfig: Some(kubeconfig.clone()),
        page_size: knobs.page_size,
        latency_ms: knobs.latency_ms,
        cache_mib: kpm_serve::DEFAULT_CACHE_BYTES >> 20,
        fail: knobs.fail,
        no_apf: knobs.no_apf,
        idle_timeout_ms: knobs
            .idle_timeout_ms
            .unwrap_or(kpm_serve::DEFAULT_IDLE_TIMEOUT_MS),
        max_connections: knobs
            .max_connections
            .unwrap_or(kpm_serve::DEFAULT_MAX_CONNECTIONS),
        rbac: knobs.rbac,
    };
    let server = rt.block_on(kpm_serve::start(args)).expect("serve starts");
    assert_eq!(server.kubeconfig, kubeconfig);
    Served {
        dir,
        kubeconfig,
        addr: server.addr,
        token: server.token.clone(),
        server: Some(server),
        rt,
    }
}
