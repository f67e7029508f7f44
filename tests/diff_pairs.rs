//! End-to-end tests of `kpm-analyze diff`: each before/after pair of
//! `testdata/pairs/` gives exactly its hand-written expected diff
//! (`expected-diff.json`); a bundle diffed with itself gives an empty diff;
//! BEFORE and AFTER swapped give the mirror image; a series follows each
//! incident; hostile strings are escaped in Markdown and HTML.
//!
//! The expected files compare a normalised form of the JSON diff, one line
//! per fact: generated name suffixes (`checkout-76w2xbt9mg-gt68m`,
//! `@76w2xbt9mg`) become `*`, events with the same line are summed.
//! Capacity (requests and usage per node, derived numbers) is not part of
//! the expectation; the test checks it names only nodes present in both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::analyze::*;

fn pair(name: &str) -> PathBuf {
    kpm_e2e::testdata().join("pairs").join(name)
}

const PAIRS: [&str; 4] = [
    "bad-deploy-rollback",
    "secret-rotation",
    "node-replaced",
    "hpa-scale-out",
];

/// Runs `kpm-analyze diff` over `bundles` and parses its JSON.
fn diff_json(bundles: &[&Path]) -> Value {
    let mut args: Vec<&std::ffi::OsStr> = vec!["diff".as_ref()];
    args.extend(bundles.iter().map(|p| p.as_os_str()));
    let out = analyze(&args);
    assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("kpm-analyze diff printed JSON")
}

/// `checkout-76w2xbt9mg-gt68m` → `checkout-*`; `Deployment/a/b@hash` →
/// `Deployment/a/b@*`.
fn norm(name: &str) -> String {
    if let Some((w, _)) = name.split_once('@') {
        return format!("{w}@*");
    }
    let parts: Vec<&str> = name.rsplitn(3, '-').collect();
    let generated = |s: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    match parts.as_slice() {
        [pod, rs, base] if generated(pod, 5, 5) && generated(rs, 5, 10) => format!("{base}-*"),
        _ => name.to_string(),
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".into(),
        v => v.to_string(),
    }
}

fn object(v: &Value) -> String {
    let ns = v["namespace"]
        .as_str()
        .map(|n| format!("{n}/"))
        .unwrap_or_default();
    format!("{}/{ns}{}", s(&v["kind"]), norm(&s(&v["name"])))
}

fn field_line(prefix: &str, f: &Value) -> String {
    format!(
        "{prefix} {}: {} -> {}",
        s(&f["field"]),
        s(&f["before"]),
        s(&f["after"])
    )
}

fn workload_lines(w: &Value, out: &mut Vec<String>) {
    let o = object(&w["object"]);
    out.push(format!("workload {} {o}", s(&w["change"])));
    let prefix = format!("workload {o}");
    for k in ["revision", "replicas", "ready"] {
        if !w[k].is_null() {
            out.push(field_line(&prefix, &w[k]));
        }
    }
    for f in w["template"].as_array().into_iter().flatten() {
        out.push(field_line(&prefix, f));
    }
    for (k, label) in [
        ("pods_created", "pods created"),
        ("pods_deleted", "pods deleted"),
    ] {
        let n = w[k].as_array().map_or(0, Vec::len);
        if n > 0 {
            out.push(format!("{prefix} {label} {n}"));
        }
    }
    let mut grew: BTreeMap<String, i64> = BTreeMap::new();
    for r in w["restarts"].as_array().into_iter().flatten() {
        let by = r["after"].as_i64().unwrap_or(0) - r["before"].as_i64().unwrap_or(0);
        *grew.entry(s(&r["container"])).or_default() += by;
    }
    for (c, by) in grew {
        out.push(format!("{prefix} restarts {c} +{by}"));
    }
    for (k, label) in [
        ("started_crashing", "started crashing"),
        ("recovered", "recovered"),
    ] {
        for c in w[k].as_array().into_iter().flatten() {
            out.push(format!("{prefix} {label} {}", s(c)));
        }
    }
}

