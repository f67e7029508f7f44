//! Tests of the certificate rules on Ingresses and TLS Secrets as the
//! collector writes them.

use serde_json::json;

use super::*;
use crate::testkit::{now, obj, Fixture};
use kpm_model::{ObjectRef, Severity};

fn ingress(tls: serde_json::Value) -> Ingress {
    obj(
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "shop", "namespace": "shop"},
        "spec": {"ingressClassName": "nginx", "tls": tls,
            "rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
    )
}

/// A TLS Secret whose certificate is valid from `from_days` to `to_days`
/// around the fixture's collection time, for `names`.
fn secret(name: &str, names: &[&str], from_days: i64, to_days: i64) -> Secret {
    let at = |d: i64| {
        (now() + chrono::Duration::days(d)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let facts = TlsFacts {
        certificates: vec![CertificateFacts {
            subject: format!("CN={}", names.first().copied().unwrap_or("")),
            issuer: "C=US, O=Let's Encrypt, CN=R11".into(),
            not_before: at(from_days),
            not_after: at(to_days),
            dns_names: names.iter().map(|n| (*n).to_string()).collect(),
            ..CertificateFacts::default()
        }],
        error: None,
    };
    obj(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": "shop", "annotations": {
            "kpm.dev/values-removed": "true", TLS_FACTS: serde_json::to_string(&facts).unwrap()}},
        "data": {"tls.crt": "", "tls.key": ""}}),
    )
}

fn one(secret_: Secret) -> Vec<Finding> {
    let mut fx = Fixture::new("shop");
    fx.ns.secrets = vec![secret_];
    fx.ns.ingresses = vec![ingress(
        json!([{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]),
    )];
    run(&fx.ctx())
}

fn rules(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|f| f.rule.as_str()).collect()
}

#[test]
fn wildcards_cover_exactly_one_label() {
    assert!(covers("*.example.com", "a.example.com"));
    assert!(covers("*.Example.COM", "A.example.com."));
    assert!(!covers("*.example.com", "a.b.example.com"));
    assert!(!covers("*.example.com", "example.com"));
    assert!(!covers("*.com", "example.com"));
    assert!(covers("shop.example.com", "shop.example.com"));
    assert!(!covers("shop.example.com", "www.shop.example.com"));
    assert!(!covers("", "shop.example.com"));
}

#[test]
fn a_valid_certificate_for_the_host_is_silent() {
    assert!(one(secret("shop-tls", &["shop.example.com"], -40, 50)).is_empty());
    assert!(one(secret("shop-tls", &["*.example.com"], -1, 89)).is_empty());
    // No facts (older collector): nothing to say.
    let mut plain = secret("shop-tls", &[], -1, 89);
    plain.metadata.annotations = None;
    assert!(one(plain).is_empty());
    // A missing Secret is the ingress layer's.
    assert!(one(secret("other-tls", &["shop.example.com"], -100, -10)).is_empty());
}

#[test]
fn expired_certificate_is_critical_and_names_the_secret() {
    let out = one(secret("shop-tls", &["shop.example.com"], -100, -3));
    assert_eq!(rules(&out), ["ingress-tls-cert-expired"]);
    let f = &out[0];
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.object, ObjectRef::namespaced("Ingress", "shop", "shop"));
    assert!(
        f.cause.contains("Secret shop-tls for shop.example.com"),
        "{}",
        f.cause
    );
    assert!(
        f.cause.contains("expired 3d before collection"),
        "{}",
        f.cause
    );
    assert_eq!(
        f.related,
        [ObjectRef::namespaced("Secret", "shop", "shop-tls")]
    );
    assert!(f.next_steps.iter().any(|s| s.command
        == r"kubectl -n shop get secret shop-tls -o 'jsonpath={.data.tls\.crt}' | base64 -d | openssl x509 -noout -dates -subject -ext subjectAltName"));
}

#[test]
fn expiring_not_yet_valid_and_uncovered_hosts() {
    assert_eq!(
        rules(&one(secret("shop-tls", &["shop.example.com"], -85, 5))),
        ["ingress-tls-cert-expiring"]
    );
    assert!(one(secret("shop-tls", &["shop.example.com"], -76, 15)).is_empty());
    assert_eq!(
        rules(&one(secret("shop-tls", &["shop.example.com"], 2, 92))),
        ["ingress-tls-cert-not-yet-valid"]
    );
    let out = one(secret(
        "shop-tls",
        &["*.shop.example.com", "api.example.com"],
        -10,
        80,
    ));
    assert_eq!(rules(&out), ["ingress-tls-cert-host-mismatch"]);
    assert!(out[0].cause.contains(
        "does not cover shop.example.com (subjectAltName DNS names *.shop.example.com, api.example.com)"
    ), "{}", out[0].cause);
    // Expired and for another host: two findings.
    assert_eq!(
        rules(&one(secret("shop-tls", &["old.example.com"], -100, -1))),
        ["ingress-tls-cert-expired", "ingress-tls-cert-host-mismatch"]
    );
}

#[test]
fn hostile_secret_name_gives_no_command() {
    let mut fx = Fixture::new("shop");
    fx.ns.secrets = vec![secret("x$(reboot)", &["shop.example.com"], -100, -3)];
    fx.ns.ingresses = vec![ingress(
        json!([{"hosts": ["shop.example.com"], "secretName": "x$(reboot)"}]),
    )];
    let out = run(&fx.ctx());
    assert_eq!(rules(&out), ["ingress-tls-cert-expired"]);
    assert!(out[0]
        .next_steps
        .iter()
        .all(|s| !s.command.contains("reboot")));
}
