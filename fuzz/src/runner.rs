//! The fuzzing loop: seeds and mutants until the time is up, every
//! input run under `catch_unwind`. A panic (or an input slower than the
//! timeout) is written to `fuzz/artifacts/<target>/` and fails the run.
//!
//! Coverage-free: instead of coverage feedback, mutants the target
//! accepted (they got past its first parser) join a bounded pool that
//! later mutations start from, so stacked mutations go deeper than one
//! step from a seed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::corpus::Paths;
use crate::rng::Rng;
use crate::targets::{self, Target};

/// Accepted mutants kept to mutate further.
const POOL: usize = 512;

/// How one target is run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Time for the run (seeds and mutants interleaved).
    pub seconds: f64,
    /// PRNG seed: the same seed replays the same inputs.
    pub seed: u64,
    /// An input running longer than this is a finding (a hang).
    pub timeout: Duration,
    /// Corpus and artifact locations.
    pub paths: Paths,
}

/// A finding, written to disk.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The panic message with its location, or the time taken.
    pub message: String,
    /// The input, as written.
    pub artifact: PathBuf,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Inputs run (seeds included).
    pub execs: u64,
    /// Inputs the target accepted.
    pub accepted: u64,
    /// Seeds loaded.
    pub seeds: usize,
    /// Seeds run unchanged (all of them unless time ran out first).
    pub seeds_run: usize,
    /// Bytes of seeds.
    pub seed_bytes: usize,
    /// Accepted mutants kept at the end.
    pub pool: usize,
    /// Largest input run.
    pub max_len: usize,
    /// Slowest input.
    pub slowest: Duration,
    /// Wall time.
    pub elapsed: Duration,
    /// Distinct panics and hangs.
    pub findings: Vec<Finding>,
}

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);
static HOOK: Once = Once::new();

/// Replaces the panic hook with one that records the first panic message
/// (with its location) instead of printing it.
fn quiet_panics() {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".to_string());
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            let full = format!("{msg} at {}", at.unwrap_or_default());
            if let Ok(mut last) = LAST_PANIC.lock() {
                last.get_or_insert(full);
            }
        }));
    });
}

fn take_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut l| l.take())
}

/// The outcome of one input.
enum Exec {
    Ok { accepted: bool, took: Duration },
    Panic(String),
}

fn exec(target: &mut dyn Target, input: &[u8]) -> Exec {
    take_panic();
    let start = Instant::now();
    match catch_unwind(AssertUnwindSafe(|| target.run(input))) {
        Ok(accepted) => Exec::Ok {
            accepted,
            took: start.elapsed(),
        },
        Err(_) => Exec::Panic(take_panic().unwrap_or_else(|| "panic".to_string())),
    }
}

/// Writes `input` to `<dir>/<prefix>-<sha256>` and returns the path.
pub fn write_artifact(dir: &Path, prefix: &str, input: &[u8]) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let sha = Sha256::digest(input);
    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    let path = dir.join(format!("{prefix}-{hex}"));
    std::fs::write(&path, input).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Runs target `name` for the configured time.
pub fn run(name: &str, cfg: &Config) -> Result<Stats> {
    run_with(name, cfg, &|| targets::build(name, &cfg.paths))
}

/// Builds a target (again after a panic, which may leave it half-way
/// through an edit).
pub type Factory<'a> = dyn Fn() -> Result<Box<dyn Target>> + 'a;

