//! What the snapshot lacks (not collected, forbidden, failed, damaged) is
//! answered as such on every path, and costs only what it touches.

use super::*;

/// Pods in `a`, `b` (damaged file) and `c`; HPAs only in `a` (forbidden in
/// `c`, not collected in `b`); no events anywhere; `c`'s pods file lists
/// `"items": null`; a log whose collection failed and one cut by
/// `--max-bundle-size`; pod metrics in `a`, damaged in `b`, none in `c`
/// and no node metrics.
fn gappy(dir: &std::path::Path) -> State {
    use kpm_bundle::{BundleWriter, Outcome, Step};
    let root = dir.join("gappy");
    let mut w = BundleWriter::create_dir(&root, false).unwrap();
    let pod = |ns: &str, name: &str| {
        serde_json::json!({"metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "nginx:1.27"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "app", "restartCount": 2,
                "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1}}}]}})
    };
    w.write_json(
        &layout::namespaced_path("a", "pods"),
        &serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"},
            "items": [pod("a", "a-1"), pod("a", "a-2")]}),
    )
    .unwrap();
    w.write_entry(
        &layout::namespaced_path("b", "pods"),
        br#"{"kind":"PodList","items":[{"metadata":{"name":"b-1"#,
    )
    .unwrap();
    w.write_entry(
        &layout::namespaced_path("c", "pods"),
        br#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":null}"#,
    )
    .unwrap();
    w.write_json(
        &layout::namespaced_path("a", "horizontalpodautoscalers"),
        &serde_json::json!({"items": [{"metadata": {"name": "web", "namespace": "a"}}]}),
    )
    .unwrap();
    w.write_json(
        &layout::pod_metrics_path("a"),
        &serde_json::json!({"items": [{"metadata": {"name": "a-1", "namespace": "a"},
            "containers": [{"name": "app", "usage": {"cpu": "1m", "memory": "1Mi"}}]}]}),
    )
    .unwrap();
    w.write_entry(&layout::pod_metrics_path("b"), b"{\"items\": [")
        .unwrap();
    let mut hpa_forbidden = Step::new("horizontalpodautoscalers", Outcome::Forbidden);
    hpa_forbidden.namespace = Some("c".into());
    let mut log_failed = Step::new("logs", Outcome::Timeout);
    log_failed.namespace = Some("a".into());
    log_failed.object = Some("a-1/app".into());
    log_failed.message = Some("context deadline exceeded".into());
    let mut log_cut = Step::new("logs/previous", Outcome::Error);
    log_cut.namespace = Some("a".into());
    log_cut.object = Some("a-1/app".into());
    log_cut.message =
        Some("not written: --max-bundle-size 10 MB reached (5000 B of log, no room left)".into());
    w.finish(manifest(vec![hpa_forbidden, log_failed, log_cut]))
        .unwrap();
    State::new(
        kpm_bundle::Bundle::open(&root).unwrap(),
        "127.0.0.1:1".into(),
    )
}

fn warning(st: &State, path_and_query: &str) -> (u16, Option<String>) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let route = Route::parse(path);
    let reply = handle(
        st,
        &Request {
            route: &route,
            query: &query,
            table: false,
        },
    );
    (reply.status, reply.warning)
}

#[test]
fn a_damaged_namespace_costs_only_its_own_objects() {
    let dir = tempfile::tempdir().unwrap();
    let st = gappy(dir.path());
    for path in [
        "/api/v1/pods",
        "/api/v1/pods?limit=2",
        "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1",
    ] {
        let (code, list) = get(&st, path);
        assert_eq!(code, 200, "{path}: {list}");
        assert!(names(&list).first().is_some_and(|n| n == "a-1"), "{path}");
        let (_, w) = warning(&st, path);
        let w = w.unwrap_or_default();
        assert!(
            w.contains("namespaces/b/pods.json") && w.contains("truncated"),
            "{path}: {w}"
        );
        // `"items": null` in `c` is read (and indexed) as an empty list.
        assert!(!w.contains("namespaces/c/"), "{path}: {w}");
    }
    let (_, all) = get(&st, "/api/v1/pods");
    assert_eq!(names(&all), ["a-1", "a-2"]);
    // Exactly the damaged file fails, naming it.
    let (code, s) = get(&st, "/api/v1/namespaces/b/pods");
    assert_eq!(code, 500);
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("namespaces/b/pods.json"),
        "{s}"
    );
    // `"items": null` is an empty list, not damage.
    let (code, empty) = get(&st, "/api/v1/namespaces/c/pods");
    assert_eq!(code, 200, "{empty}");
    assert!(names(&empty).is_empty());
}

#[test]
fn a_kind_missing_everywhere_is_not_an_empty_list() {
    let dir = tempfile::tempdir().unwrap();
    let st = gappy(dir.path());
    let (code, s) = get(&st, "/api/v1/events");
    assert_eq!(code, 404, "{s}");
    assert_eq!(
        s["message"],
        "the server could not find the requested resource (events was not collected in this snapshot)"
    );
    let (code, s) = get(&st, "/apis/apps/v1/deployments");
    assert_eq!((code, s["message"].as_str()), (404, Some("the server could not find the requested resource (deployments.apps was not collected in this snapshot)")));
}

