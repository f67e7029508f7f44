//! `testdata/expected/<scenario>.json`: the findings a correct analyzer must
//! produce for a scenario (format in `docs/rules.md`).

use serde::Serialize;

/// The whole expected file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Expected {
    /// Scenario name (directory name under `testdata/`).
    pub scenario: String,
    /// What the scenario shows.
    pub description: String,
    /// Findings, no more and no fewer (info severity ignored unless listed).
    pub findings: Vec<Finding>,
}

/// One expected finding.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    /// Rule id from `docs/rules.md`.
    pub rule: String,
    /// Layer of the rule.
    pub layer: String,
    /// `Kind/namespace/name` or `Kind/name`.
    pub object: String,
    /// Substrings the cause sentence must contain.
    pub cause_contains: Vec<String>,
    /// `<rule>:<object>` of the finding this one is a consequence of.
    pub root_cause: Option<String>,
}

/// The layer of a rule id, per the table in `docs/rules.md`.
pub fn layer_of(rule: &str) -> &'static str {
    match rule.split('-').next().unwrap_or("") {
        "pod" | "probe" | "image" => "pod",
        "service" if rule == "service-no-ready-endpoints" => "endpoints",
        "service" => "service",
        "ingress" => "ingress",
        "hpa" => "autoscaling",
        "node" | "autoscaler" => "node",
        "config" => "config",
        "resources" => "resources",
        "dns" => "dns",
        "rbac" => "rbac",
        "job" | "cronjob" | "rollout" => "workload",
        "netpol" => "network",
        "pdb" => "workload",
        "admission" => "admission",
        _ => "unknown",
    }
}

/// A finding on `object` with cause substrings.
pub fn finding(rule: &str, object: &str, cause_contains: &[&str]) -> Finding {
    Finding {
        rule: rule.to_string(),
        layer: layer_of(rule).to_string(),
        object: object.to_string(),
        cause_contains: cause_contains.iter().map(|s| (*s).to_string()).collect(),
        root_cause: None,
    }
}

impl Finding {
    /// Links this finding to the one it is a consequence of.
    pub fn caused_by(mut self, rule: &str, object: &str) -> Finding {
        self.root_cause = Some(format!("{rule}:{object}"));
        self
    }

    /// `<rule>:<object>`, for use as another finding's root cause.
    pub fn key(&self) -> String {
        format!("{}:{}", self.rule, self.object)
    }
}

/// `Pod/<ns>/<name>`.
pub fn pod(ns: &str, name: &str) -> String {
    format!("Pod/{ns}/{name}")
}

/// `<Kind>/<ns>/<name>`.
pub fn obj(kind: &str, ns: &str, name: &str) -> String {
    format!("{kind}/{ns}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_follow_the_rule_table() {
        assert_eq!(layer_of("pod-crashloop"), "pod");
        assert_eq!(layer_of("probe-port-mismatch"), "pod");
        assert_eq!(layer_of("service-no-ready-endpoints"), "endpoints");
        assert_eq!(layer_of("service-selector-mismatch"), "service");
        assert_eq!(layer_of("hpa-metrics-unavailable"), "autoscaling");
        assert_eq!(layer_of("node-no-room"), "node");
        assert_eq!(layer_of("config-stale-secret"), "config");
        let f = finding("ingress-backend-no-endpoints", "Ingress/shop/web", &[])
            .caused_by("service-no-ready-endpoints", "Service/shop/web");
        assert_eq!(
            f.root_cause.as_deref(),
            Some("service-no-ready-endpoints:Service/shop/web")
        );
        assert_eq!(f.layer, "ingress");
    }
}
