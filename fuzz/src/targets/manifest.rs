//! `manifest.json`: a scenario bundle (copied into a private directory)
//! with its manifest replaced by the input, opened, verified and analysed.

use anyhow::{Context, Result};
use kpm_bundle::Bundle;

use super::{copy_dir, exercise, fuzz_budgets, Target};
use crate::corpus::Paths;
use crate::mutate::{Mutator, Shape};

/// Field names and values of the manifest format (docs/bundle-format.md).
const DICT: &[&str] = &[
    "formatVersion",
    "tool",
    "collection",
    "startedAt",
    "finishedAt",
    "cluster",
    "scope",
    "options",
    "steps",
    "files",
    "what",
    "outcome",
    "namespace",
    "object",
    "error",
    "sha256",
    "size",
    "path",
    "ok",
    "failed",
    "forbidden",
    "skipped",
    "timeout",
    "2026-11-20T14:31:58Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999+14:00",
    "manifest.json",
    "namespaces/default/pods.json",
];

/// See the module docs.
pub struct ManifestTarget {
    dir: tempfile::TempDir,
}

impl ManifestTarget {
    /// Copies the base scenario (`testdata/crashloop`) into a private
    /// directory.
    pub fn new(paths: &Paths) -> Result<ManifestTarget> {
        let dir = tempfile::tempdir().context("creating the scratch directory")?;
        let base = paths.testdata().join("crashloop");
        copy_dir(&base, dir.path()).with_context(|| format!("copying {}", base.display()))?;
        Ok(ManifestTarget { dir })
    }
}

impl Target for ManifestTarget {
    fn name(&self) -> &'static str {
        "manifest"
    }

    fn mutator(&self) -> Mutator {
        Mutator::new(Shape::Json, DICT, 8 << 20)
    }

    fn seeds(&self, paths: &Paths) -> Vec<Vec<u8>> {
        let mut out = crate::corpus::files_in(&paths.seeds("manifest"));
        for dir in paths.scenarios().into_iter().chain(paths.shared_bundles()) {
            out.extend(std::fs::read(dir.join("manifest.json")).ok());
        }
        out
    }

    fn run(&mut self, input: &[u8]) -> bool {
        let root = self.dir.path();
        if std::fs::write(root.join("manifest.json"), input).is_err() {
            return false;
        }
        match Bundle::open_with(root, fuzz_budgets()) {
            Ok(bundle) => {
                exercise(&bundle, true, false);
                bundle.problems().is_empty()
            }
            Err(e) => {
                let _ = e.to_string();
                false
            }
        }
    }
}