/// The diff as sorted fact lines (capacity and warnings left out).
fn lines(d: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for f in d["findings"].as_array().into_iter().flatten() {
        let root = if f["root"] == true {
            "root"
        } else {
            "consequence"
        };
        out.push(format!(
            "finding {} {} {} {root}",
            s(&f["change"]),
            s(&f["rule"]),
            norm(&s(&f["subject"]))
        ));
    }
    for w in d["workloads"].as_array().into_iter().flatten() {
        workload_lines(w, &mut out);
    }
    for c in d["config"].as_array().into_iter().flatten() {
        let same = |k: &str| {
            if c[k]["before"] == c[k]["after"] {
                "same"
            } else {
                "changed"
            }
        };
        let written = if c["written"].is_null() {
            "same"
        } else {
            "changed"
        };
        out.push(format!(
            "config {} {} content {} written {written} stale {}",
            s(&c["change"]),
            object(&c["object"]),
            same("content"),
            c["stale_pods"].as_array().map_or(0, Vec::len)
        ));
    }
    for n in d["nodes"].as_array().into_iter().flatten() {
        out.push(format!("node {} {}", s(&n["change"]), s(&n["name"])));
        if n["change"] == "changed" {
            for f in n["conditions"].as_array().into_iter().flatten() {
                out.push(field_line(&format!("node {}", s(&n["name"])), f));
            }
        }
    }
    let mut events: BTreeMap<String, i64> = BTreeMap::new();
    for e in d["events"].as_array().into_iter().flatten() {
        let k = format!(
            "event {} {} {}",
            s(&e["event_type"]),
            s(&e["reason"]),
            object(&e["object"])
        );
        *events.entry(k).or_default() += e["count"].as_i64().unwrap_or(0);
    }
    out.extend(events.into_iter().map(|(k, n)| format!("{k} x{n}")));
    for c in d["collection"].as_array().into_iter().flatten() {
        out.push(format!(
            "collection {} {}: {} -> {}",
            s(&c["what"]),
            s(&c["namespace"]),
            s(&c["before"]),
            s(&c["after"])
        ));
    }
    out.sort();
    out
}

