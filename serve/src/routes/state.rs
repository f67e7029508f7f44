//! The shared server state every request is answered from.

use crate::store::Store;

/// Shared server state.
pub struct State {
    /// The bundle and its caches.
    pub(crate) store: Store,
    /// Test knobs.
    pub(crate) knobs: crate::knobs::Knobs,
    /// `127.0.0.1:PORT`, for `/api`.
    pub(crate) server_address: String,
    /// Whether the bundle holds any metrics (serves `metrics.k8s.io`).
    pub(crate) has_metrics: bool,
}

impl State {
    /// Serves `bundle` as reachable at `server_address` (`127.0.0.1:PORT`),
    /// with no test knobs and the default cache budget: what the fuzz
    /// targets answer requests from without a socket.
    pub fn new(bundle: kpm_bundle::Bundle, server_address: String) -> State {
        State::with_budget(bundle, server_address, crate::cache::DEFAULT_BUDGET)
    }

    /// Like [`State::new`], caching about `budget` bytes of parsed lists.
    pub(crate) fn with_budget(
        bundle: kpm_bundle::Bundle,
        server_address: String,
        budget: usize,
    ) -> State {
        State {
            has_metrics: crate::metrics::bundle_has_metrics(&bundle),
            store: Store::with_budget(bundle, budget),
            knobs: crate::knobs::Knobs::default(),
            server_address,
        }
    }

    /// Collection end: the "now" of every age and of `sinceSeconds`.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.store.now()
    }
}
