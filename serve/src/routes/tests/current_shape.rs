//! Objects captured from an old cluster are served as a current API server
//! returns them, and the bundle's bytes stay as they are.

use super::*;

/// A 1.15-era namespace: a Service without `clusterIPs`/`ipFamilies`, its
/// Endpoints, no EndpointSlices (the API did not exist; the collector was
/// answered not found).
fn old_cluster(dir: &std::path::Path) -> State {
    use kpm_bundle::{BundleWriter, Outcome, Step};
    let root = dir.join("old");
    let mut w = BundleWriter::create_dir(&root, false).unwrap();
    w.write_json(
        &layout::namespaced_path("shop", "services"),
        &serde_json::json!({"kind": "ServiceList", "apiVersion": "v1", "metadata": {"resourceVersion": "5"}, "items": [
            {"kind": "Service", "apiVersion": "v1",
             "metadata": {"name": "web", "namespace": "shop", "uid": "svc-uid"},
             "spec": {"clusterIP": "10.0.12.7", "type": "ClusterIP", "sessionAffinity": "None",
                      "selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]},
             "status": {"loadBalancer": {}}}]}),
    )
    .unwrap();
    w.write_json(
        &layout::namespaced_path("shop", "endpoints"),
        &serde_json::json!({"kind": "EndpointsList", "apiVersion": "v1", "metadata": {"resourceVersion": "6"}, "items": [
            {"metadata": {"name": "web", "namespace": "shop"},
             "subsets": [{"addresses": [{"ip": "10.244.0.5", "nodeName": "aks-1",
                 "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop"}}],
               "ports": [{"port": 8080, "protocol": "TCP"}]}]}]}),
    )
    .unwrap();
    let mut not_found = Step::new("endpointslices", Outcome::NotFound);
    not_found.namespace = Some("shop".into());
    w.finish(manifest(vec![not_found])).unwrap();
    State::new(
        kpm_bundle::Bundle::open(&root).unwrap(),
        "127.0.0.1:1".into(),
    )
}

#[test]
fn services_are_defaulted_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let st = old_cluster(dir.path());
    let (code, svc) = get(&st, "/api/v1/namespaces/shop/services/web");
    assert_eq!(code, 200, "{svc}");
    assert_eq!(svc["spec"]["clusterIPs"], serde_json::json!(["10.0.12.7"]));
    assert_eq!(svc["spec"]["ipFamilies"], serde_json::json!(["IPv4"]));
    assert_eq!(svc["spec"]["ipFamilyPolicy"], "SingleStack");
    assert_eq!(svc["spec"]["internalTrafficPolicy"], "Cluster");
    let (_, list) = get(&st, "/api/v1/services");
    assert_eq!(list["items"][0]["spec"]["clusterIPs"][0], "10.0.12.7");
    // The bundle's bytes are unchanged.
    let stored = st
        .store
        .bundle()
        .read_bytes(&layout::namespaced_path("shop", "services"))
        .unwrap();
    assert!(!String::from_utf8(stored).unwrap().contains("clusterIPs"));
}

#[test]
fn endpoint_slices_are_made_from_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let st = old_cluster(dir.path());
    for path in [
        "/apis/discovery.k8s.io/v1/endpointslices",
        "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices",
        "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb",
    ] {
        let (code, list) = get(&st, path);
        assert_eq!(code, 200, "{path}: {list}");
        assert_eq!(names(&list), ["web-ipv4"], "{path}");
        let slice = &list["items"][0];
        assert_eq!(slice["addressType"], "IPv4");
        assert_eq!(slice["endpoints"][0]["addresses"][0], "10.244.0.5");
        assert_eq!(slice["metadata"]["ownerReferences"][0]["uid"], "svc-uid");
    }
    let (code, one) = get(
        &st,
        "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/web-ipv4",
    );
    assert_eq!((code, one["kind"].as_str()), (200, Some("EndpointSlice")));
}
