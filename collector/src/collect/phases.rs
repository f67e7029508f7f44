//! The phases of a run, in order: cluster-scoped lists first, then every
//! namespace in scope, a bounded number at a time.

use std::sync::Arc;

use tokio::task::JoinSet;

use kpm_bundle::layout::{CLUSTER_KINDS, NAMESPACED_KINDS};

use super::{name_of, step, Ctx, ListSpec};
use crate::fetch::Paged;
use crate::logs::{self, LogTarget};

impl Ctx {
    /// Cluster-scoped lists and node metrics. Returns the namespace names
    /// found (`None` when the namespace list failed).
    pub async fn cluster(self: &Arc<Self>) -> Option<Vec<String>> {
        self.progress
            .phase("cluster: nodes, namespaces, classes, volumes, webhooks, node metrics");
        let mut set: JoinSet<Option<Vec<String>>> = JoinSet::new();
        for kind in CLUSTER_KINDS {
            let Some(spec) = ListSpec::of(kind, None) else {
                continue;
            };
            let s = step(kind.plural, None, None);
            self.plan(&s);
            let ctx = Arc::clone(self);
            set.spawn(async move {
                let mut names = Vec::new();
                let is_ns = kind.plural == "namespaces";
                let is_nodes = kind.plural == "nodes";
                let ok = ctx
                    .list(spec, s, &mut |paged| match paged {
                        Paged::Item(item) => {
                            if is_ns {
                                if let Some(n) = name_of(item) {
                                    names.push(n.to_string());
                                }
                            }
                            if is_nodes {
                                if let Ok(mut a) = ctx.alloc.lock() {
                                    a.node(item);
                                }
                            }
                        }
                        // Nodes are keyed by name: the fresh read replaces them.
                        Paged::Restart => names.clear(),
                    })
                    .await;
                if is_nodes {
                    if let (Err(f), Ok(mut a)) = (&ok, ctx.alloc.lock()) {
                        a.nodes_failed(f);
                    }
                }
                (is_ns && ok.is_ok()).then_some(names)
            });
        }
        let s = step("metrics/nodes", None, None);
        self.plan(&s);
        let ctx = Arc::clone(self);
        set.spawn(async move {
            let _ = ctx.list(ListSpec::metrics(None), s, &mut |_| {}).await;
            None
        });
        let mut found = None;
        while let Some(r) = set.join_next().await {
            if let Ok(Some(names)) = r {
                found = Some(names);
            }
        }
        found
    }

    /// Everything in the namespaces in scope, infrastructure pods outside it
    /// and the cluster-wide pod read for node allocation when needed.
    pub async fn namespaces(self: &Arc<Self>, namespaces: Vec<String>, all: bool) {
        if let Ok(mut s) = self.scope.lock() {
            *s = (namespaces.clone(), all);
        }
        self.progress.phase(&format!(
            "{} namespaces: lists, pod metrics, logs",
            namespaces.len()
        ));
        let mut outer: JoinSet<()> = JoinSet::new();
        // Plan every list now so an early stop marks them.
        for ns in &namespaces {
            for kind in NAMESPACED_KINDS {
                self.plan(&step(kind.plural, Some(ns), None));
            }
            self.plan(&step("metrics/pods", Some(ns), None));
        }
        // A selected pod list holds only some pods: infrastructure pods are
        // read first (to merge into the lists in scope) and allocation reads
        // every pod on its own.
        let selected = self.opts.selector.is_some();
        let feed = all && !selected;
        if selected {
            let ctx = Arc::clone(self);
            let out_of_scope = self.infra_for_selector(&namespaces, all).await;
            outer.spawn(async move { ctx.emit_infrastructure(out_of_scope).await });
        } else if !all {
            let ctx = Arc::clone(self);
            let scope = namespaces.clone();
            outer.spawn(async move { ctx.infrastructure(scope).await });
        }
        if !feed {
            let ctx = Arc::clone(self);
            outer.spawn(async move { ctx.allocation_pods().await });
        }
        for ns in namespaces {
            let Ok(slot) = Arc::clone(&self.namespace_slots).acquire_owned().await else {
                break;
            };
            let ctx = Arc::clone(self);
            outer.spawn(async move {
                ctx.namespace(ns, feed).await;
                drop(slot);
            });
            // Reap finished namespaces so the set stays small.
            while outer.try_join_next().is_some() {}
        }
        while outer.join_next().await.is_some() {}
    }

    async fn namespace(self: Arc<Self>, ns: String, feed_allocation: bool) {
        let mut set: JoinSet<Vec<LogTarget>> = JoinSet::new();
        for kind in NAMESPACED_KINDS {
            let Some(mut spec) = ListSpec::of(kind, Some(&ns)) else {
                continue;
            };
            let s = step(kind.plural, Some(&ns), None);
            let ctx = Arc::clone(&self);
            let is_pods = kind.plural == "pods";
            let extra_logs = if is_pods {
                self.select_pods(&mut spec, &ns)
            } else {
                Vec::new()
            };
            let ns_name = ns.clone();
            set.spawn(async move {
                let mut targets = Vec::new();
                let mut read = ctx.start_alloc_read(is_pods && feed_allocation);
                let ok = ctx
                    .list(spec, s, &mut |paged| match paged {
                        Paged::Item(item) => {
                            if is_pods {
                                targets.extend(logs::targets(item));
                                if let (Some(r), Ok(mut a)) = (read, ctx.alloc.lock()) {
                                    a.pod(r, item);
                                }
                            }
                        }
                        Paged::Restart => {
                            targets.clear();
                            read = ctx.restart_alloc_read(read);
                        }
                    })
                    .await;
                if is_pods && ok.is_err() && feed_allocation {
                    if let Ok(mut a) = ctx.alloc.lock() {
                        // Pages read before the failure are not counted: the
                        // step says the namespace is missing, not half there.
                        if let Some(r) = read {
                            a.abandon(r);
                        }
                        a.missing_namespace(&ns_name);
                    }
                }
                targets.extend(extra_logs);
                targets
            });
        }
        let ctx = Arc::clone(&self);
        let s = step("metrics/pods", Some(&ns), None);
        let spec = ListSpec::metrics(Some(&ns));
        set.spawn(async move {
            let _ = ctx.list(spec, s, &mut |_| {}).await;
            Vec::new()
        });
        while let Some(r) = set.join_next().await {
            if let Ok(targets) = r {
                self.plan_logs(&mut set, &ns, targets).await;
            }
        }
    }
}
