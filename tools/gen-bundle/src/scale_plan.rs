//! The plan of a generated cluster: namespaces of apps, each a small
//! description with an optional injected failure.

use crate::ids::{self, Rng};
use crate::scale::ScaleOptions;

/// A failure injected into an app; one per rule family the analyzer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Tag does not exist.
    ImageNotFound,
    /// Private registry without imagePullSecrets.
    ImagePullAuth,
    /// Exits with code 1.
    CrashLoop,
    /// OOMKilled and near its limit again.
    OomKilled,
    /// Requests more CPU than any node has.
    Unschedulable,
    /// Mounts a missing Secret.
    MountFailed,
    /// Env from a missing ConfigMap key.
    ConfigError,
    /// Readiness probe answers 503.
    NotReady,
    /// Service selector typo.
    SelectorMismatch,
    /// Service targetPort not a containerPort.
    TargetPortMismatch,
    /// Readiness probe on an undeclared port.
    ProbePortMismatch,
    /// Ingress backend Service missing.
    IngressServiceMissing,
    /// Ingress backend port missing.
    IngressPortMissing,
    /// HPA on CPU without CPU requests.
    HpaMissingRequests,
    /// ConfigMap changed after pods started.
    StaleConfigMap,
    /// Secret rotated after pods started.
    StaleSecret,
    /// No limits.
    NoLimits,
}

impl Failure {
    /// Every kind, in a fixed order.
    pub const ALL: [Failure; 17] = [
        Failure::ImageNotFound,
        Failure::ImagePullAuth,
        Failure::CrashLoop,
        Failure::OomKilled,
        Failure::Unschedulable,
        Failure::MountFailed,
        Failure::ConfigError,
        Failure::NotReady,
        Failure::SelectorMismatch,
        Failure::TargetPortMismatch,
        Failure::ProbePortMismatch,
        Failure::IngressServiceMissing,
        Failure::IngressPortMissing,
        Failure::HpaMissingRequests,
        Failure::StaleConfigMap,
        Failure::StaleSecret,
        Failure::NoLimits,
    ];

    /// The rule id it should trigger.
    pub fn name(self) -> &'static str {
        match self {
            Failure::ImageNotFound => "pod-image-not-found",
            Failure::ImagePullAuth => "pod-image-pull-auth",
            Failure::CrashLoop => "pod-crashloop",
            Failure::OomKilled => "pod-oom-killed",
            Failure::Unschedulable => "pod-unschedulable",
            Failure::MountFailed => "pod-mount-failed",
            Failure::ConfigError => "pod-config-error",
            Failure::NotReady => "pod-not-ready",
            Failure::SelectorMismatch => "service-selector-mismatch",
            Failure::TargetPortMismatch => "service-target-port-mismatch",
            Failure::ProbePortMismatch => "probe-port-mismatch",
            Failure::IngressServiceMissing => "ingress-backend-service-missing",
            Failure::IngressPortMissing => "ingress-backend-port-missing",
            Failure::HpaMissingRequests => "hpa-missing-requests",
            Failure::StaleConfigMap => "config-stale-configmap",
            Failure::StaleSecret => "config-stale-secret",
            Failure::NoLimits => "resources-no-limits",
        }
    }
}

/// One Deployment (+ Service, Ingress, HPA, ConfigMap, Secret) to generate.
#[derive(Debug, Clone)]
pub struct AppDesc {
    /// Deployment name.
    pub name: String,
    /// Replicas.
    pub replicas: u64,
    /// Global index of its first pod (fixes node and pod IP).
    pub first_pod: u64,
    /// CPU request in millicores.
    pub cpu: u64,
    /// Memory limit in MiB (request is half).
    pub mem: u64,
    /// Image.
    pub image: String,
    /// Age of the Deployment and of its current rollout.
    pub created_ago: i64,
    /// Age of the current rollout.
    pub rollout_ago: i64,
    /// The injected failure.
    pub failure: Option<Failure>,
    /// Has an Ingress.
    pub ingress: bool,
    /// Has an HPA.
    pub hpa: bool,
    /// Revision of its current ReplicaSet (2 after a `--perturb` rollout).
    pub revision: u32,
    /// Image and rollout age of revision 1, when a rollout replaced it.
    pub previous: Option<(String, i64)>,
    /// What `--perturb` changed (None without it, and for most apps).
    pub change: Option<crate::scale_perturb::Change>,
    /// Replicas recreated since the plan (another name and uid).
    pub replaced: Vec<u64>,
    /// A StatefulSet (a database with one volume per replica) instead of a
    /// Deployment; never given a failure or a `--perturb` change.
    pub stateful: bool,
}

