//! `kpm-collect redact IN -o OUT`: redacts a bundle that already exists
//! (collected by an older kpm, with `--no-redact` or `--configmap-values`,
//! or before a rule was added to `--redact-rules`) into a new bundle.
//!
//! Every list item goes through the same object rules as a collection
//! (Secrets stripped, ConfigMap values hashed unless `--configmap-values`,
//! env, annotations, last-applied copies, Event messages), every log and
//! any unknown text file through the text patterns; the metrics, node
//! allocation and `/version` files hold no secret and are copied. Pattern
//! rules are always on here. Values already redacted are left as they are
//! and a fresh token key is drawn, so tokens of the input stay as they were.
//! The manifest keeps the input's steps and adds this run's counts to its
//! `redaction` map; its `files` digests are recomputed. The input is only
//! read, never written.

use std::path::Path;

use anyhow::{anyhow, Context as _};
use serde_json::Value;

use kpm_bundle::layout::{classify, Entry, MANIFEST};
use kpm_bundle::{Bundle, BundleWriter};

use crate::cli::RedactArgs;
use crate::exit_codes::ExitCode;
use crate::redact::{merge, Counts, Redactor};
use crate::run::{fatal, redactor_for, Fatal};

/// Runs `kpm-collect redact`.
pub(crate) fn redact(args: &RedactArgs) -> Result<ExitCode, Fatal> {
    let redactor = redactor_for(true, args.configmap_values, args.redact_rules.as_deref())?;
    refuse_same_file(&args.input, &args.output)?;
    // Bundle and writer errors name the path themselves.
    let input = Bundle::open(&args.input).map_err(|e| fatal(ExitCode::Usage, e.into()))?;
    if let Some(first) = input.verify().first() {
        return Err(fatal(
            ExitCode::Usage,
            anyhow!(
                "{} is damaged ({first}); nothing written",
                args.input.display()
            ),
        ));
    }
    let mut writer = BundleWriter::create_zip(&args.output, args.force)
        .map_err(|e| fatal(ExitCode::Write, e.into()))?;
    let mut counts = Counts::new();
    let copied = copy_all(&input, &mut writer, &redactor, &mut counts);
    // On an error the writer is dropped, which removes its temporary file.
    copied?;
    let mut manifest = input.manifest().clone();
    manifest.options.redaction = true;
    manifest.options.redact_config_maps |= !args.configmap_values;
    merge(&mut manifest.redaction, &counts);
    manifest.files = Default::default();
    let path = writer
        .finish(manifest)
        .with_context(|| format!("cannot finish {}", args.output.display()))
        .map_err(|e| fatal(ExitCode::Write, e))?;
    let total: u64 = counts.values().sum();
    eprintln!(
        "wrote {}: {total} values redacted ({})",
        path.display(),
        summary(&counts)
    );
    Ok(ExitCode::Success)
}

/// `rule n, rule n` of this run's counts.
fn summary(counts: &Counts) -> String {
    if counts.is_empty() {
        return "nothing new".into();
    }
    counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses an output that is the input (by path, or the same file reached
/// another way).
fn refuse_same_file(input: &Path, output: &Path) -> Result<(), Fatal> {
    let same = match (input.canonicalize(), output.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => input == output,
    };
    if same {
        return Err(fatal(
            ExitCode::Usage,
            anyhow!(
                "the output {} is the input; kpm-collect redact never writes over its input",
                output.display()
            ),
        ));
    }
    Ok(())
}

/// Copies every entry but the manifest, redacted.
fn copy_all(
    input: &Bundle,
    writer: &mut BundleWriter,
    redactor: &Redactor,
    counts: &mut Counts,
) -> Result<(), Fatal> {
    for path in input.entries().filter(|p| *p != MANIFEST) {
        let bytes = input
            .read_bytes(path)
            .map_err(|e| fatal(ExitCode::Usage, anyhow::Error::new(e)))?;
        let written = match classify(path) {
            Entry::ClusterList(kind) | Entry::NamespacedList { kind, .. } => {
                let list = redact_list(path, &bytes, kind.kind, redactor, counts)?;
                writer.write_entry(path, &list)
            }
            Entry::Log { .. } => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                writer.write_entry(path, redactor.log(text, counts).as_bytes())
            }
            Entry::Other => match std::str::from_utf8(&bytes) {
                Ok(text) => match redactor.text(text, counts) {
                    Some(t) => writer.write_entry(path, t.as_bytes()),
                    None => writer.write_entry(path, &bytes),
                },
                Err(_) => writer.write_entry(path, &bytes),
            },
            _ => writer.write_entry(path, &bytes),
        };
        written
            .with_context(|| format!("cannot write {path}"))
            .map_err(|e| fatal(ExitCode::Write, e))?;
    }
    Ok(())
}

/// One list file, every item redacted as the kind the file stores (never
/// the kind an item claims: a "Pod" in `secrets.json` is still stripped as
/// a Secret). A file that is not a JSON list is refused rather than copied:
/// it could hold values the rules never saw.
fn redact_list(
    path: &str,
    bytes: &[u8],
    kind: &str,
    redactor: &Redactor,
    counts: &mut Counts,
) -> Result<Vec<u8>, Fatal> {
    let bad = |why: String| {
        fatal(
            ExitCode::Usage,
            anyhow!("{path} is not a Kubernetes list ({why}); nothing written"),
        )
    };
    let mut list: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let Some(items) = list.get_mut("items").and_then(Value::as_array_mut) else {
        return Err(bad("no items array".into()));
    };
    for item in items.iter_mut() {
        redactor.object(kind, item, counts);
    }
    serde_json::to_vec(&list).map_err(|e| bad(e.to_string()))
}
