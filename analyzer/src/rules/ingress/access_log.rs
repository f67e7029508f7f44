//! ingress-nginx access-log lines and Ingress path matching.
//!
//! The controller's default `log-format-upstream` (ingress-nginx docs,
//! "Log format"):
//!
//! ```text
//! $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
//! "$http_referer" "$http_user_agent" $request_length $request_time
//! [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr
//! $upstream_response_length $upstream_response_time $upstream_status $req_id
//! ```
//!
//! A request no rule of the class matches is proxied to
//! `upstream-default-backend`, which answers 404. The default format has no
//! `$host`: a line names a host only when `$request` carries an absolute URI
//! (`GET http://shop.example.com/x HTTP/1.1`); otherwise only the path is
//! known. Every field is hostile: hosts are kept only when they are DNS
//! names, paths are percent-encoded outside a small safe set and cut short.

use std::sync::OnceLock;

use regex::Regex;

/// `$proxy_upstream_name` of the controller's catch-all backend.
pub const DEFAULT_BACKEND_UPSTREAM: &str = "upstream-default-backend";

/// Longest path kept from a log line (longer ones are cut with `…`).
const MAX_PATH: usize = 100;

/// One access-log line, as far as routing is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The request's host, when the line carries one (absolute URI).
    pub host: Option<String>,
    /// The path without query, percent-encoded outside a safe set.
    pub path: String,
    /// `$status` (404 from the built-in default backend, 503 when a custom
    /// one has no endpoints).
    pub status: u16,
    /// `$proxy_upstream_name`.
    pub upstream: String,
}

fn line_regex() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r#"\S+ - \S+ \[[^\]]*\] "([^"]*)" (\d{3}) \d+ "[^"]*" "[^"]*" \d+ [0-9.]+ \[([^\]]*)\] \[[^\]]*\]"#,
        )
        .ok()
    })
    .as_ref()
}

/// Parses a line of the default format (anywhere in the line, so a
/// timestamp prefix is fine); `None` for any other line.
pub fn parse(line: &str) -> Option<Access> {
    let caps = line_regex()?.captures(line)?;
    let request = caps.get(1)?.as_str();
    let status: u16 = caps.get(2)?.as_str().parse().ok()?;
    let upstream = caps.get(3)?.as_str();
    let mut words = request.split(' ');
    let _method = words.next()?;
    let target = words.next()?;
    let (host, path) = split_target(target);
    Some(Access {
        host,
        path: safe_path(path),
        status,
        upstream: upstream.chars().take(200).collect(),
    })
}

/// `http://host:port/p?q` → (`host`, `/p`); `/p?q` → (None, `/p`).
fn split_target(target: &str) -> (Option<String>, &str) {
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"));
    let (host, path) = match rest {
        Some(rest) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            (dns_name(authority), path)
        }
        None => (None, target),
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    (host, if path.is_empty() { "/" } else { path })
}

/// The host of an authority (`user@host:port`), lower-cased, when it is a
/// DNS name; anything else is no host.
fn dns_name(authority: &str) -> Option<String> {
    let host = authority.rsplit('@').next()?;
    let host = host.split(':').next()?.to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    ok.then_some(host)
}

/// The path with every byte outside `A-Za-z0-9/._~-` percent-encoded
/// (so no markup, quote or control character survives) and cut to
/// [`MAX_PATH`].
fn safe_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if out.len() >= MAX_PATH {
            out.push('…');
            break;
        }
        if b.is_ascii_alphanumeric() || b"/._~-%".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        "/".to_string()
    } else {
        out
    }
}

/// Whether `path` matches an Ingress path of `path_type` (Kubernetes
/// Ingress docs, "Path types"): `Exact` is equality; `Prefix` matches
/// element by element on `/` (`/foo` matches `/foo` and `/foo/bar`, not
/// `/foobar`; a trailing `/` is ignored); `ImplementationSpecific` is
/// ingress-nginx's plain location prefix (regexes, which need the
/// `use-regex` annotation, are not evaluated and count as a match so no
/// request is wrongly called unrouted).
pub fn path_matches(rule_path: &str, path_type: &str, path: &str) -> bool {
    match path_type {
        "Exact" => rule_path == path,
        "Prefix" => prefix_matches(rule_path, path),
        _ => path.starts_with(rule_path) || rule_path.contains(['^', '$', '(', '*', '+', '[']),
    }
}

