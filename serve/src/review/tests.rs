//! The reviews answered from a small bundle: pods and logs in `shop`,
//! secrets forbidden there, no metrics.

use super::*;
use kpm_bundle::layout;
use serde_json::json;

fn state(dir: &std::path::Path, rbac: Option<&str>) -> State {
    use kpm_bundle::{BundleWriter, Outcome, Step};
    let root = dir.join("b");
    let mut w = BundleWriter::create_dir(&root, false).unwrap();
    let list = |items: Vec<Value>| json!({"metadata": {"resourceVersion": "1"}, "items": items});
    w.write_json(
        &layout::namespaced_path("shop", "pods"),
        &list(vec![
            json!({"metadata": {"name": "web", "namespace": "shop"}}),
        ]),
    )
    .unwrap();
    w.write_json(&layout::namespaced_path("shop", "events"), &list(vec![]))
        .unwrap();
    w.write_json(&layout::namespaced_path("web", "pods"), &list(vec![]))
        .unwrap();
    w.write_json("cluster/nodes.json", &list(vec![])).unwrap();
    w.write_entry(&layout::log_path("shop", "web", "app", false), b"hi\n")
        .unwrap();
    let mut secrets = Step::new("secrets", Outcome::Forbidden);
    secrets.namespace = Some("shop".into());
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let manifest = kpm_bundle::Manifest {
        steps: vec![secrets],
        ..kpm_bundle::Manifest::new(("t", "0"), epoch, epoch)
    };
    w.finish(manifest).unwrap();
    let mut knobs = crate::knobs::Knobs::default();
    knobs.rbac = rbac.map(|r| std::sync::Arc::new(crate::rbac::Rbac::parse(r).unwrap()));
    State {
        store: crate::store::Store::new(kpm_bundle::Bundle::open(&root).unwrap()),
        knobs,
        server_address: "127.0.0.1:1".into(),
        has_metrics: false,
    }
}

fn can_i(state: &State, attrs: Value) -> (bool, String) {
    let v = access_answer(
        state,
        &json!({"kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attrs}}),
    )
    .unwrap();
    assert_eq!(v["kind"], "SelfSubjectAccessReview");
    (
        v["status"]["allowed"].as_bool().unwrap(),
        v["status"]["reason"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn reads_of_what_the_snapshot_holds_and_no_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), None);
    let yes = |a: Value| assert_eq!(can_i(&s, a.clone()), (true, String::new()), "{a}");
    yes(json!({"verb": "get", "resource": "pods", "namespace": "shop"}));
    yes(json!({"verb": "watch", "resource": "pods"}));
    yes(json!({"verb": "list", "resource": "nodes"}));
    yes(json!({"verb": "get", "resource": "pods", "subresource": "log", "namespace": "shop"}));
    // A namespace the bundle does not know lists empty, as on a cluster.
    yes(json!({"verb": "list", "resource": "pods", "namespace": "elsewhere"}));
    yes(
        json!({"verb": "create", "group": "authorization.k8s.io", "resource": "selfsubjectaccessreviews"}),
    );
    let (ok, why) = can_i(
        &s,
        json!({"verb": "delete", "resource": "pods", "namespace": "shop"}),
    );
    assert!(!ok);
    assert!(why.contains("read-only snapshot"), "{why}");
    let (ok, why) = can_i(
        &s,
        json!({"verb": "list", "resource": "secrets", "namespace": "shop"}),
    );
    assert!(!ok);
    assert_eq!(
        why,
        "the collector was forbidden to read secrets in namespace shop: the snapshot holds none"
    );
    let (ok, why) = can_i(
        &s,
        json!({"verb": "list", "resource": "services", "namespace": "shop"}),
    );
    assert_eq!(
        (ok, why.as_str()),
        (false, "services in namespace shop were not collected")
    );
    let (ok, why) = can_i(
        &s,
        json!({"verb": "get", "resource": "pods", "subresource": "log", "namespace": "web"}),
    );
    assert_eq!(
        (ok, why.as_str()),
        (false, "no container logs were collected in namespace web")
    );
    let (ok, why) = can_i(
        &s,
        json!({"verb": "list", "group": "rbac.authorization.k8s.io", "resource": "roles"}),
    );
    assert!(
        !ok && why.contains("no resource roles.rbac.authorization.k8s.io"),
        "{why}"
    );
    let (ok, _) = can_i(
        &s,
        json!({"verb": "list", "group": "metrics.k8s.io", "resource": "pods"}),
    );
    assert!(!ok);
    let non = access_answer(
        &s,
        &json!({"spec": {"nonResourceAttributes": {"verb": "get", "path": "/readyz"}}}),
    )
    .unwrap();
    assert_eq!(non["status"]["allowed"], true);
    let both = access_answer(&s, &json!({"spec": {}})).unwrap_err();
    assert_eq!(both.code, 400);
}

#[test]
fn rules_review_lists_what_is_readable_per_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), None);
    let v = review_answer(
        &s,
        &json!({"kind": "SelfSubjectRulesReview", "spec": {"namespace": "shop"}}),
    )
    .unwrap();
    let rules = v["status"]["resourceRules"].as_array().unwrap();
    let core = rules
        .iter()
        .find(|r| r["apiGroups"] == json!([""]) && r["verbs"] == json!(["get", "list", "watch"]))
        .unwrap();
    assert_eq!(core["resources"], json!(["nodes", "pods", "events"]));
    assert!(rules.iter().any(|r| r["resources"] == json!(["pods/log"])));
    assert!(!rules.iter().any(|r| r["verbs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "*" || v == "delete")));
    let web = review_answer(&s, &json!({"spec": {"namespace": "web"}})).unwrap();
    assert!(!web["status"]["resourceRules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["resources"] == json!(["pods/log"])));
    let e = review_answer(&s, &json!({"spec": {}})).unwrap_err();
    assert_eq!(e.message, "no namespace on request");
    let e = review_answer(&s, &json!({"kind": "SubjectAccessReview"})).unwrap_err();
    assert_eq!(e.code, 400);
    assert!(is_rules_review(
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews/"
    ));
    assert!(is_review(
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    ));
}

#[test]
fn rbac_knob_narrows_both_reviews() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(
        dir.path(),
        Some("kind: Role\nmetadata: {name: r, namespace: shop}\nrules: [{apiGroups: [''], resources: [pods], verbs: [list]}]\n"),
    );
    let v = review_answer(&s, &json!({"spec": {"namespace": "shop"}})).unwrap();
    assert_eq!(v["status"]["resourceRules"][0]["resources"][0], "pods");
    let allowed = |verb: &str, ns: &str| {
        can_i(
            &s,
            json!({"verb": verb, "resource": "pods", "namespace": ns}),
        )
        .0
    };
    assert!(allowed("list", "shop"));
    assert!(!allowed("get", "shop"));
    assert!(!allowed("list", "web"));
}

#[test]
fn discovery_lists_the_reviews() {
    let list = crate::discovery::resource_list("authorization.k8s.io", "v1", false).unwrap();
    let names: Vec<&str> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, REVIEWS_FOR_TEST);
    assert!(list["resources"][0]["verbs"] == json!(["create"]));
    let groups = crate::discovery::group_list(false);
    assert!(groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["name"] == "authorization.k8s.io"));
}

const REVIEWS_FOR_TEST: [&str; 2] = ["selfsubjectaccessreviews", "selfsubjectrulesreviews"];
