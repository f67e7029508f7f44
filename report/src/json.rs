//! The JSON report, capped like the HTML and Markdown ones.
//!
//! The JSON is the report model serialized (docs/report-schema.md), so every
//! string in it comes from the bundle and can be any size: a 100 MB pod name
//! or a million failed collection steps must not make a report of hundreds
//! of megabytes. [`render`] writes a copy of the report in which every
//! string is clipped ([`JsonLimits`]: names, texts) with a
//! `… [N more bytes not shown]` marker, nested lists are cut to a count and
//! the top-level lists share a byte budget. Whatever was cut is said in a
//! top-level `truncated` object, absent when nothing was.

use std::collections::BTreeMap;

use kpm_model::{
    Application, ChainLink, CoverageGap, Damage, Evidence, FailedStep, Finding, Incident, LogLine,
    NextStep, NodeSummary, ObjectRef, PodUsage, Report, ResourceAllocation, TimelineEntry,
};
use serde::Serialize;

use crate::error::RenderError;
use crate::escape;

/// Caps of the JSON report. The defaults keep every honest report intact
/// (no Kubernetes name is over 253 bytes; analyzer texts are short) and
/// bound a hostile one to about `max_bytes`.
#[derive(Debug, Clone)]
pub struct JsonLimits {
    /// Budget in bytes of compact JSON shared by the top-level lists
    /// (pretty-printing adds indentation on top). Default 64 MiB.
    pub max_bytes: usize,
    /// Longest name, namespace, id, label, file path or key, in bytes.
    /// Default 1 KiB.
    pub name: usize,
    /// Longest free text (message, cause, log line, command), in bytes.
    /// Default 4 KiB.
    pub text: usize,
    /// Pieces of evidence per finding. Default 50.
    pub evidence: usize,
    /// Log lines per log evidence (the last ones are kept). Default 100.
    pub log_lines: usize,
    /// Next steps per finding. Default 20.
    pub next_steps: usize,
    /// Ids and objects per nested list (related, caused_by, consequences,
    /// chain objects, node problems, namespaces...). Default 1,000.
    pub refs: usize,
}

impl Default for JsonLimits {
    fn default() -> Self {
        JsonLimits {
            max_bytes: 64 << 20,
            name: 1024,
            text: 4096,
            evidence: 50,
            log_lines: 100,
            next_steps: 20,
            refs: 1000,
        }
    }
}

/// What [`render`] left out, written as the report's `truncated` field.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Truncation {
    /// The byte budget in force.
    pub max_bytes: usize,
    /// Items left out per list: top-level lists by field name (`findings`,
    /// `timeline`...), nested ones summed over their parents
    /// (`findings[].evidence`, `incidents[].consequences`...).
    pub omitted: BTreeMap<&'static str, usize>,
    /// Strings cut to their cap (each ends with `… [N more bytes not shown]`).
    pub strings_clipped: usize,
}

impl Truncation {
    fn is_empty(&self) -> bool {
        self.omitted.is_empty() && self.strings_clipped == 0
    }
}

/// The capped report as pretty JSON, with DEL, C1 and bidi controls written
/// as `\uXXXX` escapes (serde_json already escapes C0) so printing it on a
/// terminal is safe.
pub fn render(report: &Report, limits: &JsonLimits) -> Result<String, RenderError> {
    let err = |e: serde_json::Error| RenderError::Render {
        template: "report.json".to_string(),
        origin: "built in".to_string(),
        detail: e.to_string(),
    };
    let (capped, truncation) = cap(report, limits);
    let mut text = serde_json::to_string_pretty(&capped).map_err(err)?;
    if !truncation.is_empty() {
        // Appended as the last member of the top-level object, indented as
        // serde_json indents it.
        let t = serde_json::to_string_pretty(&truncation).map_err(err)?;
        if text.ends_with("\n}") {
            text.truncate(text.len() - 2);
            text.push_str(",\n  \"truncated\": ");
            text.push_str(&t.replace('\n', "\n  "));
            text.push_str("\n}");
        }
    }
    Ok(escape::json(text))
}

