//! Renders a [`DiffReport`] (`kpm-analyze diff`) as JSON, Markdown and one
//! self-contained HTML page in the style of the report: the verdict first,
//! then each section.
//!
//! Every string comes from a bundle and is hostile: HTML goes through
//! [`escape::html`], Markdown through [`escape::markdown_inline`] (or a
//! fence), exactly as the report's. Lists are capped at [`LIST_CAP`] items
//! per section in HTML and Markdown (the JSON is complete), so a diff of two
//! 150,000-pod clusters renders a bounded page.

use std::fmt::Write as _;

use kpm_model::diff::{Change, DiffReport, FieldChange};
use kpm_model::ObjectRef;

use crate::escape;
use crate::RenderError;

/// Items shown per list in HTML and Markdown.
pub const LIST_CAP: usize = 50;

fn err(template: &str, detail: String) -> RenderError {
    RenderError::Render {
        template: template.to_string(),
        origin: "built in".to_string(),
        detail,
    }
}

/// The diff as pretty JSON (docs/report-schema.md, "Diff"), safe to print on
/// a terminal (see [`escape::json`]).
pub fn json(diff: &DiffReport) -> Result<String, RenderError> {
    serde_json::to_string_pretty(diff)
        .map(escape::json)
        .map_err(|e| err("diff.json", e.to_string()))
}

/// One line of a section, in either format: plain text parts are escaped,
/// code parts shown as code.
enum Part<'a> {
    Text(&'a str),
    Owned(String),
    Code(String),
}

