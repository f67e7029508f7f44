//! Tests of the config rules on realistic ConfigMaps, Secrets and pods.

use serde_json::json;

use super::{consumed, last_write, run, ConfigKind, Usage};
use crate::testkit::{obj, Fixture, PodFixture};
use kpm_model::ObjectRef;

fn managed(times: &[(&str, &str, &str)]) -> serde_json::Value {
    times
        .iter()
        .map(|(manager, op, time)| {
            json!({"manager": manager, "operation": op, "apiVersion": "v1", "time": time,
                   "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:LOG_LEVEL": {}}}})
        })
        .collect()
}

fn config_map(updated: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "web-config", "namespace": "shop", "creationTimestamp": "2026-11-19T09:00:00Z",
                     "managedFields": managed(&[("kubectl-client-side-apply", "Update", "2026-11-19T09:00:00Z"),
                                                ("kubectl-edit", "Update", updated)])},
        "data": {"LOG_LEVEL": "debug", "FEATURE_CHECKOUT_V2": "true"}
    })
}

fn deployment(annotations: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}, "annotations": annotations},
                              "spec": {"containers": [{"name": "app", "image": "registry.example.com/shop/web:1.4.2"}]}}}
    })
}

fn replicaset() -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
           "metadata": {"name": "web-7c9d8f6b5", "namespace": "shop",
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": true}]},
           "spec": {"selector": {"matchLabels": {"app": "web"}}}})
}

/// The fixture pod (started 13:00:04) reading web-config through envFrom.
fn consumer_pod() -> serde_json::Value {
    let mut p = PodFixture::new("shop", "web-7c9d8f6b5-x2x7q")
        .labels(json!({"app": "web"}))
        .ports(json!([{"containerPort": 8080}]))
        .build();
    p["spec"]["containers"][0]["envFrom"] = json!([{"configMapRef": {"name": "web-config"}}]);
    p["spec"]["containers"][0]["env"] = json!([{"name": "DB_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "db-credentials", "key": "password"}}}]);
    p
}

fn fixture(updated: &str, annotations: serde_json::Value) -> Fixture {
    let mut fx = Fixture::new("shop");
    fx.ns.config_maps = vec![obj(config_map(updated))];
    fx.ns.deployments = vec![obj(deployment(annotations))];
    fx.ns.replicasets = vec![obj(replicaset())];
    fx.ns.pods = vec![obj(consumer_pod())];
    fx
}

fn rules(f: &[kpm_model::Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn consumers_are_found_in_env_envfrom_volumes_and_projections() {
    let spec: k8s_openapi::api::core::v1::PodSpec = obj(json!({
        "containers": [{"name": "app", "image": "x:1",
            "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm-a", "key": "a"}}}],
            "envFrom": [{"secretRef": {"name": "sec-b"}}],
            "volumeMounts": [{"name": "conf", "mountPath": "/etc/app/app.yaml", "subPath": "app.yaml"},
                             {"name": "bundle", "mountPath": "/etc/bundle"}]}],
        "volumes": [
            {"name": "conf", "configMap": {"name": "cm-c"}},
            {"name": "bundle", "projected": {"sources": [{"configMap": {"name": "cm-d"}}, {"secret": {"name": "sec-e"}},
                                                         {"serviceAccountToken": {"path": "token"}}]}},
            {"name": "tls", "secret": {"secretName": "sec-f"}}]
    }));
    let got = consumed(&spec);
    assert!(got.contains(&(ConfigKind::ConfigMap, "cm-a".into(), Usage::Env)));
    assert!(got.contains(&(ConfigKind::Secret, "sec-b".into(), Usage::Env)));
    assert!(got.contains(&(ConfigKind::ConfigMap, "cm-c".into(), Usage::SubPathVolume)));
    assert!(got.contains(&(ConfigKind::ConfigMap, "cm-d".into(), Usage::Volume)));
    assert!(got.contains(&(ConfigKind::Secret, "sec-e".into(), Usage::Volume)));
    assert!(got.contains(&(ConfigKind::Secret, "sec-f".into(), Usage::Volume)));
    assert_eq!(got.len(), 6);
}

#[test]
fn last_write_ignores_status_subresource() {
    let meta: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta = obj(json!({
        "name": "x",
        "managedFields": [
            {"manager": "helm", "operation": "Update", "time": "2026-11-20T10:00:00Z", "fieldsType": "FieldsV1"},
            {"manager": "controller", "operation": "Update", "subresource": "status", "time": "2026-11-20T12:00:00Z", "fieldsType": "FieldsV1"},
            {"manager": "argocd-controller", "operation": "Apply", "time": "2026-11-20T11:00:00Z", "fieldsType": "FieldsV1"}]
    }));
    let (t, manager) = last_write(&meta).unwrap();
    assert_eq!(t.to_rfc3339(), "2026-11-20T11:00:00+00:00");
    assert_eq!(manager, "argocd-controller");
}

#[test]
fn configmap_changed_after_pods_started_is_stale() {
    let fx = fixture("2026-11-20T14:05:12Z", json!(null));
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["config-stale-configmap"]);
    let f = &out[0];
    assert_eq!(
        f.object,
        ObjectRef::namespaced("ConfigMap", "shop", "web-config")
    );
    assert!(f.cause.contains("ConfigMap web-config was changed at 2026-11-20T14:05:12+00:00 by kubectl-edit, 65m after the newest of their pods started"), "{}", f.cause);
    assert!(f.cause.contains("Deployment web has not been restarted since: they read it through environment variables"), "{}", f.cause);
    assert!(
        f.cause.contains("carries no checksum/ annotation"),
        "{}",
        f.cause
    );
    assert!(f
        .next_steps
        .iter()
        .any(|s| s.command == "kubectl -n shop rollout restart deployment/web"));
    assert_eq!(
        f.related,
        vec![ObjectRef::namespaced("Deployment", "shop", "web")]
    );
}

