//! kpm-analyze's engine: replays the Kubernetes troubleshooting chain
//! (Pod → Service → Endpoints → Ingress → HPA → Node) over a bundle, offline,
//! and builds the [`kpm_model::Report`].
//!
//! The engine alone: the command line lives with the `kpm-analyze` binary
//! (`src/bin/kpm-analyze/`). Modules are private; callers use [`analyze`]
//! with [`Options`], [`Policy`] for `--config` files, and the rule
//! registry ([`RULES`]).

mod ahead;
mod command;
mod context;
pub mod diff;
mod engine;
mod load;
mod par;
mod policy;
mod rules;
#[cfg(test)]
mod testkit;

pub use engine::{analyze, Options};
pub use policy::{Policy, PolicyError, DEFAULT_FILE as DEFAULT_POLICY_FILE};
pub use rules::registry::{Link, Rule, RuleInfo, RULES};