#[test]
fn a_kind_missing_in_some_namespaces_lists_the_rest_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let st = gappy(dir.path());
    let path = "/apis/autoscaling/v2/horizontalpodautoscalers";
    let (code, list) = get(&st, path);
    assert_eq!(code, 200, "{list}");
    assert_eq!(names(&list), ["web"]);
    let w = warning(&st, path).1.unwrap();
    assert!(
        w.contains("horizontalpodautoscalers.autoscaling forbidden in namespace c"),
        "{w}"
    );
    assert!(
        w.contains("horizontalpodautoscalers.autoscaling not collected in namespace b"),
        "{w}"
    );
}

#[test]
fn a_log_not_collected_names_the_outcome_not_a_container_state() {
    let dir = tempfile::tempdir().unwrap();
    let st = gappy(dir.path());
    let (code, s) = get(&st, "/api/v1/namespaces/a/pods/a-1/log");
    assert_eq!(code, 504, "{s}");
    assert_eq!(
        s["message"],
        "the log of container \"app\" in pod \"a-1\" could not be collected (context deadline exceeded)"
    );
    let (code, s) = get(&st, "/api/v1/namespaces/a/pods/a-1/log?previous=true");
    assert_eq!(code, 500, "{s}");
    assert!(
        s["message"]
            .as_str()
            .unwrap()
            .contains("--max-bundle-size 10 MB reached"),
        "{s}"
    );
    // No step at all: the container ran and terminated before, so the
    // kubelet had both logs; the snapshot just does not hold them.
    let (code, s) = get(&st, "/api/v1/namespaces/a/pods/a-2/log?previous=true");
    assert_eq!(code, 404, "{s}");
    assert_eq!(
        s["message"],
        "the server could not find the requested resource (the previous log of container \"app\" in pod \"a-2\" was not collected in this snapshot)"
    );
}

#[test]
fn metrics_missing_or_damaged_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let st = gappy(dir.path());
    let path = "/apis/metrics.k8s.io/v1beta1/pods";
    let (code, list) = get(&st, path);
    assert_eq!(code, 200, "{list}");
    assert_eq!(names(&list), ["a-1"]);
    let w = warning(&st, path).1.unwrap();
    assert!(w.contains("metrics/namespaces/b/pods.json"), "{w}");
    assert!(
        w.contains("pod metrics not collected in namespaces c"),
        "{w}"
    );
    let (code, s) = get(&st, "/apis/metrics.k8s.io/v1beta1/namespaces/c/pods");
    assert_eq!(code, 404);
    assert_eq!(s["message"], "the server could not find the requested resource (pods.metrics.k8s.io in namespace c was not collected in this snapshot)");
    let (code, s) = get(&st, "/apis/metrics.k8s.io/v1beta1/nodes");
    assert_eq!(code, 404);
    assert_eq!(s["message"], "the server could not find the requested resource (nodes.metrics.k8s.io was not collected in this snapshot)");
}

#[test]
fn a_namespace_without_files_is_empty_only_where_the_kind_was_collected() {
    let dir = tempfile::tempdir().unwrap();
    let st = gappy(dir.path());
    // HPAs were collected (in `a`): a namespace unknown to the snapshot
    // lists none, as the API server lists a namespace that does not exist.
    let (code, list) = get(
        &st,
        "/apis/autoscaling/v2/namespaces/zzz/horizontalpodautoscalers",
    );
    assert_eq!(code, 200, "{list}");
    assert!(names(&list).is_empty());
    // Events were collected nowhere: not an empty list anywhere.
    let (code, s) = get(&st, "/api/v1/namespaces/zzz/events");
    assert_eq!(code, 404, "{s}");
    assert_eq!(
        s["message"],
        "the server could not find the requested resource (events was not collected in this snapshot)"
    );
}

#[test]
fn a_listed_namespace_without_files_was_not_collected() {
    use kpm_bundle::BundleWriter;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("scoped");
    let mut w = BundleWriter::create_dir(&root, false).unwrap();
    w.write_json(
        &layout::namespaced_path("a", "pods"),
        &serde_json::json!({"items": [{"metadata": {"name": "a-1", "namespace": "a"}}]}),
    )
    .unwrap();
    w.write_json(
        "cluster/namespaces.json",
        &serde_json::json!({"items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "d"}}]}),
    )
    .unwrap();
    w.finish(manifest(Vec::new())).unwrap();
    let st = State::new(
        kpm_bundle::Bundle::open(&root).unwrap(),
        "127.0.0.1:1".into(),
    );
    let (code, s) = get(&st, "/api/v1/namespaces/d/pods");
    assert_eq!(code, 404, "{s}");
    assert_eq!(
        s["message"],
        "the server could not find the requested resource (pods in namespace d was not collected in this snapshot)"
    );
    // A namespace the cluster did not have lists nothing, as on the cluster.
    let (code, list) = get(&st, "/api/v1/namespaces/zzz/pods");
    assert_eq!((code, names(&list).len()), (200, 0));
}
