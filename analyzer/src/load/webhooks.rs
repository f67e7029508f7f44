//! The backend Services of the admission webhooks: each named Service and
//! its Endpoints, read from its own namespace once at load, so a rule in
//! any namespace can say whether the webhook that refused its pods had
//! anything to answer (the namespace pass holds one namespace at a time).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Endpoints, Service};
use kpm_bundle::Bundle;

use super::read::kind;
use crate::context::{Platform, WebhookBackend};

/// `(namespace, name)` of every Service a webhook configuration calls.
fn backend_services(platform: &Platform) -> BTreeSet<(String, String)> {
    let validating = platform
        .validating_webhooks
        .iter()
        .flat_map(|c| c.webhooks.iter().flatten())
        .filter_map(|w| w.client_config.service.as_ref());
    let mutating = platform
        .mutating_webhooks
        .iter()
        .flat_map(|c| c.webhooks.iter().flatten())
        .filter_map(|w| w.client_config.service.as_ref());
    validating
        .chain(mutating)
        .map(|s| (s.namespace.clone(), s.name.clone()))
        .collect()
}

/// One namespaced list of `namespace`, or `None` when it is not in the
/// bundle or unreadable (the namespace pass reports that as damage).
fn list<T: serde::de::DeserializeOwned>(
    bundle: &Bundle,
    plural: &str,
    namespace: &str,
) -> Option<Vec<T>> {
    let k = kind(plural)?;
    match bundle.read_kind_lean::<T>(k, Some(namespace)) {
        Ok(Some(l)) => Some(l.items),
        _ => None,
    }
}

/// The backends of every webhook, each namespace's Services and Endpoints
/// read once.
pub(super) fn webhook_backends(bundle: &Bundle, platform: &Platform) -> Vec<WebhookBackend> {
    let wanted = backend_services(platform);
    let mut out = Vec::new();
    let namespaces: BTreeSet<&str> = wanted.iter().map(|(ns, _)| ns.as_str()).collect();
    for ns in namespaces {
        let services: Option<Vec<Service>> = list(bundle, "services", ns);
        let endpoints: Option<Vec<Endpoints>> = list(bundle, "endpoints", ns);
        for (_, name) in wanted.iter().filter(|(n, _)| n == ns) {
            let named = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
                m.name.as_deref() == Some(name.as_str())
            };
            let addresses = endpoints.as_ref().map(|eps| {
                eps.iter()
                    .filter(|e| named(&e.metadata))
                    .flat_map(|e| e.subsets.iter().flatten())
                    .fold((0, 0), |(r, n), s| {
                        (
                            r + s.addresses.as_ref().map_or(0, Vec::len),
                            n + s.not_ready_addresses.as_ref().map_or(0, Vec::len),
                        )
                    })
            });
            out.push(WebhookBackend {
                namespace: ns.to_string(),
                name: name.clone(),
                service_exists: services
                    .as_ref()
                    .map(|s| s.iter().any(|s| named(&s.metadata))),
                addresses,
            });
        }
    }
    out
}
