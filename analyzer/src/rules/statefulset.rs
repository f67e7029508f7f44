//! The StatefulSet layer: `statefulset-not-ready`, a StatefulSet short of
//! ready replicas because one ordinal is broken, and
//! `statefulset-update-stuck`, a rolling update halted on a pod of the new
//! revision that never becomes ready.
//!
//! The StatefulSet controller (`pkg/controller/statefulset/stateful_set_control.go`)
//! names pods `<set>-<ordinal>`. With `podManagementPolicy: OrderedReady`
//! (the default) it creates ordinal N+1 only once ordinals 0…N are Running
//! and Ready, and a rolling update replaces pods from the highest ordinal
//! down, one at a time, waiting for each to be Running and Ready. So one
//! broken pod blocks every ordinal after it (or the rest of the update):
//! the finding names that ordinal and its pod, and the pod's own finding
//! (a crash, a failed pull) is linked as its cause through the registry's
//! `PodNotServing` link, so the incident reads Pod → StatefulSet. With
//! `Parallel` nothing is blocked and every not-ready ordinal is named.
//!
//! A pod created less than [`GRACE_SECS`] before collection is still
//! starting, not broken. A rollout held by `partition` (ordinals below it
//! keep the old revision on purpose) or by `OnDelete` is not stuck.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kpm_model::{Finding, ObjectRef};
use kpm_semantics::pod::PodExt;
use kpm_semantics::pod_status::pod_status_reason;
use kpm_semantics::time::to_chrono;
use kpm_semantics::ObjectExt;

use crate::command::Kubectl;
use crate::context::{pod_ref, NamespaceCtx};
use crate::engine::index::controller_owner;
use crate::rules::registry::Rule;

/// A pod younger than this (seconds before collection) is still starting.
pub const GRACE_SECS: i64 = 300;

/// Every `statefulset-not-ready` and `statefulset-update-stuck` finding of
/// the namespace (at most one per StatefulSet: a stuck update explains the
/// missing ready replica).
pub fn run(ctx: &NamespaceCtx<'_>) -> Vec<Finding> {
    ctx.ns
        .statefulsets
        .iter()
        .filter_map(|sts| {
            let pods = ordinals(ctx, sts);
            update_stuck(ctx, sts, &pods).or_else(|| not_ready(ctx, sts, &pods))
        })
        .collect()
}

/// The set's pods by ordinal (`<set>-<n>`, controlled by the set).
fn ordinals<'a>(ctx: &'a NamespaceCtx<'_>, sts: &StatefulSet) -> BTreeMap<i32, &'a Pod> {
    let name = sts.name_any();
    ctx.ns
        .pods
        .iter()
        .filter(|p| controller_owner(&p.metadata) == Some(("StatefulSet", name)))
        .filter_map(|p| {
            let ordinal = p
                .name_any()
                .strip_prefix(name)?
                .strip_prefix('-')?
                .parse()
                .ok()?;
            Some((ordinal, p))
        })
        .collect()
}

/// Whether `pod` has been given time to start and is still not ready.
fn broken(ctx: &NamespaceCtx<'_>, pod: &Pod) -> bool {
    let age = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(to_chrono)
        .map(|t| (ctx.now - t).num_seconds());
    !pod.is_ready() && pod.metadata.deletion_timestamp.is_none() && age >= Some(GRACE_SECS)
}

