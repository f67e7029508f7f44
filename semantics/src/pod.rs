//! Pod facts read from `status`, once: readiness as the API server's
//! `podutil.IsPodReady` decides it (`pkg/api/v1/pod/util.go`: the `Ready`
//! condition's status is `True`), conditions, phase and container statuses.

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, PodCondition};

/// Whether `(type, status)` condition pairs make a pod ready: the first
/// `Ready` condition is `True` (`GetPodReadyCondition` + `IsPodReady`).
/// Takes pairs so slim deserialisations of a pod can ask too.
pub fn ready_in<'a>(conditions: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    conditions
        .into_iter()
        .find(|(type_, _)| *type_ == "Ready")
        .is_some_and(|(_, status)| status == "True")
}

/// A container spec's `command` then `args`, word by word: what the
/// container runs (the image's entrypoint when both are empty).
pub fn command_words(c: &Container) -> impl Iterator<Item = &str> {
    c.command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .map(String::as_str)
}

/// Status accessors for a [`Pod`].
pub trait PodExt {
    /// `status.phase` (`Pending`, `Running`, `Succeeded`, `Failed`,
    /// `Unknown`), when reported.
    fn phase(&self) -> Option<&str>;
    /// The first `status.conditions[]` entry of `type_`.
    fn condition(&self, type_: &str) -> Option<&PodCondition>;
    /// Whether the pod is ready: its `Ready` condition is `True`.
    fn is_ready(&self) -> bool;
    /// `status.containerStatuses`, empty when not reported.
    fn container_statuses(&self) -> &[ContainerStatus];
    /// `status.initContainerStatuses`, empty when not reported.
    fn init_container_statuses(&self) -> &[ContainerStatus];
}

impl PodExt for Pod {
    fn phase(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.phase.as_deref())
    }

    fn condition(&self, type_: &str) -> Option<&PodCondition> {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == type_))
    }

    fn is_ready(&self) -> bool {
        let conditions = self.status.as_ref().and_then(|s| s.conditions.as_ref());
        ready_in(
            conditions
                .into_iter()
                .flatten()
                .map(|c| (c.type_.as_str(), c.status.as_str())),
        )
    }

    fn container_statuses(&self) -> &[ContainerStatus] {
        self.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_deref())
            .unwrap_or(&[])
    }

    fn init_container_statuses(&self) -> &[ContainerStatus] {
        self.status
            .as_ref()
            .and_then(|s| s.init_container_statuses.as_deref())
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "p"}, "status": status}))
            .unwrap()
    }

    #[test]
    fn ready_only_when_the_ready_condition_is_true() {
        let ready = pod(serde_json::json!({"phase": "Running", "conditions": [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "True"}]}));
        assert!(ready.is_ready());
        assert_eq!(ready.phase(), Some("Running"));
        let unready = pod(serde_json::json!({"conditions": [
            {"type": "ContainersReady", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]}));
        assert!(!unready.is_ready());
        assert_eq!(
            unready.condition("Ready").and_then(|c| c.reason.as_deref()),
            Some("ContainersNotReady")
        );
        assert!(!pod(serde_json::json!({})).is_ready());
        assert!(Pod::default().container_statuses().is_empty());
        assert!(Pod::default().init_container_statuses().is_empty());
    }

    #[test]
    fn command_words_are_the_command_then_the_args() {
        let c: Container = serde_json::from_value(serde_json::json!({
            "name": "app",
            "command": ["/bin/sh", "-c"],
            "args": ["exec app --port=8080"]
        }))
        .unwrap();
        let words: Vec<&str> = command_words(&c).collect();
        assert_eq!(words, ["/bin/sh", "-c", "exec app --port=8080"]);
        let bare: Container = serde_json::from_value(serde_json::json!({"name": "app"})).unwrap();
        assert_eq!(command_words(&bare).count(), 0);
    }

    #[test]
    fn ready_in_reads_the_first_ready_pair() {
        assert!(ready_in([("PodScheduled", "True"), ("Ready", "True")]));
        assert!(!ready_in([("Ready", "Unknown")]));
        assert!(!ready_in([("PodScheduled", "True")]));
    }
}
