//! Test knobs: make the snapshot server misbehave on purpose.
//!
//! They exist for the collector's tests, which need an API server that pages,
//! is slow, refuses or fails, without a cluster. All are off by default.
//!
//! * `--page-size N`: at most N items per list page even when the client sent
//!   no `limit` (a `limit` lower than N still wins), so pagination is always
//!   exercised.
//! * `--latency-ms N`: every request waits N milliseconds before it is served.
//! * `--fail RESOURCE=WHAT`, repeatable, optionally `NAMESPACE/RESOURCE=WHAT`:
//!   requests for RESOURCE (a plural such as `secrets`, a group-qualified
//!   plural such as `nodes.metrics.k8s.io`, or a subresource such as
//!   `pods/log`) answer WHAT instead: `403` (RBAC-style Forbidden), `404`
//!   (NotFound), `500` (InternalError), or `timeout` (the request is held
//!   open for [`TIMEOUT_HOLD`], longer than any sensible client timeout, then
//!   answered 504), `429` (API Priority and Fairness rejection: plain-text
//!   body and `Retry-After: 1`, as kube-apiserver's `tooManyRequests`
//!   writes it) or `410` (an expired `continue` token: only requests that
//!   carry `continue` fail, with the `Expired` Status the API server returns
//!   once etcd compacted the list's revision). `429xN` / `410xN` fail only the
//!   first N matching requests, so a client's retry or restart can be shown
//!   to succeed. With a namespace, only requests in that namespace fail.
//! * `--rbac FILE`: answer as a server whose caller holds exactly the Roles
//!   and ClusterRoles in FILE (see [`crate::rbac`]); requests outside them
//!   answer RBAC's 403, and `SelfSubjectRulesReview` reports them.
//! * `--no-apf`: leave out the `X-Kubernetes-PF-FlowSchema-UID` and
//!   `X-Kubernetes-PF-PriorityLevel-UID` headers that every answer carries
//!   otherwise (a real API server sends them on every response when API
//!   Priority and Fairness is on, the default since 1.20), to imitate a
//!   server without APF.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::errors::{ApiError, Gr, ServeError};

/// How long a `timeout` failure holds the request. Bounded so that a client
/// without a timeout still finishes, and a test run cannot hang forever.
pub const TIMEOUT_HOLD: Duration = Duration::from_secs(60);

/// What a failing resource answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// 403 Forbidden.
    Forbidden,
    /// 404 NotFound.
    NotFound,
    /// 500 InternalError.
    Internal,
    /// Hold the request, then 504.
    Timeout,
    /// 429 with `Retry-After` ([`RETRY_AFTER_SECONDS`]).
    TooManyRequests,
    /// 410 `Expired`, only for requests continuing a list.
    Expired,
}

/// `Retry-After` of an injected 429: kube-apiserver always sends `1`.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// Header naming the FlowSchema that classified a request (APF).
pub const FLOW_SCHEMA_HEADER: &str = "X-Kubernetes-PF-FlowSchema-UID";
/// Header naming the priority level a request was assigned to (APF).
pub const PRIORITY_LEVEL_HEADER: &str = "X-Kubernetes-PF-PriorityLevel-UID";
/// UID sent in [`FLOW_SCHEMA_HEADER`]: a stable made-up UID, since the
/// snapshot has no FlowSchema objects (real servers send the UID, never the
/// name, of the matching object).
pub const FLOW_SCHEMA_UID: &str = "6e7a1f52-8c3b-4d8e-9a57-2b1f0c9d4e31";
/// UID sent in [`PRIORITY_LEVEL_HEADER`].
pub const PRIORITY_LEVEL_UID: &str = "b3c9d0e4-5f61-4a72-8b83-9c0d1e2f3a45";

/// `Status.message` of an expired continue token, as the API server words it
/// (`k8s.io/apiserver/pkg/storage/etcd3/errors.go`, `continueExpired`).
pub const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.";

