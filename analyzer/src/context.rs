//! What a rule sees: the parsed bundle, one namespace at a time.
//!
//! Loading is split in two so the analyzer holds at most one namespace in
//! memory: [`ClusterData`] (cluster-scoped lists plus a cheap cross-namespace
//! "infra" pass: ingress controllers, CoreDNS, metrics-server, autoscalers)
//! lives for the whole run, while a [`NamespaceData`] is parsed, analysed and
//! dropped. Rules receive a [`NamespaceCtx`] (or a [`ClusterCtx`] for the
//! node layer) and return [`Finding`]s; they never read the bundle's layout
//! themselves, so the layout can change in one place.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, PersistentVolume,
    PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::{StorageClass, VolumeAttachment};
use kpm_bundle::{Bundle, Outcome};
use kpm_model::{Damage, Evidence, Finding, LogLine, NextStep, ObjectRef, Severity};

use crate::rules::registry::Rule;
use kpm_semantics::{NodeMetrics, PodMetrics};

pub use crate::engine::index::EventView;
pub use crate::engine::logs::LogTail;

/// Why a list is not available to the rules. Rules that need it must not
/// pass silently: the engine turns this into a `CoverageGap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The collection step failed (forbidden, not found, timeout, error).
    Failed {
        /// Outcome recorded in the manifest.
        outcome: Outcome,
        /// HTTP status recorded, if any.
        http_status: Option<u16>,
        /// Message recorded, if any.
        message: Option<String>,
    },
    /// No step and no file: the collector did not collect it.
    NotCollected,
    /// The file is in the bundle but could not be parsed.
    Damaged {
        /// The reader's error, naming the file.
        problem: String,
    },
}

impl fmt::Display for Unavailable {
    /// Reads as the tail of "secrets ...": `forbidden (403) during collection`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::Failed {
                outcome,
                http_status,
                ..
            } => {
                let what = match outcome {
                    Outcome::Ok => "collected",
                    Outcome::Forbidden => "forbidden",
                    Outcome::NotFound => "not found",
                    Outcome::Timeout => "timed out",
                    Outcome::Error => "failed",
                };
                match http_status {
                    Some(code) => write!(f, "{what} ({code}) during collection"),
                    None => write!(f, "{what} during collection"),
                }
            }
            Unavailable::NotCollected => f.write_str("not collected"),
            Unavailable::Damaged { problem } => write!(f, "damaged in the bundle ({problem})"),
        }
    }
}

/// A pod of cluster infrastructure found by the cheap first pass, kept small
/// (no full spec) so the pass stays cheap at 150,000 pods.
#[derive(Debug, Clone, PartialEq)]
pub struct InfraPod {
    /// The pod.
    pub object: ObjectRef,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Node it runs on.
    pub node: Option<String>,
    /// `status.phase`.
    pub phase: String,
    /// Every container is running.
    pub running: bool,
    /// Condition `Ready=True`.
    pub ready: bool,
    /// Container images.
    pub images: Vec<String>,
    /// Every container's `command` and `args`, in order (to read flags such as
    /// `--ingress-class=nginx`).
    pub args: Vec<String>,
    /// Log files of the pod in the bundle.
    pub log_files: Vec<String>,
}

impl InfraPod {
    /// Running and ready: able to serve.
    pub fn healthy(&self) -> bool {
        self.running && self.ready
    }

    /// Value of a `--flag=value` (or `--flag value`) in the containers' args.
    pub fn flag(&self, flag: &str) -> Option<&str> {
        let eq = format!("--{flag}=");
        let bare = format!("--{flag}");
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            if let Some(v) = a.strip_prefix(&eq) {
                return Some(v);
            }
            if *a == bare {
                return it.next().map(String::as_str);
            }
        }
        None
    }
}

/// An ingress controller pod and what it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct IngressController {
    /// The pod.
    pub pod: InfraPod,
    /// `ingress-nginx`, `traefik`, `haproxy`, `contour`, `kong`... (from
    /// labels and image).
    pub implementation: String,
    /// `--controller-class` (IngressClass `spec.controller` it implements),
    /// or the implementation's default, e.g. `k8s.io/ingress-nginx`.
    pub controller_class: Option<String>,
    /// `--ingress-class` flag, when given.
    pub ingress_class: Option<String>,
}

