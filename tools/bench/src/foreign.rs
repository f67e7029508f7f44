//! Benchmark 5 (issue 15): `kpm-analyze` of a troubleshoot support bundle
//! against `kpm-analyze` of the same data as a kpm zip.
//!
//! The archive is written here from a generated kpm bundle in the layout
//! Replicated troubleshoot writes (`cluster-resources/<resource>/<ns>.json`,
//! `cluster-resources/<resource>.json`, logs under
//! `cluster-resources/pods/logs/<ns>/<pod>/`, `cluster-info/cluster_version.json`
//! wrapped as `{"info": …, "string": …}`, `version.yaml`, all under one top
//! folder, gzip at Go's default level, lists indented by two spaces as
//! troubleshoot's `json.MarshalIndent` prints them, every entry's time the
//! bundle's collection time). What troubleshoot has no place for (Secrets,
//! metrics, derived files) is left out and counted.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use kpm_bundle::foreign::troubleshoot_resource_name;
use kpm_bundle::layout::{classify, Entry};
use kpm_bundle::{Bundle, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::analyze::{self, Analysis};
use crate::data::Stats;
use crate::env::Env;
use crate::table::{self, mib, secs, verdict, Table};

/// The archive may take at most this many times the zip's analysis.
pub const RATIO_TARGET: f64 = 1.5;

/// The `versionNumber` written into `version.yaml` (the troubleshoot
/// release the corpus's newest archives were written by).
const TOOL_VERSION: &str = "v0.123.14";

/// A troubleshoot archive written from a kpm bundle (its summary is cached
/// next to it as `<archive>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Archive {
    /// The `.tar.gz`.
    pub path: PathBuf,
    /// Files in the archive.
    pub entries: usize,
    /// Uncompressed bytes of those files.
    pub bytes: u64,
    /// kpm entries troubleshoot has no place for, by reason.
    pub dropped: BTreeMap<String, usize>,
}

