//! `kpm-collect --version` and `kpm-analyze --version` print the package
//! version and the git commit the binary was built from (`build.rs`), so a
//! bundle or a bug report can be traced to the exact source.

use std::process::Command;

/// `git rev-parse --short HEAD` of the workspace, when git and a checkout
/// are there (as in CI, which builds from a clone).
fn head_commit() -> Option<String> {
    let out = Command::new("git")
        .current_dir(kpm_e2e::workspace_root())
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

fn version_line(bin: &str) -> String {
    let out = Command::new(kpm_e2e::bin(bin))
        .arg("--version")
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(0), "{bin} --version failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn both_binaries_print_version_and_commit() {
    let commit = head_commit().unwrap_or_else(|| "unknown".into());
    for bin in ["kpm-collect", "kpm-analyze"] {
        let line = version_line(bin);
        let want = format!("{bin} {} (commit ", env!("CARGO_PKG_VERSION"));
        assert!(line.starts_with(&want), "{bin}: {line:?}");
        let got = line
            .trim_start_matches(&want)
            .trim_end_matches(')')
            .to_string();
        // The binary may have been built a commit earlier when HEAD moved
        // without a rebuild; `bin` rebuilds, so it is this one.
        assert_eq!(got, commit, "{bin}: {line:?}");
    }
}
