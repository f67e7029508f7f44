//! One fuzz target per surface that reads bytes someone else chose. Every
//! target takes `&[u8]`, must never panic, and says whether the input got
//! past the first parser ("accepted"), which the runner uses to keep
//! inputs that reach deeper code.

mod bundle;
mod lists;
mod manifest;
mod render;
mod semantics;
mod serve;

use std::path::Path;

use anyhow::Result;
use kpm_bundle::{Budgets, Bundle};

use crate::corpus::Paths;
use crate::mutate::Mutator;

/// A fuzz target.
pub trait Target {
    /// The target's name (`--target`, artifact directory).
    fn name(&self) -> &'static str;
    /// How inputs of this target are mutated.
    fn mutator(&self) -> Mutator;
    /// The seed inputs, read from the corpus.
    fn seeds(&self, paths: &Paths) -> Vec<Vec<u8>>;
    /// Runs one input; true when it got past the first parser. Must not
    /// panic, whatever the input.
    fn run(&mut self, input: &[u8]) -> bool;
}

/// Every target, in the order `--all` runs them.
pub const NAMES: &[&str] = &[
    "bundle",
    "manifest",
    "lists",
    "semantics",
    "serve",
    "render",
];

/// Builds target `name` (its temporary files, its base bundle).
pub fn build(name: &str, paths: &Paths) -> Result<Box<dyn Target>> {
    Ok(match name {
        "bundle" => Box::new(bundle::BundleTarget::new()?),
        "manifest" => Box::new(manifest::ManifestTarget::new(paths)?),
        "lists" => Box::new(lists::ListsTarget::new(paths)?),
        "semantics" => Box::new(semantics::SemanticsTarget),
        "serve" => Box::new(serve::ServeTarget::new(paths)?),
        "render" => Box::new(render::RenderTarget::new(paths)?),
        other => anyhow::bail!("unknown target {other:?} (targets: {})", NAMES.join(", ")),
    })
}

/// Budgets small enough that one input costs at most a few seconds.
pub fn fuzz_budgets() -> Budgets {
    Budgets {
        max_entry_bytes: 16 << 20,
        max_total_bytes: 256 << 20,
        max_entries: 20_000,
        max_manifest_bytes: 4 << 20,
        max_log_bytes: 4 << 20,
        ..Budgets::default()
    }
}

/// Everything a reader does with an open bundle: its problems, every
/// entry read, the analysis (with `--verify` when `verify`) and, when
/// `render`, every renderer over its report. Returns the damage listed.
pub fn exercise(bundle: &Bundle, verify: bool, render: bool) -> usize {
    let problems = bundle.problems().len();
    let entries: Vec<String> = bundle.entries().take(2_000).map(str::to_string).collect();
    for e in &entries {
        let _ = bundle.read_bytes(e);
    }
    let _ = bundle.unlisted_files();
    let _ = bundle.recorded_sizes();
    let _ = bundle.manifest().failed_steps().count();
    for ns in bundle.namespaces().iter().take(20) {
        let _ = bundle.failed_step("pods", Some(ns), None);
    }
    let options = kpm_analyzer::Options {
        verify,
        ..kpm_analyzer::Options::default()
    };
    let report = kpm_analyzer::analyze(bundle, &options);
    if render {
        render::render_all(&report);
    }
    problems + report.damage.len()
}

/// Copies a directory tree (regular files and directories only).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if ty.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else if ty.is_file() {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}
