//! Cluster data is hostile: prove that no string from a report can inject
//! markup into the HTML page or the Markdown, and that tera never evaluates
//! template syntax found in data.

mod common;

use kpm_report::Renderer;

#[test]
fn html_escapes_every_hostile_string() {
    let html = Renderer::new(None)
        .unwrap()
        .html(&common::hostile())
        .unwrap();
    // Exactly one script element: ours.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(!html.contains("<img"));
    assert!(!html.contains("alert(1)</script>"));
    assert!(!html.contains("</script></td>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;&lt;&#x2F;td&gt;|`x`"));
    // Attributes are quoted and escaped too (namespace filter option).
    assert!(!html.contains("value=\"<script>"));
    // Template syntax in data is printed, not evaluated.
    assert!(html.contains("{{ x }}{% raw %}"));
}

/// Splits Markdown into prose lines and fenced-code lines, tracking the
/// opening fence as CommonMark does (closed only by a fence at least as long).
fn split_fences(md: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut prose, mut code) = (Vec::new(), Vec::new());
    let mut fence: Option<usize> = None;
    for line in md.lines() {
        let ticks = line.chars().take_while(|c| *c == '`').count();
        match fence {
            Some(n) if ticks >= n && line.trim_end().len() == ticks => fence = None,
            Some(_) => code.push(line),
            None if ticks >= 3 => fence = Some(ticks),
            None => prose.push(line),
        }
    }
    assert!(fence.is_none(), "unterminated code block");
    (prose, code)
}

#[test]
fn markdown_escapes_every_hostile_string() {
    let md = Renderer::new(None)
        .unwrap()
        .markdown(&common::hostile())
        .unwrap();
    let (prose, code) = split_fences(&md);
    let prose_text = prose.join("\n");
    assert!(!prose_text.contains("<script"));
    assert!(!prose_text.contains("<img"));
    assert!(!prose_text.contains("</td>"));
    assert!(prose_text
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;/td&gt;\\|\\`x\\`{{ x }}{% raw %}"));
    // Inside code blocks the data is verbatim (Markdown shows it as text),
    // and the ``` line of the data stayed inside its block.
    assert!(code.iter().any(|l| l.contains("<script>alert(1)</script>")));
    assert!(code.contains(&"```"));
    assert!(md.contains("````sh\n"));
    // A newline in data never starts a heading.
    assert!(!prose.iter().any(|l| l.starts_with("# h")));
    // Every table row keeps its column count: data pipes are escaped.
    let mut columns: Option<usize> = None;
    for line in &prose {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let bytes = line.as_bytes();
        let pipes = (0..bytes.len())
            .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
            .count();
        match columns {
            None => columns = Some(pipes),
            Some(c) => assert_eq!(c, pipes, "row breaks its table: {line}"),
        }
    }
}

#[test]
fn template_syntax_in_data_is_inert() {
    // If tera re-parsed data, `{{ meta.title }}` would print the title.
    let mut r = common::healthy();
    r.bundle.cluster = Some("{{ meta.title }}{% for x in [1] %}loop{% endfor %}".into());
    let renderer = Renderer::new(None).unwrap();
    let html = renderer.html(&r).unwrap();
    let md = renderer.markdown(&r).unwrap();
    for out in [&html, &md] {
        // Evaluated, this would print the title and `loop`, without the tags.
        assert!(out.contains("{{ meta.title }}{% for x in [1] %}loop{% endfor %}"));
    }
}
