//! Root-cause linking: after every rule ran, consequences are linked to their
//! causes along the chain (Ingress → Service → Pod → Node, DNS), and
//! incidents are built from the roots.
//!
//! Rules stay independent of one another; the relations used here
//! ([`Links`]) were recorded while each namespace was loaded.

use std::collections::{HashMap, HashSet, VecDeque};

use kpm_model::{Finding, Incident, Severity};

use super::apps::Links;
use crate::rules::registry::{Link, Rule};

/// Fills `caused_by` of every finding from the recorded relations: a
/// finding is linked to the findings on related objects whose rule
/// [`causes`](Rule::causes) one of the links its own rule
/// suffers (its registry entry's `effects`), as the registry says.
pub fn link(findings: &mut [Finding], links: &Links) {
    let candidates = Candidates::new(findings);
    for (i, f) in findings.iter_mut().enumerate() {
        let Some(rule) = candidates.rules.get(i).copied().flatten() else {
            continue;
        };
        let causes = candidates.causes_of(f, rule, links);
        for c in causes {
            if c != f.id && !f.caused_by.contains(&c) {
                f.caused_by.push(c);
            }
        }
    }
    break_cycles(findings);
}

/// The findings indexed for cause lookup: by rule, by object and by the
/// pods they name.
struct Candidates {
    rules: Vec<Option<Rule>>,
    ids: Vec<String>,
    /// Object display → indices of findings about it.
    by_object: HashMap<String, Vec<usize>>,
    /// Pod display → indices of findings naming it among their related
    /// objects or as their object (node-no-room, autoscaler-no-scale-up name
    /// the pending pods they explain).
    naming_pod: HashMap<String, Vec<usize>>,
    /// Workload display → indices of findings naming it as their object or
    /// among their related objects.
    naming: HashMap<String, Vec<usize>>,
}

/// Kinds that own pods, along which `PodsNotCreated` links.
fn is_workload(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob"
    )
}

