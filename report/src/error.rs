//! Errors of the renderer.
//!
//! Every variant names the template file (or directory) concerned, because the
//! person reading the error is usually a team maintaining a `--templates`
//! override and needs to know which of their files to fix.

use std::path::PathBuf;

/// What went wrong while loading templates or rendering a report.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The `--templates` directory could not be listed.
    #[error("cannot read templates directory {}: {cause}", path.display())]
    TemplatesDir {
        /// The directory given.
        path: PathBuf,
        /// The I/O error, already in the message (not a `source()`).
        cause: std::io::Error,
    },
    /// A template file in the override directory could not be read.
    #[error("cannot read template file {}: {cause}", path.display())]
    ReadTemplate {
        /// The file.
        path: PathBuf,
        /// The I/O error, already in the message (not a `source()`).
        cause: std::io::Error,
    },
    /// A template does not parse, or its `extends`/`import` cannot be resolved.
    #[error("template {template} ({origin}) is invalid: {detail}")]
    Parse {
        /// Template name, e.g. `report.html.tera`.
        template: String,
        /// `embedded` or the override directory.
        origin: String,
        /// Tera's message with its whole cause chain.
        detail: String,
    },
    /// Rendering failed (unknown variable, filter error...).
    #[error("rendering {template} ({origin}) failed: {detail}")]
    Render {
        /// Template name.
        template: String,
        /// `embedded` or the override directory.
        origin: String,
        /// Tera's message with its whole cause chain.
        detail: String,
    },
}

/// Flattens an error and its sources into one line, because tera's top-level
/// message ("Failed to render 'x'") hides the useful part in its sources.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}
