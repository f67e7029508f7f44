//! The `--templates DIR` override and its errors.

mod common;

use std::fs;

use kpm_report::{RenderError, Renderer};

#[test]
fn directory_overrides_by_file_name_and_falls_back_to_embedded() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("report.md.tera"),
        "ACME post-mortem for {{ meta.cluster }}\n",
    )
    .unwrap();
    fs::create_dir(dir.path().join("partials")).unwrap();
    fs::write(
        dir.path().join("partials/brand.html.tera"),
        "<p class=\"brand\">ACME SRE</p>",
    )
    .unwrap();
    fs::write(
        dir.path().join("report.html.tera"),
        "{% include \"partials/brand.html.tera\" %}{{ meta.cluster }}",
    )
    .unwrap();
    let r = Renderer::new(Some(dir.path())).unwrap();
    let report = common::crashloop();
    assert_eq!(
        r.markdown(&report).unwrap(),
        "ACME post-mortem for prod-use1\n"
    );
    assert_eq!(
        r.html(&report).unwrap(),
        "<p class=\"brand\">ACME SRE</p>prod-use1"
    );

    // Only the Markdown overridden: HTML stays the embedded page.
    let dir2 = tempfile::tempdir().unwrap();
    fs::write(dir2.path().join("report.md.tera"), "x").unwrap();
    let html = Renderer::new(Some(dir2.path()))
        .unwrap()
        .html(&report)
        .unwrap();
    assert!(html.contains("first broken link"));
}

#[test]
fn override_keeps_escaping() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("report.html.tera"), "{{ meta.cluster }}").unwrap();
    fs::write(dir.path().join("report.md.tera"), "{{ meta.cluster }}").unwrap();
    let mut report = common::healthy();
    report.bundle.cluster = Some("<b>|".into());
    let r = Renderer::new(Some(dir.path())).unwrap();
    assert_eq!(r.html(&report).unwrap(), "&lt;b&gt;|");
    assert_eq!(r.markdown(&report).unwrap(), "&lt;b&gt;\\|\n");
}

#[test]
fn broken_template_is_named() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("partials")).unwrap();
    fs::write(
        dir.path().join("partials/finding.html.tera"),
        "{% if f.cause %}unclosed",
    )
    .unwrap();
    let err = Renderer::new(Some(dir.path())).err().unwrap();
    match &err {
        RenderError::Parse {
            template, origin, ..
        } => {
            assert_eq!(template, "partials/finding.html.tera");
            assert!(origin.ends_with("partials/finding.html.tera"), "{origin}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("partials/finding.html.tera"));
}

#[test]
fn render_error_names_template_and_variable() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("report.md.tera"),
        "{{ meta.no_such_field }}",
    )
    .unwrap();
    let err = Renderer::new(Some(dir.path()))
        .unwrap()
        .markdown(&common::healthy())
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(msg.contains("report.md.tera"), "{msg}");
    assert!(msg.contains("no_such_field"), "{msg}");
}

#[test]
fn missing_directory_is_an_error() {
    let err = Renderer::new(Some(std::path::Path::new("/nonexistent/kpm-templates")))
        .err()
        .unwrap();
    assert!(matches!(err, RenderError::TemplatesDir { .. }));
    assert!(err.to_string().contains("/nonexistent/kpm-templates"));
}
