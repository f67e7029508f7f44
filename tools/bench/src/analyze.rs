//! Benchmarks 2 and 3: `kpm-analyze BUNDLE --format html` end to end, its
//! growth with cluster size, and its ratio to the raw parse floor.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Result};

use crate::data::Stats;
use crate::env::Env;
use crate::floor::{self, FloorRun, Mode};
use crate::injected::{self, Recall};
use crate::measure::{self, Measured, Probe};
use crate::table::{self, mib, secs, verdict, Table};

/// Targets on the reference 2-core machine (issue 7).
pub const WALL_TARGET: Duration = Duration::from_secs(10);
/// Peak RSS target of analysing the large bundle.
pub const RSS_TARGET_KIB: u64 = 1024 * 1024;
/// Analysis may cost at most this many times the raw floor.
pub const FLOOR_RATIO_TARGET: f64 = 2.0;

/// One size's analysis.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// `small`, `medium`, `large`.
    pub size: String,
    /// Bundle sizes.
    pub stats: Stats,
    /// Every repetition.
    pub runs: Vec<Measured>,
    /// Size of the HTML report written.
    pub report_bytes: u64,
    /// Injected failures found, for generated bundles.
    pub recall: Option<Recall>,
}

impl Analysis {
    /// Median wall time over repetitions.
    pub fn wall(&self) -> Duration {
        let walls: Vec<Duration> = self.runs.iter().map(|m| m.wall).collect();
        measure::median(&walls).unwrap_or_default()
    }

    /// Largest peak RSS over repetitions.
    pub fn max_rss_kib(&self) -> u64 {
        self.runs.iter().map(|m| m.max_rss_kib).max().unwrap_or(0)
    }

    /// Median CPU time over repetitions.
    pub fn cpu(&self) -> Duration {
        let cpu: Vec<Duration> = self.runs.iter().map(|m| m.cpu).collect();
        measure::median(&cpu).unwrap_or_default()
    }

    /// Microseconds of wall time per pod.
    pub fn micros_per_pod(&self) -> Option<f64> {
        (self.stats.pods > 0).then(|| self.wall().as_secs_f64() * 1e6 / self.stats.pods as f64)
    }
}

/// Runs `kpm-analyze BUNDLE --format html -o OUT` `reps` times, then (not
/// timed) checks the bundle's injected failures against a JSON analysis.
pub fn run(env: &Env, size: &str, bundle: &Path, stats: &Stats, reps: usize) -> Result<Analysis> {
    let dir = env.scratch(&format!("analyze-{size}"))?;
    let out = dir.join("report.html");
    let analyzer = env.bin("kpm-analyze")?;
    let mut runs = Vec::new();
    for rep in 0..reps.max(1) {
        let _ = std::fs::remove_file(&out);
        let mut probe = Probe::new(&analyzer, "kpm-analyze")?;
        probe
            .cmd()
            .arg(bundle)
            .args(["--format", "html", "-o"])
            .arg(&out)
            .stdout(Stdio::null());
        let m = probe.run_ok(&dir.join("stderr.log"))?;
        eprintln!("analyze {size} #{}: {m}", rep + 1);
        runs.push(m);
    }
    let report_bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    if report_bytes == 0 {
        bail!(
            "kpm-analyze exited 0 but wrote no report at {}",
            out.display()
        );
    }
    let recall = injected::check(env, size, bundle)?;
    Ok(Analysis {
        size: size.to_string(),
        stats: stats.clone(),
        runs,
        report_bytes,
        recall,
    })
}

/// One step of the growth curve between two consecutive sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Growth {
    /// `small→medium`.
    pub step: String,
    /// Pods multiplied by.
    pub pods_factor: f64,
    /// Wall time multiplied by.
    pub time_factor: f64,
    /// Exponent k in time ∝ pods^k: 1.0 is linear, 2.0 quadratic.
    pub exponent: f64,
}

/// Growth between consecutive analyses ordered by pod count. Steps where
/// pods did not grow are skipped (no exponent can be computed).
pub fn growth(analyses: &[Analysis]) -> Vec<Growth> {
    let mut sorted: Vec<&Analysis> = analyses.iter().filter(|a| a.stats.pods > 0).collect();
    sorted.sort_by_key(|a| a.stats.pods);
    sorted
        .windows(2)
        .filter_map(|w| {
            let (a, b) = (w.first()?, w.get(1)?);
            let pods_factor = b.stats.pods as f64 / a.stats.pods as f64;
            let ta = a.wall().as_secs_f64();
            if pods_factor <= 1.0 || ta <= 0.0 {
                return None;
            }
            let time_factor = b.wall().as_secs_f64() / ta;
            Some(Growth {
                step: format!("{}→{}", a.size, b.size),
                pods_factor,
                time_factor,
                exponent: time_factor.ln() / pods_factor.ln(),
            })
        })
        .collect()
}

/// The analysis table, with targets judged on the large size.
pub fn table(analyses: &[Analysis]) -> Table {
    let mut t = Table::new(&[
        "size",
        "pods",
        "nodes",
        "bundle (zip)",
        "JSON",
        "wall",
        "cpu",
        "peak RSS",
        "µs/pod",
        "report",
        "injected failures",
        "targets",
    ]);
    for a in analyses {
        let targets = if a.size == "large" {
            format!(
                "wall ≤ 10 s {}, RSS ≤ 1 GiB {}",
                verdict(a.wall() <= WALL_TARGET),
                verdict(a.max_rss_kib() <= RSS_TARGET_KIB)
            )
        } else {
            String::new()
        };
        t.row(vec![
            a.size.clone(),
            a.stats.pods.to_string(),
            a.stats.nodes.to_string(),
            table::bytes_mib(a.stats.zip_bytes),
            table::bytes_mib(a.stats.json_bytes),
            secs(a.wall()),
            secs(a.cpu()),
            mib(a.max_rss_kib()),
            a.micros_per_pod()
                .map_or_else(String::new, |u| format!("{u:.1}")),
            table::bytes_mib(a.report_bytes),
            a.recall
                .as_ref()
                .map_or_else(|| "not listed".to_string(), Recall::summary),
            targets,
        ]);
    }
    t
}