impl Candidates {
    fn new(findings: &[Finding]) -> Self {
        let mut by_object: HashMap<String, Vec<usize>> = HashMap::new();
        let mut naming_pod: HashMap<String, Vec<usize>> = HashMap::new();
        let mut naming: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, f) in findings.iter().enumerate() {
            by_object.entry(f.object.to_string()).or_default().push(i);
        }
        for (i, f) in findings.iter().enumerate() {
            let pods = f.related.iter().chain(std::iter::once(&f.object));
            for r in pods.filter(|r| r.kind == "Pod") {
                naming_pod.entry(r.to_string()).or_default().push(i);
            }
            let workloads = f.related.iter().chain(std::iter::once(&f.object));
            for r in workloads.filter(|r| is_workload(&r.kind)) {
                naming.entry(r.to_string()).or_default().push(i);
            }
        }
        Candidates {
            rules: findings.iter().map(|f| Rule::from_id(&f.rule)).collect(),
            ids: findings.iter().map(|f| f.id.clone()).collect(),
            by_object,
            naming_pod,
            naming,
        }
    }

    /// Whether finding `i`'s rule causes `link`.
    fn causing(&self, i: usize, link: Link) -> bool {
        self.rules
            .get(i)
            .copied()
            .flatten()
            .is_some_and(|r| r.causes(link))
    }

    /// Ids of the findings among `indices` whose rule causes `link`.
    fn causing_among<'s>(
        &'s self,
        indices: Option<&'s Vec<usize>>,
        link: Link,
    ) -> impl Iterator<Item = String> + 's {
        indices
            .into_iter()
            .flatten()
            .filter(move |i| self.causing(**i, link))
            .filter_map(|i| self.ids.get(*i).cloned())
    }

    /// Ids of the findings on `object` whose rule causes `link`.
    fn on(&self, object: &str, link: Link) -> Vec<String> {
        self.causing_among(self.by_object.get(object), link)
            .collect()
    }

    /// The causes of finding `f` (of rule `rule`) along every link its rule
    /// suffers.
    fn causes_of(&self, f: &Finding, rule: Rule, links: &Links) -> Vec<String> {
        let object = f.object.to_string();
        let mut causes: Vec<String> = Vec::new();
        for link in rule.info().effects {
            match link {
                Link::ServiceNotServing => {
                    for svc in links.ingress_services.get(&object).into_iter().flatten() {
                        causes.extend(self.on(svc, *link));
                    }
                    // A Service the finding itself names (an admission
                    // webhook's backend).
                    for svc in f.related.iter().filter(|r| r.kind == "Service") {
                        causes.extend(self.on(&svc.to_string(), *link));
                    }
                }
                Link::PodNotServing => {
                    let named = f
                        .related
                        .iter()
                        .filter(|r| r.kind == "Pod")
                        .map(|r| r.to_string());
                    let selected = links
                        .service_pods
                        .get(&object)
                        .into_iter()
                        .flatten()
                        .cloned();
                    for pod in selected.chain(named) {
                        causes.extend(self.on(&pod, *link));
                    }
                }
                Link::NoPlaceForPod => {
                    causes.extend(self.causing_among(self.naming_pod.get(&object), *link));
                }
                // A client pod (the ingress controller) whose traffic a
                // policy drops: the finding naming it explains its errors.
                Link::TrafficDropped => {
                    causes.extend(self.causing_among(self.naming_pod.get(&object), *link));
                }
                Link::AppError => causes.extend(self.on(&object, *link)),
                Link::PodsNotCreated => {
                    let named = f.related.iter().chain(std::iter::once(&f.object));
                    for w in named.filter(|r| is_workload(&r.kind)) {
                        causes.extend(self.causing_among(self.naming.get(&w.to_string()), *link));
                    }
                }
                Link::JobFailing => {
                    for job in f.related.iter().filter(|r| r.kind == "Job") {
                        causes.extend(self.on(&job.to_string(), *link));
                    }
                }
                Link::ClusterDnsDown => causes.extend(
                    (0..self.ids.len())
                        .filter(|i| self.causing(*i, *link))
                        .filter_map(|i| self.ids.get(i).cloned()),
                ),
                // A failing pod on a broken node: the node explains the
                // runtime failures, not spec problems or scheduling.
                Link::NodeBroken => {
                    if let Some(node) = links
                        .pod_node
                        .get(&object)
                        .filter(|_| f.object.kind == "Pod")
                    {
                        causes.extend(self.on(&format!("Node/{node}"), *link));
                    }
                }
            }
        }
        causes
    }
}

/// Removes links that would make a finding its own (indirect) cause, so
/// every incident has a root.
fn break_cycles(findings: &mut [Finding]) {
    let index: HashMap<String, usize> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| (f.id.clone(), i))
        .collect();
    for i in 0..findings.len() {
        let Some(start) = findings.get(i).map(|f| f.id.clone()) else {
            continue;
        };
        let causes = findings
            .get(i)
            .map(|f| f.caused_by.clone())
            .unwrap_or_default();
        let mut keep = Vec::new();
        for c in causes {
            if !reaches(findings, &index, &c, &start) {
                keep.push(c);
            }
        }
        if let Some(f) = findings.get_mut(i) {
            f.caused_by = keep;
        }
    }
}

fn reaches(findings: &[Finding], index: &HashMap<String, usize>, from: &str, target: &str) -> bool {
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([from.to_string()]);
    while let Some(id) = queue.pop_front() {
        if id == target {
            return true;
        }
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(f) = index.get(&id).and_then(|i| findings.get(*i)) {
            queue.extend(f.caused_by.iter().cloned());
        }
    }
    false
}

