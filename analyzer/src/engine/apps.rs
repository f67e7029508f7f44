//! Applications: pods grouped by owning workload, with the Services that
//! select them and the Ingresses routing to those Services, and their
//! Ingress → Service → Endpoints → Pod → Node chain.
//!
//! Built in two steps because findings of later layers (nodes, cluster DNS)
//! only exist after every namespace was analysed: [`build`] runs during a
//! namespace's pass and keeps names only (the namespace's objects are dropped
//! right after); [`finish`] assigns findings to links once all are known.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::networking::v1::Ingress;
use kpm_model::{Application, ChainLink, Finding, Layer, LinkState, ObjectRef, Severity};
use kpm_semantics::PodExt;

use crate::context::{pod_ref, NamespaceCtx};

/// At most this many objects are listed per chain link; counts stay exact.
const MAX_LINK_OBJECTS: usize = 20;

/// An application while namespaces are still being read.
#[derive(Debug, Clone)]
pub struct AppSkeleton {
    /// `<namespace>/<name>`.
    pub key: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Owning workload.
    pub workload: Option<ObjectRef>,
    /// Ingresses in front.
    pub ingresses: Vec<ObjectRef>,
    /// Services selecting its pods.
    pub services: Vec<ObjectRef>,
    /// Pod names.
    pub pods: Vec<String>,
    /// Pods with `Ready=True`.
    pub pods_ready: usize,
    /// Nodes its pods run on.
    pub nodes: BTreeSet<String>,
    /// Ready / total addresses of its Services' Endpoints, when known.
    pub endpoints_ready: Option<(usize, usize)>,
    /// Kinds unavailable for this namespace, per chain layer.
    pub unknown_layers: Vec<Layer>,
}

/// Relations kept after a namespace is dropped, for root-cause linking:
/// all keyed by the display form of an `ObjectRef` (`Kind/ns/name`).
#[derive(Debug, Default)]
pub struct Links {
    /// Service → pods it selects.
    pub service_pods: HashMap<String, Vec<String>>,
    /// Ingress → backend Services.
    pub ingress_services: HashMap<String, Vec<String>>,
    /// Pod → node it runs on.
    pub pod_node: HashMap<String, String>,
    /// Object (pod, service, ingress, workload) → application key.
    pub object_app: HashMap<String, String>,
}

/// Backend Service names of an Ingress (rules and default backend).
pub fn ingress_backends(ing: &Ingress) -> Vec<String> {
    let Some(spec) = ing.spec.as_ref() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let default = spec
        .default_backend
        .as_ref()
        .and_then(|b| b.service.as_ref());
    let paths = spec
        .rules
        .iter()
        .flatten()
        .filter_map(|r| r.http.as_ref())
        .flat_map(|h| h.paths.iter())
        .filter_map(|p| p.backend.service.as_ref());
    for svc in default.into_iter().chain(paths) {
        if !out.contains(&svc.name) {
            out.push(svc.name.clone());
        }
    }
    out
}

/// Applications of one namespace by key, while they are being built.
type Apps = BTreeMap<String, AppSkeleton>;

/// An empty application `<ns>/<name>`.
fn new_app(ns: &str, name: &str, workload: Option<ObjectRef>) -> AppSkeleton {
    AppSkeleton {
        key: format!("{ns}/{name}"),
        namespace: ns.to_string(),
        name: name.to_string(),
        workload,
        ingresses: Vec::new(),
        services: Vec::new(),
        pods: Vec::new(),
        pods_ready: 0,
        nodes: BTreeSet::new(),
        endpoints_ready: None,
        unknown_layers: Vec::new(),
    }
}

/// Groups the namespace's pods into applications and records the relations
/// needed later. Linear in pods + Services × selected pods.
pub fn build(ctx: &NamespaceCtx<'_>, links: &mut Links) -> Vec<AppSkeleton> {
    let mut apps = Apps::new();
    let pod_app = add_pods(ctx, &mut apps, links);
    add_services(ctx, &mut apps, links, &pod_app);
    add_ingresses(ctx, &mut apps, links);
    let mut unknown = Vec::new();
    for (plural, layer) in [
        ("ingresses", Layer::Ingress),
        ("services", Layer::Service),
        ("endpoints", Layer::Endpoints),
        ("pods", Layer::Pod),
    ] {
        if ctx.ns.unavailable(plural).is_some() {
            unknown.push(layer);
        }
    }
    apps.into_values()
        .map(|mut a| {
            a.unknown_layers = unknown.clone();
            a
        })
        .collect()
}

