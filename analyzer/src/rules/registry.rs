//! The rule registry: one entry per rule id, the only place a rule's id,
//! layer, default severity, "fires when" sentence and causal role are
//! written (like ruff's `codes.rs` or ripgrep's `FLAGS`).
//!
//! Rules start findings from a [`Rule`] (`ctx.finding(Rule::PodOomKilled,
//! object)`), the linker asks an entry which causes it can have and which
//! consequences it explains, `docs/rules.md`'s table is generated from
//! [`RULES`] (a test fails on drift) and configuration files name rules by
//! [`Rule::id`]. A misspelt id is a compile error, not a silently dropped
//! causal link.

use std::fmt;

use kpm_model::{Layer, Severity};

/// A kind of causal relation along the troubleshooting chain. A rule whose
/// entry lists a link in [`RuleInfo::causes`] can explain findings whose
/// entry lists it in [`RuleInfo::effects`], when the two objects are related
/// as the link says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// A pod is not a ready endpoint (related: the Service's selected pods,
    /// or the pods a finding names, e.g. CoreDNS's for `dns-unhealthy`).
    PodNotServing,
    /// A Service has no ready endpoints (related: the Ingress's backends).
    ServiceNotServing,
    /// A broken node makes the runtime of its pods fail (related: the
    /// pod's node). Spec problems and scheduling are never explained so.
    NodeBroken,
    /// A pending pod has no node to go to (related: a node-layer finding
    /// that names the pod).
    NoPlaceForPod,
    /// An application-level failure in a pod's own logs (DNS, RBAC) makes
    /// it crash or fail its probes (related: the same pod).
    AppError,
    /// Cluster DNS is down, so lookups fail everywhere (related: any).
    ClusterDnsDown,
    /// A Job failed (related: the Jobs a finding names, e.g. the CronJob's
    /// last scheduled run).
    JobFailing,
    /// The CronJob controller is not starting a CronJob's runs (related:
    /// the same CronJob).
    CronjobNotStarting,
    /// NetworkPolicies drop a client pod's traffic to a Service's pods
    /// (related: the client pods a finding names, e.g. the ingress
    /// controller whose log repeats upstream timeouts).
    TrafficDropped,
    /// A controller cannot create its pods: the API server refuses them
    /// (related: the workloads — Deployment, ReplicaSet, StatefulSet,
    /// DaemonSet, Job, CronJob — both findings name).
    PodsNotCreated,
    /// A pod waits on a volume: its claim does not bind or its volume
    /// cannot be attached on its node (related: a storage finding that
    /// names the pod).
    VolumeBlocked,
}

/// One rule: everything about it that is not its code.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// The enum value.
    pub rule: Rule,
    /// The stable id in reports and `expected.json` (never reused).
    pub id: &'static str,
    /// The layer of the chain it diagnoses.
    pub layer: Layer,
    /// Severity unless the rule grades a case differently (documented in
    /// `fires_when`).
    pub severity: Severity,
    /// When it fires, as `docs/rules.md` says it (Markdown).
    pub fires_when: &'static str,
    /// Links along which this finding explains others.
    pub causes: &'static [Link],
    /// Links along which this finding can be explained by others.
    pub effects: &'static [Link],
}

macro_rules! registry {
    ($( $variant:ident => {
        id: $id:literal,
        layer: $layer:ident,
        severity: $severity:ident,
        causes: [$($cause:ident),*],
        effects: [$($effect:ident),*],
        fires_when: $when:literal $(,)?
    } ),+ $(,)?) => {
        /// Every rule kpm-analyze knows, in the order of `docs/rules.md`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $(
                #[doc = concat!("`", $id, "`: ", $when)]
                $variant,
            )+
        }

        /// The registry, one entry per [`Rule`], in declaration order.
        pub static RULES: &[RuleInfo] = &[
            $( RuleInfo {
                rule: Rule::$variant,
                id: $id,
                layer: Layer::$layer,
                severity: Severity::$severity,
                fires_when: $when,
                causes: &[$(Link::$cause),*],
                effects: &[$(Link::$effect),*],
            }, )+
        ];
    };
}

