//! `kpm-analyze`: thin binary over the `kpm_analyzer` library.

use clap::Parser;

/// glibc malloc spent ~40 % of a large analysis consolidating free chunks
/// while namespaces are parsed and dropped one after another; mimalloc's
/// per-size-class pages keep that churn cheap (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = kpm_analyzer::cli::Cli::parse();
    kpm_analyzer::cli::run(cli).into()
}