/// Runs the target `build` makes, writing findings under `name`.
pub fn run_with(name: &str, cfg: &Config, build: &Factory<'_>) -> Result<Stats> {
    quiet_panics();
    let started = Instant::now();
    let mut target = build()?;
    let seeds = target.seeds(&cfg.paths);
    anyhow::ensure!(
        !seeds.is_empty(),
        "target {name}: no seeds found under {}",
        cfg.paths.root.display()
    );
    let mutator = target.mutator();
    let mut rng = Rng::new(Rng::derive(cfg.seed, name));
    let mut stats = Stats {
        seeds: seeds.len(),
        seed_bytes: seeds.iter().map(Vec::len).sum(),
        ..Stats::default()
    };
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let refs: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
    let deadline = Instant::now() + Duration::from_secs_f64(cfg.seconds.max(0.0));
    // Seeds in a shuffled order, interleaved with mutants: the time bound
    // holds however many seeds there are, and a short run still mutates.
    let mut order: Vec<usize> = (0..seeds.len()).collect();
    for k in (1..order.len()).rev() {
        order.swap(k, rng.below(k + 1));
    }
    let mut next_seed = 0usize;
    loop {
        if Instant::now() >= deadline && stats.execs > 0 {
            break;
        }
        let from_seed = next_seed < order.len() && rng.one_in(2);
        let input = if from_seed {
            next_seed += 1;
            seeds[order[next_seed - 1]].clone()
        } else {
            let base = match rng.pick(&pool) {
                Some(p) if rng.one_in(2) => p.as_slice(),
                // The smaller of two random seeds: small inputs run
                // faster, so time goes to many inputs, not a few large.
                _ => {
                    let (a, b) = (refs[rng.below(refs.len())], refs[rng.below(refs.len())]);
                    if a.len() <= b.len() {
                        a
                    } else {
                        b
                    }
                }
            };
            mutator.mutate(&mut rng, base, &refs)
        };
        stats.execs += 1;
        stats.seeds_run += usize::from(from_seed);
        stats.max_len = stats.max_len.max(input.len());
        match exec(target.as_mut(), &input) {
            Exec::Ok { accepted, took } => {
                stats.slowest = stats.slowest.max(took);
                if took > cfg.timeout {
                    let message = format!(
                        "took {:.1} s (timeout {:.0} s)",
                        took.as_secs_f64(),
                        cfg.timeout.as_secs_f64()
                    );
                    record(&mut stats, cfg, name, "slow", message, &input)?;
                }
                if accepted {
                    stats.accepted += 1;
                    if !from_seed {
                        keep(&mut pool, &mut rng, input);
                    }
                }
            }
            Exec::Panic(message) => {
                record(&mut stats, cfg, name, "crash", message, &input)?;
                target = build()?;
            }
        }
    }
    stats.pool = pool.len();
    stats.elapsed = started.elapsed();
    Ok(stats)
}

fn keep(pool: &mut Vec<Vec<u8>>, rng: &mut Rng, input: Vec<u8>) {
    if pool.len() < POOL {
        pool.push(input);
    } else {
        let i = rng.below(POOL);
        pool[i] = input;
    }
}

/// Writes a finding unless one with the same message was written already.
fn record(
    stats: &mut Stats,
    cfg: &Config,
    name: &str,
    prefix: &str,
    message: String,
    input: &[u8],
) -> Result<()> {
    let seen = stats.findings.iter().any(|f| f.message == message);
    let artifact = write_artifact(&cfg.paths.artifacts(name), prefix, input)?;
    eprintln!(
        "kpm-fuzz: {name}: {prefix}: {message}\n  input: {}",
        artifact.display()
    );
    if !seen {
        stats.findings.push(Finding { message, artifact });
    }
    Ok(())
}

/// Runs each file through target `name` once; the panics found.
pub fn replay(name: &str, files: &[PathBuf], paths: &Paths) -> Result<Vec<Finding>> {
    quiet_panics();
    let mut target = targets::build(name, paths)?;
    let mut found = Vec::new();
    for f in files {
        let input = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        match exec(target.as_mut(), &input) {
            Exec::Ok { took, .. } => println!("{}: ok ({:.3} s)", f.display(), took.as_secs_f64()),
            Exec::Panic(message) => {
                println!("{}: PANIC {message}", f.display());
                found.push(Finding {
                    message,
                    artifact: f.clone(),
                });
                target = targets::build(name, paths)?;
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mutate::{Mutator, Shape};

    /// Panics on any input holding `#`, after a few mutations of its seed.
    struct Fragile;

    impl Target for Fragile {
        fn name(&self) -> &'static str {
            "fragile"
        }
        fn mutator(&self) -> Mutator {
            Mutator::new(Shape::Text, &["#"], 64)
        }
        fn seeds(&self, _: &Paths) -> Vec<Vec<u8>> {
            vec![b"abc".to_vec()]
        }
        fn run(&mut self, input: &[u8]) -> bool {
            assert!(!input.contains(&b'#'), "found a hash");
            true
        }
    }

    #[test]
    fn a_panicking_input_is_written_and_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("fuzz")).unwrap();
        let cfg = Config {
            seconds: 0.5,
            seed: 3,
            timeout: Duration::from_secs(30),
            paths: Paths::new(dir.path().to_path_buf()),
        };
        let stats = run_with("fragile", &cfg, &|| Ok(Box::new(Fragile))).unwrap();
        assert!(stats.execs > 10, "{stats:?}");
        assert_eq!(stats.findings.len(), 1, "{stats:?}");
        let f = &stats.findings[0];
        assert!(
            f.message.contains("found a hash") && f.message.contains("runner.rs"),
            "{}",
            f.message
        );
        let input = std::fs::read(&f.artifact).unwrap();
        assert!(input.contains(&b'#'));
        let name = f
            .artifact
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with("crash-") && name.len() == "crash-".len() + 64,
            "{name}"
        );
        assert!(f
            .artifact
            .starts_with(dir.path().join("fuzz/artifacts/fragile")));
    }
}