/// Body of an APF rejection (`tooManyRequests` in kube-apiserver's
/// `filters/maxinflight.go`; written with Go's `http.Error`, so plain text
/// with a trailing newline).
pub const TOO_MANY_REQUESTS_BODY: &str = "Too many requests, please try again later.\n";

/// One parsed `--fail` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailRule {
    /// Namespace the rule is limited to.
    pub namespace: Option<String>,
    /// Resource as spelled on the flag.
    pub resource: String,
    /// What to answer.
    pub mode: FailMode,
    /// Fail only the first this many matching requests (`429x2`); `None`
    /// fails every one.
    pub times: Option<u32>,
}

impl FailRule {
    /// Parses `secrets=403` or `shop/pods/log=500`.
    pub fn parse(spec: &str) -> Result<FailRule, ServeError> {
        let invalid = |reason: &str| ServeError::InvalidFail {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let (target, what) = spec
            .rsplit_once('=')
            .ok_or_else(|| invalid("expected RESOURCE=403|404|410|429|500|timeout"))?;
        let (what, times) = match what.trim().split_once('x') {
            Some((w, n)) => {
                let n: u32 = n
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid("the count after 'x' must be a positive number"))?;
                (w, Some(n))
            }
            None => (what.trim(), None),
        };
        let mode = match what {
            "403" => FailMode::Forbidden,
            "404" => FailMode::NotFound,
            "410" => FailMode::Expired,
            "429" => FailMode::TooManyRequests,
            "500" => FailMode::Internal,
            "timeout" => FailMode::Timeout,
            _ => {
                return Err(invalid(
                    "the answer must be one of 403, 404, 410, 429, 500, timeout",
                ))
            }
        };
        let target = target.trim();
        // `ns/resource` or `ns/resource/sub`: a bare `resource/sub` is told
        // apart by its known subresource name.
        let parts: Vec<&str> = target.split('/').collect();
        let (namespace, resource) = match parts.as_slice() {
            [r] => (None, r.to_string()),
            [r, "log"] => (None, format!("{r}/log")),
            [ns, r] => (Some(ns.to_string()), r.to_string()),
            [ns, r, sub] => (Some(ns.to_string()), format!("{r}/{sub}")),
            _ => return Err(invalid("too many '/' in the resource")),
        };
        if resource.is_empty() || namespace.as_deref() == Some("") {
            return Err(invalid("empty resource or namespace"));
        }
        Ok(FailRule {
            namespace,
            resource,
            mode,
            times,
        })
    }

    fn matches(&self, names: &[String], namespace: Option<&str>) -> bool {
        if let Some(ns) = &self.namespace {
            if namespace != Some(ns.as_str()) {
                return false;
            }
        }
        names.contains(&self.resource)
    }
}

/// All knobs, as the server uses them.
#[derive(Debug, Clone, Default)]
pub struct Knobs {
    /// Items per page cap.
    pub page_size: Option<usize>,
    /// Per-request delay.
    pub latency: Option<Duration>,
    /// Forced failures.
    pub fail: Vec<FailRule>,
    /// How many requests each rule of `fail` answered (same order), for the
    /// `xN` limits. Shared by the clones every connection holds.
    hits: Arc<Vec<AtomicU32>>,
    /// Leave out the APF response headers (`--no-apf`).
    pub no_apf: bool,
    /// The caller's permissions (`--rbac FILE`); `None`: everything allowed.
    pub rbac: Option<Arc<crate::rbac::Rbac>>,
}

/// The resource a request is about, as the fail rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Group and plural.
    pub gr: Gr<'a>,
    /// Subresource such as `log`.
    pub subresource: Option<&'a str>,
    /// Namespace of the request.
    pub namespace: Option<&'a str>,
    /// Object name for gets.
    pub name: Option<&'a str>,
    /// `list`, `get` or `watch`.
    pub verb: &'a str,
}

