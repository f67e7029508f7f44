use super::*;

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
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let manifest = kpm_bundle::Manifest {
        format_version: 1,
        tool: kpm_bundle::manifest::Tool {
            name: "t".into(),
            version: "0".into(),
        },
        collection: kpm_bundle::manifest::Collection {
            started_at: epoch,
            finished_at: epoch,
            interrupted: false,
            timed_out: false,
        },
        cluster: Default::default(),
        scope: Default::default(),
        options: Default::default(),
        steps: vec![forbidden],
        redaction: Default::default(),
        files: Default::default(),
    };
    w.finish(manifest).unwrap();
    State {
        store: Store::new(kpm_bundle::Bundle::open(&root).unwrap()),
        knobs: crate::knobs::Knobs::default(),
        server_address: "127.0.0.1:1".into(),
        has_metrics: false,
    }
}

fn get(state: &State, path_and_query: &str) -> (u16, Value) {
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
            table: false,
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
    assert_eq!(get(&st, "/api/v1/pods?watch=true").0, 405);
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
