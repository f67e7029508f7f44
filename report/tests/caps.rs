//! Hostile sizes and control characters: every renderer bounds its output
//! and shows control characters visibly, and an honest report passes the
//! JSON caps unchanged.

mod common;

use kpm_model::{Evidence, FailedStep, LogLine, Report};
use kpm_report::escape::is_hazard;
use kpm_report::json::{render, JsonLimits};
use kpm_report::Renderer;

const ESC: &str = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\u{9b}31m\u{202e}";

/// The crashloop report with a 10 MB pod name, a 10 MB log line, escape
/// sequences and mentions in messages, and a million failed steps.
fn hostile_sizes() -> Report {
    let mut r = common::crashloop();
    let huge = "p".repeat(10 << 20);
    for f in &mut r.findings {
        f.object.name = huge.clone();
        f.id = format!("{}:{}", f.rule, huge);
        f.cause = format!("{ESC} ping @org/team about #123");
        for e in &mut f.evidence {
            match e {
                Evidence::Log { lines, .. } => lines.push(LogLine {
                    number: 99,
                    text: format!("{ESC}{}", "l".repeat(10 << 20)),
                }),
                Evidence::Event { message, .. } => *message = format!("{ESC}@everyone"),
                _ => {}
            }
        }
    }
    r.collection.failed_steps = (0..1_000_000)
        .map(|i| FailedStep {
            what: "pods".into(),
            namespace: Some(format!("ns-{i}")),
            object: None,
            outcome: "error".into(),
            message: Some(ESC.into()),
        })
        .collect();
    r
}

#[test]
fn every_renderer_is_bounded_and_shows_controls() {
    let r = hostile_sizes();
    let renderer = Renderer::new(None).unwrap();
    let html = renderer.html(&r).unwrap();
    let md = renderer.markdown(&r).unwrap();
    let limits = JsonLimits {
        max_bytes: 4 << 20,
        ..JsonLimits::default()
    };
    let json = render(&r, &limits).unwrap();
    assert!(html.len() < 4 << 20, "HTML is {} bytes", html.len());
    assert!(md.chars().count() <= kpm_report::DEFAULT_MARKDOWN_CAP);
    // Compact budget plus pretty-printing indentation.
    assert!(json.len() < 8 << 20, "JSON is {} bytes", json.len());
    for (what, out) in [("html", &html), ("md", &md), ("json", &json)] {
        // Only the renderers' own line layout remains.
        let raw = |c: char| is_hazard(c) && c != '\n';
        assert!(!out.chars().any(raw), "raw control in {what}");
        assert!(
            out.contains("more bytes not shown"),
            "no clip marker in {what}"
        );
    }
    assert!(html.contains("\\x1b]52;c;"));
    assert!(md.contains("`@org/team`") && md.contains("`#123`"));
    assert!(!md.contains(" @org/team"));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let t = &v["truncated"];
    assert_eq!(t["max_bytes"], 4 << 20);
    let omitted = t["omitted"]["collection.failed_steps"].as_u64().unwrap();
    let kept = v["collection"]["failed_steps"].as_array().unwrap().len() as u64;
    assert!(omitted > 0 && kept > 0);
    assert_eq!(omitted + kept, 1_000_000);
    assert!(t["strings_clipped"].as_u64().unwrap() > 0);
    // The escapes survive as JSON escapes, with the same meaning.
    let cause = v["findings"][0]["cause"].as_str().unwrap();
    assert!(cause.starts_with(ESC), "{cause:?}");
}

#[test]
fn honest_report_passes_json_caps_unchanged() {
    for r in [
        common::crashloop(),
        common::healthy(),
        common::partial_bundle(),
    ] {
        let json = render(&r, &JsonLimits::default()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(v.get("truncated").is_none());
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        assert_eq!(json, serde_json::to_string_pretty(&r).unwrap());
    }
}
