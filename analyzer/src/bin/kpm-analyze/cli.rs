//! Command line of `kpm-analyze`: flags, output format choice, exit codes.
//!
//! Lives with the binary, not in `kpm_analyzer` (the engine alone); its
//! exit-code and format rules are unit-tested here. `main.rs` only parses
//! and calls [`run`].

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use kpm_analyzer::{analyze, Options, Policy, PolicyError, DEFAULT_POLICY_FILE};
use kpm_bundle::{Budgets, Bundle};
use kpm_model::{Report, Severity};
use sha2::{Digest, Sha256};

use crate::exit_codes::ExitCode;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The report model as JSON (docs/report-schema.md).
    Json,
    /// Markdown, for tickets and chat.
    Md,
    /// Self-contained HTML page.
    Html,
}

/// A severity flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Level {
    /// Info and above.
    Info,
    /// Warning and above.
    Warning,
    /// Error and above.
    Error,
    /// Critical only.
    Critical,
}

impl From<Level> for Severity {
    fn from(l: Level) -> Severity {
        match l {
            Level::Info => Severity::Info,
            Level::Warning => Severity::Warning,
            Level::Error => Severity::Error,
            Level::Critical => Severity::Critical,
        }
    }
}

/// kpm-analyze: offline post-mortem of a Kubernetes bundle.
#[derive(Debug, Parser)]
#[command(
    name = "kpm-analyze",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("KPM_GIT_COMMIT"), ")"),
    about = "Replays the Kubernetes troubleshooting chain over a kpm bundle, offline, and writes an incident report.",
    after_help = "Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage error (including a bad --config file), 3 bundle unreadable, 4 report not written.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Bundle to analyse: a kpm zip or unpacked bundle directory, a
    /// troubleshoot support bundle (.tar.gz or folder) or a `kubectl
    /// cluster-info dump` folder.
    #[arg(required = true)]
    pub bundle: Option<PathBuf>,
    /// Output format (default: from the -o extension, .html or .md; else json).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE instead of stdout: atomically, through a private
    /// temporary file renamed into place; an existing symlink, fifo or
    /// directory at FILE is refused (exit 4).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only analyse this namespace (repeatable).
    #[arg(long = "namespace", short = 'n', value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Leave out findings below this severity.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub min_severity: Option<Level>,
    /// Exit 1 when a finding at or above LEVEL exists.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<Level>,
    /// Directory with templates overriding the embedded ones.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Verify the bundle against its manifest: every listed file's SHA-256 and size, listed
    /// files that are missing and files the manifest does not list are all listed as damage.
    #[arg(long)]
    pub verify: bool,
    /// Reading budgets (docs/security.md).
    #[command(flatten)]
    pub budgets: BudgetArgs,
    /// Policy file muting or re-grading findings (docs/config.md); default: .kpm.json in the current directory, when present.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Ignore .kpm.json in the current directory.
    #[arg(long)]
    pub no_config: bool,
    /// Do not print the line saying what -o wrote and the verdict (errors
    /// are still printed).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Subcommands.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags raising the budgets a bundle is read within. Sizes take a
/// `KiB`/`MiB`/`GiB` suffix (or `K`/`M`/`G`), else bytes.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "Reading budgets (what is over budget is listed as damage)")]
pub struct BudgetArgs {
    /// Largest size one bundle file may inflate to [default: 256MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_entry_bytes: Option<u64>,
    /// Bytes all reads of the bundle together may inflate to [default: 8GiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_total_bytes: Option<u64>,
    /// Largest compression ratio of a zip entry past its first MiB [default: 200].
    #[arg(long, value_name = "N")]
    pub max_ratio: Option<u64>,
    /// Most files a bundle may hold; more make it unreadable (exit 3) [default: 500000].
    #[arg(long, value_name = "N")]
    pub max_entries: Option<u64>,
    /// Largest manifest.json; larger makes the bundle unreadable (exit 3) [default: 128MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_manifest_bytes: Option<u64>,
    /// Largest container log streamed for its tail or a search [default: 32MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_log_bytes: Option<u64>,
}

impl BudgetArgs {
    /// The budgets: each flag given, the documented default otherwise.
    pub fn budgets(&self) -> Budgets {
        let d = Budgets::default();
        Budgets {
            max_entry_bytes: self.max_entry_bytes.unwrap_or(d.max_entry_bytes),
            max_total_bytes: self.max_total_bytes.unwrap_or(d.max_total_bytes),
            max_ratio: self.max_ratio.unwrap_or(d.max_ratio),
            max_entries: self.max_entries.unwrap_or(d.max_entries),
            max_manifest_bytes: self.max_manifest_bytes.unwrap_or(d.max_manifest_bytes),
            max_log_bytes: self.max_log_bytes.unwrap_or(d.max_log_bytes),
        }
    }
}

