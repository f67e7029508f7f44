//! Who may ask: the per-run bearer token and the `Host` check.
//!
//! The server listens on loopback only, but loopback is not private: any
//! local user can connect, and a web page the user opens can reach it by
//! DNS rebinding (a name that first resolves to the attacker, then to
//! 127.0.0.1, so the browser sends same-origin requests with the
//! attacker's `Host`). Two checks stop both, before any bundle data is
//! read:
//!
//! * `Host` (and an absolute-form request target) must name the address the
//!   server listens on: `127.0.0.1:PORT`, `localhost:PORT` or `[::1]:PORT`.
//!   Anything else answers 403 `Forbidden`.
//! * Every request must carry the token made for this run from the OS
//!   random source (32 bytes, hex) and written only into the 0600
//!   kubeconfig: as the first segment of the path (`/<token>/api/v1/…`,
//!   the kubeconfig's `server` URL ends with it) or as
//!   `Authorization: Bearer <token>`. The path form is what kubectl uses:
//!   client-go sends no credentials at all to a plain-HTTP server
//!   (`DirectClientConfig` reads the user's auth only for TLS), so a bearer
//!   token alone would shut kubectl out. A missing or wrong token answers 401
//!   `Unauthorized`, with the body a real API server sends, so kubectl
//!   prints "You must be logged in to the server (Unauthorized)".
//! * As on an API server (the `system:public-info-viewer` role), the health
//!   endpoints and `/version` are answered without a token: they say nothing
//!   about the snapshot's objects, and `kubectl get --raw /healthz` (which
//!   drops the server URL's path) keeps working. Other `--raw` paths need
//!   the token prefix: `kubectl get --raw /<token>/api/v1/…`.

use std::io::Read;

use crate::errors::ApiError;

/// What a request must show to be answered.
#[derive(Debug, Clone)]
pub struct Access {
    /// The bearer token of this run.
    pub token: String,
    /// The port the server listens on (the `Host` must name it).
    pub port: u16,
}

/// Random bytes from the OS (`/dev/urandom`), as lower-case hex.
pub fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A fresh bearer token for one run (256 bits).
pub fn new_token() -> std::io::Result<String> {
    random_hex(32)
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether an `Authorization` header value carries `token`.
pub fn authorized(header: Option<&[u8]>, token: &str) -> bool {
    let Some(value) = header else {
        return false;
    };
    let Some((scheme, credential)) = value
        .iter()
        .position(|b| *b == b' ')
        .map(|i| value.split_at(i))
    else {
        return false;
    };
    scheme.eq_ignore_ascii_case(b"bearer") && same(credential.trim_ascii(), token.as_bytes())
}

/// The rest of `path` (starting with `/`, or `/` itself) when its first
/// segment is `token`.
pub fn strip_token<'p>(path: &'p str, token: &str) -> Option<&'p str> {
    let after = path.strip_prefix('/')?;
    let (first, rest) = match after.find('/') {
        Some(i) => after.split_at(i),
        None => (after, "/"),
    };
    same(first.as_bytes(), token.as_bytes()).then_some(rest)
}

/// Whether `path` may be read without the token (health and version).
pub fn is_public(path: &str) -> bool {
    path == "/version"
        || ["/healthz", "/livez", "/readyz"]
            .iter()
            .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
}

/// Whether a `Host` value (or request-target authority) names the
/// loopback address the server listens on at `port`.
pub fn host_allowed(host: &str, port: u16) -> bool {
    let Some((name, p)) = host.rsplit_once(':') else {
        return false;
    };
    p.parse::<u16>() == Ok(port)
        && (name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") || name == "[::1]")
}

/// 401 as the API server's authentication filter answers it.
pub fn unauthorized() -> ApiError {
    ApiError {
        code: 401,
        reason: "Unauthorized",
        message: "Unauthorized".to_string(),
        details: None,
    }
}

/// 403 for a request addressed to another host (DNS rebinding).
pub fn wrong_host(host: Option<&str>, port: u16) -> ApiError {
    let shown: String = host
        .unwrap_or("")
        .chars()
        .take(100)
        .flat_map(char::escape_default)
        .collect();
    ApiError {
        code: 403,
        reason: "Forbidden",
        message: format!(
            "host \"{shown}\" is not this server: a kpm snapshot server answers only requests addressed to 127.0.0.1:{port}, localhost:{port} or [::1]:{port}"
        ),
        details: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let t = "0123abcd";
        assert!(authorized(Some(b"Bearer 0123abcd"), t));
        assert!(authorized(Some(b"bearer 0123abcd"), t));
        for bad in [
            &b""[..],
            b"Bearer",
            b"Bearer ",
            b"Bearer 0123abc",
            b"Bearer 0123abcde",
            b"Basic 0123abcd",
            b"Bearer0123abcd",
            b"Bearer \xff\xfe",
        ] {
            assert!(!authorized(Some(bad), t), "{bad:?}");
        }
        assert!(!authorized(None, t));
    }

    #[test]
    fn the_path_prefix_carries_the_token() {
        assert_eq!(strip_token("/tok/api/v1/pods", "tok"), Some("/api/v1/pods"));
        assert_eq!(strip_token("/tok", "tok"), Some("/"));
        assert_eq!(strip_token("/tok/", "tok"), Some("/"));
        for bad in ["/api/v1/pods", "/to/api", "/tokx/api", "", "/", "//tok/api"] {
            assert_eq!(strip_token(bad, "tok"), None, "{bad}");
        }
        assert!(is_public("/healthz") && is_public("/readyz/ping") && is_public("/version"));
        for private in ["/", "/api", "/healthzx", "/version/x", "/apis/x/healthz"] {
            assert!(!is_public(private), "{private}");
        }
    }

    #[test]
    fn host_must_be_loopback_and_this_port() {
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LocalHost:8080",
            "[::1]:8080",
        ] {
            assert!(host_allowed(ok, 8080), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "127.0.0.1:8081",
            "evil.example:8080",
            "127.0.0.1.evil.example:8080",
            "localhost.:8080",
            "0.0.0.0:8080",
            "[::1]",
            "",
            "127.0.0.1:8080:8080",
        ] {
            assert!(!host_allowed(bad, 8080), "{bad}");
        }
        let e = wrong_host(Some("evil\u{1b}[2J.example:1"), 1);
        assert_eq!((e.code, e.reason), (403, "Forbidden"));
        assert!(!e.message.contains('\u{1b}'));
        assert_eq!(unauthorized().to_status()["reason"], "Unauthorized");
    }
}