/// Where a kpm entry goes in troubleshoot's layout, or why it has no place.
fn place(entry: &Entry<'_>) -> std::result::Result<String, &'static str> {
    match entry {
        Entry::ClusterList(kind) => troubleshoot_resource_name(kind.plural)
            .map(|name| format!("cluster-resources/{name}.json"))
            .ok_or("kind troubleshoot does not collect"),
        Entry::NamespacedList { namespace, kind } => troubleshoot_resource_name(kind.plural)
            .map(|name| format!("cluster-resources/{name}/{namespace}.json"))
            .ok_or("kind troubleshoot does not collect"),
        Entry::Log {
            namespace,
            pod,
            container,
            previous,
        } => {
            let suffix = if *previous { "-previous" } else { "" };
            Ok(format!(
                "cluster-resources/pods/logs/{namespace}/{pod}/{container}{suffix}.log"
            ))
        }
        Entry::ClusterVersion => Ok("cluster-info/cluster_version.json".to_string()),
        Entry::NodeMetrics | Entry::PodMetrics { .. } => Err("metrics"),
        Entry::NodeAllocation => Err("derived file"),
        Entry::Manifest => Err("manifest"),
        Entry::Other => Err("other file"),
    }
}

/// The tar header of one regular file.
fn header(size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o600);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// Writes the troubleshoot archive of the kpm bundle at `bundle` to `out`
/// (through `<out>.partial`, renamed at the end).
pub fn write_troubleshoot(bundle: &Path, out: &Path) -> Result<Archive> {
    let b = Bundle::open(bundle).with_context(|| format!("cannot open {}", bundle.display()))?;
    let manifest = b.manifest();
    let taken = manifest.collection.finished_at;
    let mtime = u64::try_from(taken.timestamp()).unwrap_or(0);
    let top = format!("support-bundle-{}", taken.format("%Y-%m-%dT%H_%M_%S"));
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let file =
        File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let gz = GzEncoder::new(
        BufWriter::with_capacity(256 * 1024, file),
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gz);
    let mut archive = Archive {
        path: out.to_path_buf(),
        entries: 0,
        bytes: 0,
        dropped: BTreeMap::new(),
    };
    let mut add = |archive: &mut Archive, path: &str, bytes: &[u8]| -> Result<()> {
        let mut h = header(bytes.len() as u64, mtime);
        tar.append_data(&mut h, format!("{top}/{path}"), bytes)
            .with_context(|| format!("cannot add {path} to {}", partial.display()))?;
        archive.entries += 1;
        archive.bytes += bytes.len() as u64;
        Ok(())
    };
    let version = format!(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  versionNumber: {TOOL_VERSION}\n"
    );
    add(&mut archive, "version.yaml", version.as_bytes())?;
    for entry in b.entries() {
        let kind = classify(entry);
        let target = match place(&kind) {
            Ok(t) => t,
            Err(reason) => {
                if kind != Entry::Manifest {
                    *archive.dropped.entry(reason.to_string()).or_default() += 1;
                }
                continue;
            }
        };
        let raw = b
            .read_bytes(entry)
            .with_context(|| format!("{}: {entry}", bundle.display()))?;
        let bytes = match kind {
            Entry::Log { .. } => raw,
            Entry::ClusterVersion => wrapped_version(&raw, entry)?,
            _ => indented(&raw, entry)?,
        };
        add(&mut archive, &target, &bytes)?;
    }
    for (name, errors) in recorded_errors(&b) {
        let text = serde_json::to_vec_pretty(&errors).context("cannot encode errors")?;
        add(&mut archive, &format!("cluster-resources/{name}"), &text)?;
    }
    let gz = tar
        .into_inner()
        .with_context(|| format!("cannot finish {}", partial.display()))?;
    let file = gz
        .finish()
        .with_context(|| format!("cannot finish {}", partial.display()))?;
    file.into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot flush {}", partial.display()))?;
    std::fs::rename(&partial, out)
        .with_context(|| format!("cannot move {} to {}", partial.display(), out.display()))?;
    Ok(archive)
}

/// A list as troubleshoot prints it: `json.MarshalIndent(…, "", "  ")`.
fn indented(raw: &[u8], entry: &str) -> Result<Vec<u8>> {
    let value: Value = serde_json::from_slice(raw).with_context(|| format!("{entry}: not JSON"))?;
    serde_json::to_vec_pretty(&value).with_context(|| format!("cannot encode {entry}"))
}

/// `/version` as troubleshoot's `cluster-info` collector wraps it.
fn wrapped_version(raw: &[u8], entry: &str) -> Result<Vec<u8>> {
    let info: Value = serde_json::from_slice(raw).with_context(|| format!("{entry}: not JSON"))?;
    let string = info
        .get("gitVersion")
        .cloned()
        .unwrap_or(Value::String(String::new()));
    let wrapped = serde_json::json!({ "info": info, "string": string });
    serde_json::to_vec_pretty(&wrapped).with_context(|| format!("cannot encode {entry}"))
}

/// The list steps that failed, as troubleshoot records them:
/// `<resource>-errors.json` holding `{"<ns>": "<message>"}` for namespaced
/// kinds and `["<message>"]` for cluster kinds.
fn recorded_errors(b: &Bundle) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for step in &b.manifest().steps {
        if step.outcome == Outcome::Ok {
            continue;
        }
        let Some(name) = troubleshoot_resource_name(&step.what) else {
            continue;
        };
        let message = Value::String(step.message.clone().unwrap_or_default());
        let file = format!("{name}-errors.json");
        match &step.namespace {
            Some(ns) => {
                let slot = out
                    .entry(file)
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if let Some(map) = slot.as_object_mut() {
                    map.insert(ns.clone(), message);
                }
            }
            None => {
                let slot = out.entry(file).or_insert_with(|| Value::Array(Vec::new()));
                if let Some(list) = slot.as_array_mut() {
                    list.push(message);
                }
            }
        }
    }
    out
}

