//! Ingresses served with certificates clients reject, and renewed or
//! wildcard certificates that are fine.
//!
//! The TLS Secrets are what cert-manager writes (`kubernetes.io/tls`,
//! `tls.crt` / `tls.key`, Let's Encrypt leaves valid 90 days); the bundle
//! keeps only their certificate facts (`kpm.dev/tls-certificates`, see
//! `builders::config::add_tls_facts`), as `kpm-collect` does.

use serde_json::json;

use super::Scenario;
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline, LB_HOSTNAME};
use crate::builders::network::{self, Route};
use crate::builders::{config, meta};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, Finding};
use crate::world::World;

/// The certificate scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "tls-expired", description: "In portal, the portal Ingress serves portal-tls, whose Let's Encrypt certificate expired 3 days ago (cert-manager stopped renewing); the status Ingress's certificate expires in 5 days; the docs Ingress serves docs.eu.acme.example with a *.acme.example certificate, which covers one label only.", build: tls_expired },
    Scenario { name: "tls-renewed", description: "Near miss: the portal certificate was renewed yesterday (valid 90 days), the status certificate has 20 days left (outside the 14-day warning), and the wiki Ingress serves wiki.acme.example with a *.acme.example wildcard, which covers it.", build: tls_renewed },
];

const NS: &str = "portal";
const DAY: i64 = 86_400;

/// A Deployment and Service named `name` with its Ingress for `host`,
/// terminating TLS with Secret `<name>-tls` whose certificate names
/// `cert_names` and was issued `issued_ago` seconds before collection
/// (renewed then when the Secret is older).
fn site(w: &mut World, name: &str, host: &str, cert_names: &[&str], issued_ago: i64) {
    let image = format!("ghcr.io/acme-web/{name}:1.9.2");
    let app = AppSpec::new(NS, name, &image, 8080, 2, DAY * 200, DAY * 3 + 2_400);
    app::deploy_healthy(w, &app);
    super::common::expose(w, &app, name);
    let secret_name = format!("{name}-tls");
    let created = DAY * 200;
    let mut secret = config::secret(
        NS,
        &secret_name,
        created,
        created,
        "cert-manager-certificates-issuing",
        "kubernetes.io/tls",
        &[
            ("tls.crt", "-----BEGIN CERTIFICATE-----"),
            ("tls.key", "-----BEGIN PRIVATE KEY-----"),
        ],
    );
    if issued_ago < created {
        meta::add_managed(
            &mut secret,
            "cert-manager-certificates-issuing",
            "Update",
            issued_ago,
            meta::fields_of("f:data", ["tls.crt", "tls.key"]),
            None,
        );
    }
    meta::add_annotations(
        &mut secret,
        &[
            ("cert-manager.io/certificate-name", secret_name.as_str()),
            ("cert-manager.io/issuer-kind", "ClusterIssuer"),
            ("cert-manager.io/issuer-name", "letsencrypt-prod"),
            (
                "cert-manager.io/common-name",
                cert_names.first().copied().unwrap_or(""),
            ),
            ("cert-manager.io/alt-names", &cert_names.join(",")),
        ],
    );
    config::add_tls_facts(&mut secret, cert_names, issued_ago);
    w.cluster.add(secret);
    let route = Route {
        host: host.to_string(),
        path: "/".into(),
        service: name.to_string(),
        port: json!({"name": "http"}),
    };
    let mut ing = network::ingress(
        NS,
        name,
        DAY * 200,
        "nginx",
        &[route],
        Some((&secret_name, &[host])),
        Some(LB_HOSTNAME),
    );
    meta::add_annotations(
        &mut ing,
        &[("cert-manager.io/cluster-issuer", "letsencrypt-prod")],
    );
    w.cluster.add(ing);
}

fn tls_expired() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace(NS, DAY * 210);
    // 90-day certificates: issued 93 days ago expired 3 days ago; issued
    // 85 days less an hour ago expires 5 days and an hour after collection.
    site(
        &mut w,
        "portal",
        "portal.acme.example",
        &["portal.acme.example"],
        DAY * 93,
    );
    site(
        &mut w,
        "status",
        "status.acme.example",
        &["status.acme.example"],
        DAY * 85 - 3_600,
    );
    site(
        &mut w,
        "docs",
        "docs.eu.acme.example",
        &["*.acme.example"],
        DAY * 30,
    );
    let findings = vec![
        finding(
            "ingress-tls-cert-expired",
            &obj("Ingress", NS, "portal"),
            &[
                "Secret portal-tls for portal.acme.example",
                "expired 3d before collection",
            ],
        ),
        finding(
            "ingress-tls-cert-expiring",
            &obj("Ingress", NS, "status"),
            &["Secret status-tls", "expires 5d after collection"],
        ),
        finding(
            "ingress-tls-cert-host-mismatch",
            &obj("Ingress", NS, "docs"),
            &["does not cover docs.eu.acme.example", "*.acme.example"],
        ),
    ];
    (w.finish(), findings)
}

fn tls_renewed() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    w.cluster.namespace(NS, DAY * 210);
    site(
        &mut w,
        "portal",
        "portal.acme.example",
        &["portal.acme.example"],
        DAY,
    );
    site(
        &mut w,
        "status",
        "status.acme.example",
        &["status.acme.example"],
        DAY * 70,
    );
    site(
        &mut w,
        "wiki",
        "wiki.acme.example",
        &["*.acme.example", "acme.example"],
        DAY * 30,
    );
    (w.finish(), Vec::new())
}
