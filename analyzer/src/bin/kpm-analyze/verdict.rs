//! The one line `kpm-analyze -o FILE` ends with on stderr: what it wrote and
//! the verdict, from the report's own summary (`report.html: 2 of 12
//! applications broken, 3 incidents (5 critical) — open it in a browser`).

use std::path::Path;

use kpm_model::{Severity, Summary, Verdict};

use crate::cli::Format;

/// `n thing` or `n things`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The verdict line for a report with summary `s` written to `path` in
/// `format`, with every control character of the path shown visibly.
pub fn line(path: &Path, format: Format, s: &Summary) -> String {
    let at = |level: Severity| s.by_severity.get(&level).copied().unwrap_or(0);
    let verdict = match s.verdict {
        Verdict::Broken => {
            let worst: Vec<String> = [
                (at(Severity::Critical), "critical", "critical"),
                (at(Severity::Error), "error", "errors"),
            ]
            .into_iter()
            .filter(|(n, _, _)| *n > 0)
            .map(|(n, one, many)| count(n, one, many))
            .collect();
            format!(
                "{} of {} broken, {} ({})",
                s.applications_broken,
                count(s.applications, "application", "applications"),
                count(s.incidents, "incident", "incidents"),
                worst.join(", ")
            )
        }
        Verdict::Healthy => {
            let remarks = match (at(Severity::Warning), at(Severity::Info)) {
                (0, 0) => "no findings".to_string(),
                (0, i) => count(i, "remark", "remarks"),
                (w, _) => count(w, "warning", "warnings"),
            };
            format!(
                "healthy, {}, {remarks}",
                count(s.applications, "application", "applications")
            )
        }
    };
    let next = match format {
        Format::Html => " — open it in a browser",
        Format::Md | Format::Json => "",
    };
    kpm_report::escape::terminal(&format!("{}: {verdict}{next}", path.display())).into_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn summary(by: &[(Severity, usize)], apps: usize, broken: usize, incidents: usize) -> Summary {
        let by_severity: BTreeMap<Severity, usize> = by.iter().copied().collect();
        Summary {
            verdict: Verdict::from_counts(&by_severity),
            findings: by_severity.values().sum(),
            by_severity,
            incidents,
            applications: apps,
            applications_broken: broken,
            pods: 0,
            nodes: 0,
        }
    }

    #[test]
    fn broken_names_applications_incidents_and_the_worst_severities() {
        let r = summary(
            &[
                (Severity::Critical, 5),
                (Severity::Error, 1),
                (Severity::Warning, 4),
            ],
            12,
            2,
            3,
        );
        assert_eq!(
            line(Path::new("report.html"), Format::Html, &r),
            "report.html: 2 of 12 applications broken, 3 incidents (5 critical, 1 error) — open it in a browser"
        );
        let r = summary(&[(Severity::Error, 2)], 1, 1, 1);
        assert_eq!(
            line(Path::new("r.md"), Format::Md, &r),
            "r.md: 1 of 1 application broken, 1 incident (2 errors)"
        );
    }

    #[test]
    fn healthy_says_so_with_its_remarks() {
        let r = summary(&[(Severity::Warning, 1), (Severity::Info, 3)], 12, 0, 1);
        assert_eq!(
            line(Path::new("r.json"), Format::Json, &r),
            "r.json: healthy, 12 applications, 1 warning"
        );
        let r = summary(&[], 1, 0, 0);
        assert_eq!(
            line(Path::new("r.html"), Format::Html, &r),
            "r.html: healthy, 1 application, no findings — open it in a browser"
        );
    }

    #[test]
    fn control_characters_in_the_path_are_shown_not_sent() {
        let r = summary(&[], 0, 0, 0);
        let l = line(Path::new("a\u{1b}[2Jb.json"), Format::Json, &r);
        assert!(!l.contains('\u{1b}'), "{l:?}");
    }
}