fn replicas(sts: &StatefulSet) -> i32 {
    // The API server defaults spec.replicas to 1.
    sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn ordered(sts: &StatefulSet) -> bool {
    sts.spec
        .as_ref()
        .and_then(|s| s.pod_management_policy.as_deref())
        .is_none_or(|p| p == "OrderedReady")
}

/// `<pod> (ordinal N) is <STATUS>` as `kubectl get pods` shows it.
fn pod_text(pod: &Pod, ordinal: i32) -> String {
    format!(
        "{} (ordinal {ordinal}) is {}",
        pod.name_any(),
        pod_status_reason(pod)
    )
}

fn describe_pod(ctx: &NamespaceCtx<'_>, pod: &Pod) -> Option<String> {
    Kubectl::new()
        .namespace(ctx.namespace())
        .args(["describe", "pod"])
        .name(pod.name_any())
        .build()
}

fn not_ready(
    ctx: &NamespaceCtx<'_>,
    sts: &StatefulSet,
    pods: &BTreeMap<i32, &Pod>,
) -> Option<Finding> {
    let want = replicas(sts);
    let ready = sts
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    if ready >= want {
        return None;
    }
    let broken: Vec<(i32, &Pod)> = pods
        .iter()
        .filter(|(o, p)| **o < want && broken(ctx, p))
        .map(|(o, p)| (*o, *p))
        .collect();
    let (first_ordinal, first) = *broken.first()?;
    let name = sts.name_any();
    let object = ObjectRef::namespaced("StatefulSet", ctx.namespace(), name);
    let ordered = ordered(sts);
    let cause = if ordered {
        let blocked: Vec<String> = (first_ordinal + 1..want)
            .filter(|o| pods.get(o).is_none_or(|p| !p.is_ready()))
            .map(|o| o.to_string())
            .collect();
        let blocks = if blocked.is_empty() {
            String::new()
        } else {
            format!(
                "; with podManagementPolicy OrderedReady the controller waits for it to be Running and Ready before it creates or updates ordinal {}",
                blocked.join(", ")
            )
        };
        format!(
            "pod {}{blocks}; readyReplicas {ready} of {want}",
            pod_text(first, first_ordinal)
        )
    } else {
        let named: Vec<String> = broken.iter().map(|(o, p)| pod_text(p, *o)).collect();
        format!("{}; readyReplicas {ready} of {want}", named.join("; "))
    };
    let mut b = ctx
        .finding(Rule::StatefulsetNotReady, object.clone())
        .symptom(format!("{ready}/{want} ready"))
        .cause(cause)
        .field(&object, "spec.replicas", want.to_string())
        .field(&object, "status.readyReplicas", ready.to_string())
        .next_command(
            "See why the blocking pod is not ready",
            describe_pod(ctx, first),
        )
        .next_command(
            "See the StatefulSet's status and events",
            Kubectl::new()
                .namespace(ctx.namespace())
                .args(["describe", "statefulset"])
                .name(name)
                .build(),
        );
    if ordered {
        b = b.field(&object, "spec.podManagementPolicy", "OrderedReady");
    }
    for (_, p) in &broken {
        b = b.related(pod_ref(p));
    }
    Some(b.build())
}

fn update_stuck(
    ctx: &NamespaceCtx<'_>,
    sts: &StatefulSet,
    pods: &BTreeMap<i32, &Pod>,
) -> Option<Finding> {
    let status = sts.status.as_ref()?;
    let (current, update) = (
        status.current_revision.as_deref()?,
        status.update_revision.as_deref()?,
    );
    let strategy = sts.spec.as_ref()?.update_strategy.as_ref();
    if current == update || strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
        return None;
    }
    let partition = strategy
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let want = replicas(sts);
    let (ordinal, pod) = pods
        .iter()
        .rev()
        .filter(|(o, _)| **o >= partition && **o < want)
        .find(|(_, p)| revision(p) == Some(update) && broken(ctx, p))
        .map(|(o, p)| (*o, *p))?;
    let name = sts.name_any();
    let object = ObjectRef::namespaced("StatefulSet", ctx.namespace(), name);
    let updated = status.updated_replicas.unwrap_or(0);
    let next = (partition..ordinal)
        .rev()
        .find(|o| pods.get(o).is_some_and(|p| revision(p) != Some(update)));
    let waiting = next.map_or_else(String::new, |n| format!(" before it updates ordinal {n}"));
    let cause = format!(
        "the rolling update from revision {current} to {update} stopped: pod {}, and the controller waits for it to be Running and Ready{waiting}; updatedReplicas {updated} of {want}; reverting the template does not replace a pod stuck on a broken revision: delete it after the revert",
        pod_text(pod, ordinal)
    );
    Some(
        ctx.finding(Rule::StatefulsetUpdateStuck, object.clone())
            .symptom(format!("update stuck at ordinal {ordinal}"))
            .cause(cause)
            .field(&object, "status.currentRevision", current)
            .field(&object, "status.updateRevision", update)
            .field(&object, "status.updatedReplicas", updated.to_string())
            .related(pod_ref(pod))
            .next_command(
                "See why the updated pod is not ready",
                describe_pod(ctx, pod),
            )
            .next_command(
                "Go back to the previous revision",
                Kubectl::new()
                    .namespace(ctx.namespace())
                    .args(["rollout", "undo"])
                    .kind_name("statefulset", name)
                    .build(),
            )
            .build(),
    )
}