/// A finding about a shared object (an Ingress routing to several
/// applications) belongs to the application of its cause, not to whichever
/// application first claimed the object.
pub fn adopt_cause_application(findings: &mut [Finding]) {
    let apps: HashMap<String, Option<String>> = findings
        .iter()
        .map(|f| (f.id.clone(), f.application.clone()))
        .collect();
    for f in findings.iter_mut() {
        if f.object.kind != "Ingress" {
            continue;
        }
        let from_cause = f
            .caused_by
            .iter()
            .find_map(|c| apps.get(c).cloned().flatten());
        if from_cause.is_some() {
            f.application = from_cause;
        }
    }
}

/// Drops `caused_by` entries naming findings not in the report (filtered
/// out by severity or namespace).
pub fn prune_dangling(findings: &mut [Finding]) {
    let ids: HashSet<String> = findings.iter().map(|f| f.id.clone()).collect();
    for f in findings.iter_mut() {
        f.caused_by.retain(|c| ids.contains(c));
    }
}

/// For each finding, the root causes it leads back to (itself when a root).
pub fn roots_of(findings: &[Finding]) -> HashMap<String, Vec<String>> {
    let index: HashMap<&str, &Finding> = findings.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut out = HashMap::new();
    for f in findings {
        let mut roots = Vec::new();
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([f.id.as_str()]);
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id) {
                continue;
            }
            let Some(g) = index.get(id) else { continue };
            if g.caused_by.is_empty() {
                roots.push(g.id.clone());
            } else {
                queue.extend(g.caused_by.iter().map(String::as_str));
            }
        }
        out.insert(f.id.clone(), roots);
    }
    out
}

/// One incident per root finding: the root and everything that follows from
/// it (nearest first), worst first. Roots that are the same rule on objects
/// of the same application with the same consequences share one incident:
/// three replicas OOMKilled behind one Service are one incident, not three.
/// The first root (by id) stays the root; the others are its `same_cause`.
pub fn incidents(findings: &[Finding]) -> Vec<Incident> {
    let mut consequences_of: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for f in findings {
        for c in &f.caused_by {
            consequences_of.entry(c.as_str()).or_default().push(f);
        }
    }
    let mut roots: Vec<&Finding> = findings.iter().filter(|f| f.is_root()).collect();
    roots.sort_by(|a, b| a.id.cmp(&b.id));
    // (root, its consequences, the other roots of the same cause)
    let mut groups: Vec<(&Finding, Vec<&Finding>, Vec<&Finding>)> = Vec::new();
    let mut group_of: HashMap<(&str, &str, &str, Vec<&str>), usize> = HashMap::new();
    for root in roots {
        let consequences = consequences_of_root(root, &consequences_of);
        let Some(app) = root.application.as_deref() else {
            groups.push((root, consequences, Vec::new()));
            continue;
        };
        let mut ids: Vec<&str> = consequences.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        let key = (root.rule.as_str(), app, root.object.kind.as_str(), ids);
        match group_of.get(&key).and_then(|i| groups.get_mut(*i)) {
            Some((_, _, alike)) => alike.push(root),
            None => {
                group_of.insert(key, groups.len());
                groups.push((root, consequences, Vec::new()));
            }
        }
    }
    let mut out: Vec<Incident> = groups
        .into_iter()
        .map(|(root, consequences, alike)| {
            let severity = consequences
                .iter()
                .chain(alike.iter())
                .map(|c| c.severity)
                .chain([root.severity])
                .max()
                .unwrap_or(Severity::Info);
            Incident {
                root: root.id.clone(),
                severity,
                title: title(root, &consequences, 1 + alike.len()),
                consequences: consequences.iter().map(|c| c.id.clone()).collect(),
                same_cause: alike.iter().map(|f| f.id.clone()).collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| b.consequences.len().cmp(&a.consequences.len()))
            .then_with(|| a.root.cmp(&b.root))
    });
    out
}

