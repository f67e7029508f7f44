//! `labelSelector` and `fieldSelector` query parameters: parsing and matching.
//!
//! These are the string forms of the URL (`app=web,tier in (a,b),!canary`),
//! parsed with the API server's grammar. Field selectors only accept the
//! field labels the API server supports for each kind (see [`supported_field`]);
//! anything else is refused with the server's `field label not supported`
//! message, so a selector that would fail on a cluster fails here too.

use std::collections::BTreeMap;

use kpm_semantics::selector::{parse_selector, Selector};

use crate::errors::ApiError;

/// A parsed `labelSelector` (grammar and matching from
/// `kpm_semantics::selector`, the workspace's one implementation of
/// `labels.Parse`); empty matches everything.
#[derive(Debug, Clone, Default)]
pub struct LabelSelector(pub Selector);

impl LabelSelector {
    /// Parses the `labelSelector` string; a syntax error is a 400 as on the
    /// API server.
    pub fn parse(s: &str) -> Result<LabelSelector, ApiError> {
        parse_selector(s)
            .map(LabelSelector)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.matches(labels)
    }
}

/// One field requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldReq {
    /// Field label, e.g. `spec.nodeName`.
    pub field: String,
    /// The value compared with.
    pub value: String,
    /// `!=` rather than `=`/`==`.
    pub negated: bool,
}

/// A parsed field selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldReq>);

/// Splits on unescaped commas and unescapes `\,`, `\=`, `\\` in values, as
/// the API server's field selector parser does.
fn split_escaped(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                // Keep the escape so operators inside values are not split on.
                cur.push('\\');
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Finds the first unescaped occurrence of the ASCII operator `op` in `s`.
/// Compares bytes, never slices the string: the index after an escape can
/// fall inside a multi-byte character. The index returned is that of an
/// ASCII byte, so it is a character boundary.
fn find_unescaped(s: &str, op: &str) -> Option<usize> {
    let (bytes, op) = (s.as_bytes(), op.as_bytes());
    let mut i = 0;
    while let Some(rest) = bytes.get(i..) {
        if rest.first() == Some(&b'\\') {
            i += 2;
            continue;
        }
        if rest.is_empty() {
            break;
        }
        if rest.starts_with(op) {
            return Some(i);
        }
        i += 1;
    }
    None
}

impl FieldSelector {
    /// Parses the `fieldSelector` string.
    pub fn parse(s: &str) -> Result<FieldSelector, ApiError> {
        let mut reqs = Vec::new();
        for part in split_escaped(s) {
            if part.trim().is_empty() {
                continue;
            }
            let split = |i: usize, len: usize| Some((part.get(..i)?, part.get(i + len..)?));
            let found = [("!=", true), ("==", false), ("=", false)]
                .into_iter()
                .find_map(|(op, negated)| {
                    let (f, v) = split(find_unescaped(&part, op)?, op.len())?;
                    Some((f, v, negated))
                });
            let (field, value, negated) = if let Some(found) = found {
                found
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            reqs.push(FieldReq {
                field: field.trim().to_string(),
                value: unescape(value),
                negated,
            });
        }
        Ok(FieldSelector(reqs))
    }

    /// Checks every field label is supported for `plural`, with the API
    /// server's error text otherwise.
    pub fn validate(&self, plural: &str) -> Result<(), ApiError> {
        match self.0.iter().find(|r| !supported_field(plural, &r.field)) {
            Some(r) => Err(ApiError::bad_request(unsupported_message(plural, &r.field))),
            None => Ok(()),
        }
    }

    /// Whether an object is selected; `value_of` returns the object's value
    /// of a field label (empty string when unset, as the server compares).
    pub fn matches(&self, value_of: impl Fn(&str) -> String) -> bool {
        self.0
            .iter()
            .all(|r| (value_of(&r.field) == r.value) != r.negated)
    }

    /// The value required for `field` by an `=` requirement, used to answer
    /// `spec.nodeName=X` from the node index instead of a scan.
    pub fn required(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|r| r.field == field && !r.negated)
            .map(|r| r.value.as_str())
    }
}

/// Field labels the API server accepts per resource (its `fieldSelector`
/// conversion functions), beyond `metadata.name` and `metadata.namespace`
/// which every resource accepts.
pub fn kind_fields(plural: &str) -> &'static [&'static str] {
    match plural {
        "pods" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "events" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "secrets" => &["type"],
        "services" => &["spec.clusterIP", "spec.type"],
        "nodes" => &["spec.unschedulable"],
        "namespaces" => &["status.phase"],
        "jobs" => &["status.successful"],
        // Every other kind has the default conversion: metadata only
        // (apps/v1 registers no field labels of its own).
        _ => &[],
    }
}

/// Whether `field` may be used in a field selector on `plural`. Nodes and
/// Namespaces accept `metadata.name` but not `metadata.namespace`.
pub fn supported_field(plural: &str, field: &str) -> bool {
    field == "metadata.name"
        || (field == "metadata.namespace" && !matches!(plural, "nodes" | "namespaces"))
        || kind_fields(plural).contains(&field)
}

