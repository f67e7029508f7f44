//! Helpers shared by the end-to-end tests: where the built binaries, the
//! `testdata/` bundles and `kubectl` are.
//!
//! The binaries of other workspace packages are not built for this package's
//! tests by cargo itself, so [`bin`] builds them once per test process with
//! the same cargo and target directory (a no-op when they are fresh). That
//! also guarantees a test never runs a stale binary.

pub mod chromium;
pub mod rawzip;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// `testdata/`.
pub fn testdata() -> PathBuf {
    workspace_root().join("testdata")
}

/// Scenario directories under `testdata/` (each a bundle), sorted. Panics
/// when `testdata/` cannot be read or holds no scenario: a test over every
/// scenario must fail, not pass over none.
pub fn scenarios() -> Vec<PathBuf> {
    let dir = testdata();
    let rd = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the scenarios in {}: {e}", dir.display()));
    let mut out: Vec<PathBuf> = rd
        .map(|e| {
            e.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    assert!(
        !out.is_empty(),
        "no scenario bundle (directory with manifest.json) in {}",
        dir.display()
    );
    out.sort();
    out
}

/// `target/<profile>` of the running test binary (`…/target/debug/deps/x` → `…/target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target/debug"))
}

/// Path of a workspace binary (`kpm-analyze`, `kpm-collect`, `gen-bundle`),
/// built first if needed. Panics with the build output when it cannot be
/// built: a test that cannot get its binary must fail loudly.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let profile = profile_dir();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let target_dir = profile
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| workspace_root().join("target"));
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root())
            .args([
                "build",
                "--bins",
                "-p",
                "kpm-analyzer",
                "-p",
                "kpm-collector",
                "-p",
                "kpm-gen-bundle",
            ])
            .arg("--target-dir")
            .arg(&target_dir);
        if profile.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        match cmd.output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
            Err(e) => Err(e.to_string()),
        }
    });
    if let Err(e) = built {
        panic!("building the kpm binaries failed:\n{e}");
    }
    let path = profile.join(name);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// The real kubectl.
pub fn kubectl() -> PathBuf {
    for candidate in ["/usr/bin/kubectl", "/usr/local/bin/kubectl"] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    PathBuf::from("kubectl")
}
