//! Renders a [`kpm_model::Report`] to a self-contained HTML page and to
//! GitHub-flavoured Markdown for tickets.
//!
//! The templates live in `templates/` at the workspace root and are embedded
//! at build time, so the `kpm-analyze` binary needs no files at run time;
//! [`Renderer::new`] with a directory overrides them by file name.
//!
//! Everything in a report comes from a cluster and is treated as hostile:
//! HTML is autoescaped by tera (no template marks cluster data `safe`) and
//! Markdown is autoescaped with a Markdown-aware escape function (see
//! [`escape`]). Templates only print a precomputed, capped view of the
//! report (its variables are documented in `templates/README.md`), so a
//! report of a 150,000-pod cluster renders a bounded page quickly. Every
//! string of that view is capped in bytes (names and ids at
//! [`NAME_CAP`], texts at smaller per-format limits), so a 100 MB pod name
//! cannot make a 100 MB page; [`json`] caps the JSON report the same way.

pub mod diff;
pub mod error;
pub mod escape;
pub mod json;
mod templates;
mod view;

use std::path::Path;

use kpm_model::Report;
use tera::Context;

pub use error::RenderError;
pub use templates::{EMBEDDED, HTML_TEMPLATE, MARKDOWN_TEMPLATE};
pub use view::NAME_CAP;
use view::{build, Limits, View};

/// Default Markdown size cap in characters: below GitHub's 65,536-character
/// limit for issue and pull-request bodies, with room for a human preface.
pub const DEFAULT_MARKDOWN_CAP: usize = 60_000;

/// Renders reports with loaded templates. Build once, render many.
pub struct Renderer {
    engines: templates::Engines,
    markdown_cap: usize,
}

impl Renderer {
    /// Loads the embedded templates, or those of `templates_dir` where it has
    /// a file of the same name (`report.html.tera`, `report.md.tera`,
    /// `partials/*.tera`). Fails on an unreadable directory or a template
    /// that does not parse, naming the file.
    pub fn new(templates_dir: Option<&Path>) -> Result<Renderer, RenderError> {
        Ok(Renderer {
            engines: templates::load(templates_dir)?,
            markdown_cap: DEFAULT_MARKDOWN_CAP,
        })
    }

    /// Sets the Markdown size cap in characters (default
    /// [`DEFAULT_MARKDOWN_CAP`]).
    pub fn with_markdown_cap(mut self, max_chars: usize) -> Renderer {
        self.markdown_cap = max_chars;
        self
    }

    /// The self-contained HTML page: inline CSS and script, no external
    /// resource of any kind.
    pub fn html(&self, report: &Report) -> Result<String, RenderError> {
        let view = build(report, &Limits::html());
        self.render_html_view(&view)
    }

