//! Reading `manifest.json` leniently: a field that does not have the
//! format's shape costs that field (or that step, or that file record), not
//! the bundle. Each is reported as [`BundleError::ManifestField`] and a
//! default takes its place. Only JSON that is not JSON at all, a top level
//! that is not an object, or another format version make the manifest
//! unreadable.
//!
//! Steps and file records are parsed one at a time, so a large manifest
//! never exists as one JSON tree.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::{shorten, BundleError};
use crate::manifest::{
    ClusterInfo, Collection, CollectionOptions, CollectionScope, FileRecord, Manifest, Step, Tool,
};

/// The manifest's top level, each section kept raw (sections are small)
/// and the long lists parsed element by element.
#[derive(Default)]
struct Raw {
    format_version: Option<Value>,
    tool: Option<Value>,
    collection: Option<Value>,
    cluster: Option<Value>,
    scope: Option<Value>,
    options: Option<Value>,
    steps: Option<Lenient<Vec<Step>>>,
    redaction: Option<Lenient<BTreeMap<String, u64>>>,
    files: Option<Lenient<BTreeMap<String, FileRecord>>>,
    repeated: Vec<String>,
}

/// A list or map read element by element: good elements kept, bad ones
/// named with their problem.
struct Lenient<T> {
    good: T,
    bad: Vec<(String, String)>,
}

/// Parses a manifest; `Err` only when it is not a JSON object at all. The
/// format version is returned raw: the caller checks it first.
pub(crate) fn parse(
    bytes: &[u8],
) -> serde_json::Result<(Option<Value>, Manifest, Vec<BundleError>)> {
    let raw: Raw = serde_json::from_slice(bytes)?;
    let mut problems = Vec::new();
    for key in &raw.repeated {
        problems.push(field_problem(
            key,
            "appears more than once; the last one is used",
        ));
    }
    let tool = section(raw.tool.as_ref(), "tool", &mut problems);
    let collection = section(raw.collection.as_ref(), "collection", &mut problems);
    let cluster = section(raw.cluster.as_ref(), "cluster", &mut problems);
    let scope = section(raw.scope.as_ref(), "scope", &mut problems);
    let options = section(raw.options.as_ref(), "options", &mut problems);
    let started_at: Option<DateTime<Utc>> = collection.get("startedAt", true, &mut problems);
    let finished_at: Option<DateTime<Utc>> = collection.get("finishedAt", true, &mut problems);
    let manifest = Manifest {
        format_version: 0,
        tool: Tool {
            name: tool.get("name", true, &mut problems).unwrap_or_default(),
            version: tool.get("version", true, &mut problems).unwrap_or_default(),
        },
        collection: Collection {
            // Ages are judged against finishedAt: without it, the start is
            // the closest time the bundle still knows.
            started_at: started_at.or(finished_at).unwrap_or_default(),
            finished_at: finished_at.or(started_at).unwrap_or_default(),
            interrupted: collection.get_or_default("interrupted", &mut problems),
            timed_out: collection.get_or_default("timedOut", &mut problems),
        },
        cluster: ClusterInfo {
            server_version: cluster.get_or_default("serverVersion", &mut problems),
            context: cluster.get_or_default("context", &mut problems),
            name: cluster.get_or_default("name", &mut problems),
        },
        scope: CollectionScope {
            all_namespaces: scope
                .get("allNamespaces", true, &mut problems)
                .unwrap_or_default(),
            namespaces: scope.get_or_default("namespaces", &mut problems),
        },
        options: CollectionOptions {
            log_lines: options.get_or_default("logLines", &mut problems),
            log_bytes: options.get_or_default("logBytes", &mut problems),
            redaction: options
                .get("redaction", true, &mut problems)
                .unwrap_or_default(),
            redact_config_maps: options.get_or_default("redactConfigMaps", &mut problems),
        },
        steps: take(raw.steps, "steps", &mut problems),
        redaction: take(raw.redaction, "redaction", &mut problems),
        files: take(raw.files, "files", &mut problems),
    };
    Ok((raw.format_version, manifest, problems))
}

fn field_problem(field: &str, message: &str) -> BundleError {
    BundleError::ManifestField {
        field: field.to_string(),
        message: shorten(message),
    }
}

fn take<T: Default>(list: Option<Lenient<T>>, name: &str, problems: &mut Vec<BundleError>) -> T {
    let Some(list) = list else {
        return T::default();
    };
    for (at, message) in list.bad {
        problems.push(field_problem(&format!("{name}{at}"), &message));
    }
    list.good
}

/// One object section of the manifest (`tool`, `collection` …).
struct Section<'a> {
    name: &'static str,
    fields: Option<&'a serde_json::Map<String, Value>>,
}

