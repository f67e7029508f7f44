//! Views of what the analysis set aside rather than listed as findings:
//! best-practice remarks about system components, grouped per rule, and
//! what the `--config` policy muted or re-graded, per entry. Both are
//! counted on the page so nothing disappears silently.

use kpm_model::{MutedEntry, RemarkGroup};
use serde::Serialize;

use super::format::clip;
use super::Limits;

/// One line per kind of remark about system components.
#[derive(Debug, Clone, Serialize)]
pub struct RemarkView {
    pub rule: String,
    pub summary: String,
    pub count: usize,
    pub namespaces: String,
    pub reasons: String,
}

/// One policy entry and what it did.
#[derive(Debug, Clone, Serialize)]
pub struct MutedView {
    pub file: String,
    pub entry: usize,
    pub description: String,
    pub action: String,
    pub reason: String,
    pub count: usize,
}

/// Namespaces or reasons listed in one cell, the rest counted.
fn joined(items: &[String], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(String::as_str).collect();
    match items.len().saturating_sub(max) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// The remark groups, as printed.
pub fn remark_views(groups: &[RemarkGroup], limits: &Limits) -> Vec<RemarkView> {
    groups
        .iter()
        .map(|g| RemarkView {
            rule: g.rule.clone(),
            summary: clip(&g.summary, limits.short_text),
            count: g.count,
            namespaces: clip(&joined(&g.namespaces, 12), limits.text),
            reasons: clip(&joined(&g.reasons, 4), limits.text),
        })
        .collect()
}

/// The policy entries that applied, as printed.
pub fn muted_views(entries: &[MutedEntry], limits: &Limits) -> Vec<MutedView> {
    entries
        .iter()
        .map(|m| MutedView {
            file: clip(&m.file, limits.short_text),
            entry: m.entry,
            description: clip(&m.description, limits.short_text),
            action: m.action.clone(),
            reason: clip(&m.reason, limits.short_text),
            count: m.count,
        })
        .collect()
}
