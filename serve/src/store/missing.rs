//! What the manifest says about what the bundle lacks: the error a client
//! gets for a list that was forbidden, failed or not collected, and the
//! report of objects left out for their names.

use kpm_bundle::layout::{ResourceKind, Scope};
use kpm_bundle::Outcome;
use kpm_semantics::names::NameRule;

use super::{shown, Loaded, Store};
use crate::errors::{ApiError, Gr};
use crate::gaps::Gaps;

impl Store {
    /// Says on stderr, once per file, which objects are not served because
    /// of their names.
    pub(super) fn report_invalid(&self, plural: &str, path: &str, loaded: &Loaded) {
        let count = loaded.invalid_names().count();
        if count == 0 {
            return;
        }
        let first = match self.reported.lock() {
            Ok(mut seen) => seen.insert(path.to_string()),
            Err(_) => false,
        };
        if !first {
            return;
        }
        const SHOWN: usize = 10;
        for it in loaded.invalid_names().take(SHOWN) {
            let ns = if it.namespace.is_empty() {
                String::new()
            } else {
                format!(" in namespace {}", shown(&it.namespace))
            };
            eprintln!(
                "kpm serve: {path}: not serving {plural} {}{ns}: not a valid name ({})",
                shown(&it.name),
                NameRule::for_resource(plural).describe()
            );
        }
        if count > SHOWN {
            eprintln!(
                "kpm serve: {path}: and {} more {plural} with invalid names",
                count - SHOWN
            );
        }
    }

    /// Why a list is not in the bundle, as the API error a client gets:
    /// forbidden and failed steps are replayed, anything else is "not
    /// collected".
    pub fn missing_error(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        verb: &str,
        name: Option<&str>,
    ) -> ApiError {
        let gr = Gr {
            group: kind.group,
            resource: kind.plural,
        };
        let ns = if kind.scope == Scope::Cluster {
            None
        } else {
            namespace
        };
        outcome_error(
            gr,
            self.bundle.manifest().outcome_of(kind.plural, ns),
            verb,
            name,
            ns,
        )
    }

    /// What an all-namespaces list of `kind` can answer, decided from the
    /// manifest and the bundle's file names alone (nothing is loaded): an
    /// error when no namespace holds it (forbidden at cluster scope or in
    /// some namespace, failed, or not collected — never an empty list), else
    /// the namespaces left out, worded for the list's `Warning`.
    pub fn check_all_namespaces(&self, kind: &ResourceKind) -> Result<Gaps, ApiError> {
        let gr = Gr {
            group: kind.group,
            resource: kind.plural,
        };
        // Failed steps are looked up in the bundle's index: a collected
        // manifest holds a step per log, and this runs for every -A list.
        let failed = |ns: Option<&str>| {
            self.bundle
                .failed_step(kind.plural, ns, None)
                .map(|s| s.outcome)
        };
        let cluster = failed(None);
        if cluster == Some(Outcome::Forbidden) {
            return Err(ApiError::forbidden(gr, "list", None, None));
        }
        let absent: Vec<(&str, Option<Outcome>)> = self
            .namespaces
            .iter()
            .filter(|ns| !self.holds(kind, ns))
            .map(|ns| (ns.as_str(), failed(Some(ns))))
            .collect();
        if absent.len() == self.namespaces.len() {
            let worst = absent
                .iter()
                .map(|(_, o)| *o)
                .chain([cluster])
                .flatten()
                .max_by_key(|o| match o {
                    Outcome::Forbidden => 3,
                    Outcome::Timeout => 2,
                    Outcome::Error => 1,
                    _ => 0,
                });
            return Err(outcome_error(gr, worst, "list", None, None));
        }
        Ok(absent_gaps(gr, &absent))
    }
}

/// The `Warning` notes for the namespaces an -A list leaves out, grouped
/// by why.
fn absent_gaps(gr: Gr<'_>, absent: &[(&str, Option<Outcome>)]) -> Gaps {
    let mut gaps = Gaps::default();
    for (word, wanted) in [
        ("forbidden", Some(Outcome::Forbidden)),
        ("timed out during collection", Some(Outcome::Timeout)),
        ("failed during collection", Some(Outcome::Error)),
    ] {
        let names: Vec<&str> = absent
            .iter()
            .filter(|(_, o)| *o == wanted)
            .map(|(ns, _)| *ns)
            .collect();
        if !names.is_empty() {
            gaps.note(format!(
                "{} {word} in {}",
                gr.qualified(),
                in_namespaces(&names)
            ));
        }
    }
    let others: Vec<&str> = absent
        .iter()
        .filter(|(_, o)| {
            !matches!(
                o,
                Some(Outcome::Forbidden | Outcome::Timeout | Outcome::Error)
            )
        })
        .map(|(ns, _)| *ns)
        .collect();
    if !others.is_empty() {
        gaps.note(format!(
            "{} not collected in {}",
            gr.qualified(),
            in_namespaces(&others)
        ));
    }
    gaps
}

/// The error for a list or object the bundle lacks, by the collection
/// outcome the manifest records: forbidden and failed steps are replayed,
/// anything else is "not collected".
fn outcome_error(
    gr: Gr<'_>,
    outcome: Option<Outcome>,
    verb: &str,
    name: Option<&str>,
    ns: Option<&str>,
) -> ApiError {
    match outcome {
        Some(Outcome::Forbidden) => ApiError::forbidden(gr, verb, name, ns),
        Some(Outcome::Timeout) => ApiError::timeout(format!(
            "{} could not be collected: the request timed out during collection",
            gr.qualified()
        )),
        Some(Outcome::Error) => ApiError::internal(format!(
            "{} could not be collected: the collection request failed",
            gr.qualified()
        )),
        _ => ApiError::not_collected(&match ns {
            Some(ns) => format!("{} in namespace {ns}", gr.qualified()),
            None => gr.qualified(),
        }),
    }
}

/// `namespace a` or `namespaces a, b, c`.
fn in_namespaces(names: &[&str]) -> String {
    match names {
        [one] => format!("namespace {one}"),
        many => format!("namespaces {}", many.join(", ")),
    }
}
