//! Builders of Kubernetes objects shaped exactly as a v1.33 API server
//! returns them. Each returns a `serde_json::Value` so scenarios can tweak any
//! field afterwards, the way a real cluster drifts from its manifests.

pub mod admission;
pub mod config;
pub mod event;
pub mod meta;
pub mod metrics;
pub mod network;
pub mod node;
pub mod pod;
pub mod policy;
pub mod workload;