/// One application per owning workload (or per bare pod); returns each
/// pod's application key.
fn add_pods<'a>(
    ctx: &NamespaceCtx<'a>,
    apps: &mut Apps,
    links: &mut Links,
) -> HashMap<&'a str, String> {
    let ns = ctx.namespace();
    let mut pod_app: HashMap<&str, String> = HashMap::new();
    for pod in &ctx.ns.pods {
        let Some(name) = pod.metadata.name.as_deref() else {
            continue;
        };
        let workload = ctx.owner_workload(pod);
        let app_name = workload
            .as_ref()
            .map_or(name, |w| w.name.as_str())
            .to_string();
        let key = format!("{ns}/{app_name}");
        let app = apps
            .entry(key.clone())
            .or_insert_with(|| new_app(ns, &app_name, workload.clone()));
        app.pods.push(name.to_string());
        if pod.is_ready() {
            app.pods_ready += 1;
        }
        let pref = pod_ref(pod).to_string();
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_ref()) {
            app.nodes.insert(node.clone());
            links.pod_node.insert(pref.clone(), node.clone());
        }
        links.object_app.insert(pref, key.clone());
        if let Some(w) = &workload {
            links.object_app.insert(w.to_string(), key.clone());
        }
        pod_app.insert(name, key);
    }
    pod_app
}

/// Attaches each Service to the applications of the pods it selects (or
/// makes it its own application when it selects none).
fn add_services(
    ctx: &NamespaceCtx<'_>,
    apps: &mut Apps,
    links: &mut Links,
    pod_app: &HashMap<&str, String>,
) {
    let ns = ctx.namespace();
    for svc in &ctx.ns.services {
        let Some(svc_name) = svc.metadata.name.as_deref() else {
            continue;
        };
        let sref = ctx.object("Service", svc_name);
        let selector = svc
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        let pods = ctx.pods_selected_by(&selector);
        let pod_names: Vec<String> = pods
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        let mut keys: BTreeSet<String> = pod_names
            .iter()
            .filter_map(|p| pod_app.get(p.as_str()).cloned())
            .collect();
        if keys.is_empty() {
            // No pod behind it: the Service is its own application, or joins
            // the workload of the same name (a selector typo).
            let key = format!("{ns}/{svc_name}");
            apps.entry(key.clone())
                .or_insert_with(|| new_app(ns, svc_name, None));
            keys.insert(key);
        }
        let (ready, total) = endpoint_counts(ctx, svc_name);
        for key in &keys {
            if let Some(app) = apps.get_mut(key) {
                app.services.push(sref.clone());
                if total > 0 || ctx.endpoints(svc_name).is_some() {
                    let (r, t) = app.endpoints_ready.unwrap_or((0, 0));
                    app.endpoints_ready = Some((r + ready, t + total));
                }
            }
        }
        if let Some(first) = keys.iter().next() {
            links.object_app.insert(sref.to_string(), first.clone());
        }
        links.service_pods.insert(
            sref.to_string(),
            pod_names
                .iter()
                .map(|p| ctx.object("Pod", p).to_string())
                .collect(),
        );
    }
}

/// Attaches each Ingress to the applications of its backend Services.
fn add_ingresses(ctx: &NamespaceCtx<'_>, apps: &mut Apps, links: &mut Links) {
    let svc_app: HashMap<String, Vec<String>> = apps
        .values()
        .flat_map(|a| {
            a.services
                .iter()
                .map(move |s| (s.name.clone(), a.key.clone()))
        })
        .fold(HashMap::new(), |mut m, (s, k)| {
            m.entry(s).or_default().push(k);
            m
        });
    for ing in &ctx.ns.ingresses {
        let Some(ing_name) = ing.metadata.name.as_deref() else {
            continue;
        };
        let iref = ctx.object("Ingress", ing_name);
        let backends = ingress_backends(ing);
        for b in &backends {
            for key in svc_app.get(b).into_iter().flatten() {
                if let Some(app) = apps.get_mut(key) {
                    if !app.ingresses.contains(&iref) {
                        app.ingresses.push(iref.clone());
                    }
                    links
                        .object_app
                        .entry(iref.to_string())
                        .or_insert_with(|| key.clone());
                }
            }
        }
        links.ingress_services.insert(
            iref.to_string(),
            backends
                .iter()
                .map(|b| ctx.object("Service", b).to_string())
                .collect(),
        );
    }
}

/// Ready and total addresses of a Service's Endpoints.
fn endpoint_counts(ctx: &NamespaceCtx<'_>, svc: &str) -> (usize, usize) {
    let Some(ep) = ctx.endpoints(svc) else {
        return (0, 0);
    };
    let mut ready = 0;
    let mut total = 0;
    for s in ep.subsets.iter().flatten() {
        let r = s.addresses.as_ref().map_or(0, Vec::len);
        ready += r;
        total += r + s.not_ready_addresses.as_ref().map_or(0, Vec::len);
    }
    (ready, total)
}

