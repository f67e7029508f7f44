//! The kubeconfig that points kubectl at the snapshot server.
//!
//! Cluster, context and user are named after the bundle's cluster and
//! context, so `kubectl config current-context` tells which snapshot a shell
//! is looking at. The user carries no credentials: the server is plain HTTP
//! on loopback and needs none.

use std::path::{Path, PathBuf};

use kpm_bundle::Manifest;

/// Names used in the kubeconfig: (cluster, context).
pub fn names(manifest: &Manifest) -> (String, String) {
    let context = manifest
        .cluster
        .context
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "kpm-snapshot".to_string());
    let cluster = manifest
        .cluster
        .name
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| context.clone());
    (cluster, context)
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML), so names
/// with `:` or `#` stay names.
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The kubeconfig text for a server at `server` (`http://127.0.0.1:PORT`).
pub fn render(manifest: &Manifest, server: &str) -> String {
    let (cluster, context) = names(manifest);
    let (cluster, context, server) = (quote(&cluster), quote(&context), quote(server));
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {cluster}\n  \
           cluster:\n    \
             server: {server}\n\
         contexts:\n\
         - name: {context}\n  \
           context:\n    \
             cluster: {cluster}\n    \
             user: {context}\n\
         current-context: {context}\n\
         users:\n\
         - name: {context}\n  \
           user: {{}}\n\
         preferences: {{}}\n"
    )
}

/// Where the kubeconfig goes when `--kubeconfig` is not given: next to the
/// bundle (`<bundle>.kubeconfig`) when that directory is writable, else in
/// the temp directory.
pub fn default_path(bundle: &Path, port: u16) -> PathBuf {
    // `components()` drops a trailing `/`, so a bundle directory given as
    // `testdata/x/` gets `testdata/x.kubeconfig`, not a file inside it.
    let mut beside = bundle.components().as_path().as_os_str().to_os_string();
    beside.push(".kubeconfig");
    let beside = PathBuf::from(beside);
    let parent_writable = beside
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .and_then(|p| std::fs::metadata(p).ok())
        .is_some_and(|m| !m.permissions().readonly());
    if parent_writable {
        beside
    } else {
        std::env::temp_dir().join(format!("kpm-serve-{port}.kubeconfig"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(context: Option<&str>, name: Option<&str>) -> Manifest {
        let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        Manifest {
            format_version: 1,
            tool: kpm_bundle::manifest::Tool {
                name: "kpm-collect".into(),
                version: "0.1.0".into(),
            },
            collection: kpm_bundle::manifest::Collection {
                started_at: epoch,
                finished_at: epoch,
                interrupted: false,
                timed_out: false,
            },
            cluster: kpm_bundle::manifest::ClusterInfo {
                server_version: Some("v1.33.1".into()),
                context: context.map(str::to_string),
                name: name.map(str::to_string),
            },
            scope: Default::default(),
            options: Default::default(),
            steps: vec![],
            redaction: Default::default(),
            files: Default::default(),
        }
    }

    #[test]
    fn names_follow_the_manifest() {
        assert_eq!(
            names(&manifest(Some("prod-eu"), None)),
            ("prod-eu".into(), "prod-eu".into())
        );
        assert_eq!(
            names(&manifest(Some("admin@prod"), Some("prod"))),
            ("prod".into(), "admin@prod".into())
        );
        assert_eq!(names(&manifest(None, None)).1, "kpm-snapshot");
    }

    #[test]
    fn default_path_is_beside_the_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("incident-42");
        std::fs::create_dir(&bundle).unwrap();
        let with_slash = PathBuf::from(format!("{}/", bundle.display()));
        assert_eq!(
            default_path(&with_slash, 8080),
            dir.path().join("incident-42.kubeconfig")
        );
        assert_eq!(
            default_path(&dir.path().join("b.zip"), 8080),
            dir.path().join("b.zip.kubeconfig")
        );
    }

    #[test]
    fn rendered_config_is_quoted() {
        let text = render(
            &manifest(Some("arn:aws:eks:eu-west-1:1:cluster/x"), None),
            "http://127.0.0.1:4567",
        );
        assert!(text.contains("server: \"http://127.0.0.1:4567\""));
        assert!(text.contains("current-context: \"arn:aws:eks:eu-west-1:1:cluster/x\""));
        assert!(text.contains("\n  cluster:\n    server:"));
    }
}
