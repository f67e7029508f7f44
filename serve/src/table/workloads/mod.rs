//! Workload printers: deployments, replicasets, statefulsets, daemonsets,
//! jobs and horizontal pod autoscalers.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    age, arr, col, containers, format_label_selector, format_labels, int, name, s, Column, Printer,
    AGE, NAME,
};

const CONTAINERS: Column = col(
    "Containers",
    "string",
    1,
    "Names of each container in the template.",
);
const IMAGES: Column = col(
    "Images",
    "string",
    1,
    "Images referenced by each container in the template.",
);
const SELECTOR: Column = col("Selector", "string", 1, "Label selector for pods.");

const TEMPLATE_CONTAINERS: &str = "/spec/template/spec/containers";

const DEPLOYMENTS: &[Column] = &[
    NAME,
    col("Ready", "string", 0, "Number of the pod with ready state"),
    col("Up-to-date", "integer", 0, "Total number of non-terminating pods targeted by this deployment that have the desired template spec."),
    col("Available", "integer", 0, "Total number of available non-terminating pods targeted by this deployment."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// The READY cell of Deployments and StatefulSets, `ready/desired`
/// (`status.readyReplicas`/`spec.replicas`), as kubectl's printers write it.
fn ready_replicas(obj: &Value) -> Value {
    format!(
        "{}/{}",
        int(obj, "/status/readyReplicas"),
        int(obj, "/spec/replicas")
    )
    .into()
}

fn deployment(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = containers(obj, TEMPLATE_CONTAINERS);
    vec![
        name(obj),
        ready_replicas(obj),
        int(obj, "/status/updatedReplicas").into(),
        int(obj, "/status/availableReplicas").into(),
        age(obj, now),
        names,
        images,
        format_label_selector(obj.pointer("/spec/selector")).into(),
    ]
}

const REPLICASETS: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        0,
        "Replicas is the number of desired pods.",
    ),
    col(
        "Current",
        "integer",
        0,
        "Replicas is the most recently observed number of non-terminating pods.",
    ),
    col(
        "Ready",
        "integer",
        0,
        "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn replicaset(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = containers(obj, TEMPLATE_CONTAINERS);
    vec![
        name(obj),
        int(obj, "/spec/replicas").into(),
        int(obj, "/status/replicas").into(),
        int(obj, "/status/readyReplicas").into(),
        age(obj, now),
        names,
        images,
        format_label_selector(obj.pointer("/spec/selector")).into(),
    ]
}

const STATEFULSETS: &[Column] = &[
    NAME,
    col("Ready", "string", 0, "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

fn statefulset(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = containers(obj, TEMPLATE_CONTAINERS);
    vec![name(obj), ready_replicas(obj), age(obj, now), names, images]
}

const DAEMONSETS: &[Column] = &[
    NAME,
    col("Desired", "integer", 0, "The total number of nodes that should be running the daemon pod."),
    col("Current", "integer", 0, "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
    col("Ready", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
    col("Up-to-date", "integer", 0, "The total number of nodes that are running updated daemon pod"),
    col("Available", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
    col("Node Selector", "string", 0, "NodeSelector is a selector which must be true for the pod to fit on a node."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn daemonset(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (names, images) = containers(obj, TEMPLATE_CONTAINERS);
    vec![
        name(obj),
        int(obj, "/status/desiredNumberScheduled").into(),
        int(obj, "/status/currentNumberScheduled").into(),
        int(obj, "/status/numberReady").into(),
        int(obj, "/status/updatedNumberScheduled").into(),
        int(obj, "/status/numberAvailable").into(),
        format_labels(obj.pointer("/spec/template/spec/nodeSelector")).into(),
        age(obj, now),
        names,
        images,
        format_label_selector(obj.pointer("/spec/selector")).into(),
    ]
}

const JOBS: &[Column] = &[
    NAME,
    col("Status", "string", 0, "Status of the job."),
    col(
        "Completions",
        "string",
        0,
        "The number of pods which reached phase Succeeded.",
    ),
    col(
        "Duration",
        "string",
        0,
        "Time required to complete the job.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

/// `hasJobCondition`: the first condition of the type decides.
fn has_condition(obj: &Value, ty: &str) -> bool {
    arr(obj, "/status/conditions")
        .iter()
        .find(|c| s(c, "/type") == ty)
        .is_some_and(|c| s(c, "/status") == "True")
}

fn time(obj: &Value, ptr: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s(obj, ptr))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `printJob`; a running job's duration runs to the collection time.
fn job(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let succeeded = int(obj, "/status/succeeded");
    let completions = match obj.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int(obj, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        time(obj, "/status/startTime"),
        time(obj, "/status/completionTime"),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => kpm_semantics::duration::human_duration(now - start),
        (Some(start), Some(end)) => kpm_semantics::duration::human_duration(end - start),
    };
    let status = if has_condition(obj, "Complete") {
        "Complete"
    } else if has_condition(obj, "Failed") {
        "Failed"
    } else if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        "Terminating"
    } else if has_condition(obj, "Suspended") {
        "Suspended"
    } else if has_condition(obj, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = containers(obj, TEMPLATE_CONTAINERS);
    vec![
        name(obj),
        status.into(),
        completions.into(),
        duration.into(),
        age(obj, now),
        names,
        images,
        format_label_selector(obj.pointer("/spec/selector")).into(),
    ]
}

const HPAS: &[Column] = &[
    NAME,
    col("Reference", "string", 0, "scaleTargetRef points to the target resource to scale."),
    col("Targets", "string", 0, "metrics contains the specifications for which to use to calculate the desired replica count."),
    col("MinPods", "string", 0, "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
    col("MaxPods", "integer", 0, "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."),
    col("Replicas", "integer", 0, "currentReplicas is current number of replicas of pods managed by this autoscaler."),
    AGE,
];

fn q(v: &Value, ptr: &str) -> String {
    match v.pointer(ptr) {
        Some(Value::String(s)) => super::quantity(s),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// One metric of `formatHPAMetrics`; `status` is the current metric at the
/// same index, if any.
fn hpa_metric(spec: &Value, status: Option<&Value>) -> String {
    let unknown = || "<unknown>".to_string();
    match s(spec, "/type") {
        "External" | "Object" => {
            let key = if s(spec, "/type") == "External" {
                "external"
            } else {
                "object"
            };
            let cur = status.and_then(|st| st.get(key)).filter(|v| !v.is_null());
            if spec
                .pointer(&format!("/{key}/target/averageValue"))
                .is_some()
            {
                let current = cur
                    .filter(|c| c.pointer("/current/averageValue").is_some())
                    .map_or_else(unknown, |c| q(c, "/current/averageValue"));
                format!(
                    "{current}/{} (avg)",
                    q(spec, &format!("/{key}/target/averageValue"))
                )
            } else {
                let current = cur.map_or_else(unknown, |c| q(c, "/current/value"));
                format!("{current}/{}", q(spec, &format!("/{key}/target/value")))
            }
        }
        "Pods" => {
            let current = status
                .and_then(|st| st.get("pods"))
                .filter(|v| !v.is_null())
                .map_or_else(unknown, |c| q(c, "/current/averageValue"));
            format!("{current}/{}", q(spec, "/pods/target/averageValue"))
        }
        ty @ ("Resource" | "ContainerResource") => {
            let key = if ty == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let resource = s(spec, &format!("/{key}/name"));
            let cur = status.and_then(|st| st.get(key)).filter(|v| !v.is_null());
            if spec
                .pointer(&format!("/{key}/target/averageValue"))
                .is_some()
            {
                let current = cur.map_or_else(unknown, |c| q(c, "/current/averageValue"));
                format!(
                    "{resource}: {current}/{}",
                    q(spec, &format!("/{key}/target/averageValue"))
                )
            } else {
                let current = cur
                    .and_then(|c| c.pointer("/current/averageUtilization"))
                    .and_then(Value::as_i64)
                    .map_or_else(unknown, |u| format!("{u}%"));
                let target = spec
                    .pointer(&format!("/{key}/target/averageUtilization"))
                    .and_then(Value::as_i64)
                    .map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
                format!("{resource}: {current}/{target}")
            }
        }
        _ => "<unknown type>".to_string(),
    }
}

/// `formatHPAMetrics`: at most two metrics, then `+ N more...`.
fn hpa_targets(obj: &Value) -> String {
    let specs = arr(obj, "/spec/metrics");
    if specs.is_empty() {
        return "<none>".into();
    }
    let statuses = arr(obj, "/status/currentMetrics");
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, m)| hpa_metric(m, statuses.get(i)))
        .collect();
    let shown = list.iter().take(2).cloned().collect::<Vec<_>>().join(", ");
    if list.len() > 2 {
        format!("{shown} + {} more...", list.len() - 2)
    } else {
        shown
    }
}

fn hpa(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let min = obj
        .pointer("/spec/minReplicas")
        .and_then(Value::as_i64)
        .map_or_else(|| "<unset>".to_string(), |m| m.to_string());
    vec![
        name(obj),
        format!(
            "{}/{}",
            s(obj, "/spec/scaleTargetRef/kind"),
            s(obj, "/spec/scaleTargetRef/name")
        )
        .into(),
        hpa_targets(obj).into(),
        min.into(),
        int(obj, "/spec/maxReplicas").into(),
        int(obj, "/status/currentReplicas").into(),
        age(obj, now),
    ]
}

/// The printer of a workload kind.
pub(super) fn printer(plural: &str) -> Option<(&'static [Column], Printer)> {
    Some(match plural {
        "deployments" => (DEPLOYMENTS, deployment as Printer),
        "replicasets" => (REPLICASETS, replicaset),
        "statefulsets" => (STATEFULSETS, statefulset),
        "daemonsets" => (DAEMONSETS, daemonset),
        "jobs" => (JOBS, job),
        "horizontalpodautoscalers" => (HPAS, hpa),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
