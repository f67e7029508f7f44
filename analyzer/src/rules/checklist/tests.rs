//! Tests of the checklist rules on realistic log lines and CoreDNS pods.

use serde_json::json;

use super::patterns::service_of_host;
use super::{parse_dns_failure, parse_forbidden, run, run_cluster};
use crate::context::InfraPod;
use crate::testkit::{obj, Fixture, PodFixture};
use kpm_model::{Evidence, ObjectRef, Severity};

fn rules(f: &[kpm_model::Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn dns_failures_of_common_runtimes_are_recognised() {
    let go = parse_dns_failure(
        "2026/11/20 14:31:02 db: dial tcp: lookup db.payments.svc.cluster.local on 10.96.0.10:53: no such host",
    )
    .unwrap();
    assert_eq!(go.host.as_deref(), Some("db.payments.svc.cluster.local"));
    assert_eq!(go.resolver.as_deref(), Some("10.96.0.10:53"));
    assert!(go.not_found);
    let timeout = parse_dns_failure(
        "dial tcp: lookup redis on 10.96.0.10:53: read udp 10.244.1.17:41872->10.96.0.10:53: i/o timeout",
    )
    .unwrap();
    assert_eq!(timeout.kind, "i/o timeout");
    assert!(!timeout.not_found);
    let node = parse_dns_failure("Error: getaddrinfo ENOTFOUND orders-api").unwrap();
    assert_eq!(node.host.as_deref(), Some("orders-api"));
    let pg = parse_dns_failure(
        "psycopg2.OperationalError: could not translate host name \"postgres\" to address: Name or service not known",
    )
    .unwrap();
    assert_eq!(pg.host.as_deref(), Some("postgres"));
    assert!(parse_dns_failure("GET /healthz 200 1.2ms").is_none());
}

#[test]
fn forbidden_is_parsed_at_namespace_and_cluster_scope() {
    let f = parse_forbidden("E1120 14:30:01.123456       1 reflector.go:158] pkg/mod/k8s.io/client-go@v0.33.2/tools/cache/reflector.go:251: Failed to watch *v1.Pod: failed to list *v1.Pod: pods is forbidden: User \"system:serviceaccount:shop:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"shop\"").unwrap();
    assert_eq!(f.user, "system:serviceaccount:shop:default");
    assert_eq!(
        (f.verb.as_str(), f.resource.as_str(), f.group.as_str()),
        ("list", "pods", "")
    );
    assert_eq!(f.namespace.as_deref(), Some("shop"));
    assert!(f.text.starts_with("pods is forbidden"));
    let c = parse_forbidden("leases.coordination.k8s.io \"shop-leader\" is forbidden: User \"system:serviceaccount:shop:worker\" cannot get resource \"leases\" in API group \"coordination.k8s.io\" at the cluster scope").unwrap();
    assert_eq!(c.group, "coordination.k8s.io");
    assert_eq!(c.namespace, None);
}

#[test]
fn hosts_map_to_services() {
    assert_eq!(
        service_of_host("db", "shop"),
        Some(("db".into(), "shop".into()))
    );
    assert_eq!(
        service_of_host("db.payments.svc.cluster.local", "shop"),
        Some(("db".into(), "payments".into()))
    );
    assert_eq!(
        service_of_host("web-0.web.shop.svc.cluster.local.", "x"),
        Some(("web".into(), "shop".into()))
    );
    assert_eq!(service_of_host("api.example.com", "shop"), None);
}

#[test]
fn lookup_failure_in_logs_names_the_missing_service() {
    let log = "2026/11/20 14:30:58 starting payments-api v2.3.1\n\
               2026/11/20 14:31:02 db: dial tcp: lookup db.payments.svc.cluster.local on 10.96.0.10:53: no such host\n\
               2026/11/20 14:31:07 db: dial tcp: lookup db.payments.svc.cluster.local on 10.96.0.10:53: no such host\n";
    let mut fx = Fixture::with_logs("payments", &[("logs/payments/payments-api-1/app.log", log)]);
    fx.ns.pods = vec![obj(PodFixture::new("payments", "payments-api-1")
        .labels(json!({"app": "payments-api"}))
        .not_ready()
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["dns-lookup-failures"]);
    let f = &out[0];
    assert!(f.cause.contains("cannot resolve db.payments.svc.cluster.local via 10.96.0.10:53: no such host (2 log lines)"), "{}", f.cause);
    assert!(
        f.cause
            .contains("there is no Service db in namespace payments"),
        "{}",
        f.cause
    );
    match &f.evidence[0] {
        Evidence::Log { file, lines } => {
            assert_eq!(file, "logs/payments/payments-api-1/app.log");
            assert_eq!(
                lines.iter().map(|l| l.number).collect::<Vec<_>>(),
                vec![2, 3]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn forbidden_in_logs_gives_can_i_and_role_commands() {
    let log = "I1120 14:30:00.000000       1 main.go:42] starting operator\n\
               E1120 14:30:01.123456       1 reflector.go:158] failed to list *v1.Pod: pods is forbidden: User \"system:serviceaccount:shop:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"shop\"\n";
    let mut fx = Fixture::with_logs("shop", &[("logs/shop/operator-1/manager.log", log)]);
    fx.ns.pods = vec![obj(PodFixture::new("shop", "operator-1")
        .labels(json!({"app": "operator"}))
        .build())];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), vec!["rbac-forbidden"]);
    let f = &out[0];
    assert!(f.cause.contains("runs as system:serviceaccount:shop:default which may not list pods (API group \"\" (core)) in namespace shop"), "{}", f.cause);
    let cmds: Vec<&str> = f.next_steps.iter().map(|s| s.command.as_str()).collect();
    assert!(
        cmds.contains(
            &"kubectl -n shop auth can-i list pods --as=system:serviceaccount:shop:default"
        ),
        "{cmds:?}"
    );
    assert!(cmds.contains(&"kubectl -n shop create rolebinding pods-list --role=pods-list --serviceaccount=shop:default"), "{cmds:?}");
}

fn coredns(name: &str, running: bool, ready: bool) -> InfraPod {
    InfraPod {
        object: ObjectRef::namespaced("Pod", "kube-system", name),
        labels: [("k8s-app".to_string(), "kube-dns".to_string())]
            .into_iter()
            .collect(),
        node: Some("worker-1".into()),
        phase: if running {
            "Running".into()
        } else {
            "Pending".into()
        },
        running,
        ready,
        images: vec!["registry.k8s.io/coredns/coredns:v1.12.0".into()],
        args: vec!["-conf".into(), "/etc/coredns/Corefile".into()],
        log_files: Vec::new(),
    }
}

#[test]
fn coredns_health_is_judged_cluster_wide() {
    let mut fx = Fixture::new("shop");
    fx.cluster.infra.dns_pods = vec![
        coredns("coredns-5d78c9869d-x2x7q", true, true),
        coredns("coredns-5d78c9869d-kq4zn", true, true),
    ];
    assert!(run_cluster(&fx.cluster_ctx()).is_empty());

    fx.cluster.infra.dns_pods = vec![
        coredns("coredns-5d78c9869d-x2x7q", true, false),
        coredns("coredns-5d78c9869d-kq4zn", false, false),
    ];
    let out = run_cluster(&fx.cluster_ctx());
    assert_eq!(rules(&out), vec!["dns-unhealthy"]);
    assert_eq!(
        out[0].object,
        ObjectRef::namespaced("Deployment", "kube-system", "coredns")
    );
    assert_eq!(out[0].severity, Severity::Critical);
    assert!(
        out[0].cause.contains("2 of 2 CoreDNS pods are not ready"),
        "{}",
        out[0].cause
    );

    fx.cluster.infra.dns_pods[1] = coredns("coredns-5d78c9869d-kq4zn", true, true);
    let out = run_cluster(&fx.cluster_ctx());
    assert_eq!(out[0].severity, Severity::Warning);
}
