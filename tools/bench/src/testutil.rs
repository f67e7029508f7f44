//! Test helpers: a valid manifest for bundles written in tests, scratch
//! directories.

use kpm_bundle::Manifest;
use serde_json::json;

/// A manifest as `kpm-collect` writes it for a full-cluster collection.
pub fn manifest() -> Manifest {
    serde_json::from_value(json!({
        "formatVersion": 1,
        "tool": {"name": "kpm-collect", "version": "0.1.0"},
        "collection": {"startedAt": "2026-11-20T14:31:58Z", "finishedAt": "2026-11-20T14:32:10Z", "interrupted": false, "timedOut": false},
        "cluster": {"serverVersion": "v1.33.2", "context": "prod-eu", "name": "prod-eu"},
        "scope": {"allNamespaces": true, "namespaces": []},
        "options": {"logLines": 500, "logBytes": 262144, "redaction": true, "redactConfigMaps": false},
        "steps": [], "redaction": {}, "files": {}
    }))
    .expect("test manifest matches kpm_bundle::Manifest")
}

/// A fresh empty directory under the system temp dir for one test.
pub fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kpm-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir is writable");
    d
}
