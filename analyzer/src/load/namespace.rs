//! One namespace's files into [`NamespaceData`]; the engine loads them one
//! namespace at a time so memory follows the largest namespace, not the
//! bundle.

use std::collections::BTreeMap;

use kpm_bundle::{layout, Bundle};

use kpm_semantics::PodMetrics;

use super::read::{kind, read_items, read_optional, step_failure};
use crate::context::{NamespaceData, Unavailable};

/// Loads one namespace fully.
pub fn load_namespace(bundle: &Bundle, name: &str) -> NamespaceData {
    let mut ns = NamespaceData {
        name: name.to_string(),
        ..NamespaceData::default()
    };
    let mut unavailable = BTreeMap::new();
    let mut damage = Vec::new();
    macro_rules! load {
        ($field:ident, $plural:literal) => {
            if let Some(k) = kind($plural) {
                ns.$field = read_items(bundle, k, Some(name), &mut unavailable, &mut damage);
            }
        };
    }
    load!(pods, "pods");
    load!(events, "events");
    load!(services, "services");
    load!(endpoints, "endpoints");
    load!(endpoint_slices, "endpointslices");
    load!(ingresses, "ingresses");
    load!(hpas, "horizontalpodautoscalers");
    load!(deployments, "deployments");
    load!(replicasets, "replicasets");
    load!(statefulsets, "statefulsets");
    load!(daemonsets, "daemonsets");
    load!(jobs, "jobs");
    load!(config_maps, "configmaps");
    load!(secrets, "secrets");
    load!(pvcs, "persistentvolumeclaims");
    load!(cron_jobs, "cronjobs");
    load!(resource_quotas, "resourcequotas");
    load!(limit_ranges, "limitranges");
    load!(pdbs, "poddisruptionbudgets");
    load!(network_policies, "networkpolicies");
    let metrics_path = layout::pod_metrics_path(name);
    ns.pod_metrics =
        read_optional::<kpm_bundle::List<PodMetrics>>(bundle, &metrics_path, &mut damage)
            .map(|l| l.items);
    if ns.pod_metrics.is_none() {
        let why = step_failure(bundle, "metrics/pods", Some(name))
            .or_else(|| step_failure(bundle, "metrics/pods", None))
            .unwrap_or(Unavailable::NotCollected);
        unavailable.insert("metrics/pods".to_string(), why);
    }
    ns.unavailable = unavailable;
    ns.damage = damage;
    ns
}
