//! Scenario-wide tests: every bundle opens and verifies, every object parses
//! into its k8s-openapi type, regeneration is byte-identical, and expected
//! findings name objects that exist.

use std::collections::BTreeSet;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, PersistentVolume,
    PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::{StorageClass, VolumeAttachment};
use kpm_bundle::layout::{self, Entry};
use kpm_bundle::Bundle;
use serde::de::DeserializeOwned;

use super::*;

fn parse_all<T: DeserializeOwned>(b: &Bundle, path: &str) -> usize {
    let list: kpm_bundle::List<T> = b.read_list(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    list.items.len()
}

fn check_types(b: &Bundle) {
    let entries: Vec<String> = b.entries().map(str::to_string).collect();
    for path in &entries {
        match layout::classify(path) {
            Entry::ClusterList(k) => match k.kind {
                "Node" => parse_all::<Node>(b, path),
                "Namespace" => parse_all::<Namespace>(b, path),
                "IngressClass" => parse_all::<IngressClass>(b, path),
                "PersistentVolume" => parse_all::<PersistentVolume>(b, path),
                "StorageClass" => parse_all::<StorageClass>(b, path),
                "VolumeAttachment" => parse_all::<VolumeAttachment>(b, path),
                "PriorityClass" => parse_all::<PriorityClass>(b, path),
                "ValidatingWebhookConfiguration" => {
                    parse_all::<ValidatingWebhookConfiguration>(b, path)
                }
                "MutatingWebhookConfiguration" => {
                    parse_all::<MutatingWebhookConfiguration>(b, path)
                }
                other => panic!("unexpected cluster kind {other}"),
            },
            Entry::NamespacedList { kind, .. } => match kind.kind {
                "Pod" => parse_all::<Pod>(b, path),
                "Event" => parse_all::<Event>(b, path),
                "Service" => parse_all::<Service>(b, path),
                "Endpoints" => parse_all::<Endpoints>(b, path),
                "EndpointSlice" => parse_all::<EndpointSlice>(b, path),
                "Ingress" => parse_all::<Ingress>(b, path),
                "HorizontalPodAutoscaler" => parse_all::<HorizontalPodAutoscaler>(b, path),
                "Deployment" => parse_all::<Deployment>(b, path),
                "ReplicaSet" => parse_all::<ReplicaSet>(b, path),
                "StatefulSet" => parse_all::<StatefulSet>(b, path),
                "DaemonSet" => parse_all::<DaemonSet>(b, path),
                "Job" => parse_all::<Job>(b, path),
                "ConfigMap" => parse_all::<ConfigMap>(b, path),
                "Secret" => parse_all::<Secret>(b, path),
                "PersistentVolumeClaim" => parse_all::<PersistentVolumeClaim>(b, path),
                "CronJob" => parse_all::<CronJob>(b, path),
                "ResourceQuota" => parse_all::<ResourceQuota>(b, path),
                "LimitRange" => parse_all::<LimitRange>(b, path),
                "PodDisruptionBudget" => parse_all::<PodDisruptionBudget>(b, path),
                "NetworkPolicy" => parse_all::<NetworkPolicy>(b, path),
                other => panic!("unexpected kind {other}"),
            },
            _ => 0,
        };
    }
}

/// Every `Kind/ns/name` (and `Kind/name`) in a bundle.
fn object_keys(b: &Bundle) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let entries: Vec<String> = b.entries().map(str::to_string).collect();
    for path in &entries {
        let kind = match layout::classify(path) {
            Entry::ClusterList(k) | Entry::NamespacedList { kind: k, .. } => k,
            _ => continue,
        };
        let list: kpm_bundle::List<serde_json::Value> = b.read_list(path).unwrap();
        for item in list.items {
            let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
            match item["metadata"]["namespace"].as_str() {
                Some(ns) => keys.insert(format!("{}/{ns}/{name}", kind.kind)),
                None => keys.insert(format!("{}/{name}", kind.kind)),
            };
        }
    }
    keys
}

