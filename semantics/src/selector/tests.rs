//! Unit tests for `selector`.

use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod_labels() -> BTreeMap<String, String> {
    labels(&[
        ("app.kubernetes.io/name", "checkout"),
        ("pod-template-hash", "7d4b9c8f6d"),
        ("tier", "backend"),
        ("release", "3"),
    ])
}

#[test]
fn service_selector_needs_all_pairs_and_is_never_empty() {
    let sel = labels(&[("app.kubernetes.io/name", "checkout"), ("tier", "backend")]);
    assert!(matches_labels(&sel, &pod_labels()));
    let typo = labels(&[("app.kubernetes.io/name", "chekout")]);
    assert!(!matches_labels(&typo, &pod_labels()));
    assert!(!matches_labels(&BTreeMap::new(), &pod_labels()));
    assert!(matches_set(&BTreeMap::new(), &pod_labels()));
}

#[test]
fn label_selector_with_expressions() {
    let sel = LabelSelector {
        match_labels: Some(labels(&[("app.kubernetes.io/name", "checkout")])),
        match_expressions: Some(vec![
            LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["backend".into(), "worker".into()]),
            },
            LabelSelectorRequirement {
                key: "canary".into(),
                operator: "DoesNotExist".into(),
                values: None,
            },
            LabelSelectorRequirement {
                key: "pod-template-hash".into(),
                operator: "Exists".into(),
                values: None,
            },
            LabelSelectorRequirement {
                key: "env".into(),
                operator: "NotIn".into(),
                values: Some(vec!["dev".into()]),
            },
        ]),
    };
    assert!(matches_label_selector(&sel, &pod_labels()));
    let mut other = pod_labels();
    other.insert("canary".into(), "true".into());
    assert!(!matches_label_selector(&sel, &other));
    let mut dev = pod_labels();
    dev.insert("env".into(), "dev".into());
    assert!(!matches_label_selector(&sel, &dev));
}

#[test]
fn empty_label_selector_matches_everything_invalid_nothing() {
    assert!(matches_label_selector(
        &LabelSelector::default(),
        &pod_labels()
    ));
    let bad = LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "tier".into(),
            operator: "Equals".into(),
            values: Some(vec!["backend".into()]),
        }]),
        ..Default::default()
    };
    assert!(!matches_label_selector(&bad, &pod_labels()));
    let empty_in = LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "tier".into(),
            operator: "In".into(),
            values: Some(vec![]),
        }]),
        ..Default::default()
    };
    assert!(!matches_label_selector(&empty_in, &pod_labels()));
}

#[test]
fn parses_every_operator() {
    let l = pod_labels();
    let yes = [
        "",
        "tier=backend",
        "tier==backend",
        "tier!=frontend",
        "missing!=x",
        "tier in (frontend, backend)",
        "tier notin (frontend)",
        "missing notin (x)",
        "tier",
        "!canary",
        "release>2",
        "release<4",
        "app.kubernetes.io/name=checkout,tier=backend",
        "  tier = backend ,  !canary ",
    ];
    for s in yes {
        assert!(parse_selector(s).unwrap().matches(&l), "{s} should match");
    }
    let no = [
        "tier=frontend",
        "tier!=backend",
        "tier in (frontend)",
        "tier notin (backend,x)",
        "canary",
        "!tier",
        "release>3",
        "tier>1",
        "missing in (x)",
        "tier=backend,canary",
    ];
    for s in no {
        assert!(
            !parse_selector(s).unwrap().matches(&l),
            "{s} should not match"
        );
    }
}

#[test]
fn empty_values() {
    let sel = parse_selector("tier=").unwrap();
    assert!(sel.matches(&labels(&[("tier", "")])));
    assert!(!sel.matches(&pod_labels()));
    let sel = parse_selector("tier in (backend,)").unwrap();
    assert!(sel.matches(&labels(&[("tier", "")])));
    assert!(sel.matches(&pod_labels()));
}

#[test]
fn rejects_bad_syntax_and_names() {
    for s in [
        "tier=backend,",
        ",tier",
        "tier in backend",
        "tier in (a",
        "tier=(a)",
        "tier>abc",
        "tier=a=b",
        "-tier=backend",
        "tier=-bad",
        "Example.com/tier=x",
        "!",
        "tier in (a b)",
        "in=x",
        "notin",
    ] {
        assert!(parse_selector(s).is_err(), "{s} should be rejected");
    }
}

#[test]
fn displays_sorted_requirements() {
    let sel = parse_selector("tier in (b,a),app=web,!canary").unwrap();
    assert_eq!(sel.to_string(), "app=web,!canary,tier in (a,b)");
}

#[test]
fn validates_keys_and_values() {
    assert!(is_qualified_name("app.kubernetes.io/name"));
    assert!(is_qualified_name("a"));
    assert!(!is_qualified_name(""));
    assert!(!is_qualified_name("/name"));
    assert!(!is_qualified_name(&"x".repeat(64)));
    assert!(is_label_value(""));
    assert!(is_label_value("v1.2_3-a"));
    assert!(!is_label_value("-a"));
    assert!(!is_label_value(&"x".repeat(64)));
}

#[test]
fn value_lists_with_empty_items() {
    let sel = parse_selector("tier in (a,,b)").unwrap();
    let values: Vec<_> = sel.requirements()[0].values().iter().cloned().collect();
    assert_eq!(values, ["", "a", "b"]);
    let sel = parse_selector("tier in ()").unwrap();
    assert!(sel.matches(&labels(&[("tier", "")])));
    // Keywords are ordinary values.
    let sel = parse_selector("mode in (in,notin)").unwrap();
    assert!(sel.matches(&labels(&[("mode", "notin")])));
}
