//! The NetworkPolicy evaluation against the examples of the Kubernetes
//! "Network Policies" concept page and the `networking.k8s.io/v1` API
//! reference, then the rule over a namespace.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{json, Value};

use super::eval::{self, cidr_contains, evaluate, Peer, Target, Verdict};

fn policy(name: &str, spec: Value) -> NetworkPolicy {
    serde_json::from_value(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec,
    }))
    .unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// The pod `app=web` in `shop`, on TCP 8080 named `http`.
struct Setup {
    target_labels: BTreeMap<String, String>,
    names: Vec<String>,
    peer_labels: BTreeMap<String, String>,
    ns_labels: BTreeMap<String, String>,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            target_labels: labels(&[("app", "web")]),
            names: vec!["http".to_string()],
            peer_labels: labels(&[("app.kubernetes.io/name", "ingress-nginx")]),
            ns_labels: labels(&[("kubernetes.io/metadata.name", "ingress-nginx")]),
        }
    }

    fn target(&self, port: i32) -> Target<'_> {
        Target {
            namespace: "shop",
            labels: &self.target_labels,
            port,
            protocol: "TCP",
            port_names: &self.names,
        }
    }

    /// The ingress-nginx controller pod, 10.0.2.77.
    fn controller(&self) -> Peer<'_> {
        Peer {
            namespace: "ingress-nginx",
            labels: &self.peer_labels,
            namespace_labels: Some(&self.ns_labels),
            ip: Some("10.0.2.77".parse().unwrap()),
        }
    }

    /// A pod of `shop` itself with `labels`.
    fn local<'a>(&'a self, labels: &'a BTreeMap<String, String>) -> Peer<'a> {
        Peer {
            namespace: "shop",
            labels,
            namespace_labels: None,
            ip: None,
        }
    }
}

fn allowed_by(v: &Verdict<'_>) -> Option<(String, usize)> {
    match v {
        Verdict::Allowed { policy, rule } => Some((policy.metadata.name.clone()?, *rule)),
        _ => None,
    }
}

fn denied_by(v: &Verdict<'_>) -> Vec<String> {
    match v {
        Verdict::Denied(isos) => isos
            .iter()
            .filter_map(|i| i.policy.metadata.name.clone())
            .collect(),
        _ => Vec::new(),
    }
}

fn default_deny() -> NetworkPolicy {
    policy(
        "default-deny-ingress",
        json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
    )
}

