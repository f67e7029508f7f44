//! Where the benchmarked binaries and the cached bundles live.
//!
//! The harness measures release binaries built into the same target
//! directory as itself (`<target>/release/`), so one
//! `cargo build --release -p …` prepares everything and the figures are of
//! the code just built, never of a stale copy somewhere on `PATH`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Paths of the programs under test and of the bundle cache.
#[derive(Debug, Clone)]
pub struct Env {
    /// Directory holding `kpm-analyze`, `kpm-collect`, `gen-bundle`.
    pub bin_dir: PathBuf,
    /// Generated bundles and per-run scratch output (`<target>/bench-data`).
    pub data_dir: PathBuf,
    /// The real kubectl to drive the snapshot server with.
    pub kubectl: PathBuf,
}

/// The cargo command that builds every binary the harness runs.
pub const BUILD_HINT: &str = "CARGO_TARGET_DIR=<dir> cargo build --release -p kpm-bench -p kpm-analyzer -p kpm-collector -p kpm-gen-bundle";

impl Env {
    /// Resolves the directories: explicit flags win, else the directory of
    /// this executable for binaries and its parent's `bench-data` for data.
    pub fn resolve(
        bin_dir: Option<PathBuf>,
        data_dir: Option<PathBuf>,
        kubectl: PathBuf,
    ) -> Result<Env> {
        let exe_dir = std::env::current_exe()
            .context("cannot locate the kpm-bench executable")?
            .parent()
            .map(Path::to_path_buf)
            .context("kpm-bench executable has no parent directory")?;
        let bin_dir = bin_dir.unwrap_or_else(|| exe_dir.clone());
        let data_dir = match data_dir {
            Some(d) => d,
            // <target>/release/kpm-bench → <target>/bench-data
            None => exe_dir
                .parent()
                .map_or_else(|| exe_dir.join("bench-data"), |t| t.join("bench-data")),
        };
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        Ok(Env {
            bin_dir,
            data_dir,
            kubectl,
        })
    }

    /// Path of binary `name`, checked to exist so a missing build is
    /// reported up front with the command that fixes it.
    pub fn bin(&self, name: &str) -> Result<PathBuf> {
        let path = self.bin_dir.join(name);
        if !path.is_file() {
            bail!(
                "{} not found; build it first: {BUILD_HINT} (or pass --bin-dir)",
                path.display()
            );
        }
        Ok(path)
    }

    /// The kubectl binary, checked to exist.
    pub fn kubectl(&self) -> Result<&Path> {
        if !self.kubectl.is_file() {
            bail!(
                "kubectl not found at {} (pass --kubectl)",
                self.kubectl.display()
            );
        }
        Ok(&self.kubectl)
    }

    /// A fresh scratch directory for one benchmark run, emptied first so
    /// counts never include leftovers of a previous run.
    pub fn scratch(&self, name: &str) -> Result<PathBuf> {
        let dir = self.data_dir.join("runs").join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot empty {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_names_the_build_command() {
        let tmp = std::env::temp_dir().join(format!("kpm-bench-env-{}", std::process::id()));
        let env = Env::resolve(
            Some(tmp.join("bin")),
            Some(tmp.join("data")),
            PathBuf::from("/nonexistent/kubectl"),
        )
        .unwrap();
        let err = env.bin("kpm-analyze").unwrap_err().to_string();
        assert!(err.contains("cargo build --release"), "{err}");
        assert!(env.kubectl().is_err());

        let scratch = env.scratch("x").unwrap();
        std::fs::write(scratch.join("old"), "leftover").unwrap();
        let again = env.scratch("x").unwrap();
        assert_eq!(
            std::fs::read_dir(&again).unwrap().count(),
            0,
            "scratch must start empty"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
