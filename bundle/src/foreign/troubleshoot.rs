//! Where each file of a Replicated troubleshoot support bundle goes in a
//! kpm bundle.
//!
//! troubleshoot's `clusterResources` collector writes
//! `cluster-resources/<resource>/<namespace>.json` for namespaced kinds and
//! `cluster-resources/<resource>.json` for cluster kinds, with the errors of
//! a resource in `<resource>-errors.json` (a file, or since 2024 a folder
//! with one file per namespace); `cluster-info/cluster_version.json` wraps
//! `/version` in `{"info": …, "string": …}`; container logs are
//! `cluster-resources/pods/logs/<ns>/<pod>/<container>.log` and
//! `<container>-previous.log`; `node-metrics/<node>.json` holds each
//! node's kubelet Summary API ([`super::node_metrics`]); `logs` collectors write
//! `<collector name>/<pod>/<container>.log` (no namespace: resolved from the
//! pod lists).

use super::Target;

/// troubleshoot's folder names for the kinds kpm stores, and kpm's plural
/// (the `CLUSTER_RESOURCES_*` constants of troubleshoot's
/// `pkg/constants/constants.go`). troubleshoot does not collect webhook
/// configurations or Secrets (only `image-pull-secrets`, which are not
/// lists).
const NAMESPACED: &[(&str, &str)] = &[
    ("pods", "pods"),
    ("events", "events"),
    ("services", "services"),
    ("endpoints", "endpoints"),
    ("endpointslices", "endpointslices"),
    ("ingress", "ingresses"),
    ("horizontalpodautoscalers", "horizontalpodautoscalers"),
    ("deployments", "deployments"),
    ("replicasets", "replicasets"),
    ("statefulsets", "statefulsets"),
    ("daemonsets", "daemonsets"),
    ("jobs", "jobs"),
    ("configmaps", "configmaps"),
    ("pvcs", "persistentvolumeclaims"),
    ("cronjobs", "cronjobs"),
    ("pod-disruption-budgets", "poddisruptionbudgets"),
    ("network-policy", "networkpolicies"),
    // `resource-quota` today; troubleshoot v0.50 wrote `resource-quotas`
    // (the corpus's k3d 1.24 archive of 2022).
    ("resource-quota", "resourcequotas"),
    ("resource-quotas", "resourcequotas"),
    ("limitranges", "limitranges"),
];

/// troubleshoot's file names for the cluster kinds kpm stores.
const CLUSTER: &[(&str, &str)] = &[
    ("nodes", "nodes"),
    ("namespaces", "namespaces"),
    ("pvs", "persistentvolumes"),
    ("ingressclasses", "ingressclasses"),
    ("storage-classes", "storageclasses"),
    ("priorityclasses", "priorityclasses"),
    ("volumeattachments", "volumeattachments"),
];

/// troubleshoot's name for kpm's resource `plural`: the folder of a
/// namespaced kind (`cluster-resources/<name>/<ns>.json`) or the file stem
/// of a cluster kind (`cluster-resources/<name>.json`); the inverse of
/// [`target`], for writers of troubleshoot's layout (the benchmark).
/// `None` for kinds troubleshoot does not collect (Secrets).
pub fn resource_name(plural: &str) -> Option<&'static str> {
    NAMESPACED
        .iter()
        .chain(CLUSTER)
        .find(|(_, p)| *p == plural)
        .map(|(name, _)| *name)
}

/// Whether the paths look like a troubleshoot support bundle.
pub fn looks_like(paths: &[String]) -> bool {
    paths
        .iter()
        .any(|p| p.starts_with("cluster-resources/") || p == "cluster-resources/")
}