    /// The Markdown report, at most the cap in characters. When findings had
    /// to be left out, it says `truncated: N findings not shown`.
    pub fn markdown(&self, report: &Report) -> Result<String, RenderError> {
        let full = build(report, &Limits::markdown());
        let out = self.render_md_view(&full)?;
        if fits(&out, self.markdown_cap) {
            return Ok(out);
        }
        // Keep the most incidents that fit: incidents are worst first, so a
        // prefix is the right thing to keep. Incidents are of similar size,
        // so a proportional estimate lands close; a short binary search
        // around it finds the exact count with few renders.
        let n = full.incidents.items.len();
        let len = out.chars().count().max(1);
        let estimate = (n.saturating_mul(self.markdown_cap) / len).min(n.saturating_sub(1));
        let slack = estimate / 4 + 2;
        let (mut lo, mut hi);
        let mut best: Option<String> = None;
        let probe = self.render_md_view(&keep_incidents(&full, estimate))?;
        if fits(&probe, self.markdown_cap) {
            best = Some(probe);
            lo = estimate + 1;
            hi = n.min(estimate + slack);
        } else {
            hi = estimate;
            lo = estimate.saturating_sub(slack);
            // The estimate missed by more than the slack: search everything below.
            if lo > 0
                && !fits(
                    &self.render_md_view(&keep_incidents(&full, lo))?,
                    self.markdown_cap,
                )
            {
                hi = lo;
                lo = 0;
            }
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let out = self.render_md_view(&keep_incidents(&full, mid))?;
            if fits(&out, self.markdown_cap) {
                best = Some(out);
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if let Some(out) = best {
            return Ok(out);
        }
        let minimal = minimal(&keep_incidents(&full, 0));
        let out = self.render_md_view(&minimal)?;
        if fits(&out, self.markdown_cap) {
            return Ok(out);
        }
        Ok(hard_cut(&out, self.markdown_cap, minimal.findings_hidden))
    }

    fn render_html_view(&self, view: &View) -> Result<String, RenderError> {
        self.render(&self.engines.html, HTML_TEMPLATE, view)
    }

    fn render_md_view(&self, view: &View) -> Result<String, RenderError> {
        Ok(tidy_markdown(&self.render(
            &self.engines.markdown,
            MARKDOWN_TEMPLATE,
            view,
        )?))
    }

    fn render(
        &self,
        tera: &tera::Tera,
        template: &str,
        view: &View,
    ) -> Result<String, RenderError> {
        let err = |e: tera::Error| RenderError::Render {
            template: template.to_string(),
            origin: self.engines.origin(template),
            detail: error::chain(&e),
        };
        let ctx = Context::from_serialize(view).map_err(err)?;
        tera.render(template, &ctx).map_err(err)
    }
}

/// Collapses runs of blank lines left by template tags (outside fenced code
/// blocks, whose content is quoted data and stays byte-exact), so templates
/// can stay readable without whitespace-control gymnastics.
fn tidy_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut fence: Option<String> = None;
    let mut blank_run = 0usize;
    for line in s.lines() {
        let trimmed = line.trim_start();
        match &fence {
            Some(f) => {
                out.push_str(line);
                out.push('\n');
                if trimmed.trim_end() == f {
                    fence = None;
                }
                continue;
            }
            None => {
                if trimmed.starts_with("```") {
                    let ticks: String = trimmed.chars().take_while(|c| *c == '`').collect();
                    fence = Some(ticks);
                }
            }
        }
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn fits(s: &str, cap: usize) -> bool {
    // Cheap check first: a string of at most `cap` bytes has at most `cap` chars.
    s.len() <= cap || s.chars().count() <= cap
}

/// `view` with only its first `k` incidents; the dropped findings are
/// counted so the truncation note stays exact.
fn keep_incidents(view: &View, k: usize) -> View {
    let mut v = view.clone();
    if k < v.incidents.items.len() {
        let dropped: usize = v
            .incidents
            .items
            .iter()
            .skip(k)
            .map(|i| i.findings_shown())
            .sum();
        v.incidents.hidden += v.incidents.items.len() - k;
        v.incidents.items.truncate(k);
        v.findings_hidden += dropped;
    }
    v
}

/// The smallest useful Markdown: header, verdict and truncation note.
fn minimal(view: &View) -> View {
    let mut v = view.clone();
    v.findings_hidden += v.other_findings.items.len();
    v.other_findings.hidden += v.other_findings.items.len();
    v.other_findings.items.clear();
    v.verdict.rows.items.truncate(10);
    v.verdict.rows.hidden = v.verdict.rows.total - v.verdict.rows.items.len();
    v.applications.hidden = v.applications.total;
    v.applications.items.clear();
    v.timeline.hidden = v.timeline.total;
    v.timeline.items.clear();
    v.nodes.hidden = v.nodes.total;
    v.nodes.items.clear();
    v.top_pods.hidden = v.top_pods.total;
    v.top_pods.items.clear();
    v.coverage.items.truncate(10);
    v.coverage.hidden = v.coverage.total - v.coverage.items.len();
    v.collection.failed.items.truncate(10);
    v.collection.failed.hidden = v.collection.failed.total - v.collection.failed.items.len();
    v.damage.items.truncate(10);
    v.damage.hidden = v.damage.total - v.damage.items.len();
    v
}

/// Last resort for a cap too small for even the minimal report: cut at a
/// line boundary and say so.
fn hard_cut(out: &str, cap: usize, findings_hidden: usize) -> String {
    let note = format!(
        "\n\n> **truncated:** {findings_hidden} findings not shown; output cut at {cap} characters. \
         See the HTML or JSON report for everything.\n"
    );
    // Room for the note and for closing an open fence or <details> blocks.
    let budget = cap.saturating_sub(note.chars().count() + 80);
    let end = out
        .char_indices()
        .nth(budget)
        .map(|(i, _)| i)
        .unwrap_or(out.len());
    let head = out.get(..end).unwrap_or("");
    let head = head.rfind('\n').and_then(|i| head.get(..i)).unwrap_or(head);
    let mut s = head.to_string();
    // A cut inside a fenced block or <details> would swallow the note.
    if s.matches("```").count() % 2 == 1 {
        s.push_str("\n```");
    }
    let opened = s
        .matches("<details>")
        .count()
        .saturating_sub(s.matches("</details>").count());
    for _ in 0..opened {
        s.push_str("\n</details>");
    }
    s.push_str(&note);
    s
}
