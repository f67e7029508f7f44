//! The kpm report model.
//!
//! `kpm-analyze` builds one [`Report`] from a bundle; the JSON output is this
//! model serialized, and the HTML and Markdown renderers read exactly this
//! model. Its JSON shape is a versioned contract documented in
//! `docs/report-schema.md`: add fields freely, but renaming or removing one
//! bumps [`SCHEMA_VERSION`].

mod application;
mod collection;
pub mod diff;
mod finding;
mod nodes;
mod object;
mod report;
mod severity;
mod timeline;

pub use application::{Application, ChainLink, LinkState};
pub use collection::{BundleInfo, CollectionSummary, CoverageGap, Damage, FailedStep};
pub use finding::{Evidence, Finding, Incident, LogLine, NextStep};
pub use nodes::{NodeSummary, PodUsage, ResourceAllocation};
pub use object::ObjectRef;
pub use report::{MutedEntry, RemarkGroup, Report, Summary, Verdict};
pub use severity::{Layer, Severity};
pub use timeline::TimelineEntry;

/// Version of the report JSON schema.
pub const SCHEMA_VERSION: u32 = 1;
