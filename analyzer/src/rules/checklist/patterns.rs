//! Recognising DNS failures and RBAC denials in application log lines, as
//! the common runtimes print them.

use std::sync::LazyLock;

use regex::Regex;

/// A DNS resolution failure found in a log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsFailure {
    /// The name that failed, when the line says.
    pub host: Option<String>,
    /// The resolver asked (`10.96.0.10:53`), when the line says.
    pub resolver: Option<String>,
    /// What went wrong, e.g. `no such host`, `i/o timeout`.
    pub kind: String,
    /// The name does not exist (NXDOMAIN), as opposed to DNS not answering.
    pub not_found: bool,
}

/// An API request the API server refused, found in a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden {
    /// `system:serviceaccount:shop:default`.
    pub user: String,
    /// `list`, `get`, `watch`...
    pub verb: String,
    /// `pods`, `pods/log`, `leases`...
    pub resource: String,
    /// API group; empty for the core group.
    pub group: String,
    /// Namespace of the request; `None` at cluster scope.
    pub namespace: Option<String>,
    /// The refusal as the API server wrote it.
    pub text: String,
}

fn re(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

// Go's net package: `dial tcp: lookup db.payments.svc.cluster.local on
// 10.96.0.10:53: no such host`, `... read udp ...: i/o timeout`.
static GO_LOOKUP: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"lookup (?P<host>[A-Za-z0-9._-]+)(?: on (?P<server>\S+:\d+))?: (?:.*?)(?P<kind>no such host|server misbehaving|i/o timeout|connection refused)",
    )
});
// Node.js: `getaddrinfo ENOTFOUND db`, `getaddrinfo EAI_AGAIN db`.
static NODE_LOOKUP: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"getaddrinfo (?P<kind>ENOTFOUND|EAI_AGAIN) (?P<host>[A-Za-z0-9._-]+)"));
// Java: `java.net.UnknownHostException: db.payments`.
static JAVA_LOOKUP: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"UnknownHostException: (?P<host>[A-Za-z0-9._-]+)"));
// libpq / psycopg: `could not translate host name "db" to address: Name or service not known`.
static PG_LOOKUP: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r#"could not translate host name "(?P<host>[^"]+)" to address: (?P<kind>[^\r\n]+)"#)
});
// glibc resolver messages without a host name.
static GLIBC: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?P<kind>Temporary failure in name resolution|Name or service not known|nodename nor servname provided)",
    )
});
// kube-apiserver's Forbidden status message.
static FORBIDDEN: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r#"(?P<text>(?:\S+ (?:"[^"]*" )?is )?forbidden: User "(?P<user>[^"]+)" cannot (?P<verb>[a-z]+) resource "(?P<res>[^"]+)" in API group "(?P<group>[^"]*)"(?: in the namespace "(?P<ns>[^"]+)"| at the cluster scope)?)"#,
    )
});

fn cap(c: &regex::Captures<'_>, name: &str) -> Option<String> {
    c.name(name).map(|m| m.as_str().to_string())
}

/// Recognises a DNS failure in one log line.
pub fn parse_dns_failure(line: &str) -> Option<DnsFailure> {
    if let Some(c) = GO_LOOKUP.as_ref().and_then(|r| r.captures(line)) {
        let kind = cap(&c, "kind").unwrap_or_default();
        return Some(DnsFailure {
            host: cap(&c, "host"),
            resolver: cap(&c, "server"),
            not_found: kind == "no such host",
            kind,
        });
    }
    if let Some(c) = NODE_LOOKUP.as_ref().and_then(|r| r.captures(line)) {
        let code = cap(&c, "kind").unwrap_or_default();
        let not_found = code == "ENOTFOUND";
        return Some(DnsFailure {
            host: cap(&c, "host"),
            resolver: None,
            kind: if not_found {
                "no such host (ENOTFOUND)".into()
            } else {
                "lookup timed out (EAI_AGAIN)".into()
            },
            not_found,
        });
    }
    if let Some(c) = JAVA_LOOKUP.as_ref().and_then(|r| r.captures(line)) {
        return Some(DnsFailure {
            host: cap(&c, "host"),
            resolver: None,
            kind: "unknown host (UnknownHostException)".into(),
            not_found: true,
        });
    }
    if let Some(c) = PG_LOOKUP.as_ref().and_then(|r| r.captures(line)) {
        let kind = cap(&c, "kind").unwrap_or_default().trim().to_string();
        return Some(DnsFailure {
            host: cap(&c, "host"),
            resolver: None,
            not_found: !kind.contains("Temporary failure"),
            kind,
        });
    }
    if let Some(c) = GLIBC.as_ref().and_then(|r| r.captures(line)) {
        let kind = cap(&c, "kind").unwrap_or_default();
        return Some(DnsFailure {
            host: None,
            resolver: None,
            not_found: !kind.contains("Temporary failure"),
            kind,
        });
    }
    None
}

/// Recognises an RBAC refusal in one log line.
pub fn parse_forbidden(line: &str) -> Option<Forbidden> {
    // klog's structured lines quote the API error inside `err="…"`, with
    // its own quotes escaped (client-go v0.33: `User \"system:…\"`).
    let unescaped;
    let line = if line.contains("\\\"") {
        unescaped = line.replace("\\\"", "\"");
        unescaped.as_str()
    } else {
        line
    };
    let c = FORBIDDEN.as_ref()?.captures(line)?;
    Some(Forbidden {
        user: cap(&c, "user")?,
        verb: cap(&c, "verb")?,
        resource: cap(&c, "res")?,
        group: cap(&c, "group").unwrap_or_default(),
        namespace: cap(&c, "ns"),
        text: cap(&c, "text")?,
    })
}

/// The Service and namespace a cluster DNS name designates: `db` (in
/// `current`), `db.payments.svc`, `db.payments.svc.cluster.local`. `None`
/// for names outside the cluster domain (including `db.payments`, which is
/// ambiguous with an external domain).
pub fn service_of_host(host: &str, current: &str) -> Option<(String, String)> {
    let host = host.trim_end_matches('.');
    if !host.contains('.') {
        return Some((host.to_string(), current.to_string()));
    }
    let stem = host
        .strip_suffix(".svc.cluster.local")
        .or_else(|| host.strip_suffix(".svc"))?;
    // `web-0.web.shop` (a StatefulSet pod's name) designates Service `web`.
    let mut parts = stem.rsplitn(3, '.');
    let ns = parts.next()?;
    let svc = parts.next()?;
    Some((svc.to_string(), ns.to_string()))
}
