//! `kpm-fuzz`: runs the fuzz targets for a bounded time.
//!
//! ```text
//! kpm-fuzz run --target bundle --seconds 600 --seed 7
//! kpm-fuzz run --all --seconds 60
//! kpm-fuzz replay --target serve fuzz/artifacts/serve/crash-…
//! kpm-fuzz list
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use kpm_fuzz::corpus::Paths;
use kpm_fuzz::runner::{self, Config, Stats};
use kpm_fuzz::targets::NAMES;

#[derive(Parser)]
#[command(
    name = "kpm-fuzz",
    about = "Coverage-free fuzzing of kpm's input surfaces (stable Rust)."
)]
struct Cli {
    /// Repository root (holds testdata/ and fuzz/; the shared corpus is
    /// ../shared/corpus from it).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fuzz one target or all of them; exits 1 on a crash or hang.
    Run {
        /// The target to run.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        target: Option<String>,
        /// Run every target, one after the other.
        #[arg(long)]
        all: bool,
        /// Seconds per target (seeds and mutants).
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// PRNG seed; the same seed replays the same inputs.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Seconds after which one input counts as a hang.
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
    },
    /// Runs saved inputs through a target once (reproduces an artifact).
    Replay {
        /// The target the inputs belong to.
        #[arg(long)]
        target: String,
        /// Input files.
        files: Vec<PathBuf>,
    },
    /// Lists the targets.
    List,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("kpm-fuzz: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<bool> {
    let cli = Cli::parse();
    let root = cli
        .root
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    let paths = Paths::new(root);
    match cli.command {
        Command::List => {
            NAMES.iter().for_each(|n| println!("{n}"));
            Ok(true)
        }
        Command::Replay { target, files } => {
            Ok(runner::replay(&target, &files, &paths)?.is_empty())
        }
        Command::Run {
            target,
            all,
            seconds,
            seed,
            timeout,
        } => {
            let names: Vec<String> = if all {
                NAMES.iter().map(|s| (*s).to_string()).collect()
            } else {
                target.into_iter().collect()
            };
            let cfg = Config {
                seconds,
                seed,
                timeout: Duration::from_secs_f64(timeout.max(0.001)),
                paths,
            };
            let mut clean = true;
            for name in &names {
                let stats = runner::run(name, &cfg)?;
                print_stats(name, &stats, seed);
                clean &= stats.findings.is_empty();
            }
            Ok(clean)
        }
    }
}

fn print_stats(name: &str, s: &Stats, seed: u64) {
    let secs = s.elapsed.as_secs_f64();
    let rate = s.execs as f64 / secs.max(1e-9);
    let accepted = 100.0 * s.accepted as f64 / (s.execs.max(1) as f64);
    println!(
        "{name}: {} execs in {secs:.1} s ({rate:.1}/s), {accepted:.0}% accepted, {}/{} seeds run ({:.1} MiB), pool {}, largest input {} B, slowest {:.2} s, seed {seed}: {}",
        s.execs,
        s.seeds_run,
        s.seeds,
        s.seed_bytes as f64 / f64::from(1 << 20),
        s.pool,
        s.max_len,
        s.slowest.as_secs_f64(),
        if s.findings.is_empty() {
            "no crash".to_string()
        } else {
            format!("{} FINDINGS", s.findings.len())
        }
    );
    for f in &s.findings {
        println!("  {}: {}", f.artifact.display(), f.message);
    }
}
