use super::*;
use serde_json::Value;

use crate::store::Store;

fn res(g: &str, p: &str, ns: Option<&str>, name: Option<&str>, sub: Option<&str>) -> Route {
    Route::Resource {
        group: g.into(),
        version: "v1".into(),
        plural: p.into(),
        namespace: ns.map(Into::into),
        name: name.map(Into::into),
        subresource: sub.map(Into::into),
    }
}

#[test]
fn parses_the_api_server_url_shapes() {
    assert_eq!(
        Route::parse("/api/v1/pods"),
        res("", "pods", None, None, None)
    );
    assert_eq!(
        Route::parse("/api/v1/namespaces"),
        res("", "namespaces", None, None, None)
    );
    assert_eq!(
        Route::parse("/api/v1/namespaces/shop"),
        res("", "namespaces", None, Some("shop"), None)
    );
    assert_eq!(
        Route::parse("/api/v1/namespaces/shop/status"),
        res("", "namespaces", None, Some("shop"), Some("status"))
    );
    assert_eq!(
        Route::parse("/api/v1/namespaces/shop/pods"),
        res("", "pods", Some("shop"), None, None)
    );
    assert_eq!(
        Route::parse("/api/v1/namespaces/shop/pods/web-1/log"),
        res("", "pods", Some("shop"), Some("web-1"), Some("log"))
    );
    assert_eq!(
        Route::parse("/apis/apps/v1/namespaces/shop/deployments/web"),
        res("apps", "deployments", Some("shop"), Some("web"), None)
    );
    assert_eq!(
        Route::parse("/api/v1/nodes/worker-1"),
        res("", "nodes", None, Some("worker-1"), None)
    );
    assert_eq!(
        Route::parse("/apis/apps/v1"),
        Route::Static(vec!["apis".into(), "apps".into(), "v1".into()])
    );
    assert_eq!(
        Route::parse("/version"),
        Route::Static(vec!["version".into()])
    );
}

