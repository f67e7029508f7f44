//! The certificate layer: TLS Secrets an Ingress serves whose certificate
//! clients reject.
//!
//! A bundle keeps of a `kubernetes.io/tls` Secret only the public facts of
//! its `tls.crt` (annotation [`TLS_FACTS`], written by `kpm-collect`): the
//! first certificate is the one the Ingress controller presents. Judged at
//! the collection time (`ctx.now`):
//! - `ingress-tls-cert-expired`: `notAfter` before it — every client fails
//!   the handshake (`x509: certificate has expired or is not yet valid`);
//! - `ingress-tls-cert-not-yet-valid`: `notBefore` after it;
//! - `ingress-tls-cert-expiring`: `notAfter` within [`EXPIRY_WARNING_DAYS`];
//! - `ingress-tls-cert-host-mismatch`: a host of the Ingress's
//!   `spec.tls[].hosts` that no DNS name of the certificate's
//!   subjectAltName covers. Matching follows RFC 6125 as Go's `crypto/x509`
//!   and browsers do it: case-insensitive, a wildcard only as the whole
//!   left-most label and covering exactly one label (`*.example.com` covers
//!   `a.example.com`, not `a.b.example.com` nor `example.com`); the subject
//!   CN is ignored, as modern clients ignore it.
//!
//! A Secret that does not exist is `ingress-tls-secret-missing`'s (the
//! ingress layer); a Secret without facts (collected by an older
//! `kpm-collect`, or a `tls.crt` that did not parse) says nothing here. The
//! finding is about the Ingress users reach, with the Secret related: one
//! incident per Ingress served with a broken certificate.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kpm_bundle::secret::{CertificateFacts, TlsFacts, TLS_FACTS};
use kpm_model::Finding;
use kpm_semantics::duration::human_duration;
use kpm_semantics::ObjectExt;

use crate::command::Kubectl;
use crate::context::NamespaceCtx;
use crate::rules::registry::Rule;

/// A certificate expiring within this many days of collection is a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Every certificate finding of the namespace.
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    if ctx.ns.unavailable("secrets").is_some() {
        return Vec::new();
    }
    ctx.ns
        .ingresses
        .iter()
        .flat_map(|ing| check_ingress(ctx, ing))
        .collect()
}

/// The certificate facts a bundle holds for a TLS Secret.
pub fn secret_facts(secret: &Secret) -> Option<TlsFacts> {
    let text = secret.metadata.annotations.as_ref()?.get(TLS_FACTS)?;
    serde_json::from_str(text).ok()
}

/// Whether the DNS name `pattern` of a certificate covers `host` (RFC 6125
/// §6.4: exact match, or a `*` left-most label standing for one label).
pub fn covers(pattern: &str, host: &str) -> bool {
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let (pattern, host) = (norm(pattern), norm(host));
    if pattern.is_empty() || host.is_empty() {
        return false;
    }
    if pattern == host {
        return true;
    }
    let Some(parent) = pattern.strip_prefix("*.") else {
        return false;
    };
    // A wildcard needs a parent of at least two labels (`*.com` covers
    // nothing) and stands for exactly one non-empty label.
    parent.contains('.')
        && host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent)
}

/// One `spec.tls[]` entry whose certificate is broken in one way.
struct Problem<'a> {
    index: usize,
    secret: &'a str,
    hosts: Vec<&'a str>,
    cert: CertificateFacts,
    /// What is wrong, one clause.
    what: String,
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The time verdict of a certificate at `now`, if it is a problem.
fn time_problem(cert: &CertificateFacts, now: DateTime<Utc>) -> Option<(Rule, String)> {
    let not_before = parse_time(&cert.not_before);
    let not_after = parse_time(&cert.not_after);
    if let Some(end) = not_after.filter(|end| *end < now) {
        return Some((
            Rule::IngressTlsCertExpired,
            format!(
                "expired {} before collection (notAfter {})",
                human_duration(now - end),
                cert.not_after
            ),
        ));
    }
    if let Some(start) = not_before.filter(|start| *start > now) {
        return Some((
            Rule::IngressTlsCertNotYetValid,
            format!(
                "is not valid until {} after collection (notBefore {})",
                human_duration(start - now),
                cert.not_before
            ),
        ));
    }
    let end = not_after?;
    (end - now <= chrono::Duration::days(EXPIRY_WARNING_DAYS)).then(|| {
        (
            Rule::IngressTlsCertExpiring,
            format!(
                "expires {} after collection (notAfter {}), within {EXPIRY_WARNING_DAYS} days",
                human_duration(end - now),
                cert.not_after
            ),
        )
    })
}

/// The hosts of the entry no DNS name of the certificate covers.
fn uncovered<'a>(cert: &CertificateFacts, hosts: &[&'a str]) -> Vec<&'a str> {
    hosts
        .iter()
        .copied()
        .filter(|h| !cert.dns_names.iter().any(|p| covers(p, h)))
        .collect()
}