impl Knobs {
    /// Builds the knobs from the flags.
    pub fn new(
        page_size: Option<usize>,
        latency_ms: Option<u64>,
        fail: &[String],
    ) -> Result<Knobs, ServeError> {
        let fail: Vec<FailRule> = fail
            .iter()
            .map(|s| FailRule::parse(s))
            .collect::<Result<_, _>>()?;
        Ok(Knobs {
            page_size: page_size.filter(|n| *n > 0),
            latency: latency_ms.filter(|n| *n > 0).map(Duration::from_millis),
            hits: Arc::new(fail.iter().map(|_| AtomicU32::new(0)).collect()),
            fail,
            no_apf: false,
            rbac: None,
        })
    }

    /// The failure forced for this request, if any rule matches (a request
    /// that does not continue a list).
    #[cfg(test)]
    pub fn failure(&self, target: &Target<'_>) -> Option<(FailMode, ApiError)> {
        self.failure_for(target, false)
    }

    /// The failure forced for this request; `continuing` tells whether it
    /// carries a `continue` token (only those can hit a `410` rule). A rule
    /// limited to N requests counts this one when it matches.
    pub fn failure_for(
        &self,
        target: &Target<'_>,
        continuing: bool,
    ) -> Option<(FailMode, ApiError)> {
        let names: Vec<String> = match target.subresource {
            Some(sub) => vec![format!("{}/{sub}", target.gr.resource)],
            None if target.gr.group == "metrics.k8s.io" => vec![target.gr.qualified()],
            None => vec![target.gr.resource.to_string(), target.gr.qualified()],
        };
        let (index, rule) = self.fail.iter().enumerate().find(|(_, r)| {
            r.matches(&names, target.namespace) && (continuing || r.mode != FailMode::Expired)
        })?;
        if let Some(times) = rule.times {
            let hits = self.hits.get(index)?;
            if hits.fetch_add(1, Ordering::Relaxed) >= times {
                return None;
            }
        }
        let err = match rule.mode {
            FailMode::Forbidden => {
                let resource = names.first().map(String::as_str).unwrap_or(target.gr.resource);
                ApiError::forbidden(
                    Gr {
                        group: target.gr.group,
                        resource,
                    },
                    target.verb,
                    target.name,
                    target.namespace,
                )
            }
            FailMode::NotFound => match target.name {
                Some(name) => ApiError::not_found(target.gr, name),
                None => ApiError::no_such_resource(),
            },
            FailMode::Internal => ApiError::internal(format!("injected failure (--fail {})", describe(rule))),
            FailMode::Timeout => ApiError::timeout(format!(
                "the server was unable to return a response in the time allotted (injected by --fail {})",
                describe(rule)
            )),
            FailMode::TooManyRequests => ApiError {
                code: 429,
                reason: "TooManyRequests",
                message: TOO_MANY_REQUESTS_BODY.trim_end().to_string(),
                details: None,
            },
            FailMode::Expired => ApiError {
                code: 410,
                reason: "Expired",
                message: CONTINUE_EXPIRED.to_string(),
                details: None,
            },
        };
        Some((rule.mode, err))
    }
}

