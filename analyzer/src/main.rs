//! `kpm-analyze`: thin binary over the `kpm_analyzer` library.

use clap::Parser;

fn main() {
    let cli = kpm_analyzer::cli::Cli::parse();
    std::process::exit(kpm_analyzer::cli::run(cli));
}
