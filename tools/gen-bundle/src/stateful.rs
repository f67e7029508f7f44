//! StatefulSets with their headless Service, stable pod names and bound
//! PersistentVolumeClaims / PersistentVolumes (EBS CSI on EKS).

use serde_json::{json, Value};

use crate::app::AppSpec;
use crate::builders::meta;
use crate::builders::network::{self, ServicePort};
use crate::builders::pod::{self, ContainerState, PodFate};
use crate::builders::workload::{self, Replicas};
use crate::ids;
use crate::world::World;

/// A bound claim and its volume (EBS CSI, `gp3`, zonal) for `claim`.
pub fn claim_and_volume(
    ns: &str,
    claim: &str,
    size: &str,
    zone: &str,
    created_ago: i64,
) -> (Value, Value) {
    let mut pvc = meta::object("v1", "PersistentVolumeClaim", Some(ns), claim, created_ago);
    let pv_name = format!("pvc-{}", pvc["metadata"]["uid"].as_str().unwrap_or(""));
    meta::add_annotations(
        &mut pvc,
        &[
            ("pv.kubernetes.io/bind-completed", "yes"),
            ("pv.kubernetes.io/bound-by-controller", "yes"),
            (
                "volume.beta.kubernetes.io/storage-provisioner",
                "ebs.csi.aws.com",
            ),
            ("volume.kubernetes.io/selected-node", ""),
            (
                "volume.kubernetes.io/storage-provisioner",
                "ebs.csi.aws.com",
            ),
        ],
    );
    pvc["metadata"]["finalizers"] = json!(["kubernetes.io/pvc-protection"]);
    pvc["spec"] = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
        "storageClassName": "gp3",
        "volumeMode": "Filesystem",
        "volumeName": pv_name,
    });
    pvc["status"] =
        json!({"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": size}});
    let mut pv = meta::object("v1", "PersistentVolume", None, &pv_name, created_ago - 4);
    meta::add_annotations(
        &mut pv,
        &[
            ("pv.kubernetes.io/provisioned-by", "ebs.csi.aws.com"),
            ("volume.kubernetes.io/provisioner-deletion-secret-name", ""),
            (
                "volume.kubernetes.io/provisioner-deletion-secret-namespace",
                "",
            ),
        ],
    );
    pv["metadata"]["finalizers"] = json!([
        "external-provisioner.volume.kubernetes.io/finalizer",
        "kubernetes.io/pv-protection",
        "external-attacher/ebs-csi-aws-com"
    ]);
    pv["spec"] = json!({
        "accessModes": ["ReadWriteOnce"],
        "capacity": {"storage": size},
        "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": claim, "namespace": ns, "resourceVersion": pvc["metadata"]["resourceVersion"], "uid": pvc["metadata"]["uid"]},
        "csi": {"driver": "ebs.csi.aws.com", "fsType": "ext4", "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity": "1731049330457-8081-ebs.csi.aws.com"}, "volumeHandle": format!("vol-0{}", &ids::hex64(claim)[..16])},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}]}},
        "persistentVolumeReclaimPolicy": "Delete",
        "storageClassName": "gp3",
        "volumeMode": "Filesystem",
    });
    pv["status"] = json!({"phase": "Bound", "lastPhaseTransitionTime": ids::ago(created_ago - 5)});
    (pvc, pv)
}

