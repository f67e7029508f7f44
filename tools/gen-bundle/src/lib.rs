//! kpm-gen-bundle: writes realistic kpm bundles.
//!
//! Two products: the `testdata/` scenario bundles (one failure each, plus a
//! healthy cluster and a combined demo) with the findings a correct analyzer
//! must report, and large generated clusters streamed to a zip for
//! benchmarks. Everything is deterministic: the same command writes the same
//! bytes.

pub mod allocation;
pub mod app;
pub mod background;
pub mod baseline;
pub mod builders;
pub mod cluster;
pub mod expected;
pub mod ids;
pub mod revisions;
pub mod scale;
pub mod scale_apps;
pub mod scale_batch;
pub mod scale_daemons;
pub mod scale_injected;
pub mod scale_perturb;
pub mod scale_plan;
pub mod scale_policy;
pub mod scale_stateful;
pub mod scenarios;
pub mod stateful;
pub mod world;