/// Counts serialized bytes without keeping them.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn json_size<T: Serialize>(v: &T) -> usize {
    let mut c = Counter(0);
    // Serializing plain model types cannot fail; a failure counts as huge.
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        Err(_) => usize::MAX,
    }
}

/// Builds the capped copy, copying only what is kept.
struct Capper<'l> {
    limits: &'l JsonLimits,
    left: usize,
    t: Truncation,
}

impl Capper<'_> {
    fn clip(&mut self, s: &str, max: usize) -> String {
        if s.len() > max {
            self.t.strings_clipped += 1;
        }
        crate::view::clip(s, max)
    }
    fn name(&mut self, s: &str) -> String {
        self.clip(s, self.limits.name)
    }
    fn text(&mut self, s: &str) -> String {
        self.clip(s, self.limits.text)
    }
    fn opt_name(&mut self, s: &Option<String>) -> Option<String> {
        s.as_deref().map(|s| self.name(s))
    }
    fn obj(&mut self, o: &ObjectRef) -> ObjectRef {
        ObjectRef {
            kind: self.name(&o.kind),
            namespace: self.opt_name(&o.namespace),
            name: self.name(&o.name),
        }
    }
    fn omit(&mut self, key: &'static str, n: usize) {
        if n > 0 {
            *self.t.omitted.entry(key).or_insert(0) += n;
        }
    }
    /// The first `max` items mapped by `f`, the rest counted under `key`.
    fn nested<T, U>(
        &mut self,
        key: &'static str,
        items: &[T],
        max: usize,
        mut f: impl FnMut(&mut Self, &T) -> U,
    ) -> Vec<U> {
        self.omit(key, items.len().saturating_sub(max));
        items.iter().take(max).map(|x| f(self, x)).collect()
    }
    fn names(&mut self, key: &'static str, items: &[String]) -> Vec<String> {
        self.nested(key, items, self.limits.refs, |c, s| c.name(s))
    }
    fn objs(&mut self, key: &'static str, items: &[ObjectRef]) -> Vec<ObjectRef> {
        self.nested(key, items, self.limits.refs, |c, o| c.obj(o))
    }
    /// Maps items in order while they fit in `share` bytes of the budget;
    /// the rest are counted under `key`.
    fn budgeted<'a, T: 'a, U: Serialize>(
        &mut self,
        key: &'static str,
        items: impl ExactSizeIterator<Item = &'a T>,
        share: usize,
        mut f: impl FnMut(&mut Self, &T) -> U,
    ) -> Vec<U> {
        let total = items.len();
        let mut budget = share.min(self.left);
        let mut out = Vec::new();
        for item in items {
            let mapped = f(self, item);
            // One byte for the separating comma.
            let size = json_size(&mapped).saturating_add(1);
            if size > budget {
                break;
            }
            budget -= size;
            self.left -= size;
            out.push(mapped);
        }
        self.omit(key, total - out.len());
        out
    }

    fn evidence(&mut self, e: &Evidence) -> Evidence {
        match e {
            Evidence::Event {
                object,
                event_type,
                reason,
                message,
                count,
                first_seen,
                last_seen,
            } => Evidence::Event {
                object: self.obj(object),
                event_type: self.name(event_type),
                reason: self.name(reason),
                message: self.text(message),
                count: *count,
                first_seen: *first_seen,
                last_seen: *last_seen,
            },
            Evidence::Log { file, lines } => {
                // The lines leading up to a crash matter most: keep the last.
                let skip = lines.len().saturating_sub(self.limits.log_lines);
                self.omit("findings[].evidence[].lines", skip);
                Evidence::Log {
                    file: self.name(file),
                    lines: lines
                        .iter()
                        .skip(skip)
                        .map(|l| LogLine {
                            number: l.number,
                            text: self.text(&l.text),
                        })
                        .collect(),
                }
            }
            Evidence::Field {
                object,
                path,
                value,
            } => Evidence::Field {
                object: self.obj(object),
                path: self.name(path),
                value: self.text(value),
            },
            Evidence::Metric {
                name,
                value,
                compared_to,
            } => Evidence::Metric {
                name: self.name(name),
                value: self.name(value),
                compared_to: self.opt_name(compared_to),
            },
            Evidence::Note { text } => Evidence::Note {
                text: self.text(text),
            },
        }
    }

    fn finding(&mut self, f: &Finding) -> Finding {
        let l = self.limits;
        Finding {
            id: self.name(&f.id),
            rule: self.name(&f.rule),
            layer: f.layer,
            severity: f.severity,
            object: self.obj(&f.object),
            application: self.opt_name(&f.application),
            symptom: self.text(&f.symptom),
            cause: self.text(&f.cause),
            evidence: self.nested("findings[].evidence", &f.evidence, l.evidence, |c, e| {
                c.evidence(e)
            }),
            next_steps: self.nested(
                "findings[].next_steps",
                &f.next_steps,
                l.next_steps,
                |c, s| NextStep {
                    description: c.text(&s.description),
                    command: c.text(&s.command),
                },
            ),
            caused_by: self.names("findings[].caused_by", &f.caused_by),
            related: self.objs("findings[].related", &f.related),
        }
    }

    fn incident(&mut self, i: &Incident) -> Incident {
        Incident {
            root: self.name(&i.root),
            severity: i.severity,
            title: self.text(&i.title),
            consequences: self.names("incidents[].consequences", &i.consequences),
            same_cause: self.names("incidents[].same_cause", &i.same_cause),
        }
    }

    fn application(&mut self, a: &Application) -> Application {
        Application {
            key: self.name(&a.key),
            namespace: self.name(&a.namespace),
            name: self.name(&a.name),
            workload: a.workload.as_ref().map(|w| self.obj(w)),
            chain: a
                .chain
                .iter()
                .map(|l| ChainLink {
                    layer: l.layer,
                    objects: self.objs("applications[].chain[].objects", &l.objects),
                    state: l.state,
                    summary: self.text(&l.summary),
                    findings: self.names("applications[].chain[].findings", &l.findings),
                })
                .collect(),
            first_broken: a.first_broken,
            root_causes: self.names("applications[].root_causes", &a.root_causes),
            severity: a.severity,
        }
    }

    fn node(&mut self, n: &NodeSummary) -> NodeSummary {
        NodeSummary {
            name: self.name(&n.name),
            status: self.name(&n.status),
            problems: self.nested("nodes[].problems", &n.problems, self.limits.refs, |c, p| {
                c.text(p)
            }),
            pods: n.pods,
            allocation: self.nested(
                "nodes[].allocation",
                &n.allocation,
                self.limits.refs,
                |c, a| ResourceAllocation {
                    resource: c.name(&a.resource),
                    allocatable: c.name(&a.allocatable),
                    requests: c.name(&a.requests),
                    requests_percent: a.requests_percent,
                    limits: c.name(&a.limits),
                    limits_percent: a.limits_percent,
                    usage: c.opt_name(&a.usage),
                    usage_percent: a.usage_percent,
                },
            ),
        }
    }

    fn timeline_entry(&mut self, e: &TimelineEntry) -> TimelineEntry {
        TimelineEntry {
            time: e.time,
            source: self.name(&e.source),
            object: e.object.as_ref().map(|o| self.obj(o)),
            event_type: self.name(&e.event_type),
            reason: self.name(&e.reason),
            message: self.text(&e.message),
            count: e.count,
            object_deleted: e.object_deleted,
        }
    }

    fn remark(&mut self, r: &kpm_model::RemarkGroup) -> kpm_model::RemarkGroup {
        kpm_model::RemarkGroup {
            rule: self.name(&r.rule),
            summary: self.text(&r.summary),
            namespaces: self.names("system_remarks[].namespaces", &r.namespaces),
            reasons: self.names("system_remarks[].reasons", &r.reasons),
            ..r.clone()
        }
    }

    fn bundle(&mut self, b: &kpm_model::BundleInfo) -> kpm_model::BundleInfo {
        let mut bundle = b.clone();
        bundle.path = self.name(&b.path);
        bundle.sha256 = self.opt_name(&b.sha256);
        bundle.collected_by = self.name(&b.collected_by);
        bundle.cluster = self.opt_name(&b.cluster);
        bundle.context = self.opt_name(&b.context);
        bundle.server_version = self.opt_name(&b.server_version);
        bundle.namespaces = self.names("bundle.namespaces", &b.namespaces);
        bundle
    }

    fn collection(&mut self, col: &kpm_model::CollectionSummary) -> kpm_model::CollectionSummary {
        let failed_steps = self.budgeted(
            "collection.failed_steps",
            col.failed_steps.iter(),
            usize::MAX,
            |c, s| FailedStep {
                what: c.name(&s.what),
                namespace: c.opt_name(&s.namespace),
                object: c.opt_name(&s.object),
                outcome: c.name(&s.outcome),
                message: s.message.as_deref().map(|m| c.text(m)),
            },
        );
        let keys: Vec<(&String, &u64)> = col.redaction.iter().collect();
        let redaction: BTreeMap<String, u64> = self
            .nested(
                "collection.redaction",
                &keys,
                self.limits.refs,
                |c, (k, v)| (c.name(k), **v),
            )
            .into_iter()
            .collect();
        kpm_model::CollectionSummary {
            steps_total: col.steps_total,
            failed_steps,
            redaction,
            redaction_enabled: col.redaction_enabled,
        }
    }

    fn muted(&mut self, m: &kpm_model::MutedEntry) -> kpm_model::MutedEntry {
        kpm_model::MutedEntry {
            file: self.name(&m.file),
            description: self.text(&m.description),
            action: self.name(&m.action),
            reason: self.text(&m.reason),
            findings: self.names("muted[].findings", &m.findings),
            ..m.clone()
        }
    }
}

