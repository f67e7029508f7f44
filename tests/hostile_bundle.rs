//! `kpm-analyze` against bundles an attacker writes (issue 14), generated
//! at test time and small on disk: zip bombs with and without overlapping
//! entries, a huge manifest, a huge log, duplicate entry names, malformed
//! manifest fields, a bad event among good ones, a planted symlink, and a
//! bundle that does not match its manifest. For each: no panic, the exit
//! code the README documents, the damage listed in the JSON report, peak
//! memory under the 2 GiB budget (the child's `VmHWM`, polled) and a
//! generous time ceiling.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kpm_e2e::rawzip::{Deflate, RawZip};
use serde_json::Value;

const MIB: usize = 1 << 20;
/// Peak memory any bundle may cost with default budgets (docs/security.md).
const MEMORY_BUDGET_KIB: u64 = 2 * 1024 * 1024;
/// Far above what any case takes; only a hang or a full inflate trips it.
const TIME_CEILING: Duration = Duration::from_secs(60);

const EXIT_OK: i32 = 0;
const EXIT_BUNDLE: i32 = 3;

/// One measured run of kpm-analyze.
struct Run {
    code: i32,
    stderr: String,
    /// The JSON report, when one was written.
    report: Option<Value>,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs kpm-analyze with `args`, the report going to a JSON file, polling
/// the child's peak RSS until it exits; asserts the time ceiling.
fn analyze(tmp: &Path, args: &[&str]) -> Run {
    let report = tmp.join("report.json");
    let _ = std::fs::remove_file(&report);
    let err_path = tmp.join("stderr.txt");
    // Built (if needed) before the clock starts.
    let bin = kpm_e2e::bin("kpm-analyze");
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .arg("-o")
        .arg(&report)
        .stdout(File::create(tmp.join("stdout.txt")).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn kpm-analyze");
    let mut peak_kib = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(child.id()) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIME_CEILING {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kpm-analyze {args:?} still running after {TIME_CEILING:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let code = status.code().unwrap_or_else(|| {
        panic!("kpm-analyze was killed by a signal (a crash); stderr:\n{stderr}")
    });
    assert!(
        !stderr.contains("panicked"),
        "kpm-analyze panicked:\n{stderr}"
    );
    assert!(
        peak_kib < MEMORY_BUDGET_KIB,
        "peak RSS {peak_kib} KiB over the 2 GiB budget"
    );
    let report = std::fs::read(&report)
        .ok()
        .map(|b| serde_json::from_slice(&b).expect("the report is JSON"));
    eprintln!(
        "kpm-analyze {args:?}: exit {code}, {:.1} s, peak RSS {} MiB",
        started.elapsed().as_secs_f64(),
        peak_kib / 1024
    );
    Run {
        code,
        stderr,
        report,
    }
}

fn scenario(name: &str) -> PathBuf {
    let dir = kpm_e2e::testdata().join(name);
    assert!(dir.join("manifest.json").is_file(), "{}", dir.display());
    dir
}

/// Every file of `dir` by its bundle path, sorted.
fn files_of(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, p));
            }
        }
    }
    out.sort();
    out
}

/// The crashloop scenario as a zip: `edit` may change (or drop, with
/// `None`) any file's bytes, `extra` writes more entries after them.
fn crashloop_zip(
    tmp: &Path,
    mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>,
    extra: impl FnOnce(&mut RawZip<File>),
) -> PathBuf {
    let path = tmp.join("bundle.zip");
    let mut z = RawZip::new(File::create(&path).unwrap());
    for (name, file) in files_of(&scenario("crashloop")) {
        if let Some(bytes) = edit(&name, std::fs::read(file).unwrap()) {
            z.stored(&name, &bytes).unwrap();
        }
    }
    extra(&mut z);
    z.finish().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 64 << 20, "test bundle is {size} bytes on disk");
    path
}

fn keep(_: &str, bytes: Vec<u8>) -> Option<Vec<u8>> {
    Some(bytes)
}