/// A bundle with pods in three namespaces; secrets forbidden in `b`.
fn state(dir: &std::path::Path) -> State {
    use kpm_bundle::{BundleWriter, Outcome, Step};
    let root = dir.join("b");
    let mut w = BundleWriter::create_dir(&root, false).unwrap();
    let pod = |ns: &str, name: &str, node: &str| {
        serde_json::json!({"metadata": {"name": name, "namespace": ns, "labels": {"app": "web"}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx:1.27"}]}, "status": {"phase": "Running"}})
    };
    for (ns, rv) in [("a", "10"), ("b", "20"), ("c", "30")] {
        let items = vec![
            pod(ns, &format!("{ns}-2"), "n1"),
            pod(ns, &format!("{ns}-1"), "n2"),
        ];
        w.write_json(&layout::namespaced_path(ns, "pods"), &serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": rv}, "items": items})).unwrap();
    }
    w.write_json(
        "cluster/namespaces.json",
        &serde_json::json!({"metadata": {"resourceVersion": "99"}, "items": [
        {"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}, {"metadata": {"name": "c"}}]}),
    )
    .unwrap();
    let mut forbidden = Step::new("secrets", Outcome::Forbidden);
    forbidden.namespace = Some("b".into());
    let mut log_forbidden = Step::new("logs", Outcome::Forbidden);
    log_forbidden.namespace = Some("c".into());
    log_forbidden.object = Some("c-1/app".into());
    let manifest = manifest(vec![forbidden, log_forbidden]);
    w.finish(manifest).unwrap();
    State {
        store: Store::new(kpm_bundle::Bundle::open(&root).unwrap()),
        knobs: crate::knobs::Knobs::default(),
        server_address: "127.0.0.1:1".into(),
        has_metrics: false,
    }
}

fn manifest(steps: Vec<kpm_bundle::Step>) -> kpm_bundle::Manifest {
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    kpm_bundle::Manifest {
        steps,
        ..kpm_bundle::Manifest::new(("t", "0"), epoch, epoch)
    }
}

fn get(state: &State, path_and_query: &str) -> (u16, Value) {
    get_as(state, path_and_query, false)
}

fn get_as(state: &State, path_and_query: &str, table: bool) -> (u16, Value) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let route = Route::parse(path);
    let reply = handle(
        state,
        &Request {
            route: &route,
            query: &query,
            table,
        },
    );
    (reply.status, serde_json::from_slice(&reply.body).unwrap())
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn all_namespace_pages_load_lazily_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let (code, p1) = get(&st, "/api/v1/pods?limit=3");
    assert_eq!(code, 200);
    assert_eq!(names(&p1), ["a-1", "a-2", "b-1"]);
    // Only the namespaces the page reached were parsed.
    assert!(st.store.is_cached("namespaces/b/pods.json"));
    assert!(!st.store.is_cached("namespaces/c/pods.json"));
    let token = p1["metadata"]["continue"].as_str().unwrap().to_string();
    let (_, p2) = get(&st, &format!("/api/v1/pods?limit=3&continue={token}"));
    assert_eq!(names(&p2), ["b-2", "c-1", "c-2"]);
    assert!(p2["metadata"].get("continue").is_none());
    assert_eq!(p2["metadata"]["resourceVersion"], "99");
    let (code, gone) = get(&st, "/api/v1/pods?limit=3&continue=bm9wZQ");
    assert_eq!((code, gone["reason"].as_str()), (410, Some("Expired")));
    let (_, on_n1) = get(&st, "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&limit=2");
    assert_eq!(names(&on_n1), ["a-2", "b-2"]);
    let token = on_n1["metadata"]["continue"].as_str().unwrap().to_string();
    let (_, rest) = get(
        &st,
        &format!("/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&limit=2&continue={token}"),
    );
    assert_eq!(names(&rest), ["c-2"]);
}

#[test]
fn a_log_forbidden_during_collection_is_forbidden_again() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let (code, s) = get(&st, "/api/v1/namespaces/c/pods/c-1/log");
    assert_eq!(code, 403);
    assert_eq!(s["message"], "pods \"c-1\" is forbidden: User \"kpm-snapshot\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"c\"");
    // The same missing log without a forbidden step is not a 403, nor is the
    // pod's other instance (the step is for the current log only).
    assert_ne!(get(&st, "/api/v1/namespaces/c/pods/c-2/log").0, 403);
    assert_ne!(
        get(&st, "/api/v1/namespaces/c/pods/c-1/log?previous=true").0,
        403
    );
}

#[test]
fn errors_replay_the_manifest_and_the_api_server() {
    let dir = tempfile::tempdir().unwrap();
    let st = state(dir.path());
    let (code, s) = get(&st, "/api/v1/namespaces/b/secrets");
    assert_eq!(code, 403);
    assert_eq!(s["message"], "secrets is forbidden: User \"kpm-snapshot\" cannot list resource \"secrets\" in API group \"\" in the namespace \"b\"");
    let (code, s) = get(&st, "/api/v1/namespaces/a/secrets");
    assert_eq!(code, 404);
    assert!(s["message"]
        .as_str()
        .unwrap()
        .contains("secrets in namespace a was not collected"));
    assert_eq!(get(&st, "/api/v1/secrets").0, 403);
    let (code, s) = get(&st, "/api/v1/namespaces/a/pods/nope");
    assert_eq!(
        (code, s["message"].as_str()),
        (404, Some("pods \"nope\" not found"))
    );
    let (code, pod) = get(&st, "/api/v1/namespaces/a/pods/a-1");
    assert_eq!(
        (code, pod["kind"].as_str(), pod["apiVersion"].as_str()),
        (200, Some("Pod"), Some("v1"))
    );
    assert_eq!(
        get(&st, "/api/v1/namespaces/zzz/pods").1["items"],
        serde_json::json!([])
    );
    assert_eq!(get(&st, "/apis/metrics.k8s.io/v1beta1/nodes").0, 404);
    assert_eq!(
        get(&st, "/api/v1/pods?fieldSelector=spec.bogus%3Dx").1["message"],
        "field label not supported: spec.bogus"
    );
    assert_eq!(
        get(&st, "/api/v1/namespaces/a/replicationcontrollers").1["kind"],
        "ReplicationControllerList"
    );
}

/// Six namespaces of pods spread over three nodes (some finished), with
/// events about the pods and, in `default`, about the nodes; lists are
/// stored out of name order. `budget` is the list cache's.
fn cluster(dir: &std::path::Path, budget: usize) -> State {
    use kpm_bundle::BundleWriter;
    let root = dir.join("cluster");
    let mut w = BundleWriter::create_dir(&root, false).unwrap();
    let mut namespaces = vec![serde_json::json!({"metadata": {"name": "default"}})];
    for n in 0..6 {
        let ns = format!("ns-{n}");
        let mut pods = Vec::new();
        let mut events = Vec::new();
        for j in (0..7).rev() {
            let name = format!("web-{j}");
            let phase = if j % 3 == 2 { "Succeeded" } else { "Running" };
            pods.push(serde_json::json!({
                "metadata": {"name": name, "namespace": ns, "labels": {"app": "web", "slot": j.to_string()},
                    "creationTimestamp": "1970-01-01T00:00:00Z"},
                "spec": {"nodeName": format!("worker-{}", (n + j) % 3), "containers": [{"name": "app", "image": "nginx:1.27"}]},
                "status": {"phase": phase, "podIP": format!("10.244.{n}.{j}"),
                    "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "nginx:1.27", "imageID": "", "state": {"running": {"startedAt": "1970-01-01T00:00:00Z"}}}]}
            }));
            events.push(serde_json::json!({
                "metadata": {"name": format!("{name}.18{j}a"), "namespace": ns},
                "involvedObject": {"kind": "Pod", "namespace": ns, "name": name, "uid": format!("{ns}-{name}")},
                "reason": "Pulled", "type": "Normal", "source": {"component": "kubelet", "host": format!("worker-{}", (n + j) % 3)},
                "message": "Container image \"nginx:1.27\" already present on machine", "count": 1
            }));
        }
        w.write_json(&layout::namespaced_path(&ns, "pods"), &serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "500"}, "items": pods})).unwrap();
        w.write_json(&layout::namespaced_path(&ns, "events"), &serde_json::json!({"kind": "EventList", "apiVersion": "v1", "metadata": {"resourceVersion": "500"}, "items": events})).unwrap();
        namespaces.push(serde_json::json!({"metadata": {"name": ns}}));
    }
    let node_events: Vec<Value> = (0..3)
        .map(|i| serde_json::json!({
            "metadata": {"name": format!("worker-{i}.17f{i}"), "namespace": "default"},
            "involvedObject": {"kind": "Node", "name": format!("worker-{i}"), "uid": format!("worker-{i}")},
            "reason": "NodeHasSufficientMemory", "type": "Normal", "source": {"component": "kubelet", "host": format!("worker-{i}")},
            "message": format!("Node worker-{i} status is now: NodeHasSufficientMemory")
        }))
        .collect();
    w.write_json(
        &layout::namespaced_path("default", "events"),
        &serde_json::json!({"metadata": {"resourceVersion": "500"}, "items": node_events}),
    )
    .unwrap();
    w.write_json(
        "cluster/namespaces.json",
        &serde_json::json!({"metadata": {"resourceVersion": "501"}, "items": namespaces}),
    )
    .unwrap();
    w.finish(manifest(Vec::new())).unwrap();
    State {
        store: Store::with_budget(kpm_bundle::Bundle::open(&root).unwrap(), budget),
        knobs: crate::knobs::Knobs::default(),
        server_address: "127.0.0.1:1".into(),
        has_metrics: false,
    }
}

/// Every page of an all-namespaces list, following continue tokens.
fn all_pages(st: &State, path: &str, limit: usize, table: bool) -> Vec<String> {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(t) = &token {
            url.push_str(&format!("&continue={t}"));
        }
        let (code, page) = get_as(st, &url, table);
        assert_eq!(code, 200, "{url}: {page}");
        let names: Vec<String> = if table {
            page["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let meta = &r["object"]["metadata"];
                    format!(
                        "{}/{}",
                        meta["namespace"].as_str().unwrap_or(""),
                        meta["name"].as_str().unwrap()
                    )
                })
                .collect()
        } else {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    format!(
                        "{}/{}",
                        i["metadata"]["namespace"].as_str().unwrap_or(""),
                        i["metadata"]["name"].as_str().unwrap()
                    )
                })
                .collect()
        };
        assert!(names.len() <= limit, "{url}");
        // Only an empty selection has an empty page, and then only one.
        assert!(
            !names.is_empty() || (token.is_none() && page["metadata"].get("continue").is_none()),
            "{url}"
        );
        seen.extend(names);
        match page["metadata"]["continue"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return seen,
        }
    }
}