/// Everything that follows from `root`, nearest first.
fn consequences_of_root<'a>(
    root: &'a Finding,
    consequences_of: &HashMap<&str, Vec<&'a Finding>>,
) -> Vec<&'a Finding> {
    let mut consequences: Vec<&Finding> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::from([root.id.as_str()]);
    let mut queue = VecDeque::from([root.id.as_str()]);
    while let Some(id) = queue.pop_front() {
        for c in consequences_of.get(id).into_iter().flatten() {
            if seen.insert(c.id.as_str()) {
                consequences.push(c);
                queue.push_back(c.id.as_str());
            }
        }
    }
    consequences
}

/// `shop/web: OOMKilled → Service web: no ready endpoints → Ingress shop`;
/// for `roots` > 1 replicas failing alike, `shop/web: 3 Pods OOMKilled → …`,
/// the first root's symptom (without its object's name) standing for all.
fn title(root: &Finding, consequences: &[&Finding], roots: usize) -> String {
    let scope = root
        .application
        .clone()
        .unwrap_or_else(|| root.object.to_string());
    let named = format!("{} {} ", root.object.kind, root.object.name);
    let symptom = if roots > 1 {
        root.symptom.strip_prefix(&named).unwrap_or(&root.symptom)
    } else {
        root.symptom.as_str()
    };
    let what = if symptom.is_empty() {
        root.rule.as_str()
    } else {
        symptom
    };
    // Name the root object unless the scope already is that object or the
    // symptom names it itself (`Service web has no endpoints`).
    let names_itself = what.starts_with(named.trim_end())
        && what[named.trim_end().len()..].starts_with([' ', ':']);
    let head = if roots > 1 {
        format!("{roots} {}s {what}", root.object.kind)
    } else if root.application.is_some() && !names_itself {
        format!("{named}{what}")
    } else {
        what.to_string()
    };
    let mut parts = vec![head];
    let mut seen_layers = Vec::new();
    for c in consequences {
        // One step per layer keeps the title readable with many replicas.
        if seen_layers.contains(&c.layer) {
            continue;
        }
        seen_layers.push(c.layer);
        parts.push(format!("{} {}: {}", c.object.kind, c.object.name, c.rule));
    }
    format!("{scope}: {}", parts.join(" → "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kpm_model::ObjectRef;

    fn f(rule: Rule, obj: ObjectRef) -> Finding {
        crate::context::FindingBuilder::new(rule, obj)
            .symptom("x")
            .cause("y")
            .build()
    }

    #[test]
    fn a_title_names_its_root_object_once() {
        let svc = ObjectRef::namespaced("Service", "shop", "web");
        let mut root = crate::context::FindingBuilder::new(Rule::ServiceNoReadyEndpoints, svc)
            .symptom("Service web has no endpoints")
            .build();
        root.application = Some("shop/web".into());
        assert_eq!(
            title(&root, &[], 1),
            "shop/web: Service web has no endpoints"
        );
        root.symptom = "CrashLoopBackOff".into();
        assert_eq!(
            title(&root, &[], 1),
            "shop/web: Service web CrashLoopBackOff"
        );
    }

    fn chain() -> (Vec<Finding>, Links) {
        let pod_a = ObjectRef::namespaced("Pod", "shop", "web-1");
        let pod_b = ObjectRef::namespaced("Pod", "shop", "web-2");
        let svc = ObjectRef::namespaced("Service", "shop", "web");
        let ing = ObjectRef::namespaced("Ingress", "shop", "shop");
        let findings = vec![
            f(Rule::IngressBackendNoEndpoints, ing.clone()),
            f(Rule::ServiceNoReadyEndpoints, svc.clone()),
            f(Rule::PodOomKilled, pod_a.clone()),
            f(Rule::PodCrashloop, pod_b.clone()),
            f(Rule::ImageTagMutable, pod_b.clone()),
            f(Rule::NodeNotReady, ObjectRef::cluster("Node", "n2")),
        ];
        let mut links = Links::default();
        links
            .ingress_services
            .insert(ing.to_string(), vec![svc.to_string()]);
        links
            .service_pods
            .insert(svc.to_string(), vec![pod_a.to_string(), pod_b.to_string()]);
        links.pod_node.insert(pod_b.to_string(), "n2".to_string());
        (findings, links)
    }

    #[test]
    fn consequences_link_along_the_chain() {
        let (mut fs, links) = chain();
        link(&mut fs, &links);
        let by = |id: &str| {
            fs.iter()
                .find(|f| f.id == id)
                .map(|f| f.caused_by.clone())
                .unwrap()
        };
        assert_eq!(
            by("ingress-backend-no-endpoints:Ingress/shop/shop"),
            vec!["service-no-ready-endpoints:Service/shop/web"]
        );
        assert_eq!(
            by("service-no-ready-endpoints:Service/shop/web"),
            vec![
                "pod-oom-killed:Pod/shop/web-1",
                "pod-crashloop:Pod/shop/web-2"
            ]
        );
        assert_eq!(
            by("pod-crashloop:Pod/shop/web-2"),
            vec!["node-not-ready:Node/n2"]
        );
        assert!(by("pod-oom-killed:Pod/shop/web-1").is_empty());

        let incidents = incidents(&fs);
        let node = incidents
            .iter()
            .find(|i| i.root == "node-not-ready:Node/n2")
            .unwrap();
        assert_eq!(
            node.consequences,
            vec![
                "pod-crashloop:Pod/shop/web-2",
                "service-no-ready-endpoints:Service/shop/web",
                "ingress-backend-no-endpoints:Ingress/shop/shop"
            ]
        );
        // Roots: the two pod-level causes and the info finding.
        assert_eq!(incidents.len(), 3);
        let roots = roots_of(&fs);
        let mut r = roots
            .get("ingress-backend-no-endpoints:Ingress/shop/shop")
            .cloned()
            .unwrap();
        r.sort();
        assert_eq!(
            r,
            vec!["node-not-ready:Node/n2", "pod-oom-killed:Pod/shop/web-1"]
        );
    }

    /// Three replicas OOMKilled behind one Service are one incident; a
    /// pod of another application, or the same rule with other
    /// consequences, stays apart.
    #[test]
    fn replicas_with_the_same_cause_share_one_incident() {
        let pod = |name: &str| ObjectRef::namespaced("Pod", "shop", name);
        let svc = ObjectRef::namespaced("Service", "shop", "web");
        let oom = |name: &str, app: &str| {
            let mut x = f(Rule::PodOomKilled, pod(name));
            x.symptom = "OOMKilled (exit 137)".into();
            x.application = Some(app.into());
            x
        };
        let mut fs = vec![
            oom("web-2", "shop/web"),
            oom("web-1", "shop/web"),
            oom("web-3", "shop/web"),
            oom("batch-1", "shop/batch"),
            f(Rule::ServiceNoReadyEndpoints, svc.clone()),
        ];
        let mut links = Links::default();
        links.service_pods.insert(
            svc.to_string(),
            ["web-1", "web-2", "web-3"]
                .iter()
                .map(|n| pod(n).to_string())
                .collect(),
        );
        link(&mut fs, &links);
        let incidents = incidents(&fs);
        assert_eq!(incidents.len(), 2, "{incidents:#?}");
        let web = &incidents[0];
        assert_eq!(web.root, "pod-oom-killed:Pod/shop/web-1");
        assert_eq!(
            web.same_cause,
            [
                "pod-oom-killed:Pod/shop/web-2",
                "pod-oom-killed:Pod/shop/web-3"
            ]
        );
        assert_eq!(
            web.consequences,
            ["service-no-ready-endpoints:Service/shop/web"]
        );
        assert_eq!(
            web.title,
            "shop/web: 3 Pods OOMKilled (exit 137) → Service web: service-no-ready-endpoints"
        );
        assert_eq!(incidents[1].root, "pod-oom-killed:Pod/shop/batch-1");
        assert!(incidents[1].same_cause.is_empty());
    }

    /// A policy isolating a Service from the ingress controller explains
    /// the controller's repeated upstream errors: one incident.
    #[test]
    fn controller_log_errors_link_to_the_policy_that_drops_its_traffic() {
        let svc = ObjectRef::namespaced("Service", "shop", "web");
        let ctl = ObjectRef::namespaced("Pod", "ingress-nginx", "ingress-nginx-controller-x");
        let other = ObjectRef::namespaced("Pod", "shop", "api-1");
        let mut policy = f(Rule::NetpolBlocksIngress, svc);
        policy.related.push(ctl.clone());
        let mut fs = vec![
            policy,
            f(Rule::PodLogErrors, ctl),
            f(Rule::PodLogErrors, other),
        ];
        link(&mut fs, &Links::default());
        assert_eq!(fs[1].caused_by, ["netpol-blocks-ingress:Service/shop/web"]);
        assert!(fs[2].caused_by.is_empty(), "a pod the policy does not name");
        let incidents = incidents(&fs);
        let root = incidents
            .iter()
            .find(|i| i.root == "netpol-blocks-ingress:Service/shop/web")
            .unwrap();
        assert_eq!(
            root.consequences,
            ["pod-log-errors:Pod/ingress-nginx/ingress-nginx-controller-x"]
        );
    }

    #[test]
    fn cycles_are_cut_and_dangling_links_pruned() {
        let (mut fs, links) = chain();
        if let Some(pod) = fs.iter_mut().find(|f| f.rule == "pod-oom-killed") {
            pod.caused_by
                .push("service-no-ready-endpoints:Service/shop/web".to_string());
        }
        link(&mut fs, &links);
        assert!(incidents(&fs)
            .iter()
            .all(|i| !i.consequences.contains(&i.root)));
        let svc = fs
            .iter()
            .find(|f| f.rule == "service-no-ready-endpoints")
            .unwrap();
        let oom = fs.iter().find(|f| f.rule == "pod-oom-killed").unwrap();
        assert!(!(svc.caused_by.contains(&oom.id) && oom.caused_by.contains(&svc.id)));
        fs.retain(|f| f.rule != "node-not-ready");
        prune_dangling(&mut fs);
        assert!(fs
            .iter()
            .all(|f| !f.caused_by.iter().any(|c| c.starts_with("node-not-ready"))));
    }

    #[test]
    fn node_pressure_evictions_and_exhausted_budgets_link_to_their_cause() {
        let evicted = ObjectRef::namespaced("Pod", "analytics", "report-worker-1");
        let crashing = ObjectRef::namespaced("Pod", "shop", "web-2");
        let pdb = ObjectRef::namespaced("PodDisruptionBudget", "shop", "web");
        let node = ObjectRef::cluster("Node", "n1");
        let mut exhausted = f(Rule::PdbDisruptionsExhausted, pdb);
        exhausted.related.push(crashing.clone());
        let mut fs = vec![
            f(Rule::PodEvicted, evicted.clone()),
            f(Rule::NodePressure, node),
            exhausted,
            f(Rule::PodCrashloop, crashing),
            f(
                Rule::PdbBlocksDrain,
                ObjectRef::namespaced("PodDisruptionBudget", "shop", "db"),
            ),
        ];
        let mut links = Links::default();
        links.pod_node.insert(evicted.to_string(), "n1".to_string());
        link(&mut fs, &links);
        let by = |rule: &str| {
            fs.iter()
                .find(|f| f.rule == rule)
                .map(|f| f.caused_by.clone())
                .unwrap()
        };
        assert_eq!(by("pod-evicted"), ["node-pressure:Node/n1"]);
        assert_eq!(
            by("pdb-disruptions-exhausted"),
            ["pod-crashloop:Pod/shop/web-2"]
        );
        assert!(by("pdb-blocks-drain").is_empty());
    }
}
