//! Every object kind's list loading as the analyzer does it: a scenario
//! bundle (copied into a private directory) with one file replaced by the
//! input, opened and analysed. An input is `<path in the bundle>\n<file>`;
//! a path that is not a plain bundle path picks one of the bundle's files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use kpm_bundle::layout::{self, Scope};
use kpm_bundle::Bundle;

use super::{copy_dir, exercise, fuzz_budgets, Target};
use crate::corpus::{self, Paths};
use crate::mutate::{Mutator, Shape};

/// Fields the loaders and rules read.
const DICT: &[&str] = &[
    "items",
    "metadata",
    "name",
    "namespace",
    "labels",
    "ownerReferences",
    "spec",
    "status",
    "containers",
    "containerStatuses",
    "initContainers",
    "resources",
    "requests",
    "limits",
    "cpu",
    "memory",
    "nodeName",
    "selector",
    "matchLabels",
    "matchExpressions",
    "ports",
    "targetPort",
    "conditions",
    "lastState",
    "terminated",
    "waiting",
    "restartCount",
    "involvedObject",
    "lastTimestamp",
    "eventTime",
    "count",
    "100Mi",
    "1.5",
    "250m",
    "1e3",
    "9223372036854775807Ki",
    "2026-11-20T14:30:00Z",
];

/// Top-level directories of a bundle an input may write under.
const TOPS: &[&str] = &["cluster", "namespaces", "metrics", "logs", "derived"];

/// See the module docs.
pub struct ListsTarget {
    dir: tempfile::TempDir,
    /// Files an unusable path falls back to.
    files: Vec<String>,
    /// Damage the unchanged base bundle reports.
    baseline: usize,
}

impl ListsTarget {
    /// Copies the base scenario (`testdata/demo`, every kind present).
    pub fn new(paths: &Paths) -> Result<ListsTarget> {
        let dir = tempfile::tempdir().context("creating the scratch directory")?;
        let base = paths.testdata().join("demo");
        copy_dir(&base, dir.path()).with_context(|| format!("copying {}", base.display()))?;
        let mut files: Vec<String> = corpus::members(dir.path())
            .into_iter()
            .map(|m| m.name)
            .filter(|n| n != layout::MANIFEST)
            .collect();
        for kind in layout::all_kinds() {
            let ns = (kind.scope == Scope::Namespaced).then_some("shop");
            files.extend(kind.path(ns));
        }
        files.sort();
        files.dedup();
        let bundle = Bundle::open_with(dir.path(), fuzz_budgets())
            .with_context(|| format!("opening {}", base.display()))?;
        let baseline = exercise(&bundle, false, false);
        drop(bundle);
        Ok(ListsTarget {
            dir,
            files,
            baseline,
        })
    }

    /// The bundle path an input's first line names.
    fn path_of(&self, head: &[u8]) -> String {
        match std::str::from_utf8(head) {
            Ok(p) if plain_path(p) => p.to_string(),
            _ => {
                let h = head
                    .iter()
                    .fold(0usize, |h, &b| h.wrapping_mul(31) + usize::from(b));
                self.files[h % self.files.len()].clone()
            }
        }
    }
}

/// Serves the replaced file's kind as `kubectl get` asks for it (JSON and
/// server-side printed Table), so serve's loading and printing see the
/// hostile objects too.
fn serve_kind(bundle: Bundle, rel: &str) {
    let parts: Vec<&str> = rel.trim_end_matches(".json").split('/').collect();
    let (ns, plural) = match parts.as_slice() {
        ["cluster", plural] => (None, *plural),
        ["namespaces", ns, plural] => (Some(*ns), *plural),
        _ => return,
    };
    let Some(kind) = layout::kind_by_plural(plural) else {
        return;
    };
    let state = kpm_serve::State::new(bundle, "127.0.0.1:8001".into());
    let namespaces = [None, ns];
    for (namespace, table) in namespaces.iter().zip([true, false]) {
        let route = kpm_serve::Route::Resource {
            group: kind.group.to_string(),
            version: kind.version.to_string(),
            plural: kind.plural.to_string(),
            namespace: namespace.map(str::to_string),
            name: None,
            subresource: None,
        };
        let req = kpm_serve::Request {
            route: &route,
            query: &[],
            table,
        };
        let _ = kpm_serve::handle(&state, &req);
    }
}

/// A relative path under one of [`TOPS`] made of plain names.
fn plain_path(p: &str) -> bool {
    let parts: Vec<&str> = p.split('/').collect();
    let plain = |s: &&str| {
        !s.is_empty()
            && *s != "."
            && *s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    parts.len() >= 2 && parts.len() <= 5 && TOPS.contains(&parts[0]) && parts.iter().all(plain)
}

impl Target for ListsTarget {
    fn name(&self) -> &'static str {
        "lists"
    }

    fn mutator(&self) -> Mutator {
        Mutator::new(Shape::Prefixed, DICT, 8 << 20)
    }

    fn seeds(&self, paths: &Paths) -> Vec<Vec<u8>> {
        let mut out = corpus::files_in(&paths.seeds("lists"));
        let scenarios = paths.scenarios().into_iter().take(6);
        for dir in scenarios.chain(paths.shared_bundles()) {
            for m in corpus::members(&dir) {
                if m.name == layout::MANIFEST || m.data.len() > 1 << 20 || !plain_path(&m.name) {
                    continue;
                }
                let mut input = m.name.into_bytes();
                input.push(b'\n');
                input.extend_from_slice(&m.data);
                out.push(input);
            }
        }
        out
    }

    fn run(&mut self, input: &[u8]) -> bool {
        let split = input.iter().position(|&b| b == b'\n').unwrap_or(0);
        let (head, body) = (&input[..split], input.get(split + 1..).unwrap_or(&[]));
        let rel = self.path_of(head);
        let root = self.dir.path().to_path_buf();
        let Ok(restore) = Restore::write(&root, &rel, body) else {
            return false;
        };
        let accepted = match Bundle::open_with(&root, fuzz_budgets()) {
            Ok(bundle) => {
                let damage = exercise(&bundle, false, false);
                serve_kind(bundle, &rel);
                damage <= self.baseline
            }
            Err(_) => false,
        };
        drop(restore);
        accepted
    }
}

/// Puts a file back as it was (or removes it and the directories created
/// for it) when dropped.
struct Restore {
    path: PathBuf,
    original: Option<Vec<u8>>,
    created: Vec<PathBuf>,
}

impl Restore {
    fn write(root: &Path, rel: &str, body: &[u8]) -> std::io::Result<Restore> {
        let path = root.join(rel);
        let mut created = Vec::new();
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d.exists() {
                break;
            }
            created.push(d.clone());
            dir = d.parent().map(Path::to_path_buf);
        }
        for d in created.iter().rev() {
            std::fs::create_dir(d)?;
        }
        let original = std::fs::read(&path).ok();
        std::fs::write(&path, body)?;
        Ok(Restore {
            path,
            original,
            created,
        })
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = match &self.original {
            Some(bytes) => std::fs::write(&self.path, bytes),
            None => std::fs::remove_file(&self.path),
        };
        for d in &self.created {
            let _ = std::fs::remove_dir(d);
        }
    }
}
