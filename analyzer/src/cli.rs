//! Command line of `kpm-analyze`: flags, output format choice, exit codes.
//!
//! Kept in the library so the exit-code and format rules are unit-tested;
//! `main.rs` only parses and calls [`run`].

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use kpm_bundle::Bundle;
use kpm_model::{Report, Severity};
use sha2::{Digest, Sha256};

use crate::engine::{analyze, Options};
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
    after_help = "Exit codes: 0 ok, 1 findings at or above --fail-on, 2 usage error, 3 bundle unreadable, 4 report not written.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// Bundle to analyse: a zip or an unpacked bundle directory.
    #[arg(required = true)]
    pub bundle: Option<PathBuf>,
    /// Output format (default: from the -o extension, .html or .md; else json).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE (atomically) instead of stdout.
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
    /// Verify every file's SHA-256 against the manifest; mismatches are listed as damage.
    #[arg(long)]
    pub verify: bool,
    /// Subcommands.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands of kpm-analyze.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a bundle as a read-only Kubernetes API on localhost for kubectl.
    Serve(kpm_serve::ServeArgs),
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

/// Writes `content` to `path` through a temporary file in the same
/// directory and a rename, so a reader never sees half a report.
pub fn write_atomic(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let mut f =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(content)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("cannot flush {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Renders `report` in `format`.
pub fn render(report: &Report, format: Format, templates: Option<&Path>) -> anyhow::Result<String> {
    match format {
        Format::Json => serde_json::to_string_pretty(report).context("cannot serialize the report"),
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

/// Runs the parsed command line; returns the process exit code. Errors are
/// printed to stderr here, with their context chain.
pub fn run(cli: Cli) -> ExitCode {
    if let Some(Command::Serve(args)) = cli.command {
        return match kpm_serve::run(args) {
            Ok(()) => ExitCode::Success,
            Err(e) => {
                eprintln!("kpm-analyze serve: {e:#}");
                ExitCode::Bundle
            }
        };
    }
    let Some(path) = cli.bundle else {
        eprintln!("kpm-analyze: a BUNDLE argument is required");
        return ExitCode::Usage;
    };
    let bundle = match Bundle::open(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kpm-analyze: {e}");
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
    };
    let report = analyze(&bundle, &options);
    let format = choose_format(cli.format, cli.output.as_deref());
    let text = match render(&report, format, cli.templates.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("kpm-analyze: {e:#}");
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
        eprintln!("kpm-analyze: {e:#}");
        return ExitCode::Output;
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
    fn atomic_write_replaces_file() {
        let dir = std::env::temp_dir().join(format!("kpm-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("report.json");
        write_atomic(&out, b"one").unwrap();
        write_atomic(&out, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "two");
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
