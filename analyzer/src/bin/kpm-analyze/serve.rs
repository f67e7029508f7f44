//! `kpm-analyze serve`'s flags, mapped onto [`kpm_serve::ServeOptions`] (the
//! library takes plain options; clap stays here). The test knobs work but are
//! hidden from `--help`.

use std::path::PathBuf;

use kpm_serve::{
    ServeOptions, DEFAULT_CACHE_BYTES, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS,
};

/// Command-line arguments of `kpm-analyze serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Bundle to serve: a zip or an unpacked bundle directory.
    pub bundle: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Where to write the kubeconfig (default: a private per-user
    /// directory, `$XDG_RUNTIME_DIR/kpm/` or `~/.cache/kpm/serve/`). Written
    /// 0600 through a temporary file and a rename; an existing path that is
    /// not a regular file (a symlink) is refused.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// A connection that sends no complete request header, or takes no
    /// response bytes, for this many milliseconds is closed (slow or idle
    /// clients cannot hold connections).
    #[arg(long, default_value_t = DEFAULT_IDLE_TIMEOUT_MS)]
    pub idle_timeout_ms: u64,
    /// Connections served at once; further clients wait in the listen
    /// queue until one closes.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Test knob: at most this many items per list page, even when the
    /// client sets no `limit`.
    #[arg(long, hide = true)]
    pub page_size: Option<usize>,
    /// Test knob: delay every request by this many milliseconds.
    #[arg(long, hide = true)]
    pub latency_ms: Option<u64>,
    /// Memory for parsed lists, in MiB: the least recently used lists are
    /// dropped beyond it and parsed again when asked for.
    #[arg(long, default_value_t = DEFAULT_CACHE_BYTES >> 20)]
    pub cache_mib: usize,
    /// Test knob, repeatable: force a failure, e.g. `secrets=403`,
    /// `pods=500`, `events=timeout`, `configmaps=404`, `shop/secrets=403`,
    /// `pods/log=500`, `shop/pods=429x2` (first two requests only), `pods=410`
    /// (expired continue token).
    #[arg(long = "fail", hide = true)]
    pub fail: Vec<String>,
    /// Test knob: do not send the API Priority and Fairness response headers
    /// that a real API server, like this one by default, puts on every
    /// answer: imitates a server without APF.
    #[arg(long, hide = true)]
    pub no_apf: bool,
    /// Test knob: the caller holds exactly the Roles and ClusterRoles in
    /// FILE (YAML documents or a JSON List, e.g. deploy/rbac.yaml); other
    /// requests answer RBAC's 403. Bindings only name the caller.
    #[arg(long, hide = true, value_name = "FILE")]
    pub rbac: Option<PathBuf>,
}

impl From<ServeArgs> for ServeOptions {
    fn from(a: ServeArgs) -> Self {
        ServeOptions {
            bundle: a.bundle,
            port: a.port,
            kubeconfig: a.kubeconfig,
            idle_timeout_ms: a.idle_timeout_ms,
            max_connections: a.max_connections,
            page_size: a.page_size,
            latency_ms: a.latency_ms,
            cache_mib: a.cache_mib,
            fail: a.fail,
            no_apf: a.no_apf,
            rbac: a.rbac,
        }
    }
}