#[test]
fn every_scenario_verifies_parses_and_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    for s in all() {
        let a = write(&s, &tmp.path().join("a")).unwrap();
        let b = write(&s, &tmp.path().join("b")).unwrap();
        let ba = Bundle::open(&a).unwrap();
        let bb = Bundle::open(&b).unwrap();
        assert!(ba.verify().is_empty(), "{}: {:?}", s.name, ba.verify());
        assert_eq!(
            ba.manifest().files,
            bb.manifest().files,
            "{} is not deterministic",
            s.name
        );
        let ea = std::fs::read(
            tmp.path()
                .join("a/expected")
                .join(format!("{}.json", s.name)),
        )
        .unwrap();
        let eb = std::fs::read(
            tmp.path()
                .join("b/expected")
                .join(format!("{}.json", s.name)),
        )
        .unwrap();
        assert_eq!(ea, eb);
        assert!(
            ba.unlisted_files().is_empty(),
            "{}: {:?}",
            s.name,
            ba.unlisted_files()
        );
        check_types(&ba);
        // Secrets never carry values.
        for ns in ba.namespaces() {
            let secrets: kpm_bundle::List<serde_json::Value> = ba
                .read_list(&layout::namespaced_path(&ns, "secrets"))
                .unwrap();
            for sec in secrets.items {
                for v in sec["data"].as_object().into_iter().flat_map(|m| m.values()) {
                    assert_eq!(v, "", "{}: secret value kept", s.name);
                }
            }
        }
        // Expected findings name objects that exist, and root causes name
        // findings of the same scenario.
        let keys = object_keys(&ba);
        let (_, findings) = (s.build)();
        let finding_keys: BTreeSet<String> = findings.iter().map(|f| f.key()).collect();
        for f in &findings {
            assert!(
                keys.contains(&f.object),
                "{}: {} does not exist",
                s.name,
                f.object
            );
            if let Some(rc) = &f.root_cause {
                assert!(
                    finding_keys.contains(rc),
                    "{}: root cause {rc} is not a finding",
                    s.name
                );
            }
            assert_ne!(crate::expected::layer_of(&f.rule), "unknown", "{}", f.rule);
        }
    }
}

#[test]
fn scenario_names_are_unique_and_include_the_required_ones() {
    let names: Vec<&str> = all().iter().map(|s| s.name).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len());
    for required in ["healthy", "crashloop"] {
        assert!(unique.contains(required), "{required}");
    }
}

#[test]
fn no_node_is_overcommitted_and_unschedulable_pods_really_do_not_fit() {
    for s in all() {
        let (cluster, findings) = (s.build)();
        let nodes = crate::world::cpu_by_node(&cluster);
        for (node, requested, allocatable) in &nodes {
            assert!(
                requested <= allocatable,
                "{}: {node} has {requested}m requested of {allocatable}m",
                s.name
            );
        }
        for f in findings.iter().filter(|f| f.rule == "pod-unschedulable") {
            // A pod waiting on its volume fits by cpu: storage blocks it.
            let storage = f.root_cause.as_deref().unwrap_or("");
            if storage.starts_with("pvc-") || storage.starts_with("volume-") {
                continue;
            }
            let name = f.object.rsplit('/').next().unwrap();
            let pod = cluster
                .all_pods()
                .find(|p| p["metadata"]["name"] == name)
                .unwrap();
            let requests = &pod["spec"]["containers"][0]["resources"]["requests"];
            if findings
                .iter()
                .any(|g| g.rule == "node-no-room" && g.object == f.object)
            {
                // Fits no node even empty: more memory than any allocatable.
                let want = crate::world::mebibytes(&requests["memory"]).unwrap() * 1024;
                for n in cluster.cluster_list("nodes") {
                    let alloc = n["status"]["allocatable"]["memory"].as_str().unwrap();
                    let kib: u64 = alloc.trim_end_matches("Ki").parse().unwrap();
                    assert!(want > kib, "{}: {name} fits an empty node", s.name);
                }
                continue;
            }
            let want = crate::world::millis(&requests["cpu"]).unwrap();
            for (node, requested, allocatable) in &nodes {
                assert!(
                    allocatable - requested < want,
                    "{}: {name} fits {node}",
                    s.name
                );
                assert!(
                    want <= *allocatable,
                    "{}: {name} fits no empty node either",
                    s.name
                );
            }
        }
    }
}

#[test]
fn pairs_verify_match_testdata_and_are_collected_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/pairs");
    for p in super::pairs::PAIRS {
        let dir = super::pairs::write(p, tmp.path()).unwrap();
        let mut last = None;
        for (name, _, _) in p.snapshots {
            let b = Bundle::open(dir.join(name)).unwrap();
            assert!(b.verify().is_empty(), "{}/{name}: {:?}", p.name, b.verify());
            check_types(&b);
            let at = b.manifest().collection.finished_at;
            assert!(
                last.is_none_or(|l| l < at),
                "{}/{name} is not later",
                p.name
            );
            last = Some(at);
            // What is committed is what the generator writes.
            let theirs = Bundle::open(committed.join(p.name).join(name)).unwrap();
            assert_eq!(
                b.manifest().files,
                theirs.manifest().files,
                "{}/{name} differs from testdata/pairs: run `gen-bundle pairs --out testdata/pairs`",
                p.name
            );
        }
        assert!(
            committed.join(p.name).join("expected-diff.json").is_file(),
            "{}: no hand-written expected diff",
            p.name
        );
    }
}