/// Cluster Autoscaler or Karpenter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoscalerKind {
    /// kubernetes/autoscaler cluster-autoscaler.
    ClusterAutoscaler,
    /// Karpenter.
    Karpenter,
}

/// Cross-namespace facts from the cheap first pass.
#[derive(Debug, Clone, Default)]
pub struct Infra {
    /// Ingress controller pods, any namespace.
    pub ingress_controllers: Vec<IngressController>,
    /// CoreDNS / kube-dns pods (`k8s-app=kube-dns`).
    pub dns_pods: Vec<InfraPod>,
    /// metrics-server pods.
    pub metrics_server_pods: Vec<InfraPod>,
    /// Whether any `metrics/namespaces/*/pods.json` is in the bundle: the
    /// metrics API answered during collection.
    pub pod_metrics_available: bool,
    /// Why pod metrics are missing, when the manifest says (e.g. `metrics/pods`
    /// not found: no metrics-server).
    pub pod_metrics_problem: Option<String>,
    /// Cluster Autoscaler / Karpenter pods.
    pub autoscalers: Vec<(AutoscalerKind, InfraPod)>,
    /// Where each infrastructure pod sits on the pod network, by its
    /// `Pod/<ns>/<name>`: what NetworkPolicy peers (`ipBlock`, host
    /// network) are judged on.
    pub pod_network: HashMap<String, PodNetwork>,
}

/// A pod's place on the network, as its spec and status say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodNetwork {
    /// `status.podIP`, when it parses.
    pub ip: Option<std::net::IpAddr>,
    /// `spec.hostNetwork`: its traffic leaves with the node's address.
    pub host_network: bool,
}

/// The cluster-scoped kinds that sit beside the pods rather than in the
/// request path: what storage, scheduling priority and admission rules read.
#[derive(Debug, Clone, Default)]
pub struct Platform {
    /// PersistentVolumes.
    #[allow(dead_code)] // TODO(#18): read by the storage layer.
    pub persistent_volumes: Vec<PersistentVolume>,
    /// StorageClasses (storage.k8s.io/v1).
    #[allow(dead_code)] // TODO(#18): read by the storage layer.
    pub storage_classes: Vec<StorageClass>,
    /// VolumeAttachments (storage.k8s.io/v1).
    #[allow(dead_code)] // TODO(#18): read by the storage layer.
    pub volume_attachments: Vec<VolumeAttachment>,
    /// PriorityClasses (scheduling.k8s.io/v1).
    #[allow(dead_code)] // TODO(#18): each field goes once its rule layer reads it.
    pub priority_classes: Vec<PriorityClass>,
    /// ValidatingWebhookConfigurations (admissionregistration.k8s.io/v1).
    pub validating_webhooks: Vec<ValidatingWebhookConfiguration>,
    /// MutatingWebhookConfigurations (admissionregistration.k8s.io/v1).
    pub mutating_webhooks: Vec<MutatingWebhookConfiguration>,
    /// The Services the webhook configurations call, as their namespaces
    /// hold them (read once at load: they live in other namespaces than
    /// the pods they admit).
    pub webhook_backends: Vec<WebhookBackend>,
}

/// A webhook's backend Service and its Endpoints, read at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookBackend {
    /// Namespace of the Service.
    pub namespace: String,
    /// Name of the Service.
    pub name: String,
    /// Whether the Service exists; `None` when its namespace's Services
    /// are not in the bundle.
    pub service_exists: Option<bool>,
    /// Ready and not-ready addresses of its Endpoints; `None` when its
    /// namespace's Endpoints are not in the bundle.
    pub addresses: Option<(usize, usize)>,
}

