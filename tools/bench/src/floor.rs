//! The raw floor: the least work any analysis of a bundle must do —
//! decompress every JSON entry and parse it — measured the same way as the
//! analyzer (a separate process, wall time from spawn to exit, kernel peak
//! RSS), so `analysis / floor` compares like with like.
//!
//! The parent re-executes itself as `kpm-bench floor-run --mode M BUNDLE`;
//! the child does the pass with `kpm_bundle::Bundle` and prints its own
//! breakdown (open, decompress, parse) as one JSON line. Like the analyzer,
//! the pass uses every core and mimalloc, so the floor is the least this
//! machine needs, not a single-threaded straw man.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kpm_bundle::Bundle;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::measure::{Measured, Probe};

/// What the floor pass parses each entry into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Decompress only: the I/O and inflate share of the floor.
    Raw,
    /// Parse into `serde::de::IgnoredAny`: validates the JSON, builds nothing.
    Ignored,
    /// Parse into `serde_json::Value`: builds a DOM per file (dropped before
    /// the next), the cost of any generic reader.
    Value,
}

impl Mode {
    /// Name as passed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Raw => "raw",
            Mode::Ignored => "ignored",
            Mode::Value => "value",
        }
    }
}

/// The child's own breakdown of one pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pass {
    /// JSON entries read.
    pub entries: usize,
    /// Their uncompressed bytes.
    pub bytes: u64,
    /// Opening the bundle (central directory, manifest).
    pub open_secs: f64,
    /// Decompressing entries (summed over the pass's threads).
    pub read_secs: f64,
    /// Parsing them (summed over the pass's threads).
    pub parse_secs: f64,
    /// Peak RSS of the pass's process (`VmHWM`), KiB, read in-process.
    pub hwm_kib: u64,
}

/// Runs one floor pass over `bundle` in this process.
pub fn pass(bundle: &Path, mode: Mode) -> Result<Pass> {
    let t = Instant::now();
    let b =
        Bundle::open(bundle).with_context(|| format!("cannot open bundle {}", bundle.display()))?;
    let mut out = Pass {
        open_secs: t.elapsed().as_secs_f64(),
        ..Pass::default()
    };
    let names: Vec<String> = b
        .entries()
        .filter(|e| e.ends_with(".json"))
        .map(str::to_string)
        .collect();
    // As many threads as the analyzer uses (every core): the floor is
    // what this machine needs at least, not what one core needs.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(names.len().max(1));
    let parts: Vec<Result<Part>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let names = names.iter().skip(k).step_by(threads);
                let b = &b;
                scope.spawn(move || floor_part(b, bundle, names, mode))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a floor thread panicked")))
            })
            .collect()
    });
    let (mut read, mut parse) = (Duration::ZERO, Duration::ZERO);
    for part in parts {
        let part = part?;
        read += part.read;
        parse += part.parse;
        out.entries += part.entries;
        out.bytes += part.bytes;
    }
    out.read_secs = read.as_secs_f64();
    out.parse_secs = parse.as_secs_f64();
    out.hwm_kib = crate::measure::self_hwm_kib().unwrap_or(0);
    Ok(out)
}

/// What one floor thread did.
#[derive(Default)]
struct Part {
    entries: usize,
    bytes: u64,
    read: Duration,
    parse: Duration,
}

fn floor_part<'a>(
    b: &Bundle,
    bundle: &Path,
    names: impl Iterator<Item = &'a String>,
    mode: Mode,
) -> Result<Part> {
    let mut out = Part::default();
    for name in names {
        let t = Instant::now();
        let bytes = b
            .read_bytes(name)
            .with_context(|| format!("{}: {name}", bundle.display()))?;
        out.read += t.elapsed();
        let t = Instant::now();
        match mode {
            Mode::Raw => {}
            Mode::Ignored => {
                serde_json::from_slice::<IgnoredAny>(&bytes)
                    .with_context(|| format!("{}: {name}", bundle.display()))?;
            }
            Mode::Value => {
                let v: serde_json::Value = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{}: {name}", bundle.display()))?;
                drop(v);
            }
        }
        out.parse += t.elapsed();
        out.entries += 1;
        out.bytes += bytes.len() as u64;
    }
    Ok(out)
}

/// A floor pass measured as its own process.
#[derive(Debug, Clone)]
pub struct FloorRun {
    /// The mode.
    pub mode: Mode,
    /// Whole-process cost.
    pub measured: Measured,
    /// The child's breakdown.
    pub pass: Pass,
}

/// Re-executes this binary as `floor-run` on `bundle` (under the
/// measuring launcher) and measures it; `scratch` receives its breakdown.
pub fn measure(bundle: &Path, mode: Mode, scratch: &Path) -> Result<FloorRun> {
    let exe = std::env::current_exe().context("cannot locate the kpm-bench executable")?;
    let out = scratch.join(format!("floor-{}.json", mode.as_str()));
    let _ = std::fs::remove_file(&out);
    let mut probe = Probe::new(&exe, "kpm-bench floor-run")?;
    probe
        .cmd()
        .args(["floor-run", "--mode", mode.as_str(), "--out"])
        .arg(&out)
        .arg(bundle)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let measured = probe.run()?;
    if !measured.success() {
        bail!("floor-run --mode {} failed ({measured})", mode.as_str());
    }
    let text = std::fs::read_to_string(&out)
        .with_context(|| format!("floor-run wrote no {}", out.display()))?;
    let pass: Pass =
        serde_json::from_str(&text).with_context(|| format!("floor-run wrote {text:?}"))?;
    Ok(FloorRun {
        mode,
        measured,
        pass,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::manifest;
    use kpm_bundle::BundleWriter;

    fn bundle_with(dir: &Path, pods_json: &[u8]) -> std::path::PathBuf {
        let zip = dir.join("b.zip");
        let mut w = BundleWriter::create_zip(&zip, true).unwrap();
        w.write_entry("namespaces/shop/pods.json", pods_json)
            .unwrap();
        w.write_entry("logs/shop/web-0/app.log", b"not json at all {")
            .unwrap();
        w.finish(manifest()).unwrap()
    }

    #[test]
    fn parses_every_json_entry_and_skips_logs() {
        let dir = std::env::temp_dir().join(format!("kpm-bench-floor-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pods = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1234"},"items":[{"metadata":{"name":"web-0","namespace":"shop"},"status":{"phase":"Running"}}]}"#;
        let zip = bundle_with(&dir, pods);
        for mode in [Mode::Raw, Mode::Ignored, Mode::Value] {
            let p = pass(&zip, mode).unwrap();
            // pods.json and manifest.json; the log is not JSON and not read.
            assert_eq!(p.entries, 2, "{mode:?}");
            assert!(p.bytes > pods.len() as u64);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_json_fails_the_parsing_modes_only() {
        let dir = std::env::temp_dir().join(format!("kpm-bench-floor-bad-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let zip = bundle_with(&dir, br#"{"kind":"PodList","items":[{"metadata":"#);
        assert!(pass(&zip, Mode::Raw).is_ok());
        let err = pass(&zip, Mode::Ignored).unwrap_err();
        assert!(
            format!("{err:#}").contains("namespaces/shop/pods.json"),
            "{err:#}"
        );
        assert!(pass(&zip, Mode::Value).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