/// `4096`, `64K`, `256MiB`, `8G` (binary units) as bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        _ => {
            return Err(format!(
                "unknown unit in {text:?}: use bytes or KiB, MiB, GiB, TiB"
            ))
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (for example 512MiB)"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Subcommands of kpm-analyze.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a bundle as a read-only Kubernetes API on localhost for kubectl.
    Serve(crate::serve::ServeArgs),
    /// Convert a troubleshoot support bundle or a cluster-info dump into a kpm bundle.
    Convert(crate::convert::ConvertArgs),
    /// What changed between snapshots of one cluster: BEFORE AFTER, or a series.
    Diff(crate::diff::DiffArgs),
}

/// The format to write: `--format`, else by the output file's extension.
pub fn choose_format(format: Option<Format>, output: Option<&Path>) -> Format {
    if let Some(f) = format {
        return f;
    }
    match output.and_then(|p| p.extension()).and_then(|e| e.to_str()) {
        Some("html") | Some("htm") => Format::Html,
        Some("md") | Some("markdown") => Format::Md,
        _ => Format::Json,
    }
}

/// Exit code for a finished report under `--fail-on`.
pub fn exit_code(report: &Report, fail_on: Option<Severity>) -> ExitCode {
    match fail_on {
        Some(level) if report.findings.iter().any(|f| f.severity >= level) => ExitCode::Findings,
        _ => ExitCode::Success,
    }
}

/// Streams a file through SHA-256 (bundles can be large).
fn sha256_file(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n)?);
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// Writes `content` to `path` with [`kpm_bundle::safe_write`]: a private
/// temporary file in the same directory renamed into place, so a reader
/// never sees half a report, and an existing symlink, fifo or directory at
/// `path` is refused (naming it) instead of written through.
pub fn write_atomic(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    kpm_bundle::safe_write::create_new_or_replace(path, content).context("report not written")
}

/// Prints `kpm-analyze: <message>` on stderr with every control character
/// shown visibly: messages quote bundle data (entry names, manifest values)
/// and must not drive the terminal.
pub fn report_error(prefix: &str, message: &str) {
    eprintln!("{prefix}: {}", kpm_report::escape::terminal(message));
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format, templates: Option<&Path>) -> anyhow::Result<String> {
    match format {
        Format::Json => kpm_report::json::render(report, &kpm_report::json::JsonLimits::default())
            .context("cannot serialize the report"),
        Format::Md | Format::Html => {
            let renderer =
                kpm_report::Renderer::new(templates).context("cannot load the report templates")?;
            if format == Format::Html {
                renderer
                    .html(report)
                    .context("cannot render the HTML report")
            } else {
                renderer
                    .markdown(report)
                    .context("cannot render the Markdown report")
            }
        }
    }
}

/// The policy to apply: `--config FILE`, else `.kpm.json` in the current
/// directory when it exists, unless `--no-config`.
pub fn load_policy(config: Option<&Path>, no_config: bool) -> Result<Option<Policy>, PolicyError> {
    if no_config {
        return Ok(None);
    }
    match config {
        Some(path) => Policy::load(path).map(Some),
        None => {
            let default = Path::new(DEFAULT_POLICY_FILE);
            if default.is_file() {
                Policy::load(default).map(Some)
            } else {
                Ok(None)
            }
        }
    }
}