#[test]
fn no_policy_or_a_policy_selecting_other_pods_leaves_the_pod_open() {
    let s = Setup::new();
    assert!(matches!(
        evaluate(&[], &s.controller(), &s.target(8080)),
        Verdict::NotIsolated
    ));
    let other = policy(
        "db-only",
        json!({"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}),
    );
    assert!(matches!(
        evaluate(&[other], &s.controller(), &s.target(8080)),
        Verdict::NotIsolated
    ));
    // A policy of another namespace never selects shop's pods.
    let mut elsewhere = default_deny();
    elsewhere.metadata.namespace = Some("billing".into());
    assert!(matches!(
        evaluate(&[elsewhere], &s.controller(), &s.target(8080)),
        Verdict::NotIsolated
    ));
}

/// Docs, "Default deny all ingress traffic": `podSelector: {}` and
/// `policyTypes: [Ingress]` with no rules isolates every pod.
#[test]
fn default_deny_denies_with_no_rule_to_blame() {
    let s = Setup::new();
    let policies = [default_deny()];
    let v = evaluate(&policies, &s.controller(), &s.target(8080));
    let Verdict::Denied(isos) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(isos.len(), 1);
    assert!(isos[0].misses.is_empty());
    // `ingress: []` is the same.
    let empty = [policy(
        "deny",
        json!({"podSelector": {}, "ingress": [], "policyTypes": ["Ingress"]}),
    )];
    assert_eq!(
        denied_by(&evaluate(&empty, &s.controller(), &s.target(8080))),
        ["deny"]
    );
}

/// Docs, "Allow all ingress traffic": `ingress: [{}]` admits everything.
#[test]
fn an_empty_rule_admits_everything_and_policies_add_up() {
    let s = Setup::new();
    let policies = [
        default_deny(),
        policy(
            "allow-all-ingress",
            json!({"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]}),
        ),
    ];
    assert_eq!(
        allowed_by(&evaluate(&policies, &s.controller(), &s.target(8080))),
        Some(("allow-all-ingress".into(), 0))
    );
}

/// API reference: without `policyTypes` every policy affects ingress, an
/// egress-only section included; `policyTypes: [Egress]` does not.
#[test]
fn policy_types_default_to_ingress() {
    let s = Setup::new();
    let egress_section = policy(
        "egress-dns",
        json!({"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}),
    );
    assert!(eval::affects_ingress(&egress_section));
    assert_eq!(
        denied_by(&evaluate(
            std::slice::from_ref(&egress_section),
            &s.controller(),
            &s.target(8080)
        )),
        ["egress-dns"]
    );
    let egress_only = policy(
        "egress-only",
        json!({"podSelector": {}, "egress": [{}], "policyTypes": ["Egress"]}),
    );
    assert!(!eval::affects_ingress(&egress_only));
    assert!(matches!(
        evaluate(&[egress_only], &s.controller(), &s.target(8080)),
        Verdict::NotIsolated
    ));
}

/// Docs: a namespaceSelector admits every pod of the namespaces whose
/// labels match; the label `name` many guides use is not set by
/// Kubernetes (`kubernetes.io/metadata.name` is).
#[test]
fn namespace_selector_matches_namespace_labels() {
    let s = Setup::new();
    let rule = |labels: Value| {
        [
            default_deny(),
            policy(
                "allow-ingress-nginx",
                json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                       "ingress": [{"from": [{"namespaceSelector": {"matchLabels": labels}}]}]}),
            ),
        ]
    };
    let good = rule(json!({"kubernetes.io/metadata.name": "ingress-nginx"}));
    assert_eq!(
        allowed_by(&evaluate(&good, &s.controller(), &s.target(8080))),
        Some(("allow-ingress-nginx".into(), 0))
    );
    let bad = rule(json!({"name": "ingress-nginx"}));
    let v = evaluate(&bad, &s.controller(), &s.target(8080));
    let Verdict::Denied(isos) = &v else {
        panic!("{v:?}")
    };
    let allow = isos
        .iter()
        .find(|i| i.policy.metadata.name.as_deref() == Some("allow-ingress-nginx"))
        .unwrap();
    let peers = allow.misses[0].peers.clone().unwrap();
    assert_eq!(
        peers,
        ["its namespaceSelector name=ingress-nginx does not match namespace ingress-nginx (kubernetes.io/metadata.name=ingress-nginx)"]
    );
    assert_eq!(allow.misses[0].ports, None);
    // Without the Namespace objects it cannot be judged: no denial.
    let blind = Peer {
        namespace_labels: None,
        ..s.controller()
    };
    assert!(matches!(
        evaluate(&bad, &blind, &s.target(8080)),
        Verdict::Unknown { .. }
    ));
    // `namespaceSelector: {}` is every namespace, labels or not.
    let all = rule(json!({}));
    assert!(allowed_by(&evaluate(&all, &blind, &s.target(8080))).is_some());
}

/// Docs: `podSelector` and `namespaceSelector` in one `from` element are
/// ANDed; in two elements they are ORed.
#[test]
fn one_peer_with_both_selectors_is_and_two_peers_are_or() {
    let s = Setup::new();
    let and = [policy(
        "and",
        json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
             "podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}}}]}]}),
    )];
    let v = evaluate(&and, &s.controller(), &s.target(8080));
    assert_eq!(denied_by(&v), ["and"]);
    let Verdict::Denied(isos) = &v else {
        unreachable!()
    };
    let why = isos[0].misses[0].peers.clone().unwrap().join(" ");
    assert!(
        why.contains("podSelector app.kubernetes.io/name=traefik does not match the source pod"),
        "{why}"
    );
    let or = [policy(
        "or",
        json!({"podSelector": {}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
            {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "traefik"}}}]}]}),
    )];
    assert_eq!(
        allowed_by(&evaluate(&or, &s.controller(), &s.target(8080))),
        Some(("or".into(), 0))
    );
}

