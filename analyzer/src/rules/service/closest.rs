//! "Which pods did this selector mean?" — for a Service whose selector
//! matches nothing, find the pods whose labels come closest and say exactly
//! which label differs and by how much (a typo is one or two characters).
//!
//! Candidates come from the label index (pods carrying at least one of the
//! selector's keys), so the search is linear in those pods, never in every
//! pod times every Service.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::Pod;

use crate::context::NamespaceCtx;

/// How one selector entry compares with a pod's labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LabelDiff {
    /// The pod has the key with another value.
    Value {
        /// Label key.
        key: String,
        /// What the selector wants.
        wanted: String,
        /// What the pod carries.
        found: String,
        /// Levenshtein distance between the two values.
        distance: usize,
    },
    /// The pod lacks the key; `same_value_under` names a key of the pod that
    /// carries the wanted value (e.g. selector `app=web`, pod `name=web`).
    Missing {
        /// Label key.
        key: String,
        /// What the selector wants.
        wanted: String,
        /// A pod key holding the wanted value, if any.
        same_value_under: Option<String>,
    },
}

impl LabelDiff {
    /// Human text: `app=payments-api (1 character differs)`.
    pub fn describe(&self) -> String {
        match self {
            LabelDiff::Value {
                key,
                found,
                distance,
                ..
            } => {
                let unit = if *distance == 1 {
                    "character"
                } else {
                    "characters"
                };
                format!("{key}={found} ({distance} {unit} differs)")
                    .replace("characters differs", "characters differ")
            }
            LabelDiff::Missing {
                key,
                wanted,
                same_value_under: Some(other),
            } => format!("{other}={wanted} instead of {key}={wanted} (label key differs)"),
            LabelDiff::Missing { key, .. } => format!("no {key} label"),
        }
    }

    fn cost(&self) -> usize {
        match self {
            LabelDiff::Value { distance, .. } => *distance,
            LabelDiff::Missing {
                same_value_under: Some(_),
                ..
            } => 1,
            LabelDiff::Missing { wanted, .. } => wanted.len().max(1) + 1,
        }
    }
}

/// The pods closest to matching a selector, with how they differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Closest<'a> {
    /// Pods sharing the same (smallest) difference.
    pub pods: Vec<&'a Pod>,
    /// Selector entries they do not satisfy.
    pub diffs: Vec<LabelDiff>,
    /// Selector entries they do satisfy.
    pub matching: Vec<String>,
}

/// Edit distance in characters, counting a swap of two adjacent characters
/// as one edit (optimal string alignment), because `paymnets` for
/// `payments` is one typo, not two.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // Rows i-2, i-1 and i of the DP table.
    let mut rows = vec![vec![0usize; width]; 3];
    for (j, cell) in rows[1].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let (older, rest) = rows.split_at_mut(1);
        let (prev, cur) = rest.split_at_mut(1);
        let (older, prev, cur) = (&older[0], &prev[0], &mut cur[0]);
        cur[0] = i;
        for j in 1..width {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j - 1] + cost).min(prev[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(older[j - 2] + 1);
            }
            cur[j] = d;
        }
        rows.rotate_left(1);
    }
    rows[1][b.len()]
}

/// Compares a selector with one pod's labels.
pub fn diff_labels(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> (Vec<LabelDiff>, Vec<String>) {
    let mut diffs = Vec::new();
    let mut matching = Vec::new();
    for (key, wanted) in selector {
        match labels.get(key) {
            Some(found) if found == wanted => matching.push(format!("{key}={wanted}")),
            Some(found) => diffs.push(LabelDiff::Value {
                key: key.clone(),
                wanted: wanted.clone(),
                found: found.clone(),
                distance: edit_distance(wanted, found),
            }),
            None => diffs.push(LabelDiff::Missing {
                key: key.clone(),
                wanted: wanted.clone(),
                same_value_under: labels
                    .iter()
                    .find(|(_, v)| *v == wanted)
                    .map(|(k, _)| k.clone()),
            }),
        }
    }
    (diffs, matching)
}

/// Finds the closest pods to `selector` among the namespace's pods that
/// carry at least one of its keys; falls back to pods carrying one of its
/// values under another key. `None` when no pod is even close.
pub fn closest_pods<'a>(
    ctx: &NamespaceCtx<'a>,
    selector: &BTreeMap<String, String>,
) -> Option<Closest<'a>> {
    let mut seen: HashSet<*const Pod> = HashSet::new();
    let mut candidates: Vec<&'a Pod> = Vec::new();
    for key in selector.keys() {
        for (_, pods) in ctx.pods_with_label(key) {
            for pod in pods {
                if seen.insert(pod as *const Pod) {
                    candidates.push(pod);
                }
            }
        }
    }
    if candidates.is_empty() {
        // No pod carries any selector key: look for the wanted values under
        // other keys (a renamed label). One pass over the namespace, done only
        // for a Service already known to be broken.
        let wanted: HashSet<&str> = selector.values().map(String::as_str).collect();
        candidates = ctx
            .ns
            .pods
            .iter()
            .filter(|p| {
                p.metadata
                    .labels
                    .iter()
                    .flatten()
                    .any(|(_, v)| wanted.contains(v.as_str()))
            })
            .collect();
    }
    let empty = BTreeMap::new();
    let mut best: Option<(usize, usize, Closest<'a>)> = None;
    for pod in candidates {
        let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
        let (diffs, matching) = diff_labels(selector, labels);
        let cost: usize = diffs.iter().map(LabelDiff::cost).sum();
        let key = (diffs.len(), cost);
        match &mut best {
            Some((n, c, group)) if (*n, *c) == key && group.diffs == diffs => group.pods.push(pod),
            Some((n, c, _)) if (*n, *c) <= key => {}
            _ => {
                best = Some((
                    key.0,
                    key.1,
                    Closest {
                        pods: vec![pod],
                        diffs,
                        matching,
                    },
                ))
            }
        }
    }
    best.map(|(_, _, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("paymnets-api", "payments-api"), 1);
        assert_eq!(edit_distance("payments-api", "payments-apl"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("web", "web"), 0);
        assert_eq!(edit_distance("frontend", "front-end"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn diff_reports_value_and_key_differences() {
        let sel = labels(&[("app", "payments-ap"), ("tier", "backend")]);
        let pod = labels(&[
            ("app", "payments-api"),
            ("pod-template-hash", "7c9d8f6b5"),
            ("tier", "backend"),
        ]);
        let (diffs, matching) = diff_labels(&sel, &pod);
        assert_eq!(matching, vec!["tier=backend".to_string()]);
        assert_eq!(diffs.len(), 1);
        assert_eq!(
            diffs[0].describe(),
            "app=payments-api (1 character differs)"
        );

        let renamed = labels(&[("app.kubernetes.io/name", "web")]);
        let (diffs, _) = diff_labels(&labels(&[("app", "web")]), &renamed);
        assert_eq!(
            diffs[0].describe(),
            "app.kubernetes.io/name=web instead of app=web (label key differs)"
        );
        let (diffs, _) = diff_labels(&labels(&[("app", "web")]), &labels(&[("team", "x")]));
        assert_eq!(diffs[0].describe(), "no app label");
    }

    #[test]
    fn plural_characters_read_right() {
        let d = LabelDiff::Value {
            key: "app".into(),
            wanted: "paymnets-api".into(),
            found: "payments-api".into(),
            distance: 2,
        };
        assert_eq!(d.describe(), "app=payments-api (2 characters differ)");
    }
}
