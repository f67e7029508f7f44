//! `GET .../pods/<name>/log`: container logs from the bundle.
//!
//! Container choice and its errors follow the API server (`LogLocation` in
//! `pkg/registry/core/pod/strategy.go`) and the kubelet, because kubectl
//! prints them as they are. Options:
//!
//! * `container`, `previous`, `tailLines` and `limitBytes` behave as on a
//!   cluster (tail first, then the byte limit, as the kubelet applies them);
//!   logs are streamed, never read whole ([`crate::logtail`]).
//! * Every number is range-checked and answers 400 when out of range, as
//!   `ValidatePodLogOptions` does: `tailLines` and `limitBytes` must be
//!   positive (kubectl's `-1` for "all lines" is accepted), `sinceSeconds`
//!   at least 1 and small enough to be a time.
//! * `sinceSeconds`/`sinceTime` are relative to the collection time, not the
//!   wall clock. Collected lines carry no timestamps of their own unless the
//!   application wrote an RFC 3339 one at the start of the line: such lines
//!   are filtered by it; other lines are kept, except that a previous
//!   container that finished before the cutoff contributes nothing.
//! * `timestamps=true` cannot add the kubelet's timestamps (they were not
//!   collected); lines are returned as stored, with a `Warning` saying so.
//! * `follow=true` returns the stored log and ends: a snapshot does not grow.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::errors::ApiError;
use crate::logtail::Plan;

/// The log options of the query string.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogParams {
    /// `container`.
    pub container: Option<String>,
    /// `previous`.
    pub previous: bool,
    /// `tailLines`.
    pub tail_lines: Option<u64>,
    /// `limitBytes`.
    pub limit_bytes: Option<u64>,
    /// Cutoff from `sinceSeconds`/`sinceTime`.
    pub since: Option<DateTime<Utc>>,
}

/// A query number as an `int64`, or 400 naming the parameter (the value is
/// shown escaped and cut: it is whatever the client sent).
pub fn parse_num(name: &str, v: &str) -> Result<i64, ApiError> {
    v.parse().map_err(|_| {
        let shown: String = v.chars().take(40).collect();
        ApiError::bad_request(format!("invalid {name} {shown:?}: not a 64-bit integer"))
    })
}

impl LogParams {
    /// Reads the options; `now` is the collection time.
    pub fn from_query(
        query: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<LogParams, ApiError> {
        let get = |k: &str| {
            query
                .iter()
                .find(|(qk, _)| qk == k)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let mut p = LogParams {
            container: get("container").map(str::to_string),
            previous: get("previous").is_some_and(crate::watch::params::is_true),
            ..LogParams::default()
        };
        if let Some(t) = get("tailLines") {
            let n = parse_num("tailLines", t)?;
            // -1 means "all lines" (kubectl's default); other negatives are
            // refused as the API server refuses them.
            if n < -1 {
                return Err(ApiError::bad_request(format!(
                    "tailLines: Invalid value: {n}: must be greater than or equal to 0"
                )));
            }
            p.tail_lines = u64::try_from(n).ok();
        }
        if let Some(b) = get("limitBytes") {
            let n = parse_num("limitBytes", b)?;
            if n < 1 {
                return Err(ApiError::bad_request(
                    "limitBytes must be greater than zero",
                ));
            }
            p.limit_bytes = u64::try_from(n).ok();
        }
        if let Some(s) = get("sinceSeconds") {
            let n = parse_num("sinceSeconds", s)?;
            if n < 1 {
                return Err(ApiError::bad_request("sinceSeconds must be greater than 0"));
            }
            let since = chrono::TimeDelta::try_seconds(n).and_then(|d| now.checked_sub_signed(d));
            p.since = Some(since.ok_or_else(|| {
                ApiError::bad_request(format!(
                    "sinceSeconds: Invalid value: {n}: reaches before the earliest representable time"
                ))
            })?);
        } else if let Some(t) = get("sinceTime") {
            let t = DateTime::parse_from_rfc3339(t)
                .map_err(|_| ApiError::bad_request(format!("invalid sinceTime {t:?}")))?;
            p.since = Some(t.with_timezone(&Utc));
        }
        Ok(p)
    }
}

/// The `Warning` of a `timestamps=true` request: the kubelet's
/// timestamps were not collected, so lines come as stored (kubectl prints
/// the warning, so `kubectl logs --timestamps` does not pass stored lines
/// off as stamped ones).
pub fn timestamps_warning(query: &[(String, String)]) -> Option<String> {
    query
        .iter()
        .any(|(k, v)| k == "timestamps" && crate::watch::params::is_true(v))
        .then(|| {
            "kpm: the kubelet's log timestamps were not collected; lines are shown as stored"
                .to_string()
        })
}

/// Container names of a pod spec list; names that are not DNS-1123 labels
/// (as the API server requires) are left out, since they become a path in
/// the bundle.
fn names(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .filter(|n| kpm_semantics::names::is_dns1123_label(n))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Chooses the container as the API server does: the one named, or the only
/// one; errors with the server's messages otherwise.
pub fn choose_container(
    pod: &Value,
    pod_name: &str,
    wanted: Option<&str>,
) -> Result<String, ApiError> {
    let spec = pod.get("spec");
    let containers = names(spec.and_then(|s| s.get("containers")));
    let inits = names(spec.and_then(|s| s.get("initContainers")));
    let ephemeral = names(spec.and_then(|s| s.get("ephemeralContainers")));
    match wanted {
        Some(c) => {
            if containers
                .iter()
                .chain(&inits)
                .chain(&ephemeral)
                .any(|n| n == c)
            {
                Ok(c.to_string())
            } else {
                Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {pod_name}"
                )))
            }
        }
        None => match containers.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {pod_name}"
            ))),
            many => {
                let mut msg = format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    many.join(" ")
                );
                if !inits.is_empty() {
                    msg.push_str(&format!(
                        " or one of the init containers: [{}]",
                        inits.join(" ")
                    ));
                }
                Err(ApiError::bad_request(msg))
            }
        },
    }
}