fn prefix_matches(rule_path: &str, path: &str) -> bool {
    let elements = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect()
    };
    let want = elements(rule_path);
    let have = elements(path);
    have.len() >= want.len() && have.iter().zip(&want).all(|(h, w)| h == w)
}

/// Whether an Ingress rule host (`shop.example.com`, `*.example.com`, or
/// empty for every host) matches `host` (Ingress docs, "Hostname
/// wildcards": `*` covers exactly one DNS label).
pub fn host_matches(rule_host: &str, host: &str) -> bool {
    if rule_host.is_empty() {
        return true;
    }
    match rule_host.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => rule_host.eq_ignore_ascii_case(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = r#"203.0.113.7 - - [20/Nov/2026:14:31:02 +0000] "GET /api/v2/orders?id=1 HTTP/1.1" 404 548 "-" "curl/8.5.0" 95 0.000 [upstream-default-backend] [] 127.0.0.1:8181 548 0.000 404 5f4dcc3b5aa765d61d8327deb882cf99"#;

    #[test]
    fn default_format_lines_parse() {
        let a = parse(DEFAULT).unwrap();
        assert_eq!(a.host, None);
        assert_eq!(a.path, "/api/v2/orders");
        assert_eq!(a.status, 404);
        assert_eq!(a.upstream, DEFAULT_BACKEND_UPSTREAM);
        let routed = DEFAULT.replace("[upstream-default-backend]", "[shop-frontend-http]");
        assert_eq!(parse(&routed).unwrap().upstream, "shop-frontend-http");
        let with_ts = format!("2026-11-20T14:31:02.123Z {DEFAULT}");
        assert_eq!(parse(&with_ts).unwrap().path, "/api/v2/orders");
        assert_eq!(
            parse("I1120 14:31:02 controller.go:190 Configuration changes detected"),
            None
        );
    }

    #[test]
    fn absolute_uris_name_the_host() {
        let line = DEFAULT.replace("/api/v2/orders?id=1", "http://Api.Acme.example:80/v2");
        let a = parse(&line).unwrap();
        assert_eq!(a.host.as_deref(), Some("api.acme.example"));
        assert_eq!(a.path, "/v2");
        let hostile = DEFAULT.replace("/api/v2/orders?id=1", "http://<b>x</b>/a");
        assert_eq!(parse(&hostile).unwrap().host, None);
    }

    #[test]
    fn hostile_paths_are_encoded_and_cut() {
        let line = DEFAULT.replace("/api/v2/orders?id=1", "/<script>`rm`|*\u{1b}[31m");
        let p = parse(&line).unwrap().path;
        assert!(!p.contains(['<', '`', '|', '*', '\u{1b}']), "{p}");
        assert!(p.starts_with("/%3Cscript%3E"), "{p}");
        let long = DEFAULT.replace("/api/v2/orders?id=1", &format!("/{}", "a".repeat(500)));
        assert!(parse(&long).unwrap().path.chars().count() <= MAX_PATH + 1);
    }

    #[test]
    fn path_types_follow_the_ingress_docs() {
        assert!(path_matches("/foo", "Prefix", "/foo/bar"));
        assert!(path_matches("/foo/", "Prefix", "/foo"));
        assert!(!path_matches("/foo", "Prefix", "/foobar"));
        assert!(path_matches("/", "Prefix", "/anything"));
        assert!(path_matches("/foo", "Exact", "/foo"));
        assert!(!path_matches("/foo", "Exact", "/foo/"));
        assert!(path_matches("/foo", "ImplementationSpecific", "/foobar"));
        assert!(path_matches("/api/(.*)", "ImplementationSpecific", "/x"));
    }

    #[test]
    fn host_wildcards_cover_one_label() {
        assert!(host_matches("*.example.com", "shop.example.com"));
        assert!(!host_matches("*.example.com", "a.b.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(host_matches("", "anything"));
        assert!(host_matches("Shop.example.com", "shop.example.com"));
    }
}
