//! Sets `KPM_GIT_COMMIT` for `--version`: the short commit the binary is
//! built from (`git rev-parse --short HEAD`), or `unknown` when there is no
//! git checkout or no git (a source archive, a Docker build without `.git`).
//! A `KPM_GIT_COMMIT` environment variable wins (the Dockerfile passes it
//! as a build argument, since `.git` is not in the build context).

use std::path::Path;
use std::process::Command;

/// Trimmed stdout of a successful `git` command.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    let given = std::env::var("KPM_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric()));
    let commit = given
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KPM_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=KPM_GIT_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    // Run again when HEAD moves: HEAD itself (checkout of another branch),
    // the branch it points to (a commit) and packed refs. Only existing
    // files are named: cargo would rebuild every time for a missing one.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}
