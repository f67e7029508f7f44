//! `derived/node-allocation.json`: what `kubectl describe node` would show
//! under "Allocated resources", computed by `kpm_semantics::allocation` as
//! the collector does, so generated bundles match collected ones.

use k8s_openapi::api::core::v1::{Node, Pod};
use kpm_semantics::allocation::{AllocationBuilder, NodeAllocationFile};
use serde_json::Value;

use crate::ids;

/// Incremental allocation over generated objects (JSON values), for the
/// streaming scale generator: feed nodes and pods, then finish.
#[derive(Debug, Default)]
pub struct Allocation {
    builder: AllocationBuilder,
    skipped: u64,
}

impl Allocation {
    /// An empty computation with ages as seen at collection end.
    pub fn new() -> Allocation {
        Allocation {
            builder: AllocationBuilder::with_now(ids::collection_finished()),
            skipped: 0,
        }
    }

    /// Adds a node object.
    pub fn add_node(&mut self, node: &Value) {
        match Node::deserialize_value(node) {
            Some(n) => self.builder.add_node(&n),
            None => self.skipped += 1,
        }
    }

    /// Adds a pod object (counted only when bound and not terminated).
    pub fn add_pod(&mut self, pod: &Value) {
        match Pod::deserialize_value(pod) {
            Some(p) => {
                self.builder.add_pod(&p);
            }
            None => self.skipped += 1,
        }
    }

    /// Objects that did not parse as their k8s-openapi type (a generator
    /// bug; tests assert it stays 0).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The finished document.
    pub fn finish(self) -> NodeAllocationFile {
        self.builder.finish()
    }
}

/// Parsing a generated JSON object into its typed form.
trait FromValue: Sized {
    fn deserialize_value(v: &Value) -> Option<Self>;
}

impl<T: serde::de::DeserializeOwned> FromValue for T {
    fn deserialize_value(v: &Value) -> Option<T> {
        T::deserialize(v).ok()
    }
}

/// The node allocation document for these nodes and pods.
pub fn derive(nodes: &[Value], pods: &[Value]) -> NodeAllocationFile {
    let mut a = Allocation::new();
    nodes.iter().for_each(|n| a.add_node(n));
    pods.iter().for_each(|p| a.add_pod(p));
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{self, Baseline};

    #[test]
    fn baseline_allocation_counts_running_pods_per_node() {
        let c = baseline::world(&Baseline::default()).finish();
        let nodes = c.cluster_list("nodes").to_vec();
        let pods: Vec<Value> = c.all_pods().cloned().collect();
        let mut a = Allocation::new();
        nodes.iter().for_each(|n| a.add_node(n));
        pods.iter().for_each(|p| a.add_pod(p));
        assert_eq!(a.skipped(), 0);
        let file = a.finish();
        assert_eq!(file.nodes.len(), 3);
        let counted: u32 = file.nodes.iter().map(|n| n.non_terminated_pods).sum();
        assert_eq!(counted as usize, pods.len());
        for (name, requested, _) in crate::world::cpu_by_node(&c) {
            let n = file.node(&name).unwrap();
            assert_eq!(n.requests["cpu"], format!("{requested}m"), "{name}");
        }
    }
}