/// Cluster-scoped data, alive for the whole run.
#[derive(Debug, Clone)]
pub struct ClusterData {
    /// The collection end (`manifest.collection.finishedAt`): every age is
    /// judged against it, never the analysing machine's clock.
    pub now: DateTime<Utc>,
    /// API server `gitVersion`.
    pub server_version: Option<String>,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// IngressClasses.
    pub ingress_classes: Vec<IngressClass>,
    /// Namespaces (their labels are what NetworkPolicy namespace selectors
    /// and Pod Security admission match).
    pub namespaces: Vec<Namespace>,
    /// Storage, priority and admission kinds.
    pub platform: Platform,
    /// `metrics/nodes.json`, when the metrics API answered.
    pub node_metrics: Option<Vec<NodeMetrics>>,
    /// `derived/node-allocation.json`: per node, requests and limits of
    /// non-terminated pods against allocatable, as `kubectl describe node`.
    pub node_allocation: Option<kpm_semantics::allocation::SystemAllocationFile>,
    /// Cluster kinds that are unavailable, by plural name.
    pub unavailable: BTreeMap<String, Unavailable>,
    /// Cross-namespace infrastructure facts.
    pub infra: Infra,
    /// Pods that are `Pending` and unscheduled, from every namespace. Filled
    /// during the namespace pass, so only complete for cluster rules, which
    /// run after it.
    pub pending_pods: Vec<Pod>,
    /// Events about each node, merged across the namespaces they were
    /// recorded in (`default` in practice). Filled during the namespace
    /// pass, like `pending_pods`.
    pub node_events: BTreeMap<String, Vec<EventView>>,
    /// The rules of every Ingress, filled during the namespace pass like
    /// `pending_pods`: what access-log requests are compared against.
    pub ingress_routing: Vec<crate::rules::ingress::unrouted::IngressRouting>,
    pub(crate) node_index: HashMap<String, usize>,
    /// Free cpu and memory per node, computed on first use: scheduling
    /// evidence for each pending pod compares it against every node, and
    /// re-parsing 5,000 nodes' quantities per pod dominated large bundles.
    pub(crate) node_free: std::sync::OnceLock<Vec<NodeFree>>,
}

/// What the scheduler still sees free on one node (allocatable minus the
/// requests of its non-terminated pods, as `kubectl describe node`).
#[derive(Debug, Clone)]
pub struct NodeFree {
    /// Node name.
    pub node: String,
    /// Free cpu (negative when requests overshoot).
    pub cpu: kpm_semantics::quantity::Quantity,
    /// Free memory (negative when requests overshoot).
    pub memory: kpm_semantics::quantity::Quantity,
}

impl ClusterData {
    /// Free cpu and memory of every node in `derived/node-allocation.json`
    /// (empty without it), in the file's order; computed once.
    pub fn node_free(&self) -> &[NodeFree] {
        self.node_free.get_or_init(|| {
            self.node_allocation
                .iter()
                .flat_map(|a| a.nodes.iter())
                .map(|n| NodeFree {
                    node: n.node.clone(),
                    cpu: n.free("cpu"),
                    memory: n.free("memory"),
                })
                .collect()
        })
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.node_index.get(name).and_then(|i| self.nodes.get(*i))
    }

    /// Metrics of a node, if collected.
    pub fn node_metrics(&self, name: &str) -> Option<&NodeMetrics> {
        self.node_metrics
            .as_ref()
            .and_then(|m| m.iter().find(|n| n.metadata.name.as_deref() == Some(name)))
    }

    /// The IngressClass of that name.
    pub fn ingress_class(&self, name: &str) -> Option<&IngressClass> {
        self.ingress_classes
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
    }

    /// The IngressClass annotated `ingressclass.kubernetes.io/is-default-class: "true"`.
    pub fn default_ingress_class(&self) -> Option<&IngressClass> {
        self.ingress_classes.iter().find(|c| {
            c.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("ingressclass.kubernetes.io/is-default-class"))
                .is_some_and(|v| v == "true")
        })
    }

    /// Controller pods serving IngressClass `class` (matched on
    /// `spec.controller` = `--controller-class`, or on `--ingress-class`).
    pub fn ingress_controllers_for_class(&self, class: &str) -> Vec<&IngressController> {
        let controller = self
            .ingress_class(class)
            .and_then(|c| c.spec.as_ref())
            .and_then(|s| s.controller.clone());
        self.infra
            .ingress_controllers
            .iter()
            .filter(|c| {
                c.ingress_class.as_deref() == Some(class)
                    || (controller.is_some() && c.controller_class == controller)
            })
            .collect()
    }
}

