//! Which container logs to fetch, and how to bound them.
//!
//! `kubectl logs` semantics: the current log exists once a container instance
//! has run (running, terminated, or a previous instance exists — a
//! CrashLoopBackOff container shows the last run's log); `--previous` exists
//! when the container restarted. Containers that never started (image pull
//! errors, pending pods) have no log and are not requested, so they do not
//! show up as failed steps.

use serde_json::Value;

/// One log to fetch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogTarget {
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
    /// The previous instance's log (`--previous`).
    pub previous: bool,
}

/// The logs a pod object offers, init containers first.
pub fn targets(pod: &Value) -> Vec<LogTarget> {
    let Some(name) = pod.pointer("/metadata/name").and_then(Value::as_str) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (spec_list, status_list) in [
        ("initContainers", "initContainerStatuses"),
        ("containers", "containerStatuses"),
    ] {
        let Some(containers) = pod
            .pointer(&format!("/spec/{spec_list}"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        let statuses = pod
            .pointer(&format!("/status/{status_list}"))
            .and_then(Value::as_array);
        for c in containers {
            let Some(cname) = c.get("name").and_then(Value::as_str) else {
                continue;
            };
            let status = statuses.and_then(|s| {
                s.iter()
                    .find(|st| st.get("name").and_then(Value::as_str) == Some(cname))
            });
            let Some(status) = status else { continue };
            let restarts = status
                .get("restartCount")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let last_terminated = status
                .pointer("/lastState/terminated")
                .is_some_and(Value::is_object);
            let ran = status
                .pointer("/state/running")
                .is_some_and(Value::is_object)
                || status
                    .pointer("/state/terminated")
                    .is_some_and(Value::is_object);
            let previous = restarts > 0 || last_terminated;
            if ran || previous {
                out.push(LogTarget {
                    pod: name.to_string(),
                    container: cname.to_string(),
                    previous: false,
                });
            }
            if previous {
                out.push(LogTarget {
                    pod: name.to_string(),
                    container: cname.to_string(),
                    previous: true,
                });
            }
        }
    }
    out
}

/// Percent-encodes a path segment or query value. Kubernetes names are
/// DNS-safe already; this guards against anything else in a hostile answer.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The log URL, with the limits applied server side (`tailLines`,
/// `limitBytes`, and `sinceSeconds` for `--since`).
pub fn url(namespace: &str, t: &LogTarget, lines: u64, bytes: u64, since: Option<u64>) -> String {
    let mut u = format!(
        "/api/v1/namespaces/{}/pods/{}/log?container={}&tailLines={lines}&limitBytes={bytes}",
        encode(namespace),
        encode(&t.pod),
        encode(&t.container)
    );
    if t.previous {
        u.push_str("&previous=true");
    }
    if let Some(secs) = since {
        u.push_str(&format!("&sinceSeconds={secs}"));
    }
    u
}

/// Applies the limits again client side (a proxy or an old kubelet may not
/// honour them): the last `lines` lines, then at most `bytes` bytes, cut at
/// a line start so no partial line leads the file. Invalid UTF-8 is replaced,
/// logs are text.
pub fn bound(raw: &[u8], lines: u64, bytes: u64) -> String {
    let mut start = 0;
    let mut seen = 0u64;
    // Walk back over newlines; a trailing newline does not start a line.
    let body = raw.strip_suffix(b"\n").unwrap_or(raw);
    for (i, b) in body.iter().enumerate().rev() {
        if *b == b'\n' {
            seen += 1;
            if seen == lines {
                start = i + 1;
                break;
            }
        }
    }
    let mut slice = raw.get(start..).unwrap_or_default();
    let limit = usize::try_from(bytes).unwrap_or(usize::MAX);
    if slice.len() > limit {
        let cut = slice.len() - limit;
        let tail = slice.get(cut..).unwrap_or_default();
        // Start at the first full line inside the budget when there is one.
        slice = match tail.iter().position(|b| *b == b'\n') {
            Some(nl) if nl + 1 < tail.len() => tail.get(nl + 1..).unwrap_or_default(),
            _ => tail,
        };
    }
    String::from_utf8_lossy(slice).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A pod as the API server returns it for a container in CrashLoopBackOff
    /// after a completed init container, plus a sidecar that never pulled.
    fn crashlooping_pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "api-7d9c6b8f5-x2x9k", "namespace": "shop"},
            "spec": {
                "initContainers": [{"name": "migrate", "image": "ghcr.io/acme/migrate:1.4.2"}],
                "containers": [
                    {"name": "api", "image": "ghcr.io/acme/api:1.4.2"},
                    {"name": "proxy", "image": "ghcr.io/acme/proxy:does-not-exist"}
                ]
            },
            "status": {
                "phase": "Running",
                "initContainerStatuses": [{
                    "name": "migrate", "ready": true, "restartCount": 0, "image": "ghcr.io/acme/migrate:1.4.2",
                    "imageID": "", "containerID": "containerd://aa",
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                        "startedAt": "2026-11-26T04:00:00Z", "finishedAt": "2026-11-26T04:00:05Z", "containerID": "containerd://aa"}},
                    "lastState": {}
                }],
                "containerStatuses": [
                    {"name": "api", "ready": false, "restartCount": 7, "image": "ghcr.io/acme/api:1.4.2", "imageID": "",
                     "started": false,
                     "state": {"waiting": {"reason": "CrashLoopBackOff",
                        "message": "back-off 5m0s restarting failed container=api pod=api-7d9c6b8f5-x2x9k_shop(1234)"}},
                     "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                        "startedAt": "2026-11-26T04:40:00Z", "finishedAt": "2026-11-26T04:40:02Z", "containerID": "containerd://bb"}}},
                    {"name": "proxy", "ready": false, "restartCount": 0, "image": "ghcr.io/acme/proxy:does-not-exist", "imageID": "",
                     "started": false,
                     "state": {"waiting": {"reason": "ImagePullBackOff",
                        "message": "Back-off pulling image \"ghcr.io/acme/proxy:does-not-exist\""}},
                     "lastState": {}}
                ]
            }
        })
    }

    #[test]
    fn crashloop_gets_current_and_previous_never_started_gets_none() {
        let t = targets(&crashlooping_pod());
        let got: Vec<(&str, bool)> = t
            .iter()
            .map(|t| (t.container.as_str(), t.previous))
            .collect();
        assert_eq!(got, [("migrate", false), ("api", false), ("api", true)]);
        assert!(t.iter().all(|t| t.pod == "api-7d9c6b8f5-x2x9k"));
    }

    #[test]
    fn pending_pod_has_no_logs() {
        let pod = json!({"metadata": {"name": "web-0"}, "spec": {"containers": [{"name": "web"}]},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu."}]}});
        assert!(targets(&pod).is_empty());
    }

    #[test]
    fn urls_carry_limits() {
        let t = LogTarget {
            pod: "api-1".into(),
            container: "api".into(),
            previous: true,
        };
        assert_eq!(
            url("shop", &t, 500, 262144, None),
            "/api/v1/namespaces/shop/pods/api-1/log?container=api&tailLines=500&limitBytes=262144&previous=true"
        );
        assert!(
            url("shop", &t, 500, 262144, Some(1800)).ends_with("&previous=true&sinceSeconds=1800")
        );
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn bound_keeps_last_lines_then_bytes() {
        let raw = b"line1\nline2\nline3\nline4\n";
        assert_eq!(bound(raw, 2, 1000), "line3\nline4\n");
        assert_eq!(bound(raw, 10, 1000), "line1\nline2\nline3\nline4\n");
        // The last 14 bytes are "2\nline3\nline4\n"; the partial line is dropped.
        assert_eq!(bound(raw, 10, 14), "line3\nline4\n");
        // A single over-long line is cut to its last bytes.
        assert_eq!(bound(b"no newline at all", 1, 4), " all");
    }
}
