//! kpm-analyze's engine: replays the Kubernetes troubleshooting chain
//! (Pod → Service → Endpoints → Ingress → HPA → Node) over a bundle, offline,
//! and builds the [`kpm_model::Report`].

pub mod cli;
pub mod command;
pub mod context;
pub mod convert;
pub mod engine;
pub mod exit_codes;
pub mod load;
pub mod par;
pub mod policy;
pub mod rules;
#[cfg(test)]
pub(crate) mod testkit;

pub use engine::{analyze, Options};