/// One namespace of the plan.
#[derive(Debug, Clone)]
pub struct NsDesc {
    /// Name.
    pub name: String,
    /// Age.
    pub created_ago: i64,
    /// Its apps.
    pub apps: Vec<AppDesc>,
}

/// The whole cluster as small descriptions (about 100 bytes per app).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Namespaces.
    pub namespaces: Vec<NsDesc>,
}

/// One app in this many is a StatefulSet (databases, queues), as in a
/// typical microservice cluster where ~5 % of workloads keep state.
const STATEFUL_ONE_IN: u64 = 20;

const TEAMS: &[&str] = &[
    "checkout", "catalog", "payments", "search", "identity", "billing", "shipping", "media",
    "growth", "data", "platform", "support",
];
const APPS: &[&str] = &[
    "api",
    "worker",
    "gateway",
    "scheduler",
    "indexer",
    "renderer",
    "sync",
    "consumer",
    "exporter",
    "web",
    "resolver",
    "notifier",
];

/// Splits `opts.pods` into namespaces of apps of 2–6 replicas.
pub fn plan(opts: &ScaleOptions) -> Plan {
    let mut rng = Rng::new(opts.seed);
    let ns_count = (opts.pods / 300).max(2);
    // The daemon pods (one per node) and the finished Jobs' pods count
    // among the pods asked for.
    let per_ns = opts.pods.saturating_sub(opts.nodes) / ns_count;
    let mut next_pod = 0;
    let mut namespaces = Vec::new();
    for n in 0..ns_count {
        let team = TEAMS
            .get((n % TEAMS.len() as u64) as usize)
            .copied()
            .unwrap_or("team");
        let name = format!("{team}-{n}");
        let mut apps = Vec::new();
        let mut pods = 0;
        let mut a = 0;
        let per_ns = per_ns
            .saturating_sub(crate::scale_batch::pods_in(&name))
            .max(1);
        while pods < per_ns {
            let replicas = (2 + rng.below(5)).min(per_ns - pods).max(1);
            let base = APPS
                .get(rng.below(APPS.len() as u64) as usize)
                .copied()
                .unwrap_or("app");
            let failure = if rng.unit() < opts.failure_rate {
                rng.pick(&Failure::ALL).copied()
            } else {
                None
            };
            let created_ago = 86_400 * (5 + rng.below(200) as i64);
            let rollout_ago = 3_600 * (2 + rng.below(24 * 4) as i64);
            // Keyed by name, not drawn from `rng`: every other app's draws
            // stay what they were before StatefulSets were generated.
            let stateful = ids::hash(&format!("sts/{name}/{a}")).is_multiple_of(STATEFUL_ONE_IN);
            let mut app = AppDesc {
                name: format!("{base}-{a}"),
                replicas,
                first_pod: next_pod,
                cpu: 50 + 25 * rng.below(8),
                mem: 128 << rng.below(3),
                image: format!(
                    "ghcr.io/acme-{team}/{base}:{}.{}.{}",
                    1 + rng.below(5),
                    rng.below(20),
                    rng.below(10)
                ),
                created_ago,
                rollout_ago: rollout_ago.min(created_ago),
                failure,
                ingress: rng.below(4) == 0,
                hpa: rng.below(3) == 0,
                revision: 1,
                previous: None,
                change: None,
                replaced: Vec::new(),
                stateful: false,
            };
            if stateful {
                app = crate::scale_stateful::as_stateful(app);
                app.replicas = app.replicas.min(per_ns - pods);
            }
            next_pod += app.replicas;
            pods += app.replicas;
            apps.push(app);
            a += 1;
        }
        namespaces.push(NsDesc {
            name,
            created_ago: 86_400 * 300,
            apps,
        });
    }
    Plan { namespaces }
}
