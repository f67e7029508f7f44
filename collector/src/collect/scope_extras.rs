//! Steps outside the namespace scope: infrastructure pods (found by label
//! across all namespaces) and the cluster-wide pod read that node allocation
//! needs when only some namespaces are collected.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio::task::JoinSet;

use kpm_bundle::layout;

use super::{elapsed_ms, fail, fill_type, name_of, step, uid_of, Ctx, InfraExtra, ListSpec};
use crate::fetch::Paged;
use crate::infra::{self, InfraGroup};
use crate::logs::{self, LogTarget};
use crate::redact::Counts;

use crate::sink::Record;
use crate::spool::Items;

/// Pods by their id (uid, else name), with the infrastructure groups whose
/// selectors found them.
type PodsById = BTreeMap<String, (Value, Vec<&'static str>)>;

/// What the infrastructure reads found outside the namespace scope.
#[derive(Default)]
pub(super) struct InfraFound {
    /// Namespace -> its infrastructure pods.
    pods: BTreeMap<String, PodsById>,
    /// Namespace -> logs to read (groups with `logs`).
    logs: BTreeMap<String, Vec<LogTarget>>,
    /// From the first list that answered.
    resource_version: Option<String>,
}

impl InfraFound {
    /// Adds `item` (found by `group`) unless its namespace is in `scope`;
    /// returns whether it was added. A pod found twice is kept once.
    fn add(&mut self, group: &InfraGroup, scope: &[String], mut item: Value) -> bool {
        let Some(ns) = item
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return false;
        };
        if infra::in_scope(false, scope, &ns) {
            return false;
        }
        fill_type(&mut item, "Pod", "v1");
        if group.logs {
            self.logs
                .entry(ns.clone())
                .or_default()
                .extend(logs::targets(&item));
        }
        let id = item
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .or_else(|| name_of(&item))
            .unwrap_or_default()
            .to_string();
        let slot = self
            .pods
            .entry(ns)
            .or_default()
            .entry(id)
            .or_insert_with(|| (item, Vec::new()));
        if !slot.1.contains(&group.name) {
            slot.1.push(group.name);
        }
        true
    }
}

impl Ctx {
    /// Infrastructure pods whose namespace is out of scope, merged per
    /// namespace and written at `namespaces/<ns>/pods.json`.
    pub(super) async fn infrastructure(self: Arc<Self>, scope: Vec<String>) {
        if let Some(found) = self.read_infrastructure(&scope).await {
            self.emit_infrastructure(found).await;
        }
    }

    /// Every infrastructure pod outside `scope`; `None` when the run is
    /// shutting down.
    async fn read_infrastructure(&self, scope: &[String]) -> Option<InfraFound> {
        let mut found = InfraFound::default();
        for group in infra::GROUPS {
            for selector in group.selectors {
                if !self.read_infra(group, selector, scope, &mut found).await {
                    return None;
                }
            }
        }
        Some(found)
    }

    /// With `--selector`: reads every infrastructure pod, keeps those of
    /// namespaces in scope for their (selected) pod lists
    /// ([`Ctx::select_pods`]) and returns the others to write on their own.
    pub(super) async fn infra_for_selector(&self, scope: &[String], all: bool) -> InfraFound {
        let Some(mut found) = self.read_infrastructure(&[]).await else {
            return InfraFound::default();
        };
        let in_scope: Vec<String> = found
            .pods
            .keys()
            .filter(|ns| infra::in_scope(all, scope, ns))
            .cloned()
            .collect();
        if let Ok(mut extras) = self.infra_extras.lock() {
            for ns in in_scope {
                let pods = found.pods.remove(&ns).unwrap_or_default();
                let logs = found.logs.remove(&ns).unwrap_or_default();
                extras.insert(
                    ns,
                    InfraExtra {
                        pods: pods.into_values().map(|(p, _)| p).collect(),
                        logs,
                    },
                );
            }
        }
        found
    }

    /// Applies `--selector` to a namespace's pod list: the selector on the
    /// URL and the namespace's infrastructure pods as extra items. Returns
    /// the extra pods' logs to read.
    pub(super) fn select_pods(&self, spec: &mut ListSpec, ns: &str) -> Vec<LogTarget> {
        let Some(selector) = &self.opts.selector else {
            return Vec::new();
        };
        spec.url = format!("{}?labelSelector={}", spec.url, logs::encode(selector));
        let extra = self
            .infra_extras
            .lock()
            .ok()
            .and_then(|mut e| e.remove(ns))
            .unwrap_or_default();
        spec.extra = extra.pods;
        let mut targets = extra.logs;
        targets.sort();
        targets.dedup();
        targets
    }