/// An output format: how to write a heading, a list item and a part.
trait Sink {
    fn heading(&mut self, level: usize, text: &str);
    fn para(&mut self, parts: &[Part<'_>]);
    fn item(&mut self, parts: &[Part<'_>]);
    /// Opens (`true`) or closes a list.
    fn list(&mut self, open: bool);
    fn more(&mut self, n: usize) {
        if n > 0 {
            self.para(&[Part::Owned(format!("… and {n} more (see the JSON output)"))]);
        }
    }
}

struct Markdown(String);

impl Markdown {
    fn parts(parts: &[Part<'_>]) -> String {
        parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => escape::markdown_inline(t),
                Part::Owned(t) => escape::markdown_inline(t),
                Part::Code(c) => code_span(c),
            })
            .collect()
    }
}

/// A Markdown code span that no backtick inside can close.
fn code_span(c: &str) -> String {
    let clean = escape::visible_controls(c, false).replace('\n', " ");
    let longest = clean.split(|ch| ch != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    format!("{fence} {clean} {fence}")
}

impl Sink for Markdown {
    fn heading(&mut self, level: usize, text: &str) {
        let _ = write!(
            self.0,
            "\n{} {}\n\n",
            "#".repeat(level),
            escape::markdown_inline(text)
        );
    }
    fn para(&mut self, parts: &[Part<'_>]) {
        let _ = write!(self.0, "{}\n\n", Self::parts(parts));
    }
    fn item(&mut self, parts: &[Part<'_>]) {
        let _ = writeln!(self.0, "- {}", Self::parts(parts));
    }
    fn list(&mut self, open: bool) {
        if !open {
            self.0.push('\n');
        }
    }
}

struct Html(String);

impl Html {
    fn parts(parts: &[Part<'_>]) -> String {
        parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => escape::html(t),
                Part::Owned(t) => escape::html(t),
                Part::Code(c) => format!("<code>{}</code>", escape::html(c)),
            })
            .collect()
    }
}

impl Sink for Html {
    fn heading(&mut self, level: usize, text: &str) {
        let _ = writeln!(self.0, "<h{level}>{}</h{level}>", escape::html(text));
    }
    fn para(&mut self, parts: &[Part<'_>]) {
        let _ = writeln!(self.0, "<p>{}</p>", Self::parts(parts));
    }
    fn item(&mut self, parts: &[Part<'_>]) {
        let _ = writeln!(self.0, "<li>{}</li>", Self::parts(parts));
    }
    fn list(&mut self, open: bool) {
        self.0.push_str(if open { "<ul>\n" } else { "</ul>\n" });
    }
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(none)".to_string())
}

fn field_parts(f: &FieldChange) -> Vec<Part<'_>> {
    vec![
        Part::Code(f.field.clone()),
        Part::Text(": "),
        Part::Code(opt(&f.before)),
        Part::Text(" → "),
        Part::Code(opt(&f.after)),
    ]
}

fn obj(o: &ObjectRef) -> Part<'static> {
    Part::Code(o.to_string())
}

/// Writes every section through `sink`.
fn sections(d: &DiffReport, sink: &mut dyn Sink) {
    verdict(d, sink);
    findings(d, sink);
    workloads(d, sink);
    config(d, sink);
    nodes(d, sink);
    events(d, sink);
    collection(d, sink);
    series(d, sink);
}

fn verdict(d: &DiffReport, sink: &mut dyn Sink) {
    sink.heading(2, "Snapshots");
    sink.list(true);
    for (i, s) in d.snapshots.iter().enumerate() {
        let label = match i {
            0 => "BEFORE".to_string(),
            i if i + 1 == d.snapshots.len() => "AFTER".to_string(),
            i => format!("#{}", i + 1),
        };
        sink.item(&[
            Part::Owned(format!("{label}: ")),
            Part::Code(s.path.clone()),
            Part::Owned(format!(
                ", collected {}, {} findings in {} incidents",
                s.collected_at.to_rfc3339(),
                s.findings,
                s.incidents
            )),
        ]);
    }
    sink.list(false);
    if !d.warnings.is_empty() {
        sink.heading(3, "Warnings");
        sink.list(true);
        for w in &d.warnings {
            sink.item(&[Part::Text(w)]);
        }
        sink.list(false);
    }
    if d.is_empty() {
        sink.para(&[Part::Text("Nothing changed between the snapshots.")]);
    }
}

fn findings(d: &DiffReport, sink: &mut dyn Sink) {
    let changed: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.change != Change::Persisting || f.root)
        .collect();
    if changed.is_empty() {
        return;
    }
    sink.heading(2, "Findings");
    sink.list(true);
    for f in changed.iter().take(LIST_CAP) {
        sink.item(&[
            Part::Owned(format!("{} {} ", f.change.as_str(), f.severity)),
            Part::Code(f.rule.clone()),
            Part::Text(" on "),
            Part::Code(f.subject.clone()),
            Part::Owned(format!(
                " ({} → {} findings{}): ",
                f.before,
                f.after,
                if f.root { ", root cause" } else { "" }
            )),
            Part::Text(&f.symptom),
        ]);
    }
    sink.list(false);
    sink.more(changed.len().saturating_sub(LIST_CAP));
}

fn names(label: &str, v: &[String]) -> Option<Vec<Part<'static>>> {
    (!v.is_empty()).then(|| {
        let shown: Vec<&str> = v.iter().take(LIST_CAP).map(String::as_str).collect();
        let more = v.len().saturating_sub(LIST_CAP);
        let mut text = shown.join(", ");
        if more > 0 {
            let _ = write!(text, " … and {more} more");
        }
        vec![
            Part::Owned(format!("{label} ({}): ", v.len())),
            Part::Code(text),
        ]
    })
}

fn workloads(d: &DiffReport, sink: &mut dyn Sink) {
    if d.workloads.is_empty() {
        return;
    }
    sink.heading(2, "Workloads and pods");
    for w in d.workloads.iter().take(LIST_CAP) {
        sink.para(&[
            Part::Owned(format!("{} ", w.change.as_str())),
            obj(&w.object),
        ]);
        sink.list(true);
        for f in [&w.revision, &w.replicas, &w.ready].into_iter().flatten() {
            sink.item(&field_parts(f));
        }
        for f in &w.template {
            sink.item(&field_parts(f));
        }
        let restarts: Vec<String> = w
            .restarts
            .iter()
            .map(|r| {
                format!(
                    "{}/{} {} → {} (+{})",
                    r.pod,
                    r.container,
                    r.before,
                    r.after,
                    r.after - r.before
                )
            })
            .collect();
        for parts in [
            names("pods created", &w.pods_created),
            names("pods deleted", &w.pods_deleted),
            names("restarts grew", &restarts),
            names("started crashing", &w.started_crashing),
            names("recovered", &w.recovered),
        ]
        .into_iter()
        .flatten()
        {
            sink.item(&parts);
        }
        sink.list(false);
    }
    sink.more(d.workloads.len().saturating_sub(LIST_CAP));
}

fn config(d: &DiffReport, sink: &mut dyn Sink) {
    if d.config.is_empty() {
        return;
    }
    sink.heading(2, "Configuration");
    sink.list(true);
    for c in d.config.iter().take(LIST_CAP) {
        let mut parts = vec![
            Part::Owned(format!("{} ", c.change.as_str())),
            obj(&c.object),
            Part::Text(": resourceVersion "),
            Part::Code(opt(&c.resource_version.before)),
            Part::Text(" → "),
            Part::Code(opt(&c.resource_version.after)),
            Part::Text(", content "),
            Part::Code(opt(&c.content.before)),
            Part::Text(" → "),
            Part::Code(opt(&c.content.after)),
        ];
        if let Some(w) = &c.written {
            parts.push(Part::Text(", last write "));
            parts.push(Part::Code(opt(&w.before)));
            parts.push(Part::Text(" → "));
            parts.push(Part::Code(opt(&w.after)));
        }
        if !c.stale_pods.is_empty() {
            let pods: Vec<String> = c.stale_pods.iter().map(|p| p.name.clone()).collect();
            parts
                .extend(names("; still running from before the change", &pods).unwrap_or_default());
        }
        sink.item(&parts);
    }
    sink.list(false);
    sink.more(d.config.len().saturating_sub(LIST_CAP));
}

fn nodes(d: &DiffReport, sink: &mut dyn Sink) {
    if d.nodes.is_empty() && d.capacity.is_empty() {
        return;
    }
    sink.heading(2, "Nodes and capacity");
    sink.list(true);
    for n in d.nodes.iter().take(LIST_CAP) {
        let mut parts = vec![
            Part::Owned(format!("{} node ", n.change.as_str())),
            Part::Code(n.name.clone()),
        ];
        for f in &n.conditions {
            parts.push(Part::Text("; "));
            parts.extend(field_parts(f));
        }
        sink.item(&parts);
    }
    for c in d.capacity.iter().take(LIST_CAP) {
        let mut parts = vec![Part::Text("node "), Part::Code(c.node.clone())];
        for f in c.pods.iter().chain(&c.resources) {
            parts.push(Part::Text("; "));
            parts.extend(field_parts(f));
        }
        sink.item(&parts);
    }
    sink.list(false);
    sink.more(d.nodes.len().saturating_sub(LIST_CAP) + d.capacity.len().saturating_sub(LIST_CAP));
}

fn events(d: &DiffReport, sink: &mut dyn Sink) {
    if d.events.is_empty() {
        return;
    }
    sink.heading(2, "Events between the snapshots");
    sink.list(true);
    for e in d.events.iter().take(LIST_CAP) {
        sink.item(&[
            Part::Owned(format!("{} {} ", e.time.to_rfc3339(), e.event_type)),
            Part::Code(e.reason.clone()),
            Part::Text(" "),
            obj(&e.object),
            Part::Owned(format!(" (×{}): ", e.count)),
            Part::Text(&e.message),
        ]);
    }
    sink.list(false);
    sink.more(d.events.len().saturating_sub(LIST_CAP));
}

fn collection(d: &DiffReport, sink: &mut dyn Sink) {
    if d.collection.is_empty() {
        return;
    }
    sink.heading(2, "Collection differences");
    sink.para(&[Part::Text(
        "An object missing where its kind was not collected is not reported as removed.",
    )]);
    sink.list(true);
    for c in d.collection.iter().take(LIST_CAP) {
        sink.item(&[
            Part::Code(c.what.clone()),
            Part::Text(" in "),
            Part::Code(c.namespace.clone().unwrap_or_else(|| "(cluster)".into())),
            Part::Owned(format!(": {} → {}", c.before, c.after)),
        ]);
    }
    sink.list(false);
    sink.more(d.collection.len().saturating_sub(LIST_CAP));
}

fn series(d: &DiffReport, sink: &mut dyn Sink) {
    if d.series.is_empty() {
        return;
    }
    sink.heading(2, "Incidents across the snapshots");
    sink.list(true);
    for t in d.series.iter().take(LIST_CAP) {
        let states: Vec<&str> = t
            .states
            .iter()
            .map(|s| s.map_or("—", |s| s.as_str()))
            .collect();
        sink.item(&[
            Part::Code(t.rule.clone()),
            Part::Text(" on "),
            Part::Code(t.subject.clone()),
            Part::Owned(format!(": {}", states.join(" → "))),
        ]);
    }
    sink.list(false);
    sink.more(d.series.len().saturating_sub(LIST_CAP));
}

/// The diff as GitHub-flavoured Markdown.
pub fn markdown(d: &DiffReport) -> String {
    let mut md = Markdown(format!(
        "# kpm diff\n\n**{}**\n",
        escape::markdown_inline(&d.verdict.text)
    ));
    sections(d, &mut md);
    let mut text = md.0;
    while text.ends_with("\n\n") {
        text.pop();
    }
    text
}

/// Style of the report page, reduced to what the diff uses.
const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1f2328;line-height:1.45}\
h1{font-size:1.6rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2rem}\
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:.1rem .3rem;border-radius:4px;word-break:break-all}\
li{margin:.2rem 0}.verdict{font-size:1.2rem;font-weight:600;padding:.6rem 1rem;border-radius:6px;background:#f6f8fa}\
.fixed,.improved,.healthy{border-left:6px solid #1a7f37}.worse{border-left:6px solid #cf222e}.mixed,.unchanged{border-left:6px solid #9a6700}\
@media print{body{margin:0}}";

/// The diff as one self-contained HTML page (no script, no external
/// resource).
pub fn html(d: &DiffReport) -> String {
    let mut page = Html(String::new());
    let _ = write!(
        page.0,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
<title>kpm diff — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>kpm diff</h1>\n\
<p class=\"verdict {}\">{}</p>\n",
        escape::html(&d.verdict.text),
        d.verdict.state.as_str(),
        escape::html(&d.verdict.text)
    );
    sections(d, &mut page);
    page.0.push_str("</body>\n</html>\n");
    page.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use kpm_model::diff::{
        DiffEvent, DiffVerdict, SnapshotInfo, WorkloadDelta, DIFF_SCHEMA_VERSION,
    };

    const HOSTILE: &str = "<script>alert(1)</script> `x` *y* @team #12\n# heading\u{202e}";

    fn hostile_diff() -> DiffReport {
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 11, 20, 14, 32, 10)
            .unwrap();
        let info = SnapshotInfo {
            path: HOSTILE.into(),
            started_at: t,
            collected_at: t,
            cluster: Some(HOSTILE.into()),
            server_version: None,
            findings: 0,
            incidents: 0,
        };
        DiffReport {
            schema_version: DIFF_SCHEMA_VERSION,
            kpm_version: "0".into(),
            snapshots: vec![info.clone(), info],
            verdict: DiffVerdict::new(0, 0, 0),
            warnings: vec![HOSTILE.into()],
            findings: Vec::new(),
            workloads: vec![WorkloadDelta {
                object: ObjectRef::namespaced("Deployment", "shop", HOSTILE),
                change: Change::Changed,
                revision: None,
                replicas: None,
                ready: None,
                template: vec![FieldChange {
                    field: "containers[web].image".into(),
                    before: Some(HOSTILE.into()),
                    after: Some("web:2".into()),
                }],
                pods_created: vec![HOSTILE.into()],
                pods_deleted: Vec::new(),
                restarts: Vec::new(),
                started_crashing: Vec::new(),
                recovered: Vec::new(),
            }],
            config: Vec::new(),
            nodes: Vec::new(),
            capacity: Vec::new(),
            events: vec![DiffEvent {
                time: t,
                object: ObjectRef::namespaced("Pod", "shop", HOSTILE),
                event_type: "Warning".into(),
                reason: HOSTILE.into(),
                message: HOSTILE.into(),
                count: 1,
            }],
            collection: Vec::new(),
            series: Vec::new(),
        }
    }

    #[test]
    fn hostile_strings_are_escaped_in_html() {
        let html = html(&hostile_diff());
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(
            !html.contains('\u{202e}'),
            "bidi control shown, not applied"
        );
    }

    #[test]
    fn hostile_strings_cannot_start_blocks_or_mention_in_markdown() {
        let md = markdown(&hostile_diff());
        assert!(!md.contains('\u{202e}'));
        for line in md.lines() {
            assert!(
                !line.starts_with("# heading"),
                "a value opened a heading: {md}"
            );
        }
        let prose = outside_code(&md);
        assert!(!prose.contains("@team"), "a mention would notify: {prose}");
        assert!(!prose.contains("<script>"), "{prose}");
        assert!(
            md.starts_with("# kpm diff\n\n**healthy: 0 incidents resolved"),
            "{md}"
        );
    }

    /// Markdown text with code spans (GitHub autolinks nothing in them) cut out.
    fn outside_code(md: &str) -> String {
        let mut out = String::new();
        let mut rest = md;
        while let Some(start) = rest.find('`') {
            out.push_str(&rest[..start]);
            let run = rest[start..].chars().take_while(|c| *c == '`').count();
            let fence = "`".repeat(run);
            let body = &rest[start + run..];
            match body.find(&fence) {
                Some(end) => rest = &body[end + run..],
                None => return out,
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn json_round_trips() {
        let d = hostile_diff();
        let text = json(&d).unwrap();
        let back: DiffReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d);
    }
}