/// Deploys a healthy StatefulSet (`app.replicas` pods `name-0..`), its
/// headless Service and one bound `data` volume per pod.
pub fn deploy_stateful(w: &mut World, app: &AppSpec, storage: &str) -> Vec<String> {
    let ns = app.namespace.as_str();
    let mut spec = app.pod_spec.clone();
    spec["containers"][0]["volumeMounts"] = json!([{"name": "data", "mountPath": "/data"}]);
    let sel = app.selector();
    let r = Replicas {
        desired: app.replicas,
        current: app.replicas,
        ready: app.replicas,
    };
    let mut sts = workload::stateful_set(
        ns,
        &app.name,
        app.created_ago,
        &sel,
        &spec,
        r,
        &format!("{}-headless", app.name),
    );
    sts["spec"]["volumeClaimTemplates"] = json!([{
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}, "storageClassName": "gp3", "volumeMode": "Filesystem"},
        "status": {"phase": "Pending"},
    }]);
    let hash = workload::controller_revision_hash(&sts);
    let mut names = Vec::new();
    for i in 0..app.replicas.max(0) {
        let name = format!("{}-{i}", app.name);
        let created = app.rollout_ago - 40 * i;
        let placement = w.place(created - 1);
        let zone = w
            .nodes
            .iter()
            .find(|n| n.name == placement.node)
            .map(|n| n.zone.clone())
            .unwrap_or_default();
        let claim = format!("data-{name}");
        let (pvc, pv) = claim_and_volume(ns, &claim, storage, &zone, app.created_ago - 30 * i);
        let mut pspec = spec.clone();
        pspec["hostname"] = json!(name);
        pspec["subdomain"] = json!(format!("{}-headless", app.name));
        pspec["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]);
        let mut p = pod::pod(
            ns,
            &name,
            created,
            &pspec,
            &PodFate::Placed(placement),
            &[ContainerState::ready(created - 10)],
        );
        meta::set_generate_name(&mut p, &format!("{}-", app.name));
        let idx = i.to_string();
        let mut labels = sel.clone();
        labels.extend([
            ("apps.kubernetes.io/pod-index", idx.as_str()),
            ("controller-revision-hash", hash.as_str()),
            ("statefulset.kubernetes.io/pod-name", name.as_str()),
        ]);
        meta::add_labels(&mut p, &labels);
        meta::set_owner(&mut p, &sts);
        w.cluster.add_all([p, pvc, pv]);
        names.push(name);
    }
    let mut headless = network::service(
        ns,
        &format!("{}-headless", app.name),
        app.created_ago,
        "None",
        &sel,
        &[ServicePort::tcp("redis", 6379, json!("redis"))],
    );
    headless["spec"]["publishNotReadyAddresses"] = json!(true);
    meta::add_labels(&mut headless, &sel);
    w.cluster.add(headless);
    w.cluster.add(sts);
    names
}

/// A `WaitForFirstConsumer` StorageClass, as EKS and the EBS CSI add-on
/// create them.
pub fn storage_class(name: &str, provisioner: &str, created_ago: i64) -> Value {
    let mut sc = meta::object("storage.k8s.io/v1", "StorageClass", None, name, created_ago);
    if let Some(m) = sc.as_object_mut() {
        m.insert("provisioner".into(), json!(provisioner));
        m.insert("reclaimPolicy".into(), json!("Delete"));
        m.insert("volumeBindingMode".into(), json!("WaitForFirstConsumer"));
        m.insert("allowVolumeExpansion".into(), json!(true));
    }
    sc
}

/// The EBS CSI VolumeAttachment of `pv` on `node`, attached.
pub fn attachment(pv_name: &str, node: &str) -> Value {
    let va_name = format!("csi-{}", ids::hex64(&format!("va/{pv_name}/{}", node)));
    let mut va = meta::object(
        "storage.k8s.io/v1",
        "VolumeAttachment",
        None,
        &va_name,
        86_400 * 9 + 5,
    );
    va["metadata"]["annotations"] =
        json!({"csi.alpha.kubernetes.io/node-id": format!("i-0{}", &ids::hex64(node)[..16])});
    va["metadata"]["finalizers"] = json!(["external-attacher/ebs-csi-aws-com"]);
    va["spec"] = json!({"attacher": "ebs.csi.aws.com", "nodeName": node, "source": {"persistentVolumeName": pv_name}});
    va["status"] = json!({"attached": true, "attachmentMetadata": {"devicePath": "/dev/xvdaa"}});
    va
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{self, Baseline};

    #[test]
    fn statefulset_pods_claims_and_volumes_are_bound_to_each_other() {
        let mut w = baseline::world(&Baseline::default());
        let mut app = AppSpec::new(
            "shop",
            "redis",
            "docker.io/library/redis:7.4.2",
            6379,
            2,
            86_400 * 90,
            86_400 * 30,
        );
        app.main_container()["ports"] =
            json!([{"name": "redis", "containerPort": 6379, "protocol": "TCP"}]);
        let names = deploy_stateful(&mut w, &app, "8Gi");
        assert_eq!(names, vec!["redis-0", "redis-1"]);
        let c = w.finish();
        let pvc = &c.objects("shop", "persistentvolumeclaims")[0];
        let pv = c
            .cluster_list("persistentvolumes")
            .iter()
            .find(|v| v["metadata"]["name"] == pvc["spec"]["volumeName"])
            .unwrap();
        assert_eq!(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"]);
        let _: k8s_openapi::api::core::v1::PersistentVolume =
            serde_json::from_value(pv.clone()).unwrap();
        let _: k8s_openapi::api::core::v1::PersistentVolumeClaim =
            serde_json::from_value(pvc.clone()).unwrap();
        let ep = c
            .objects("shop", "endpoints")
            .iter()
            .find(|e| e["metadata"]["name"] == "redis-headless")
            .unwrap();
        assert_eq!(ep["subsets"][0]["addresses"].as_array().unwrap().len(), 2);
        assert_eq!(ep["subsets"][0]["ports"][0]["port"], 6379);
    }
}
