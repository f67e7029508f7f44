//! The end-of-run summary: what was written and, for every failed step,
//! what it means for the analysis.

use std::collections::BTreeMap;

use kpm_bundle::{Outcome, Step};

use crate::sink::Totals;

/// What a missing piece costs the analysis, by step `what`.
pub fn consequence(what: &str) -> &'static str {
    match what {
        "secrets" => "secret-rotation checks will be skipped",
        "pods" => "pod status, restarts and the Pod → Service chain will be incomplete",
        "events" => "no event timeline (scheduling, probe, image pull failures)",
        "services" | "endpoints" | "endpointslices" => "Service → Endpoints checks will be skipped",
        "ingresses" | "ingressclasses" => "Ingress checks will be skipped",
        "horizontalpodautoscalers" => "HPA checks will be skipped",
        "nodes" => "node capacity and pressure checks will be skipped",
        "namespaces" => {
            "namespaces could not be listed; only the context's namespace was collected"
        }
        "metrics/nodes" | "metrics/pods" => {
            "resource usage unavailable (metrics-server missing or forbidden)"
        }
        "configmaps" => "config rollout checks will be skipped",
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" | "jobs" => {
            "rollout checks will be skipped for these workloads"
        }
        "persistentvolumes" | "persistentvolumeclaims" => "volume checks will be skipped",
        "logs" | "logs/previous" => "container logs missing for these containers",
        "infra-pods" => "infrastructure pods (ingress controller, DNS, autoscaler) may be missing",
        "node-allocation" => "node allocation (requests vs allocatable) unavailable",
        "version" => "server version unknown",
        _ => "related checks will be skipped",
    }
}

/// Human size: `12.3 MiB`.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", n / (1024.0 * 1024.0))
    } else if n >= 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// The last summary line, shaped like `kpm-analyze -o`'s: the bundle, what
/// it holds, how many steps failed, and what to do with it.
pub fn headline(path: &str, size: u64, totals: &Totals, seconds: f64, failed: usize) -> String {
    let failed = match failed {
        0 => "every step complete".to_string(),
        1 => "1 step failed".to_string(),
        n => format!("{n} steps failed"),
    };
    format!(
        "{path}: {} objects, {} logs in {seconds:.1}s ({}), {failed} — analyse it with kpm-analyze",
        totals.objects,
        totals.logs,
        human_bytes(size)
    )
}

/// Summary lines, one failure group per line: `secrets forbidden in 3
/// namespaces (shop, payments, …): secret-rotation checks will be skipped`.
#[cfg(test)]
pub fn render(path: &str, size: u64, totals: &Totals, steps: &[Step], seconds: f64) -> Vec<String> {
    let mut tally = Tally::default();
    steps.iter().for_each(|s| tally.add(s));
    let mut lines = tally.failure_lines();
    lines.push(headline(path, size, totals, seconds, tally.failed_steps()));
    lines
}

/// What the summary needs from the steps, gathered one step at a time while
/// they stream into the manifest (they are never all in memory).
#[derive(Debug, Default)]
pub struct Tally {
    usable: bool,
    /// Failed steps by (what, outcome): how many, and the first places.
    failed: BTreeMap<(String, Outcome), (usize, Vec<String>)>,
}

impl Tally {
    /// Places shown per failure group; the rest are only counted (a cluster
    /// can have 100,000 failed log steps).
    const SHOWN: usize = 3;

    /// Counts one step.
    pub fn add(&mut self, s: &Step) {
        // A collection is usable when at least one object list was collected.
        if s.outcome == Outcome::Ok
            && s.path.is_some()
            && !s.what.starts_with("logs")
            && s.what != "version"
        {
            self.usable = true;
        }
        if s.outcome == Outcome::Ok {
            return;
        }
        let (count, places) = self.failed.entry((s.what.clone(), s.outcome)).or_default();
        *count += 1;
        if places.len() < Self::SHOWN {
            places.push(match (&s.namespace, &s.object) {
                (Some(ns), Some(o)) => format!("{ns}/{o}"),
                (Some(ns), None) => ns.clone(),
                (None, Some(o)) => o.clone(),
                (None, None) => "cluster".to_string(),
            });
        }
    }

