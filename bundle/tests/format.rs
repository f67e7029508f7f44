//! Round trips and damage handling of the bundle format.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{TimeZone, Utc};
use kpm_bundle::manifest::{Collection, CollectionOptions, CollectionScope, Tool};
use kpm_bundle::{Bundle, BundleError, BundleWriter, Manifest, Outcome, Step};
use serde_json::{json, Value};

fn manifest() -> Manifest {
    Manifest {
        format_version: 0,
        tool: Tool {
            name: "kpm-test".into(),
            version: "0.0.0".into(),
        },
        collection: Collection {
            started_at: Utc.with_ymd_and_hms(2026, 11, 20, 14, 31, 58).unwrap(),
            finished_at: Utc.with_ymd_and_hms(2026, 11, 20, 14, 32, 10).unwrap(),
            interrupted: false,
            timed_out: false,
        },
        cluster: Default::default(),
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
        steps: vec![
            Step::new("pods", Outcome::Ok),
            Step::new("secrets", Outcome::Forbidden),
        ],
        redaction: BTreeMap::from([("jwt".to_string(), 2)]),
        files: BTreeMap::new(),
    }
}

fn pod(name: &str) -> Value {
    json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": "shop"}, "status": {"phase": "Running"}})
}

fn write_sample(mut w: BundleWriter) -> std::path::PathBuf {
    let mut list = w
        .start_list("namespaces/shop/pods.json", "PodList", "v1", Some("4711"))
        .unwrap();
    list.push(&pod("web-1")).unwrap();
    list.push_raw(pod("web-2").to_string().as_bytes()).unwrap();
    assert_eq!(list.count(), 2);
    list.finish().unwrap();
    w.write_json("cluster/version.json", &json!({"gitVersion": "v1.33.2"}))
        .unwrap();
    w.write_entry("logs/shop/web-1/app.log", b"started\nlistening on :8080\n")
        .unwrap();
    w.finish(manifest()).unwrap()
}

fn check_sample(bundle: &Bundle) {
    assert!(bundle.verify().is_empty(), "{:?}", bundle.verify());
    let pods: kpm_bundle::List<Value> = bundle.read_list("namespaces/shop/pods.json").unwrap();
    assert_eq!(pods.kind, "PodList");
    assert_eq!(pods.metadata["resourceVersion"], "4711");
    let names: Vec<&str> = pods
        .items
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["web-1", "web-2"]);
    assert_eq!(
        bundle.read_string("logs/shop/web-1/app.log").unwrap(),
        "started\nlistening on :8080\n"
    );
    assert_eq!(bundle.namespaces(), ["shop"]);
    assert_eq!(
        bundle.pod_logs("shop", "web-1"),
        vec![(
            "app".to_string(),
            false,
            "logs/shop/web-1/app.log".to_string()
        )]
    );
    let m = bundle.manifest();
    assert_eq!(m.format_version, 1);
    assert_eq!(m.files.len(), 3);
    assert_eq!(m.outcome_of("secrets", None), Some(Outcome::Forbidden));
    assert_eq!(m.redaction.get("jwt"), Some(&2));
}

#[test]
fn zip_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.zip");
    let out = write_sample(BundleWriter::create_zip(&path, false).unwrap());
    assert_eq!(out, path);
    // Only the finished bundle: the temporary file was renamed into place.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("b.zip")]);
    check_sample(&Bundle::open(&path).unwrap());
}

/// A stored (uncompressed) zip reads back the same, verifies, and really
/// stores its entries: the private zip a foreign capture is converted into.
#[test]
fn stored_zip_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.zip");
    let w = BundleWriter::create_zip(&path, false)
        .unwrap()
        .with_compression(kpm_bundle::writer::Compression::Stored);
    write_sample(w);
    let bundle = Bundle::open(&path).unwrap();
    check_sample(&bundle);
    assert!(bundle.verify().is_empty());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    for i in 0..zip.len() {
        let entry = zip.by_index(i).unwrap();
        assert_eq!(
            entry.compression(),
            zip::CompressionMethod::Stored,
            "{:?}",
            entry.name()
        );
    }
}

#[test]
fn directory_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b");
    write_sample(BundleWriter::create_dir(&path, false).unwrap());
    check_sample(&Bundle::open(&path).unwrap());
}

#[test]
fn existing_output_is_not_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.zip");
    std::fs::write(&path, b"keep me").unwrap();
    let err = BundleWriter::create_zip(&path, false).err().unwrap();
    assert!(matches!(err, BundleError::AlreadyExists { .. }));
    assert!(err.to_string().contains("--force"));
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
}