fn expected(name: &str) -> Value {
    let path = pair(name).join("expected-diff.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected_lines(v: &Value) -> Vec<String> {
    let mut l: Vec<String> = v["lines"].as_array().into_iter().flatten().map(s).collect();
    l.sort();
    l
}

/// Capacity may only name nodes present in both snapshots.
fn check_capacity(d: &Value) {
    let gone: Vec<String> = d["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["change"] != "changed")
        .map(|n| s(&n["name"]))
        .collect();
    for c in d["capacity"].as_array().into_iter().flatten() {
        assert!(
            !gone.contains(&s(&c["node"])),
            "capacity of a node on one side only: {c}"
        );
    }
}

#[test]
fn each_pair_gives_exactly_its_expected_diff() {
    let mut problems = Vec::new();
    for name in PAIRS {
        let want = expected(name);
        let d = diff_json(&[&pair(name).join("before"), &pair(name).join("after")]);
        if d["verdict"]["text"] != want["verdict"] {
            problems.push(format!(
                "{name}: verdict {} != {}",
                d["verdict"]["text"], want["verdict"]
            ));
        }
        let (got, exp) = (lines(&d), expected_lines(&want));
        if got != exp {
            let extra: Vec<_> = got.iter().filter(|l| !exp.contains(l)).collect();
            let missing: Vec<_> = exp.iter().filter(|l| !got.contains(l)).collect();
            problems.push(format!(
                "{name}: unexpected {extra:#?}\nmissing {missing:#?}"
            ));
        }
        assert!(
            d["warnings"].as_array().is_some_and(Vec::is_empty),
            "{name}: {}",
            d["warnings"]
        );
        check_capacity(&d);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_snapshot_diffed_with_itself_is_empty() {
    for name in PAIRS {
        for side in ["before", "after"] {
            let p = pair(name).join(side);
            let d = diff_json(&[&p, &p]);
            assert_eq!(
                lines(&d)
                    .iter()
                    .filter(|l| !l.starts_with("finding persisting"))
                    .count(),
                0,
                "{name}/{side}: {:#?}",
                lines(&d)
            );
            assert!(
                d["capacity"].as_array().is_some_and(Vec::is_empty),
                "{name}/{side}"
            );
            assert!(
                d["verdict"]["resolved"] == 0 && d["verdict"]["new"] == 0,
                "{name}/{side}"
            );
        }
    }
}

/// A fact line as seen from the other side (a config line without its
/// stale pods, which are counted on the AFTER side only).
fn mirror(line: &str) -> String {
    if let Some((head, values)) = line.split_once(": ") {
        if let Some((before, after)) = values.split_once(" -> ") {
            return format!("{head}: {after} -> {before}");
        }
    }
    fn swap(w: &str) -> &str {
        match w {
            "resolved" => "new",
            "new" => "resolved",
            "added" => "removed",
            "removed" => "added",
            "created" => "deleted",
            "deleted" => "created",
            w => w,
        }
    }
    let words: Vec<&str> = line.split(' ').collect();
    let mut out: Vec<String> = words.iter().map(|w| swap(w).to_string()).collect();
    let text = out.join(" ");
    if let Some((head, c)) = text.split_once(" started crashing ") {
        return format!("{head} recovered {c}");
    }
    if let Some((head, c)) = text.split_once(" recovered ") {
        return format!("{head} started crashing {c}");
    }
    if out.first().is_some_and(|w| w == "config") {
        out.truncate(out.len().saturating_sub(2));
    }
    out.join(" ")
}

/// Lines with config stale counts dropped, for the mirror comparison.
fn without_stale(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .map(|l| match l.strip_prefix("config ") {
            Some(_) => l.rsplitn(3, ' ').nth(2).unwrap_or_default().to_string(),
            None => l,
        })
        .collect()
}

#[test]
fn swapped_snapshots_give_the_mirror_image() {
    for name in PAIRS {
        let (b, a) = (pair(name).join("before"), pair(name).join("after"));
        let forward = diff_json(&[&b, &a]);
        let backward = diff_json(&[&a, &b]);
        let mut want: Vec<String> = lines(&forward)
            .iter()
            .filter(|l| !l.starts_with("event "))
            .map(|l| mirror(l))
            .collect();
        want.sort();
        assert_eq!(without_stale(lines(&backward)), want, "{name}");
        let v = (&forward["verdict"], &backward["verdict"]);
        assert_eq!(
            (v.0["resolved"].clone(), v.0["new"].clone()),
            (v.1["new"].clone(), v.1["resolved"].clone()),
            "{name}"
        );
        assert!(
            backward["warnings"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|w| s(w).contains("reverse order")),
            "{name}: {}",
            backward["warnings"]
        );
    }
}

#[test]
fn a_series_tracks_each_incident_across_snapshots() {
    let want = &expected("secret-rotation")["series"];
    let dirs: Vec<PathBuf> = want["snapshots"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| pair("secret-rotation").join(s(n)))
        .collect();
    let refs: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let d = diff_json(&refs);
    assert_eq!(d["snapshots"].as_array().map(Vec::len), Some(3));
    assert_eq!(d["verdict"]["text"], want["verdict"]);
    assert_eq!(lines(&d), expected_lines(want));
    let tracks: Vec<String> = d["series"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let states: Vec<String> = t["states"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| if x.is_null() { "-".into() } else { s(x) })
                .collect();
            format!(
                "{} {} {}",
                s(&t["rule"]),
                norm(&s(&t["subject"])),
                states.join(" ")
            )
        })
        .collect();
    let want_tracks: Vec<String> = want["tracks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    assert_eq!(tracks, want_tracks);
}

#[test]
fn markdown_and_html_lead_with_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let (b, a) = (
        pair("bad-deploy-rollback").join("before"),
        pair("bad-deploy-rollback").join("after"),
    );
    for ext in ["md", "html"] {
        let out_file = dir.path().join(format!("diff.{ext}"));
        let out = analyze_s(&[
            "diff".as_ref(),
            b.as_os_str(),
            a.as_os_str(),
            "-o".as_ref(),
            out_file.as_os_str(),
        ]);
        assert_eq!(code(&out), EXIT_OK, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("fixed: 1 incident resolved, 0 new, 0 persisting"),
            "{}",
            stderr(&out)
        );
        let text = std::fs::read_to_string(&out_file).unwrap();
        let verdict = text.find("fixed: 1 incident resolved").expect("verdict");
        let findings = text.find("pod-crashloop").expect("findings");
        assert!(verdict < findings, "{ext}: the verdict comes first");
        assert!(
            text.contains("3.15.0") && text.contains("3.14.2"),
            "{ext}: the image change"
        );
        if ext == "html" {
            assert!(
                !text.contains("<script")
                    && !text.contains("http://")
                    && !text.contains("https://"),
                "self-contained"
            );
        }
    }
}

#[test]
fn a_missing_bundle_is_exit_3_naming_it() {
    let missing = kpm_e2e::testdata().join("no-such-bundle");
    let b = pair("hpa-scale-out").join("before");
    let out = analyze_s(&["diff".as_ref(), b.as_os_str(), missing.as_os_str()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-bundle"), "{}", stderr(&out));
}