registry! {
    PodImageNotFound => {
        id: "pod-image-not-found", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [NodeBroken],
        fires_when: "ErrImagePull / ImagePullBackOff and the pull error says the tag or repository does not exist (`not found`, `manifest unknown`)",
    },
    PodImagePullAuth => {
        id: "pod-image-pull-auth", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [NodeBroken],
        fires_when: "the registry's answer refuses authorization (`pull access denied`, `unauthorized`, `authentication required`, `no basic auth credentials`, an HTTP `401 Unauthorized` / `403 Forbidden` status), read with quoted image names and URLs removed so a `401` in a digest, tag or host never counts; cause names the pod's `imagePullSecrets` (none, or which are missing)",
    },
    PodImageInvalid => {
        id: "pod-image-invalid", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [NodeBroken],
        fires_when: "`InvalidImageName`",
    },
    PodImagePullFailed => {
        id: "pod-image-pull-failed", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [NodeBroken],
        fires_when: "any other pull failure, the registry's answer quoted: TLS (`x509: certificate signed by unknown authority`), unreachable registry, timeouts; when the bundle holds no answer (only `Back-off pulling image`), no cause is claimed",
    },
    PodCrashloop => {
        id: "pod-crashloop", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [AppError, NodeBroken],
        fires_when: "a container in `CrashLoopBackOff`, or not running with a non-zero termination that finished within 60 minutes of collection (a container Running since is recovered), not caused by OOM or a start failure; evidence: exit code, the runtime's termination `message`, and the previous log's line that explains the death (exception, panic, fatal or error line with its context, not merely the last line)",
    },
    PodOomKilled => {
        id: "pod-oom-killed", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [NodeBroken],
        fires_when: "a container's last termination is `OOMKilled`; evidence: memory limit, usage from metrics",
    },
    PodUnschedulable => {
        id: "pod-unschedulable", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [NoPlaceForPod, VolumeBlocked],
        fires_when: "pod `Pending` with `PodScheduled=False`/`FailedScheduling`; message parsed (`0/N nodes are available: …`) and cross-checked with node allocation",
    },
    PodMountFailed => {
        id: "pod-mount-failed", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [NodeBroken, VolumeBlocked],
        fires_when: "a pod not started (`ContainerCreating`, `Pending`, `Init:`) with `FailedMount` / `FailedAttachVolume` events, for any volume type (hostPath type checks, Secret, ConfigMap, PVC, projected, NFS, CSI, `Multi-Attach error`); names the volume and its source and quotes the kubelet's specific message (`hostPath type check failed: …`) over the generic `Unable to attach or mount volumes: … timed out`",
    },
    PodConfigError => {
        id: "pod-config-error", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [NodeBroken],
        fires_when: "`CreateContainerConfigError`: missing ConfigMap/Secret or key",
    },
    PodInitFailing => {
        id: "pod-init-failing", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [NodeBroken],
        fires_when: "an init container crashes (`Init:CrashLoopBackOff`, `Init:Error`) or is stuck (`Init:0/2` for long); evidence as for `pod-crashloop`",
    },
    PodStartFailed => {
        id: "pod-start-failed", layer: Pod, severity: Critical,
        causes: [PodNotServing], effects: [NodeBroken],
        fires_when: "the runtime cannot start a container's process: waiting `RunContainerError` / `CreateContainerError`, or last termination `StartError` / `ContainerCannotRun` (exit 127/128) while not running; quotes the runtime's message (`exec: \"x\": executable file not found in $PATH`, `failed to create containerd task`)",
    },
    PodEvicted => {
        id: "pod-evicted", layer: Pod, severity: Error,
        causes: [], effects: [NodeBroken],
        fires_when: "pods with `status.phase=Failed`, `reason=Evicted`, one finding per owning workload (or bare pod) with their count; quotes the kubelet's message (resource, threshold, which container used how much); `warning` when a pod of the same owner is Running and Ready",
    },
    PodLogErrors => {
        id: "pod-log-errors", layer: Pod, severity: Warning,
        causes: [], effects: [AppError, TrafficDropped],
        fires_when: "a running container with no other finding whose current log repeats the same error line (`ERROR`, `FATAL`, exception, panic) at least 5 times among its last 200 lines, up to its last lines; quotes the line and how often",
    },
    PodNotReady => {
        id: "pod-not-ready", layer: Pod, severity: Error,
        causes: [PodNotServing], effects: [AppError, NodeBroken],
        fires_when: "pod running but `Ready=False` because readiness probes fail (`Unhealthy` events)",
    },
    PodRestartStorm => {
        id: "pod-restart-storm", layer: Pod, severity: Warning,
        causes: [], effects: [AppError, NodeBroken],
        fires_when: "a running container restarted at least 5 times, the last within 60 minutes of collection (`state.running.startedAt` / `lastState.terminated.finishedAt`), and restarts keep coming: on average one per hour or more since the pod started, or `BackOff` / liveness `Unhealthy` events in that window; `error` when the kubelet kills it for failing its liveness probe",
    },
    ProbePortMismatch => {
        id: "probe-port-mismatch", layer: Pod, severity: Error,
        causes: [], effects: [],
        fires_when: "a liveness/readiness/startup probe names a port its container does not declare (the kubelet cannot resolve it), or aims at a number no container declares while its own `Unhealthy` failures say `connect: connection refused` on that port (an undeclared number alone is valid: `containerPort` is informational); `error` when status and events show the effect (`Unhealthy` with `Ready=False`, or failed liveness/startup probes with restarts), else `warning`",
    },
    ImageTagMutable => {
        id: "image-tag-mutable", layer: Pod, severity: Info,
        causes: [], effects: [],
        fires_when: "image uses `:latest` or no tag",
    },
    ServiceSelectorMismatch => {
        id: "service-selector-mismatch", layer: Service, severity: Critical,
        causes: [ServiceNotServing], effects: [],
        fires_when: "Service selector matches no pod; cause names the closest pods and the exact label difference",
    },
    ServiceNoReadyEndpoints => {
        id: "service-no-ready-endpoints", layer: Endpoints, severity: Critical,
        causes: [ServiceNotServing], effects: [PodNotServing, PodsNotCreated],
        fires_when: "selector matches pods but none is ready; cause says why (probe failures, not running)",
    },
    ServiceTargetPortMismatch => {
        id: "service-target-port-mismatch", layer: Service, severity: Critical,
        causes: [ServiceNotServing], effects: [],
        fires_when: "Service `targetPort` (number or name) matches no `containerPort` of the selected pods",
    },
    IngressBackendServiceMissing => {
        id: "ingress-backend-service-missing", layer: Ingress, severity: Critical,
        causes: [], effects: [],
        fires_when: "an Ingress backend names a Service that does not exist",
    },
    IngressBackendPortMissing => {
        id: "ingress-backend-port-missing", layer: Ingress, severity: Critical,
        causes: [], effects: [],
        fires_when: "the backend port (number or name) is not a port of the Service",
    },
    IngressBackendNoEndpoints => {
        id: "ingress-backend-no-endpoints", layer: Ingress, severity: Critical,
        causes: [], effects: [ServiceNotServing],
        fires_when: "the backend Service has no ready endpoints (linked to the Service finding)",
    },
    IngressControllerDown => {
        id: "ingress-controller-down", layer: Ingress, severity: Critical,
        causes: [], effects: [],
        fires_when: "no running, ready controller pod for the Ingress's class",
    },
    IngressDefaultBackendMissing => {
        id: "ingress-default-backend-missing", layer: Ingress, severity: Warning,
        causes: [], effects: [ServiceNotServing],
        fires_when: "an ingress controller's `--default-backend-service=<namespace>/<name>` names a Service that does not exist or has no ready endpoints (`$(POD_NAMESPACE)` resolved to the controller's namespace): ingress-nginx then answers requests no rule matches with its built-in 404 (`getDefaultUpstream` falls back to 127.0.0.1:8181) instead of that backend; one finding per Service on the controller pod first by name (an Ingress's own `spec.defaultBackend` is judged by the three backend rules above)",
    },
    IngressRequestUnrouted => {
        id: "ingress-request-unrouted", layer: Ingress, severity: Warning,
        causes: [], effects: [],
        fires_when: "the access logs of a class's ingress-nginx controllers (default `log-format-upstream`) show requests proxied to `upstream-default-backend` (no rule matched, 404): a host (when the line carries one: an absolute URI in `$request`), or without one a first path element, with at least 10 such requests and at least 10% of every logged request of the class; compared against every Ingress of the class (host wildcards and `Prefix` / `Exact` / `ImplementationSpecific` path semantics) to say whether the host has no rule, the path matches none of the host's paths, or the path is routed for another host so the requests named a host without rule; a few scanner probes stay below both bounds",
    },
    IngressTlsSecretMissing => {
        id: "ingress-tls-secret-missing", layer: Ingress, severity: Error,
        causes: [], effects: [],
        fires_when: "a `tls[].secretName` Secret does not exist in the namespace",
    },
    IngressTlsCertExpired => {
        id: "ingress-tls-cert-expired", layer: Ingress, severity: Critical,
        causes: [], effects: [],
        fires_when: "a `tls[].secretName` Secret's certificate (the first of `tls.crt`, from the facts `kpm-collect` keeps) has `notAfter` before the collection time: clients reject the handshake; names the Secret, subject, issuer and dates",
    },
    IngressTlsCertNotYetValid => {
        id: "ingress-tls-cert-not-yet-valid", layer: Ingress, severity: Error,
        causes: [], effects: [],
        fires_when: "the certificate's `notBefore` is after the collection time",
    },
    IngressTlsCertExpiring => {
        id: "ingress-tls-cert-expiring", layer: Ingress, severity: Warning,
        causes: [], effects: [],
        fires_when: "the certificate's `notAfter` is within 14 days of the collection time",
    },
    IngressTlsCertHostMismatch => {
        id: "ingress-tls-cert-host-mismatch", layer: Ingress, severity: Error,
        causes: [], effects: [],
        fires_when: "a host of the entry's `tls[].hosts` is covered by no DNS name of the certificate's subjectAltName (RFC 6125: case-insensitive; `*.example.com` covers `a.example.com`, not `a.b.example.com` nor `example.com`; the subject CN is ignored, as clients ignore it)",
    },
    HpaMetricsUnavailable => {
        id: "hpa-metrics-unavailable", layer: Autoscaling, severity: Error,
        causes: [], effects: [],
        fires_when: "targets `<unknown>`: metrics API missing (no metrics-server, no metrics in bundle) or `FailedGetResourceMetric`",
    },
    HpaMissingRequests => {
        id: "hpa-missing-requests", layer: Autoscaling, severity: Error,
        causes: [], effects: [],
        fires_when: "a resource metric target on pods that have no request for that resource",
    },
    HpaTargetMissing => {
        id: "hpa-target-missing", layer: Autoscaling, severity: Error,
        causes: [], effects: [],
        fires_when: "`scaleTargetRef` names a workload that does not exist",
    },
    HpaAtMax => {
        id: "hpa-at-max", layer: Autoscaling, severity: Warning,
        causes: [], effects: [],
        fires_when: "`ScalingLimited` because desired replicas reached `maxReplicas`",
    },
    HpaUnableToScale => {
        id: "hpa-unable-to-scale", layer: Autoscaling, severity: Error,
        causes: [], effects: [],
        fires_when: "condition `AbleToScale=False` (a missing scale target is `hpa-target-missing`, one finding for one cause)",
    },
    NodeNotReady => {
        id: "node-not-ready", layer: Node, severity: Critical,
        causes: [NodeBroken, NoPlaceForPod], effects: [],
        fires_when: "`Ready` condition False or Unknown (evidence: the node's own events, e.g. `NodeNotReady`, merged across the namespaces they were recorded in)",
    },
    NodePressure => {
        id: "node-pressure", layer: Node, severity: Error,
        causes: [NodeBroken, NoPlaceForPod], effects: [],
        fires_when: "`MemoryPressure`, `DiskPressure` or `PIDPressure` True (evidence: node metrics and events such as `EvictionThresholdMet`)",
    },
    NodeCordoned => {
        id: "node-cordoned", layer: Node, severity: Warning,
        causes: [NoPlaceForPod], effects: [],
        fires_when: "`spec.unschedulable`",
    },
    NodeNoRoom => {
        id: "node-no-room", layer: Node, severity: Error,
        causes: [NoPlaceForPod], effects: [],
        fires_when: "a pending pod fits no node even when empty of what could be freed; names the closest node and what is short",
    },
    AutoscalerNoScaleUp => {
        id: "autoscaler-no-scale-up", layer: Node, severity: Error,
        causes: [NoPlaceForPod], effects: [],
        fires_when: "Cluster Autoscaler / Karpenter logs or events explain why no node was added",
    },
    ConfigStaleConfigmap => {
        id: "config-stale-configmap", layer: Config, severity: Warning,
        causes: [], effects: [],
        fires_when: "a ConfigMap changed after the pods that consume it started, with no rollout since",
    },
    ConfigStaleSecret => {
        id: "config-stale-secret", layer: Config, severity: Warning,
        causes: [], effects: [],
        fires_when: "a Secret changed (rotated) after the pods that consume it started, with no rollout since",
    },
    ResourcesNoLimits => {
        id: "resources-no-limits", layer: Resources, severity: Warning,
        causes: [], effects: [],
        fires_when: "containers without memory/CPU limits",
    },
    ResourcesNearMemoryLimit => {
        id: "resources-near-memory-limit", layer: Resources, severity: Warning,
        causes: [], effects: [],
        fires_when: "a pod's memory usage is at or above 90 % of its limit",
    },
    DnsUnhealthy => {
        id: "dns-unhealthy", layer: Dns, severity: Critical,
        causes: [ClusterDnsDown], effects: [PodNotServing],
        fires_when: "CoreDNS/kube-dns pods not running or not ready",
    },
    DnsLookupFailures => {
        id: "dns-lookup-failures", layer: Dns, severity: Error,
        causes: [AppError], effects: [ClusterDnsDown],
        fires_when: "`no such host` / DNS lookup timeouts in application logs",
    },
    RbacForbidden => {
        id: "rbac-forbidden", layer: Rbac, severity: Error,
        causes: [AppError], effects: [],
        fires_when: "`forbidden: User \"system:serviceaccount:…\" cannot …` in application logs",
    },
    JobFailed => {
        id: "job-failed", layer: Workload, severity: Error,
        causes: [JobFailing], effects: [PodNotServing],
        fires_when: "a Job has the condition `Failed=True`: `BackoffLimitExceeded` (more pods failed than `backoffLimit`), `DeadlineExceeded` (active longer than `activeDeadlineSeconds`) or another reason of the job controller; names the reason and message, the failed pods and their containers' exit codes and the explaining line of the last one's log; not when a later run of the same CronJob succeeded or is still running; the failed pods' own findings are linked as its cause",
    },
    CronjobFailing => {
        id: "cronjob-failing", layer: Workload, severity: Error,
        causes: [], effects: [JobFailing],
        fires_when: "the Job of a CronJob's `status.lastScheduleTime` (named `<cronjob>-<scheduled time in minutes>` by the CronJob controller) has `Failed=True` and `status.lastSuccessfulTime` is older or absent; a run still active or a later success is not a finding; the Job's `job-failed` finding is linked as its cause",
    },
    CronjobSuspended => {
        id: "cronjob-suspended", layer: Workload, severity: Info,
        causes: [], effects: [],
        fires_when: "`spec.suspend: true`: no Job is created for its schedule; names when it last ran",
    },
    RolloutFailing => {
        id: "rollout-failing", layer: Workload, severity: Error,
        causes: [], effects: [PodNotServing, PodsNotCreated],
        fires_when: "the newest ReplicaSet of a Deployment (by its `deployment.kubernetes.io/revision` annotation) has pods that are not ready and fail (waiting in `CrashLoopBackOff`, `ImagePullBackOff`, …, restarted, `Failed`, unschedulable) or the Deployment is `ProgressDeadlineExceeded`, while an older ReplicaSet still has ready pods; names both revisions (number, ReplicaSet, `pod-template-hash`), what changed between their pod templates (images, command/args, env names with literal values or `valueFrom` references, never a credential-looking literal, `envFrom`, ConfigMap/Secret volumes) and suggests `kubectl rollout history` and `kubectl rollout undo --to-revision`; pods merely starting (`ContainerCreating`, first instance before its readiness probe passed) within the deadline are not failing; the new pods' own findings are linked as its cause",
    },
    RolloutBlocked => {
        id: "rollout-blocked", layer: Workload, severity: Warning,
        causes: [], effects: [PodNotServing, PodsNotCreated],
        fires_when: "a RollingUpdate whose `maxUnavailable` resolves to 0 (`ResolveFenceposts`: percentages of `spec.replicas`, surge rounded up, unavailable down) while the older ReplicaSets' available pods are all the controller may keep and pods of the newest ReplicaSet cannot be scheduled for lack of room (`Insufficient cpu/memory`, `Too many pods`): the controller scales old pods down only as new ones become available, so the rollout waits forever; the pending pods' findings are linked as its cause",
    },
    RolloutDeadlineExceeded => {
        id: "rollout-deadline-exceeded", layer: Workload, severity: Error,
        causes: [], effects: [PodNotServing, PodsNotCreated],
        fires_when: "`Progressing=False` with reason `ProgressDeadlineExceeded` (`ReplicaSet \"x\" has timed out progressing.`) and neither `rollout-failing` nor `rollout-blocked` explains the Deployment; names the newest ReplicaSet, updated/ready counts and its failing pods; `info` when the rollout itself is over (every replica is of the newest ReplicaSet and no older one has pods: the pods' own findings, linked as its cause, are the problem)",
    },
    RolloutPaused => {
        id: "rollout-paused", layer: Workload, severity: Warning,
        causes: [], effects: [],
        fires_when: "`spec.paused: true` (or the `DeploymentPaused` condition) and the template differs from the newest ReplicaSet's, naming the changes that wait; `info` when nothing waits",
    },
    CronjobNoRecentSuccess => {
        id: "cronjob-no-recent-success", layer: Workload, severity: Error,
        causes: [], effects: [CronjobNotStarting],
        fires_when: "a CronJob not suspended, with a `status.lastScheduleTime`, whose `spec.schedule` (robfig/cron as the controller reads it: 5 fields, `@hourly`…, `CRON_TZ=`, `spec.timeZone`) came round at least 3 times since `status.lastSuccessfulTime` (or its creation when it never succeeded) and for longer than 3 of its longest gaps and an hour (one more fire time of margin outside UTC); names the runs, the last schedule and an active Job that blocks new runs under `concurrencyPolicy: Forbid`; silent when the last run failed (`cronjob-failing`)",
    },
    CronjobMissedStarts => {
        id: "cronjob-missed-starts", layer: Workload, severity: Warning,
        causes: [CronjobNotStarting], effects: [],
        fires_when: "Warning events `TooManyMissedTimes` (`too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew`) or `MissSchedule` (`Missed scheduled time to start a job: …`) from the CronJob controller about a CronJob not suspended, with no success after the last one; quotes them and is linked as the cause of `cronjob-no-recent-success`",
    },
    StatefulsetNotReady => {
        id: "statefulset-not-ready", layer: Workload, severity: Error,
        causes: [], effects: [PodNotServing, PodsNotCreated],
        fires_when: "`status.readyReplicas` < `spec.replicas` and a pod of an ordinal below `spec.replicas` is not ready 5 minutes after its creation; with `podManagementPolicy: OrderedReady` names the lowest broken ordinal and the ordinals it blocks, with `Parallel` every broken ordinal; the pods' own findings are linked as its cause",
    },
    StatefulsetUpdateStuck => {
        id: "statefulset-update-stuck", layer: Workload, severity: Error,
        causes: [], effects: [PodNotServing, PodsNotCreated],
        fires_when: "`status.updateRevision` differs from `status.currentRevision` (`RollingUpdate`, ordinals at or above `partition`) and a pod of the update revision is not ready 5 minutes after its creation: the controller will not update the next ordinal; names both revisions and the pod (linked as cause) and suggests `kubectl rollout undo`; replaces `statefulset-not-ready` for that set",
    },
    DaemonsetNotReady => {
        id: "daemonset-not-ready", layer: Workload, severity: Error,
        causes: [], effects: [PodNotServing, PodsNotCreated],
        fires_when: "`status.numberReady` < `status.desiredNumberScheduled` and, on a Ready node the DaemonSet controller's predicates select (nodeName, nodeSelector, required node affinity, taints tolerated after the tolerations the controller adds), the daemon pod is not ready 5 minutes after its creation, or no pod exists while `currentNumberScheduled` < `desiredNumberScheduled`; names nodes and pods; the pods' own findings are linked as its cause",
    },
    DaemonsetUntoleratedTaint => {
        id: "daemonset-untolerated-taint", layer: Workload, severity: Warning,
        causes: [], effects: [],
        fires_when: "a Ready node that the DaemonSet's nodeSelector and node affinity select carries a `NoSchedule` / `NoExecute` taint its pod template does not tolerate, so no daemon pod runs there; names node and taint (`key=value:Effect`); control-plane taints, the node lifecycle / cloud-provider / autoscaler taints and nodes outside the nodeSelector are normal and never reported",
    },
    NetpolBlocksIngress => {
        id: "netpol-blocks-ingress", layer: Network, severity: Error,
        causes: [ServiceNotServing, TrafficDropped], effects: [],
        fires_when: "a Service an Ingress routes to has ready pods that NetworkPolicies isolate for ingress, and no ingress rule of any policy selecting them admits the running controller pods of the Ingress's class on the resolved target port (peers: `podSelector` in the policy's namespace, `namespaceSelector` against the collected Namespace labels, both in one peer ANDed, `ipBlock` against the controller's pod IP; ports by protocol, number, `endPort` range or name declared on the pod); names each isolating policy and why each of its rules misses; not when the bundle cannot settle it (`ipBlock` without the controller's IP, a host-network controller, no Namespace labels); says that the drop needs a CNI that enforces NetworkPolicy; `critical` when the controller's logs show `upstream timed out` to one of the pods or `504` for the Service's upstream; Ingress findings about the Service, and `pod-log-errors` of the controller pods whose logs show the symptom, link to it",
    },
    PdbBlocksDrain => {
        id: "pdb-blocks-drain", layer: Workload, severity: Warning,
        causes: [], effects: [],
        fires_when: "a PodDisruptionBudget allows no disruption by its spec: `status.desiredHealthy >= status.expectedPods` with `disruptionsAllowed` 0 (`maxUnavailable: 0`, `minAvailable` equal to the replicas or `100%`, one replica with `minAvailable: 1`), so `kubectl drain` and node upgrades cannot evict its pods (`Cannot evict pod as it would violate the pod's disruption budget.`); not when the status is older than the spec or the controller's sync failed",
    },
    PdbDisruptionsExhausted => {
        id: "pdb-disruptions-exhausted", layer: Workload, severity: Warning,
        causes: [], effects: [PodNotServing],
        fires_when: "a PodDisruptionBudget whose spec allows disruptions has `disruptionsAllowed` 0 because `currentHealthy <= desiredHealthy`: its not-ready pods are named and their own findings linked as its cause",
    },
    PdbNoPods => {
        id: "pdb-no-pods", layer: Workload, severity: Info,
        causes: [], effects: [],
        fires_when: "a PodDisruptionBudget with `status.expectedPods` 0 whose selector matches no pod in the bundle (the controller's `NoPods` / `No matching pods found`)",
    },
    AdmissionQuotaExceeded => {
        id: "admission-quota-exceeded", layer: Admission, severity: Error,
        causes: [PodsNotCreated], effects: [],
        fires_when: "a ReplicaSet, StatefulSet, DaemonSet or Job has fewer pods than it wants and its latest `FailedCreate` (event, or a ReplicaSet's `ReplicaFailure` condition; not followed by a `SuccessfulCreate`) says `exceeded quota: <q>, requested: …, used: …, limited: …` or `failed quota: <q>: must specify …`; names the ResourceQuota and each resource with its current `status.hard`/`status.used` against what one pod asks, or the containers that do not set the required requests/limits; `critical` when the controller has no ready pod, `warning` when the quota's current status has room again; the workload's consequences (a Service without endpoints) are linked to it",
    },
    AdmissionLimitRange => {
        id: "admission-limit-range", layer: Admission, severity: Error,
        causes: [PodsNotCreated], effects: [],
        fires_when: "as `admission-quota-exceeded`, the refusal being a LimitRange bound (`maximum cpu usage per Container is 1, but limit is 2`, `minimum …`, `… max limit to request ratio …`); names the LimitRange and its bound",
    },
    AdmissionPodSecurity => {
        id: "admission-pod-security", layer: Admission, severity: Error,
        causes: [PodsNotCreated], effects: [],
        fires_when: "as `admission-quota-exceeded`, the refusal being Pod Security admission (`violates PodSecurity \"restricted:latest\": …`); names the namespace's `pod-security.kubernetes.io/enforce` label and the violated checks",
    },
    AdmissionWebhookUnreachable => {
        id: "admission-webhook-unreachable", layer: Admission, severity: Error,
        causes: [PodsNotCreated], effects: [ServiceNotServing],
        fires_when: "as `admission-quota-exceeded`, the refusal being `failed calling webhook \"<name>\": …` (a webhook with `failurePolicy: Fail` that could not be called); names the webhook configuration, its failure policy and backend Service and whether that Service had ready endpoints at collection (read from its own namespace); a finding on that Service is linked as its cause",
    },
    AdmissionWebhookDenied => {
        id: "admission-webhook-denied", layer: Admission, severity: Error,
        causes: [PodsNotCreated], effects: [],
        fires_when: "as `admission-quota-exceeded`, the refusal being `admission webhook \"<name>\" denied the request: …`; names the webhook configuration and quotes its reason",
    },
    AdmissionServiceAccountMissing => {
        id: "admission-service-account-missing", layer: Admission, severity: Error,
        causes: [PodsNotCreated], effects: [],
        fires_when: "as `admission-quota-exceeded`, the refusal being `error looking up service account <ns>/<sa>: …`; names the ServiceAccount",
    },
    PvcPending => {
        id: "pvc-pending", layer: Storage, severity: Critical,
        causes: [VolumeBlocked], effects: [],
        fires_when: "a PersistentVolumeClaim stays `Pending` for a reason the bundle shows: its `storageClassName` names a StorageClass that does not exist (or `ProvisioningFailed`: `storageclass.storage.k8s.io \"x\" not found`); it has no class, no StorageClass is annotated `storageclass.kubernetes.io/is-default-class: \"true\"` and no PersistentVolume is available (`FailedBinding`: `no persistent volumes available for this claim and no storage class is set`); its provisioner fails (`ProvisioningFailed` with the provisioner's message, for 1 minute or more) or has not created a volume after 5 minutes (`ExternalProvisioning`); or a `WaitForFirstConsumer` claim's pod finds no node with a volume to bind. A `WaitForFirstConsumer` claim no scheduled pod uses is normal and not a finding, nor is one whose pod is pending for another reason (that pod's finding says why); the pods waiting on the claim are linked to it",
    },
    VolumeMultiAttach => {
        id: "volume-multi-attach", layer: Storage, severity: Critical,
        causes: [VolumeBlocked], effects: [],
        fires_when: "a pod that has not started has a `FailedAttachVolume` `Multi-Attach error for volume \"pv\"` (`Volume is already used by pod(s) …` / `Volume is already exclusively attached to one node and can't be attached to another`): names the claim, the pods and nodes still holding the volume and its VolumeAttachment (node, `status.attached`, `status.attachError`); the blocked pod's `pod-mount-failed` is linked to it",
    },
    VolumeNodeAffinityConflict => {
        id: "volume-node-affinity-conflict", layer: Storage, severity: Critical,
        causes: [VolumeBlocked], effects: [],
        fires_when: "a pending pod's scheduler message says `node(s) had volume node affinity conflict` (or `didn't match PersistentVolume's node affinity`) and one of its claims is bound to a PersistentVolume with `spec.nodeAffinity`: names the PersistentVolume's required zone or hostname against the nodes' labels; the pod's `pod-unschedulable` is linked to it",
    },
}