/// The same selection by reading each namespace's list in turn.
fn per_namespace_scan(st: &State, plural: &str, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for ns in st.store.namespaces() {
        let (code, list) = get(st, &format!("/api/v1/namespaces/{ns}/{plural}?{query}"));
        if code == 404 {
            continue;
        }
        for i in list["items"].as_array().unwrap() {
            out.push(format!("{ns}/{}", i["metadata"]["name"].as_str().unwrap()));
        }
    }
    out
}

#[test]
fn continue_tokens_cross_namespaces_exactly_once_under_a_tiny_cache() {
    let dir = tempfile::tempdir().unwrap();
    // A budget smaller than one list: every namespace is evicted as soon as
    // the next one is parsed, and paging must not care.
    let st = cluster(dir.path(), 1);
    let expected: Vec<String> = (0..6)
        .flat_map(|n| (0..7).map(move |j| format!("ns-{n}/web-{j}")))
        .collect();
    for limit in [1, 3, 7, 10, 500] {
        assert_eq!(
            all_pages(&st, "/api/v1/pods", limit, false),
            expected,
            "limit {limit}"
        );
        assert_eq!(
            all_pages(&st, "/api/v1/pods", limit, true),
            expected,
            "table, limit {limit}"
        );
    }
    assert!(!st.store.is_cached("namespaces/ns-0/pods.json"));
    assert!(st.store.is_cached("namespaces/ns-5/pods.json"));
    // A get after eviction parses the list again.
    let (code, pod) = get(&st, "/api/v1/namespaces/ns-0/pods/web-3");
    assert_eq!(
        (code, pod["spec"]["nodeName"].as_str()),
        (200, Some("worker-0"))
    );
}

