//! The reader against bundles an attacker writes: budgets passed while
//! inflating, overlapping and duplicate zip entries, links and special
//! files in bundle directories, oversized manifests. Each is refused or
//! cut with an error naming the file and the budget, never a panic.

use std::path::{Path, PathBuf};

use kpm_bundle::{Budget, Budgets, Bundle, BundleError, Refusal};
use kpm_e2e::rawzip::{Deflate, RawZip};

const MIB: u64 = 1 << 20;

fn manifest_json() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "formatVersion": 1,
        "tool": {"name": "kpm-test", "version": "0"},
        "collection": {"startedAt": "2026-11-20T14:31:58Z", "finishedAt": "2026-11-20T14:32:10Z"},
        "cluster": {},
        "scope": {"allNamespaces": true},
        "options": {"redaction": true}
    }))
    .unwrap()
}

fn zip_with(dir: &Path, build: impl FnOnce(&mut RawZip<std::fs::File>)) -> PathBuf {
    let path = dir.join("b.zip");
    let mut z = RawZip::new(std::fs::File::create(&path).unwrap());
    z.stored("manifest.json", &manifest_json()).unwrap();
    build(&mut z);
    z.finish().unwrap();
    path
}

fn over_budget(err: &BundleError) -> Option<Budget> {
    match err {
        BundleError::OverBudget { exceeded, .. } => Some(exceeded.budget),
        _ => None,
    }
}

