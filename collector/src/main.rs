//! `kpm-collect`: snapshot a Kubernetes cluster into a kpm bundle.
//!
//! Read-only, gentle (paged, rate limited, bounded concurrency, per-request
//! and whole-run timeouts), never half way (every failure is a recorded step;
//! Ctrl-C and `--timeout` still produce a valid bundle), and redacted before
//! anything touches the disk. See `cli.rs` for flags,
//! `exit_codes.rs` for exit codes and `run.rs` for the phases of a run.

mod alloc;
mod budget;
mod cli;
mod collect;
mod connect;
mod dryrun;
mod exit_codes;
mod fetch;
mod infra;
mod logs;
mod outcome;
mod progress;
mod ratelimit;
mod rebundle;
mod redact;
mod retry;
mod run;
mod sink;
mod spool;
mod summary;

use clap::Parser;

use crate::cli::Args;
use crate::exit_codes::ExitCode;

/// `--version`: the package version and the git commit it was built from
/// (`unknown` outside a git checkout; see `build.rs`).
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("KPM_GIT_COMMIT"),
    ")"
);

fn main() -> std::process::ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // What clap's `exit` does, with our code: usage errors on
            // stderr, `--help` and `--version` on stdout.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::Usage
            } else {
                ExitCode::Success
            }
            .into();
        }
    };
    if let Some(cli::Command::Redact(r)) = &args.command {
        // Offline: no cluster, no async runtime.
        return exit_with(rebundle::redact(r));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kpm-collect: cannot start the async runtime: {e}");
            return ExitCode::Startup.into();
        }
    };
    exit_with(runtime.block_on(run::run(args)))
}

/// The process exit code of a finished command, printing a fatal error.
fn exit_with(result: Result<ExitCode, run::Fatal>) -> std::process::ExitCode {
    match result {
        Ok(code) => code.into(),
        Err(f) => {
            eprintln!(
                "kpm-collect: {}",
                outcome::one_line(&format!("{:#}", f.error))
            );
            f.code.into()
        }
    }
}