/// The kpm destination of the file at `path` (relative to the bundle root).
pub fn target(path: &str) -> Target {
    if path == "version.yaml" {
        return Target::ToolVersion;
    }
    if path == "cluster-info/cluster_version.json" {
        return Target::ServerVersion;
    }
    if let Some(file) = path.strip_prefix("node-metrics/") {
        if file.ends_with(".json") && !file.contains('/') && file != "errors.json" {
            return Target::NodeMetrics;
        }
    }
    let Some(rest) = path.strip_prefix("cluster-resources/") else {
        return log_collector_file(path).unwrap_or(Target::Extra);
    };
    if let Some(log) = rest.strip_prefix("pods/logs/") {
        return pod_log(log).unwrap_or(Target::Extra);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        [file] => {
            if let Some(kind) = file.strip_suffix("-errors.json") {
                return errors(kind, None);
            }
            let Some(name) = file.strip_suffix(".json") else {
                return Target::Extra;
            };
            match lookup(CLUSTER, name) {
                Some(plural) => Target::List {
                    plural,
                    namespace: None,
                },
                None => Target::Extra,
            }
        }
        [dir, file] => {
            let Some(ns) = file.strip_suffix(".json") else {
                return Target::Extra;
            };
            if let Some(kind) = dir.strip_suffix("-errors.json") {
                return errors(kind, Some(ns));
            }
            match lookup(NAMESPACED, dir) {
                Some(plural) => Target::List {
                    plural,
                    namespace: Some(ns.to_string()),
                },
                None => Target::Extra,
            }
        }
        _ => Target::Extra,
    }
}

fn errors(kind: &str, namespace: Option<&str>) -> Target {
    let plural = lookup(NAMESPACED, kind).or_else(|| lookup(CLUSTER, kind));
    match plural {
        Some(plural) => Target::Errors {
            plural,
            namespace: namespace.map(str::to_string),
        },
        None => Target::Extra,
    }
}

fn lookup(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table.iter().find(|(t, _)| *t == name).map(|(_, k)| *k)
}

/// `<ns>/<pod>/<container>.log` or `…-previous.log`.
fn pod_log(rest: &str) -> Option<Target> {
    let [ns, pod, file] = rest.split('/').collect::<Vec<_>>()[..] else {
        return None;
    };
    let (container, previous) = log_name(file)?;
    Some(Target::Log {
        namespace: Some(ns.to_string()),
        pod: pod.to_string(),
        container,
        previous,
        preferred: true,
    })
}

/// `<collector>/<pod>/<container>.log` written by a `logs` collector (also
/// `all-logs/…`): the namespace is resolved from the pod lists later, and a
/// log of the same container from `cluster-resources/pods/logs` wins.
fn log_collector_file(path: &str) -> Option<Target> {
    let [_collector, pod, file] = path.split('/').collect::<Vec<_>>()[..] else {
        return None;
    };
    let (container, previous) = log_name(file)?;
    Some(Target::Log {
        namespace: None,
        pod: pod.to_string(),
        container,
        previous,
        preferred: false,
    })
}