/// The chain link a finding's layer belongs to.
fn chain_layer(layer: Layer) -> Layer {
    match layer {
        Layer::Ingress => Layer::Ingress,
        Layer::Service => Layer::Service,
        Layer::Endpoints => Layer::Endpoints,
        Layer::Node => Layer::Node,
        _ => Layer::Pod,
    }
}

fn state_of(findings: &[&Finding], present: bool, unknown: bool) -> LinkState {
    let worst = findings.iter().map(|f| f.severity).max();
    match worst {
        Some(s) if s >= Severity::Error => LinkState::Broken,
        Some(Severity::Warning) => LinkState::Degraded,
        _ if unknown => LinkState::Unknown,
        _ if !present => LinkState::Absent,
        _ => LinkState::Ok,
    }
}

/// Turns skeletons into report applications, assigning each finding to the
/// chain link of its layer. `object_app` maps finding objects to app keys;
/// `roots` gives, per finding id, the root causes it leads back to.
pub fn finish(
    skeletons: Vec<AppSkeleton>,
    findings: &[Finding],
    roots: &HashMap<String, Vec<String>>,
) -> Vec<Application> {
    let mut by_app: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for f in findings {
        if let Some(app) = f.application.as_deref() {
            by_app.entry(app).or_default().push(f);
        }
    }
    let mut out: Vec<Application> = skeletons
        .into_iter()
        .map(|s| {
            let fs = by_app.get(s.key.as_str()).cloned().unwrap_or_default();
            application(s, &fs, roots)
        })
        .collect();
    // Broken first, then by key for a stable order.
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.key.cmp(&b.key)));
    out
}

/// One application with its findings `fs`.
fn application(
    s: AppSkeleton,
    fs: &[&Finding],
    roots: &HashMap<String, Vec<String>>,
) -> Application {
    let chain = chain_of(&s, fs);
    let first_broken = chain
        .iter()
        .find(|l| l.state == LinkState::Broken)
        .map(|l| l.layer);
    let mut root_causes: Vec<String> = Vec::new();
    for f in fs {
        for r in roots.get(&f.id).into_iter().flatten() {
            if !root_causes.contains(r) {
                root_causes.push(r.clone());
            }
        }
    }
    Application {
        key: s.key,
        namespace: s.namespace,
        name: s.name,
        workload: s.workload,
        chain,
        first_broken,
        root_causes,
        severity: fs.iter().map(|f| f.severity).max(),
    }
}

/// The Ingress → Service → Endpoints → Pod → Node links of an application.
fn chain_of(s: &AppSkeleton, fs: &[&Finding]) -> Vec<ChainLink> {
    let at = |layer: Layer| -> Vec<&Finding> {
        fs.iter()
            .copied()
            .filter(|f| chain_layer(f.layer) == layer)
            .collect()
    };
    let pods: Vec<ObjectRef> = s
        .pods
        .iter()
        .take(MAX_LINK_OBJECTS)
        .map(|p| ObjectRef::namespaced("Pod", &s.namespace, p))
        .collect();
    let endpoints: Vec<ObjectRef> = s
        .services
        .iter()
        .map(|svc| ObjectRef::namespaced("Endpoints", &s.namespace, &svc.name))
        .collect();
    let nodes: Vec<ObjectRef> = s
        .nodes
        .iter()
        .take(MAX_LINK_OBJECTS)
        .map(|n| ObjectRef::cluster("Node", n))
        .collect();
    let unknown = |l: Layer| s.unknown_layers.contains(&l);
    let link = |layer: Layer, objects: Vec<ObjectRef>, summary: String| {
        let f = at(layer);
        ChainLink {
            layer,
            state: state_of(&f, !objects.is_empty(), unknown(layer)),
            objects,
            summary,
            findings: f.iter().map(|f| f.id.clone()).collect(),
        }
    };
    let ep_summary = match s.endpoints_ready {
        Some((r, t)) => format!("{r}/{t} addresses ready"),
        None if s.services.is_empty() => String::new(),
        None => "no Endpoints object".to_string(),
    };
    let node_summary = match s.nodes.len() {
        0 if !s.pods.is_empty() => "not scheduled".to_string(),
        n => counted(n, "node", "nodes"),
    };
    vec![
        link(
            Layer::Ingress,
            s.ingresses.clone(),
            counted(s.ingresses.len(), "ingress", "ingresses"),
        ),
        link(
            Layer::Service,
            s.services.clone(),
            counted(s.services.len(), "service", "services"),
        ),
        link(Layer::Endpoints, endpoints, ep_summary),
        link(
            Layer::Pod,
            pods,
            format!("{}/{} ready", s.pods_ready, s.pods.len()),
        ),
        link(Layer::Node, nodes, node_summary),
    ]
}

/// `n` things in words for a chain link's summary: empty for none (the
/// link's state already says the layer is absent), else "1 ingress",
/// "2 ingresses".
fn counted(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => String::new(),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}