fn damage(report: &Value) -> Vec<(String, String)> {
    report["damage"]
        .as_array()
        .expect("damage array")
        .iter()
        .map(|d| {
            (
                d["file"].as_str().unwrap_or_default().to_string(),
                d["problem"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn has_finding(report: &Value, rule: &str, object: &str) -> bool {
    report["findings"].as_array().unwrap().iter().any(|f| {
        let o = &f["object"];
        f["rule"] == rule
            && format!(
                "{}/{}/{}",
                o["kind"].as_str().unwrap_or_default(),
                o["namespace"].as_str().unwrap_or_default(),
                o["name"].as_str().unwrap_or_default()
            ) == object
    })
}

const CRASHLOOP_POD: &str = "Pod/shop/checkout-dwxnrlfvx-6wgnp";

/// The report of a run that exited 0, with the crashloop scenario's own
/// finding still there (damage stays local).
fn analysed(run: &Run) -> &Value {
    assert_eq!(run.code, EXIT_OK, "stderr:\n{}", run.stderr);
    let report = run.report.as_ref().expect("a report was written");
    assert!(
        has_finding(report, "pod-crashloop", CRASHLOOP_POD),
        "the undamaged namespace is still analysed"
    );
    report
}

fn zeros() -> Vec<u8> {
    vec![0u8; MIB]
}

#[test]
fn overlapping_entry_bomb_is_refused_without_inflating() {
    let tmp = tempfile::tempdir().unwrap();
    // 200 entries, one 1 GiB stream: 200 GiB if each were inflated.
    let stream = Deflate::default().then(&zeros(), 1024);
    let zip = crashloop_zip(tmp.path(), keep, |z| {
        let shared = z.deflated("namespaces/bomb0/pods.json", &stream).unwrap();
        for i in 1..200 {
            z.record(&format!("namespaces/bomb{i}/pods.json"), &shared);
        }
    });
    let run = analyze(tmp.path(), &[zip.to_str().unwrap()]);
    let report = analysed(&run);
    let refused: Vec<_> = damage(report)
        .into_iter()
        .filter(|(file, problem)| {
            file.starts_with("namespaces/bomb") && problem.contains("zip-bomb")
        })
        .map(|(file, _)| file)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        refused.len(),
        200,
        "every overlapping entry is listed: {refused:?}"
    );
}

#[test]
fn honest_bomb_stops_at_the_entry_budget() {
    let tmp = tempfile::tempdir().unwrap();
    // One honest entry: 2 GiB of zeros, right size and CRC, about 2 MB.
    let stream = Deflate::default().then(&zeros(), 2048);
    let zip = crashloop_zip(tmp.path(), keep, |z| {
        z.deflated("namespaces/bomb/pods.json", &stream).unwrap();
    });
    let run = analyze(tmp.path(), &[zip.to_str().unwrap()]);
    let report = analysed(&run);
    assert!(
        damage(report)
            .iter()
            .any(|(file, problem)| file == "namespaces/bomb/pods.json"
                && problem.contains("over budget")
                && problem.contains("--max-")),
        "{:?}",
        damage(report)
    );
}

#[test]
fn huge_manifest_is_refused_before_it_is_parsed() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = crashloop_zip(
        tmp.path(),
        |name, bytes| (name != "manifest.json").then_some(bytes),
        |z| {
            let original = std::fs::read(scenario("crashloop").join("manifest.json")).unwrap();
            // Valid JSON: 200 MiB of whitespace after the opening brace.
            let stream = Deflate::default()
                .then(b"{", 1)
                .then(&vec![b' '; MIB], 200)
                .then(&original[1..], 1);
            z.deflated("manifest.json", &stream).unwrap();
        },
    );
    // The ratio is raised so the manifest's own budget is what stops it.
    let run = analyze(
        tmp.path(),
        &[zip.to_str().unwrap(), "--max-ratio", "100000"],
    );
    assert_eq!(run.code, EXIT_BUNDLE, "stderr:\n{}", run.stderr);
    assert!(run.stderr.contains("manifest.json"), "{}", run.stderr);
    assert!(
        run.stderr.contains("--max-manifest-bytes"),
        "{}",
        run.stderr
    );
    assert!(run.report.is_none());
    // Raised past its size, the same manifest reads.
    let run = analyze(
        tmp.path(),
        &[
            zip.to_str().unwrap(),
            "--max-ratio",
            "100000",
            "--max-manifest-bytes",
            "256MiB",
        ],
    );
    analysed(&run);
}

#[test]
fn huge_log_is_damage_and_the_rule_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let pod_logs = "logs/shop/checkout-dwxnrlfvx-6wgnp/";
    let zip = crashloop_zip(
        tmp.path(),
        |name, bytes| (!name.starts_with(pod_logs)).then_some(bytes),
        |z| {
            for name in ["checkout.log", "checkout.previous.log"] {
                let original =
                    std::fs::read(scenario("crashloop").join(pod_logs).join(name)).unwrap();
                // 3 GiB of NUL bytes (one "line"), then the real log lines.
                let stream = Deflate::default().then(&zeros(), 3072).then(&original, 1);
                z.deflated(&format!("{pod_logs}{name}"), &stream).unwrap();
            }
        },
    );
    let run = analyze(tmp.path(), &[zip.to_str().unwrap()]);
    let report = analysed(&run);
    assert!(
        damage(report)
            .iter()
            .any(|(file, problem)| file.starts_with(pod_logs) && problem.contains("over budget")),
        "{:?}",
        damage(report)
    );
}

#[test]
fn duplicate_entry_names_are_listed_not_shadowed() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = crashloop_zip(tmp.path(), keep, |z| {
        z.stored("namespaces/kube-public/pods.json", br#"{"items":[]}"#)
            .unwrap();
    });
    let run = analyze(tmp.path(), &[zip.to_str().unwrap()]);
    let report = analysed(&run);
    assert!(
        damage(report)
            .iter()
            .any(|(file, problem)| file == "namespaces/kube-public/pods.json"
                && problem.contains("2 entries with this name")),
        "{:?}",
        damage(report)
    );
}

#[test]
fn malformed_manifest_fields_cost_those_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let zip = crashloop_zip(
        tmp.path(),
        |name, bytes| {
            if name != "manifest.json" {
                return Some(bytes);
            }
            let mut m: Value = serde_json::from_slice(&bytes).unwrap();
            m["steps"][0]["outcome"] = "exploded".into();
            m["collection"]["interrupted"] = "yes".into();
            m["cluster"]["context"] = serde_json::json!({"nested": true});
            Some(serde_json::to_vec(&m).unwrap())
        },
        |_| {},
    );
    let run = analyze(tmp.path(), &[zip.to_str().unwrap()]);
    let report = analysed(&run);
    let listed = damage(report);
    for field in ["steps[0]", "collection.interrupted", "cluster.context"] {
        assert!(
            listed.iter().any(|(file, problem)| file == "manifest.json"
                && problem.starts_with(&format!("manifest.json: {field}: "))),
            "{field} not listed: {listed:?}"
        );
    }
}

#[test]
fn a_bad_event_costs_that_event_only() {
    let tmp = tempfile::tempdir().unwrap();
    let events = "namespaces/shop/events.json";
    let mut bad_name = String::new();
    let zip = crashloop_zip(
        tmp.path(),
        |name, bytes| {
            if name != events {
                return Some(bytes);
            }
            let mut list: Value = serde_json::from_slice(&bytes).unwrap();
            let first = &mut list["items"][0];
            bad_name = first["metadata"]["name"].as_str().unwrap().to_string();
            first["count"] = "many".into();
            Some(serde_json::to_vec(&list).unwrap())
        },
        |_| {},
    );
    let baseline = analyze(tmp.path(), &[scenario("crashloop").to_str().unwrap()]);
    let base_events = timeline_events(analysed(&baseline));
    let run = analyze(tmp.path(), &[zip.to_str().unwrap()]);
    let report = analysed(&run);
    assert!(
        damage(report).iter().any(|(file, problem)| file == events
            && problem.starts_with(&format!("item 0 ({bad_name}) is not a valid object"))),
        "{:?}",
        damage(report)
    );
    // The other events of the namespace are still read.
    let events_left = timeline_events(report);
    assert!(
        events_left > 0 && events_left + 1 >= base_events,
        "{events_left} of {base_events}"
    );
}

/// Event entries of the timeline about the shop namespace's objects.
fn timeline_events(report: &Value) -> usize {
    report["timeline"]
        .as_array()
        .expect("timeline array")
        .iter()
        .filter(|e| e["source"] == "event" && e["object"]["namespace"] == "shop")
        .count()
}

#[cfg(unix)]
#[test]
fn a_planted_symlink_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("bundle");
    for (name, file) in files_of(&scenario("crashloop")) {
        let to = root.join(&name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(file, to).unwrap();
    }
    let outside = tmp.path().join("outside.json");
    std::fs::write(&outside, br#"{"items":[{"metadata":{"name":"planted"}}]}"#).unwrap();
    let pods = root.join("namespaces/kube-public/pods.json");
    std::fs::remove_file(&pods).unwrap();
    std::os::unix::fs::symlink(&outside, &pods).unwrap();
    let run = analyze(tmp.path(), &[root.to_str().unwrap()]);
    let report = analysed(&run);
    assert!(
        damage(report)
            .iter()
            .any(|(file, problem)| file == "namespaces/kube-public/pods.json"
                && problem.contains("symbolic link")),
        "{:?}",
        damage(report)
    );
    assert!(!report.to_string().contains("planted"));
}

#[test]
fn verify_lists_unlisted_and_missing_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let unlisted = "namespaces/shop/pods.json";
    let zip = crashloop_zip(
        tmp.path(),
        |name, bytes| {
            if name != "manifest.json" {
                return Some(bytes);
            }
            let mut m: Value = serde_json::from_slice(&bytes).unwrap();
            let files = m["files"].as_object_mut().unwrap();
            files.remove(unlisted);
            files.insert(
                "namespaces/shop/ghost.json".into(),
                serde_json::json!({"size": 2, "sha256": "00"}),
            );
            Some(serde_json::to_vec(&m).unwrap())
        },
        |_| {},
    );
    let run = analyze(tmp.path(), &[zip.to_str().unwrap(), "--verify"]);
    let listed = damage(analysed(&run));
    assert!(
        listed
            .iter()
            .any(|(f, p)| f == unlisted && p.contains("not listed in manifest.json")),
        "{listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|(f, p)| f == "namespaces/shop/ghost.json" && p.contains("missing")),
        "{listed:?}"
    );
    // Without --verify the unlisted entry is analysed, and the HTML report
    // never says every file was verified.
    let html = tmp.path().join("r.html");
    let out = Command::new(kpm_e2e::bin("kpm-analyze"))
        .args([
            zip.as_os_str(),
            "--verify".as_ref(),
            "-o".as_ref(),
            html.as_os_str(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(EXIT_OK));
    let html = std::fs::read_to_string(html).unwrap();
    assert!(!html.contains("Every file of the bundle was read and verified."));
}
