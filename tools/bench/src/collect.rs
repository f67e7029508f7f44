//! Benchmarks 4 and 5, both against `kpm-analyze serve`: real kubectl
//! commands on a large snapshot, and `kpm-collect` against
//! `kubectl cluster-info dump` on the same server in the same run.

use anyhow::{Context, Result};
use std::path::Path;
use std::process::Stdio;

use crate::data::Stats;
use crate::env::Env;
use crate::gathered::{self, Gathered};
use crate::measure::{Measured, Probe};
use crate::serve::{kubectl, KubectlRun, Server, Stopped};
use crate::table::{self, mib, secs, verdict, Table};

/// The collector must use less than this at every size.
pub const COLLECTOR_RSS_TARGET_KIB: u64 = 256 * 1024;
/// …and be at least this many times faster than the dump.
pub const SPEEDUP_TARGET: f64 = 2.0;

/// kubectl on the snapshot server.
#[derive(Debug, Clone)]
pub struct ServeBench {
    /// Size name.
    pub size: String,
    /// The commands.
    pub commands: Vec<KubectlRun>,
    /// The server's cost.
    pub server: Stopped,
}

/// Starts serve on `bundle` and times `kubectl get pods -A` and
/// `kubectl describe node <first node>`, `reps` times each.
pub fn serve(
    env: &Env,
    size: &str,
    bundle: &Path,
    stats: &Stats,
    reps: usize,
) -> Result<ServeBench> {
    let dir = env.scratch(&format!("serve-{size}"))?;
    let server = Server::start(env, bundle, &dir, None)?;
    eprintln!("serve {size}: listening after {}", secs(server.startup));
    let result = (|| {
        let mut commands = vec![kubectl(
            env,
            &server.kubeconfig,
            &["get", "pods", "-A"],
            reps,
            &dir,
        )?];
        if let Some(node) = &stats.first_node {
            commands.push(kubectl(
                env,
                &server.kubeconfig,
                &["describe", "node", node],
                reps,
                &dir,
            )?);
        }
        Ok::<_, anyhow::Error>(commands)
    })();
    let log = server.log().to_path_buf();
    let stopped = server.stop()?;
    let commands = result.with_context(|| format!("serve log: {}", log.display()))?;
    for c in &commands {
        eprintln!(
            "serve {size}: {} median {} ({} lines)",
            c.display(),
            secs(c.median_wall()),
            c.stdout_lines
        );
    }
    Ok(ServeBench {
        size: size.to_string(),
        commands,
        server: stopped,
    })
}

/// The serve table.
pub fn serve_table(benches: &[ServeBench]) -> Table {
    let mut t = Table::new(&[
        "size",
        "command",
        "runs",
        "median wall",
        "output lines",
        "serve start-up",
        "serve peak RSS",
    ]);
    for b in benches {
        for c in &b.commands {
            t.row(vec![
                b.size.clone(),
                c.display(),
                c.runs.len().to_string(),
                secs(c.median_wall()),
                c.stdout_lines.to_string(),
                secs(b.server.startup),
                mib(b.server.measured.max_rss_kib),
            ]);
        }
    }
    t
}

/// kpm-collect against kubectl cluster-info dump.
#[derive(Debug, Clone)]
pub struct CollectBench {
    /// Size name.
    pub size: String,
    /// Request latency the server added, if any.
    pub latency_ms: Option<u64>,
    /// The collector's cost.
    pub collector: Measured,
    /// The dump's cost.
    pub dump: Measured,
    /// What the collector gathered.
    pub collected: Gathered,
    /// What the dump gathered.
    pub dumped: Gathered,
    /// Why the collector did not gather strictly more (empty: it did).
    pub shortfalls: Vec<String>,
    /// The server's cost over both.
    pub server: Stopped,
}

impl CollectBench {
    /// dump wall / collector wall: how many times faster the collector is.
    pub fn speedup(&self) -> f64 {
        let c = self.collector.wall.as_secs_f64();
        if c > 0.0 {
            self.dump.wall.as_secs_f64() / c
        } else {
            0.0
        }
    }
}

