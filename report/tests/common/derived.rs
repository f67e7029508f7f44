//! Reports derived from the analyzer's: hostile strings everywhere, and the
//! size of a 150,000-pod cluster.

use kpm_model::*;

use super::crashloop;

/// The crashloop report with every string replaced by hostile text.
pub fn hostile() -> Report {
    const EVIL: &str = "<script>alert(1)</script></td>|`x`{{ x }}{% raw %}<img src=x onerror=alert(2)>\n# h\n```\n&amp;";
    let mut r = crashloop();
    r.bundle.cluster = Some(EVIL.into());
    r.bundle.context = Some(EVIL.into());
    r.bundle.path = EVIL.into();
    r.bundle.namespaces.push(EVIL.into());
    for a in &mut r.applications {
        a.key = format!("{EVIL}{}", a.key);
        for l in &mut a.chain {
            l.summary = EVIL.into();
            for o in &mut l.objects {
                o.name = EVIL.into();
            }
        }
    }
    for i in &mut r.incidents {
        i.title = EVIL.into();
    }
    for f in &mut r.findings {
        f.symptom = EVIL.into();
        f.cause = EVIL.into();
        f.object.name = EVIL.into();
        for e in &mut f.evidence {
            match e {
                Evidence::Event {
                    message, reason, ..
                } => {
                    *message = EVIL.into();
                    *reason = EVIL.into();
                }
                Evidence::Log { lines, file } => {
                    *file = EVIL.into();
                    for l in lines {
                        l.text = EVIL.into();
                    }
                }
                Evidence::Field { value, path, .. } => {
                    *value = EVIL.into();
                    *path = EVIL.into();
                }
                Evidence::Metric { name, .. } => *name = EVIL.into(),
                Evidence::Note { text } => *text = EVIL.into(),
            }
        }
        for s in &mut f.next_steps {
            s.command = EVIL.into();
            s.description = EVIL.into();
        }
    }
    for t in &mut r.timeline {
        t.message = EVIL.into();
        t.reason = EVIL.into();
    }
    for n in &mut r.nodes {
        n.problems.push(EVIL.into());
    }
    r.coverage.push(CoverageGap {
        check: EVIL.into(),
        namespace: Some(EVIL.into()),
        reason: EVIL.into(),
    });
    r.damage.push(Damage {
        file: EVIL.into(),
        problem: EVIL.into(),
    });
    r.collection.redaction.insert(EVIL.into(), 1);
    r
}

/// A report the size a 150,000-pod cluster produces: many incidents,
/// consequences, timeline entries and nodes.
pub fn huge() -> Report {
    let base = crashloop();
    let base_root = base
        .findings
        .iter()
        .find(|f| f.caused_by.is_empty())
        .expect("a root cause");
    let base_consequence = base
        .findings
        .iter()
        .find(|f| !f.caused_by.is_empty())
        .expect("a consequence");
    let mut r = base.clone();
    r.findings.clear();
    r.incidents.clear();
    r.applications.clear();
    for i in 0..3000 {
        let mut root = base_root.clone();
        root.id = format!("{}:Pod/ns-{i}/web-{i}", root.rule);
        root.object = ObjectRef::namespaced("Pod", &format!("ns-{i}"), &format!("web-{i}"));
        let mut cons = Vec::new();
        for j in 0..40 {
            let mut c = base_consequence.clone();
            c.id = format!("{}:Service/ns-{i}/svc-{j}", c.rule);
            c.caused_by = vec![root.id.clone()];
            cons.push(c.id.clone());
            r.findings.push(c);
        }
        r.incidents.push(Incident {
            root: root.id.clone(),
            severity: Severity::Critical,
            title: format!("ns-{i}/web: {}", root.symptom),
            consequences: cons,
            same_cause: Vec::new(),
        });
        let mut app = base.applications[0].clone();
        app.key = format!("ns-{i}/web");
        app.namespace = format!("ns-{i}");
        app.root_causes = vec![root.id.clone()];
        r.applications.push(app);
        r.findings.push(root);
    }
    let t = base.timeline[2].clone();
    r.timeline = (0..200_000).map(|_| t.clone()).collect();
    let n = base.nodes[1].clone();
    r.nodes = (0..5000)
        .map(|i| NodeSummary {
            name: format!("node-{i}"),
            ..n.clone()
        })
        .collect();
    r.summary.findings = r.findings.len();
    r.summary.incidents = r.incidents.len();
    r
}
