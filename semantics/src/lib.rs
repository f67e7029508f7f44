//! Kubernetes semantics shared by kpm.
//!
//! Every module mirrors one piece of Kubernetes or kubectl source so that the
//! analyzer, the report and `kpm-analyze serve` show exactly what `kubectl`
//! would have shown against the live cluster at collection time:
//!
//! - [`quantity`]: `apimachinery/pkg/api/resource` Quantity parsing and printing.
//! - [`selector`]: `apimachinery/pkg/labels` selectors and `metav1.LabelSelector`.
//! - [`pod_status`]: the `kubectl get pods` row (`printPod` in the API server).
//! - [`node_status`]: the `kubectl get nodes` row (`printNode`).
//! - [`duration`]: `apimachinery/pkg/util/duration.HumanDuration` and ages.
//! - [`resources`]: kubectl's per-pod requests/limits (`PodRequestsAndLimits`).
//! - [`allocation`]: `kubectl describe node` "Allocated resources" and the
//!   `derived/node-allocation.json` bundle file.
//! - [`events`]: the timestamps and counts kubectl shows for core/v1 Events.
//! - [`names`]: object name validation (`IsDNS1123Label`, `IsDNS1123Subdomain`).
//! - [`cron`]: CronJob schedules as robfig/cron v3's `ParseStandard` reads them.
//! - [`time`]: conversion from k8s-openapi timestamps to `chrono`.
//! - [`object`], [`pod`], [`node`]: one accessor per Kubernetes fact
//!   (`ObjectExt::name_any`, `PodExt::is_ready`, `NodeExt::is_cordoned`...),
//!   as kube-rs's `ResourceExt` does, so the analyzer never re-spells them.
//! - [`metrics`]: the `metrics.k8s.io` `NodeMetrics` / `PodMetrics` objects.

pub mod allocation;
pub mod cron;
pub mod duration;
pub mod events;
pub mod metrics;
pub mod names;
pub mod node;
pub mod node_status;
pub mod object;
pub mod pod;
pub mod pod_status;
pub mod quantity;
pub mod resources;
pub mod selector;
pub mod time;

pub use metrics::{ContainerMetrics, NodeMetrics, PodMetrics};
pub use node::NodeExt;
pub use object::ObjectExt;
pub use pod::PodExt;
pub use quantity::Quantity;
