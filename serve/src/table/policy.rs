//! Printers of the kinds around the workloads: CronJobs, storage classes
//! and volume attachments, quotas and limit ranges, disruption budgets,
//! network policies, priority classes and admission webhook
//! configurations (`pkg/printers/internalversion/printers.go`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    age, arr, col, containers, format_label_selector, int, name, quantity, s, since, Column,
    Printer, AGE, NAME,
};

const CRONJOBS: &[Column] = &[
    NAME,
    col(
        "Schedule",
        "string",
        0,
        "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    ),
    col(
        "Timezone",
        "string",
        0,
        "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
    ),
    col(
        "Suspend",
        "boolean",
        0,
        "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.",
    ),
    col(
        "Active",
        "integer",
        0,
        "A list of pointers to currently running jobs.",
    ),
    col(
        "Last Schedule",
        "string",
        0,
        "Information when was the last time the job was successfully scheduled.",
    ),
    AGE,
    col(
        "Containers",
        "string",
        1,
        "Names of each container in the template.",
    ),
    col(
        "Images",
        "string",
        1,
        "Images referenced by each container in the template.",
    ),
    col("Selector", "string", 1, "Label selector for pods."),
];

/// `printBoolPtr`: `<unset>` when absent.
fn bool_ptr(obj: &Value, ptr: &str) -> Value {
    match obj.pointer(ptr).and_then(Value::as_bool) {
        Some(true) => "True".into(),
        Some(false) => "False".into(),
        None => "<unset>".into(),
    }
}

fn cronjob(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let tz = match s(obj, "/spec/timeZone") {
        "" => "<none>",
        t => t,
    };
    let last = if s(obj, "/status/lastScheduleTime").is_empty() {
        "<none>".to_string()
    } else {
        since(obj, "/status/lastScheduleTime", now)
    };
    let (names, images) = containers(obj, "/spec/jobTemplate/spec/template/spec/containers");
    vec![
        name(obj),
        s(obj, "/spec/schedule").into(),
        tz.into(),
        bool_ptr(obj, "/spec/suspend"),
        (arr(obj, "/status/active").len() as i64).into(),
        last.into(),
        age(obj, now),
        names,
        images,
        format_label_selector(obj.pointer("/spec/jobTemplate/spec/selector")).into(),
    ]
}

const STORAGECLASSES: &[Column] = &[
    NAME,
    col(
        "Provisioner",
        "string",
        0,
        "provisioner indicates the type of the provisioner.",
    ),
    col(
        "ReclaimPolicy",
        "string",
        0,
        "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
    ),
    col(
        "VolumeBindingMode",
        "string",
        0,
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used.",
    ),
    col(
        "AllowVolumeExpansion",
        "string",
        0,
        "allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE,
];

/// `storageutil.IsDefaultAnnotation`: the GA annotation or its beta name.
pub(crate) fn is_default_class(obj: &Value) -> bool {
    let ann = |k: &str| {
        obj.pointer("/metadata/annotations")
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            == Some("true")
    };
    ann("storageclass.kubernetes.io/is-default-class")
        || ann("storageclass.beta.kubernetes.io/is-default-class")
}

fn storageclass(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut n = s(obj, "/metadata/name").to_string();
    if is_default_class(obj) {
        n.push_str(" (default)");
    }
    let or = |v: &'static str, ptr: &str| -> Value {
        match s(obj, ptr) {
            "" => v.into(),
            x => x.into(),
        }
    };
    let expand = obj
        .pointer("/allowVolumeExpansion")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    vec![
        n.into(),
        s(obj, "/provisioner").into(),
        or("Delete", "/reclaimPolicy"),
        or("Immediate", "/volumeBindingMode"),
        expand.into(),
        age(obj, now),
    ]
}

const VOLUMEATTACHMENTS: &[Column] = &[
    NAME,
    col(
        "Attacher",
        "string",
        0,
        "attacher indicates the name of the volume driver that MUST handle this request.",
    ),
    col(
        "PV",
        "string",
        0,
        "persistentVolumeName represents the name of the persistent volume to attach.",
    ),
    col(
        "Node",
        "string",
        0,
        "nodeName represents the node that the volume should be attached to.",
    ),
    col(
        "Attached",
        "boolean",
        0,
        "attached indicates the volume is successfully attached.",
    ),
    AGE,
];

fn volumeattachment(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let attached = obj
        .pointer("/status/attached")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    vec![
        name(obj),
        s(obj, "/spec/attacher").into(),
        s(obj, "/spec/source/persistentVolumeName").into(),
        s(obj, "/spec/nodeName").into(),
        attached.into(),
        age(obj, now),
    ]
}

const PRIORITYCLASSES: &[Column] = &[
    NAME,
    col(
        "Value",
        "integer",
        0,
        "value represents the integer value of this priority class.",
    ),
    col(
        "Global-Default",
        "boolean",
        0,
        "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.",
    ),
    AGE,
    col(
        "PreemptionPolicy",
        "string",
        0,
        "preemptionPolicy is the Policy for preempting pods with lower priority.",
    ),
];

fn priorityclass(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let global = obj
        .pointer("/globalDefault")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    vec![
        name(obj),
        int(obj, "/value").into(),
        global.into(),
        age(obj, now),
        s(obj, "/preemptionPolicy").into(),
    ]
}

const WEBHOOKS: &[Column] = &[
    NAME,
    col(
        "Webhooks",
        "integer",
        0,
        "Webhooks indicates the number of webhooks registered in this configuration",
    ),
    AGE,
];

fn webhooks(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name(obj),
        (arr(obj, "/webhooks").len() as i64).into(),
        age(obj, now),
    ]
}