    /// Whether at least one object list was collected.
    pub fn usable(&self) -> bool {
        self.usable
    }

    /// How many steps did not complete.
    pub fn failed_steps(&self) -> usize {
        self.failed.values().map(|(n, _)| n).sum()
    }

    /// The failure lines of the summary (none when every step succeeded).
    pub fn failure_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.failed.is_empty() {
            let failed = self.failed_steps();
            lines.push(format!(
                "{failed} steps did not complete (details in manifest.json \"steps\"):"
            ));
        }
        for ((what, outcome), (count, places)) in &self.failed {
            let more = if *count > places.len() {
                format!(", +{} more", count - places.len())
            } else {
                String::new()
            };
            lines.push(format!(
                "  {what} {} ({}{more}): {}",
                outcome.as_str(),
                places.join(", "),
                consequence(what)
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(what: &str, ns: Option<&str>, outcome: Outcome) -> Step {
        let mut s = Step::new(what, outcome);
        s.namespace = ns.map(str::to_string);
        s
    }

    #[test]
    fn groups_failures_with_consequences() {
        let steps = vec![
            failed("secrets", Some("shop"), Outcome::Forbidden),
            failed("secrets", Some("payments"), Outcome::Forbidden),
            failed("metrics/nodes", None, Outcome::NotFound),
            Step::new("pods", Outcome::Ok),
        ];
        let totals = Totals {
            objects: 42,
            logs: 3,
            bytes: 0,
        };
        let lines = render("kpm.zip", 2048, &totals, &steps, 1.25);
        assert_eq!(
            lines.last().map(String::as_str),
            Some("kpm.zip: 42 objects, 3 logs in 1.2s (2.0 KiB), 3 steps failed — analyse it with kpm-analyze")
        );
        assert_eq!(
            lines[0],
            "3 steps did not complete (details in manifest.json \"steps\"):"
        );
        assert!(lines.contains(&"  metrics/nodes not_found (cluster): resource usage unavailable (metrics-server missing or forbidden)".to_string()));
        assert!(lines.contains(
            &"  secrets forbidden (shop, payments): secret-rotation checks will be skipped"
                .to_string()
        ));
    }

    #[test]
    fn large_groups_show_three_places_and_count_the_rest() {
        let steps: Vec<Step> = (0..1000)
            .map(|i| {
                let mut s = failed("logs", Some("shop"), Outcome::NotFound);
                s.object = Some(format!("web-{i}/app"));
                s
            })
            .collect();
        let mut tally = Tally::default();
        steps.iter().for_each(|s| tally.add(s));
        let lines = tally.failure_lines();
        assert_eq!(
            lines,
            [
                "1000 steps did not complete (details in manifest.json \"steps\"):".to_string(),
                "  logs not_found (shop/web-0/app, shop/web-1/app, shop/web-2/app, +997 more): container logs missing for these containers".to_string(),
            ]
        );
    }

    fn usable(steps: &[Step]) -> bool {
        let mut tally = Tally::default();
        steps.iter().for_each(|s| tally.add(s));
        tally.usable()
    }

    #[test]
    fn usable_needs_an_object_list() {
        let mut v = Step::new("version", Outcome::Ok);
        v.path = Some("cluster/version.json".into());
        assert!(!usable(&[v.clone()]));
        let mut pods = Step::new("pods", Outcome::Ok);
        pods.path = Some("namespaces/shop/pods.json".into());
        assert!(usable(&[v, pods]));
        let mut log = Step::new("logs", Outcome::Ok);
        log.path = Some("logs/shop/web-0/app.log".into());
        assert!(!usable(&[log]));
        assert!(!usable(&[failed("pods", Some("shop"), Outcome::Forbidden)]));
    }
}