/// The status of container `name` among all container status lists.
fn container_status<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    let status = pod.get("status")?;
    [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|k| status.get(*k).and_then(Value::as_array))
    .flatten()
    .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
}

/// Whether the container waits to restart after a terminated instance (for
/// example in CrashLoopBackOff): the kubelet then serves that instance's log
/// as the current one.
pub fn waiting_after_termination(pod: &Value, container: &str) -> bool {
    container_status(pod, container).is_some_and(|s| {
        s.pointer("/state/waiting").is_some_and(|w| !w.is_null())
            && s.pointer("/lastState/terminated")
                .is_some_and(|t| !t.is_null())
    })
}

/// When the previous instance of the container finished, if recorded.
fn previous_finished(pod: &Value, container: &str) -> Option<DateTime<Utc>> {
    let t = container_status(pod, container)?
        .pointer("/lastState/terminated/finishedAt")?
        .as_str()?;
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What part of a stored log the options select.
pub fn plan(params: &LogParams, pod: &Value, container: &str) -> Plan {
    let ended_before =
        |since| params.previous && previous_finished(pod, container).is_some_and(|f| f < since);
    Plan {
        tail_lines: params.tail_lines,
        since: params.since,
        limit_bytes: params.limit_bytes,
        empty: params.since.is_some_and(ended_before),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "metadata": {"name": "web-1", "namespace": "shop"},
            "spec": {"nodeName": "worker-1", "initContainers": [{"name": "migrate"}], "containers": [{"name": "app"}, {"name": "envoy"}]},
            "status": {"containerStatuses": [
                {"name": "app", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2025-03-01T11:58:00Z"}}},
                {"name": "envoy", "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]}
        })
    }

    #[test]
    fn container_choice_follows_the_api_server() {
        let p = pod();
        let err = choose_container(&p, "web-1", None).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "a container name must be specified for pod web-1, choose one of: [app envoy] or one of the init containers: [migrate]"
        );
        assert_eq!(
            choose_container(&p, "web-1", Some("migrate")).unwrap(),
            "migrate"
        );
        assert_eq!(
            choose_container(&p, "web-1", Some("db"))
                .unwrap_err()
                .message,
            "container db is not valid for pod web-1"
        );
        let single = json!({"spec": {"containers": [{"name": "app"}]}});
        assert_eq!(choose_container(&single, "x", None).unwrap(), "app");
    }

    #[test]
    fn a_crashlooping_container_serves_its_last_instance() {
        let p = pod();
        assert!(waiting_after_termination(&p, "app"));
        assert!(!waiting_after_termination(&p, "envoy"));
    }

    fn q(pairs: &[(&str, &str)]) -> Result<LogParams, ApiError> {
        let now = DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        LogParams::from_query(&v, now)
    }

    #[test]
    fn plan_follows_the_options() {
        let p = pod();
        let plan_of = |pairs: &[(&str, &str)]| plan(&q(pairs).unwrap(), &p, "app");
        assert_eq!(plan_of(&[("tailLines", "1")]).tail_lines, Some(1));
        assert_eq!(plan_of(&[("tailLines", "-1")]).tail_lines, None);
        assert_eq!(plan_of(&[("limitBytes", "8")]).limit_bytes, Some(8));
        // The previous instance finished two minutes before collection.
        assert!(plan_of(&[("previous", "true"), ("sinceSeconds", "60")]).empty);
        // Booleans as `strconv.ParseBool` reads them (the Python client
        // sends `True`).
        assert!(q(&[("previous", "True")]).unwrap().previous);
        assert!(!q(&[("previous", "no")]).unwrap().previous);
        assert!(!plan_of(&[("previous", "true"), ("sinceSeconds", "600")]).empty);
        assert!(!plan_of(&[("sinceSeconds", "60")]).empty);
    }

    #[test]
    fn numbers_out_of_range_are_400_not_a_panic() {
        for bad in [
            ("limitBytes", "0"),
            ("limitBytes", "-5"),
            ("limitBytes", "99999999999999999999"),
            ("tailLines", "-2"),
            ("tailLines", "1e3"),
            ("tailLines", "١٢"),
            ("sinceSeconds", "0"),
            ("sinceSeconds", "9223372036854775807"),
            ("sinceSeconds", "9223372036854"),
            ("sinceSeconds", "-9223372036854775808"),
            ("sinceTime", "yesterday"),
        ] {
            let err = q(&[bad]).unwrap_err();
            assert_eq!((err.code, err.reason), (400, "BadRequest"), "{bad:?}");
        }
        assert_eq!(
            q(&[("tailLines", "9223372036854775807")])
                .unwrap()
                .tail_lines,
            Some(i64::MAX as u64)
        );
    }
}
