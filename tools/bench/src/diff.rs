//! `kpm-bench diff` (issue 19): `kpm-analyze diff BEFORE AFTER --format html`
//! of two generated bundles of one size (the same seed; AFTER the same
//! cluster an hour later with `--perturb` of its apps changed: rollouts,
//! restarts, pods replaced, ConfigMaps and Secrets edited, a node
//! replaced) against
//! `kpm-analyze BEFORE --format html`. Target: the diff within 2× the
//! analysis, peak RSS within the analysis target.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Result;

use crate::analyze::RSS_TARGET_KIB;
use crate::env::Env;
use crate::measure::{self, Measured, Probe};
use crate::table::{mib, secs, verdict, Table};

/// The diff may cost at most this many times one analysis.
pub const DIFF_RATIO_TARGET: f64 = 2.0;

/// One size's diff against its analysis.
#[derive(Debug, Clone)]
pub struct DiffBench {
    /// `small`, `medium`, `large`.
    pub size: String,
    /// Pods in BEFORE.
    pub pods: usize,
    /// `kpm-analyze BEFORE` runs.
    pub analyze: Vec<Measured>,
    /// `kpm-analyze diff BEFORE AFTER` runs.
    pub diff: Vec<Measured>,
}

fn wall(runs: &[Measured]) -> Duration {
    let walls: Vec<Duration> = runs.iter().map(|m| m.wall).collect();
    measure::median(&walls).unwrap_or_default()
}

fn rss(runs: &[Measured]) -> u64 {
    runs.iter().map(|m| m.max_rss_kib).max().unwrap_or(0)
}

impl DiffBench {
    /// Median diff wall time over median analysis wall time.
    pub fn ratio(&self) -> f64 {
        let a = wall(&self.analyze).as_secs_f64();
        if a > 0.0 {
            wall(&self.diff).as_secs_f64() / a
        } else {
            0.0
        }
    }
}

/// Runs both `reps` times, alternating, into the size's scratch directory.
pub fn run(
    env: &Env,
    size: &str,
    before: &Path,
    after: &Path,
    pods: usize,
    reps: usize,
) -> Result<DiffBench> {
    let dir = env.scratch(&format!("diff-{size}"))?;
    let analyzer = env.bin("kpm-analyze")?;
    let (mut analyze, mut diff) = (Vec::new(), Vec::new());
    for rep in 0..reps.max(1) {
        let mut probe = Probe::new(&analyzer, "kpm-analyze")?;
        probe
            .cmd()
            .arg(before)
            .args(["--format", "html", "-o"])
            .arg(dir.join("report.html"))
            .stdout(Stdio::null());
        let m = probe.run_ok(&dir.join("analyze.stderr.log"))?;
        eprintln!("analyze {size} #{}: {m}", rep + 1);
        analyze.push(m);
        let mut probe = Probe::new(&analyzer, "kpm-analyze diff")?;
        probe
            .cmd()
            .arg("diff")
            .arg(before)
            .arg(after)
            .args(["--format", "html", "-o"])
            .arg(dir.join("diff.html"))
            .stdout(Stdio::null());
        let m = probe.run_ok(&dir.join("diff.stderr.log"))?;
        eprintln!("diff {size} #{}: {m}", rep + 1);
        diff.push(m);
    }
    Ok(DiffBench {
        size: size.to_string(),
        pods,
        analyze,
        diff,
    })
}

/// The table, with the targets judged at every size.
pub fn table(benches: &[DiffBench]) -> Table {
    let mut t = Table::new(&[
        "size",
        "pods",
        "analyze wall",
        "analyze RSS",
        "diff wall",
        "diff RSS",
        "diff / analyze",
        "targets",
    ]);
    for b in benches {
        t.row(vec![
            b.size.clone(),
            b.pods.to_string(),
            secs(wall(&b.analyze)),
            mib(rss(&b.analyze)),
            secs(wall(&b.diff)),
            mib(rss(&b.diff)),
            format!("{:.2}×", b.ratio()),
            format!(
                "≤ {DIFF_RATIO_TARGET}× {}, RSS ≤ 1 GiB {}",
                verdict(b.ratio() <= DIFF_RATIO_TARGET),
                verdict(rss(&b.diff) <= RSS_TARGET_KIB)
            ),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(wall_ms: u64, rss_mib: u64) -> Measured {
        Measured {
            wall: Duration::from_millis(wall_ms),
            max_rss_kib: rss_mib * 1024,
            cpu: Duration::from_millis(wall_ms),
            exit_code: Some(0),
        }
    }

    #[test]
    fn ratio_uses_medians_and_the_table_judges_both_targets() {
        let b = DiffBench {
            size: "large".into(),
            pods: 150_000,
            analyze: vec![m(8_000, 600), m(9_000, 650), m(30_000, 640)],
            diff: vec![m(17_000, 900), m(16_000, 950), m(18_000, 920)],
        };
        assert!((b.ratio() - 17.0 / 9.0).abs() < 1e-9);
        let text = table(&[b]).render();
        assert!(text.contains("1.89×"), "{text}");
        assert_eq!(text.matches(" met").count(), 2, "{text}");
        let slow = DiffBench {
            size: "large".into(),
            pods: 150_000,
            analyze: vec![m(8_000, 600)],
            diff: vec![m(17_000, 1_100)],
        };
        assert_eq!(table(&[slow]).render().matches("MISSED").count(), 2);
    }
}