impl Rule {
    /// The registry entry.
    pub fn info(self) -> &'static RuleInfo {
        // RULES is declared in the enum's order, so the discriminant is the
        // index; `registry_is_in_enum_order` keeps it so.
        &RULES[self as usize]
    }

    /// The stable id, e.g. `pod-oom-killed`.
    pub fn id(self) -> &'static str {
        self.info().id
    }

    /// The layer of the chain it diagnoses.
    pub fn layer(self) -> Layer {
        self.info().layer
    }

    /// Its default severity.
    pub fn severity(self) -> Severity {
        self.info().severity
    }

    /// The rule of that id, if any.
    pub fn from_id(id: &str) -> Option<Rule> {
        RULES.iter().find(|r| r.id == id).map(|r| r.rule)
    }

    /// Whether a finding of this rule explains others along `link`.
    pub fn causes(self, link: Link) -> bool {
        self.info().causes.contains(&link)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The `docs/rules.md` table, rendered from the registry (its test keeps
/// the file current).
#[cfg(test)]
pub fn markdown_table() -> String {
    let mut out =
        String::from("| rule id | layer | default severity | fires when |\n|---|---|---|---|\n");
    for r in RULES {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.id,
            r.layer.as_str(),
            r.severity.as_str(),
            r.fires_when
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn registry_is_in_enum_order() {
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.rule as usize, i, "{} is out of order", r.id);
        }
    }

    #[test]
    fn ids_are_unique_kebab_case_and_round_trip() {
        let mut seen = HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate id {}", r.id);
            assert!(
                r.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{} is not kebab case",
                r.id
            );
            assert_eq!(Rule::from_id(r.id), Some(r.rule));
        }
        assert_eq!(Rule::from_id("pod-crash-loop"), None);
    }

    #[test]
    fn every_effect_has_a_possible_cause() {
        for r in RULES {
            for link in r.effects {
                assert!(
                    RULES.iter().any(|c| c.causes.contains(link)),
                    "{} waits for a {link:?} cause no rule gives",
                    r.id
                );
            }
        }
    }

    /// Product code names rules through [`Rule`] only: a quoted rule id
    /// anywhere in `analyzer/src` outside this file and the tests is a
    /// second place that can drift.
    #[test]
    fn no_rule_id_literal_outside_the_registry() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut offenders = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
                let path = entry.unwrap_or_else(|e| panic!("{dir:?}: {e}")).path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let in_tests_folder = path
                    .parent()
                    .and_then(|d| d.file_name())
                    .is_some_and(|d| d == "tests");
                let is_test = name == "tests.rs" || name == "testkit.rs" || in_tests_folder;
                if name == "registry.rs" || is_test || !name.ends_with(".rs") {
                    continue;
                }
                let text =
                    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
                // Inline unit tests sit at the end of a file.
                let product = text.split("#[cfg(test)]").next().unwrap_or("");
                for r in RULES {
                    if product.contains(&format!("\"{}\"", r.id)) {
                        offenders.push(format!("{}: {}", path.display(), r.id));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "rule ids written outside the registry: {offenders:#?}"
        );
    }

    /// Every rule named by a scenario's `expected.json` exists, with the
    /// layer the registry gives it.
    #[test]
    fn expectations_name_registered_rules() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/expected");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let path = entry.unwrap_or_else(|e| panic!("{dir}: {e}")).path();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let doc: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            for f in doc["findings"].as_array().into_iter().flatten() {
                let id = f["rule"].as_str().unwrap_or_default();
                let rule = Rule::from_id(id)
                    .unwrap_or_else(|| panic!("{path:?} names unknown rule {id:?}"));
                if let Some(layer) = f["layer"].as_str() {
                    assert_eq!(layer, rule.layer().as_str(), "{path:?}: layer of {id}");
                }
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} expected findings under {dir}");
    }

    /// `docs/rules.md` holds the table exactly as the registry renders it;
    /// `KPM_BLESS=1` rewrites it.
    #[test]
    fn docs_rules_table_matches_the_registry() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/rules.md");
        let doc = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (begin, end) = ("<!-- rules:begin -->\n", "<!-- rules:end -->");
        let (Some(b), Some(e)) = (doc.find(begin), doc.find(end)) else {
            panic!("{path} lacks the {begin:?} … {end:?} markers");
        };
        let current = &doc[b + begin.len()..e];
        let table = markdown_table();
        if current != table {
            if std::env::var_os("KPM_BLESS").is_some() {
                let fresh = format!("{}{}{}", &doc[..b + begin.len()], table, &doc[e..]);
                std::fs::write(path, fresh).unwrap_or_else(|e| panic!("{path}: {e}"));
            } else {
                panic!("docs/rules.md drifted from the registry; rerun with KPM_BLESS=1");
            }
        }
    }
}
