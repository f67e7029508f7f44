//! What the manifest says about what the bundle lacks: the error a client
//! gets for a list that was forbidden, failed or not collected, and the
//! report of objects left out for their names.

use kpm_bundle::layout::{ResourceKind, Scope};
use kpm_bundle::Outcome;
use kpm_semantics::names::NameRule;

use super::{shown, Loaded, Store};
use crate::errors::{ApiError, Gr};

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
        match self.bundle.manifest().outcome_of(kind.plural, ns) {
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

    /// The error for an all-namespaces list of `kind` the snapshot could not
    /// serve: forbidden at cluster scope, or forbidden in every namespace
    /// with nothing collected. Decided from the manifest alone, so nothing
    /// is loaded.
    pub fn check_all_namespaces(&self, kind: &ResourceKind) -> Result<(), ApiError> {
        let manifest = self.bundle.manifest();
        let cluster_forbidden = manifest.outcome_of(kind.plural, None) == Some(Outcome::Forbidden);
        let any_forbidden = manifest
            .steps
            .iter()
            .any(|s| s.what == kind.plural && s.outcome == Outcome::Forbidden);
        let nothing_collected = !self.namespaces.iter().any(|ns| {
            kind.path(Some(ns))
                .is_some_and(|p| self.bundle.contains(&p))
        });
        if cluster_forbidden || (any_forbidden && nothing_collected) {
            return Err(ApiError::forbidden(
                Gr {
                    group: kind.group,
                    resource: kind.plural,
                },
                "list",
                None,
                None,
            ));
        }
        Ok(())
    }
}
