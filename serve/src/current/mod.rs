//! Objects as a current API server returns them.
//!
//! A bundle holds objects as the cluster's API server stored them, and a
//! cluster of 2019 stored Services without `clusterIPs`, `ipFamilies` or
//! `internalTrafficPolicy` and had no EndpointSlices at all. A current API
//! server reading those same objects from its storage defaults them on the
//! way out, and kubectl (`get svc`, `describe svc`, `get endpointslices`)
//! expects the defaulted shape. So, when serving and never in the bundle's
//! bytes:
//!
//! * Services get the read defaulting of the Service registry
//!   (`defaultOnReadService` in `pkg/registry/core/service/storage`) and the
//!   scheme defaulting (`SetDefaults_Service` in
//!   `pkg/apis/core/v1/defaults.go`), see [`service`];
//! * a namespace whose bundle has Endpoints but no EndpointSlices gets the
//!   EndpointSlices the controllers would have made from them, see
//!   [`slices`].

pub mod service;
pub mod slices;

use serde_json::Value;

/// The stored list `bytes` of `plural` with every object as a current API
/// server returns it; the bytes unchanged when `plural` needs nothing or
/// they do not parse (the list parser then names the damage).
pub fn on_read(plural: &str, bytes: Vec<u8>) -> Vec<u8> {
    if plural != "services" {
        return bytes;
    }
    let Ok(mut list) = serde_json::from_slice::<Value>(&bytes) else {
        return bytes;
    };
    let Some(items) = list.get_mut("items").and_then(Value::as_array_mut) else {
        return bytes;
    };
    let primary = service::primary_family(items);
    let mut changed = false;
    for item in items.iter_mut() {
        changed |= service::default_on_read(item, primary);
    }
    if !changed {
        return bytes;
    }
    serde_json::to_vec(&list).unwrap_or(bytes)
}
