//! The precision/recall table over the real corpus, as plain text for the
//! test output and as Markdown for `docs/real-corpus.md`.

use std::fmt::Write as _;

use super::judge::{Expectation, Judgement};

/// One bundle's row: its expectations and how the report fared.
pub struct Row<'a> {
    pub exp: &'a Expectation,
    pub judgement: &'a Judgement,
    /// `kpm_version` from the report.
    pub kpm_version: String,
}

/// The command that regenerates the Markdown table.
pub const REPRODUCE: &str =
    "KPM_CORPUS_TABLE=docs/real-corpus.md cargo test -p kpm-e2e --test e2e real_corpus";

fn ratio(num: usize, den: usize) -> String {
    if den == 0 {
        "—".to_string()
    } else {
        format!("{:.0} %", 100.0 * num as f64 / den as f64)
    }
}

struct Cells {
    bundle: String,
    verdict: String,
    expected: usize,
    found: usize,
    complete: usize,
    missing: usize,
    false_findings: usize,
    precision: String,
    recall: String,
}

fn cells(row: &Row<'_>) -> Cells {
    let j = row.judgement;
    let got = j.verdict.map(|v| v.as_str()).unwrap_or("?");
    let want = row.exp.verdict.as_str();
    Cells {
        bundle: row.exp.bundle.clone(),
        verdict: if got == want {
            want.to_string()
        } else {
            format!("{want} (kpm: {got})")
        },
        expected: j.expected,
        found: j.found,
        complete: j.complete,
        missing: j.expected - j.found,
        false_findings: j.false_findings(),
        precision: ratio(j.matched_findings, j.matched_findings + j.false_findings()),
        recall: ratio(j.complete, j.expected),
    }
}

fn totals(rows: &[Row<'_>]) -> Cells {
    let sum = |f: &dyn Fn(&Judgement) -> usize| rows.iter().map(|r| f(r.judgement)).sum::<usize>();
    let matched = sum(&|j| j.matched_findings);
    let false_findings = sum(&|j| j.false_findings());
    let verdicts_right = rows
        .iter()
        .filter(|r| r.judgement.verdict == Some(r.exp.verdict))
        .count();
    Cells {
        bundle: "**total**".to_string(),
        verdict: format!("{verdicts_right}/{} right", rows.len()),
        expected: sum(&|j| j.expected),
        found: sum(&|j| j.found),
        complete: sum(&|j| j.complete),
        missing: sum(&|j| j.expected - j.found),
        false_findings,
        precision: ratio(matched, matched + false_findings),
        recall: ratio(sum(&|j| j.complete), sum(&|j| j.expected)),
    }
}

const HEADER: [&str; 9] = [
    "bundle",
    "verdict",
    "expected",
    "found",
    "with evidence",
    "missing",
    "false (warning+)",
    "precision",
    "recall",
];

fn values(c: &Cells) -> [String; 9] {
    [
        c.bundle.clone(),
        c.verdict.clone(),
        c.expected.to_string(),
        c.found.to_string(),
        c.complete.to_string(),
        c.missing.to_string(),
        c.false_findings.to_string(),
        c.precision.clone(),
        c.recall.clone(),
    ]
}

/// Aligned plain-text table for the test output.
pub fn text(rows: &[Row<'_>]) -> String {
    let mut all: Vec<[String; 9]> = vec![HEADER.map(String::from)];
    all.extend(rows.iter().map(|r| values(&cells(r))));
    let mut total = totals(rows);
    total.bundle = "total".to_string();
    all.push(values(&total));
    let widths: Vec<usize> = (0..9)
        .map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &all {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

/// Escapes a string for a Markdown table cell.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Makes a string safe inside a Markdown code span on one line.
fn code(s: &str) -> String {
    s.replace('`', "'").replace('\n', " ")
}

/// `docs/real-corpus.md`: the table, the definitions, and every discrepancy
/// with its diagnosis.
pub fn markdown(rows: &[Row<'_>]) -> String {
    let mut out = String::from("# kpm on the real-world corpus\n\n");
    let version = rows.first().map(|r| r.kpm_version.as_str()).unwrap_or("?");
    let _ = write!(
        out,
        "kpm-analyze {version} judged on the captures of `../shared/corpus/kpm/` against the \
         expectations an expert wrote from the objects before seeing kpm's output \
         (`tests/real_corpus/`). Reproduce with:\n\n```sh\n{REPRODUCE}\n```\n\n\
         *found*: expected findings reported (rule and object); *with evidence*: also at the \
         expected severity and quoting the decisive evidence; *false*: findings at warning or \
         above that the expert rules out or did not expect; precision = findings matching an \
         expected one / (those + false ones); recall = with evidence / expected.\n\n"
    );
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(HEADER.len()));
    for c in rows.iter().map(cells).chain(std::iter::once(totals(rows))) {
        let v = values(&c).map(|s| md(&s));
        let _ = writeln!(out, "| {} |", v.join(" | "));
    }
    out.push_str(
        "\n## Per bundle\n\nThe expert's conclusion, then every discrepancy with its diagnosis \
         (listed in the bundle's `known_failures` until the rule is fixed).\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "\n### {}\n\n{}\n",
            r.exp.bundle,
            r.exp.summary.replace('\n', " ")
        );
        if r.judgement.discrepancies.is_empty() {
            out.push_str("No discrepancy.\n");
            continue;
        }
        for d in &r.judgement.discrepancies {
            let why = r
                .exp
                .known_failures
                .iter()
                .find(|k| k.matches(&d.key()))
                .map(|k| k.why.as_str())
                .unwrap_or("not yet diagnosed");
            let _ = writeln!(
                out,
                "- `{}` — {}",
                code(&d.to_string()),
                why.replace('\n', " ")
            );
        }
    }
    out
}