/// The `controller-revision-hash` label: the revision a pod was made from.
fn revision(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get("controller-revision-hash")
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{obj, Fixture};
    use serde_json::json;

    fn sts(policy: &str, ready: i32, current: &str, update: &str, partition: i32) -> StatefulSet {
        obj(json!({
            "metadata": {"name": "ledger", "namespace": "shop", "uid": "s1"},
            "spec": {"replicas": 3, "podManagementPolicy": policy, "serviceName": "ledger",
                "selector": {"matchLabels": {"app": "ledger"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
                "template": {"spec": {"containers": []}}},
            "status": {"replicas": 3, "readyReplicas": ready, "updatedReplicas": 1,
                "currentRevision": current, "updateRevision": update}
        }))
    }

    /// Pod `ledger-<ordinal>` created `age` seconds before collection.
    fn pod(ordinal: i32, ready: bool, revision: &str, age: i64) -> Pod {
        let created = (crate::testkit::now() - chrono::Duration::seconds(age)).to_rfc3339();
        let container = if ready {
            json!({"name": "app", "image": "x", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}})
        } else {
            json!({"name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 9,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}})
        };
        obj(json!({
            "metadata": {"name": format!("ledger-{ordinal}"), "namespace": "shop", "creationTimestamp": created,
                "labels": {"app": "ledger", "controller-revision-hash": revision},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "ledger", "uid": "s1", "controller": true}]},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                "containerStatuses": [container]}
        }))
    }

    fn findings(set: StatefulSet, pods: Vec<Pod>) -> Vec<Finding> {
        let mut f = Fixture::new("shop");
        f.ns.statefulsets = vec![set];
        f.ns.pods = pods;
        run(&f.ctx())
    }

    #[test]
    fn a_broken_ordinal_blocks_the_ones_after_it() {
        let out = findings(
            sts("OrderedReady", 1, "r1", "r1", 0),
            vec![pod(0, true, "r1", 9000), pod(1, false, "r1", 3000)],
        );
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert_eq!(f.rule, Rule::StatefulsetNotReady.id());
        assert!(
            f.cause.contains("ledger-1 (ordinal 1) is CrashLoopBackOff"),
            "{}",
            f.cause
        );
        assert!(
            f.cause.contains("before it creates or updates ordinal 2"),
            "{}",
            f.cause
        );
        assert!(f.cause.contains("readyReplicas 1 of 3"), "{}", f.cause);
        assert_eq!(
            f.related,
            vec![ObjectRef::namespaced("Pod", "shop", "ledger-1")]
        );
    }

    #[test]
    fn parallel_sets_name_every_broken_ordinal_and_block_nothing() {
        let out = findings(
            sts("Parallel", 1, "r1", "r1", 0),
            vec![
                pod(0, false, "r1", 9000),
                pod(1, true, "r1", 9000),
                pod(2, false, "r1", 9000),
            ],
        );
        assert_eq!(out.len(), 1);
        assert!(out[0].cause.contains("ledger-0 (ordinal 0)"));
        assert!(out[0].cause.contains("ledger-2 (ordinal 2)"));
        assert!(!out[0].cause.contains("OrderedReady"));
    }

    #[test]
    fn a_pod_still_starting_or_a_full_set_is_silent() {
        let starting = findings(
            sts("OrderedReady", 1, "r1", "r1", 0),
            vec![pod(0, true, "r1", 9000), pod(1, false, "r1", 60)],
        );
        assert!(starting.is_empty());
        let full = findings(
            sts("OrderedReady", 3, "r1", "r1", 0),
            vec![
                pod(0, true, "r1", 9000),
                pod(1, true, "r1", 9000),
                pod(2, true, "r1", 9000),
            ],
        );
        assert!(full.is_empty());
    }

    #[test]
    fn an_update_stuck_on_a_broken_new_revision_is_one_finding() {
        let out = findings(
            sts("OrderedReady", 2, "r1", "r2", 0),
            vec![
                pod(0, true, "r1", 9000),
                pod(1, true, "r1", 9000),
                pod(2, false, "r2", 1200),
            ],
        );
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert_eq!(f.rule, Rule::StatefulsetUpdateStuck.id());
        assert!(f.cause.contains("from revision r1 to r2"), "{}", f.cause);
        assert!(
            f.cause.contains("ledger-2 (ordinal 2) is CrashLoopBackOff"),
            "{}",
            f.cause
        );
        assert!(
            f.cause.contains("before it updates ordinal 1"),
            "{}",
            f.cause
        );
        assert!(f
            .next_steps
            .iter()
            .any(|s| s.command.contains("rollout undo statefulset/ledger")));
    }

    #[test]
    fn a_partitioned_or_progressing_update_is_not_stuck() {
        // partition 2: ordinals 0 and 1 keep r1 on purpose; ordinal 2 is updated and ready.
        let held = findings(
            sts("OrderedReady", 3, "r1", "r2", 2),
            vec![
                pod(0, true, "r1", 9000),
                pod(1, true, "r1", 9000),
                pod(2, true, "r2", 1200),
            ],
        );
        assert!(held.is_empty());
        let progressing = findings(
            sts("OrderedReady", 2, "r1", "r2", 0),
            vec![
                pod(0, true, "r1", 9000),
                pod(1, true, "r1", 9000),
                pod(2, false, "r2", 30),
            ],
        );
        assert!(progressing.is_empty());
    }
}
