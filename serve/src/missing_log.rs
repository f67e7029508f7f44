//! The answer for a container log the bundle does not hold.
//!
//! A live kubelet answers a missing log with a message about the
//! container's state ("is waiting to start", "previous terminated container
//! … not found"). A snapshot lacks a log for more reasons: the collector was
//! forbidden, its request failed or timed out, `--max-bundle-size` left no
//! room, the bundle reader refused the entry, or logs were not collected at
//! all. Answering those with a state message would tell a post-mortem that
//! the container had no log, so a state message is given only when the
//! pod's recorded state proves the kubelet had none; every other case names
//! the collection outcome from the manifest.

use kpm_bundle::{Bundle, Outcome};
use serde_json::Value;

use crate::errors::{ApiError, Gr};

/// One log request the bundle cannot answer.
pub struct MissingLog<'a> {
    /// The pod as stored.
    pub pod: &'a Value,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its name.
    pub pod_name: &'a str,
    /// The container asked for.
    pub container: &'a str,
    /// Whether the previous instance's log was asked for.
    pub previous: bool,
    /// The bundle path the log would have.
    pub path: &'a str,
}

impl MissingLog<'_> {
    /// The API error for it (see the module docs for the order).
    pub fn error(&self, bundle: &Bundle) -> ApiError {
        let what = if self.previous {
            "logs/previous"
        } else {
            "logs"
        };
        let object = format!("{}/{}", self.pod_name, self.container);
        // Indexed lookup: a collected manifest holds a step per container
        // log, and this runs for every log request the bundle cannot answer.
        let step = bundle.failed_step(what, Some(self.namespace), Some(&object));
        if step.is_some_and(|s| s.outcome == Outcome::Forbidden) {
            return ApiError::forbidden(
                Gr {
                    group: "",
                    resource: "pods/log",
                },
                "get",
                Some(self.pod_name),
                Some(self.namespace),
            );
        }
        if let Some(reason) = bundle.refusal(self.path) {
            return ApiError::internal(format!("{}: not read: {reason}", self.path));
        }
        if let Some(e) = self.kubelet_error() {
            return e;
        }
        let log = self.log_words();
        match step {
            Some(s) => {
                let said = s.message.as_deref().map_or_else(
                    || format!("outcome {}", s.outcome.as_str()),
                    |m| m.chars().take(300).collect(),
                );
                let text = format!("{log} could not be collected ({said})");
                match s.outcome {
                    Outcome::Timeout => ApiError::timeout(text),
                    Outcome::NotFound => ApiError {
                        code: 404,
                        reason: "NotFound",
                        message: format!(
                            "{log} was not collected: the kubelet answered not found during collection ({said})"
                        ),
                        details: None,
                    },
                    _ => ApiError::internal(text),
                }
            }
            None => ApiError::not_collected(&log),
        }
    }

    /// `the log of container "c" in pod "p"` (or `the previous log …`).
    fn log_words(&self) -> String {
        let which = if self.previous {
            "the previous log"
        } else {
            "the log"
        };
        format!(
            "{which} of container \"{}\" in pod \"{}\"",
            self.container, self.pod_name
        )
    }

    /// The kubelet's answer, when the pod's recorded state proves it had no
    /// such log: the pod is not scheduled, the container never terminated
    /// (for a previous log), or it is waiting to start without having run.
    fn kubelet_error(&self) -> Option<ApiError> {
        let (pod, name, container) = (self.pod, self.pod_name, self.container);
        if pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
            && pod.get("spec").is_some()
        {
            return Some(ApiError::bad_request(format!(
                "pod {name} does not have a host assigned"
            )));
        }
        let status = container_status(pod, container)?;
        let terminated_before = status
            .pointer("/lastState/terminated")
            .is_some_and(|t| !t.is_null());
        if terminated_before {
            return None;
        }
        if self.previous {
            return Some(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        let reason = status
            .pointer("/state/waiting")
            .filter(|w| !w.is_null())
            .map(|w| w.get("reason").and_then(Value::as_str).unwrap_or(""))?;
        Some(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
        )))
    }
}

/// The status of container `name` (regular, init or ephemeral).
fn container_status<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|k| pod.pointer(&format!("/status/{k}"))?.as_array())
    .flatten()
    .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "metadata": {"name": "web-1", "namespace": "shop"},
            "spec": {"nodeName": "worker-1", "containers": [{"name": "app"}, {"name": "envoy"}, {"name": "db"}]},
            "status": {"containerStatuses": [
                {"name": "app", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}},
                {"name": "envoy", "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}},
                {"name": "db", "restartCount": 0, "state": {"running": {}}}
            ]}
        })
    }

    fn missing<'a>(pod: &'a Value, container: &'a str, previous: bool) -> MissingLog<'a> {
        MissingLog {
            pod,
            namespace: "shop",
            pod_name: "web-1",
            container,
            previous,
            path: "logs/shop/web-1/x.log",
        }
    }

    #[test]
    fn kubelet_wording_only_when_the_state_proves_no_log() {
        let p = pod();
        let e = missing(&p, "envoy", true).kubelet_error().unwrap();
        assert_eq!(
            e.message,
            "previous terminated container \"envoy\" in pod \"web-1\" not found"
        );
        let e = missing(&p, "envoy", false).kubelet_error().unwrap();
        assert_eq!(
            e.message,
            "container \"envoy\" in pod \"web-1\" is waiting to start: ContainerCreating"
        );
        // Terminated before: both of its logs existed on the node.
        assert!(missing(&p, "app", true).kubelet_error().is_none());
        assert!(missing(&p, "app", false).kubelet_error().is_none());
        // Running: it has a log, the snapshot does not.
        assert!(missing(&p, "db", false).kubelet_error().is_none());
        // Unknown container state: nothing is claimed.
        assert!(missing(&p, "other", true).kubelet_error().is_none());
        let unscheduled = json!({"spec": {"containers": [{"name": "app"}]}});
        assert_eq!(
            missing(&unscheduled, "app", false)
                .kubelet_error()
                .unwrap()
                .message,
            "pod web-1 does not have a host assigned"
        );
    }

    #[test]
    fn words_name_the_log() {
        let p = pod();
        assert_eq!(
            missing(&p, "app", true).log_words(),
            "the previous log of container \"app\" in pod \"web-1\""
        );
    }
}