#[test]
fn entries_sharing_one_stream_are_refused_not_inflated() {
    let tmp = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; MIB as usize];
    let stream = Deflate::default().then(&zeros, 64);
    let path = zip_with(tmp.path(), |z| {
        let shared = z.deflated("namespaces/ns0/pods.json", &stream).unwrap();
        for i in 1..50 {
            z.record(&format!("namespaces/ns{i}/pods.json"), &shared);
        }
    });
    let bundle = Bundle::open(&path).unwrap();
    let problems = bundle.problems();
    assert_eq!(problems.len(), 50, "{problems:?}");
    for i in 0..50 {
        let file = format!("namespaces/ns{i}/pods.json");
        let err = bundle.read_bytes(&file).unwrap_err();
        assert!(
            matches!(
                &err,
                BundleError::Refused {
                    reason: Refusal::Overlapping { .. },
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().starts_with(&file), "{err}");
        assert!(err.to_string().contains("zip-bomb"), "{err}");
    }
    // The manifest is not part of the overlap.
    assert_eq!(bundle.manifest().tool.name, "kpm-test");
}

#[test]
fn duplicate_names_are_refused_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let path = zip_with(tmp.path(), |z| {
        z.stored("namespaces/shop/pods.json", br#"{"items":[]}"#)
            .unwrap();
        z.stored("namespaces/shop/pods.json", br#"{"items":[{"x":1}]}"#)
            .unwrap();
        z.stored("namespaces/shop/events.json", br#"{"items":null}"#)
            .unwrap();
    });
    let bundle = Bundle::open(&path).unwrap();
    let err = bundle.read_bytes("namespaces/shop/pods.json").unwrap_err();
    assert!(
        matches!(
            &err,
            BundleError::Refused {
                reason: Refusal::Duplicate { copies: 2 },
                ..
            }
        ),
        "{err}"
    );
    let problems: Vec<String> = bundle.problems().iter().map(ToString::to_string).collect();
    assert_eq!(problems, vec![err.to_string()]);
    // `"items": null` is an empty list, not damage.
    let events: kpm_bundle::List<serde_json::Value> =
        bundle.read_list("namespaces/shop/events.json").unwrap();
    assert!(events.items.is_empty());
}

#[test]
fn a_duplicated_manifest_makes_the_bundle_unreadable() {
    let tmp = tempfile::tempdir().unwrap();
    let path = zip_with(tmp.path(), |z| {
        z.stored("manifest.json", &manifest_json()).unwrap();
    });
    let err = Bundle::open(&path).err().unwrap();
    assert!(
        matches!(&err, BundleError::Refused { file, .. } if file == "manifest.json"),
        "{err}"
    );
}

#[test]
fn inflating_stops_at_the_entry_ratio_and_total_budgets() {
    let tmp = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; MIB as usize];
    let bomb = Deflate::default().then(&zeros, 64);
    let path = zip_with(tmp.path(), |z| {
        z.deflated("namespaces/a/pods.json", &bomb).unwrap();
        z.deflated("namespaces/b/pods.json", &bomb).unwrap();
    });
    let entry = Budgets {
        max_entry_bytes: 8 * MIB,
        ..Budgets::default()
    };
    let err = Bundle::open_with(&path, entry)
        .unwrap()
        .read_bytes("namespaces/a/pods.json")
        .unwrap_err();
    assert_eq!(over_budget(&err), Some(Budget::EntryBytes), "{err}");
    assert!(err.to_string().contains("--max-entry-bytes"), "{err}");

    // 64 MiB from about 64 KB is near 1000:1.
    let err = Bundle::open(&path)
        .unwrap()
        .read_bytes("namespaces/a/pods.json")
        .unwrap_err();
    assert_eq!(over_budget(&err), Some(Budget::Ratio), "{err}");

    let total = Budgets {
        max_ratio: 2000,
        max_total_bytes: 100 * MIB,
        ..Budgets::default()
    };
    let bundle = Bundle::open_with(&path, total).unwrap();
    assert_eq!(
        bundle.read_bytes("namespaces/a/pods.json").unwrap().len(),
        64 << 20
    );
    let err = bundle.read_bytes("namespaces/b/pods.json").unwrap_err();
    assert_eq!(over_budget(&err), Some(Budget::TotalBytes), "{err}");
}

#[test]
fn entry_count_and_manifest_size_are_checked_before_reading() {
    let tmp = tempfile::tempdir().unwrap();
    let path = zip_with(tmp.path(), |z| {
        for i in 0..10 {
            z.stored(&format!("logs/ns/p{i}/c.log"), b"x\n").unwrap();
        }
    });
    let few = Budgets {
        max_entries: 5,
        ..Budgets::default()
    };
    let err = Bundle::open_with(&path, few).err().unwrap();
    assert_eq!(over_budget(&err), Some(Budget::Entries), "{err}");
    assert!(err.to_string().contains("--max-entries"), "{err}");
    let small = Budgets {
        max_manifest_bytes: 50,
        ..Budgets::default()
    };
    let err = Bundle::open_with(&path, small).err().unwrap();
    assert_eq!(over_budget(&err), Some(Budget::ManifestBytes), "{err}");
}

#[test]
fn logs_stream_within_the_log_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = Vec::new();
    for i in 0..200_000 {
        text.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    let path = zip_with(tmp.path(), |z| {
        z.stored("logs/ns/p/c.log", &text).unwrap();
    });
    let budgets = Budgets {
        max_log_bytes: 100_000,
        ..Budgets::default()
    };
    let bundle = Bundle::open_with(&path, budgets).unwrap();
    let err = bundle
        .stream_log("logs/ns/p/c.log", |r| {
            let mut n = 0;
            while !r.fill_buf()?.is_empty() {
                let len = r.fill_buf()?.len();
                r.consume(len);
                n += len;
            }
            Ok(n)
        })
        .unwrap_err();
    assert_eq!(over_budget(&err), Some(Budget::LogBytes), "{err}");
    // The whole file is still readable within the entry budget.
    assert_eq!(bundle.read_bytes("logs/ns/p/c.log").unwrap(), text);
}

#[cfg(unix)]
#[test]
fn links_and_special_files_in_a_directory_are_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("bundle");
    std::fs::create_dir_all(root.join("namespaces/shop")).unwrap();
    std::fs::create_dir_all(root.join("logs/shop/web")).unwrap();
    std::fs::write(root.join("manifest.json"), manifest_json()).unwrap();
    let secret = tmp.path().join("outside.json");
    std::fs::write(&secret, br#"{"items":[{"secret":"outside the bundle"}]}"#).unwrap();
    std::os::unix::fs::symlink(&secret, root.join("namespaces/shop/pods.json")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), root.join("namespaces/linked-dir")).unwrap();
    let _socket =
        std::os::unix::net::UnixListener::bind(root.join("logs/shop/web/app.log")).unwrap();

    let bundle = Bundle::open(&root).unwrap();
    let pods = bundle.read_bytes("namespaces/shop/pods.json").unwrap_err();
    assert!(
        matches!(
            &pods,
            BundleError::Refused {
                reason: Refusal::Symlink,
                ..
            }
        ),
        "{pods}"
    );
    let log = bundle.read_bytes("logs/shop/web/app.log").unwrap_err();
    assert!(
        matches!(
            &log,
            BundleError::Refused {
                reason: Refusal::NotRegularFile,
                ..
            }
        ),
        "{log}"
    );
    // A linked directory is listed as refused, never walked.
    assert!(!bundle.entries().any(|e| e.contains("outside")));
    assert_eq!(bundle.problems().len(), 3, "{:?}", bundle.problems());
}

#[test]
fn directory_entries_have_the_same_budgets() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("bundle");
    std::fs::create_dir_all(root.join("namespaces/shop")).unwrap();
    std::fs::write(root.join("manifest.json"), manifest_json()).unwrap();
    std::fs::write(root.join("namespaces/shop/pods.json"), vec![b' '; 4096]).unwrap();
    let budgets = Budgets {
        max_entry_bytes: 1000,
        ..Budgets::default()
    };
    let bundle = Bundle::open_with(&root, budgets).unwrap();
    let err = bundle.read_bytes("namespaces/shop/pods.json").unwrap_err();
    assert_eq!(over_budget(&err), Some(Budget::EntryBytes), "{err}");
    let few = Budgets {
        max_entries: 1,
        ..Budgets::default()
    };
    let err = Bundle::open_with(&root, few).err().unwrap();
    assert_eq!(over_budget(&err), Some(Budget::Entries), "{err}");
}

#[test]
fn verify_names_unlisted_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let path = zip_with(tmp.path(), |z| {
        z.stored("namespaces/shop/pods.json", br#"{"items":[]}"#)
            .unwrap();
    });
    let bundle = Bundle::open(&path).unwrap();
    let problems = bundle.verify();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        matches!(&problems[0], BundleError::Unlisted { file } if file == "namespaces/shop/pods.json"),
        "{}",
        problems[0]
    );
}