/// Starts serve on `bundle`, runs `kpm-collect` then `kubectl cluster-info
/// dump --all-namespaces` against it, and counts what each gathered.
/// `collect_args` are passed to kpm-collect as is (e.g. `--qps 0`).
pub fn collect(
    env: &Env,
    size: &str,
    bundle: &Path,
    stats: &Stats,
    latency_ms: Option<u64>,
    collect_args: &[String],
) -> Result<CollectBench> {
    let dir = env.scratch(&format!("collect-{size}"))?;
    let server = Server::start(env, bundle, &dir, latency_ms)?;
    eprintln!(
        "collect {size}: serve listening after {}",
        secs(server.startup)
    );
    let out = dir.join("collected.zip");
    let dump_dir = dir.join("dump");
    let result = (|| {
        let mut probe = Probe::new(env.bin("kpm-collect")?, "kpm-collect")?;
        probe
            .cmd()
            .arg("--kubeconfig")
            .arg(&server.kubeconfig)
            .arg("-o")
            .arg(&out)
            .arg("--force")
            .args(collect_args)
            .stdout(Stdio::null());
        let collector = probe.run_ok(&dir.join("collect.stderr"))?;
        eprintln!("collect {size}: kpm-collect {collector}");
        let mut probe = Probe::new(env.kubectl()?, "kubectl cluster-info dump")?;
        probe
            .cmd()
            .arg("--kubeconfig")
            .arg(&server.kubeconfig)
            .args([
                "cluster-info",
                "dump",
                "--all-namespaces",
                "--output-directory",
            ])
            .arg(&dump_dir)
            .stdout(Stdio::null());
        let dump = probe.run_ok(&dir.join("dump.stderr"))?;
        eprintln!("collect {size}: kubectl cluster-info dump {dump}");
        Ok::<_, anyhow::Error>((collector, dump))
    })();
    let log = server.log().to_path_buf();
    let stopped = server.stop()?;
    let (collector, dump) = result.with_context(|| format!("serve log: {}", log.display()))?;
    let collected = gathered::of_bundle(&out)?;
    let dumped = gathered::of_dump(&dump_dir)?;
    // The generated clusters have restarted containers whenever any
    // failures are injected, so previous logs are expected.
    let shortfalls = gathered::shortfalls(&collected, &dumped, stats.log_files > 0);
    Ok(CollectBench {
        size: size.to_string(),
        latency_ms,
        collector,
        dump,
        collected,
        dumped,
        shortfalls,
        server: stopped,
    })
}

/// The timing table of the collection benchmark.
pub fn collect_table(benches: &[CollectBench]) -> Table {
    let mut t = Table::new(&[
        "size",
        "server latency",
        "kpm-collect wall",
        "kpm-collect peak RSS",
        "cluster-info dump wall",
        "dump peak RSS",
        "speed-up",
        "serve peak RSS",
        "targets",
    ]);
    for b in benches {
        t.row(vec![
            b.size.clone(),
            b.latency_ms
                .map_or_else(|| "0 ms".to_string(), |ms| format!("{ms} ms")),
            secs(b.collector.wall),
            mib(b.collector.max_rss_kib),
            secs(b.dump.wall),
            mib(b.dump.max_rss_kib),
            format!("{:.2}×", b.speedup()),
            mib(b.server.measured.max_rss_kib),
            format!(
                "≥ 2× {}, RSS < 256 MiB {}, gathers more {}",
                verdict(b.speedup() >= SPEEDUP_TARGET),
                verdict(b.collector.max_rss_kib < COLLECTOR_RSS_TARGET_KIB),
                verdict(b.shortfalls.is_empty())
            ),
        ]);
    }
    t
}

/// What each side gathered, resource by resource.
pub fn gathered_table(b: &CollectBench) -> Table {
    let mut t = Table::new(&["gathered", "kpm-collect", "cluster-info dump"]);
    let mut resources: Vec<&String> = b
        .collected
        .objects
        .keys()
        .chain(b.dumped.objects.keys())
        .collect();
    resources.sort();
    resources.dedup();
    for r in resources {
        t.row(vec![
            r.clone(),
            b.collected.count(r).to_string(),
            b.dumped.count(r).to_string(),
        ]);
    }
    let rows = [
        (
            "objects (total)",
            b.collected.total_objects(),
            b.dumped.total_objects(),
        ),
        (
            "pods with logs",
            b.collected.pods_with_logs,
            b.dumped.pods_with_logs,
        ),
        (
            "current log files",
            b.collected.log_files,
            b.dumped.log_files,
        ),
        (
            "previous logs",
            b.collected.previous_logs,
            b.dumped.previous_logs,
        ),
        ("files", b.collected.files, b.dumped.files),
    ];
    for (what, c, d) in rows {
        t.row(vec![what.to_string(), c.to_string(), d.to_string()]);
    }
    t.row(vec![
        "bytes on disk".to_string(),
        table::bytes_mib(b.collected.bytes),
        table::bytes_mib(b.dumped.bytes),
    ]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn m(wall_ms: u64, rss_mib: u64) -> Measured {
        Measured {
            wall: Duration::from_millis(wall_ms),
            max_rss_kib: rss_mib * 1024,
            cpu: Duration::ZERO,
            exit_code: Some(0),
        }
    }

    #[test]
    fn collect_targets_are_judged() {
        let mut collected = Gathered::default();
        collected.objects.insert("pods".into(), 10);
        let mut dumped = Gathered::default();
        dumped.objects.insert("pods".into(), 10);
        let b = CollectBench {
            size: "medium".into(),
            latency_ms: None,
            collector: m(1_000, 300),
            dump: m(3_000, 80),
            shortfalls: gathered::shortfalls(&collected, &dumped, false),
            collected,
            dumped,
            server: Stopped {
                measured: m(5_000, 200),
                startup: Duration::from_millis(300),
            },
        };
        assert!((b.speedup() - 3.0).abs() < 1e-9);
        let md = collect_table(std::slice::from_ref(&b)).render();
        assert!(md.contains("≥ 2× met"), "{md}");
        assert!(md.contains("RSS < 256 MiB MISSED"), "{md}");
        // No endpoints, ingresses, HPAs or metrics: not "more".
        assert!(md.contains("gathers more MISSED"), "{md}");
        let g = gathered_table(&b).render();
        assert!(g.contains("| pods "), "{g}");
    }
}
