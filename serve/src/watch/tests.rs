use std::sync::Arc;
use std::time::Duration;

use kpm_bundle::{layout, BundleWriter};
use serde_json::{json, Value};

use super::*;
use crate::routes::{handle, Route};
use crate::store::Store;

/// Pods `a-1`, `a-2` (list version 10) and `b-1` (20); namespaces at 99.
fn state(dir: &std::path::Path) -> State {
    let root = dir.join("b");
    let mut w = BundleWriter::create_dir(&root, false).unwrap();
    let pod = |ns: &str, name: &str, rv: &str| {
        json!({"metadata": {"name": name, "namespace": ns, "resourceVersion": rv, "labels": {"app": name}},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "nginx:1.27"}]},
            "status": {"phase": "Running"}})
    };
    for (ns, rv, names) in [("a", "10", vec!["a-2", "a-1"]), ("b", "20", vec!["b-1"])] {
        let items: Vec<Value> = names.iter().map(|n| pod(ns, n, "5")).collect();
        w.write_json(
            &layout::namespaced_path(ns, "pods"),
            &json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": rv}, "items": items}),
        )
        .unwrap();
    }
    w.write_json(
        "cluster/namespaces.json",
        &json!({"metadata": {"resourceVersion": "99"}, "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}),
    )
    .unwrap();
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    w.finish(kpm_bundle::Manifest::new(("t", "0"), epoch, epoch))
        .unwrap();
    State {
        store: Store::new(kpm_bundle::Bundle::open(&root).unwrap()),
        knobs: crate::knobs::Knobs::default(),
        server_address: "127.0.0.1:1".into(),
        has_metrics: false,
    }
}

/// Routes `path_and_query` as a watch: the plan, or the error status.
fn plan(st: &State, path_and_query: &str, table: bool) -> Result<Plan, (u16, Value)> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let route = Route::parse(path);
    let mut reply = handle(
        st,
        &Request {
            route: &route,
            query: &query,
            table,
        },
    );
    match reply.watch.take() {
        Some(p) => {
            assert_eq!(
                (reply.status, reply.content_type),
                (200, "application/json")
            );
            Ok(p.with_bookmark_every(Duration::from_millis(100)))
        }
        None => Err((reply.status, serde_json::from_slice(&reply.body).unwrap())),
    }
}

