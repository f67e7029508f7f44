//! `kpm-analyze serve`'s flags, mapped onto [`kpm_serve::ServeOptions`] (the
//! library takes plain options; clap stays here), and what it prints. The
//! test knobs work but are hidden from `--help`.

use std::path::PathBuf;

use kpm_serve::{
    RunningServer, ServeOptions, DEFAULT_CACHE_BYTES, DEFAULT_IDLE_TIMEOUT_MS,
    DEFAULT_MAX_CONNECTIONS,
};

use crate::cli::report_error;
use crate::exit_codes::ExitCode;

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
    /// Do not print the startup line on stderr; stdout still carries the
    /// `export KUBECONFIG=…` line.
    #[arg(short = 'q', long)]
    pub quiet: bool,
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

/// Serves until Ctrl-C. Once listening, stdout gets the line a shell
/// evaluates (`export KUBECONFIG=…`) and stderr, unless `--quiet`, one line
/// saying what is served where; a failure to start is one error line.
pub fn run(args: ServeArgs) -> ExitCode {
    let quiet = args.quiet;
    let bundle = args.bundle.clone();
    let announce = |server: &RunningServer| {
        // stderr first: a caller that waits for the stdout line finds both.
        if !quiet {
            eprintln!("{}", startup_line(&bundle, server));
        }
        println!("export KUBECONFIG={}", server.kubeconfig.display());
    };
    match kpm_serve::run(args.into(), announce) {
        Ok(()) => ExitCode::Success,
        Err(e) => {
            report_error("kpm-analyze serve", &format!("{e:#}"));
            ExitCode::Bundle
        }
    }
}

/// `BUNDLE: served read-only at URL until Ctrl-C — export KUBECONFIG=FILE`,
/// with control characters of the paths shown visibly.
fn startup_line(bundle: &std::path::Path, server: &RunningServer) -> String {
    kpm_report::escape::terminal(&format!(
        "{}: served read-only at {} until Ctrl-C — export KUBECONFIG={}",
        bundle.display(),
        server.url(),
        server.kubeconfig.display()
    ))
    .into_owned()
}