fn section<'a>(
    value: Option<&'a Value>,
    name: &'static str,
    problems: &mut Vec<BundleError>,
) -> Section<'a> {
    let fields = match value {
        Some(Value::Object(map)) => Some(map),
        Some(other) => {
            problems.push(field_problem(
                name,
                &format!("expected an object, found {}", kind_of(other)),
            ));
            None
        }
        None => {
            problems.push(field_problem(name, "missing"));
            None
        }
    };
    Section { name, fields }
}

impl Section<'_> {
    /// The field `key`, or `None` (reported when `required` or malformed).
    fn get<T: DeserializeOwned>(
        &self,
        key: &str,
        required: bool,
        problems: &mut Vec<BundleError>,
    ) -> Option<T> {
        // A missing section was reported once already.
        let fields = self.fields?;
        let path = format!("{}.{key}", self.name);
        match fields.get(key) {
            None => {
                if required {
                    problems.push(field_problem(&path, "missing"));
                }
                None
            }
            Some(v) => match T::deserialize(v) {
                Ok(t) => Some(t),
                Err(e) => {
                    problems.push(field_problem(&path, &e.to_string()));
                    None
                }
            },
        }
    }

    fn get_or_default<T: DeserializeOwned + Default>(
        &self,
        key: &str,
        problems: &mut Vec<BundleError>,
    ) -> T {
        self.get(key, false, problems).unwrap_or_default()
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_map(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a manifest object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut raw = Raw::default();
        while let Some(key) = map.next_key::<String>()? {
            let seen = match key.as_str() {
                "formatVersion" => raw.format_version.replace(map.next_value()?).is_some(),
                "tool" => raw.tool.replace(map.next_value()?).is_some(),
                "collection" => raw.collection.replace(map.next_value()?).is_some(),
                "cluster" => raw.cluster.replace(map.next_value()?).is_some(),
                "scope" => raw.scope.replace(map.next_value()?).is_some(),
                "options" => raw.options.replace(map.next_value()?).is_some(),
                "steps" => raw.steps.replace(map.next_value()?).is_some(),
                "redaction" => raw.redaction.replace(map.next_value()?).is_some(),
                "files" => raw.files.replace(map.next_value()?).is_some(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    false
                }
            };
            if seen {
                raw.repeated.push(shorten(&key));
            }
        }
        Ok(raw)
    }
}

/// Accepts any JSON value: a list of the right kind is read element by
/// element, anything else (null included) is one problem.
macro_rules! not_a {
    ($what:literal, $($method:ident: $ty:ty => $found:literal),*) => {
        $(fn $method<E: serde::de::Error>(self, _: $ty) -> Result<Self::Value, E> {
            Ok(Lenient { good: Default::default(), bad: vec![(String::new(), format!("expected {}, found {}", $what, $found))] })
        })*
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Lenient { good: Default::default(), bad: vec![(String::new(), format!("expected {}, found null", $what))] })
        }
    };
}

struct StepsVisitor;

impl<'de> Deserialize<'de> for Lenient<Vec<Step>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StepsVisitor)
    }
}

impl<'de> Visitor<'de> for StepsVisitor {
    type Value = Lenient<Vec<Step>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of steps")
    }

    not_a!("a list", visit_bool: bool => "a boolean", visit_i64: i64 => "a number",
        visit_u64: u64 => "a number", visit_f64: f64 => "a number", visit_str: &str => "a string");

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Lenient {
            good: Vec::new(),
            bad: vec![(String::new(), "expected a list, found an object".into())],
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Lenient {
            good: Vec::new(),
            bad: Vec::new(),
        };
        let mut i = 0usize;
        while let Some(v) = seq.next_element::<Value>()? {
            match Step::deserialize(v) {
                Ok(step) => out.good.push(step),
                Err(e) => out.bad.push((format!("[{i}]"), e.to_string())),
            }
            i += 1;
        }
        Ok(out)
    }
}

