//! `manifest.json`: what was collected, how, what failed, and a checksum of
//! every other file. Written last by the writer, read first by the reader.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Bundle format version; see [`crate::layout::FORMAT_VERSION`].
    pub format_version: u32,
    /// The program that wrote the bundle.
    pub tool: Tool,
    /// When collection ran and how it ended.
    pub collection: Collection,
    /// The cluster the bundle came from.
    pub cluster: ClusterInfo,
    /// Which namespaces were in scope.
    pub scope: CollectionScope,
    /// Options that shape what a reader can expect (log limits, redaction).
    pub options: CollectionOptions,
    /// One record per collection step, in the order they finished.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// How many values each redaction rule replaced. Counts only, never values.
    #[serde(default)]
    pub redaction: BTreeMap<String, u64>,
    /// Size and SHA-256 of every other file in the bundle, by path.
    #[serde(default)]
    pub files: BTreeMap<String, FileRecord>,
}

/// Name and version of the writing program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// e.g. `kpm-collect`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// Collection window and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Collection {
    /// Start of collection, UTC. Analysis judges every age against
    /// [`Collection::finished_at`], never the analysing machine's clock.
    pub started_at: DateTime<Utc>,
    /// End of collection, UTC.
    pub finished_at: DateTime<Utc>,
    /// Ctrl-C stopped the run; unfinished steps are marked.
    #[serde(default)]
    pub interrupted: bool,
    /// `--timeout` stopped the run; unfinished steps are marked.
    #[serde(default)]
    pub timed_out: bool,
}

/// Identity of the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// `gitVersion` from `/version`, e.g. `v1.33.2`.
    pub server_version: Option<String>,
    /// kubeconfig context name used for collection.
    pub context: Option<String>,
    /// Cluster name from the kubeconfig, when known.
    #[serde(default)]
    pub name: Option<String>,
}

/// Which namespaces were collected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionScope {
    /// True when every readable namespace was collected.
    pub all_namespaces: bool,
    /// The namespaces asked for (when not all) or found (when all).
    #[serde(default)]
    pub namespaces: Vec<String>,
}

/// Options of the run that a reader needs to interpret the content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionOptions {
    /// `--log-lines`: at most this many lines per log.
    pub log_lines: Option<u64>,
    /// `--log-bytes`: at most this many bytes per log.
    pub log_bytes: Option<u64>,
    /// Pattern-based redaction was on.
    pub redaction: bool,
    /// ConfigMap values were redacted too.
    #[serde(default)]
    pub redact_config_maps: bool,
}

/// How one collection step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Collected.
    Ok,
    /// HTTP 403: the credentials may not read this.
    Forbidden,
    /// HTTP 404: the API or object does not exist (e.g. no metrics-server).
    NotFound,
    /// The request, or the whole run, ran out of time.
    Timeout,
    /// Anything else: 5xx, connection reset, malformed answer.
    Error,
}

impl Outcome {
    /// The spelling used in the manifest and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Forbidden => "forbidden",
            Outcome::NotFound => "not_found",
            Outcome::Timeout => "timeout",
            Outcome::Error => "error",
        }
    }
}

/// One collection step: one list, one log, one metrics call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// What was collected: a plural resource name (`pods`), `version`,
    /// `metrics/nodes`, `metrics/pods`, `logs` or `logs/previous`.
    pub what: String,
    /// Namespace, for namespaced steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object, for per-object steps such as logs: `<pod>/<container>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The bundle file written by this step, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// HTTP status of the failing (or last) response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Server or client message for a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Items (objects, or log lines) written.
    #[serde(default)]
    pub items: u64,
    /// Bytes written.
    #[serde(default)]
    pub bytes: u64,
    /// Wall time of the step in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
}

impl Step {
    /// A step with everything but `what` and `outcome` empty.
    pub fn new(what: impl Into<String>, outcome: Outcome) -> Step {
        Step {
            what: what.into(),
            namespace: None,
            object: None,
            path: None,
            outcome,
            http_status: None,
            message: None,
            items: 0,
            bytes: 0,
            duration_ms: 0,
        }
    }
}

/// Size and digest of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// A manifest serialized with more steps appended from an iterator and its
/// `files` from another source, so a writer never holds them all: a
/// collected manifest has a step per log request and a file per log
/// (150,000 and more on a large cluster). Serializes exactly as
/// [`Manifest`] would with `rest` appended to its `steps` and `files` in
/// place of its own; the field list mirrors it (a test compares the two).
#[derive(Serialize)]
#[serde(
    rename_all = "camelCase",
    bound = "I: Iterator<Item = Step>, F: Serialize"
)]
pub(crate) struct StreamedManifest<'a, I, F> {
    format_version: u32,
    tool: &'a Tool,
    collection: &'a Collection,
    cluster: &'a ClusterInfo,
    scope: &'a CollectionScope,
    options: &'a CollectionOptions,
    steps: StepsThen<'a, I>,
    redaction: &'a BTreeMap<String, u64>,
    files: F,
}