/// The cached archive of `bundle`, written when missing, older than the
/// bundle, or when `regenerate`.
pub fn ensure(env: &Env, bundle: &Path, regenerate: bool) -> Result<Archive> {
    let stem = bundle
        .file_stem()
        .map_or_else(|| "bundle".into(), |s| s.to_string_lossy().into_owned());
    let out = env.data_dir.join(format!("troubleshoot-{stem}.tar.gz"));
    let fresh = |p: &Path| -> Option<bool> {
        let a = std::fs::metadata(p).ok()?.modified().ok()?;
        let b = std::fs::metadata(bundle).ok()?.modified().ok()?;
        Some(a >= b)
    };
    let summary = PathBuf::from(format!("{}.json", out.display()));
    if !regenerate && fresh(&out) == Some(true) {
        let cached = std::fs::read(&summary)
            .ok()
            .and_then(|b| serde_json::from_slice::<Archive>(&b).ok());
        if let Some(archive) = cached.filter(|a| a.path == out) {
            return Ok(archive);
        }
    }
    eprintln!("writing {} …", out.display());
    let archive = write_troubleshoot(bundle, &out)?;
    let json = serde_json::to_vec(&archive).context("cannot encode the archive summary")?;
    std::fs::write(&summary, json)
        .with_context(|| format!("cannot write {}", summary.display()))?;
    Ok(archive)
}

/// One size's comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Size name.
    pub size: String,
    /// The kpm zip.
    pub bundle: PathBuf,
    /// The archive written from it.
    pub archive: Archive,
    /// The analysis of the kpm zip.
    pub zip: Analysis,
    /// The analysis of the troubleshoot archive.
    pub foreign: Analysis,
}

impl Comparison {
    /// archive wall / zip wall.
    pub fn ratio(&self) -> Option<f64> {
        let zip = self.zip.wall().as_secs_f64();
        (zip > 0.0).then(|| self.foreign.wall().as_secs_f64() / zip)
    }
}

/// Times `kpm-analyze` of the zip and of its troubleshoot archive.
pub fn compare(
    env: &Env,
    size: &str,
    bundle: &Path,
    stats: &Stats,
    reps: usize,
    regenerate: bool,
) -> Result<Comparison> {
    let archive = ensure(env, bundle, regenerate)?;
    let zip = analyze::run(env, size, bundle, stats, reps)?;
    let foreign = analyze::run(
        env,
        &format!("{size}-troubleshoot"),
        &archive.path,
        stats,
        reps,
    )?;
    Ok(Comparison {
        size: size.to_string(),
        bundle: bundle.to_path_buf(),
        archive,
        zip,
        foreign,
    })
}

/// The comparison table: one row per input, the archive's judged.
pub fn table(comparisons: &[Comparison]) -> Table {
    let mut t = Table::new(&[
        "size",
        "input",
        "pods",
        "file",
        "wall",
        "cpu",
        "peak RSS",
        "archive / zip",
        "target ≤ 1.5×",
    ]);
    let size_of = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    for c in comparisons {
        let row = |what: &str, a: &Analysis, path: &Path| -> Vec<String> {
            vec![
                c.size.clone(),
                what.to_string(),
                a.stats.pods.to_string(),
                table::bytes_mib(size_of(path)),
                secs(a.wall()),
                secs(a.cpu()),
                mib(a.max_rss_kib()),
            ]
        };
        let mut zip = row("kpm zip", &c.zip, &c.bundle);
        zip.extend([String::new(), String::new()]);
        t.row(zip);
        let mut tar = row("troubleshoot .tar.gz", &c.foreign, &c.archive.path);
        let ratio = c.ratio();
        tar.push(ratio.map_or_else(String::new, |x| format!("{x:.2}×")));
        tar.push(ratio.map_or_else(String::new, |x| verdict(x <= RATIO_TARGET).to_string()));
        t.row(tar);
    }
    t
}

