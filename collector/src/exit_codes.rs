//! Exit codes of `kpm-collect`, one variant per code. The README's
//! `kpm-collect` exit table and `deploy/README.md` document the same codes;
//! the tests below fail when they drift apart.

/// Why the process ends; its number is the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitCode {
    /// A bundle was written, also after Ctrl-C/SIGTERM or `--timeout`
    /// (failed steps are warnings and recorded in the manifest).
    Success,
    /// The collector could not start its async runtime (no threads or
    /// memory); nothing was written.
    Startup,
    /// Bad flag or value (clap's own code).
    Usage,
    /// No kubeconfig, unknown context, unreachable server, TLS failure or
    /// rejected credentials; nothing was written.
    Connect,
    /// Every object list failed; the bundle is still written so its manifest
    /// says why.
    NothingUsable,
    /// The output exists without `--force`, or cannot be created, written
    /// or finished.
    Write,
}

impl ExitCode {
    /// Every variant, for the documentation tests.
    #[cfg(test)]
    const ALL: [ExitCode; 6] = [
        ExitCode::Success,
        ExitCode::Startup,
        ExitCode::Usage,
        ExitCode::Connect,
        ExitCode::NothingUsable,
        ExitCode::Write,
    ];

    /// The exit status.
    fn number(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Startup => 1,
            ExitCode::Usage => 2,
            ExitCode::Connect => 3,
            ExitCode::NothingUsable => 4,
            ExitCode::Write => 5,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.number())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The exit statuses of the first `| exit | meaning |`-style table after
    /// `heading` in `file` (path from the workspace root).
    fn documented(file: &str, heading: &str) -> BTreeSet<u8> {
        let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (_, section) = text
            .split_once(heading)
            .unwrap_or_else(|| panic!("{path}: no heading {heading:?}"));
        section
            .lines()
            .skip_while(|l| !(l.starts_with("| exit |") || l.starts_with("| Code |")))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|row| {
                let cell = row.split('|').nth(1).unwrap_or_default().trim();
                cell.parse()
                    .unwrap_or_else(|_| panic!("{path}: exit cell {cell:?} is not a number"))
            })
            .collect()
    }

    fn enum_numbers() -> BTreeSet<u8> {
        ExitCode::ALL.iter().map(|c| c.number()).collect()
    }

    #[test]
    fn all_lists_every_variant_once() {
        for code in ExitCode::ALL {
            // A new variant fails to compile here: add it to ALL too.
            match code {
                ExitCode::Success
                | ExitCode::Startup
                | ExitCode::Usage
                | ExitCode::Connect
                | ExitCode::NothingUsable
                | ExitCode::Write => {}
            }
        }
        assert_eq!(
            enum_numbers().len(),
            ExitCode::ALL.len(),
            "two variants share a number"
        );
    }

    #[test]
    fn readme_table_matches_the_enum() {
        assert_eq!(
            documented("README.md", "## During an incident: `kpm-collect`"),
            enum_numbers()
        );
    }

    #[test]
    fn deploy_readme_table_matches_the_enum() {
        assert_eq!(
            documented("deploy/README.md", "### Exit codes"),
            enum_numbers()
        );
    }

    #[test]
    fn help_lists_the_enum() {
        use clap::CommandFactory as _;
        let about = crate::cli::Args::command()
            .get_long_about()
            .map(|h| h.to_string())
            .unwrap_or_default();
        let (_, list) = about
            .split_once("Exit codes: ")
            .unwrap_or_else(|| panic!("--help has no exit codes: {about:?}"));
        let numbers: BTreeSet<u8> = list
            .trim_end_matches('.')
            .split("; ")
            .map(|item| {
                let n = item.split_whitespace().next().unwrap_or_default();
                n.parse()
                    .unwrap_or_else(|_| panic!("--help exit item {item:?}"))
            })
            .collect();
        assert_eq!(numbers, enum_numbers());
    }

    #[test]
    fn clap_usage_errors_use_the_usage_code() {
        use clap::Parser as _;
        let err = crate::cli::Args::try_parse_from(["kpm-collect", "--no-such-flag"])
            .expect_err("an unknown flag is a usage error");
        assert_eq!(err.exit_code(), i32::from(ExitCode::Usage.number()));
    }
}
