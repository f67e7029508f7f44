//! Answers that ask to be retried: 429 (API Priority and Fairness, or the
//! old max-in-flight filter, rejected the request) and 5xx with a
//! `Retry-After` header (the server is briefly unable to serve).
//!
//! Like client-go's `checkWait`: the server's `Retry-After` (whole seconds)
//! is honoured, attempts are bounded ([`MAX_ATTEMPTS`]) and each wait is
//! capped ([`MAX_WAIT`]) so a hostile or confused server cannot park the
//! run; `--timeout` still ends the whole run whatever is waiting. A request
//! that keeps being rejected becomes a failed step like any other.

use std::time::Duration;

/// Attempts per request, the first included. client-go allows 10 retries;
/// 5 attempts already wait ≥ 4 s on an APF server (which asks for 1 s), long
/// enough for its queues to drain, and keep a struggling server from being
/// hammered by a collector that cannot be served anyway.
pub const MAX_ATTEMPTS: u32 = 5;

/// Longest wait honoured before one retry.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Wait when a 429 carries no (usable) `Retry-After`: the value
/// kube-apiserver always sends.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(1);

/// Parses a `Retry-After` value in delta-seconds (`"1"`, `"120"`). The
/// HTTP-date form is not used by Kubernetes and is treated as absent.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_WAIT))
}

/// How long to wait before retrying an answer with `status` and the given
/// `Retry-After` header, or `None` when it must not be retried.
pub fn delay(status: u16, retry_after: Option<&str>) -> Option<Duration> {
    let asked = retry_after.and_then(parse_retry_after);
    match status {
        429 => Some(asked.unwrap_or(DEFAULT_WAIT)),
        // A 5xx without Retry-After is a real failure (metrics-server down,
        // an etcd error): recorded at once, not retried.
        500..=599 => asked,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apf_rejection_waits_what_the_server_asks() {
        // kube-apiserver's tooManyRequests: `Retry-After: 1`.
        assert_eq!(delay(429, Some("1")), Some(Duration::from_secs(1)));
        assert_eq!(delay(429, Some("3")), Some(Duration::from_secs(3)));
        // No header, or an HTTP-date: the default second.
        assert_eq!(delay(429, None), Some(DEFAULT_WAIT));
        assert_eq!(
            delay(429, Some("Wed, 26 Nov 2026 09:00:00 GMT")),
            Some(DEFAULT_WAIT)
        );
    }

    #[test]
    fn server_errors_only_with_retry_after() {
        assert_eq!(delay(503, Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(delay(503, None), None);
        assert_eq!(delay(500, None), None);
        assert_eq!(delay(404, Some("1")), None);
        assert_eq!(delay(403, None), None);
    }

    #[test]
    fn waits_are_capped() {
        assert_eq!(delay(429, Some("86400")), Some(MAX_WAIT));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1"), None);
    }
}
