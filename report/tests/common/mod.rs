//! The reports the tests render: what `kpm-analyze` really produced for a
//! few bundles (`testdata/reports/<name>.json`, kept current by
//! kpm-analyzer's `report_fixtures` test, which fails when they drift), and
//! reports derived from them (`derived`: hostile strings, a huge cluster).
//! This crate reads the JSON; it never depends on the analyzer.

// Each test binary (and examples/render_huge.rs) uses a different subset.
#![allow(dead_code)]

use std::path::Path;

use kpm_model::Report;

mod derived;
#[allow(unused_imports)]
pub use derived::{hostile, huge};

/// `testdata/reports/<name>.json` as a report; panics naming the file when
/// it is missing or no longer a report.
fn stored(name: &str) -> Report {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../testdata/reports/{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not a kpm report: {e}", path.display()))
}

/// `testdata/crashloop`: two checkout pods crash-loop on a missing
/// environment variable, so Service checkout has no ready endpoints.
pub fn crashloop() -> Report {
    stored("crashloop")
}

/// `testdata/healthy`: nothing found.
pub fn healthy() -> Report {
    stored("healthy")
}

/// `testdata/demo`: three incidents across applications.
pub fn demo() -> Report {
    stored("demo")
}

/// A real AKS cluster (`../shared/corpus/kpm/aks-tunnelfront-down`) whose
/// collection failed ten steps, marked as interrupted: the `partial` flag
/// the collector sets when stopped early, the only field changed.
pub fn partial_bundle() -> Report {
    let mut r = stored("aks-tunnelfront-down");
    r.bundle.partial = true;
    r
}
