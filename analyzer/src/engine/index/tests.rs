//! Tests of the namespace indexes and lookup helpers.

use super::*;
use crate::testkit::{obj, EventFixture, Fixture, PodFixture};
use serde_json::json;

fn fixture() -> Fixture {
    let mut fx = Fixture::new("shop");
    let mut a = PodFixture::new("shop", "web-7c9d8f6b5-a")
        .labels(json!({"app": "web", "tier": "front"}))
        .build();
    a["metadata"]["labels"]["track"] = json!("stable");
    let b = PodFixture::new("shop", "web-7c9d8f6b5-b")
        .labels(json!({"app": "web", "tier": "front"}))
        .not_ready()
        .build();
    let mut c = PodFixture::new("shop", "api-5d4c3b2a1-c")
        .labels(json!({"app": "api", "tier": "back"}))
        .build();
    c["metadata"]["ownerReferences"][0]["name"] = json!("api-5d4c3b2a1");
    fx.ns.pods = vec![obj(a), obj(b), obj(c)];
    fx.ns.replicasets = vec![obj(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-7c9d8f6b5", "namespace": "shop",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1", "controller": true}]}}))];
    fx.ns.events = vec![
        obj(EventFixture::about("shop", "Pod", "web-7c9d8f6b5-b").says("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503").count(4).build()),
        obj(EventFixture::about("shop", "Pod", "web-7c9d8f6b5-b").says("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503").count(10).series().build()),
        obj(EventFixture::about("shop", "Pod", "web-7c9d8f6b5-b").normal().says("Pulled", "Container image \"registry.example.com/shop/web:1.4.2\" already present on machine").build()),
    ];
    fx
}

#[test]
fn selector_lookup_uses_every_label() {
    let fx = fixture();
    let ctx = fx.ctx();
    let names = |sel: &[(&str, &str)]| -> Vec<String> {
        let sel: BTreeMap<String, String> = sel
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut n: Vec<String> = ctx
            .pods_selected_by(&sel)
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names(&[("app", "web")]),
        vec!["web-7c9d8f6b5-a", "web-7c9d8f6b5-b"]
    );
    assert_eq!(
        names(&[("app", "web"), ("track", "stable")]),
        vec!["web-7c9d8f6b5-a"]
    );
    assert!(names(&[("app", "web"), ("tier", "back")]).is_empty());
    assert!(
        names(&[]).is_empty(),
        "a Service without selector selects nothing"
    );
    let sel: LabelSelector = obj(
        json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]},
                                                              {"key": "track", "operator": "DoesNotExist"}]}),
    );
    let mut m: Vec<String> = ctx
        .pods_matching(&sel)
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    m.sort();
    assert_eq!(m, vec!["api-5d4c3b2a1-c", "web-7c9d8f6b5-b"]);
}

#[test]
fn events_merge_legacy_and_series_and_sort_by_last_seen() {
    let fx = fixture();
    let ctx = fx.ctx();
    let evs = ctx.events_for("Pod", "web-7c9d8f6b5-b");
    assert_eq!(evs.len(), 2);
    let unhealthy = evs.iter().find(|e| e.reason == "Unhealthy").unwrap();
    assert_eq!(unhealthy.count, 14);
    assert_eq!(
        unhealthy.last_seen.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-11-20T14:31:55+00:00")
    );
    assert_eq!(evs.last().map(|e| e.reason.as_str()), Some("Unhealthy"));
    assert!(ctx.events_for("Pod", "web-7c9d8f6b5-a").is_empty());
}

#[test]
fn owner_resolves_replicaset_to_deployment() {
    let fx = fixture();
    let ctx = fx.ctx();
    let owner = |name: &str| {
        ctx.pod(name)
            .and_then(|p| ctx.owner_workload(p))
            .map(|o| o.to_string())
    };
    assert_eq!(
        owner("web-7c9d8f6b5-a").as_deref(),
        Some("Deployment/shop/web")
    );
    // Its ReplicaSet is not in the bundle: the ReplicaSet is the best we know.
    assert_eq!(
        owner("api-5d4c3b2a1-c").as_deref(),
        Some("ReplicaSet/shop/api-5d4c3b2a1")
    );
}

#[test]
fn log_tail_numbers_lines_and_records_damage() {
    let log = "line one\nline two\n\nline four\n";
    let fx = Fixture::with_logs(
        "shop",
        &[("logs/shop/web-7c9d8f6b5-a/app.previous.log", log)],
    );
    let ctx = fx.ctx();
    let tail = ctx.pod_log_tail("web-7c9d8f6b5-a", "app", true, 2).unwrap();
    let got: Vec<(usize, &str)> = tail
        .lines
        .iter()
        .map(|l| (l.number, l.text.as_str()))
        .collect();
    assert_eq!(got, vec![(2, "line two"), (4, "line four")]);
    assert_eq!(tail.total_lines, 4);
    assert!(ctx
        .pod_log_tail("web-7c9d8f6b5-a", "app", false, 2)
        .is_none());
    assert!(ctx.take_damage().is_empty());
}

/// A StatefulSet pod recreated under the same name: the events about the
/// old pod (another uid) are history, not evidence about the new one.
#[test]
fn events_about_an_earlier_object_of_the_same_name_are_left_out() {
    let mut fx = Fixture::new("db");
    let mut p = PodFixture::new("db", "pg-0")
        .labels(json!({"app": "pg"}))
        .build();
    p["metadata"]["uid"] = json!("new-uid");
    fx.ns.pods = vec![obj(p)];
    let mut old = EventFixture::about("db", "Pod", "pg-0")
        .says("BackOff", "Back-off restarting failed container")
        .count(9)
        .build();
    old["involvedObject"]["uid"] = json!("old-uid");
    let mut now = EventFixture::about("db", "Pod", "pg-0")
        .normal()
        .says("Started", "Started container pg")
        .build();
    now["involvedObject"]["uid"] = json!("new-uid");
    let unknown = EventFixture::about("db", "Pod", "pg-0")
        .normal()
        .says("Pulled", "Container image already present")
        .build();
    fx.ns.events = vec![obj(old), obj(now), obj(unknown)];
    let ctx = fx.ctx();
    let mut reasons: Vec<String> = ctx
        .events_for("Pod", "pg-0")
        .into_iter()
        .map(|e| e.reason)
        .collect();
    reasons.sort();
    assert_eq!(reasons, vec!["Pulled", "Started"]);
}