fn log_name(file: &str) -> Option<(String, bool)> {
    let stem = file.strip_suffix(".log")?;
    Some(match stem.strip_suffix("-previous") {
        Some(c) => (c.to_string(), true),
        None => (stem.to_string(), false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(plural: &'static str, ns: Option<&str>) -> Target {
        Target::List {
            plural,
            namespace: ns.map(str::to_string),
        }
    }

    #[test]
    fn resource_files_map_to_kpm_kinds() {
        assert_eq!(
            target("cluster-resources/pods/default.json"),
            list("pods", Some("default"))
        );
        assert_eq!(
            target("cluster-resources/ingress/shop.json"),
            list("ingresses", Some("shop"))
        );
        assert_eq!(
            target("cluster-resources/pvcs/kube-system.json"),
            list("persistentvolumeclaims", Some("kube-system"))
        );
        assert_eq!(target("cluster-resources/nodes.json"), list("nodes", None));
        assert_eq!(
            target("cluster-resources/pvs.json"),
            list("persistentvolumes", None)
        );
        assert_eq!(
            target("cluster-resources/roles/default.json"),
            Target::Extra
        );
        assert_eq!(
            target("cluster-resources/custom-resources/x.y/ns.yaml"),
            Target::Extra
        );
        assert_eq!(target("version.yaml"), Target::ToolVersion);
        assert_eq!(target("node-metrics/b9aead2c1.json"), Target::NodeMetrics);
        assert_eq!(target("node-metrics/errors.json"), Target::Extra);
        assert_eq!(
            target("cluster-info/cluster_version.json"),
            Target::ServerVersion
        );
    }

    #[test]
    fn resource_names_invert_the_mapping() {
        for kind in crate::layout::all_kinds() {
            let Some(name) = resource_name(kind.plural) else {
                // troubleshoot's clusterResources collector lists neither
                // Secrets nor webhook configurations, so converted bundles
                // say "not collected" for them.
                let unmapped = [
                    "secrets",
                    "validatingwebhookconfigurations",
                    "mutatingwebhookconfigurations",
                ];
                assert!(unmapped.contains(&kind.plural), "{}", kind.plural);
                continue;
            };
            let path = match kind.path(Some("shop")) {
                Some(p) if p.starts_with("namespaces/") => {
                    format!("cluster-resources/{name}/shop.json")
                }
                _ => format!("cluster-resources/{name}.json"),
            };
            let namespace = path.contains("/shop.json").then(|| "shop".to_string());
            assert_eq!(
                target(&path),
                Target::List {
                    plural: kind.plural,
                    namespace
                },
                "{path}"
            );
        }
        assert_eq!(resource_name("ingresses"), Some("ingress"));
        assert_eq!(resource_name("persistentvolumes"), Some("pvs"));
        assert_eq!(resource_name("resourcequotas"), Some("resource-quota"));
    }

    /// The names troubleshoot writes for the kinds around the workloads
    /// (#18), as found in the corpus archives.
    #[test]
    fn names_of_the_kinds_around_the_workloads() {
        let namespaced = [
            ("cronjobs", "cronjobs"),
            ("pod-disruption-budgets", "poddisruptionbudgets"),
            ("network-policy", "networkpolicies"),
            ("resource-quota", "resourcequotas"),
            ("resource-quotas", "resourcequotas"),
            ("limitranges", "limitranges"),
        ];
        for (dir, plural) in namespaced {
            assert_eq!(
                target(&format!("cluster-resources/{dir}/wg-easy.json")),
                list(plural, Some("wg-easy")),
                "{dir}"
            );
        }
        let cluster = [
            ("storage-classes", "storageclasses"),
            ("priorityclasses", "priorityclasses"),
            ("volumeattachments", "volumeattachments"),
        ];
        for (file, plural) in cluster {
            assert_eq!(
                target(&format!("cluster-resources/{file}.json")),
                list(plural, None),
                "{file}"
            );
        }
        assert_eq!(
            target("cluster-resources/validatingwebhookconfigurations.json"),
            Target::Extra
        );
        assert_eq!(
            target("cluster-resources/image-pull-secrets/default.json"),
            Target::Extra
        );
    }

    #[test]
    fn error_files_old_and_new_shapes() {
        assert_eq!(
            target("cluster-resources/statefulsets-errors.json"),
            Target::Errors {
                plural: "statefulsets",
                namespace: None
            }
        );
        assert_eq!(
            target("cluster-resources/statefulsets-errors.json/wg-easy.json"),
            Target::Errors {
                plural: "statefulsets",
                namespace: Some("wg-easy".into())
            }
        );
        assert_eq!(
            target("cluster-resources/pod-disruption-budgets-errors.json"),
            Target::Errors {
                plural: "poddisruptionbudgets",
                namespace: None
            }
        );
        assert_eq!(target("cluster-resources/roles-errors.json"), Target::Extra);
    }

    #[test]
    fn logs_from_both_collectors() {
        assert_eq!(
            target("cluster-resources/pods/logs/default/web-1/app-previous.log"),
            Target::Log {
                namespace: Some("default".into()),
                pod: "web-1".into(),
                container: "app".into(),
                previous: true,
                preferred: true
            }
        );
        assert_eq!(
            target("all-logs/web-1/app.log"),
            Target::Log {
                namespace: None,
                pod: "web-1".into(),
                container: "app".into(),
                previous: false,
                preferred: false
            }
        );
        assert_eq!(target("static-hi.log"), Target::Extra);
    }
}