/// The API server's refusal of an unsupported field label, in the words of
/// the conversion function of the kind: `pkg/apis/core/v1/conversion.go`
/// for the core kinds that have one, `pkg/apis/batch/v1/conversion.go` for
/// Jobs, `runtime.DefaultMetaV1FieldSelectorConversion` for the rest.
pub fn unsupported_message(plural: &str, field: &str) -> String {
    match plural {
        "pods" | "nodes" | "events" | "namespaces" | "secrets" | "services" => {
            format!("field label not supported: {field}")
        }
        "jobs" => format!("field label {field:?} not supported for batchv1.Job"),
        _ => format!(
            "{field:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        ),
    }
}

/// The value of a field label in an object, rendered the way the API server
/// compares it (booleans and numbers as text, missing as empty).
pub fn field_value(obj: &serde_json::Value, field: &str) -> String {
    let path: Vec<&str> = match field {
        // `source` on events is the reporting component name.
        "source" => vec!["source", "component"],
        other => other.split('.').collect(),
    };
    let mut cur = obj;
    for seg in path {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => {
                // The server renders unset booleans as "false".
                return if field == "spec.hostNetwork" || field == "spec.unschedulable" {
                    "false".to_string()
                } else {
                    String::new()
                };
            }
        }
    }
    match cur {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
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
    fn label_selector_grammar() {
        let l = labels(&[
            ("app", "web"),
            ("tier", "frontend"),
            ("pod-template-hash", "7c9d8f"),
        ]);
        let sel = |s: &str| LabelSelector::parse(s).unwrap().matches(&l);
        assert!(sel("app=web"));
        assert!(sel("app==web,tier"));
        assert!(!sel("app!=web"));
        assert!(sel("app in (web, api),tier notin (db)"));
        assert!(!sel("app notin (web)"));
        assert!(sel("!canary"));
        assert!(!sel("!tier"));
        assert!(sel("canary!=true"));
        assert!(sel(""));
        assert!(LabelSelector::parse("app in web").is_err());
    }

    #[test]
    fn field_selector_as_kubectl_describe_node_sends_it() {
        let sel = FieldSelector::parse(
            "spec.nodeName=worker-1,status.phase!=Failed,status.phase!=Succeeded",
        )
        .unwrap();
        assert!(sel.validate("pods").is_ok());
        assert_eq!(sel.required("spec.nodeName"), Some("worker-1"));
        let pod =
            serde_json::json!({"spec": {"nodeName": "worker-1"}, "status": {"phase": "Running"}});
        assert!(sel.matches(|f| field_value(&pod, f)));
        let done =
            serde_json::json!({"spec": {"nodeName": "worker-1"}, "status": {"phase": "Succeeded"}});
        assert!(!sel.matches(|f| field_value(&done, f)));
    }

    #[test]
    fn event_fields_and_unsupported_labels() {
        let sel = FieldSelector::parse("involvedObject.name=web-1,involvedObject.namespace=shop,involvedObject.kind=Pod,involvedObject.uid=0c9a").unwrap();
        assert!(sel.validate("events").is_ok());
        let ev = serde_json::json!({"involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop", "uid": "0c9a"}, "reason": "BackOff"});
        assert!(sel.matches(|f| field_value(&ev, f)));
        let err = FieldSelector::parse("spec.foo=bar")
            .unwrap()
            .validate("pods")
            .unwrap_err();
        assert_eq!(err.message, "field label not supported: spec.foo");
        assert!(FieldSelector::parse("spec.nodeName").is_err());
        let esc = FieldSelector::parse(r"metadata.name=a\,b").unwrap();
        assert_eq!(esc.0[0].value, "a,b");
        // An empty value selects objects without the field, as `involvedObject.namespace=` for nodes.
        let node_ev = serde_json::json!({"involvedObject": {"kind": "Node", "name": "n1"}});
        // Non-ASCII around escapes and operators: parsed or refused, never a
        // panic.
        let odd = FieldSelector::parse(r"metadata.name=\é,spec.nodeName!=ü").unwrap();
        assert_eq!(odd.0[0].value, "é");
        assert_eq!(odd.0[1].value, "ü");
        assert!(odd.0[1].negated);
        assert!(FieldSelector::parse("involvedObject.namespace=")
            .unwrap()
            .matches(|f| field_value(&node_ev, f)));
    }

    #[test]
    fn hostile_selectors_answer_400_or_parse_never_panic() {
        let pieces = [
            "é",
            "\\",
            "=",
            "!=",
            "==",
            "!",
            ",",
            "(",
            ")",
            " in ",
            " notin ",
            "a",
            "ü\\",
            "\u{1b}[2J",
            "\u{0}",
            "💥",
            "x.y/z",
            ">",
            "<",
            " ",
            "\u{301}",
        ];
        // Every sequence of up to three pieces, each as label and field
        // selector.
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let s = format!("{a}{b}{c}");
                    if let Err(e) = LabelSelector::parse(&s) {
                        assert_eq!(e.code, 400, "{s:?}");
                    }
                    match FieldSelector::parse(&s) {
                        Ok(f) => {
                            let _ = f.validate("pods");
                        }
                        Err(e) => assert_eq!(e.code, 400, "{s:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn unsupported_labels_are_refused_in_each_kinds_words() {
        let err = |plural: &str, sel: &str| {
            FieldSelector::parse(sel)
                .unwrap()
                .validate(plural)
                .unwrap_err()
                .message
        };
        assert_eq!(
            err("nodes", "metadata.namespace=x"),
            "field label not supported: metadata.namespace"
        );
        assert_eq!(
            err("namespaces", "spec.x=y"),
            "field label not supported: spec.x"
        );
        assert_eq!(
            err("jobs", "status.succeeded=1"),
            "field label \"status.succeeded\" not supported for batchv1.Job"
        );
        assert_eq!(
            err("deployments", "status.replicas=1"),
            "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        for (plural, sel) in [
            ("services", "spec.type=ClusterIP,spec.clusterIP=None"),
            ("secrets", "type=Opaque"),
            ("nodes", "spec.unschedulable=true,metadata.name=n1"),
            ("persistentvolumes", "metadata.namespace="),
            ("jobs", "status.successful=1"),
            ("namespaces", "status.phase=Active"),
        ] {
            assert!(
                FieldSelector::parse(sel).unwrap().validate(plural).is_ok(),
                "{plural} {sel}"
            );
        }
    }
}
