//! Runs the analysis on every scenario bundle of `testdata/` and compares the
//! findings with `testdata/expected/<scenario>.json`: exactly the expected
//! findings (rule, layer, object, cause substrings, root-cause link), no
//! more, no fewer; findings of severity `info` are ignored unless listed.

use std::path::{Path, PathBuf};

use kpm_analyzer::{analyze, Options};
use kpm_bundle::Bundle;
use kpm_model::{Report, Severity};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Expected {
    scenario: String,
    findings: Vec<ExpectedFinding>,
}

#[derive(Debug, Deserialize)]
struct ExpectedFinding {
    rule: String,
    layer: String,
    object: String,
    #[serde(default)]
    cause_contains: Vec<String>,
    #[serde(default)]
    root_cause: Option<String>,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// Every problem with `report` against `expected`, empty when it matches.
fn compare(report: &Report, expected: &Expected) -> Vec<String> {
    let mut problems = Vec::new();
    for e in &expected.findings {
        let found = report
            .findings
            .iter()
            .find(|f| f.rule == e.rule && f.object.to_string() == e.object);
        let Some(f) = found else {
            problems.push(format!("missing {}:{}", e.rule, e.object));
            continue;
        };
        if f.layer.as_str() != e.layer {
            problems.push(format!(
                "{}: layer {} instead of {}",
                f.id, f.layer, e.layer
            ));
        }
        for s in &e.cause_contains {
            if !f.cause.contains(s.as_str()) {
                problems.push(format!("{}: cause {:?} lacks {:?}", f.id, f.cause, s));
            }
        }
        match &e.root_cause {
            Some(root) if !f.caused_by.contains(root) => {
                problems.push(format!(
                    "{}: caused_by {:?} lacks {root}",
                    f.id, f.caused_by
                ));
            }
            None if !f.caused_by.is_empty() => {
                problems.push(format!(
                    "{}: expected a root cause, but caused_by {:?}",
                    f.id, f.caused_by
                ));
            }
            _ => {}
        }
    }
    for f in &report.findings {
        let listed = expected
            .findings
            .iter()
            .any(|e| e.rule == f.rule && e.object == f.object.to_string());
        if !listed && f.severity > Severity::Info {
            problems.push(format!("unexpected {} ({}): {}", f.id, f.severity, f.cause));
        }
    }
    problems
}

fn scenarios() -> Vec<(String, PathBuf, PathBuf)> {
    let root = testdata();
    let Ok(dir) = std::fs::read_dir(root.join("expected")) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf, PathBuf)> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            let bundle = root.join(&name);
            bundle.is_dir().then_some((name, bundle, p))
        })
        .collect();
    out.sort();
    out
}

