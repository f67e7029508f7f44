//! The rule layers. Each namespaced layer exposes
//! `pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding>`; cluster-scoped rules
//! expose `run_cluster(ctx: &ClusterCtx<'_>)`. Rules only diagnose: linking
//! consequences to causes happens in the engine once every rule has run, so a
//! rule never needs to know about the others.

use kpm_model::Finding;

use crate::context::{ClusterCtx, NamespaceCtx};

pub mod admission;
pub mod certificates;
pub mod checklist;
pub mod config;
pub mod disruption;
pub mod hpa;
pub mod ingress;
pub mod jobs;
pub mod netpol;
pub mod node;
pub mod pod;
pub mod pod_config;
pub mod pod_crash;
pub mod pod_death;
pub mod pod_deathcause;
pub mod pod_evicted;
pub mod pod_image;
pub mod pod_logerrors;
pub mod pod_mount;
pub mod pod_probe;
pub mod pod_restart;
pub mod pod_sched;
pub mod pod_start;
pub mod registry;
pub mod resources;
pub mod rollout;
pub mod service;

/// Every namespaced rule layer, in the order of the troubleshooting chain.
pub fn run_namespace(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(pod::run(ctx));
    out.extend(service::run(ctx));
    out.extend(ingress::run(ctx));
    out.extend(hpa::run(ctx));
    out.extend(node::run(ctx));
    out.extend(config::run(ctx));
    out.extend(resources::run(ctx));
    out.extend(checklist::run(ctx));
    out.extend(jobs::run(ctx));
    out.extend(rollout::run(ctx));
    out.extend(netpol::run(ctx));
    out.extend(disruption::run(ctx));
    out.extend(certificates::run(ctx));
    out.extend(admission::run(ctx));
    out
}

/// Every cluster-scoped rule layer.
pub fn run_cluster(ctx: &ClusterCtx<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(node::run_cluster(ctx));
    out.extend(checklist::run_cluster(ctx));
    out
}
