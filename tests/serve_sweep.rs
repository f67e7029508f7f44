//! The habits of a post-mortem with kubectl, run against `serve` of every
//! scenario in `testdata/` and every bundle of the real corpus
//! (`../shared/corpus/kpm/`): `get` and `describe` of every served kind,
//! `get all -A`, a watch ended after the initial state, `explain`,
//! `auth can-i`, `events`, `logs` variants and `top`.
//!
//! Nothing may fail unexpectedly, and what the snapshot does not hold must
//! be said: a kind that was not collected answers "not collected" (or the
//! failure the manifest records), never `No resources found`; a missing
//! log answers with its collection outcome or with the state that proves
//! there was none. Targeted tests (`serve_watch`, `serve_gaps`,
//! `serve_surface`) pin the exact texts; this one proves the habits hold
//! on every bundle we have.

use std::path::{Path, PathBuf};

use crate::support::serve::{serve, Run};
use kpm_bundle::Bundle;
use serde_json::Value;

/// Every bundle of the real corpus; panics when the corpus is missing (it
/// must exist, see `../shared/corpus/README.md`).
fn corpus_bundles() -> Vec<PathBuf> {
    let corpus = kpm_e2e::workspace_root().join("../shared/corpus/kpm");
    let entries = std::fs::read_dir(&corpus).unwrap_or_else(|e| {
        panic!(
            "the real-world corpus {} cannot be read ({e}); it must exist",
            corpus.display()
        )
    });
    let mut real: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    real.sort();
    assert!(!real.is_empty(), "{}: no bundles", corpus.display());
    real
}

/// Whether a stderr line is serve saying truthfully what the snapshot
/// lacks (or kubectl's own note about it), rather than an unexpected error.
fn is_truthful_gap(line: &str) -> bool {
    line.is_empty()
        || line.starts_with("Warning:")
        || line.contains("was not collected in this snapshot")
        || line.contains("could not be collected")
        || line.contains("is forbidden: User \"kpm-snapshot\"")
}

/// kubectl's own note for an empty answer; callers check the kind was held.
fn is_kubectl_empty_note(line: &str) -> bool {
    line.starts_with("No resources found") || line.starts_with("No events found")
}

/// Asserts that `run` succeeded, or failed only with truthful gaps.
fn assert_ok_or_gaps(bundle: &str, args: &[&str], run: &Run) {
    let unexpected: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !is_truthful_gap(l) && !is_kubectl_empty_note(l))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{bundle}: kubectl {args:?} (exit {:?}) printed unexpected errors:\n{}",
        run.code,
        unexpected.join("\n")
    );
    if run.code != Some(0) {
        assert!(
            run.stderr.lines().any(is_truthful_gap),
            "{bundle}: kubectl {args:?} failed without saying why"
        );
    }
}

/// The bundle file plural a served resource is read from, or None when
/// serve derives it (metrics) or documents it as always empty.
fn source_plural(resource: &str) -> Option<&str> {
    match resource {
        "events.events.k8s.io" => Some("events"),
        "replicationcontrollers" => None,
        r if r.ends_with(".metrics.k8s.io") => None,
        r => r.split('.').next(),
    }
}

/// Whether the bundle holds a list file of `plural` anywhere (an empty
/// list is then a true answer).
fn holds_kind(bundle: &Bundle, plural: &str) -> bool {
    let file = format!("/{plural}.json");
    bundle
        .entries()
        .any(|e| (e.starts_with("cluster/") || e.starts_with("namespaces/")) && e.ends_with(&file))
}

/// `get` and `describe` of every listable kind: "No resources found" only
/// for a kind the bundle holds.
fn sweep_kinds(name: &str, bundle: &Bundle, s: &crate::support::serve::Served) {
    let resources = s.ok(&["api-resources", "--verbs=list", "-o", "name"]);
    let resources: Vec<&str> = resources.lines().filter(|l| !l.is_empty()).collect();
    assert!(resources.contains(&"pods"), "{name}: {resources:?}");
    for r in &resources {
        let args = ["get", r, "-A"];
        let run = s.kubectl(&args);
        assert_ok_or_gaps(name, &args, &run);
        if run.stderr.contains("No resources found") {
            if let Some(plural) = source_plural(r) {
                let derived = plural == "endpointslices" && holds_kind(bundle, "endpoints");
                assert!(
                    holds_kind(bundle, plural) || derived,
                    "{name}: `get {r} -A` says No resources found but the bundle holds no {plural}"
                );
            }
        }
        let args = ["describe", r, "-A"];
        assert_ok_or_gaps(name, &args, &s.kubectl(&args));
    }
    let args = ["get", "all", "-A"];
    assert_ok_or_gaps(name, &args, &s.kubectl(&args));
}

