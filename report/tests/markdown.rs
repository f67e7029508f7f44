//! Markdown output pinned with insta snapshots of the analyzer's real
//! reports (`testdata/reports/`), plus the size cap.

mod common;

use kpm_report::Renderer;

fn md(report: &kpm_model::Report) -> String {
    Renderer::new(None).unwrap().markdown(report).unwrap()
}

#[test]
fn crashloop_chain() {
    let out = md(&common::crashloop());
    // The root cause leads its incident and the consequences follow it.
    let root = out
        .find("Missing required environment variable PAYMENTS_API_URL")
        .unwrap();
    let consequence = out.find("Service checkout has no ready endpoints").unwrap();
    assert!(root < consequence);
    assert!(!out.contains("truncated"));
    insta::assert_snapshot!("crashloop", out);
}

#[test]
fn demo_incidents() {
    let out = md(&common::demo());
    assert!(!out.contains("truncated"));
    insta::assert_snapshot!("demo", out);
}

#[test]
fn healthy_cluster() {
    let out = md(&common::healthy());
    assert!(out.contains("No problems found in 9 applications."));
    insta::assert_snapshot!("healthy", out);
}

#[test]
fn partial_bundle_with_gaps_and_damage() {
    let out = md(&common::partial_bundle());
    assert!(out.contains("Partial bundle"));
    // A coverage gap and a failed step as the analyzer words them.
    assert!(out.contains("secret rotation"));
    assert!(out.contains("coredns-698c77c5d7-7nnxw/coredns"));
    insta::assert_snapshot!("partial_bundle", out);
}

#[test]
fn cap_keeps_worst_incidents_and_says_what_is_missing() {
    let report = common::huge();
    let r = Renderer::new(None).unwrap();
    let out = r.markdown(&report).unwrap();
    assert!(
        out.chars().count() <= kpm_report::DEFAULT_MARKDOWN_CAP,
        "{} chars",
        out.chars().count()
    );
    let note = out
        .lines()
        .find(|l| l.contains("truncated:"))
        .expect("truncation note");
    // The note counts exactly the findings whose sections are absent.
    let shown_roots = out.matches("\n### ").count();
    let shown_consequences = out
        .lines()
        .filter(|l| l.starts_with("- [critical] service-no-ready-endpoints"))
        .count();
    let hidden = report.findings.len() - shown_roots - shown_consequences;
    assert!(
        note.contains(&format!("truncated: {hidden} findings not shown")),
        "{note}"
    );

    let small = Renderer::new(None)
        .unwrap()
        .with_markdown_cap(8_000)
        .markdown(&report)
        .unwrap();
    assert!(small.chars().count() <= 8_000);
    assert!(small.contains("truncated:"));
    // A cap below even the minimal report still yields a note within the cap.
    let tiny = Renderer::new(None)
        .unwrap()
        .with_markdown_cap(600)
        .markdown(&report)
        .unwrap();
    assert!(tiny.chars().count() <= 600, "{}", tiny.chars().count());
    assert!(tiny.contains("truncated:"));
}

#[test]
fn huge_report_html_stays_bounded() {
    let report = common::huge();
    let html = Renderer::new(None).unwrap().html(&report).unwrap();
    // 3,000 incidents with 40 consequences each, 200,000 timeline entries and
    // 5,000 nodes: the page stays a few megabytes at most.
    assert!(html.len() < 4_000_000, "{} bytes", html.len());
    assert!(html.contains("2940 more incidents not shown"));
    assert!(html.contains("199800 earlier entries not shown"));
    assert!(html.contains("4960 more nodes not shown"));
    assert!(html.contains("28 more consequences not shown"));
}
