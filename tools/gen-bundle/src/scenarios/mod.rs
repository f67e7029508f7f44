//! The `testdata/` scenarios: each breaks one thing in an otherwise healthy
//! cluster and states the findings a correct analyzer must report.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cluster::Cluster;
use crate::expected::{Expected, Finding};

mod admission;
mod capacity;
mod certificates;
mod common;
mod config;
mod demo;
mod disruption;
mod healthy;
mod jobs;
mod logs;
mod netpol;
mod network;
pub mod pairs;
mod platform;
mod pods;
mod repeating;
mod rollouts;
mod start;
mod startup;

/// One scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Directory name under `testdata/`.
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// Builds the cluster and the expected findings.
    pub build: fn() -> (Cluster, Vec<Finding>),
}

/// Every scenario, in the order they are written.
pub fn all() -> Vec<Scenario> {
    let mut v = vec![healthy::SCENARIO, demo::SCENARIO];
    v.extend_from_slice(pods::SCENARIOS);
    v.extend_from_slice(network::SCENARIOS);
    v.extend_from_slice(capacity::SCENARIOS);
    v.extend_from_slice(config::SCENARIOS);
    v.extend_from_slice(startup::SCENARIOS);
    v.extend_from_slice(start::SCENARIOS);
    v.extend_from_slice(platform::SCENARIOS);
    v.extend_from_slice(logs::SCENARIOS);
    v.extend_from_slice(repeating::SCENARIOS);
    v.extend_from_slice(jobs::SCENARIOS);
    v.extend_from_slice(rollouts::SCENARIOS);
    v.extend_from_slice(netpol::SCENARIOS);
    v.extend_from_slice(disruption::SCENARIOS);
    v.extend_from_slice(certificates::SCENARIOS);
    v.extend_from_slice(admission::SCENARIOS);
    v
}

/// Looks a scenario up by name.
pub fn by_name(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

/// Failure writing a scenario.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The bundle could not be written.
    #[error("writing bundle of scenario {scenario}")]
    Bundle {
        /// Scenario name.
        scenario: String,
        /// Cause.
        #[source]
        source: kpm_bundle::BundleError,
    },
    /// The expected file could not be written.
    #[error("writing {path}")]
    Expected {
        /// File path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Writes `out/<name>/` (the bundle) and `out/expected/<name>.json`.
/// Returns the bundle directory.
pub fn write(s: &Scenario, out: &Path) -> Result<PathBuf, WriteError> {
    let (cluster, findings) = (s.build)();
    let dir = out.join(s.name);
    cluster
        .write_dir(&dir)
        .map_err(|source| WriteError::Bundle {
            scenario: s.name.to_string(),
            source,
        })?;
    let expected = Expected {
        scenario: s.name.to_string(),
        description: s.description.to_string(),
        findings,
    };
    let exp_dir = out.join("expected");
    let path = exp_dir.join(format!("{}.json", s.name));
    let mut text = serde_json::to_string_pretty(&expected).map_err(|e| WriteError::Expected {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    text.push('\n');
    fs::create_dir_all(&exp_dir)
        .and_then(|()| fs::write(&path, text))
        .map_err(|source| WriteError::Expected { path, source })?;
    Ok(dir)
}

#[cfg(test)]
mod tests;