impl<'a, I: Iterator<Item = Step>, F: Serialize> StreamedManifest<'a, I, F> {
    /// `manifest` with `rest` after its own steps and `files` for its own.
    /// Serialize it once: the iterator is consumed by the first
    /// serialization.
    pub(crate) fn new(manifest: &'a Manifest, rest: I, files: F) -> Self {
        StreamedManifest {
            format_version: manifest.format_version,
            tool: &manifest.tool,
            collection: &manifest.collection,
            cluster: &manifest.cluster,
            scope: &manifest.scope,
            options: &manifest.options,
            steps: StepsThen {
                first: &manifest.steps,
                rest: std::cell::RefCell::new(Some(rest)),
            },
            redaction: &manifest.redaction,
            files,
        }
    }
}

/// Borrowed steps, then owned ones from an iterator (taken on first use,
/// because `Serialize` only gets `&self`).
struct StepsThen<'a, I> {
    first: &'a [Step],
    rest: std::cell::RefCell<Option<I>>,
}

impl<I: Iterator<Item = Step>> Serialize for StepsThen<'_, I> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(None)?;
        for step in self.first {
            seq.serialize_element(step)?;
        }
        if let Some(rest) = self.rest.borrow_mut().take() {
            for step in rest {
                seq.serialize_element(&step)?;
            }
        }
        seq.end()
    }
}

impl Manifest {
    /// A manifest of the current format for a collection by `tool`
    /// (name, version) that ran from `started_at` to `finished_at`, with no
    /// steps, files or redaction counts and default cluster, scope and
    /// options: the one starting point for writers that fill in the rest.
    pub fn new(
        tool: (&str, &str),
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    ) -> Manifest {
        Manifest {
            format_version: crate::layout::FORMAT_VERSION,
            tool: Tool {
                name: tool.0.to_string(),
                version: tool.1.to_string(),
            },
            collection: Collection {
                started_at,
                finished_at,
                interrupted: false,
                timed_out: false,
            },
            cluster: ClusterInfo::default(),
            scope: CollectionScope::default(),
            options: CollectionOptions::default(),
            steps: Vec::new(),
            redaction: BTreeMap::new(),
            files: BTreeMap::new(),
        }
    }

    /// The steps for a kind (plural name) that did not end `ok`, so the
    /// analyzer can say which checks it could not run and why.
    pub fn failed_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.outcome != Outcome::Ok)
    }

    /// The outcome recorded for `what` in `namespace` (or at cluster scope
    /// when `namespace` is `None`). When several steps match, a failure wins.
    pub fn outcome_of(&self, what: &str, namespace: Option<&str>) -> Option<Outcome> {
        self.steps
            .iter()
            .filter(|s| s.what == what && s.namespace.as_deref() == namespace && s.object.is_none())
            .map(|s| s.outcome)
            .max_by_key(|o| *o != Outcome::Ok)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn step(what: &str, ns: &str, object: Option<&str>, outcome: Outcome) -> Step {
        let mut s = Step::new(what, outcome);
        s.namespace = Some(ns.to_string());
        s.object = object.map(str::to_string);
        s
    }

    fn manifest(steps: Vec<Step>) -> Manifest {
        let at = Utc.with_ymd_and_hms(2026, 11, 26, 9, 30, 0).unwrap();
        Manifest {
            format_version: 1,
            tool: Tool {
                name: "kpm-collect".into(),
                version: "0.1.0".into(),
            },
            collection: Collection {
                started_at: at,
                finished_at: at,
                interrupted: true,
                timed_out: false,
            },
            cluster: ClusterInfo {
                server_version: Some("v1.33.2".into()),
                context: Some("prod".into()),
                name: None,
            },
            scope: CollectionScope {
                all_namespaces: true,
                namespaces: vec!["shop".into()],
            },
            options: CollectionOptions {
                log_lines: Some(500),
                log_bytes: Some(262_144),
                redaction: true,
                redact_config_maps: false,
            },
            steps,
            redaction: BTreeMap::from([("env-secret-name".to_string(), 2)]),
            files: BTreeMap::from([(
                "namespaces/shop/pods.json".to_string(),
                FileRecord {
                    size: 12,
                    sha256: "ab".repeat(32),
                },
            )]),
        }
    }

    /// The streamed form must stay byte-identical to the derived one: a
    /// field added to `Manifest` but not to `StreamedManifest` fails here.
    #[test]
    fn streamed_manifest_serializes_as_the_whole_one() {
        let own = vec![step("pods", "shop", None, Outcome::Ok)];
        let more = vec![
            step("logs", "shop", Some("web-0/app"), Outcome::NotFound),
            step("secrets", "shop", None, Outcome::Forbidden),
        ];
        let partial = manifest(own.clone());
        let streamed = serde_json::to_string_pretty(&StreamedManifest::new(
            &partial,
            more.clone().into_iter(),
            &partial.files,
        ))
        .unwrap();
        let whole = serde_json::to_string_pretty(&manifest([own, more].concat())).unwrap();
        assert_eq!(streamed, whole);
        let back: Manifest = serde_json::from_str(&streamed).unwrap();
        assert_eq!(back.steps.len(), 3);
        assert_eq!(back.steps[2].what, "secrets");
    }

    #[test]
    fn streamed_manifest_without_more_steps_is_the_manifest() {
        let m = manifest(vec![step("pods", "shop", None, Outcome::Ok)]);
        let streamed =
            serde_json::to_string(&StreamedManifest::new(&m, std::iter::empty(), &m.files))
                .unwrap();
        assert_eq!(streamed, serde_json::to_string(&m).unwrap());
    }
}
