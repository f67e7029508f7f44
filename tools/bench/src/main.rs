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
//! [`gathered`] (counting what a collection holds), [`table`].

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
mod serve;
mod table;
#[cfg(test)]
mod testutil;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::data::{Spec, Stats};
use crate::env::Env;

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
    /// (AFTER: the same seed at --after-failure-rate) against analysing
    /// BEFORE alone (issue 19: within 2×).
    Diff {
        /// Sizes (repeatable or comma separated).
        #[arg(long = "size", value_delimiter = ',', default_values = ["large"])]
        sizes: Vec<String>,
        /// Failure rate of the AFTER bundle.
        #[arg(long, default_value_t = 0.08)]
        after_failure_rate: f64,
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

/// A bundle ready to benchmark.
#[derive(Clone)]
struct Prepared {
    size: String,
    path: PathBuf,
    stats: Stats,
    generation: Option<measure::Measured>,
    /// Passed with --bundle rather than generated.
    given: bool,
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

fn prepare(env: &Env, g: &Global, size: &str) -> Result<Prepared> {
    if let Some((_, path)) = g.bundles.iter().find(|(name, _)| name == size) {
        let stats = data::stats(path)?;
        return Ok(Prepared {
            size: size.to_string(),
            path: path.clone(),
            stats,
            generation: None,
            given: true,
        });
    }
    let spec = Spec {
        size: size.to_string(),
        seed: g.seed,
        failure_rate: g.failure_rate,
    };
    let generated = data::ensure(env, &spec, g.regen)?;
    let stats = data::stats(&generated.path)?;
    Ok(Prepared {
        size: size.to_string(),
        path: generated.path,
        stats,
        generation: generated.generation,
        given: false,
    })
}

fn prepare_all(env: &Env, g: &Global, sizes: &[String]) -> Result<Vec<Prepared>> {
    sizes.iter().map(|s| prepare(env, g, s)).collect()
}

fn gen_table(prepared: &[Prepared]) -> table::Table {
    let mut t = table::Table::new(&[
        "size",
        "bundle",
        "pods",
        "nodes",
        "namespaces",
        "files",
        "log files",
        "zip",
        "JSON",
        "generation",
    ]);
    for p in prepared {
        t.row(vec![
            p.size.clone(),
            p.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            p.stats.pods.to_string(),
            p.stats.nodes.to_string(),
            p.stats.namespaces.to_string(),
            p.stats.entries.to_string(),
            p.stats.log_files.to_string(),
            table::bytes_mib(p.stats.zip_bytes),
            table::bytes_mib(p.stats.json_bytes),
            p.generation.map_or_else(
                || if p.given { "given" } else { "cached" }.to_string(),
                |m| format!("{} / {}", table::secs(m.wall), table::mib(m.max_rss_kib)),
            ),
        ]);
    }
    t
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
        Cmd::Diff {
            sizes,
            after_failure_rate,
        } => diff_all(&env, g, &mut out, sizes, *after_failure_rate)?,
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

/// `diff`: each size's BEFORE (the usual bundle) and AFTER (the same seed
/// at `after_rate`), the diff timed against the analysis.
fn diff_all(
    env: &Env,
    g: &Global,
    out: &mut Output,
    sizes: &[String],
    after_rate: f64,
) -> Result<()> {
    let mut benches = Vec::new();
    for size in sizes {
        let before = prepare(env, g, size)?;
        let spec = Spec {
            size: size.clone(),
            seed: g.seed,
            failure_rate: after_rate,
        };
        let after = data::ensure(env, &spec, g.regen)?;
        benches.push(diff::run(
            env,
            size,
            &before.path,
            &after.path,
            before.stats.pods,
            g.reps,
        )?);
    }
    out.section(
        "kpm-analyze diff vs kpm-analyze",
        &diff::table(&benches).render(),
    );
    Ok(())
}

/// Writes the Markdown collected so far to `--markdown FILE`, if given.
fn write_markdown(g: &Global, out: &Output) -> Result<()> {
    if let Some(path) = &g.markdown {
        std::fs::write(path, &out.text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Fails when an analysis missed one of its bundle's injected failures.
fn require_recall(analyses: &[analyze::Analysis]) -> Result<()> {
    injected::require_all_found(
        analyses
            .iter()
            .filter_map(|a| a.recall.as_ref().map(|r| (a.size.as_str(), r))),
    )
}

/// `all`: every stage over its sizes, each preparing its bundles once and
/// reporting its own failure so one broken component does not hide the
/// figures of the others.
fn run_all(
    env: &Env,
    g: &Global,
    out: &mut Output,
    sizes: &[String],
    collect_sizes: &[String],
    serve_size: &str,
) -> Result<()> {
    let serve = [serve_size.to_string()];
    let mut unique: Vec<String> = Vec::new();
    for s in sizes.iter().chain(collect_sizes).chain(&serve) {
        if !unique.contains(s) {
            unique.push(s.clone());
        }
    }
    let prepared = prepare_all(env, g, &unique)?;
    out.section("Bundles", &gen_table(&prepared).render());
    let pick = |names: &[String]| -> Vec<Prepared> {
        prepared
            .iter()
            .filter(|p| names.contains(&p.size))
            .cloned()
            .collect()
    };
    let chosen = pick(sizes);
    let analyses = match analyze_all(env, g, &chosen) {
        Ok(a) => {
            report_analyses(out, &a);
            if let Err(e) = require_recall(&a) {
                out.section("Injected failures", &format!("FAILED: {e:#}\n"));
            }
            a
        }
        Err(e) => {
            out.section("kpm-analyze --format html", &format!("FAILED: {e:#}\n"));
            Vec::new()
        }
    };
    match floor_all(env, &chosen, &analyses) {
        Ok(f) => out.section("Raw floor vs analysis", &analyze::floor_table(&f).render()),
        Err(e) => out.section("Raw floor vs analysis", &format!("FAILED: {e:#}\n")),
    }
    for p in pick(&serve) {
        match collect::serve(env, &p.size, &p.path, &p.stats, g.reps) {
            Ok(b) => out.section(
                "kubectl against kpm-analyze serve",
                &collect::serve_table(&[b]).render(),
            ),
            Err(e) => out.section(
                "kubectl against kpm-analyze serve",
                &format!("FAILED: {e:#}\n"),
            ),
        }
    }
    if let Err(e) = collect_all(env, out, &pick(collect_sizes), None, &[]) {
        out.section(
            "kpm-collect vs kubectl cluster-info dump",
            &format!("FAILED: {e:#}\n"),
        );
    }
    Ok(())
}

/// `foreign`: each size's zip and its troubleshoot archive, analysed.
fn foreign_all(env: &Env, g: &Global, out: &mut Output, sizes: &[String]) -> Result<()> {
    let prepared = prepare_all(env, g, sizes)?;
    out.section("Bundles", &gen_table(&prepared).render());
    let comparisons = prepared
        .iter()
        .map(|p| foreign::compare(env, &p.size, &p.path, &p.stats, g.reps, g.regen))
        .collect::<Result<Vec<_>>>()?;
    let mut body = foreign::table(&comparisons).render();
    let note = foreign::dropped_note(&comparisons);
    if !note.is_empty() {
        body.push('\n');
        body.push_str(&note);
    }
    out.section("kpm-analyze: troubleshoot archive vs kpm zip", &body);
    Ok(())
}

fn analyze_all(env: &Env, g: &Global, prepared: &[Prepared]) -> Result<Vec<analyze::Analysis>> {
    prepared
        .iter()
        .map(|p| analyze::run(env, &p.size, &p.path, &p.stats, g.reps))
        .collect()
}

fn report_analyses(out: &mut Output, analyses: &[analyze::Analysis]) {
    out.section(
        "kpm-analyze --format html",
        &analyze::table(analyses).render(),
    );
    let growth = analyze::growth(analyses);
    if !growth.is_empty() {
        out.section(
            "Growth of analysis time with pods",
            &analyze::growth_table(&growth).render(),
        );
    }
}

fn floor_all(
    env: &Env,
    prepared: &[Prepared],
    analyses: &[analyze::Analysis],
) -> Result<Vec<analyze::Floor>> {
    prepared
        .iter()
        .map(|p| {
            analyze::floor(
                env,
                &p.size,
                &p.path,
                analyses.iter().find(|a| a.size == p.size),
            )
        })
        .collect()
}

fn collect_all(
    env: &Env,
    out: &mut Output,
    prepared: &[Prepared],
    latency_ms: Option<u64>,
    collect_args: &[String],
) -> Result<()> {
    let benches = prepared
        .iter()
        .map(|p| collect::collect(env, &p.size, &p.path, &p.stats, latency_ms, collect_args))
        .collect::<Result<Vec<_>>>()?;
    out.section(
        "kpm-collect vs kubectl cluster-info dump",
        &collect::collect_table(&benches).render(),
    );
    for b in &benches {
        let mut body = collect::gathered_table(b).render();
        if !b.shortfalls.is_empty() {
            body.push_str(&format!("\nShortfalls: {}\n", b.shortfalls.join("; ")));
        }
        out.section(&format!("What each gathered ({})", b.size), &body);
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