/// The first pod with a container, as (namespace, pod, container).
fn first_container(s: &crate::support::serve::Served) -> Option<(String, String, String)> {
    let pods: Value = serde_json::from_str(&s.ok(&["get", "pods", "-A", "-o", "json"])).ok()?;
    let pod = pods["items"].as_array()?.first()?;
    let text = |p: &str| pod.pointer(p).and_then(Value::as_str).map(str::to_string);
    Some((
        text("/metadata/namespace")?,
        text("/metadata/name")?,
        text("/spec/containers/0/name")?,
    ))
}

/// Whether a failed `logs` said why in terms of the collection or the
/// container's recorded state.
fn log_gap_is_explained(stderr: &str) -> bool {
    [
        "not collected",
        "could not be collected",
        "previous terminated container",
        "is waiting to start",
        "does not have a host assigned",
        "is forbidden",
    ]
    .iter()
    .any(|t| stderr.contains(t))
}

/// `logs` variants on the first container.
fn sweep_logs(name: &str, s: &crate::support::serve::Served) {
    let Some((ns, pod, container)) = first_container(s) else {
        return;
    };
    for extra in [
        &["--tail=3", "--timestamps"][..],
        &["--previous"][..],
        &["--limit-bytes=64", "--since=87600h"][..],
    ] {
        let mut args = vec!["logs", "-n", &ns, &pod, "-c", &container];
        args.extend_from_slice(extra);
        let run = s.kubectl(&args);
        assert!(
            run.code == Some(0) || log_gap_is_explained(&run.stderr),
            "{name}: kubectl {args:?}:\n{}",
            run.stderr
        );
    }
}

/// Watch, explain, can-i, events and top.
fn sweep_habits(name: &str, bundle: &Bundle, s: &crate::support::serve::Served) {
    let run = s.kubectl(&["get", "pods", "-A", "-w", "--request-timeout=1s"]);
    assert_eq!(run.stderr, "", "{name}: get pods -A -w");
    assert!(
        !run.stdout.is_empty(),
        "{name}: get pods -A -w printed nothing"
    );

    let explained = s.ok(&["explain", "pod.spec.containers.livenessProbe"]);
    assert!(
        explained.contains("FIELD: livenessProbe"),
        "{name}: {explained}"
    );

    assert_eq!(
        s.ok(&["auth", "can-i", "list", "pods", "-A"]),
        "yes\n",
        "{name}"
    );
    let run = s.kubectl(&["auth", "can-i", "delete", "pods", "-A"]);
    assert!(
        run.code == Some(1) && run.stdout.starts_with("no"),
        "{name}: can-i delete: {}",
        run.stdout
    );

    let args = ["events", "-A", "--types=Warning"];
    let run = s.kubectl(&args);
    assert_ok_or_gaps(name, &args, &run);
    if run.stderr.contains("No events found") {
        assert!(holds_kind(bundle, "events"), "{name}: no events held");
    }

    let has_metrics = bundle.entries().any(|e| e.starts_with("metrics/"));
    for args in [
        &["top", "node"][..],
        &["top", "pod", "-A", "--containers"][..],
    ] {
        let run = s.kubectl(args);
        if has_metrics {
            assert_ok_or_gaps(name, args, &run);
        } else {
            assert!(
                run.code != Some(0)
                    && (run.stderr.contains("not collected")
                        || run.stderr.contains("Metrics API not available")),
                "{name}: kubectl {args:?} without metrics (exit {:?}):\n{}",
                run.code,
                run.stderr
            );
        }
    }
}

fn label(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every habit on every bundle in `dirs`.
fn sweep(dirs: Vec<PathBuf>) {
    for dir in dirs {
        let name = label(&dir);
        let bundle = Bundle::open(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let s = serve(&dir, None, &[]);
        sweep_kinds(&name, &bundle, &s);
        sweep_logs(&name, &s);
        sweep_habits(&name, &bundle, &s);
    }
}

// Two tests so the harness runs the scenarios and the corpus side by side.

#[test]
fn serve_sweep_every_scenario_answers_every_habit_truthfully() {
    let scenarios = kpm_e2e::scenarios();
    assert!(!scenarios.is_empty(), "no scenario bundles under testdata/");
    sweep(scenarios);
}

#[test]
fn serve_sweep_every_corpus_bundle_answers_every_habit_truthfully() {
    sweep(corpus_bundles());
}
