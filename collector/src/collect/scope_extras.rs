//! Steps outside the namespace scope: infrastructure pods (found by label
//! across all namespaces) and the cluster-wide pod read that node allocation
//! needs when only some namespaces are collected.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio::task::JoinSet;

use kpm_bundle::layout;

use super::{elapsed_ms, fail, fill_type, name_of, step, Ctx, ListSpec};
use crate::fetch::Paged;
use crate::infra;
use crate::logs::{self, LogTarget};
use crate::redact::Counts;
use crate::sink::Record;
use crate::spool::Items;

impl Ctx {
    /// Infrastructure pods whose namespace is out of scope, merged per
    /// namespace and written at `namespaces/<ns>/pods.json`.
    pub(super) async fn infrastructure(self: Arc<Self>, scope: Vec<String>) {
        // namespace -> uid/name -> (item, group names)
        let mut found: BTreeMap<String, BTreeMap<String, (Value, Vec<&'static str>)>> =
            BTreeMap::new();
        let mut want_logs: BTreeMap<String, Vec<LogTarget>> = BTreeMap::new();
        let mut rv = None;
        for group in infra::GROUPS {
            for selector in group.selectors {
                let s = step("infra-pods", None, Some(selector));
                self.plan(&s);
                let spec = ListSpec {
                    url: infra::url(selector),
                    path: String::new(),
                    kind: "Pod".into(),
                    api_version: "v1".into(),
                    list_kind: "PodList".into(),
                };
                let t = Instant::now();
                let Ok(permit) = self.permits.acquire().await else {
                    return;
                };
                let mut n = 0u64;
                let result = self
                    .fetch
                    .list(&spec.url, |paged| {
                        let mut item = match paged {
                            Paged::Item(item) => item,
                            // Pods are merged by uid and log targets deduped
                            // below, so the fresh read simply adds again.
                            Paged::Restart => {
                                n = 0;
                                return;
                            }
                        };
                        let Some(ns) = item
                            .pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                        else {
                            return;
                        };
                        if infra::in_scope(false, &scope, &ns) {
                            return;
                        }
                        n += 1;
                        fill_type(&mut item, "Pod", "v1");
                        if group.logs {
                            want_logs
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
                        let slot = found
                            .entry(ns)
                            .or_default()
                            .entry(id)
                            .or_insert_with(|| (item, Vec::new()));
                        if !slot.1.contains(&group.name) {
                            slot.1.push(group.name);
                        }
                    })
                    .await;
                drop(permit);
                let mut s = s;
                s.duration_ms = elapsed_ms(t);
                match result {
                    Ok(info) => {
                        rv = rv.or(info.resource_version);
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
            }
        }
        for (ns, pods) in found {
            let mut groups: Vec<&str> =
                pods.values().flat_map(|(_, g)| g.iter().copied()).collect();
            groups.sort_unstable();
            groups.dedup();
            let mut s = step("pods", Some(&ns), None);
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
                path: layout::namespaced_path(&ns, "pods"),
                list_kind: "PodList".into(),
                api_version: "v1".into(),
                resource_version: rv.clone(),
                items,
                step: s,
                redaction: counts,
            })
            .await;
        }
        let mut set: JoinSet<Vec<LogTarget>> = JoinSet::new();
        for (ns, mut targets) in want_logs {
            targets.sort();
            targets.dedup();
            self.plan_logs(&mut set, &ns, targets).await;
        }
        while set.join_next().await.is_some() {}
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
