//! A pod's state in plain terms, as a scenario wants it: each container's
//! state and the pod's fate (placed, unschedulable, evicted). [`super::pod`]
//! derives the kubelet's status from these.

/// How a container instance ended.
#[derive(Debug, Clone)]
pub struct Terminated {
    /// `Error`, `OOMKilled`, `Completed`.
    pub reason: String,
    /// Process exit code (137 for SIGKILL / OOM).
    pub exit_code: i32,
    /// Start of that instance, seconds before collection.
    pub started_ago: i64,
    /// End of that instance, seconds before collection.
    pub finished_ago: i64,
    /// The runtime's `message` (a start failure's error), if any.
    pub message: Option<String>,
    /// The process never started (`StartError`): the runtime reports
    /// `startedAt` as the Unix epoch.
    pub never_started: bool,
}

impl Terminated {
    /// A termination with the given reason and exit code.
    pub fn new(reason: &str, exit_code: i32, started_ago: i64, finished_ago: i64) -> Terminated {
        Terminated {
            reason: reason.to_string(),
            exit_code,
            started_ago,
            finished_ago,
            message: None,
            never_started: false,
        }
    }

    /// A start attempt the runtime failed (containerd/runc): reason
    /// `StartError`, exit code 128, `startedAt` the epoch, the runtime's
    /// error as `message`.
    pub fn start_error(message: &str, finished_ago: i64) -> Terminated {
        Terminated {
            message: Some(message.to_string()),
            never_started: true,
            ..Terminated::new("StartError", 128, finished_ago, finished_ago)
        }
    }
}

/// One container's current state, as the scenario wants it.
#[derive(Debug, Clone)]
pub enum ContainerState {
    /// Running since `started_ago`; `ready` is the readiness probe result.
    Running {
        /// Start of the current instance, seconds before collection.
        started_ago: i64,
        /// Readiness.
        ready: bool,
        /// `restartCount`.
        restarts: u32,
        /// The previous instance, if it restarted.
        last: Option<Terminated>,
    },
    /// Not running: `reason` is e.g. `CrashLoopBackOff`, `ImagePullBackOff`,
    /// `ContainerCreating`, `CreateContainerConfigError`.
    Waiting {
        /// Waiting reason.
        reason: String,
        /// Waiting message (`None` for `ContainerCreating`).
        message: Option<String>,
        /// `restartCount`.
        restarts: u32,
        /// The previous instance, if it ever ran.
        last: Option<Terminated>,
    },
    /// Ran to completion (Jobs).
    Done(Terminated),
}

impl ContainerState {
    /// Running and ready since `started_ago`, never restarted.
    pub fn ready(started_ago: i64) -> ContainerState {
        ContainerState::Running {
            started_ago,
            ready: true,
            restarts: 0,
            last: None,
        }
    }

    /// Waiting with a reason and message, never started.
    pub fn waiting(reason: &str, message: Option<String>) -> ContainerState {
        ContainerState::Waiting {
            reason: reason.to_string(),
            message,
            restarts: 0,
            last: None,
        }
    }

    pub(super) fn is_ready(&self) -> bool {
        matches!(self, ContainerState::Running { ready: true, .. })
    }

    pub(super) fn has_run(&self) -> bool {
        match self {
            ContainerState::Running { .. } | ContainerState::Done(_) => true,
            ContainerState::Waiting { last, .. } => last.is_some(),
        }
    }
}

/// Where a scheduled pod runs.
#[derive(Debug, Clone)]
pub struct Placement {
    /// `spec.nodeName`.
    pub node: String,
    /// `status.hostIP`.
    pub host_ip: String,
    /// `status.podIP`.
    pub pod_ip: String,
    /// When the scheduler bound it, seconds before collection.
    pub scheduled_ago: i64,
}

/// What happened to the pod as a whole.
#[derive(Debug, Clone)]
pub enum PodFate {
    /// Bound to a node; container states decide the rest.
    Placed(Placement),
    /// `PodScheduled=False` with the scheduler's message.
    Unschedulable {
        /// The `0/N nodes are available: …` message.
        message: String,
        /// When the scheduler first failed, seconds before collection.
        since_ago: i64,
    },
    /// Evicted by the kubelet: phase `Failed`, reason `Evicted`.
    Evicted {
        /// Where it ran.
        placement: Placement,
        /// The kubelet's eviction message.
        message: String,
        /// When it was evicted, seconds before collection.
        at_ago: i64,
    },
}
