//! Renders the `demo` scenario to HTML with the real `kpm-analyze` binary and
//! loads it in headless Debian chromium: no console error, no network
//! request, the key sections present in the DOM after the page script ran,
//! and a PNG screenshot under `target/kpm-screenshots/` for a human to look
//! at (the README's `docs/images/demo-report.png` is a copy of it).
//!
//! Same approach as `report/tests/browser.rs` (which checks the renderer on
//! hand-built models); this one checks what the shipped binary writes for a
//! real bundle. Chromium is required: when it is absent the test fails with
//! instructions instead of passing silently.

use std::path::{Path, PathBuf};
use std::process::Command;

use kpm_e2e::chromium::{page_problems, page_requests, Run};

/// `target/kpm-screenshots/`, kept after the run.
fn screenshot_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`; its parent is the target dir
    // in use (which may be a per-engineer CARGO_TARGET_DIR).
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| kpm_e2e::workspace_root().join("target"))
        .join("kpm-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs chromium on `page` in a screen-sized window without scrollbars
/// (the screenshot is the top of the report, as a reader first sees it).
fn chromium(page: &Path, profile: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["--hide-scrollbars", "--window-size=1280,1600"];
    args.extend_from_slice(extra);
    kpm_e2e::chromium::run(page, profile, &args)
}

/// Renders `scenario` to `dir/<scenario>.html` with the binary.
fn render(scenario: &str, dir: &Path) -> PathBuf {
    let page = dir.join(format!("{scenario}-report.html"));
    // Relative bundle path from the workspace root, so the report (and the
    // README screenshot) shows `testdata/demo`, not this machine's path.
    let out = Command::new(kpm_e2e::bin("kpm-analyze"))
        .current_dir(kpm_e2e::workspace_root())
        .arg(Path::new("testdata").join(scenario))
        .arg("-o")
        .arg(&page)
        .output()
        .expect("run kpm-analyze");
    assert_eq!(
        out.status.code(),
        Some(0),
        "kpm-analyze failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    page
}

/// Text of the element `<section id="ID">…</section>` in the DOM.
fn section<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("<section id=\"{id}\"");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("section {id} missing from the DOM"));
    let rest = &dom[start..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    &rest[..end]
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
fn demo_report_loads_offline_in_chromium() {
    let dir = screenshot_dir();
    let page = render("demo", &dir);

    // Scripts on: the DOM after the inline script ran, and a NetLog of every
    // request the page made.
    let profile = tempfile::tempdir().unwrap();
    let netlog = dir.join("demo-report.netlog.json");
    let run = chromium(
        &page,
        profile.path(),
        &["--dump-dom", &format!("--log-net-log={}", netlog.display())],
    );
    assert_eq!(
        page_requests(&netlog),
        Vec::<String>::new(),
        "the page made network requests"
    );
    assert_eq!(
        page_problems(&run.stderr),
        Vec::<&str>::new(),
        "chromium stderr:\n{}",
        run.stderr
    );
    let dom = run.stdout;

    // Verdict: the demo is broken, with critical findings counted.
    let verdict = section(&dom, "verdict");
    assert!(verdict.contains("shop/recommendations"), "{verdict}");
    assert!(verdict.contains("payments/fraud-scorer"), "{verdict}");
    // Applications chain: the broken application's chain is drawn.
    let apps = section(&dom, "applications");
    assert!(apps.contains("recommendations"), "{apps}");
    assert!(apps.contains("first broken link"), "{apps}");
    // Findings, by root cause.
    let findings = section(&dom, "incidents");
    for needle in [
        "pod-oom-killed",
        "recommendations-nfghd7fgj-zrx6r",
        "512Mi",
        "pod-unschedulable",
        "Insufficient cpu",
        "config-stale-configmap",
        "frontend-config",
    ] {
        assert!(findings.contains(needle), "findings lack {needle}");
    }
    // Timeline: the events of the bundle.
    let timeline = section(&dom, "timeline");
    assert!(timeline.contains("OOMKilled") || timeline.contains("BackOff"));
    assert!(timeline.contains("FailedScheduling"));
    // Nodes: every node of the bundle with its allocation.
    let nodes = section(&dom, "nodes");
    let bundle = kpm_bundle::Bundle::open(kpm_e2e::testdata().join("demo")).unwrap();
    let node_list: serde_json::Value = bundle.read_json("cluster/nodes.json").unwrap();
    let names: Vec<&str> = node_list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    assert!(!names.is_empty());
    for n in names {
        assert!(nodes.contains(n), "node {n} missing from the nodes section");
    }
    // Coverage is present (what was not checked, or that everything was).
    let coverage = section(&dom, "coverage");
    assert!(coverage.contains("Coverage"));
    // The page script ran without throwing: it un-hides the filters.
    assert!(
        dom.contains("<div class=\"filters\" id=\"filters\">"),
        "filters still hidden: the page script failed"
    );

    // Screenshot of the top of the report.
    let png = dir.join("demo-report.png");
    let _ = std::fs::remove_file(&png);
    let profile = tempfile::tempdir().unwrap();
    let shot = chromium(
        &page,
        profile.path(),
        &[&format!("--screenshot={}", png.display())],
    );
    assert_eq!(
        page_problems(&shot.stderr),
        Vec::<&str>::new(),
        "chromium stderr:\n{}",
        shot.stderr
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "screenshot looks empty ({} bytes)",
        bytes.len()
    );
}

#[test]
fn network_detector_catches_a_request() {
    // Control: a page that fetches something must show up in the NetLog and
    // the console filter, or the "no request" assertion proves nothing.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("control.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><img src=\"http://127.0.0.1:9/kpm-control.png\">\
         <script>console.error('kpm-control')</script>",
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let netlog = dir.path().join("control.netlog.json");
    let run = chromium(
        &page,
        profile.path(),
        &["--dump-dom", &format!("--log-net-log={}", netlog.display())],
    );
    assert_eq!(
        page_requests(&netlog),
        vec!["http://127.0.0.1:9/kpm-control.png".to_string()]
    );
    assert!(
        page_problems(&run.stderr)
            .iter()
            .any(|l| l.contains("kpm-control")),
        "console error not detected:\n{}",
        run.stderr
    );
}