/// Runs the parsed command line; returns the process exit code. Errors are
/// printed to stderr here, with their context chain.
pub fn run(cli: Cli) -> ExitCode {
    if let Some(Command::Convert(args)) = &cli.command {
        return crate::convert::run(args);
    }
    if let Some(Command::Diff(args)) = &cli.command {
        return crate::diff::run(args);
    }
    if let Some(Command::Serve(args)) = cli.command {
        return crate::serve::run(args);
    }
    let Some(path) = cli.bundle else {
        eprintln!("kpm-analyze: a BUNDLE argument is required");
        return ExitCode::Usage;
    };
    let policy = match load_policy(cli.config.as_deref(), cli.no_config) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("kpm-analyze: {e}");
            return ExitCode::Usage;
        }
    };
    let bundle = match Bundle::open_with(&path, cli.budgets.budgets()) {
        Ok(b) => b,
        Err(e) => {
            report_error("kpm-analyze", &e.to_string());
            return ExitCode::Bundle;
        }
    };
    let options = Options {
        namespaces: cli.namespaces,
        min_severity: cli.min_severity.map(Severity::from),
        verify: cli.verify,
        bundle_sha256: if path.is_file() {
            sha256_file(&path)
        } else {
            None
        },
        policy,
        findings_only: false,
    };
    let report = analyze(&bundle, &options);
    let format = choose_format(cli.format, cli.output.as_deref());
    let text = match render(&report, format, cli.templates.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            report_error("kpm-analyze", &format!("{e:#}"));
            return ExitCode::Output;
        }
    };
    let written = match &cli.output {
        Some(out) => write_atomic(out, text.as_bytes()),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| {
                    if text.ends_with('\n') {
                        Ok(())
                    } else {
                        stdout.write_all(b"\n")
                    }
                })
                .context("cannot write to stdout")
        }
    };
    if let Err(e) = written {
        report_error("kpm-analyze", &format!("{e:#}"));
        return ExitCode::Output;
    }
    if let (Some(out), false) = (&cli.output, cli.quiet) {
        eprintln!("{}", crate::verdict::line(out, format, &report.summary));
    }
    exit_code(&report, cli.fail_on.map(Severity::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_flag_then_extension() {
        assert_eq!(
            choose_format(None, Some(Path::new("out/report.html"))),
            Format::Html
        );
        assert_eq!(choose_format(None, Some(Path::new("r.md"))), Format::Md);
        assert_eq!(choose_format(None, Some(Path::new("r.txt"))), Format::Json);
        assert_eq!(choose_format(None, None), Format::Json);
        assert_eq!(
            choose_format(Some(Format::Md), Some(Path::new("r.html"))),
            Format::Md
        );
    }

    #[test]
    fn cli_parses_analyze_and_serve() {
        let cli = Cli::try_parse_from([
            "kpm-analyze",
            "b.zip",
            "-o",
            "r.html",
            "--namespace",
            "shop",
            "--fail-on",
            "error",
        ])
        .unwrap();
        assert_eq!(cli.bundle.as_deref(), Some(Path::new("b.zip")));
        assert_eq!(cli.namespaces, vec!["shop".to_string()]);
        assert_eq!(cli.fail_on, Some(Level::Error));
        let cli = Cli::try_parse_from(["kpm-analyze", "serve", "b.zip", "--port", "8080"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(ref a)) if a.port == 8080));
        let err = Cli::try_parse_from(["kpm-analyze"]).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(ExitCode::Usage.number()));
        let err =
            Cli::try_parse_from(["kpm-analyze", "b.zip", "--min-severity", "fatal"]).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(ExitCode::Usage.number()));
    }

    #[test]
    fn budget_flags_take_sizes_and_default_the_rest() {
        let cli = Cli::try_parse_from([
            "kpm-analyze",
            "b.zip",
            "--max-entry-bytes",
            "1GiB",
            "--max-log-bytes",
            "512k",
            "--max-ratio",
            "1000",
        ])
        .unwrap();
        let b = cli.budgets.budgets();
        assert_eq!(b.max_entry_bytes, 1 << 30);
        assert_eq!(b.max_log_bytes, 512 << 10);
        assert_eq!(b.max_ratio, 1000);
        assert_eq!(b.max_total_bytes, Budgets::default().max_total_bytes);
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999G").is_err());
        let err =
            Cli::try_parse_from(["kpm-analyze", "b.zip", "--max-entry-bytes", "lots"]).unwrap_err();
        assert_eq!(err.exit_code(), i32::from(ExitCode::Usage.number()));
    }

    #[test]
    fn documented_budget_defaults_match_the_library() {
        // The [default: …] texts of the flags, and docs/security.md, say these.
        let d = Budgets::default();
        assert_eq!(d.max_entry_bytes, parse_size("256MiB").unwrap());
        assert_eq!(d.max_total_bytes, parse_size("8GiB").unwrap());
        assert_eq!(d.max_ratio, 200);
        assert_eq!(d.max_entries, 500_000);
        assert_eq!(d.max_manifest_bytes, parse_size("128MiB").unwrap());
        assert_eq!(d.max_log_bytes, parse_size("32MiB").unwrap());
    }

    /// A fresh directory of this test process.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kpm-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn atomic_write_replaces_file() {
        let dir = scratch("replace");
        let out = dir.join("report.json");
        write_atomic(&out, b"one").unwrap();
        write_atomic(&out, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "two");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn atomic_write_refuses_a_directory_naming_it() {
        let dir = scratch("dir");
        let target = dir.join("report.html");
        std::fs::create_dir(&target).unwrap();
        let msg = format!("{:#}", write_atomic(&target, b"x").unwrap_err());
        assert!(msg.contains(&target.display().to_string()), "{msg}");
        assert!(msg.contains("directory"), "{msg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
