//! Exit codes of `kpm-analyze`, one variant per code. The README's
//! `kpm-analyze` exit table and `--help` document the same codes; the tests
//! below fail when they drift apart.

/// Why the process ends; its number is the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// The report was written and nothing is at or above `--fail-on`
    /// (also a `serve` that ended normally).
    Success,
    /// The report was written and has findings at or above `--fail-on`.
    Findings,
    /// Bad command line (clap's own code too).
    Usage,
    /// The bundle cannot be read at all (missing, not a zip, no manifest,
    /// unsupported format version), or `serve` failed.
    Bundle,
    /// The report could not be rendered or written.
    Output,
}

impl ExitCode {
    /// Every variant, for the documentation tests.
    #[cfg(test)]
    const ALL: [ExitCode; 5] = [
        ExitCode::Success,
        ExitCode::Findings,
        ExitCode::Usage,
        ExitCode::Bundle,
        ExitCode::Output,
    ];

    /// The exit status.
    pub fn number(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Findings => 1,
            ExitCode::Usage => 2,
            ExitCode::Bundle => 3,
            ExitCode::Output => 4,
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

    use clap::CommandFactory as _;

    use super::*;

    fn enum_numbers() -> BTreeSet<u8> {
        ExitCode::ALL.iter().map(|c| c.number()).collect()
    }

    #[test]
    fn all_lists_every_variant_once() {
        for code in ExitCode::ALL {
            // A new variant fails to compile here: add it to ALL too.
            match code {
                ExitCode::Success
                | ExitCode::Findings
                | ExitCode::Usage
                | ExitCode::Bundle
                | ExitCode::Output => {}
            }
        }
        assert_eq!(
            enum_numbers().len(),
            ExitCode::ALL.len(),
            "two variants share a number"
        );
    }

    /// The exit statuses in the first `| exit |` table after `heading` in the README.
    fn readme_table(heading: &str) -> BTreeSet<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (_, section) = text
            .split_once(heading)
            .unwrap_or_else(|| panic!("{path}: no heading {heading:?}"));
        section
            .lines()
            .skip_while(|l| !l.starts_with("| exit |"))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|row| {
                let cell = row.split('|').nth(1).unwrap_or_default().trim();
                cell.parse()
                    .unwrap_or_else(|_| panic!("{path}: exit cell {cell:?} is not a number"))
            })
            .collect()
    }

    #[test]
    fn readme_table_matches_the_enum() {
        assert_eq!(
            readme_table("## Later, anywhere: `kpm-analyze`"),
            enum_numbers()
        );
    }

    #[test]
    fn help_lists_the_enum() {
        let help = crate::cli::Cli::command()
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        let list = help
            .strip_prefix("Exit codes: ")
            .unwrap_or_else(|| panic!("--help has no exit codes: {help:?}"));
        let numbers: BTreeSet<u8> = list
            .split(", ")
            .map(|item| {
                let n = item.split(' ').next().unwrap_or_default();
                n.parse()
                    .unwrap_or_else(|_| panic!("--help exit item {item:?}"))
            })
            .collect();
        assert_eq!(numbers, enum_numbers());
    }
}
