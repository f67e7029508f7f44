//! `kpm-bench`: the scale benchmark harness (issue 7).
//!
//! Every benchmark runs the real release binaries as child processes and
//! reports wall time and kernel-measured peak RSS, the way a user would
//! experience them; nothing here is a timed unit test. Results print as
//! Markdown tables ready for `docs/performance.md`.
//!
//! Module map: [`env`] (where binaries and data are), [`data`] (generated
//! bundles), [`measure`] (wait4/rusage), [`floor`] (raw parse floor),
//! [`analyze`], [`injected`] (recall of injected failures), [`foreign`] (troubleshoot archive vs kpm zip), [`serve`] (server fixture, kubectl), [`collect`],
//! [`gathered`] (counting what a collection holds), [`table`], [`prepared`]
//! (the bundles a run uses), [`stages`] (what each subcommand runs).

mod analyze;
mod collect;
mod data;
mod diff;
mod env;
mod floor;
mod foreign;
mod gathered;
mod injected;
mod measure;
mod prepared;
mod serve;
mod stages;
mod table;
#[cfg(test)]
mod testutil;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::env::Env;
use crate::prepared::{gen_table, prepare_all};
use crate::stages::{
    analyze_all, collect_all, diff_all, floor_all, foreign_all, report_analyses, require_recall,
    run_all,
};

/// The analyzer's allocator, so the floor pass (`floor-run`) allocates the
/// way the analysis it is compared with does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Scale benchmarks of kpm: analysis, raw floor, snapshot server, collector.
///
/// Binaries are taken from the directory of kpm-bench itself; build them
/// together: CARGO_TARGET_DIR=<dir> cargo build --release -p kpm-bench
/// -p kpm-analyzer -p kpm-collector -p kpm-gen-bundle
#[derive(Parser)]
#[command(name = "kpm-bench")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args)]
struct Global {
    /// Directory of kpm-analyze, kpm-collect and gen-bundle (default: the
    /// directory of kpm-bench).
    #[arg(long, global = true, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Bundle cache and scratch output (default: <target>/bench-data).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The kubectl to drive the snapshot server with.
    #[arg(long, global = true, default_value = "/usr/bin/kubectl")]
    kubectl: PathBuf,
    /// Generator seed.
    #[arg(long, global = true, default_value_t = 1)]
    seed: u64,
    /// Generator failure rate.
    #[arg(long, global = true, default_value_t = 0.05)]
    failure_rate: f64,
    /// Regenerate bundles even when cached.
    #[arg(long, global = true)]
    regen: bool,
    /// Repetitions of each timed command (median wall is reported).
    #[arg(long, global = true, default_value_t = 1)]
    reps: usize,
    /// Use an existing bundle (zip or directory) for a size instead of a
    /// generated one, e.g. `--bundle prod=/tmp/prod.zip --size prod`
    /// (repeatable).
    #[arg(long = "bundle", global = true, value_name = "SIZE=PATH", value_parser = parse_named_bundle)]
    bundles: Vec<(String, PathBuf)>,
    /// Also write the Markdown output to this file.
    #[arg(long, global = true, value_name = "FILE")]
    markdown: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate (or reuse) the scale bundles.
    Gen {
        /// Sizes (repeatable or comma separated).
        #[arg(long = "size", value_delimiter = ',', default_values = ["small", "medium", "large"])]
        sizes: Vec<String>,
    },
    /// Time `kpm-analyze BUNDLE --format html` per size and its growth curve.
    Analyze {
        /// Sizes (repeatable or comma separated).
        #[arg(long = "size", value_delimiter = ',', default_values = ["small", "medium", "large"])]
        sizes: Vec<String>,
    },
    /// Raw floor (decompress + parse every JSON entry) and analysis/floor.
    Floor {
        /// Sizes (repeatable or comma separated).
        #[arg(long = "size", value_delimiter = ',', default_values = ["small", "medium", "large"])]
        sizes: Vec<String>,
        /// Skip the analysis run (no ratio).
        #[arg(long)]
        no_analyze: bool,
    },
    /// `kpm-analyze` of a troubleshoot support bundle (.tar.gz written from
    /// the generated bundle in troubleshoot's layout) against the same data
    /// as a kpm zip.
    Foreign {
        /// Sizes (repeatable or comma separated).
        #[arg(long = "size", value_delimiter = ',', default_values = ["medium"])]
        sizes: Vec<String>,
    },
    /// `kpm-analyze diff BEFORE AFTER` of two generated bundles of a size
    /// (AFTER: the same cluster an hour later, `--perturb` of its apps
    /// changed) against analysing BEFORE alone (issue 19: within 2×).
    Diff {
        /// Sizes (repeatable or comma separated).
        #[arg(long = "size", value_delimiter = ',', default_values = ["large"])]
        sizes: Vec<String>,
        /// Fraction of apps changed in AFTER (`gen-bundle scale --perturb`).
        #[arg(long, default_value_t = 0.03)]
        perturb: f64,
    },
    /// kubectl get pods -A / describe node against `kpm-analyze serve`.
    Serve {
        /// Sizes (repeatable or comma separated).
        #[arg(long = "size", value_delimiter = ',', default_values = ["large"])]
        sizes: Vec<String>,
    },
    /// kpm-collect vs kubectl cluster-info dump against `kpm-analyze serve`.
    Collect {
        /// Sizes (repeatable or comma separated).
        #[arg(long = "size", value_delimiter = ',', default_values = ["medium", "large"])]
        sizes: Vec<String>,
        /// Delay every server answer by this much (imitates a remote API
        /// server; the server's --latency-ms test knob).
        #[arg(long)]
        latency_ms: Option<u64>,
        /// Extra kpm-collect arguments, after `--` (e.g. -- --qps 0).
        #[arg(last = true)]
        collect_args: Vec<String>,
    },
    /// Everything: gen, analyze + floor at every size, serve at large,
    /// collect at every size (the collector RSS target holds at each).
    All {
        /// Sizes for analyze and floor.
        #[arg(long = "size", value_delimiter = ',', default_values = ["small", "medium", "large"])]
        sizes: Vec<String>,
        /// Sizes for collect.
        #[arg(long = "collect-size", value_delimiter = ',', default_values = ["small", "medium", "large"])]
        collect_sizes: Vec<String>,
        /// Size for serve.
        #[arg(long = "serve-size", default_value = "large")]
        serve_size: String,
    },
    /// Internal: one floor pass in this process, written as JSON to --out.
    #[command(hide = true)]
    FloorRun {
        /// What to parse into.
        #[arg(long, value_enum)]
        mode: floor::Mode,
        /// Where to write the pass's breakdown.
        #[arg(long)]
        out: PathBuf,
        /// The bundle.
        bundle: PathBuf,
    },
    /// Internal: the measuring launcher (see measure.rs); writes the
    /// measurement to $KPM_BENCH_RESULT.
    #[command(hide = true)]
    Exec {
        /// Program and arguments, after `--`.
        #[arg(last = true, required = true)]
        command: Vec<std::ffi::OsString>,
    },
}

