//! `kpm_semantics` quantities and label selectors, and serve's field
//! selectors. An input is lines: quantity A, quantity B, a label selector,
//! a field selector, a `metav1.LabelSelector` as JSON, then `key=value`
//! labels to match against.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kpm_semantics::names::{self, NameRule};
use kpm_semantics::quantity::{self, Quantity};
use kpm_semantics::selector::{self, Operator, Requirement};
use kpm_serve::FieldSelector;

use super::Target;
use crate::corpus::{self, Paths};
use crate::mutate::{Mutator, Shape};

/// Suffixes, operators and characters of both grammars.
const DICT: &[&str] = &[
    "Ki",
    "Mi",
    "Gi",
    "Ti",
    "Pi",
    "Ei",
    "n",
    "u",
    "m",
    "k",
    "M",
    "G",
    "T",
    "P",
    "E",
    "e",
    "E+",
    "e-",
    ".",
    "+",
    "-",
    "0.",
    ".5",
    "in",
    "notin",
    " in (",
    ")",
    "(",
    ",",
    "!",
    "=",
    "==",
    "!=",
    ">",
    "<",
    "\\,",
    "\\=",
    "example.com/",
    "app",
    "metadata.name",
    "spec.nodeName",
    "status.phase",
    "involvedObject.name",
];

/// See the module docs.
pub struct SemanticsTarget;

impl Target for SemanticsTarget {
    fn name(&self) -> &'static str {
        "semantics"
    }

    fn mutator(&self) -> Mutator {
        Mutator::new(Shape::Text, DICT, 1 << 20)
    }

    fn seeds(&self, paths: &Paths) -> Vec<Vec<u8>> {
        let mut out = corpus::files_in(&paths.seeds("semantics"));
        // Quantities and selectors as real objects carry them.
        let harvested = harvest(paths);
        for pair in harvested.quantities.chunks(2) {
            let a = &pair[0];
            let b = pair.get(1).unwrap_or(a);
            let sel = harvested
                .selectors
                .get(out.len() % harvested.selectors.len().max(1));
            let sel = sel.cloned().unwrap_or_default();
            out.push(format!("{a}\n{b}\n{sel}\nmetadata.name={a}\n{{}}\n{sel}").into_bytes());
        }
        out
    }

    fn run(&mut self, input: &[u8]) -> bool {
        let text = String::from_utf8_lossy(input);
        let mut lines = text.split('\n');
        let mut next = || lines.next().unwrap_or("");
        let (qa, qb, label, field, json) = (next(), next(), next(), next(), next());
        let labels: BTreeMap<String, String> = lines
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let q = quantities(qa, qb);
        let s = label_selectors(label, json, &labels);
        let f = field_selector(field, &labels);
        q || s || f
    }
}

fn quantities(a: &str, b: &str) -> bool {
    let (Ok(x), y) = (Quantity::parse(a), Quantity::parse(b)) else {
        return false;
    };
    let canonical = x.to_canonical();
    let _ = (x.to_string(), x.millis(), x.value(), x.nanos(), x.is_zero());
    let _ = Quantity::parse(&canonical);
    let _ = serde_json::from_str::<Quantity>(&serde_json::json!(a).to_string());
    if let Ok(y) = y {
        let mut sum = x;
        sum.add(&y);
        let mut diff = x;
        diff.sub(&y);
        let _ = (sum.to_canonical(), diff.to_canonical(), x.cmp(&y));
        let _ = quantity::resource_percent("cpu", &x, &y);
        let _ = quantity::resource_percent("memory", &x, &y);
        let _ = quantity::percent(x.millis(), y.millis());
        let _ = quantity::percent(x.value(), y.value());
    }
    true
}

fn label_selectors(text: &str, json: &str, labels: &BTreeMap<String, String>) -> bool {
    let parsed = selector::parse_selector(text);
    if let Ok(sel) = &parsed {
        let _ = (sel.matches(labels), sel.to_string(), sel.is_empty());
        let _ = selector::parse_selector(&sel.to_string());
    }
    for (k, v) in labels.iter().take(8) {
        let _ = (selector::is_label_value(v), selector::is_qualified_name(k));
        let _ = (names::is_dns1123_label(k), names::is_dns1123_subdomain(v));
        let _ = (
            NameRule::for_resource(k).accepts(v),
            names::is_path_segment_name(v),
        );
        for op in [
            Operator::In,
            Operator::NotIn,
            Operator::GreaterThan,
            Operator::Exists,
        ] {
            let values: Vec<&str> = v.split(',').collect();
            if let Ok(r) = Requirement::new(k, op, values) {
                let _ = (r.matches(labels), r.to_string());
            }
        }
    }
    if let Ok(ls) = serde_json::from_str::<LabelSelector>(json) {
        let _ = selector::matches_label_selector(&ls, labels);
        if let Ok(sel) = selector::Selector::from_label_selector(&ls) {
            let _ = (sel.matches(labels), sel.to_string());
        }
    }
    parsed.is_ok()
}

fn field_selector(text: &str, labels: &BTreeMap<String, String>) -> bool {
    let Ok(sel) = FieldSelector::parse(text) else {
        return false;
    };
    for plural in ["pods", "events", "nodes", "secrets", "namespaces", "x"] {
        let _ = sel.validate(plural);
    }
    let _ = sel.matches(|f| labels.get(f).cloned().unwrap_or_default());
    let _ = sel.required("metadata.name");
    true
}

/// Quantity strings and selectors found in the corpus.
struct Harvest {
    quantities: Vec<String>,
    selectors: Vec<String>,
}

fn harvest(paths: &Paths) -> Harvest {
    let mut h = Harvest {
        quantities: Vec::new(),
        selectors: Vec::new(),
    };
    let dirs = paths
        .scenarios()
        .into_iter()
        .take(4)
        .chain(paths.shared_bundles());
    for dir in dirs {
        let keep = |p: &str| {
            p.ends_with("pods.json") || p.ends_with("nodes.json") || p.ends_with("services.json")
        };
        for (_, bytes) in corpus::json_files(&dir, &keep) {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                collect(&v, None, &mut h);
            }
        }
    }
    h.quantities.sort();
    h.quantities.dedup();
    h.selectors.sort();
    h.selectors.dedup();
    h
}

fn collect(v: &serde_json::Value, key: Option<&str>, h: &mut Harvest) {
    use serde_json::Value;
    match v {
        Value::Object(o) => {
            let quantity_map = matches!(
                key,
                Some("requests" | "limits" | "capacity" | "allocatable")
            );
            let label_map = matches!(key, Some("selector" | "matchLabels"));
            if label_map && o.values().all(Value::is_string) {
                let terms: Vec<String> = o
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect();
                h.selectors.push(terms.join(","));
            }
            for (k, child) in o {
                match child {
                    Value::String(s) if quantity_map => h.quantities.push(s.clone()),
                    _ => collect(child, Some(k), h),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect(c, key, h)),
        _ => {}
    }
}
