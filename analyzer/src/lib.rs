//! kpm-analyze's engine: replays the Kubernetes troubleshooting chain
//! (Pod → Service → Endpoints → Ingress → HPA → Node) over a bundle, offline,
//! and builds the [`kpm_model::Report`].
//!
//! The engine alone: the command line lives with the `kpm-analyze` binary
//! (`src/bin/kpm-analyze/`). Modules are private; callers use [`analyze`]
//! with [`Options`], and [`Policy`] for `--config` files.

mod command;
mod context;
mod engine;
mod load;
mod par;
mod policy;
mod rules;

pub use engine::{analyze, Options};
pub use policy::{Policy, PolicyError, DEFAULT_FILE as DEFAULT_POLICY_FILE};
