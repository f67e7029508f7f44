//! `kpm-analyze convert`: writes a kpm bundle (format v1) from a
//! troubleshoot support bundle or a `kubectl cluster-info dump` folder, so
//! a ticket's attachment can be kept, verified and served like any bundle.

use std::path::PathBuf;

use clap::Args;
use kpm_bundle::foreign::{self, SourceLimits};
use kpm_bundle::BundleWriter;

use crate::exit_codes::ExitCode;

/// Arguments of `kpm-analyze convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// A troubleshoot support bundle (`.tar.gz` or extracted folder) or a
    /// `kubectl cluster-info dump --output-directory` folder.
    pub input: PathBuf,
    /// The kpm bundle to write (a zip).
    #[arg(short = 'o', long = "output", value_name = "OUT.zip")]
    pub output: PathBuf,
    /// Replace OUT.zip when it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs the conversion; prints what was written, or the error, on stderr.
pub fn run(args: &ConvertArgs) -> ExitCode {
    let format = match foreign::detect(&args.input) {
        Ok(Some(format)) => format,
        Ok(None) => {
            eprintln!(
                "kpm-analyze convert: {} is already a kpm bundle; nothing to convert",
                args.input.display()
            );
            return ExitCode::Usage;
        }
        Err(e) => {
            eprintln!("kpm-analyze convert: {e}");
            return ExitCode::Bundle;
        }
    };
    let writer = match BundleWriter::create_zip(&args.output, args.force) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("kpm-analyze convert: {e}");
            return ExitCode::Output;
        }
    };
    match foreign::convert(&args.input, format, writer, SourceLimits::default()) {
        Ok(done) => {
            let version = done.tool_version.as_deref().unwrap_or("unknown version");
            let skipped = match done.skipped.len() {
                0 => String::new(),
                n => format!("; {n} entries not read (listed in the manifest)"),
            };
            eprintln!(
                "{}: converted from a {} ({version}){skipped}",
                done.path.display(),
                format.name()
            );
            ExitCode::Success
        }
        Err(e @ kpm_bundle::BundleError::Write { .. }) => {
            eprintln!("kpm-analyze convert: {e}");
            ExitCode::Output
        }
        Err(e) => {
            eprintln!("kpm-analyze convert: {e}");
            ExitCode::Bundle
        }
    }
}
