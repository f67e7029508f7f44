//! `metadata.resourceVersion` the way etcd hands them out.
//!
//! A resourceVersion is the etcd revision of an object's last write, so it
//! grows with time across the whole cluster: an object written later has a
//! larger one, a list's own resourceVersion (the revision it was read at) is
//! at least every item's, and an event's `involvedObject.resourceVersion` is
//! what the object had when the event was recorded. Builders give objects a
//! placeholder; [`assign`] replaces it from each object's last write time
//! once the scenario is complete.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::builders::config;
use crate::cluster::Cluster;
use crate::ids;

/// etcd revision when collection started: a cluster of this age and size
/// writes about two revisions a second (node heartbeats, leases, events).
pub const REVISION_AT_COLLECTION: u64 = 48_213_377;

/// Revisions written per second, on average.
const RATE: u64 = 2;

/// The revision the cluster had `secs_ago` seconds before the anchor
/// (negative: after it, in the AFTER of a pair).
pub fn revision_at(secs_ago: i64) -> u64 {
    let rev = i64::try_from(REVISION_AT_COLLECTION).unwrap_or(i64::MAX);
    let at = rev.saturating_sub(secs_ago.saturating_mul(RATE as i64));
    u64::try_from(at.max(1)).unwrap_or(1)
}

use ids::ago_of as secs_ago;

/// When `obj` was last written, seconds before collection: its creation,
/// every `managedFields` entry, and for events their last occurrence.
fn last_write_ago(obj: &Value) -> i64 {
    let mut times = vec![&obj["metadata"]["creationTimestamp"]];
    for m in obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
    {
        times.push(&m["time"]);
    }
    times.push(&obj["lastTimestamp"]);
    times.push(&obj["eventTime"]);
    times.push(&obj["series"]["lastObservedTime"]);
    times.into_iter().filter_map(secs_ago).min().unwrap_or(0)
}

/// The resourceVersion of `obj` written `ago` seconds before collection;
/// objects written in the same second get distinct revisions.
fn version_of(obj: &Value, ago: i64) -> u64 {
    let key = format!(
        "{}/{}/{}",
        obj["kind"].as_str().unwrap_or(""),
        obj["metadata"]["namespace"].as_str().unwrap_or(""),
        obj["metadata"]["name"].as_str().unwrap_or("")
    );
    revision_at(ago).saturating_sub(ids::hash(&key) % RATE)
}

fn every_object(cluster: &mut Cluster) -> impl Iterator<Item = &mut Value> {
    let cluster_scoped = cluster.cluster_objects.values_mut().flatten();
    let namespaced = cluster
        .namespaces
        .values_mut()
        .flat_map(|ns| ns.objects.values_mut().flatten());
    cluster_scoped.chain(namespaced)
}

/// Gives every object the resourceVersion of its last write, and every
/// event's `involvedObject` the version its object had when the event was
/// first recorded (never newer than the object's current one).
pub fn assign(cluster: &mut Cluster) {
    let mut by_uid: BTreeMap<String, u64> = BTreeMap::new();
    for obj in every_object(cluster) {
        let v = version_of(obj, last_write_ago(obj));
        obj["metadata"]["resourceVersion"] = json!(v.to_string());
        if let Some(uid) = obj["metadata"]["uid"].as_str() {
            by_uid.insert(uid.to_string(), v);
        }
    }
    for obj in every_object(cluster) {
        if obj["kind"] != "Event" {
            continue;
        }
        let first = secs_ago(&obj["firstTimestamp"])
            .or_else(|| secs_ago(&obj["eventTime"]))
            .unwrap_or(0);
        let involved = &mut obj["involvedObject"];
        let Some(current) = involved["uid"].as_str().and_then(|u| by_uid.get(u)) else {
            continue;
        };
        let then = revision_at(first).min(*current);
        involved["resourceVersion"] = json!(then.to_string());
    }
}

/// The highest resourceVersion in the cluster: lists read after it.
pub fn highest(cluster: &Cluster) -> u64 {
    let cluster_scoped = cluster.cluster_objects.values().flatten();
    let namespaced = cluster
        .namespaces
        .values()
        .flat_map(|ns| ns.objects.values().flatten());
    cluster_scoped
        .chain(namespaced)
        .filter_map(|o| o["metadata"]["resourceVersion"].as_str()?.parse().ok())
        .max()
        .unwrap_or(REVISION_AT_COLLECTION)
}

/// A PEM CA certificate shaped like an EKS cluster CA (the DER of a
/// 2048-bit RSA certificate is about 1,100 bytes), fixed by the cluster.
fn cluster_ca_pem() -> String {
    let mut rng = ids::Rng::keyed("cluster-ca/prod-use1");
    let mut der = vec![0x30, 0x82, 0x03, 0x05, 0x30, 0x82, 0x01, 0xed, 0xa0, 0x03];
    der.extend((0..1_023).map(|_| (rng.next_u64() & 0xff) as u8));
    let b64 = config::base64(&der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// The description the root-ca-cert-publisher controller annotates with.
const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Adds the `kube-root-ca.crt` ConfigMap kube-controller-manager publishes
/// in every namespace (the token volume of every pod projects it).
pub fn publish_root_ca(cluster: &mut Cluster) {
    let pem = cluster_ca_pem();
    let namespaces: Vec<(String, i64)> = cluster
        .namespaces
        .iter()
        .map(|(n, ns)| (n.clone(), ns.created_ago))
        .collect();
    for (ns, created) in namespaces {
        let exists = cluster
            .objects(&ns, "configmaps")
            .iter()
            .any(|c| c["metadata"]["name"] == "kube-root-ca.crt");
        if exists {
            continue;
        }
        let mut cm = config::config_map(
            &ns,
            "kube-root-ca.crt",
            created,
            created,
            "kube-controller-manager",
            &[("ca.crt", pem.as_str())],
        );
        crate::builders::meta::add_annotations(
            &mut cm,
            &[("kubernetes.io/description", ROOT_CA_DESCRIPTION)],
        );
        cluster.add(cm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builders::meta;

    #[test]
    fn later_writes_get_higher_versions_and_events_see_older_ones() {
        let mut c = Cluster::new();
        let old = meta::object("v1", "ConfigMap", Some("shop"), "old", 86_400);
        let mut new = meta::object("v1", "ConfigMap", Some("shop"), "new", 86_400);
        meta::add_managed(&mut new, "kubectl-edit", "Update", 60, json!({}), None);
        let ev = crate::builders::event::event(
            "shop",
            &new,
            None,
            "Normal",
            "Test",
            "m",
            &crate::builders::event::Source::controller("x"),
            1,
            3_600,
            3_600,
        );
        c.add_all([old, new, ev]);
        publish_root_ca(&mut c);
        assign(&mut c);
        let rv = |name: &str| -> u64 {
            c.objects("shop", "configmaps")
                .iter()
                .find(|o| o["metadata"]["name"] == name)
                .and_then(|o| o["metadata"]["resourceVersion"].as_str()?.parse().ok())
                .unwrap()
        };
        assert!(rv("new") > rv("old"));
        let ev = &c.objects("shop", "events")[0];
        let seen: u64 = ev["involvedObject"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(seen < rv("new"));
        assert!(highest(&c) >= rv("new"));
        let ca = &c.objects("shop", "configmaps")[2];
        assert_eq!(ca["metadata"]["name"], "kube-root-ca.crt");
        assert!(ca["data"]["ca.crt"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\nMIID"));
    }
}
