//! Template loading: embedded defaults, optionally overridden from a
//! directory.
//!
//! The defaults are compiled in with `include_str!` so one `kpm-analyze`
//! binary renders reports air-gapped. `--templates DIR` loads the same file
//! names from `DIR` (a team's branding); a file the directory lacks falls
//! back to the embedded one, so a team can override `report.html.tera` alone.
//! Extra `*.tera` files in `DIR` are loaded too, for the team's own partials.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tera::Tera;

use crate::error::{chain, RenderError};
use crate::escape::{self, markdown_inline, FenceFilter};

/// Entry template of the HTML report.
pub const HTML_TEMPLATE: &str = "report.html.tera";
/// Entry template of the Markdown report.
pub const MARKDOWN_TEMPLATE: &str = "report.md.tera";

/// The embedded default templates, by the name used in `include`.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        HTML_TEMPLATE,
        include_str!("../../templates/report.html.tera"),
    ),
    (
        "partials/style.html.tera",
        include_str!("../../templates/partials/style.html.tera"),
    ),
    (
        "partials/script.html.tera",
        include_str!("../../templates/partials/script.html.tera"),
    ),
    (
        "partials/chain.html.tera",
        include_str!("../../templates/partials/chain.html.tera"),
    ),
    (
        "partials/finding.html.tera",
        include_str!("../../templates/partials/finding.html.tera"),
    ),
    (
        "partials/evidence.html.tera",
        include_str!("../../templates/partials/evidence.html.tera"),
    ),
    (
        "partials/nodes.html.tera",
        include_str!("../../templates/partials/nodes.html.tera"),
    ),
    (
        MARKDOWN_TEMPLATE,
        include_str!("../../templates/report.md.tera"),
    ),
    (
        "partials/finding.md.tera",
        include_str!("../../templates/partials/finding.md.tera"),
    ),
];

/// How deep `--templates DIR` is searched; partials live one level down.
const MAX_DEPTH: usize = 4;

/// One template's source text and where it came from.
struct Source {
    text: String,
    origin: String,
}

/// The two tera instances (HTML and Markdown escape differently) and where
/// each template came from, for error messages.
pub struct Engines {
    /// Autoescapes `*.html.tera` with [`escape::html`] (HTML escaping, control
    /// characters shown visibly).
    pub html: Tera,
    /// Autoescapes `*.md.tera` with [`markdown_inline`].
    pub markdown: Tera,
    origins: BTreeMap<String, String>,
}

impl Engines {
    /// `embedded` or the file a template was read from.
    pub fn origin(&self, template: &str) -> String {
        self.origins
            .get(template)
            .cloned()
            .unwrap_or_else(|| "embedded".to_string())
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut BTreeMap<String, Source>,
) -> Result<(), RenderError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RenderError::TemplatesDir {
        path: dir.to_path_buf(),
        cause: source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| RenderError::TemplatesDir {
            path: dir.to_path_buf(),
            cause: source,
        })?;
        let path = entry.path();
        if path.is_dir() {
            if depth < MAX_DEPTH {
                walk(root, &path, depth + 1, out)?;
            }
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("tera") {
            continue;
        }
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        // Template names always use `/`, as in `{% include %}`.
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let text = std::fs::read_to_string(&path).map_err(|source| RenderError::ReadTemplate {
            path: path.clone(),
            cause: source,
        })?;
        out.insert(
            name,
            Source {
                text,
                origin: path.display().to_string(),
            },
        );
    }
    Ok(())
}

/// Finds which template of a failed batch is at fault, so the error names a
/// file instead of "one of these".
fn parse_error(sources: &[(&String, &Source)], err: &tera::Error) -> RenderError {
    for (name, src) in sources {
        let mut probe = Tera::default();
        if let Err(e) = probe.add_raw_template(name, &src.text) {
            if e.to_string().starts_with("Failed to parse") {
                return RenderError::Parse {
                    template: (*name).clone(),
                    origin: src.origin.clone(),
                    detail: chain(&e),
                };
            }
        }
    }
    RenderError::Parse {
        template: "(template set)".to_string(),
        origin: "extends/include/import between templates".to_string(),
        detail: chain(err),
    }
}

fn engine(sources: &[(&String, &Source)], suffix: &'static str) -> Result<Tera, RenderError> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![suffix]);
    tera.add_raw_templates(sources.iter().map(|(n, s)| (n.as_str(), s.text.as_str())))
        .map_err(|e| parse_error(sources, &e))?;
    Ok(tera)
}

/// Loads the embedded templates, overridden by `dir` when given.
pub fn load(dir: Option<&Path>) -> Result<Engines, RenderError> {
    let mut all: BTreeMap<String, Source> = EMBEDDED
        .iter()
        .map(|(n, t)| {
            (
                (*n).to_string(),
                Source {
                    text: (*t).to_string(),
                    origin: "embedded".to_string(),
                },
            )
        })
        .collect();
    if let Some(dir) = dir {
        if !dir.is_dir() {
            return Err(RenderError::TemplatesDir {
                path: PathBuf::from(dir),
                cause: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        walk(dir, dir, 0, &mut all)?;
    }
    // A template that is neither HTML nor Markdown goes to both: escaping is
    // decided by the entry template, so a shared snippet is safe in either.
    let html_sources: Vec<(&String, &Source)> = all
        .iter()
        .filter(|(n, _)| !n.ends_with(".md.tera"))
        .collect();
    let md_sources: Vec<(&String, &Source)> = all
        .iter()
        .filter(|(n, _)| !n.ends_with(".html.tera"))
        .collect();

    let mut html = engine(&html_sources, ".html.tera")?;
    html.set_escape_fn(escape::html);
    let mut markdown = engine(&md_sources, ".md.tera")?;
    markdown.set_escape_fn(markdown_inline);
    markdown.register_filter("md_fence", FenceFilter);

    let origins = all
        .iter()
        .filter(|(_, s)| s.origin != "embedded")
        .map(|(n, s)| (n.clone(), s.origin.clone()))
        .collect();
    Ok(Engines {
        html,
        markdown,
        origins,
    })
}
