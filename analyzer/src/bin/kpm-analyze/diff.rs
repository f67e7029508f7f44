//! `kpm-analyze diff BEFORE AFTER [MORE…]`: what changed between snapshots
//! of one cluster (the engine is `kpm_analyzer::diff`; this is its command
//! line: opening the bundles, choosing the format, writing the output).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use kpm_analyzer::diff;
use kpm_analyzer::Options;
use kpm_bundle::Bundle;
use kpm_model::diff::DiffReport;

use crate::cli::{choose_format, write_atomic, BudgetArgs, Format};
use crate::exit_codes::ExitCode;

/// Arguments of `kpm-analyze diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Snapshots of one cluster, oldest first: BEFORE AFTER, or a series
    /// A B C … to follow each incident across them.
    #[arg(required = true, num_args = 2.., value_name = "BUNDLE")]
    pub bundles: Vec<PathBuf>,
    /// Output format (default: from the -o extension, .html or .md; else json).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the diff to FILE instead of stdout (atomically, as the report).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only compare this namespace (repeatable).
    #[arg(long = "namespace", short = 'n', value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Reading budgets (docs/security.md), for every bundle.
    #[command(flatten)]
    pub budgets: BudgetArgs,
}

/// Opens every bundle, naming the one that cannot be read.
fn open_all(args: &DiffArgs) -> Result<Vec<Bundle>, String> {
    args.bundles
        .iter()
        .map(|p| {
            Bundle::open_with(p, args.budgets.budgets())
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

/// The diff of the opened bundles: a pair side by side, a series in turn.
fn build(bundles: &[Bundle], options: &Options) -> Option<DiffReport> {
    let (d, snaps) = diff::diff(bundles, options)?;
    // The command ends once the diff is written: the digests (every pod and
    // event of every snapshot) go with the process instead of being freed
    // one allocation at a time.
    std::mem::forget(snaps);
    Some(d)
}

/// Renders `d` in `format`.
pub fn render(d: &DiffReport, format: Format) -> anyhow::Result<String> {
    match format {
        Format::Json => kpm_report::diff::json(d).context("cannot serialize the diff"),
        Format::Md => Ok(kpm_report::diff::markdown(d)),
        Format::Html => Ok(kpm_report::diff::html(d)),
    }
}

/// Runs the diff; errors go to stderr. Exit 0 when written, 3 when a
/// bundle cannot be read, 4 when the output cannot be written.
pub fn run(args: &DiffArgs) -> ExitCode {
    let bundles = match open_all(args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kpm-analyze diff: {}", kpm_report::escape::terminal(&e));
            return ExitCode::Bundle;
        }
    };
    let options = Options {
        namespaces: args.namespaces.clone(),
        ..Options::default()
    };
    let Some(d) = build(&bundles, &options) else {
        eprintln!("kpm-analyze diff: give at least two bundles");
        return ExitCode::Usage;
    };
    let format = choose_format(args.format, args.output.as_deref());
    let written = render(&d, format).and_then(|text| match &args.output {
        Some(out) => write_atomic(out, text.as_bytes()),
        None => {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{}", text.trim_end_matches('\n')).context("cannot write to stdout")
        }
    });
    match written {
        Ok(()) => {
            eprintln!("kpm-analyze diff: {}", d.verdict.text);
            ExitCode::Success
        }
        Err(e) => {
            eprintln!(
                "kpm-analyze diff: {}",
                kpm_report::escape::terminal(&format!("{e:#}"))
            );
            ExitCode::Output
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn diff_takes_two_or_more_bundles() {
        let cli =
            Cli::try_parse_from(["kpm-analyze", "diff", "a.zip", "b.zip", "-o", "d.md"]).unwrap();
        let Some(Command::Diff(args)) = cli.command else {
            panic!("not the diff subcommand");
        };
        assert_eq!(args.bundles.len(), 2);
        assert_eq!(
            choose_format(args.format, args.output.as_deref()),
            Format::Md
        );
        let cli = Cli::try_parse_from(["kpm-analyze", "diff", "a", "b", "c"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Diff(ref a)) if a.bundles.len() == 3));
        assert!(Cli::try_parse_from(["kpm-analyze", "diff", "a.zip"]).is_err());
    }
}
