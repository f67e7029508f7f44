//! Node facts read once: readiness (as `kubectl get nodes` prints it, see
//! [`node_status`](crate::node_status)), conditions and cordoning.

use k8s_openapi::api::core::v1::{Node, NodeCondition};

/// Status and spec accessors for a [`Node`].
pub trait NodeExt {
    /// Whether the node is `Ready` ([`crate::node_status::is_ready`]).
    fn is_ready(&self) -> bool;
    /// `status.conditions`, empty when not reported.
    fn conditions(&self) -> &[NodeCondition];
    /// Whether `spec.unschedulable` is set (`kubectl cordon`).
    fn is_cordoned(&self) -> bool;
}

impl NodeExt for Node {
    fn is_ready(&self) -> bool {
        crate::node_status::is_ready(self)
    }

    fn conditions(&self) -> &[NodeCondition] {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or(&[])
    }

    fn is_cordoned(&self) -> bool {
        self.spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_readiness_conditions_and_cordon() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"},
            "spec": {"unschedulable": true},
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        assert!(node.is_ready());
        assert!(node.is_cordoned());
        assert_eq!(node.conditions().len(), 2);
        assert!(!Node::default().is_ready());
        assert!(!Node::default().is_cordoned());
        assert!(Node::default().conditions().is_empty());
    }
}