/// The report of one `testdata/` scenario with default options; panics
/// when the scenario is missing (its test must fail, not pass unseen).
fn analyze_scenario(name: &str) -> Report {
    let dir = testdata().join(name);
    assert!(dir.is_dir(), "scenario {} is missing", dir.display());
    let bundle = Bundle::open(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    analyze(&bundle, &Options::default())
}

/// Every problem of every scenario, as `(scenario, problem)`.
fn all_problems() -> Vec<(String, String)> {
    let all = scenarios();
    assert!(
        !all.is_empty(),
        "no scenarios under {}",
        testdata().display()
    );
    let mut out = Vec::new();
    for (name, bundle_dir, expected_path) in &all {
        let expected: Expected =
            serde_json::from_str(&std::fs::read_to_string(expected_path).unwrap()).unwrap();
        assert_eq!(&expected.scenario, name, "{}", expected_path.display());
        let bundle = Bundle::open(bundle_dir).unwrap();
        let report = analyze(&bundle, &Options::default());
        for p in compare(&report, &expected) {
            out.push((name.clone(), p));
        }
    }
    out
}

#[test]
fn every_scenario_produces_exactly_its_expected_findings() {
    let failures: Vec<String> = all_problems()
        .into_iter()
        .map(|(name, p)| format!("{name}: {p}"))
        .collect();
    assert!(
        failures.is_empty(),
        "scenario mismatches:\n{}",
        failures.join("\n")
    );
}

#[test]
fn healthy_scenario_has_no_findings_and_full_coverage() {
    let report = analyze_scenario("healthy");
    let serious: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .map(|f| f.id.as_str())
        .collect();
    assert!(serious.is_empty(), "{serious:?}");
    assert!(report.damage.is_empty(), "{:?}", report.damage);
    assert!(report.summary.pods > 0 && report.summary.nodes > 0);
    let broken: Vec<&str> = report
        .applications
        .iter()
        .filter(|a| a.first_broken.is_some())
        .map(|a| a.key.as_str())
        .collect();
    assert!(broken.is_empty(), "{broken:?}");
}

#[test]
fn root_causes_form_incidents_with_consequences() {
    let report = analyze_scenario("crashloop");
    let svc = "service-no-ready-endpoints:Service/shop/checkout";
    let incident = report
        .incidents
        .iter()
        .find(|i| i.consequences.iter().any(|c| c == svc))
        .expect("an incident has the Service as consequence");
    assert!(incident.root.starts_with("pod-crashloop:"));
    let app = report
        .applications
        .iter()
        .find(|a| a.key == "shop/checkout")
        .expect("application shop/checkout");
    assert_eq!(app.first_broken, Some(kpm_model::Layer::Endpoints));
    assert!(app
        .root_causes
        .iter()
        .all(|r| r.starts_with("pod-crashloop:")));
}

/// Node findings carry the node's own events, which the kubelet and the
/// node lifecycle controller record in `default` about an object with no
/// namespace.
#[test]
fn node_findings_carry_the_nodes_events() {
    let report = analyze_scenario("node-pressure");
    let events_of = |rule: &str| -> Vec<(String, String, Option<String>)> {
        let f = report
            .findings
            .iter()
            .find(|f| f.rule == rule)
            .unwrap_or_else(|| panic!("a {rule} finding"));
        f.evidence
            .iter()
            .filter_map(|e| match e {
                kpm_model::Evidence::Event {
                    object,
                    reason,
                    message,
                    ..
                } => {
                    assert_eq!(object.kind, "Node");
                    assert_eq!(object.name, f.object.name, "{rule}: events of its own node");
                    Some((reason.clone(), message.clone(), object.namespace.clone()))
                }
                _ => None,
            })
            .collect()
    };
    let lost = events_of("node-not-ready");
    assert!(
        lost.contains(&(
            "NodeNotReady".to_string(),
            "Node ip-10-0-1-208.ec2.internal status is now: NodeNotReady".to_string(),
            None
        )),
        "{lost:?}"
    );
    let pressured: Vec<String> = events_of("node-pressure")
        .into_iter()
        .map(|(reason, _, _)| reason)
        .collect();
    // The pressure events, in order; background Normal events of the same
    // node (RegisteredNode after a control-plane failover) may come along.
    let pressure: Vec<&str> = pressured
        .iter()
        .map(String::as_str)
        .filter(|r| *r != "RegisteredNode")
        .collect();
    assert_eq!(
        pressure,
        ["NodeHasInsufficientMemory", "EvictionThresholdMet"]
    );
}

/// Every rule of the registry is expected in at least one scenario, so each
/// one is proven end to end (the expectations themselves are checked by
/// [`every_scenario_produces_exactly_its_expected_findings`]); and every
/// expected rule is one the registry knows (no typo hides a rule).
#[test]
fn every_rule_fires_in_some_scenario() {
    use kpm_analyzer::RULES;
    use std::collections::BTreeMap;
    let all = scenarios();
    assert!(
        !all.is_empty(),
        "no scenarios under {}",
        testdata().display()
    );
    let mut fired: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, _, expected_path) in &all {
        let text = std::fs::read_to_string(expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let expected: Expected = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        for f in expected.findings {
            fired.entry(f.rule).or_default().push(name.clone());
        }
    }
    let never: Vec<&str> = RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| !fired.contains_key(*id))
        .collect();
    assert!(
        never.is_empty(),
        "rules expected in no testdata/expected/*.json scenario: {never:?}"
    );
    let unknown: Vec<&String> = fired
        .keys()
        .filter(|id| !RULES.iter().any(|r| r.id == id.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "expected rules the registry does not know: {unknown:?}"
    );
}
