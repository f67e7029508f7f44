//! `kpm-collect`: snapshot a Kubernetes cluster into a kpm bundle.
//!
//! Read-only, gentle (paged, rate limited, bounded concurrency, per-request
//! and whole-run timeouts), never half way (every failure is a recorded step;
//! Ctrl-C and `--timeout` still produce a valid bundle), and redacted before
//! anything touches the disk. See `cli.rs` for flags,
//! `exit_codes.rs` for exit codes and `run.rs` for the phases of a run.

mod alloc;
mod cli;
mod collect;
mod connect;
mod exit_codes;
mod fetch;
mod infra;
mod logs;
mod outcome;
mod progress;
mod ratelimit;
mod redact;
mod retry;
mod run;
mod sink;
mod spool;
mod summary;

use clap::Parser;

use crate::cli::Args;
use crate::exit_codes::ExitCode;

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
    match runtime.block_on(run::run(args)) {
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
