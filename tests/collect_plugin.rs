//! Running where the cluster is, and from kubectl: the real
//! `/usr/bin/kubectl` finds `kubectl-kpm` on PATH (as after `cargo install
//! --path collector && cargo install --path analyzer`) and dispatches
//! `kubectl kpm collect|analyze|serve`; the in-cluster Job runs the image
//! the Dockerfile builds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A directory holding copies of `names` (like `~/.cargo/bin`).
fn install(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    for name in names {
        std::fs::copy(kpm_e2e::bin(name), dir.path().join(name)).expect("copy binary");
    }
    dir
}

fn kubectl(bin_dir: &Path, args: &[&str]) -> Output {
    Command::new(kpm_e2e::kubectl())
        .args(args)
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("HOME", bin_dir)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn kubectl_kpm_dispatches_to_the_installed_programs() {
    let dir = install(&["kubectl-kpm", "kpm-collect", "kpm-analyze"]);
    let help = kubectl(dir.path(), &["kpm", "--help"]);
    assert_eq!(help.status.code(), Some(0), "{}", text(&help));
    let out = String::from_utf8_lossy(&help.stdout);
    for line in [
        "kubectl kpm collect",
        "kubectl kpm analyze",
        "kubectl kpm serve",
    ] {
        assert!(out.contains(line), "{out}");
    }
    let listed = kubectl(dir.path(), &["plugin", "list"]);
    assert!(text(&listed).contains("kubectl-kpm"), "{}", text(&listed));
    assert!(!text(&listed).contains("warning"), "{}", text(&listed));

    let version = kubectl(dir.path(), &["kpm", "collect", "--version"]);
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("kpm-collect "),
        "{}",
        text(&version)
    );
    let serve = kubectl(dir.path(), &["kpm", "serve", "--help"]);
    assert!(
        String::from_utf8_lossy(&serve.stdout).contains("Usage: kpm-analyze serve"),
        "{}",
        text(&serve)
    );
    assert!(
        !String::from_utf8_lossy(&serve.stdout).contains("--rbac"),
        "the test knob stays hidden"
    );

    // A real analysis through the plugin, exit code passed through.
    let demo = kpm_e2e::testdata().join("demo");
    let report = kubectl(
        dir.path(),
        &[
            "kpm",
            "analyze",
            demo.to_str().expect("utf-8 path"),
            "--format",
            "md",
        ],
    );
    assert!(
        matches!(report.status.code(), Some(0 | 1)),
        "{}",
        text(&report)
    );
    assert!(
        String::from_utf8_lossy(&report.stdout).contains("shop"),
        "{}",
        text(&report)
    );
    let bad = kubectl(dir.path(), &["kpm", "analyze", "/nonexistent.zip"]);
    assert_eq!(
        bad.status.code(),
        Some(3),
        "kpm-analyze's own exit code: {}",
        text(&bad)
    );
}

#[test]
fn a_missing_program_names_the_install_step() {
    let dir = install(&["kubectl-kpm"]);
    let o = kubectl(dir.path(), &["kpm", "analyze", "x.zip"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o).contains("cargo install --path analyzer"),
        "{}",
        text(&o)
    );
    let o = kubectl(dir.path(), &["kpm", "exec"]);
    assert!(
        text(&o).contains("unknown command \"exec\""),
        "{}",
        text(&o)
    );
}

fn repo_file(path: &str) -> String {
    let p: PathBuf = kpm_e2e::workspace_root().join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// deploy/job.yaml runs the image the Dockerfile documents, as the non-root
/// user the runtime image has, with a writable /tmp for the spools (its
/// root filesystem is read-only).
#[test]
fn the_job_runs_the_documented_image() {
    let dockerfile = repo_file("Dockerfile");
    let job = repo_file("deploy/job.yaml");
    let readme = repo_file("README.md");
    let image = job
        .lines()
        .find_map(|l| l.trim().strip_prefix("image: ghcr.io/"))
        .map(|rest| format!("ghcr.io/{rest}"))
        .expect("the collect container's image");
    assert!(
        dockerfile.contains(&format!("-t {image} .")),
        "Dockerfile documents {image}"
    );
    assert!(readme.contains(&image), "README documents {image}");
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/kpm-collect\"]"));
    assert!(dockerfile.contains("USER 65532:65532") && job.contains("runAsUser: 65532"));
    assert!(job.contains("readOnlyRootFilesystem: true") && job.contains("mountPath: /tmp"));
    assert!(job.contains("serviceAccountName: kpm-collector"));
}