/// API reference: a podSelector alone selects pods of the policy's own
/// namespace, so a controller elsewhere is not admitted by its labels.
#[test]
fn pod_selector_alone_stays_in_the_policy_namespace() {
    let s = Setup::new();
    let policies = [policy(
        "from-frontend",
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}}]}]}),
    )];
    let v = evaluate(&policies, &s.controller(), &s.target(8080));
    let Verdict::Denied(isos) = &v else {
        panic!("{v:?}")
    };
    let why = isos[0].misses[0].peers.clone().unwrap().join(" ");
    assert!(
        why.contains("only pods of namespace shop, the source is in ingress-nginx"),
        "{why}"
    );
    let frontend = labels(&[("app.kubernetes.io/name", "ingress-nginx")]);
    assert!(allowed_by(&evaluate(&policies, &s.local(&frontend), &s.target(8080))).is_some());
}

/// matchExpressions as well as matchLabels.
#[test]
fn match_expressions_select_peers() {
    let s = Setup::new();
    let policies = [policy(
        "expr",
        json!({"podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
               "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                   {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]}}]}]}),
    )];
    assert!(allowed_by(&evaluate(&policies, &s.controller(), &s.target(8080))).is_some());
}

/// API reference: a named port matches the target pod's container port of
/// that name; the protocol defaults to TCP.
#[test]
fn named_ports_resolve_on_the_target_pod_and_protocols_must_agree() {
    let s = Setup::new();
    let with_port = |port: Value| {
        [policy(
            "p",
            json!({"podSelector": {}, "ingress": [{"ports": [port]}]}),
        )]
    };
    let named = with_port(json!({"port": "http"}));
    assert!(allowed_by(&evaluate(&named, &s.controller(), &s.target(8080))).is_some());
    let other_name = with_port(json!({"port": "metrics"}));
    let v = evaluate(&other_name, &s.controller(), &s.target(8080));
    let Verdict::Denied(isos) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(
        isos[0].misses[0].ports.as_deref(),
        Some("it admits only TCP/metrics, the traffic is TCP/8080 (named http)")
    );
    assert_eq!(isos[0].misses[0].peers, None, "no from: every source");
    let udp = with_port(json!({"port": 8080, "protocol": "UDP"}));
    assert!(!denied_by(&evaluate(&udp, &s.controller(), &s.target(8080))).is_empty());
    let any_tcp = with_port(json!({"protocol": "TCP"}));
    assert!(allowed_by(&evaluate(&any_tcp, &s.controller(), &s.target(9999))).is_some());
}

/// Docs, "Targeting a range of ports": `port: 32000, endPort: 32768`.
#[test]
fn end_port_admits_a_range_inclusive() {
    let s = Setup::new();
    let policies = [policy(
        "range",
        json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}]}),
    )];
    for (port, ok) in [(31999, false), (32000, true), (32768, true), (32769, false)] {
        let v = evaluate(&policies, &s.controller(), &s.target(port));
        assert_eq!(allowed_by(&v).is_some(), ok, "port {port}: {v:?}");
    }
}