#[test]
fn checksum_annotation_means_the_change_bypassed_the_chart() {
    let fx = fixture(
        "2026-11-20T14:05:12Z",
        json!({"checksum/config": "8f2e1c0d5b7a"}),
    );
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["config-stale-configmap"]);
    assert!(
        out[0]
            .cause
            .contains("carries checksum/config — a chart upgrade would roll the pods"),
        "{}",
        out[0].cause
    );
}

#[test]
fn change_before_pod_start_or_partial_rollout_is_fine() {
    let fx = fixture("2026-11-20T12:30:00Z", json!(null));
    assert!(run(&fx.ctx()).is_empty());
    // One pod restarted after the change: a rollout is under way.
    let mut fx = fixture("2026-11-20T14:05:12Z", json!(null));
    let mut newer = consumer_pod();
    newer["metadata"]["name"] = json!("web-7c9d8f6b5-kq4zn");
    newer["status"]["startTime"] = json!("2026-11-20T14:10:00Z");
    newer["status"]["containerStatuses"][0]["state"] =
        json!({"running": {"startedAt": "2026-11-20T14:10:03Z"}});
    fx.ns.pods.push(obj(newer));
    assert!(run(&fx.ctx()).is_empty());
}

#[test]
fn rotated_secret_is_reported_with_values_stripped() {
    let mut fx = fixture("2026-11-20T12:30:00Z", json!(null));
    fx.ns.secrets = vec![obj(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "db-credentials", "namespace": "shop",
                     "annotations": {"kpm.dev/values-removed": "true"},
                     "managedFields": managed(&[("kubectl-create", "Update", "2026-11-10T08:00:00Z"),
                                                ("vault-secrets-operator", "Update", "2026-11-20T14:20:00Z")])},
        "data": {"password": "", "username": ""}
    }))];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["config-stale-secret"]);
    assert!(out[0].cause.contains("Secret db-credentials was changed at 2026-11-20T14:20:00+00:00 by vault-secrets-operator"), "{}", out[0].cause);
    assert_eq!(
        out[0].symptom,
        "Secret db-credentials rotated after its consumers started"
    );
}

#[test]
fn injected_root_ca_is_not_application_config() {
    let mut fx = fixture("2026-11-20T12:30:00Z", json!(null));
    let mut p = consumer_pod();
    p["spec"]["volumes"] = json!([{"name": "kube-api-access-7xk2p", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]);
    fx.ns.pods = vec![obj(p)];
    let mut ca = config_map("2026-11-20T14:25:00Z");
    ca["metadata"]["name"] = json!("kube-root-ca.crt");
    fx.ns.config_maps.push(obj(ca));
    assert!(run(&fx.ctx()).is_empty(), "{:?}", rules(&run(&fx.ctx())));
}