/// The growth table.
pub fn growth_table(steps: &[Growth]) -> Table {
    let mut t = Table::new(&["step", "pods ×", "time ×", "exponent (1 = linear)"]);
    for g in steps {
        t.row(vec![
            g.step.clone(),
            format!("{:.2}", g.pods_factor),
            format!("{:.2}", g.time_factor),
            format!("{:.2}", g.exponent),
        ]);
    }
    t
}

/// The floor of one size, with the analysis it is compared to.
#[derive(Debug, Clone)]
pub struct Floor {
    /// Size name.
    pub size: String,
    /// One run per mode.
    pub runs: Vec<FloorRun>,
    /// The analysis of the same bundle, when it was run.
    pub analysis: Option<(Duration, u64)>,
}

impl Floor {
    /// The run of `mode`.
    pub fn mode(&self, mode: Mode) -> Option<&FloorRun> {
        self.runs.iter().find(|r| r.mode == mode)
    }

    /// analysis wall / floor wall for `mode`.
    pub fn ratio(&self, mode: Mode) -> Option<f64> {
        let (wall, _) = self.analysis?;
        let floor = self.mode(mode)?.measured.wall.as_secs_f64();
        (floor > 0.0).then(|| wall.as_secs_f64() / floor)
    }
}

/// Measures the floor of `bundle` in every mode.
pub fn floor(env: &Env, size: &str, bundle: &Path, analysis: Option<&Analysis>) -> Result<Floor> {
    let dir = env.scratch(&format!("floor-{size}"))?;
    let mut runs = Vec::new();
    for mode in [Mode::Raw, Mode::Ignored, Mode::Value] {
        let r = floor::measure(bundle, mode, &dir)?;
        eprintln!("floor {size} {}: {}", mode.as_str(), r.measured);
        runs.push(r);
    }
    Ok(Floor {
        size: size.to_string(),
        runs,
        analysis: analysis.map(|a| (a.wall(), a.max_rss_kib())),
    })
}

/// The floor table: one row per size and mode, ratio against analysis.
pub fn floor_table(floors: &[Floor]) -> Table {
    let mut t = Table::new(&[
        "size",
        "floor mode",
        "entries",
        "wall",
        "open / inflate / parse",
        "peak RSS",
        "analysis wall",
        "analysis / floor",
        "target ≤ 2×",
    ]);
    for f in floors {
        for r in &f.runs {
            let ratio = f.ratio(r.mode);
            let judged = r.mode != Mode::Raw;
            t.row(vec![
                f.size.clone(),
                r.mode.as_str().to_string(),
                r.pass.entries.to_string(),
                secs(r.measured.wall),
                format!(
                    "{:.3} / {:.3} / {:.3} s",
                    r.pass.open_secs, r.pass.read_secs, r.pass.parse_secs
                ),
                mib(r.measured.max_rss_kib),
                f.analysis.map_or_else(String::new, |(w, _)| secs(w)),
                ratio.map_or_else(String::new, |x| format!("{x:.2}×")),
                match (judged, ratio) {
                    (true, Some(x)) => verdict(x <= FLOOR_RATIO_TARGET).to_string(),
                    _ => String::new(),
                },
            ]);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(size: &str, pods: usize, wall_ms: u64) -> Analysis {
        Analysis {
            size: size.into(),
            stats: Stats {
                pods,
                ..Stats::default()
            },
            runs: vec![Measured {
                wall: Duration::from_millis(wall_ms),
                max_rss_kib: 100_000,
                cpu: Duration::from_millis(wall_ms),
                exit_code: Some(0),
            }],
            report_bytes: 1,
            recall: None,
        }
    }

    #[test]
    fn linear_growth_has_exponent_one() {
        let g = growth(&[
            analysis("large", 10_000, 4_000),
            analysis("small", 100, 40),
            analysis("medium", 1_000, 400),
        ]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].step, "small→medium");
        assert!((g[0].exponent - 1.0).abs() < 1e-9, "{g:?}");
        assert!((g[1].pods_factor - 10.0).abs() < 1e-9);
    }

    #[test]
    fn quadratic_growth_is_exposed() {
        let g = growth(&[analysis("small", 100, 10), analysis("medium", 1_000, 1_000)]);
        assert!((g[0].exponent - 2.0).abs() < 1e-9, "{g:?}");
    }

    #[test]
    fn same_pod_count_gives_no_step() {
        assert!(growth(&[analysis("a", 100, 10), analysis("b", 100, 12)]).is_empty());
        assert!(growth(&[analysis("a", 0, 10), analysis("b", 100, 12)]).is_empty());
    }

    #[test]
    fn large_targets_are_judged() {
        let md = table(&[analysis("large", 20_000, 12_000)]).render();
        assert!(md.contains("wall ≤ 10 s MISSED"), "{md}");
        assert!(md.contains("RSS ≤ 1 GiB met"), "{md}");
        assert!(md.contains("600.0"), "µs per pod: {md}");
    }
}