    /// Adds the `extra` items not listed already (`seen` uids), redacted;
    /// returns how many were added.
    pub(super) fn add_extra(
        &self,
        extra: Vec<Value>,
        seen: &HashSet<String>,
        items: &mut Items,
        counts: &mut Counts,
    ) -> u64 {
        let mut added = 0;
        for mut item in extra {
            if seen.contains(&uid_of(&item)) {
                continue;
            }
            self.opts.redactor.object("Pod", &mut item, counts);
            let pushed = serde_json::to_vec(&item)
                .map_err(|e| e.to_string())
                .and_then(|b| items.push(&b).map_err(|e| e.to_string()));
            if pushed.is_ok() {
                added += 1;
            }
        }
        added
    }

    /// Writes infrastructure pods found outside the scope and reads their
    /// logs.
    pub(super) async fn emit_infrastructure(self: Arc<Self>, found: InfraFound) {
        for (ns, pods) in found.pods {
            self.write_infra_pods(&ns, pods, found.resource_version.clone())
                .await;
        }
        let mut set: JoinSet<Vec<LogTarget>> = JoinSet::new();
        for (ns, mut targets) in found.logs {
            targets.sort();
            targets.dedup();
            self.plan_logs(&mut set, &ns, targets).await;
        }
        while set.join_next().await.is_some() {}
    }

    /// One `infra-pods` step: the pods of `selector` across all namespaces.
    /// Returns `false` when the run is shutting down.
    async fn read_infra(
        &self,
        group: &InfraGroup,
        selector: &str,
        scope: &[String],
        found: &mut InfraFound,
    ) -> bool {
        let mut s = step("infra-pods", None, Some(selector));
        self.plan(&s);
        let t = Instant::now();
        let Ok(permit) = self.permits.acquire().await else {
            return false;
        };
        let mut n = 0u64;
        let result = self
            .fetch
            .list(&infra::url(selector), |paged| match paged {
                Paged::Item(item) => n += u64::from(found.add(group, scope, item)),
                // Pods are merged by uid and log targets deduped later, so
                // the fresh read simply adds again.
                Paged::Restart => n = 0,
            })
            .await;
        drop(permit);
        s.duration_ms = elapsed_ms(t);
        match result {
            Ok(info) => {
                found.resource_version = found.resource_version.take().or(info.resource_version);
                s.items = n;
                s.message = Some(format!(
                    "{} pods outside the namespace scope ({})",
                    n, group.name
                ));
                self.record(Record::Step(s)).await;
            }
            Err(f) => {
                self.note_failure(&f);
                self.record(Record::Step(fail(s, &f))).await;
            }
        }
        true
    }

    /// Writes the infrastructure pods of one out-of-scope namespace as its
    /// `pods.json`, redacted, with a step message naming the groups.
    async fn write_infra_pods(&self, ns: &str, pods: PodsById, rv: Option<String>) {
        let mut groups: Vec<&str> = pods.values().flat_map(|(_, g)| g.iter().copied()).collect();
        groups.sort_unstable();
        groups.dedup();
        let mut s = step("pods", Some(ns), None);
        s.message = Some(format!(
            "infrastructure pods only ({}): namespace {ns} is outside the --namespace scope",
            groups.join(", ")
        ));
        self.plan(&s);
        let mut counts = Counts::new();
        let mut items = Items::new();
        for (mut item, _) in pods.into_values() {
            self.opts.redactor.object("Pod", &mut item, &mut counts);
            let stored = serde_json::to_vec(&item)
                .map_err(|e| e.to_string())
                .and_then(|b| items.push(&b).map_err(|e| e.to_string()));
            if let Err(e) = stored {
                s.message = Some(format!("an item could not be stored: {e}"));
            }
        }
        self.record(Record::List {
            path: layout::namespaced_path(ns, "pods"),
            list_kind: "PodList".into(),
            api_version: "v1".into(),
            resource_version: rv,
            items,
            step: s,
            redaction: counts,
        })
        .await;
    }

    /// With a namespace scope, node allocation still needs every pod bound to
    /// a node: one cluster-wide read of non-terminated pods, fed to the
    /// allocation and not stored.
    pub(super) async fn allocation_pods(self: Arc<Self>) {
        let url =
            "/api/v1/pods?fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed";
        let Ok(permit) = self.permits.acquire().await else {
            return;
        };
        let mut read = self.start_alloc_read(true);
        let result = self
            .fetch
            .list(url, |paged| match paged {
                Paged::Item(item) => {
                    if let (Some(r), Ok(mut a)) = (read, self.alloc.lock()) {
                        a.pod(r, &item);
                    }
                }
                Paged::Restart => read = self.restart_alloc_read(read),
            })
            .await;
        drop(permit);
        if let Err(f) = result {
            self.note_failure(&f);
            if let Ok(mut a) = self.alloc.lock() {
                a.pods_failed(&f);
            }
        }
    }
}
