//! Where each file of `kubectl cluster-info dump --output-directory` goes in
//! a kpm bundle.
//!
//! kubectl writes `nodes.json` and, per namespace, `<ns>/events.json`,
//! `replication-controllers.json`, `services.json`, `daemonsets.json`,
//! `deployments.json`, `replicasets.json`, `pods.json` and
//! `<ns>/<pod>/logs.txt`, where the logs of every container are framed by
//! `==== START logs for container <c> of pod <ns>/<pod> ====` and `==== END
//! logs … ====` lines (and a failed fetch reads `Request log error: …`).
//! With `-o yaml` the lists are YAML and named `*.yaml` (kubectl picks the
//! extension from the output format); they are read through
//! [`super::yaml`], which goes by the content, not the name.
//! It has no previous logs, no Endpoints, no Ingresses, no HPAs, no
//! ConfigMaps or Secrets: those kinds are absent, so "not collected".

use super::Target;

/// File stems (`.json`, or `.yaml` with `-o yaml`) and kpm's plurals.
const NAMESPACED: &[(&str, &str)] = &[
    ("pods", "pods"),
    ("events", "events"),
    ("services", "services"),
    ("deployments", "deployments"),
    ("replicasets", "replicasets"),
    ("daemonsets", "daemonsets"),
];

/// The stem of a list file kubectl names after its output format.
fn list_stem(file: &str) -> Option<&str> {
    file.strip_suffix(".json")
        .or_else(|| file.strip_suffix(".yaml"))
}

/// Whether the paths look like a cluster-info dump: `nodes.json` at the top
/// and namespace folders holding `pods.json`.
pub fn looks_like(paths: &[String]) -> bool {
    paths.iter().any(|p| p == "nodes.json" || p == "nodes.yaml")
        && paths.iter().any(|p| {
            p.split_once('/')
                .is_some_and(|(_, f)| f == "pods.json" || f == "pods.yaml")
        })
}

/// The kpm destination of the file at `path`.
pub fn target(path: &str) -> Target {
    if path == "nodes.json" || path == "nodes.yaml" {
        return Target::List {
            plural: "nodes",
            namespace: None,
        };
    }
    match path.split('/').collect::<Vec<_>>()[..] {
        [ns, file] => match NAMESPACED.iter().find(|(f, _)| Some(*f) == list_stem(file)) {
            Some((_, plural)) => Target::List {
                plural,
                namespace: Some(ns.to_string()),
            },
            None => Target::Extra,
        },
        [ns, pod, "logs.txt"] => Target::FramedLogs {
            namespace: ns.to_string(),
            pod: pod.to_string(),
        },
        _ => Target::Extra,
    }
}

/// One container's part of a `logs.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLog {
    /// The container.
    pub container: String,
    /// The log text, or the error kubectl printed instead.
    pub content: Result<String, String>,
}

/// Splits a `logs.txt` into its containers' logs.
pub fn split_framed_logs(text: &str) -> Vec<ContainerLog> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if let Some(rest) = bare.strip_prefix("==== START logs for container ") {
            let container = rest.split(" of pod ").next().unwrap_or("").to_string();
            current = Some((container, String::new()));
            continue;
        }
        if bare.starts_with("==== END logs for container ") {
            if let Some((container, body)) = current.take() {
                out.push(finish(container, body));
            }
            continue;
        }
        if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
        }
    }
    if let Some((container, body)) = current {
        out.push(finish(container, body));
    }
    out
}

fn finish(container: String, body: String) -> ContainerLog {
    let trimmed = body.trim_end();
    let content = match trimmed.strip_prefix("Request log error: ") {
        Some(error) if !trimmed.contains('\n') => Err(error.to_string()),
        _ => Ok(body),
    };
    ContainerLog { container, content }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_map_to_kinds_and_logs() {
        assert_eq!(
            target("kube-system/pods.json"),
            Target::List {
                plural: "pods",
                namespace: Some("kube-system".into())
            }
        );
        assert_eq!(
            target("kube-system/replication-controllers.json"),
            Target::Extra
        );
        assert_eq!(
            target("kube-system/events.yaml"),
            Target::List {
                plural: "events",
                namespace: Some("kube-system".into())
            }
        );
        assert_eq!(
            target("nodes.yaml"),
            Target::List {
                plural: "nodes",
                namespace: None
            }
        );
        assert_eq!(
            target("default/web-1/logs.txt"),
            Target::FramedLogs {
                namespace: "default".into(),
                pod: "web-1".into()
            }
        );
        let paths = vec!["nodes.json".to_string(), "default/pods.json".to_string()];
        assert!(looks_like(&paths));
        assert!(!looks_like(&paths[..1]));
    }

    #[test]
    fn framed_logs_split_per_container_and_errors_recognised() {
        let text = "==== START logs for container app of pod shop/web-1 ====\nline 1\nline 2\n==== END logs for container app of pod shop/web-1 ====\n==== START logs for container proxy of pod shop/web-1 ====\nRequest log error: an error on the server (\"unknown\") has prevented the request from succeeding (get pods web-1)\n==== END logs for container proxy of pod shop/web-1 ====\n";
        let logs = split_framed_logs(text);
        assert_eq!(logs.len(), 2);
        assert_eq!(logs[0].container, "app");
        assert_eq!(logs[0].content, Ok("line 1\nline 2\n".to_string()));
        assert_eq!(logs[1].container, "proxy");
        assert!(logs[1]
            .content
            .as_ref()
            .is_err_and(|e| e.starts_with("an error on the server")));
    }
}
