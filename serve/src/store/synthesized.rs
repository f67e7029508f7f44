//! EndpointSlices served for a namespace whose bundle has only Endpoints
//! (see [`crate::current::slices`]): loaded and cached like a stored list,
//! under the path the stored list would have.

use std::sync::Arc;

use kpm_bundle::layout;
use kpm_bundle::Outcome;

use super::{parse_list, Loaded, Store};
use crate::errors::ApiError;

/// The kind made up from another.
pub const SLICES: &str = "endpointslices";

impl Store {
    /// Whether EndpointSlices in `namespace` are made from its Endpoints:
    /// the bundle has Endpoints there and no EndpointSlices, and the
    /// manifest does not say collecting them was forbidden or failed (a
    /// cluster without the API answered not found, or was not asked).
    pub fn synthesizes_slices(&self, namespace: &str) -> bool {
        // Indexed lookup: this runs per namespace of every -A list.
        let failed = |ns: Option<&str>| {
            self.bundle
                .failed_step(SLICES, ns, None)
                .is_some_and(|s| s.outcome != Outcome::NotFound)
        };
        self.bundle
            .contains(&layout::namespaced_path(namespace, "endpoints"))
            && !self
                .bundle
                .contains(&layout::namespaced_path(namespace, SLICES))
            && !failed(Some(namespace))
            && !failed(None)
    }

    /// The EndpointSlices made for `namespace`, cached under `path`; None
    /// when none are made there.
    pub(super) fn load_synthesized_slices(
        &self,
        namespace: &str,
        path: &str,
    ) -> Result<Option<Arc<Loaded>>, ApiError> {
        if !self.synthesizes_slices(namespace) {
            return Ok(None);
        }
        self.cache
            .get_or_load(path, false, || self.make_slices(namespace))
            .map(Some)
    }

    fn make_slices(&self, namespace: &str) -> Result<Loaded, ApiError> {
        let ep_path = layout::namespaced_path(namespace, "endpoints");
        let endpoints = self
            .bundle
            .read_bytes(&ep_path)
            .map_err(ApiError::internal)?;
        let services = match layout::kind_by_plural("services") {
            Some(kind) => match self.load(kind, Some(namespace))? {
                Some(list) => list
                    .items
                    .iter()
                    .map(|it| list.value(it))
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let bytes =
            crate::current::slices::from_endpoints(&endpoints, &services).ok_or_else(|| {
                ApiError::internal(format!(
                    "{ep_path}: not a JSON list, so no EndpointSlices can be made from it"
                ))
            })?;
        parse_list(SLICES, Some(namespace), bytes)
            .map_err(|e| ApiError::internal(format!("EndpointSlices made from {ep_path}: {e}")))
    }
}
