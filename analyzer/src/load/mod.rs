//! Reading a bundle into [`ClusterData`] and, one at a time, [`NamespaceData`].
//!
//! Nothing here fails the run: a missing or damaged file becomes a
//! [`Damage`] entry and an [`Unavailable`] mark, so the engine can say which
//! checks it could not run instead of passing them silently.
//!
//! - [`read`]: one kind's list file (or an optional file) into values, every
//!   failure turned into damage or an unavailable mark;
//! - [`cluster`]: the cluster-scoped files into [`ClusterData`];
//! - [`namespace`]: one namespace's files into [`NamespaceData`];
//! - [`infra`]: the cheap pass over every pods file that finds DNS, metrics,
//!   autoscaler and ingress controller pods, recognised by [`role`];
//! - [`webhooks`]: the admission webhooks' backend Services and Endpoints.
//!
//! [`ClusterData`]: crate::context::ClusterData
//! [`NamespaceData`]: crate::context::NamespaceData
//! [`Damage`]: kpm_model::Damage
//! [`Unavailable`]: crate::context::Unavailable

mod cluster;
mod infra;
mod namespace;
mod read;
mod role;
mod webhooks;

pub use cluster::load_cluster;
pub use namespace::load_namespace;
