//! `kpm-analyze`: the command line (`cli`: flags, subcommands, reports and
//! exit codes; `convert`: other tools' bundles; `serve`) over the
//! `kpm_analyzer` engine, which knows nothing of the command line.

use clap::Parser;

/// glibc malloc spent ~40 % of a large analysis consolidating free chunks
/// while namespaces are parsed and dropped one after another; mimalloc's
/// per-size-class pages keep that churn cheap (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod convert;
mod diff;
mod exit_codes;
mod serve;
mod verdict;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    cli::run(cli).into()
}
