//! The cluster-scoped files (nodes, namespaces, ingress classes, storage,
//! priority and admission kinds, version, node metrics and allocation) into
//! [`ClusterData`], beside the infra pass.

use std::collections::{BTreeMap, HashMap};

use kpm_bundle::{layout, Bundle};
use kpm_model::Damage;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use kpm_semantics::NodeMetrics;

use super::infra::infra_pass;
use super::read::{kind, read_items, read_optional};
use crate::context::{ClusterData, Infra, Platform, Unavailable};

/// Loads every cluster-scoped file and runs the cheap infra pass over the
/// pods of every namespace. Damage is appended to `damage`.
pub fn load_cluster(bundle: &Bundle, damage: &mut Vec<Damage>) -> ClusterData {
    // The infra pass re-reads every pods file: run it beside the (large)
    // cluster files instead of after them.
    let (infra, cluster) =
        crate::par::both(|| infra_pass(bundle), || load_cluster_files(bundle, damage));
    ClusterData { infra, ..cluster }
}

/// Reads a cluster-scoped list.
fn read_cluster_kind<T: DeserializeOwned>(
    bundle: &Bundle,
    plural: &str,
    unavailable: &mut BTreeMap<String, Unavailable>,
    damage: &mut Vec<Damage>,
) -> Vec<T> {
    match kind(plural) {
        Some(k) => read_items(bundle, k, None, unavailable, damage),
        None => Vec::new(),
    }
}

/// The cluster-scoped kinds behind the pods: storage, scheduling priority
/// and admission.
fn read_platform(
    bundle: &Bundle,
    unavailable: &mut BTreeMap<String, Unavailable>,
    damage: &mut Vec<Damage>,
) -> Platform {
    Platform {
        persistent_volumes: read_cluster_kind(bundle, "persistentvolumes", unavailable, damage),
        storage_classes: read_cluster_kind(bundle, "storageclasses", unavailable, damage),
        volume_attachments: read_cluster_kind(bundle, "volumeattachments", unavailable, damage),
        priority_classes: read_cluster_kind(bundle, "priorityclasses", unavailable, damage),
        validating_webhooks: read_cluster_kind(
            bundle,
            "validatingwebhookconfigurations",
            unavailable,
            damage,
        ),
        mutating_webhooks: read_cluster_kind(
            bundle,
            "mutatingwebhookconfigurations",
            unavailable,
            damage,
        ),
        webhook_backends: Vec::new(),
    }
}

/// Everything of [`ClusterData`] but the infra pass.
fn load_cluster_files(bundle: &Bundle, damage: &mut Vec<Damage>) -> ClusterData {
    let manifest = bundle.manifest();
    let mut unavailable = BTreeMap::new();
    let nodes = read_cluster_kind(bundle, "nodes", &mut unavailable, damage);
    let namespaces = read_cluster_kind(bundle, "namespaces", &mut unavailable, damage);
    let ingress_classes = read_cluster_kind(bundle, "ingressclasses", &mut unavailable, damage);
    let mut platform = read_platform(bundle, &mut unavailable, damage);
    platform.webhook_backends = super::webhooks::webhook_backends(bundle, &platform);

    #[derive(Deserialize)]
    struct VersionInfo {
        #[serde(rename = "gitVersion")]
        git_version: Option<String>,
    }
    let server_version = read_optional::<VersionInfo>(bundle, layout::CLUSTER_VERSION, damage)
        .and_then(|v| v.git_version)
        .or_else(|| manifest.cluster.server_version.clone());

    let node_metrics =
        read_optional::<kpm_bundle::List<NodeMetrics>>(bundle, layout::NODE_METRICS, damage)
            .map(|l| l.items);
    let node_allocation = read_optional::<kpm_semantics::allocation::SystemAllocationFile>(
        bundle,
        layout::NODE_ALLOCATION,
        damage,
    );
    let node_index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n): (usize, &k8s_openapi::api::core::v1::Node)| {
            n.metadata.name.clone().map(|name| (name, i))
        })
        .collect();
    ClusterData {
        now: manifest.collection.finished_at,
        server_version,
        nodes,
        ingress_classes,
        namespaces,
        platform,
        node_metrics,
        node_allocation,
        unavailable,
        infra: Infra::default(),
        pending_pods: Vec::new(),
        node_events: BTreeMap::new(),
        ingress_routing: Vec::new(),
        node_index,
        node_free: Default::default(),
    }
}