/// Collects Markdown sections, printing each as it is produced so a long
/// run shows results early.
struct Output {
    text: String,
}

impl Output {
    fn section(&mut self, title: &str, body: &str) {
        let s = format!("### {title}\n\n{body}\n");
        print!("{s}");
        self.text.push_str(&s);
    }
}

/// Parses `NAME=PATH` of `--bundle`.
fn parse_named_bundle(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!("expected SIZE=PATH, got {s:?}")),
    }
}

/// Describes the machine, since every figure depends on it.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or_else(
            || "?".to_string(),
            |kib| format!("{:.0} GiB", kib as f64 / 1024.0 / 1024.0),
        );
    format!("{cores} cores ({cpu}), {mem} RAM")
}

fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match &cli.command {
        Cmd::FloorRun { mode, out, bundle } => {
            let pass = floor::pass(bundle, *mode)?;
            let json = serde_json::to_string(&pass).context("cannot encode the floor pass")?;
            return std::fs::write(out, json)
                .with_context(|| format!("cannot write {}", out.display()));
        }
        Cmd::Exec { command } => {
            let code = measure::launch(command)?;
            std::process::exit(code);
        }
        _ => {}
    }
    let env = Env::resolve(g.bin_dir.clone(), g.data_dir.clone(), g.kubectl.clone())?;
    let mut out = Output {
        text: String::new(),
    };
    out.section("Machine", &format!("{}\n", machine()));
    match &cli.command {
        Cmd::FloorRun { .. } | Cmd::Exec { .. } => {}
        Cmd::Gen { sizes } => {
            let prepared = prepare_all(&env, g, sizes)?;
            out.section("Bundles", &gen_table(&prepared).render());
        }
        Cmd::Analyze { sizes } => {
            let prepared = prepare_all(&env, g, sizes)?;
            out.section("Bundles", &gen_table(&prepared).render());
            let analyses = analyze_all(&env, g, &prepared)?;
            report_analyses(&mut out, &analyses);
            write_markdown(g, &out)?;
            require_recall(&analyses)?;
        }
        Cmd::Floor { sizes, no_analyze } => {
            let prepared = prepare_all(&env, g, sizes)?;
            let analyses = if *no_analyze {
                Vec::new()
            } else {
                analyze_all(&env, g, &prepared)?
            };
            let floors = floor_all(&env, &prepared, &analyses)?;
            out.section(
                "Raw floor vs analysis",
                &analyze::floor_table(&floors).render(),
            );
        }
        Cmd::Foreign { sizes } => foreign_all(&env, g, &mut out, sizes)?,
        Cmd::Diff { sizes, perturb } => diff_all(&env, g, &mut out, sizes, *perturb)?,
        Cmd::Serve { sizes } => {
            let prepared = prepare_all(&env, g, sizes)?;
            let benches = prepared
                .iter()
                .map(|p| collect::serve(&env, &p.size, &p.path, &p.stats, g.reps))
                .collect::<Result<Vec<_>>>()?;
            out.section(
                "kubectl against kpm-analyze serve",
                &collect::serve_table(&benches).render(),
            );
        }
        Cmd::Collect {
            sizes,
            latency_ms,
            collect_args,
        } => {
            let prepared = prepare_all(&env, g, sizes)?;
            collect_all(&env, &mut out, &prepared, *latency_ms, collect_args)?;
        }
        Cmd::All {
            sizes,
            collect_sizes,
            serve_size,
        } => run_all(&env, g, &mut out, sizes, collect_sizes, serve_size)?,
    }
    write_markdown(g, &out)
}

/// Writes the Markdown collected so far to `--markdown FILE`, if given.
fn write_markdown(g: &Global, out: &Output) -> Result<()> {
    if let Some(path) = &g.markdown {
        std::fs::write(path, &out.text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("kpm-bench: {e:#}");
        std::process::exit(1);
    }
}