/// A map of records (`files`, `redaction`) read entry by entry.
struct RecordsVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<BTreeMap<String, T>> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RecordsVisitor(std::marker::PhantomData))
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for RecordsVisitor<T> {
    type Value = Lenient<BTreeMap<String, T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    not_a!("an object", visit_bool: bool => "a boolean", visit_i64: i64 => "a number",
        visit_u64: u64 => "a number", visit_f64: f64 => "a number", visit_str: &str => "a string");

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Lenient {
            good: BTreeMap::new(),
            bad: vec![(String::new(), "expected an object, found a list".into())],
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Lenient {
            good: BTreeMap::new(),
            bad: Vec::new(),
        };
        while let Some(key) = map.next_key::<String>()? {
            let v: Value = map.next_value()?;
            let at = format!(
                "[{}]",
                shorten(&serde_json::to_string(&key).unwrap_or_default())
            );
            match T::deserialize(v) {
                Ok(record) => {
                    if out.good.insert(key, record).is_some() {
                        out.bad
                            .push((at, "appears more than once; the last one is used".into()));
                    }
                }
                Err(e) => out.bad.push((at, e.to_string())),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Value {
        serde_json::json!({
            "formatVersion": 1,
            "tool": {"name": "kpm-collect", "version": "0.1.0"},
            "collection": {"startedAt": "2026-11-20T14:31:58Z", "finishedAt": "2026-11-20T14:32:10Z",
                "interrupted": false, "timedOut": false},
            "cluster": {"serverVersion": "v1.33.2", "context": "prod"},
            "scope": {"allNamespaces": true, "namespaces": ["shop"]},
            "options": {"logLines": 500, "redaction": true},
            "steps": [
                {"what": "pods", "namespace": "shop", "outcome": "ok"},
                {"what": "secrets", "namespace": "shop", "outcome": "forbidden", "httpStatus": 403}
            ],
            "redaction": {"jwt": 1},
            "files": {"namespaces/shop/pods.json": {"size": 12, "sha256": "ab"}}
        })
    }

    fn parse_value(v: &Value) -> (Manifest, Vec<String>) {
        let (_, m, problems) = parse(&serde_json::to_vec(v).unwrap()).unwrap();
        (m, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_well_formed_manifest_reads_as_the_strict_parse_does() {
        let v = good();
        let (lenient, problems) = parse_value(&v);
        assert!(problems.is_empty(), "{problems:?}");
        let mut strict: Manifest = serde_json::from_value(v).unwrap();
        strict.format_version = 0;
        assert_eq!(lenient, strict);
    }

    #[test]
    fn a_bad_step_costs_that_step_only() {
        let mut v = good();
        v["steps"][0]["outcome"] = serde_json::json!("exploded");
        v["steps"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!(42));
        let (m, problems) = parse_value(&v);
        assert_eq!(m.steps.len(), 1);
        assert_eq!(m.steps[0].what, "secrets");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("manifest.json: steps[0]: unknown variant `exploded`"));
        assert!(problems[1].starts_with("manifest.json: steps[2]: invalid type"));
        // The rest of the manifest is intact.
        assert_eq!(m.cluster.context.as_deref(), Some("prod"));
        assert_eq!(m.files.len(), 1);
    }

    #[test]
    fn bad_fields_fall_back_to_defaults_and_are_named() {
        let mut v = good();
        v["collection"]["finishedAt"] = serde_json::json!("yesterday");
        v["tool"] = serde_json::json!("kpm");
        v["files"]["namespaces/shop/pods.json"]["size"] = serde_json::json!(-1);
        v["steps"] = serde_json::json!({"not": "a list"});
        v["options"]["logLines"] = serde_json::json!("many");
        let (m, problems) = parse_value(&v);
        let joined = problems.join("\n");
        for field in [
            "collection.finishedAt",
            "tool:",
            "files[\"namespaces/shop/pods.json\"]",
            "steps:",
            "options.logLines",
        ] {
            assert!(
                joined.contains(&format!("manifest.json: {field}")),
                "{field}: {joined}"
            );
        }
        // finishedAt falls back to startedAt, not to the epoch.
        assert_eq!(m.collection.finished_at, m.collection.started_at);
        assert_eq!(
            m.collection.started_at.to_rfc3339(),
            "2026-11-20T14:31:58+00:00"
        );
        assert!(m.files.is_empty());
        assert!(m.steps.is_empty());
        assert_eq!(m.options.log_lines, None);
        assert!(m.options.redaction);
    }

    #[test]
    fn messages_quoting_huge_values_are_shortened() {
        let mut v = good();
        v["steps"][0]["outcome"] = Value::String("x".repeat(100_000));
        let (_, problems) = parse_value(&v);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].len() < 500, "{}", problems[0].len());
        assert!(problems[0].contains("more bytes"), "{}", problems[0]);
    }

    #[test]
    fn only_a_non_object_top_level_is_unreadable() {
        assert!(parse(b"[1, 2]").is_err());
        assert!(parse(b"{\"formatVersion\": 1,").is_err());
        let (_, m, problems) = parse(b"{}").unwrap();
        assert!(m.steps.is_empty());
        // Every required section is named as missing.
        assert_eq!(problems.len(), 5, "{problems:?}");
    }
}