/// Every namespaced list of one namespace, parsed into k8s-openapi types.
#[derive(Debug, Default)]
pub struct NamespaceData {
    /// Namespace name.
    pub name: String,
    /// Pods.
    pub pods: Vec<Pod>,
    /// Core v1 Events.
    pub events: Vec<Event>,
    /// Services.
    pub services: Vec<Service>,
    /// Endpoints.
    pub endpoints: Vec<Endpoints>,
    /// EndpointSlices.
    pub endpoint_slices: Vec<EndpointSlice>,
    /// Ingresses.
    pub ingresses: Vec<Ingress>,
    /// HorizontalPodAutoscalers (autoscaling/v2).
    pub hpas: Vec<HorizontalPodAutoscaler>,
    /// Deployments.
    pub deployments: Vec<Deployment>,
    /// ReplicaSets.
    pub replicasets: Vec<ReplicaSet>,
    /// StatefulSets.
    pub statefulsets: Vec<StatefulSet>,
    /// DaemonSets.
    pub daemonsets: Vec<DaemonSet>,
    /// Jobs.
    pub jobs: Vec<Job>,
    /// ConfigMaps.
    pub config_maps: Vec<ConfigMap>,
    /// Secrets (values removed by the collector; keys kept).
    pub secrets: Vec<Secret>,
    /// PersistentVolumeClaims.
    pub pvcs: Vec<PersistentVolumeClaim>,
    /// CronJobs (batch/v1).
    pub cron_jobs: Vec<CronJob>,
    /// ResourceQuotas.
    pub resource_quotas: Vec<ResourceQuota>,
    /// LimitRanges.
    pub limit_ranges: Vec<LimitRange>,
    /// PodDisruptionBudgets (policy/v1).
    pub pdbs: Vec<PodDisruptionBudget>,
    /// NetworkPolicies (networking.k8s.io/v1).
    pub network_policies: Vec<NetworkPolicy>,
    /// `metrics/namespaces/<ns>/pods.json`, when the metrics API answered.
    pub pod_metrics: Option<Vec<PodMetrics>>,
    /// Kinds (plural names) that are unavailable, and why.
    pub unavailable: BTreeMap<String, Unavailable>,
    /// Damage met while loading this namespace.
    pub damage: Vec<Damage>,
}

impl NamespaceData {
    /// Why `plural` (e.g. `secrets`) is unavailable, or `None` when it was
    /// read fine.
    pub fn unavailable(&self, plural: &str) -> Option<&Unavailable> {
        self.unavailable.get(plural)
    }
}

/// What a namespaced rule sees: the bundle, the cluster and one namespace,
/// with indexes so no rule scans every pod per object.
pub struct NamespaceCtx<'a> {
    /// The bundle (for logs).
    pub bundle: &'a Bundle,
    /// Cluster data.
    pub cluster: &'a ClusterData,
    /// The namespace.
    pub ns: &'a NamespaceData,
    /// Collection end: judge every age against it.
    pub now: DateTime<Utc>,
    pub(crate) index: crate::engine::index::NsIndex,
    pub(crate) damage: RefCell<Vec<Damage>>,
}

/// What a cluster-scoped rule (node layer, cluster DNS) sees.
pub struct ClusterCtx<'a> {
    /// The bundle (for autoscaler logs).
    pub bundle: &'a Bundle,
    /// Cluster data, `pending_pods` filled.
    pub cluster: &'a ClusterData,
    /// Collection end.
    pub now: DateTime<Utc>,
    pub(crate) damage: RefCell<Vec<Damage>>,
}

