//! `kubectl-kpm`: the kubectl plugin entry point (krew naming: an
//! executable `kubectl-kpm` on `PATH` makes `kubectl kpm …` work).
//!
//! It only dispatches: `kubectl kpm collect ARGS` runs `kpm-collect ARGS`,
//! `kubectl kpm analyze ARGS` runs `kpm-analyze ARGS` and `kubectl kpm serve
//! ARGS` runs `kpm-analyze serve ARGS`. The programs are looked up next to
//! this executable first (how `cargo install` and a krew archive place
//! them), then on `PATH`. On Unix the program replaces this process, so
//! signals and exit codes are the program's own.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
kubectl kpm: Kubernetes post-mortem bundles from kubectl

Usage:
  kubectl kpm collect [FLAGS]        snapshot the current cluster into a bundle (kpm-collect)
  kubectl kpm analyze BUNDLE [FLAGS] analyse a bundle into a report (kpm-analyze)
  kubectl kpm serve BUNDLE [FLAGS]   serve a bundle as a read-only API for kubectl (kpm-analyze serve)

`kubectl kpm collect --help`, `kubectl kpm analyze --help` and
`kubectl kpm serve --help` list each command's flags. kpm-collect and
kpm-analyze must be next to kubectl-kpm or on PATH:
  cargo install --path collector && cargo install --path analyzer
";

/// The program and leading arguments a subcommand runs.
fn target(sub: &str) -> Option<(&'static str, &'static [&'static str])> {
    match sub {
        "collect" => Some(("kpm-collect", &[])),
        "analyze" | "analyse" => Some(("kpm-analyze", &[])),
        "serve" => Some(("kpm-analyze", &["serve"])),
        _ => None,
    }
}

/// `name` next to this executable, else the first on `PATH`.
fn find(name: &str) -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| exe.parent().map(|d| d.join(name)));
    let path = std::env::var_os("PATH").unwrap_or_default();
    beside
        .into_iter()
        .chain(std::env::split_paths(&path).map(|d| d.join(name)))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(sub) = args.next() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let sub_text = sub.to_string_lossy();
    match sub_text.as_ref() {
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        "--version" => {
            println!(
                "kubectl-kpm {} (commit {})",
                env!("CARGO_PKG_VERSION"),
                env!("KPM_GIT_COMMIT")
            );
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let Some((program, lead)) = target(&sub_text) else {
        eprintln!("kubectl kpm: unknown command {sub_text:?}\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let Some(path) = find(program) else {
        eprintln!(
            "kubectl kpm: {program} is neither next to kubectl-kpm nor on PATH; install it with `cargo install --path {}`",
            if program == "kpm-collect" { "collector" } else { "analyzer" }
        );
        return ExitCode::from(127);
    };
    let rest: Vec<OsString> = args.collect();
    run(&path, lead, &rest)
}

/// Runs the program with `lead` then `rest` as arguments.
fn run(path: &Path, lead: &[&str], rest: &[OsString]) -> ExitCode {
    let mut cmd = Command::new(path);
    cmd.args(lead).args(rest);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = cmd.exec();
        eprintln!("kubectl kpm: cannot run {}: {err}", path.display());
        ExitCode::from(126)
    }
    #[cfg(not(unix))]
    match cmd.status() {
        Ok(status) => ExitCode::from(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        ),
        Err(err) => {
            eprintln!("kubectl kpm: cannot run {}: {err}", path.display());
            ExitCode::from(126)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_map_to_programs() {
        assert_eq!(target("collect"), Some(("kpm-collect", &[][..])));
        assert_eq!(target("serve"), Some(("kpm-analyze", &["serve"][..])));
        assert_eq!(target("analyze").map(|t| t.0), Some("kpm-analyze"));
        assert_eq!(target("exec"), None);
    }
}
