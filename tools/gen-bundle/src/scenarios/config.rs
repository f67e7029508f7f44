//! Scenarios where configuration changed under running pods without a
//! rollout, so the pods still run with the old values.

use super::healthy::{self, ShopOptions};
use super::Scenario;
use crate::baseline::{self, Baseline};
use crate::cluster::Cluster;
use crate::expected::{finding, obj, Finding};

/// The config scenarios.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "configmap-not-rolled", description: "frontend-config was edited 30 minutes ago; the frontend pods (envFrom) started two days ago and were not restarted.", build: configmap_not_rolled },
    Scenario { name: "secret-rotated", description: "The cart-db Secret was rotated 20 minutes ago; cart pods read it through env secretKeyRef and still run with the old password.", build: secret_rotated },
];

fn configmap_not_rolled() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(
        &mut w,
        "shop",
        &ShopOptions {
            config_changed_ago: Some(1_800),
            ..ShopOptions::default()
        },
    );
    let findings = vec![finding(
        "config-stale-configmap",
        &obj("ConfigMap", "shop", "frontend-config"),
        &["frontend"],
    )];
    (w.finish(), findings)
}

fn secret_rotated() -> (Cluster, Vec<Finding>) {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(
        &mut w,
        "shop",
        &ShopOptions {
            secret_changed_ago: Some(1_200),
            ..ShopOptions::default()
        },
    );
    let findings = vec![finding(
        "config-stale-secret",
        &obj("Secret", "shop", "cart-db"),
        &["cart"],
    )];
    (w.finish(), findings)
}
