//! An independent second client: the official Kubernetes Python client
//! (`pip install kubernetes`, installed by `.ci/run`) against `serve`,
//! driving `tests/python/serve_client.py`. It lists every kind in pages
//! (`limit`/`_continue`), watches pods (the initial state as `ADDED`),
//! reads every pod and container log, reads events.k8s.io Events, and
//! deserialises everything into the client's typed models, which validate
//! what kubectl ignores.
//!
//! The interpreter is `$KPM_PYTHON` (what `.ci/run` exports: a virtualenv
//! holding the client) or `python3`. The test fails, never skips, when the
//! interpreter or the `kubernetes` package is missing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::serve::{serve, write_fixture};
use kpm_bundle::{layout, Bundle};
use serde_json::Value;

/// The interpreter, checked to import `kubernetes`.
fn python() -> PathBuf {
    let python = std::env::var_os("KPM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let out = Command::new(&python)
        .args(["-c", "import kubernetes; print(kubernetes.__version__)"])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): the Python client test needs python3 with the \
                 `kubernetes` package (set KPM_PYTHON to such an interpreter; .ci/run does)",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "{} cannot import the `kubernetes` package (pip install kubernetes, or set \
         KPM_PYTHON; .ci/run does):\n{}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    python
}

/// `namespace/name` of every stored object of every kind (cluster-scoped
/// objects as `/name`); `None` for a kind with a file the bundle reader
/// cannot read (damage, or a shape it does not accept).
fn stored(bundle: &Bundle) -> Vec<(&'static str, Option<BTreeSet<String>>)> {
    let mut out = Vec::new();
    for kind in layout::all_kinds() {
        let mut names = Some(BTreeSet::new());
        let namespaces: Vec<Option<String>> = match kind.scope {
            layout::Scope::Cluster => vec![None],
            layout::Scope::Namespaced => bundle.namespaces().into_iter().map(Some).collect(),
        };
        for ns in namespaces {
            let list = match bundle.read_kind::<Value>(kind, ns.as_deref()) {
                Ok(Some(list)) => list,
                Ok(None) => continue,
                Err(_) => {
                    names = None;
                    break;
                }
            };
            for item in list.items {
                let s = |p: &str| {
                    item.pointer(p)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                if let Some(n) = names.as_mut() {
                    n.insert(format!(
                        "{}/{}",
                        s("/metadata/namespace"),
                        s("/metadata/name")
                    ));
                }
            }
        }
        out.push((kind.plural, names));
    }
    out
}

/// Strings of a JSON array, as a set.
fn as_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the script against a served bundle; what it saw.
fn run_client(python: &Path, bundle_path: &Path, page: usize) -> Value {
    let what = bundle_path.display();
    let s = serve(bundle_path, None, &[]);
    let script = kpm_e2e::workspace_root().join("tests/python/serve_client.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(&s.kubeconfig)
        .arg(page.to_string())
        .env("HOME", s.dir.path())
        .env_remove("KUBECONFIG")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{what}: the Python client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

/// Every kind listed exactly as stored, in pages of `page`.
fn check_lists(what: &str, bundle: &Bundle, seen: &Value, page: usize) {
    for (plural, names) in stored(bundle) {
        let listed = &seen["lists"][plural];
        let Some(names) = names else {
            // The bundle reader cannot read it either: the client sees the
            // damage answered (500) or, once serve reads more than the
            // reader, a list; never a client-side failure.
            assert!(
                listed["status"] == 500 || listed["names"].is_array(),
                "{what}: {plural}: {listed}"
            );
            continue;
        };
        let Some(got) = listed["names"].as_array() else {
            // Nothing stored: the kind answers that it was not collected
            // (404) or forbidden (403), never a list.
            assert!(names.is_empty(), "{what}: {plural}: {listed}");
            assert!(
                listed["status"] == 404 || listed["status"] == 403,
                "{what}: {plural}: {listed}"
            );
            continue;
        };
        let unique = as_set(&listed["names"]);
        assert_eq!(unique.len(), got.len(), "{what}: {plural} listed twice");
        assert_eq!(unique, names, "{what}: {plural}");
        let pages = listed["pages"].as_u64().unwrap_or(0) as usize;
        assert_eq!(
            pages,
            got.len().div_ceil(page).max(1),
            "{what}: {plural} pages"
        );
    }
}

/// The watch gives the listed pods as ADDED; every pod is read, and every
/// stored current log of a listed pod is read whole (a bundle may hold logs
/// of pods that were gone by the time pods were listed).
fn check_watch_pods_and_logs(what: &str, bundle: &Bundle, seen: &Value) {
    let pods = &seen["lists"]["pods"]["names"];
    if pods.is_array() {
        assert_eq!(
            as_set(&seen["watch_pods"]["added"]),
            as_set(pods),
            "{what}: watch"
        );
        assert_eq!(
            seen["watch_pods"]["other"],
            serde_json::json!([]),
            "{what}: watch"
        );
    }
    let listed_pods = as_set(pods);
    assert_eq!(
        seen["pods_read"].as_u64(),
        Some(listed_pods.len() as u64),
        "{what}"
    );
    let logs = seen["logs"].as_object().expect("logs");
    for entry in bundle.entries() {
        let layout::Entry::Log {
            namespace,
            pod,
            container,
            previous: false,
        } = layout::classify(entry)
        else {
            continue;
        };
        if !listed_pods.contains(&format!("{namespace}/{pod}")) {
            continue;
        }
        let key = format!("{namespace}/{pod}/{container}");
        let size = bundle.read_bytes(entry).expect("log").len() as u64;
        let got = logs.get(&key).unwrap_or(&Value::Null);
        assert_eq!(
            got["bytes"].as_u64(),
            Some(size),
            "{what}: log {key}: {got}; read: {:?}",
            logs.keys().collect::<Vec<_>>()
        );
    }
}

/// events.k8s.io serves the same Events as core/v1, each deserialised or
/// counted as served without `eventTime`.
fn check_events(what: &str, seen: &Value) {
    let core_events = as_set(&seen["lists"]["events"]["names"]);
    if core_events.is_empty() {
        return;
    }
    let v1 = &seen["events_k8s_io"];
    assert_eq!(as_set(&v1["names"]), core_events, "{what}: events.k8s.io");
    let counted = v1["typed"].as_u64().unwrap_or(0) + v1["no_event_time"].as_u64().unwrap_or(0);
    assert_eq!(counted as usize, core_events.len(), "{what}: {v1}");
}

/// Runs the client against `bundle` in pages of `page` and checks what it
/// saw against what the bundle holds.
fn client_reads_everything(python: &Path, bundle_path: &Path, page: usize) {
    let what = bundle_path.display().to_string();
    let bundle = Bundle::open(bundle_path).expect("bundle opens");
    let seen = run_client(python, bundle_path, page);
    check_lists(&what, &bundle, &seen, page);
    check_watch_pods_and_logs(&what, &bundle, &seen);
    check_events(&what, &seen);
}

#[test]
fn python_client_lists_pages_reads_and_deserialises_every_kind() {
    let python = python();
    let dir = tempfile::tempdir().expect("temp dir");
    client_reads_everything(&python, &write_fixture(dir.path()), 2);
    for scenario in ["demo", "selector-mismatch"] {
        client_reads_everything(&python, &kpm_e2e::testdata().join(scenario), 3);
    }
    let corpus = kpm_e2e::workspace_root().join("../shared/corpus/kpm");
    let mut bundles: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| {
            panic!(
                "the real-world corpus {} cannot be read: {e}",
                corpus.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    bundles.sort();
    assert!(!bundles.is_empty(), "no bundle in {}", corpus.display());
    for bundle in bundles {
        client_reads_everything(&python, &bundle, 5);
    }
}