/// What the archive left out, for the notes under the table.
pub fn dropped_note(comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    for c in comparisons {
        if c.archive.dropped.is_empty() {
            continue;
        }
        let parts: Vec<String> = c
            .archive
            .dropped
            .iter()
            .map(|(why, n)| format!("{n} {why}"))
            .collect();
        out.push_str(&format!(
            "{}: the archive has {} files ({}); left out (no place in troubleshoot's layout): {}.\n",
            c.size,
            c.archive.entries,
            table::bytes_mib(c.archive.bytes),
            parts.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::manifest;
    use kpm_bundle::{BundleWriter, Step};
    use serde_json::json;

    fn list(kind: &str, items: Vec<Value>) -> Value {
        json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "4711"}, "items": items})
    }

    /// A kpm bundle written, turned into a troubleshoot archive, and opened
    /// again through kpm's own converter: the same objects, logs, version
    /// and collection time come back, and what has no place is counted.
    #[test]
    fn the_archive_reads_back_as_the_same_bundle() {
        let dir = std::env::temp_dir().join(format!("kpm-bench-foreign-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let zip = dir.join("b.zip");
        let mut w = BundleWriter::create_zip(&zip, true).unwrap();
        let node = json!({"metadata": {"name": "ip-10-0-1-17.ec2.internal"}});
        w.write_json("cluster/nodes.json", &list("NodeList", vec![node]))
            .unwrap();
        w.write_json(
            "cluster/version.json",
            &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.2"}),
        )
        .unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-7d4b9c6f5-x2x7q", "namespace": "shop"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            "status": {"phase": "Running"}});
        w.write_json("namespaces/shop/pods.json", &list("PodList", vec![pod]))
            .unwrap();
        w.write_json(
            "namespaces/shop/ingresses.json",
            &list("IngressList", vec![]),
        )
        .unwrap();
        w.write_json("namespaces/shop/secrets.json", &list("SecretList", vec![]))
            .unwrap();
        w.write_json("metrics/nodes.json", &list("NodeMetricsList", vec![]))
            .unwrap();
        w.write_entry("logs/shop/web-7d4b9c6f5-x2x7q/app.log", b"GET / 200\n")
            .unwrap();
        w.write_entry(
            "logs/shop/web-7d4b9c6f5-x2x7q/app.previous.log",
            b"panic: boom\n",
        )
        .unwrap();
        let mut m = manifest();
        let mut failed = Step::new("persistentvolumeclaims", Outcome::Forbidden);
        failed.namespace = Some("shop".into());
        failed.message = Some("persistentvolumeclaims is forbidden".into());
        m.steps.push(failed);
        w.finish(m).unwrap();

        let out = dir.join("sb.tar.gz");
        let archive = write_troubleshoot(&zip, &out).unwrap();
        assert_eq!(
            archive.dropped.get("kind troubleshoot does not collect"),
            Some(&1)
        );
        assert_eq!(archive.dropped.get("metrics"), Some(&1));
        // version.yaml, version, nodes, pods, ingresses, two logs, errors
        assert_eq!(archive.entries, 8, "{archive:?}");

        let back = Bundle::open(&out).unwrap();
        assert!(back.converted_from().is_some());
        let m = back.manifest();
        assert_eq!(m.tool.version, TOOL_VERSION);
        assert_eq!(m.cluster.server_version.as_deref(), Some("v1.33.2"));
        assert_eq!(
            m.collection.finished_at.to_rfc3339(),
            "2026-11-20T14:32:10+00:00"
        );
        let pods: Value = back.read_json("namespaces/shop/pods.json").unwrap();
        assert_eq!(pods["items"][0]["metadata"]["name"], "web-7d4b9c6f5-x2x7q");
        assert!(back.contains("namespaces/shop/ingresses.json"));
        assert!(!back.contains("namespaces/shop/secrets.json"));
        assert_eq!(
            back.read_string("logs/shop/web-7d4b9c6f5-x2x7q/app.previous.log")
                .unwrap(),
            "panic: boom\n"
        );
        let pvc = m
            .steps
            .iter()
            .find(|s| s.what == "persistentvolumeclaims")
            .unwrap();
        assert_eq!(pvc.outcome, Outcome::Forbidden);
        assert_eq!(pvc.namespace.as_deref(), Some("shop"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
