//! Shared by the `collect_*` end-to-end tests: build and locate
//! `kpm-collect`, serve a bundle with `kpm_serve::start`, run the collector
//! against it, and read what it wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kpm_bundle::layout::{classify, Entry};
use kpm_bundle::{Bundle, Manifest};
use serde_json::Value;

/// `target/<profile>` of this test binary (`…/debug/deps/x` → `…/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_path_buf()
}

/// `kpm-collect`, built once per test process into this test's target dir
/// (only the collector package, so other crates' work in progress cannot
/// break these tests).
pub fn collect_bin() -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let profile = profile_dir();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target = profile.parent().expect("target dir").to_path_buf();
        let mut cmd = Command::new(cargo);
        cmd.current_dir(kpm_e2e::workspace_root())
            .args([
                "build",
                "--bin",
                "kpm-collect",
                "-p",
                "kpm-collector",
                "--target-dir",
            ])
            .arg(&target);
        if profile.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        match cmd.output() {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
            Err(e) => Err(e.to_string()),
        }
    });
    if let Err(e) = built {
        panic!("building kpm-collect failed:\n{e}");
    }
    let path = profile.join("kpm-collect");
    assert!(path.is_file(), "{} missing", path.display());
    path
}

pub use super::served::{serve, Knobs, Served};

/// The collector command against `served`, writing `out`; the environment
/// is cleaned so no real kubeconfig or in-cluster account leaks in.
pub fn collect_cmd(served: &Served, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(collect_bin());
    cmd.arg("--kubeconfig")
        .arg(&served.kubeconfig)
        .arg("-o")
        .arg(out)
        .args(extra)
        .env("HOME", served.dir.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST");
    cmd
}

/// Runs the collector to completion.
pub fn collect(served: &Served, out: &Path, extra: &[&str]) -> Output {
    collect_cmd(served, out, extra)
        .output()
        .expect("kpm-collect runs")
}

/// Runs the collector, asserts it exited 0, and returns its stderr.
pub fn collect_ok(served: &Served, out: &Path, extra: &[&str]) -> String {
    let run = collect(served, out, extra);
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert_eq!(
        run.status.code(),
        Some(0),
        "kpm-collect {extra:?} failed:\n{stderr}"
    );
    stderr
}

/// Opens a written bundle and checks every checksum.
pub fn open_verified(path: &Path) -> Bundle {
    let b = Bundle::open(path).unwrap_or_else(|e| panic!("{} does not open: {e}", path.display()));
    let errors = b.verify();
    assert!(
        errors.is_empty(),
        "{} fails verification: {errors:?}",
        path.display()
    );
    b
}

/// Items of a list file as JSON values.
pub fn items(b: &Bundle, file: &str) -> Vec<Value> {
    let v: Value = b.read_json(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    v.get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `namespace/name` of every item, sorted.
pub fn names(items: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = items
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                i.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            )
        })
        .collect();
    out.sort();
    out
}

/// List and log entries of a bundle (what a round trip must preserve).
pub fn data_entries(b: &Bundle) -> Vec<String> {
    let mut out: Vec<String> = b
        .entries()
        .filter(|p| {
            matches!(
                classify(p),
                Entry::ClusterList(_)
                    | Entry::NamespacedList { .. }
                    | Entry::Log { .. }
                    | Entry::NodeMetrics
                    | Entry::PodMetrics { .. }
            )
        })
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

/// The manifest step for `what` in `namespace`.
pub fn step<'m>(m: &'m Manifest, what: &str, namespace: Option<&str>) -> &'m kpm_bundle::Step {
    m.steps
        .iter()
        .find(|s| s.what == what && s.namespace.as_deref() == namespace && s.object.is_none())
        .unwrap_or_else(|| panic!("no step {what} {namespace:?} in {:#?}", m.steps))
}
