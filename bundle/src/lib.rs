//! The kpm bundle format, version 1.
//!
//! A bundle is a zip (or an unpacked directory with the same layout) holding
//! Kubernetes `List` JSON exactly as the API server returns it, container logs
//! as text, metrics, derived data and a `manifest.json` that records what was
//! collected, what failed and a SHA-256 of every file. The format is specified
//! in `docs/bundle-format.md`; this crate is its only implementation, shared by
//! the collector (writer) and the analyzer and `serve` (reader).

pub mod budget;
pub mod error;
mod file_index;
pub mod foreign;
pub mod layout;
pub mod lean;
pub mod lenient_list;
pub mod lines;
pub mod manifest;
mod manifest_read;
pub mod reader;
pub mod safe_write;
pub mod secret;
mod shared_file;
mod source;
pub mod writer;

pub use budget::{Budget, Budgets};
pub use error::{BundleError, Refusal, Result};
pub use layout::{ResourceKind, Scope, FORMAT_VERSION};
pub use lenient_list::{BadItem, LenientList};
pub use manifest::{Manifest, Outcome, Step};
pub use reader::{Bundle, List};
pub use writer::{BundleWriter, ListWriter};