/// Every event of a watch, in order, until the server ends it.
async fn events(st: Arc<State>, plan: Plan) -> Vec<Value> {
    let mut rx = start(st, plan);
    let mut text = Vec::new();
    let all = async {
        while let Some(chunk) = rx.recv().await {
            text.extend_from_slice(&chunk.unwrap());
        }
    };
    tokio::time::timeout(Duration::from_secs(20), all)
        .await
        .expect("the watch ends at its timeout");
    let text = String::from_utf8(text).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "{text}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn summary(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let o = &e["object"];
            let name = o["metadata"]["name"].as_str().unwrap_or("");
            let rv = o["metadata"]["resourceVersion"].as_str().unwrap_or("");
            format!(
                "{} {} {name} {rv}",
                e["type"].as_str().unwrap(),
                o["kind"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unset_version_replays_the_state_then_stays_open_until_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let st = Arc::new(state(dir.path()));
    let p = plan(&st, "/api/v1/pods?watch=true&timeoutSeconds=1", false).unwrap();
    let started = std::time::Instant::now();
    let ev = events(st.clone(), p).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        summary(&ev),
        ["ADDED Pod a-1 5", "ADDED Pod a-2 5", "ADDED Pod b-1 5"]
    );
    assert_eq!(ev[0]["object"]["apiVersion"], "v1");
    assert_eq!(ev[0]["object"]["spec"]["nodeName"], "n1");
    // One namespace, one object by field selector.
    let p = plan(
        &st,
        "/api/v1/namespaces/a/pods?watch=1&fieldSelector=metadata.name%3Da-2&timeoutSeconds=1",
        false,
    )
    .unwrap();
    assert_eq!(summary(&events(st.clone(), p).await), ["ADDED Pod a-2 5"]);
    // The object's own URL.
    let p = plan(
        &st,
        "/api/v1/namespaces/b/pods/b-1?watch=true&timeoutSeconds=1",
        false,
    )
    .unwrap();
    assert_eq!(summary(&events(st, p).await), ["ADDED Pod b-1 5"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_version_starts_after_the_state_with_bookmarks_at_that_version() {
    let dir = tempfile::tempdir().unwrap();
    let st = Arc::new(state(dir.path()));
    let p = plan(
        &st,
        "/api/v1/namespaces/a/pods?watch=true&resourceVersion=10&allowWatchBookmarks=true&timeoutSeconds=1",
        false,
    )
    .unwrap();
    let ev = summary(&events(st.clone(), p).await);
    assert!(ev.len() >= 3, "{ev:?}");
    assert!(ev.iter().all(|e| e == "BOOKMARK Pod  10"), "{ev:?}");
    // Without allowWatchBookmarks: nothing at all.
    let p = plan(
        &st,
        "/api/v1/pods?watch=true&resourceVersion=99&timeoutSeconds=1",
        false,
    )
    .unwrap();
    assert!(events(st, p).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_initial_events_ends_with_the_annotated_bookmark() {
    let dir = tempfile::tempdir().unwrap();
    let st = Arc::new(state(dir.path()));
    let p = plan(
        &st,
        "/api/v1/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&labelSelector=app%3Db-1&timeoutSeconds=1",
        false,
    )
    .unwrap();
    let ev = events(st.clone(), p).await;
    let s = summary(&ev);
    assert_eq!(s[..2], ["ADDED Pod b-1 5", "BOOKMARK Pod  99"]);
    assert_eq!(
        ev[1]["object"]["metadata"]["annotations"][INITIAL_EVENTS_END],
        "true"
    );
    assert!(ev[2..]
        .iter()
        .all(|e| e["object"]["metadata"].get("annotations").is_none()));
    let (code, status) = plan(&st, "/api/v1/pods?watch=true&sendInitialEvents=true", false)
        .err()
        .unwrap();
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_version_is_an_error_event_and_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let st = Arc::new(state(dir.path()));
    let p = plan(
        &st,
        "/api/v1/namespaces/b/pods?watch=true&resourceVersion=3",
        false,
    )
    .unwrap();
    let ev = events(st.clone(), p).await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["type"], "ERROR");
    assert_eq!(ev[0]["object"]["code"], 410);
    assert_eq!(
        ev[0]["object"]["message"],
        "too old resource version: 3 (20)"
    );
    // Missing lists are HTTP errors, before any stream, as for a list.
    assert_eq!(
        plan(&st, "/api/v1/namespaces/a/secrets?watch=true", false)
            .err()
            .unwrap()
            .0,
        404
    );
    assert_eq!(
        plan(
            &st,
            "/api/v1/pods?watch=true&fieldSelector=spec.bogus%3Dx",
            false
        )
        .err()
        .unwrap()
        .0,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_watches_send_one_row_tables() {
    let dir = tempfile::tempdir().unwrap();
    let st = Arc::new(state(dir.path()));
    let p = plan(
        &st,
        "/api/v1/namespaces/a/pods?watch=true&timeoutSeconds=1",
        true,
    )
    .unwrap();
    let ev = events(st.clone(), p).await;
    assert_eq!(ev.len(), 2);
    let t = &ev[0]["object"];
    assert_eq!(
        (t["kind"].as_str(), ev[0]["type"].as_str()),
        (Some("Table"), Some("ADDED"))
    );
    assert_eq!(t["rows"].as_array().unwrap().len(), 1);
    assert_eq!(t["rows"][0]["cells"][0], "a-1");
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    // ReplicationControllers are served empty, and watched empty.
    let p = plan(
        &st,
        "/api/v1/namespaces/a/replicationcontrollers?watch=true&timeoutSeconds=1",
        false,
    )
    .unwrap();
    assert!(events(st, p).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_ends_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let st = Arc::new(state(dir.path()));
    let p = plan(
        &st,
        "/api/v1/pods?watch=true&allowWatchBookmarks=true",
        false,
    )
    .unwrap();
    let mut rx = start(st.clone(), p);
    assert!(rx.recv().await.is_some());
    drop(rx);
    // The task holds the state until it notices; it must let go promptly.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while Arc::strong_count(&st) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "watch task still running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn events_are_one_line_each() {
    let pretty = "{\n  \"a\": \"x \\\" y\\n\",\r\n  \"b\": [ 1, 2 ]\n}";
    let mut out = pretty.as_bytes().to_vec();
    one_line(&mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"a\":\"x \\\" y\\n\",\"b\":[1,2]}"
    );
}

#[test]
fn typed_objects_get_kind_and_api_version_once() {
    let kind = layout::kind_by_plural("pods").unwrap();
    let mut out = Vec::new();
    push_typed(&mut out, r#"{"metadata":{"name":"x"}}"#, kind);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}"#
    );
    let mut out = Vec::new();
    push_typed(&mut out, r#"{"apiVersion":"v1","kind":"Pod"}"#, kind);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"apiVersion":"v1","kind":"Pod"}"#
    );
    let mut out = Vec::new();
    push_typed(&mut out, "{ }", kind);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v, json!({"kind": "Pod", "apiVersion": "v1"}));
}
