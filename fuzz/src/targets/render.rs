//! The Markdown, HTML and JSON renderers over a report whose strings are
//! hostile: either the input is a (mutated) report in JSON, or its text
//! is cut into pieces that replace every free-text string of a real report
//! (analysed from scenario and corpus bundles).

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use kpm_bundle::Bundle;
use kpm_model::Report;
use kpm_report::json::JsonLimits;
use kpm_report::Renderer;
use serde_json::Value;

use super::Target;
use crate::corpus::Paths;
use crate::mutate::{Mutator, Shape};

thread_local! {
    static RENDERER: Option<Renderer> = Renderer::new(None).ok();
    static SMALL: Option<Renderer> = Renderer::new(None).ok().map(|r| r.with_markdown_cap(3_000));
}

/// Renders `report` in every format, at the default caps and at small
/// ones (so the truncation paths run too).
pub fn render_all(report: &Report) {
    RENDERER.with(|r| {
        if let Some(r) = r {
            let _ = r.html(report);
            let _ = r.markdown(report);
        }
    });
    SMALL.with(|r| {
        if let Some(r) = r {
            let _ = r.markdown(report);
        }
    });
    let _ = kpm_report::json::render(report, &JsonLimits::default());
    let small = JsonLimits {
        max_bytes: 20_000,
        name: 16,
        text: 32,
        ..JsonLimits::default()
    };
    let _ = kpm_report::json::render(report, &small);
}

/// Bytes of input text put into one base report.
const MAX_INJECTED: usize = 2 << 20;

/// Report fields whose strings are free text (not enum tags): replacing
/// them keeps the report deserialisable.
fn free_text_keys(report: &Value) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    string_keys(report, None, &mut keys);
    keys.into_iter()
        .filter(|k| {
            let mut probe = report.clone();
            replace_strings(&mut probe, None, &|key| {
                (key == Some(k.as_str())).then(|| "\u{1}x".to_string())
            });
            serde_json::from_value::<Report>(probe).is_ok()
        })
        .collect()
}

fn string_keys(v: &Value, key: Option<&str>, out: &mut BTreeSet<String>) {
    match v {
        Value::String(_) => {
            out.extend(key.map(str::to_string));
        }
        Value::Array(a) => a.iter().for_each(|c| string_keys(c, key, out)),
        Value::Object(o) => o.iter().for_each(|(k, c)| string_keys(c, Some(k), out)),
        _ => {}
    }
}

/// Replaces every string whose key `with` maps to a value.
fn replace_strings(
    v: &mut Value,
    key: Option<&str>,
    with: &dyn Fn(Option<&str>) -> Option<String>,
) {
    match v {
        Value::String(s) => {
            if let Some(new) = with(key) {
                *s = new;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| replace_strings(c, key, with)),
        Value::Object(o) => o
            .iter_mut()
            .for_each(|(k, c)| replace_strings(c, Some(k), with)),
        _ => {}
    }
}

/// A base report and the keys of its free-text strings.
struct Base {
    json: Value,
    keys: BTreeSet<String>,
}

/// See the module docs.
pub struct RenderTarget {
    bases: Vec<Base>,
}

impl RenderTarget {
    /// Analyses the base bundles.
    pub fn new(paths: &Paths) -> Result<RenderTarget> {
        let mut bases = Vec::new();
        for dir in base_bundles(paths) {
            let bundle =
                Bundle::open(&dir).with_context(|| format!("opening {}", dir.display()))?;
            let report = kpm_analyzer::analyze(&bundle, &kpm_analyzer::Options::default());
            let json = serde_json::to_value(&report).context("serialising a report")?;
            let keys = free_text_keys(&json);
            bases.push(Base { json, keys });
        }
        Ok(RenderTarget { bases })
    }
}

fn base_bundles(paths: &Paths) -> Vec<std::path::PathBuf> {
    vec![
        paths.testdata().join("crashloop"),
        paths.testdata().join("demo"),
        paths.shared().join("kpm").join("kind-crashloop-oom"),
    ]
}

impl Target for RenderTarget {
    fn name(&self) -> &'static str {
        "render"
    }

    fn mutator(&self) -> Mutator {
        Mutator::new(
            Shape::Json,
            &["\n", "    ", "---", "<!--", "-->", "[x](javascript:x)"],
            8 << 20,
        )
    }

    fn seeds(&self, paths: &Paths) -> Vec<Vec<u8>> {
        let mut out = crate::corpus::files_in(&paths.seeds("render"));
        out.extend(
            self.bases
                .iter()
                .filter_map(|b| serde_json::to_vec(&b.json).ok()),
        );
        out
    }

    fn run(&mut self, input: &[u8]) -> bool {
        if let Ok(report) = serde_json::from_slice::<Report>(input) {
            render_all(&report);
            return true;
        }
        if self.bases.is_empty() {
            return false;
        }
        // Not a report: its text, cut at newlines, becomes every free-text
        // string of a base report in turn.
        let text = String::from_utf8_lossy(input);
        let pieces: Vec<&str> = text.split('\n').collect();
        let base = &self.bases[input.len() % self.bases.len()];
        let next = std::cell::Cell::new((0usize, 0usize));
        let mut json = base.json.clone();
        replace_strings(&mut json, None, &|key| {
            let k = key?;
            if !base.keys.contains(k) {
                return None;
            }
            // Bounded so one input renders in well under a second.
            let (i, injected) = next.get();
            let piece = pieces[i % pieces.len()];
            if injected + piece.len() > MAX_INJECTED {
                return None;
            }
            next.set((i + 1, injected + piece.len()));
            Some(piece.to_string())
        });
        if let Ok(report) = serde_json::from_value::<Report>(json) {
            render_all(&report);
        }
        false
    }
}