#[test]
fn unfinished_bundle_never_appears_under_its_final_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.zip");
    {
        let mut w = BundleWriter::create_zip(&path, false).unwrap();
        w.write_entry("logs/a/b/c.log", b"x").unwrap();
    }
    assert!(!path.exists());
}

#[test]
fn corrupt_zip_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.zip");
    std::fs::write(&path, b"PK\x03\x04 this is not really a zip").unwrap();
    let err = Bundle::open(&path).err().unwrap();
    assert!(matches!(err, BundleError::CorruptZip { .. }), "{err}");
    assert!(err.to_string().contains("bad.zip"));
}

#[test]
fn missing_manifest_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nomanifest.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    zip.start_file(
        "cluster/nodes.json",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(b"{}").unwrap();
    zip.finish().unwrap();
    let err = Bundle::open(&path).err().unwrap();
    assert!(matches!(err, BundleError::MissingManifest { .. }), "{err}");
    assert!(err.to_string().contains("manifest.json"));
}

#[test]
fn truncated_json_and_checksum_mismatch_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b");
    write_sample(BundleWriter::create_dir(&path, false).unwrap());
    let pods = path.join("namespaces/shop/pods.json");
    let text = std::fs::read(&pods).unwrap();
    std::fs::write(&pods, &text[..text.len() / 2]).unwrap();

    let bundle = Bundle::open(&path).unwrap();
    let err = bundle
        .read_list::<Value>("namespaces/shop/pods.json")
        .err()
        .unwrap();
    assert!(matches!(err, BundleError::TruncatedJson { .. }), "{err}");
    assert!(err
        .to_string()
        .starts_with("namespaces/shop/pods.json: truncated JSON"));

    let problems = bundle.verify();
    assert_eq!(problems.len(), 1);
    assert!(
        matches!(&problems[0], BundleError::ChecksumMismatch { file, .. } if file == "namespaces/shop/pods.json")
    );
    // The rest of the bundle is still readable.
    assert!(bundle.read_string("logs/shop/web-1/app.log").is_ok());
}

#[test]
fn malformed_json_and_missing_listed_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b");
    write_sample(BundleWriter::create_dir(&path, false).unwrap());
    std::fs::write(path.join("cluster/version.json"), b"{\"gitVersion\": v1}").unwrap();
    std::fs::remove_file(path.join("logs/shop/web-1/app.log")).unwrap();
    let bundle = Bundle::open(&path).unwrap();
    let err = bundle
        .read_json::<Value>("cluster/version.json")
        .err()
        .unwrap();
    assert!(
        matches!(err, BundleError::MalformedJson { line: 1, .. }),
        "{err}"
    );
    let err = bundle.read_string("logs/shop/web-1/app.log").err().unwrap();
    assert!(matches!(err, BundleError::MissingFile { .. }));
    let problems: Vec<String> = bundle.verify().iter().map(ToString::to_string).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("logs/shop/web-1/app.log: listed in manifest.json but missing")),
        "{problems:?}"
    );
}

#[test]
fn unknown_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b");
    write_sample(BundleWriter::create_dir(&path, false).unwrap());
    let mpath = path.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m["formatVersion"] = json!(7);
    std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
    let err = Bundle::open(&path).err().unwrap();
    assert!(
        matches!(
            err,
            BundleError::UnsupportedVersion {
                found: 7,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("format version 7"));
}

#[test]
fn unsafe_entry_paths_are_refused_by_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = BundleWriter::create_dir(dir.path().join("b"), false).unwrap();
    for bad in [
        "../escape.json",
        "/abs.json",
        "manifest.json",
        "logs/a//b.log",
    ] {
        assert!(
            matches!(
                w.write_entry(bad, b"x"),
                Err(BundleError::UnsafePath { .. })
            ),
            "{bad}"
        );
    }
    w.write_entry("logs/a/b/c.log", b"x").unwrap();
    assert!(matches!(
        w.write_entry("logs/a/b/c.log", b"y"),
        Err(BundleError::DuplicateEntry { .. })
    ));
}

#[test]
fn a_symlink_planted_at_the_destination_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("bashrc");
    std::fs::write(&victim, "export PS1=safe\n").unwrap();
    let planted = dir.path().join("incident.zip");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    for overwrite in [false, true] {
        let refused = BundleWriter::create_zip(&planted, overwrite);
        assert!(refused.is_err(), "overwrite={overwrite}");
    }
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "export PS1=safe\n"
    );
    // Nothing else was created next to it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}
