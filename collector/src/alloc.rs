//! Feeding node allocation (`derived/node-allocation.json`).
//!
//! Allocation must count *every* non-terminated pod bound to a node, whatever
//! the namespace scope, exactly as `kubectl describe node` does. Pods arrive
//! page by page from several tasks and go straight into
//! [`kpm_semantics::allocation::AllocationBuilder`], which keeps only each
//! counted pod's requests and limits, so memory stays far below the lists.

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde::Deserialize;
use serde_json::Value;

use kpm_bundle::Outcome;
use kpm_semantics::allocation::AllocationBuilder;

use crate::outcome::{Failure, FailureClass};

/// Collected inputs of the node allocation.
#[derive(Debug)]
pub struct AllocFeed {
    builder: Option<AllocationBuilder>,
    nodes: u64,
    pods: u64,
    unreadable: u64,
    missing_namespaces: Vec<String>,
    pods_failure: Option<Failure>,
    nodes_failure: Option<Failure>,
}

impl AllocFeed {
    /// A feed whose pod ages are computed at `now` (collection time).
    pub fn new(now: DateTime<Utc>) -> AllocFeed {
        AllocFeed {
            builder: Some(AllocationBuilder::with_now(now)),
            nodes: 0,
            pods: 0,
            unreadable: 0,
            missing_namespaces: Vec::new(),
            pods_failure: None,
            nodes_failure: None,
        }
    }

    /// A node from the nodes list.
    pub fn node(&mut self, node: &Value) {
        match (Node::deserialize(node), self.builder.as_mut()) {
            (Ok(n), Some(b)) => {
                b.add_node(&n);
                self.nodes += 1;
            }
            (Err(_), _) => self.unreadable += 1,
            (_, None) => {}
        }
    }

    /// A pod, from any list; the builder ignores terminated and unscheduled
    /// pods.
    pub fn pod(&mut self, pod: &Value) {
        match (Pod::deserialize(pod), self.builder.as_mut()) {
            (Ok(p), Some(b)) => {
                if b.add_pod(&p) {
                    self.pods += 1;
                }
            }
            (Err(_), _) => self.unreadable += 1,
            (_, None) => {}
        }
    }

    /// The pods of `namespace` could not be read: allocation undercounts.
    pub fn missing_namespace(&mut self, namespace: &str) {
        self.missing_namespaces.push(namespace.to_string());
    }

    /// The cluster-wide pod read failed.
    pub fn pods_failed(&mut self, f: &Failure) {
        self.pods_failure = Some(f.clone());
    }

    /// The nodes list failed: there is nothing to allocate against.
    pub fn nodes_failed(&mut self, f: &Failure) {
        self.nodes_failure = Some(f.clone());
    }

    /// Computes the allocation file: `(content, nodes, step message)`. The
    /// message says when the numbers undercount.
    pub fn build(&mut self) -> Result<(Value, u64, Option<String>), Failure> {
        if let Some(f) = &self.nodes_failure {
            return Err(Failure {
                message: format!("nodes could not be listed: {}", f.message),
                ..f.clone()
            });
        }
        if let Some(f) = &self.pods_failure {
            return Err(Failure {
                message: format!("pods could not be listed cluster-wide: {}", f.message),
                ..f.clone()
            });
        }
        let Some(builder) = self.builder.take() else {
            return Err(internal("allocation already written"));
        };
        let file = builder.finish();
        let value = serde_json::to_value(&file)
            .map_err(|e| internal(&format!("cannot serialize allocation: {e}")))?;
        let mut notes = vec![format!(
            "{} nodes, {} non-terminated pods counted",
            self.nodes, self.pods
        )];
        if !self.missing_namespaces.is_empty() {
            notes.push(format!(
                "undercounts: pods of {} could not be read",
                self.missing_namespaces.join(", ")
            ));
        }
        if self.unreadable > 0 {
            notes.push(format!(
                "{} objects could not be parsed and were skipped",
                self.unreadable
            ));
        }
        Ok((value, self.nodes, Some(notes.join("; "))))
    }
}

fn internal(message: &str) -> Failure {
    Failure {
        outcome: Outcome::Error,
        http_status: None,
        message: message.to_string(),
        class: FailureClass::Step,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node() -> Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ip-10-0-1-23.eu-west-1.compute.internal"},
            "status": {"capacity": {"cpu": "4", "memory": "16093584Ki", "pods": "58", "ephemeral-storage": "83873772Ki"},
                       "allocatable": {"cpu": "3920m", "memory": "15076752Ki", "pods": "58", "ephemeral-storage": "76224326324"}}})
    }

    fn pod(name: &str, phase: &str, cpu: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", "creationTimestamp": "2026-11-26T04:00:00Z"},
            "spec": {"nodeName": "ip-10-0-1-23.eu-west-1.compute.internal",
                "containers": [{"name": "app", "image": "nginx:1.27",
                    "resources": {"requests": {"cpu": cpu, "memory": "256Mi"}, "limits": {"memory": "512Mi"}}}]},
            "status": {"phase": phase}})
    }

    #[test]
    fn counts_non_terminated_pods_on_nodes() {
        let now = DateTime::parse_from_rfc3339("2026-11-26T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut feed = AllocFeed::new(now);
        feed.node(&node());
        feed.pod(&pod("web-1", "Running", "500m"));
        feed.pod(&pod("web-2", "Pending", "250m"));
        feed.pod(&pod("job-1", "Succeeded", "1"));
        let (value, nodes, message) = feed.build().unwrap();
        assert_eq!(nodes, 1);
        assert_eq!(
            message.as_deref(),
            Some("1 nodes, 2 non-terminated pods counted")
        );
        let n = &value["nodes"][0];
        assert_eq!(n["node"], "ip-10-0-1-23.eu-west-1.compute.internal");
        assert_eq!(n["requests"]["cpu"], "750m");
        assert_eq!(n["nonTerminatedPods"], 2);
    }

    #[test]
    fn failures_and_gaps_are_reported() {
        let mut feed = AllocFeed::new(Utc::now());
        feed.node(&node());
        feed.missing_namespace("payments");
        let (_, _, message) = feed.build().unwrap();
        assert!(message
            .unwrap_or_default()
            .contains("pods of payments could not be read"));
        let mut feed = AllocFeed::new(Utc::now());
        feed.nodes_failed(&Failure {
            outcome: Outcome::Forbidden,
            http_status: Some(403),
            message: "nodes is forbidden".into(),
            class: FailureClass::Step,
        });
        let err = feed.build().unwrap_err();
        assert_eq!(err.outcome, Outcome::Forbidden);
    }
}
