use super::*;

fn list(
    verb: &'static str,
    resource: &'static str,
    ns: Option<&'static str>,
) -> Attributes<'static> {
    Attributes::Resource {
        verb,
        group: "",
        resource,
        subresource: None,
        namespace: ns,
        name: None,
    }
}

const MIXED: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: shop}
rules:
  - apiGroups: [""]
    resources: ["pods", "pods/log"]
    verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: nodes}
rules:
  - apiGroups: [""]
    resources: ["nodes"]
    verbs: ["list"]
  - apiGroups: ["apps"]
    resources: ["deployments"]
    resourceNames: ["web"]
    verbs: ["get"]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: reader, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects:
  - {kind: ServiceAccount, name: narrow, namespace: tools}
---
"#;

#[test]
fn roles_apply_in_their_namespace_cluster_roles_everywhere() {
    let r = Rbac::parse(MIXED).unwrap();
    assert_eq!(r.user, "system:serviceaccount:tools:narrow");
    assert!(r.allows(&list("list", "pods", Some("shop"))));
    assert!(!r.allows(&list("list", "pods", Some("web"))));
    // An all-namespaces list is a cluster-scope request: a Role never allows it.
    assert!(!r.allows(&list("list", "pods", None)));
    assert!(!r.allows(&list("watch", "pods", Some("shop"))));
    assert!(r.allows(&list("list", "nodes", None)));
    assert!(r.allows(&list("list", "nodes", Some("any"))));
    let log = Attributes::Resource {
        verb: "get",
        group: "",
        resource: "pods",
        subresource: Some("log"),
        namespace: Some("shop"),
        name: Some("web-1"),
    };
    assert!(r.allows(&log));
    let deploy = |name| Attributes::Resource {
        verb: "get",
        group: "apps",
        resource: "deployments",
        subresource: None,
        namespace: Some("shop"),
        name,
    };
    assert!(r.allows(&deploy(Some("web"))));
    assert!(!r.allows(&deploy(Some("api"))));
    assert!(!r.allows(&deploy(None)));
}

#[test]
fn forbidden_answers_the_api_server_text() {
    let r = Rbac::parse(MIXED).unwrap();
    let e = r.check(&list("list", "secrets", Some("shop"))).unwrap();
    assert_eq!(e.code, 403);
    assert_eq!(
        e.message,
        "secrets is forbidden: User \"system:serviceaccount:tools:narrow\" cannot list resource \"secrets\" in API group \"\" in the namespace \"shop\""
    );
    let log = Attributes::Resource {
        verb: "get",
        group: "",
        resource: "pods",
        subresource: Some("log"),
        namespace: Some("web"),
        name: Some("api-1"),
    };
    assert_eq!(
        r.check(&log).unwrap().message,
        "pods \"api-1\" is forbidden: User \"system:serviceaccount:tools:narrow\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"web\""
    );
    let path = Attributes::NonResource {
        verb: "get",
        path: "/metrics",
    };
    assert_eq!(
        r.check(&path).unwrap().message,
        "forbidden: User \"system:serviceaccount:tools:narrow\" cannot get path \"/metrics\""
    );
}

#[test]
fn discovery_version_and_reviews_are_everyones() {
    let r = Rbac::parse(MIXED).unwrap();
    for path in ["/version", "/api", "/api/v1", "/apis/apps/v1", "/healthz"] {
        assert!(
            r.allows(&Attributes::NonResource { verb: "get", path }),
            "{path}"
        );
    }
    assert!(r.allows(&Attributes::Resource {
        verb: "create",
        group: "authorization.k8s.io",
        resource: "selfsubjectrulesreviews",
        subresource: None,
        namespace: None,
        name: None,
    }));
}

#[test]
fn wildcards_match_as_rbac_does() {
    let r = Rbac::parse(
        r#"{"kind": "List", "items": [{"kind": "ClusterRole", "metadata": {"name": "x"}, "rules": [
            {"apiGroups": ["*"], "resources": ["*/log", "configmaps"], "verbs": ["*"]},
            {"nonResourceURLs": ["/logs/*"], "verbs": ["get"]}]}]}"#,
    )
    .unwrap();
    assert_eq!(r.user, DEFAULT_USER);
    let sub = |resource, sub| Attributes::Resource {
        verb: "get",
        group: "",
        resource,
        subresource: sub,
        namespace: Some("a"),
        name: Some("n"),
    };
    assert!(r.allows(&sub("pods", Some("log"))));
    assert!(!r.allows(&sub("pods", Some("exec"))));
    assert!(!r.allows(&sub("pods", None)));
    assert!(r.allows(&sub("configmaps", None)));
    assert!(r.allows(&Attributes::NonResource {
        verb: "get",
        path: "/logs/kubelet.log"
    }));
    assert!(!r.allows(&Attributes::NonResource {
        verb: "get",
        path: "/metrics"
    }));
}

#[test]
fn rules_review_holds_cluster_roles_and_the_namespace_roles() {
    let r = Rbac::parse(MIXED).unwrap();
    let shop = r.rules_review("shop");
    let resources = |v: &Value| -> Vec<String> {
        v["resourceRules"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
            })
            .collect()
    };
    assert!(resources(&shop).contains(&"pods/log".to_string()));
    assert!(!resources(&r.rules_review("web")).contains(&"pods".to_string()));
    assert!(resources(&r.rules_review("web")).contains(&"nodes".to_string()));
    assert_eq!(shop["incomplete"], false);
    assert!(shop["nonResourceRules"][0]["nonResourceURLs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u == "/version"));
}

#[test]
fn unusable_files_are_refused_with_the_reason() {
    assert!(Rbac::parse("kind: ServiceAccount\nmetadata: {name: x}\n")
        .unwrap_err()
        .contains("no Role or ClusterRole"));
    assert!(Rbac::parse(
        "kind: Role\nmetadata: {name: r}\nrules: [{resources: [pods], verbs: [get]}]\n"
    )
    .unwrap_err()
    .contains("no metadata.namespace"));
    assert!(
        Rbac::parse("kind: ClusterRole\nmetadata: {name: r}\nrules: [{resources: [pods]}]\n")
            .unwrap_err()
            .contains("rule 1: no verbs")
    );
    assert!(Rbac::parse("kind: [unclosed")
        .unwrap_err()
        .starts_with("not YAML"));
    assert!(Rbac::parse("{\"kind\": ")
        .unwrap_err()
        .starts_with("not JSON"));
}

#[test]
fn deploy_manifest_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/rbac.yaml");
    let r = Rbac::load(&path).unwrap();
    assert_eq!(r.user, "system:serviceaccount:kpm:kpm-collector");
    assert!(r.grants.iter().all(|g| g.namespace.is_none()));
    assert!(r.allows(&list("list", "pods", None)));
}
