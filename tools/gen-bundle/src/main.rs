//! `gen-bundle`: writes the testdata scenario bundles and large generated
//! bundles for benchmarks.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use kpm_gen_bundle::scale::{self, ScaleOptions, Size};

#[derive(Parser)]
#[command(
    name = "gen-bundle",
    about = "Write realistic kpm bundles: testdata scenarios and large generated clusters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write every scenario as `OUT/<scenario>/` plus `OUT/expected/<scenario>.json`.
    Scenarios {
        /// Output directory (normally `testdata`).
        #[arg(long)]
        out: PathBuf,
        /// Write only this scenario.
        #[arg(long)]
        only: Option<String>,
        /// List scenario names and exit.
        #[arg(long)]
        list: bool,
    },
    /// Write every before/after pair as `OUT/<pair>/<snapshot>/` (for
    /// `kpm-analyze diff`; the expected diffs are written by hand).
    Pairs {
        /// Output directory (normally `testdata/pairs`).
        #[arg(long)]
        out: PathBuf,
        /// Write only this pair.
        #[arg(long)]
        only: Option<String>,
        /// List pair names and exit.
        #[arg(long)]
        list: bool,
    },
    /// Stream a large generated cluster into a zip bundle (for benchmarks).
    Scale {
        /// Size preset: small (50 nodes, 1,500 pods), medium (500, 15,000),
        /// large (5,000, 150,000).
        #[arg(long, value_parser = ["small", "medium", "large"], default_value = "small")]
        size: String,
        /// Override the node count of the preset.
        #[arg(long)]
        nodes: Option<u64>,
        /// Override the pod count of the preset.
        #[arg(long)]
        pods: Option<u64>,
        /// PRNG seed: the same seed writes the same bundle.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Fraction of apps (and a tenth of it of nodes) given a failure.
        #[arg(long, default_value_t = 0.05)]
        failure_rate: f64,
        /// Write the same cluster collected an hour later with this fraction
        /// of apps changed (rollouts, restarts, pods replaced, ConfigMaps and
        /// Secrets edited) and one node replaced: the AFTER of a benchmark
        /// diff whose BEFORE is the same command without it.
        #[arg(long, default_value_t = 0.0)]
        perturb: f64,
        /// Output zip.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Scenarios { out, only, list } => {
            let all = kpm_gen_bundle::scenarios::all();
            if list {
                for s in &all {
                    println!("{:28} {}", s.name, s.description);
                }
                return Ok(());
            }
            let chosen: Vec<_> = match only {
                Some(name) => match kpm_gen_bundle::scenarios::by_name(&name) {
                    Some(s) => vec![s],
                    None => bail!("unknown scenario {name:?}; try --list"),
                },
                None => all,
            };
            for s in &chosen {
                let dir = kpm_gen_bundle::scenarios::write(s, &out)
                    .with_context(|| format!("scenario {}", s.name))?;
                println!("wrote {}", dir.display());
            }
        }
        Command::Pairs { out, only, list } => {
            use kpm_gen_bundle::scenarios::pairs;
            if list {
                for p in pairs::PAIRS {
                    println!("{:28} {}", p.name, p.description);
                }
                return Ok(());
            }
            let chosen: Vec<pairs::Pair> = match only {
                Some(name) => match pairs::by_name(&name) {
                    Some(p) => vec![p],
                    None => bail!("unknown pair {name:?}; try --list"),
                },
                None => pairs::PAIRS.to_vec(),
            };
            for p in &chosen {
                let dir = pairs::write(p, &out).with_context(|| format!("pair {}", p.name))?;
                println!("wrote {}", dir.display());
            }
        }
        Command::Scale {
            size,
            nodes,
            pods,
            seed,
            failure_rate,
            perturb,
            out,
        } => {
            let preset = match size.as_str() {
                "medium" => Size::Medium,
                "large" => Size::Large,
                _ => Size::Small,
            };
            let (n, p) = preset.counts();
            let opts = ScaleOptions {
                nodes: nodes.unwrap_or(n),
                pods: pods.unwrap_or(p),
                seed,
                failure_rate,
                perturb,
            };
            let (summary, secs) = scale::timed(&opts, &out)
                .with_context(|| format!("generating {}", out.display()))?;
            println!("{}", scale::describe(&summary, secs));
            let rss = scale::peak_rss_kib()
                .map_or_else(|| "unknown".to_string(), |k| format!("{} MiB", k / 1024));
            println!("wall time {secs:.2}s, peak RSS {rss}");
        }
    }
    Ok(())
}
