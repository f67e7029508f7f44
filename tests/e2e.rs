//! kpm's end-to-end tests, one binary: each module drives the built
//! binaries (`kpm-analyze`, `kpm-collect`), the in-process snapshot server
//! and the real kubectl over the `testdata/` scenarios and the shared
//! real-world corpus. Run one area with a filter on its module, e.g.
//! `cargo test -p kpm-e2e --test e2e serve_kubectl`.

mod support;

mod analyze_browser;
mod analyze_cli;
mod analyze_config;
mod analyze_errors;
mod analyze_verdict;
mod collect_failures;
mod collect_options;
mod collect_plugin;
mod collect_rbac;
mod collect_redaction;
mod collect_roundtrip;
mod collect_version;
mod diff_pairs;
mod foreign_formats;
mod hostile_bundle;
mod hostile_render;
mod msrv;
mod real_corpus;
mod scale_precision;
mod serve_discovery;
mod serve_gaps;
mod serve_hostile;
mod serve_kubectl;
mod serve_python;
mod serve_scenarios;
mod serve_surface;
mod serve_sweep;
mod serve_watch;
