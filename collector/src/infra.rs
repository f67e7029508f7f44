//! Cluster infrastructure the troubleshooting chain depends on, collected
//! even when its namespace is outside `--namespace`: ingress controllers
//! (an Ingress without a running controller routes nothing), metrics-server
//! (HPAs without metrics do not scale), DNS (services resolve through it),
//! and node autoscalers (why a Pending pod did not get a node).
//!
//! Pods are found by the labels their standard manifests and Helm charts set.

/// A group of infrastructure pods found by label selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfraGroup {
    /// Short name for messages.
    pub name: &'static str,
    /// Label selectors, each one request across all namespaces.
    pub selectors: &'static [&'static str],
    /// Whether container logs are collected (controllers whose logs explain
    /// routing and scaling decisions).
    pub logs: bool,
}

/// The groups, in collection order.
pub const GROUPS: &[InfraGroup] = &[
    InfraGroup {
        name: "ingress-controller",
        selectors: &[
            "app.kubernetes.io/name=ingress-nginx",
            "app.kubernetes.io/name=nginx-ingress",
            "app.kubernetes.io/name=traefik",
            "app.kubernetes.io/name=haproxy-ingress",
            "app.kubernetes.io/name=aws-load-balancer-controller",
        ],
        logs: true,
    },
    InfraGroup {
        name: "metrics-server",
        selectors: &[
            "k8s-app=metrics-server",
            "app.kubernetes.io/name=metrics-server",
        ],
        logs: false,
    },
    InfraGroup {
        name: "dns",
        selectors: &["k8s-app=kube-dns"],
        logs: false,
    },
    InfraGroup {
        name: "node-autoscaler",
        selectors: &[
            "app.kubernetes.io/name=karpenter",
            "app.kubernetes.io/name=cluster-autoscaler",
            "app.kubernetes.io/name=aws-cluster-autoscaler",
            "app=cluster-autoscaler",
        ],
        logs: true,
    },
];

/// The cluster-wide pods URL for a selector.
pub fn url(selector: &str) -> String {
    format!(
        "/api/v1/pods?labelSelector={}",
        crate::logs::encode(selector)
    )
}

/// Whether a namespace is covered by the normal per-namespace collection.
pub fn in_scope(all: bool, namespaces: &[String], ns: &str) -> bool {
    all || namespaces.iter().any(|n| n == ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_urls_are_encoded() {
        assert_eq!(
            url("k8s-app=kube-dns"),
            "/api/v1/pods?labelSelector=k8s-app%3Dkube-dns"
        );
        assert_eq!(
            url("app.kubernetes.io/name=karpenter"),
            "/api/v1/pods?labelSelector=app.kubernetes.io%2Fname%3Dkarpenter"
        );
    }

    #[test]
    fn scope() {
        let ns = vec!["shop".to_string()];
        assert!(in_scope(false, &ns, "shop"));
        assert!(!in_scope(false, &ns, "kube-system"));
        assert!(in_scope(true, &[], "kube-system"));
    }

    #[test]
    fn every_group_has_selectors() {
        for g in GROUPS {
            assert!(!g.selectors.is_empty(), "{}", g.name);
            assert!(g.selectors.iter().all(|s| s.contains('=')));
        }
    }
}