/// The capped copy of `report` and what was left out.
fn cap(report: &Report, limits: &JsonLimits) -> (Report, Truncation) {
    let mut c = Capper {
        limits,
        left: limits.max_bytes,
        t: Truncation {
            max_bytes: limits.max_bytes,
            ..Truncation::default()
        },
    };
    let bundle = c.bundle(&report.bundle);
    let kpm_version = c.name(&report.kpm_version);
    c.left = c.left.saturating_sub(json_size(&bundle));

    // Findings may use half the budget, so the incidents and sections after
    // them always keep room; every later list takes what it needs of the rest.
    let half = c.left / 2;
    let findings = c.budgeted("findings", report.findings.iter(), half, Capper::finding);
    let all = usize::MAX;
    let incidents = c.budgeted("incidents", report.incidents.iter(), all, Capper::incident);
    let applications = c.budgeted(
        "applications",
        report.applications.iter(),
        all,
        Capper::application,
    );
    let coverage = c.budgeted("coverage", report.coverage.iter(), all, |c, g| {
        CoverageGap {
            check: c.name(&g.check),
            namespace: c.opt_name(&g.namespace),
            reason: c.text(&g.reason),
        }
    });
    let damage = c.budgeted("damage", report.damage.iter(), all, |c, d| Damage {
        file: c.name(&d.file),
        problem: c.text(&d.problem),
    });
    let collection = c.collection(&report.collection);
    let nodes = c.budgeted("nodes", report.nodes.iter(), all, Capper::node);
    let top_pods = c.budgeted("top_pods", report.top_pods.iter(), all, |c, p| PodUsage {
        pod: c.obj(&p.pod),
        ..p.clone()
    });
    // The most recent entries are the ones closest to the failure.
    let mut timeline = c.budgeted(
        "timeline",
        report.timeline.iter().rev(),
        all,
        Capper::timeline_entry,
    );
    timeline.reverse();
    let system_remarks = report.system_remarks.iter().map(|r| c.remark(r)).collect();
    let muted = report.muted.iter().map(|m| c.muted(m)).collect();
    let capped = Report {
        schema_version: report.schema_version,
        kpm_version,
        bundle,
        summary: report.summary.clone(),
        applications,
        incidents,
        findings,
        timeline,
        nodes,
        top_pods,
        coverage,
        collection,
        damage,
        system_remarks,
        muted,
    };
    (capped, c.t)
}