#[test]
fn indexed_selections_equal_a_scan() {
    // With a tiny cache the indexed objects are read from their byte ranges;
    // with a big one from the cached lists. Both must equal a scan.
    for budget in [1, 1 << 20] {
        indexed_equals_scan(budget);
    }
}

fn indexed_equals_scan(budget: usize) {
    let dir = tempfile::tempdir().unwrap();
    let st = cluster(dir.path(), budget);
    for node in ["worker-0", "worker-1", "worker-2", "worker-9", ""] {
        // As `kubectl describe node` asks.
        let sel = format!("fieldSelector=spec.nodeName%3D{node}%2Cstatus.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed");
        let scan = per_namespace_scan(&st, "pods", &sel);
        for limit in [1, 4, 500] {
            assert_eq!(
                all_pages(&st, &format!("/api/v1/pods?{sel}"), limit, false),
                scan,
                "{node} limit {limit}"
            );
        }
        if node.starts_with("worker-") && node != "worker-9" {
            assert_eq!(scan.len(), 10, "{node}: 14 pods minus finished ones");
        }
        let ev = format!("fieldSelector=involvedObject.name%3D{node}%2CinvolvedObject.namespace%3D%2CinvolvedObject.kind%3DNode");
        let scan = per_namespace_scan(&st, "events", &ev);
        let (_, indexed) = get(&st, &format!("/api/v1/events?{ev}&limit=500"));
        assert_eq!(names(&indexed).len(), scan.len());
        if node.starts_with("worker-") && node != "worker-9" {
            assert_eq!(scan, [format!("default/{node}.17f{}", &node[7..])]);
        }
    }
    let pod_events = per_namespace_scan(&st, "events", "fieldSelector=involvedObject.name%3Dweb-4");
    assert_eq!(pod_events.len(), 6);
    assert_eq!(
        all_pages(
            &st,
            "/api/v1/events?fieldSelector=involvedObject.name%3Dweb-4",
            4,
            false
        ),
        pod_events
    );
    assert!(st
        .store
        .index("pods", "spec.nodeName")
        .is_some_and(|ix| ix.len() == 3));
}

mod current_shape;
mod snapshot_gaps;