const RESOURCEQUOTAS: &[Column] = &[
    NAME,
    AGE,
    col(
        "Request",
        "string",
        0,
        "Request represents a minimum amount of cpu/memory that a container may consume.",
    ),
    col(
        "Limit",
        "string",
        0,
        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
];

/// `printResourceQuota`: `resource: used/hard` over `status.hard` in name
/// order, `limits.*` in the Limit column.
fn resourcequota(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut request = Vec::new();
    let mut limit = Vec::new();
    if let Some(hard) = obj.pointer("/status/hard").and_then(Value::as_object) {
        let mut names: Vec<&String> = hard.keys().collect();
        names.sort();
        for r in names {
            let hard_q = quantity(hard.get(r).and_then(Value::as_str).unwrap_or("0"));
            let used = obj
                .pointer("/status/used")
                .and_then(|u| u.get(r.as_str()))
                .and_then(Value::as_str)
                .map_or_else(|| "0".to_string(), quantity);
            let cell = format!("{r}: {used}/{hard_q}");
            if r.split('.').count() > 1 && r.starts_with("limits.") {
                limit.push(cell);
            } else {
                request.push(cell);
            }
        }
    }
    vec![
        name(obj),
        age(obj, now),
        request.join(", ").into(),
        limit.join(", ").into(),
    ]
}

const LIMITRANGES: &[Column] = &[
    NAME,
    col(
        "Created At",
        "date",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    ),
];

fn limitrange(obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), s(obj, "/metadata/creationTimestamp").into()]
}

const PODDISRUPTIONBUDGETS: &[Column] = &[
    NAME,
    col(
        "Min Available",
        "string",
        0,
        "The minimum number of pods that must be available.",
    ),
    col(
        "Max Unavailable",
        "string",
        0,
        "The maximum number of pods that may be unavailable.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        0,
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
];

/// An `IntOrString` as printed, `N/A` when unset.
fn int_or_string(obj: &Value, ptr: &str) -> Value {
    match obj.pointer(ptr) {
        Some(Value::Number(n)) => n.to_string().into(),
        Some(Value::String(t)) => t.clone().into(),
        _ => "N/A".into(),
    }
}

fn poddisruptionbudget(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name(obj),
        int_or_string(obj, "/spec/minAvailable"),
        int_or_string(obj, "/spec/maxUnavailable"),
        int(obj, "/status/disruptionsAllowed").into(),
        age(obj, now),
    ]
}

const NETWORKPOLICIES: &[Column] = &[
    NAME,
    col(
        "Pod-Selector",
        "string",
        0,
        "Selects the pods to which this NetworkPolicy object applies.",
    ),
    AGE,
];

fn networkpolicy(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // An empty podSelector selects every pod; FormatLabelSelector prints
    // `<none>` for it.
    vec![
        name(obj),
        format_label_selector(obj.pointer("/spec/podSelector")).into(),
        age(obj, now),
    ]
}

/// The printer of one of these kinds.
pub(super) fn printer(plural: &str) -> Option<(&'static [Column], Printer)> {
    Some(match plural {
        "cronjobs" => (CRONJOBS, cronjob as Printer),
        "storageclasses" => (STORAGECLASSES, storageclass),
        "volumeattachments" => (VOLUMEATTACHMENTS, volumeattachment),
        "priorityclasses" => (PRIORITYCLASSES, priorityclass),
        "validatingwebhookconfigurations" | "mutatingwebhookconfigurations" => (WEBHOOKS, webhooks),
        "resourcequotas" => (RESOURCEQUOTAS, resourcequota),
        "limitranges" => (LIMITRANGES, limitrange),
        "poddisruptionbudgets" => (PODDISRUPTIONBUDGETS, poddisruptionbudget),
        "networkpolicies" => (NETWORKPOLICIES, networkpolicy),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T14:32:10Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap()
    }

    #[test]
    fn cronjob_prints_schedule_suspend_active_and_last_schedule() {
        let cj = json!({"metadata": {"name": "report", "creationTimestamp": "2026-11-18T14:32:10Z"},
            "spec": {"schedule": "*/5 * * * *", "suspend": true,
                "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "r", "image": "acme/report:1.2"}]}}}}},
            "status": {"active": [{"name": "report-1"}], "lastScheduleTime": "2026-11-20T14:30:00Z"}});
        let cells = cronjob(&cj, now());
        assert_eq!(
            cells,
            vec![
                json!("report"),
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("True"),
                json!(1),
                json!("2m10s"),
                json!("2d"),
                json!("r"),
                json!("acme/report:1.2"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn storage_class_marks_the_default_and_fills_api_defaults() {
        let sc = json!({"metadata": {"name": "gp2", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "kubernetes.io/aws-ebs"});
        let cells = storageclass(&sc, now());
        assert_eq!(cells[0], "gp2 (default)");
        assert_eq!(cells[2], "Delete");
        assert_eq!(cells[3], "Immediate");
        assert_eq!(cells[4], false);
    }

    #[test]
    fn quota_splits_requests_and_limits_in_name_order() {
        let q = json!({"metadata": {"name": "compute"},
            "status": {"hard": {"requests.cpu": "2", "limits.memory": "4Gi", "pods": "10"},
                       "used": {"requests.cpu": "1500m", "pods": "3"}}});
        let cells = resourcequota(&q, now());
        assert_eq!(cells[2], "pods: 3/10, requests.cpu: 1500m/2");
        assert_eq!(cells[3], "limits.memory: 0/4Gi");
    }

    #[test]
    fn pdb_prints_unset_bounds_as_na() {
        let p = json!({"metadata": {"name": "web"}, "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 0}});
        let cells = poddisruptionbudget(&p, now());
        assert_eq!(cells[1], "2");
        assert_eq!(cells[2], "N/A");
        assert_eq!(cells[3], 0);
    }
}