/// ipBlock: the controller's pod IP against the CIDR and its exceptions;
/// unknown without the IP.
#[test]
fn ip_blocks_need_the_source_ip() {
    let s = Setup::new();
    let block = |cidr: &str, except: Value| {
        [policy(
            "cidr",
            json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": cidr, "except": except}}]}]}),
        )]
    };
    let inside = block("10.0.0.0/16", json!([]));
    assert!(allowed_by(&evaluate(&inside, &s.controller(), &s.target(8080))).is_some());
    let excepted = block("10.0.0.0/16", json!(["10.0.2.0/24"]));
    assert_eq!(
        denied_by(&evaluate(&excepted, &s.controller(), &s.target(8080))),
        ["cidr"]
    );
    let outside = block("172.17.0.0/16", json!([]));
    assert_eq!(
        denied_by(&evaluate(&outside, &s.controller(), &s.target(8080))),
        ["cidr"]
    );
    let no_ip = Peer {
        ip: None,
        ..s.controller()
    };
    assert!(matches!(
        evaluate(&outside, &no_ip, &s.target(8080)),
        Verdict::Unknown { .. }
    ));
}

/// An unknown peer does not hide a port that misses: the rule misses on
/// the port whatever the peer.
#[test]
fn a_port_miss_is_a_miss_even_with_an_undecidable_peer() {
    let s = Setup::new();
    let policies = [policy(
        "p",
        json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 9090}]}]}),
    )];
    let no_ip = Peer {
        ip: None,
        ..s.controller()
    };
    assert_eq!(
        denied_by(&evaluate(&policies, &no_ip, &s.target(8080))),
        ["p"]
    );
}

#[test]
fn cidrs_contain_addresses_of_their_family() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(cidr_contains("10.0.0.0/8", ip("10.200.1.1")), Some(true));
    assert_eq!(cidr_contains("10.0.0.0/8", ip("11.0.0.1")), Some(false));
    assert_eq!(cidr_contains("0.0.0.0/0", ip("192.168.1.1")), Some(true));
    assert_eq!(cidr_contains("10.0.2.77/32", ip("10.0.2.77")), Some(true));
    assert_eq!(cidr_contains("fd00::/8", ip("fd12::1")), Some(true));
    assert_eq!(cidr_contains("fd00::/8", ip("10.0.0.1")), Some(false));
    assert_eq!(cidr_contains("10.0.0.0/33", ip("10.0.0.1")), None);
    assert_eq!(cidr_contains("not-a-cidr", ip("10.0.0.1")), None);
}

// ---- The rule over a namespace ----

mod rule {
    use serde_json::{json, Value};

    use super::super::run;
    use crate::context::{InfraPod, IngressController, PodNetwork};
    use crate::testkit::{obj, Fixture, PodFixture, ServiceFixture};
    use kpm_model::{ObjectRef, Severity};

    const LOG: &str = "logs/ingress-nginx/ingress-nginx-controller-5c9d7b8f4-q8wzt/controller.log";

    fn controller() -> IngressController {
        IngressController {
            pod: InfraPod {
                object: ObjectRef::namespaced(
                    "Pod",
                    "ingress-nginx",
                    "ingress-nginx-controller-5c9d7b8f4-q8wzt",
                ),
                labels: [
                    ("app.kubernetes.io/name", "ingress-nginx"),
                    ("app.kubernetes.io/component", "controller"),
                ]
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
                node: Some("worker-1".into()),
                phase: "Running".into(),
                running: true,
                ready: true,
                images: vec!["registry.k8s.io/ingress-nginx/controller:v1.12.1".into()],
                args: vec!["/nginx-ingress-controller".into()],
                log_files: vec![LOG.to_string()],
            },
            implementation: "ingress-nginx".into(),
            controller_class: Some("k8s.io/ingress-nginx".into()),
            ingress_class: None,
        }
    }

    fn policy(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": name, "namespace": "shop"}, "spec": spec})
    }

    fn deny() -> Value {
        policy(
            "default-deny-ingress",
            json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
        )
    }