fn describe(rule: &FailRule) -> String {
    let what = match rule.mode {
        FailMode::Forbidden => "403",
        FailMode::NotFound => "404",
        FailMode::Internal => "500",
        FailMode::Timeout => "timeout",
        FailMode::TooManyRequests => "429",
        FailMode::Expired => "410",
    };
    let what = match rule.times {
        Some(n) => format!("{what}x{n}"),
        None => what.to_string(),
    };
    match &rule.namespace {
        Some(ns) => format!("{ns}/{}={what}", rule.resource),
        None => format!("{}={what}", rule.resource),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(
        group: &'a str,
        resource: &'a str,
        sub: Option<&'a str>,
        ns: Option<&'a str>,
    ) -> Target<'a> {
        Target {
            gr: Gr { group, resource },
            subresource: sub,
            namespace: ns,
            name: None,
            verb: "list",
        }
    }

    #[test]
    fn parses_every_form() {
        let r = FailRule::parse("shop/secrets=403").unwrap();
        assert_eq!(r.namespace.as_deref(), Some("shop"));
        assert_eq!(r.resource, "secrets");
        assert_eq!(r.mode, FailMode::Forbidden);
        assert_eq!(
            FailRule::parse("pods/log=500").unwrap().resource,
            "pods/log"
        );
        assert_eq!(FailRule::parse("pods/log=500").unwrap().namespace, None);
        assert_eq!(
            FailRule::parse("events=timeout").unwrap().mode,
            FailMode::Timeout
        );
        assert!(FailRule::parse("events").is_err());
        assert!(FailRule::parse("events=418").is_err());
        let r = FailRule::parse("shop/pods=429x2").unwrap();
        assert_eq!((r.mode, r.times), (FailMode::TooManyRequests, Some(2)));
        assert_eq!(FailRule::parse("pods=410").unwrap().mode, FailMode::Expired);
        assert!(FailRule::parse("pods=429x0").is_err());
        assert!(FailRule::parse("pods=429xz").is_err());
        assert!(FailRule::parse("/pods=404").is_err());
    }

    #[test]
    fn namespace_limits_the_rule() {
        let knobs = Knobs::new(None, None, &["shop/secrets=403".to_string()]).unwrap();
        assert!(knobs
            .failure(&target("", "secrets", None, Some("web")))
            .is_none());
        let (mode, err) = knobs
            .failure(&target("", "secrets", None, Some("shop")))
            .unwrap();
        assert_eq!(mode, FailMode::Forbidden);
        assert_eq!(err.code, 403);
        assert!(err.message.contains("in the namespace \"shop\""));
    }

    #[test]
    fn metrics_and_subresources_are_told_apart() {
        let knobs = Knobs::new(
            None,
            None,
            &[
                "pods=500".to_string(),
                "nodes.metrics.k8s.io=404".to_string(),
            ],
        )
        .unwrap();
        assert_eq!(
            knobs
                .failure(&target("", "pods", None, Some("a")))
                .unwrap()
                .1
                .code,
            500
        );
        assert!(knobs
            .failure(&target("", "pods", Some("log"), Some("a")))
            .is_none());
        assert!(knobs
            .failure(&target("metrics.k8s.io", "pods", None, Some("a")))
            .is_none());
        assert_eq!(
            knobs
                .failure(&target("metrics.k8s.io", "nodes", None, None))
                .unwrap()
                .1
                .code,
            404
        );
        assert!(knobs.failure(&target("", "nodes", None, None)).is_none());
    }

    #[test]
    fn limited_rules_stop_after_n_requests() {
        let knobs = Knobs::new(None, None, &["shop/pods=429x2".to_string()]).unwrap();
        let t = target("", "pods", None, Some("shop"));
        let (mode, err) = knobs.failure(&t).unwrap();
        assert_eq!((mode, err.code), (FailMode::TooManyRequests, 429));
        assert_eq!(err.message, "Too many requests, please try again later.");
        // Clones (one per connection) share the count.
        assert!(knobs.clone().failure(&t).is_some());
        assert!(knobs.failure(&t).is_none());
    }

    #[test]
    fn expired_only_hits_continue_requests() {
        let knobs = Knobs::new(None, None, &["pods=410".to_string()]).unwrap();
        let t = target("", "pods", None, Some("shop"));
        assert!(knobs.failure_for(&t, false).is_none());
        let (mode, err) = knobs.failure_for(&t, true).unwrap();
        assert_eq!(
            (mode, err.code, err.reason),
            (FailMode::Expired, 410, "Expired")
        );
        assert!(err
            .message
            .starts_with("The provided continue parameter is too old"));
    }
}