fn check_ingress(ctx: &NamespaceCtx<'_>, ing: &Ingress) -> Vec<Finding> {
    let tls = ing.spec.as_ref().and_then(|s| s.tls.as_ref());
    let mut by_rule: BTreeMap<Rule, Vec<Problem<'_>>> = BTreeMap::new();
    for (index, entry) in tls.into_iter().flatten().enumerate() {
        let Some(secret) = entry.secret_name.as_deref().filter(|s| !s.is_empty()) else {
            continue;
        };
        let Some(cert) = ctx
            .secret(secret)
            .and_then(secret_facts)
            .and_then(|f| f.certificates.into_iter().next())
        else {
            continue;
        };
        let hosts: Vec<&str> = entry.hosts.iter().flatten().map(String::as_str).collect();
        let mut found = Vec::new();
        if let Some(t) = time_problem(&cert, ctx.now) {
            found.push(t);
        }
        let missing = uncovered(&cert, &hosts);
        if !missing.is_empty() {
            let names = if cert.dns_names.is_empty() {
                "no DNS name in its subjectAltName (clients ignore the subject CN)".to_string()
            } else {
                format!("subjectAltName DNS names {}", cert.dns_names.join(", "))
            };
            found.push((
                Rule::IngressTlsCertHostMismatch,
                format!("does not cover {} ({names})", missing.join(", ")),
            ));
        }
        for (rule, what) in found {
            by_rule.entry(rule).or_default().push(Problem {
                index,
                secret,
                hosts: hosts.clone(),
                cert: cert.clone(),
                what,
            });
        }
    }
    by_rule
        .into_iter()
        .map(|(rule, problems)| finding(ctx, ing, rule, &problems))
        .collect()
}

/// What clients do with such a certificate.
fn consequence(rule: Rule) -> &'static str {
    match rule {
        Rule::IngressTlsCertExpired | Rule::IngressTlsCertNotYetValid => {
            "HTTPS clients reject the handshake (x509: certificate has expired or is not yet valid)"
        }
        Rule::IngressTlsCertHostMismatch => {
            "HTTPS clients fail hostname verification for those hosts"
        }
        _ => "HTTPS clients will reject it once it expires unless it is renewed",
    }
}

fn symptom(rule: Rule) -> &'static str {
    match rule {
        Rule::IngressTlsCertExpired => "TLS certificate expired",
        Rule::IngressTlsCertNotYetValid => "TLS certificate not yet valid",
        Rule::IngressTlsCertHostMismatch => "TLS certificate does not cover the host",
        _ => "TLS certificate expires soon",
    }
}

fn finding(ctx: &NamespaceCtx<'_>, ing: &Ingress, rule: Rule, problems: &[Problem<'_>]) -> Finding {
    let name = ing.name_any();
    let ns = ctx.namespace();
    let ing_ref = ctx.object("Ingress", name);
    let parts: Vec<String> = problems
        .iter()
        .map(|p| {
            let hosts = if p.hosts.is_empty() {
                String::new()
            } else {
                format!(" for {}", p.hosts.join(", "))
            };
            format!(
                "the certificate of Secret {}{hosts} ({}, issuer {}) {}",
                p.secret, p.cert.subject, p.cert.issuer, p.what
            )
        })
        .collect();
    let mut b = ctx
        .finding(rule, ing_ref.clone())
        .symptom(symptom(rule))
        .cause(format!(
            "Ingress {name} terminates TLS with {}: {}.",
            parts.join("; and "),
            consequence(rule)
        ));
    for p in problems {
        let secret_ref = ctx.object("Secret", p.secret);
        b = b
            .field(
                &ing_ref,
                format!("spec.tls[{}].secretName", p.index),
                p.secret.to_string(),
            )
            .field(
                &secret_ref,
                "certificate.notBefore",
                p.cert.not_before.clone(),
            )
            .field(
                &secret_ref,
                "certificate.notAfter",
                p.cert.not_after.clone(),
            )
            .field(
                &secret_ref,
                "certificate.subjectAltName",
                p.cert.dns_names.join(", "),
            )
            .related(secret_ref);
    }
    let first = problems.first().map_or("", |p| p.secret);
    b.next_command(
        "Read the served certificate's dates, subject and names",
        Kubectl::new()
            .namespace(ns)
            .args(["get", "secret"])
            .name(first)
            .args(["-o", r"jsonpath={.data.tls\.crt}"])
            .pipe(["base64", "-d"])
            .pipe([
                "openssl",
                "x509",
                "-noout",
                "-dates",
                "-subject",
                "-ext",
                "subjectAltName",
            ])
            .build(),
    )
    .next_command(
        "If cert-manager issues it, see whether its Certificate is Ready and renewing",
        Kubectl::new()
            .namespace(ns)
            .args(["get", "certificates", "-o", "wide"])
            .build(),
    )
    .build()
}

#[cfg(test)]
mod tests;