    /// shop/web (pod port 8080 named http) behind Ingress shop of class
    /// nginx, the controller at 10.244.2.9 in ingress-nginx.
    fn fixture(log: &str, policies: Vec<Value>) -> Fixture {
        let mut fx = Fixture::with_logs("shop", &[(LOG, log)]);
        fx.cluster.ingress_classes = vec![obj(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}))];
        let c = controller();
        fx.cluster.infra.pod_network.insert(
            c.pod.object.to_string(),
            PodNetwork {
                ip: "10.244.2.9".parse().ok(),
                host_network: false,
            },
        );
        fx.cluster.infra.ingress_controllers = vec![c];
        fx.cluster.namespaces = ["shop", "ingress-nginx"]
            .iter()
            .map(|n| {
                obj(json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": n, "labels": {"kubernetes.io/metadata.name": n}}}))
            })
            .collect();
        fx.ns.pods = vec![obj(PodFixture::new("shop", "web-7c9d8f6b5-x2x7q")
            .labels(json!({"app": "web"}))
            .ports(json!([{"name": "http", "containerPort": 8080}]))
            .build())];
        fx.ns.services = vec![obj(ServiceFixture::new("shop", "web")
            .selector(json!({"app": "web"}))
            .ports(json!([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]))
            .build())];
        fx.ns.ingresses = vec![obj(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "shop", "namespace": "shop"},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}}))];
        fx.ns.network_policies = policies.into_iter().map(obj).collect();
        fx
    }

    fn allow_from(from: Value, ports: Value) -> Value {
        policy(
            "allow-ingress",
            json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"],
                   "ingress": [{"from": from, "ports": ports}]}),
        )
    }

    #[test]
    fn an_isolated_service_names_the_policies_and_why_no_rule_admits_the_controller() {
        let fx = fixture(
            "",
            vec![
                deny(),
                allow_from(
                    json!([{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}]),
                    json!([{"port": "http"}]),
                ),
            ],
        );
        let out = run(&fx.ctx());
        assert_eq!(out.len(), 1, "{out:#?}");
        let f = &out[0];
        assert_eq!(f.id, "netpol-blocks-ingress:Service/shop/web");
        assert_eq!(f.severity, Severity::Error, "no symptom seen: not critical");
        for part in [
            "NetworkPolicies default-deny-ingress, allow-ingress isolate 1 of 1 ready pods of Service web",
            "ingress-nginx controller pods (ingress-nginx-controller-5c9d7b8f4-q8wzt, namespace ingress-nginx) on TCP/8080",
            "default-deny-ingress has no ingress rule",
            "allow-ingress: rule 1 misses: its namespaceSelector name=ingress-nginx does not match namespace ingress-nginx",
            "if your CNI enforces NetworkPolicy",
        ] {
            assert!(f.cause.contains(part), "{part:?} not in {}", f.cause);
        }
        for r in [
            ObjectRef::namespaced("NetworkPolicy", "shop", "allow-ingress"),
            ObjectRef::namespaced("Pod", "shop", "web-7c9d8f6b5-x2x7q"),
            ObjectRef::namespaced("Ingress", "shop", "shop"),
            ObjectRef::namespaced(
                "Pod",
                "ingress-nginx",
                "ingress-nginx-controller-5c9d7b8f4-q8wzt",
            ),
        ] {
            assert!(f.related.contains(&r), "{r} not related");
        }
        let commands: Vec<&str> = f.next_steps.iter().map(|s| s.command.as_str()).collect();
        assert_eq!(
            commands,
            [
                "kubectl -n shop get networkpolicy -o yaml",
                "kubectl -n shop describe networkpolicy default-deny-ingress"
            ]
        );
    }

    #[test]
    fn a_correct_allow_or_no_policy_is_silent() {
        let ok = fixture(
            "",
            vec![
                deny(),
                allow_from(
                    json!([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]),
                    json!([{"port": "http", "protocol": "TCP"}]),
                ),
            ],
        );
        assert!(run(&ok.ctx()).is_empty(), "{:#?}", run(&ok.ctx()));
        let none = fixture("", vec![]);
        assert!(run(&none.ctx()).is_empty());
    }

    #[test]
    fn the_wrong_port_is_named_with_the_port_the_pod_serves() {
        let fx = fixture(
            "",
            vec![allow_from(
                json!([{"namespaceSelector": {}}]),
                json!([{"port": 80, "protocol": "TCP"}]),
            )],
        );
        let out = run(&fx.ctx());
        assert_eq!(out.len(), 1);
        assert!(
            out[0]
                .cause
                .contains("it admits only TCP/80, the traffic is TCP/8080 (named http)"),
            "{}",
            out[0].cause
        );
    }

    /// What the bundle cannot settle is no finding.
    #[test]
    fn unknowns_stay_silent() {
        let ip_rule = || {
            vec![allow_from(
                json!([{"ipBlock": {"cidr": "10.244.0.0/16"}}]),
                json!([]),
            )]
        };
        // The controller's IP is in the block: admitted.
        assert!(run(&fixture("", ip_rule()).ctx()).is_empty());
        // Its IP unknown: cannot tell.
        let mut fx = fixture(
            "",
            vec![allow_from(
                json!([{"ipBlock": {"cidr": "172.16.0.0/12"}}]),
                json!([]),
            )],
        );
        fx.cluster.infra.pod_network.clear();
        assert!(run(&fx.ctx()).is_empty());
        // On the host network: its packets carry the node's address.
        let mut fx = fixture("", vec![deny()]);
        for n in fx.cluster.infra.pod_network.values_mut() {
            n.host_network = true;
        }
        assert!(run(&fx.ctx()).is_empty());
        // Namespace labels not collected: a namespaceSelector cannot be
        // judged, but a default deny alone still can.
        let wrong = allow_from(
            json!([{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}]),
            json!([]),
        );
        let mut fx = fixture("", vec![deny(), wrong]);
        fx.cluster.namespaces.clear();
        assert!(run(&fx.ctx()).is_empty());
        let mut fx = fixture("", vec![deny()]);
        fx.cluster.namespaces.clear();
        assert_eq!(run(&fx.ctx()).len(), 1);
    }

    /// nginx's connect timeouts to the pod, or 504s for the Service's
    /// upstream, make it critical and are quoted.
    #[test]
    fn controller_timeouts_to_the_pods_make_it_critical() {
        let log = "2026/11/20 13:59:01 [error] 38#38: *48211 upstream timed out (110: Operation timed out) while connecting to upstream, client: 203.0.113.24, server: shop.example.com, request: \"GET / HTTP/2.0\", upstream: \"http://10.244.1.17:8080/\", host: \"shop.example.com\"\n\
203.0.113.24 - - [20/Nov/2026:13:59:06 +0000] \"GET / HTTP/2.0\" 504 160 \"-\" \"curl/8.5.0\" 58 15.002 [shop-web-http] [] 10.244.1.17:8080 0 5.001 504 2ce62532fbedc2d199538441582f1a35\n\
2026/11/20 13:59:09 [error] 38#38: *48300 upstream timed out (110: Operation timed out) while connecting to upstream, client: 203.0.113.24, server: other.example.com, request: \"GET / HTTP/2.0\", upstream: \"http://10.244.9.9:8080/\", host: \"other.example.com\"\n";
        let fx = fixture(log, vec![deny()]);
        let out = run(&fx.ctx());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].severity, Severity::Critical);
        assert!(out[0]
            .cause
            .contains("the controller's logs show the requests timing out"));
        let quoted: Vec<usize> = out[0]
            .evidence
            .iter()
            .filter_map(|e| match e {
                kpm_model::Evidence::Log { lines, .. } => Some(lines.iter().map(|l| l.number)),
                _ => None,
            })
            .flatten()
            .map(|n| n as usize)
            .collect();
        assert_eq!(quoted, [1, 2], "another upstream's timeout is not quoted");
    }
}