impl<'a> ClusterCtx<'a> {
    /// A context over `cluster`.
    pub fn new(bundle: &'a Bundle, cluster: &'a ClusterData) -> ClusterCtx<'a> {
        ClusterCtx {
            bundle,
            cluster,
            now: cluster.now,
            damage: RefCell::new(Vec::new()),
        }
    }

    /// Starts a finding of `rule` (see [`FindingBuilder`]).
    pub fn finding(&self, rule: Rule, object: ObjectRef) -> FindingBuilder {
        FindingBuilder::new(rule, object)
    }

    /// The last `n` lines of a log file of the bundle, numbered. A read
    /// failure is recorded as damage and yields `None`.
    pub fn log_tail(&self, file: &str, n: usize) -> Option<LogTail> {
        crate::engine::logs::read_log_tail(self.bundle, file, n, &self.damage)
    }

    /// Lines of a log file (up to `max`) for which `pred` holds, numbered.
    pub fn log_grep(&self, file: &str, max: usize, pred: impl Fn(&str) -> bool) -> Vec<LogLine> {
        crate::engine::logs::read_log_grep(self.bundle, file, max, pred, &self.damage)
    }

    /// Damage met by rules (unreadable logs), taken by the engine.
    pub fn take_damage(&self) -> Vec<Damage> {
        self.damage.take()
    }
}

/// `<rule>:<Kind/ns/name>`: the id of a finding, unique in a report.
pub fn finding_id(rule: Rule, object: &ObjectRef) -> String {
    format!("{rule}:{object}")
}

/// Builds a [`Finding`] step by step, so rules read as prose.
#[derive(Debug, Clone)]
pub struct FindingBuilder {
    finding: Finding,
}

impl FindingBuilder {
    /// A finding of `rule` about `object`, with the layer and default
    /// severity of its registry entry and empty symptom and cause.
    pub fn new(rule: Rule, object: ObjectRef) -> FindingBuilder {
        FindingBuilder {
            finding: Finding {
                id: finding_id(rule, &object),
                rule: rule.id().to_string(),
                layer: rule.layer(),
                severity: rule.severity(),
                object,
                application: None,
                symptom: String::new(),
                cause: String::new(),
                evidence: Vec::new(),
                next_steps: Vec::new(),
                caused_by: Vec::new(),
                related: Vec::new(),
            },
        }
    }

    /// The symptom as kubectl shows it.
    pub fn symptom(mut self, symptom: impl Into<String>) -> Self {
        self.finding.symptom = symptom.into();
        self
    }

    /// The cause, one specific sentence.
    pub fn cause(mut self, cause: impl Into<String>) -> Self {
        self.finding.cause = cause.into();
        self
    }

    /// Adds one piece of evidence.
    pub fn evidence(mut self, evidence: Evidence) -> Self {
        self.finding.evidence.push(evidence);
        self
    }

    /// Adds several pieces of evidence.
    pub fn evidence_all(mut self, evidence: impl IntoIterator<Item = Evidence>) -> Self {
        self.finding.evidence.extend(evidence);
        self
    }

    /// Adds a `Field` evidence on `object`.
    pub fn field(
        self,
        object: &ObjectRef,
        path: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.evidence(Evidence::Field {
            object: object.clone(),
            path: path.into(),
            value: value.into(),
        })
    }

    /// Adds a `Note` evidence.
    pub fn note(self, text: impl Into<String>) -> Self {
        self.evidence(Evidence::Note { text: text.into() })
    }

    /// Adds a command to run next.
    pub fn next_step(mut self, description: impl Into<String>, command: impl Into<String>) -> Self {
        self.finding.next_steps.push(NextStep {
            description: description.into(),
            command: command.into(),
        });
        self
    }

    /// Adds a related object.
    pub fn related(mut self, object: ObjectRef) -> Self {
        if !self.finding.related.contains(&object) {
            self.finding.related.push(object);
        }
        self
    }

    /// Overrides the severity (e.g. a warning-level variant of a rule).
    pub fn severity(mut self, severity: Severity) -> Self {
        self.finding.severity = severity;
        self
    }

    /// The finished finding.
    pub fn build(self) -> Finding {
        self.finding
    }
}

/// A Pod's `ObjectRef`.
pub fn pod_ref(pod: &Pod) -> ObjectRef {
    object_ref("Pod", &pod.metadata)
}

/// `ObjectRef` of any namespaced object from its metadata.
pub fn object_ref(
    kind: &str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> ObjectRef {
    ObjectRef {
        kind: kind.to_string(),
        namespace: meta.namespace.clone(),
        name: meta.name.clone().unwrap_or_default(),
    }
}
