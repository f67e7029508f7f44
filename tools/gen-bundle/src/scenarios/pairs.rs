//! Before/after pairs for `kpm-analyze diff`: the same cluster collected
//! twice, something happening in between. Each snapshot is built with its
//! collection `later` seconds after the anchor ([`ids::collected_later`]):
//! what existed before keeps its times, what happened in between has a
//! negative `ago`. The expected diffs (`testdata/pairs/<pair>/expected-diff.json`)
//! are written by hand from these definitions, not generated.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::common::{self, crashloop_events, pod_obj, pod_ref};
use super::healthy::{self, ShopOptions};
use crate::app::{self, AppSpec};
use crate::baseline::{self, Baseline};
use crate::builders::event::{self, Source};
use crate::builders::node::{self, NodeId, M5_XLARGE};
use crate::builders::pod::{ContainerState, PodFate, Terminated};
use crate::cluster::Cluster;
use crate::ids;
use crate::world::World;

/// One snapshot of a pair: its directory name, how long after the anchor
/// it was collected, and how it is built.
pub type Snap = (&'static str, i64, fn() -> Cluster);

/// A before/after pair (or a longer series, oldest first).
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    /// Directory name under `testdata/pairs/`.
    pub name: &'static str,
    /// What happened between the snapshots.
    pub description: &'static str,
    /// The snapshots, oldest first; `before` and `after` are the pair.
    pub snapshots: &'static [Snap],
}

/// Every pair.
pub const PAIRS: &[Pair] = &[
    Pair {
        name: "bad-deploy-rollback",
        description: "checkout 3.15.0 (revision 2) crashes at startup in BEFORE; 5 minutes after it was collected the Deployment was rolled back to 3.14.2 (revision 3), whose two pods run and are ready in AFTER (15 minutes later).",
        snapshots: &[("before", 0, rollback_before), ("after", 900, rollback_after)],
    },
    Pair {
        name: "secret-rotation",
        description: "earlier: healthy. The cart-db Secret is rotated 2 minutes after; BEFORE (10 minutes later) shows the cart pods still on the old password; cart is restarted (revision 2) 12 minutes after the anchor and AFTER (20 minutes after it) shows new pods started after the rotation.",
        snapshots: &[
            ("earlier", 0, secret_earlier),
            ("before", 600, secret_before),
            ("after", 1_200, secret_after),
        ],
    },
    Pair {
        name: "node-replaced",
        description: "BEFORE: the autoscaler's node ip-10-0-1-208 has stopped posting status for 18 minutes (NotReady). Between the snapshots it is removed and ip-10-0-1-231 joins (7 minutes after BEFORE) and is Ready in AFTER (15 minutes after BEFORE).",
        snapshots: &[("before", 0, node_before), ("after", 900, node_after)],
    },
    Pair {
        name: "hpa-scale-out",
        description: "BEFORE: the frontend HPA holds 3 replicas at 41 % CPU. 4 minutes after BEFORE, at 88 %, it scales the frontend to 5 (two pods added, the others where they were); AFTER (15 minutes after BEFORE) has 5 ready frontend pods.",
        snapshots: &[("before", 0, hpa_before), ("after", 900, hpa_after)],
    },
];

/// Looks a pair up by name.
pub fn by_name(name: &str) -> Option<Pair> {
    PAIRS.iter().copied().find(|p| p.name == name)
}

/// Writes `out/<pair>/<snapshot>/` for every snapshot of the pair; returns
/// the pair's directory.
pub fn write(pair: &Pair, out: &Path) -> kpm_bundle::Result<PathBuf> {
    let dir = out.join(pair.name);
    for (name, later, build) in pair.snapshots {
        ids::collected_later(*later, || build().write_dir(&dir.join(name)))?;
    }
    Ok(dir)
}

fn shop_world(opts: &ShopOptions) -> World {
    let mut w = baseline::world(&Baseline::default());
    healthy::shop(&mut w, "shop", opts);
    w
}

// --- bad deploy and rollback ---------------------------------------------

const CHECKOUT_AGE: i64 = 86_400 * 30;

fn checkout(image: &str, revision: u32, rollout_ago: i64) -> AppSpec {
    let mut app = AppSpec::new(
        "shop",
        "checkout",
        image,
        8080,
        2,
        CHECKOUT_AGE,
        rollout_ago,
    );
    app.revision = revision;
    app.main_container()["env"] = json!([
        {"name": "NODE_ENV", "value": "production"},
        {"name": "CART_API_URL", "value": "http://cart.shop.svc.cluster.local"}
    ]);
    app
}

fn rollback_before() -> Cluster {
    let mut w = shop_world(&ShopOptions::default());
    let image = "ghcr.io/acme-shop/checkout:3.15.0";
    let age = 600;
    let app = checkout(image, 2, age);
    let mut placed = vec![];
    let d = app::deploy(&mut w, &app, |i, name, pl| {
        placed.push(pl.node.clone());
        let last = Terminated::new("Error", 1, 160 + i as i64 * 9, 159 + i as i64 * 9);
        let st = ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: Some(common::crashloop_message(
                &pod_ref("shop", name),
                "checkout",
                "2m40s",
            )),
            restarts: 5,
            last: Some(last),
        };
        (PodFate::Placed(pl), vec![st])
    });
    common::expose(&mut w, &app, "checkout");
    for (i, name) in d.pods.iter().enumerate() {
        let p = pod_obj(&w, "shop", name);
        let node = placed.get(i).cloned().unwrap_or_default();
        w.cluster.add_all(crashloop_events(
            &p,
            "checkout",
            image,
            &node,
            5,
            age - 8,
            21 + i as i64 * 9,
        ));
        let log = super::pods::checkout_crash_log(name, 160 + i as i64 * 9);
        w.cluster.add_log("shop", name, "checkout", true, &log);
        w.cluster.add_log("shop", name, "checkout", false, &log);
    }
    w.finish()
}

fn rollback_after() -> Cluster {
    let mut w = shop_world(&ShopOptions::default());
    let app = checkout("ghcr.io/acme-shop/checkout:3.14.2", 3, -300);
    app::deploy_healthy(&mut w, &app);
    common::expose(&mut w, &app, "checkout");
    w.finish()
}

// --- secret rotated, then the restart that picked it up -------------------

/// The rotation, 2 minutes after the anchor.
const ROTATED: i64 = -120;

fn secret_earlier() -> Cluster {
    shop_world(&ShopOptions::default()).finish()
}

fn secret_before() -> Cluster {
    shop_world(&ShopOptions {
        secret_changed_ago: Some(ROTATED),
        ..ShopOptions::default()
    })
    .finish()
}

fn secret_after() -> Cluster {
    shop_world(&ShopOptions {
        secret_changed_ago: Some(ROTATED),
        cart_restarted: Some((-720, 2)),
        ..ShopOptions::default()
    })
    .finish()
}

// --- a node lost and replaced ----------------------------------------------

fn node_before() -> Cluster {
    let mut w = shop_world(&ShopOptions::default());
    let (_, lost_node) = super::capacity::lost_node(&mut w);
    w.cluster.add(lost_node);
    w.finish()
}

fn node_after() -> Cluster {
    let mut w = shop_world(&ShopOptions::default());
    // What BEFORE already held, then the node controller forgetting the node
    // (nodeutil.RecordNodeEvent prefixes "Node <name> event: ").
    let (lost, lost_node) = super::capacity::lost_node(&mut w);
    w.cluster.add(event::event(
        "default",
        &lost_node,
        None,
        "Normal",
        "RemovingNode",
        &format!(
            "Node {0} event: Removing Node {0} from Controller",
            lost.name
        ),
        &Source::controller("node-controller"),
        1,
        -300,
        -300,
    ));
    let new = NodeId::from_ip("10.0.1.231");
    let new_node = node::node(&new, &M5_XLARGE, "general-20250410", -420);
    crate::background::node_joined(&mut w, &new_node, -420);
    w.cluster.add(new_node);
    w.finish()
}

// --- HPA scale-out ------------------------------------------------------------

fn hpa_before() -> Cluster {
    shop_world(&ShopOptions::default()).finish()
}

fn hpa_after() -> Cluster {
    let mut w = shop_world(&ShopOptions {
        frontend_scaled: Some((5, 88)),
        frontend_scaled_at: Some(-240),
        ..ShopOptions::default()
    });
    let rs = crate::builders::workload::replica_set_name("shop", "frontend", frontend_revision()).0;
    let deployment = world_object("apps/v1", "Deployment", "frontend", &w);
    let hpa = world_object("autoscaling/v2", "HorizontalPodAutoscaler", "frontend", &w);
    w.cluster.add(event::event(
        "shop",
        &hpa,
        None,
        "Normal",
        "SuccessfulRescale",
        "New size: 5; reason: cpu resource utilization (percentage of request) above target",
        &Source::controller("horizontal-pod-autoscaler"),
        1,
        -240,
        -240,
    ));
    w.cluster.add(event::event(
        "shop",
        &deployment,
        None,
        "Normal",
        "ScalingReplicaSet",
        &format!("Scaled up replica set {rs} to 5 from 3"),
        &Source::controller("deployment-controller"),
        1,
        -240,
        -240,
    ));
    w.finish()
}

/// The shop frontend's revision (as [`AppSpec::new`] computes it).
fn frontend_revision() -> u32 {
    AppSpec::new(
        "shop",
        "frontend",
        "",
        8080,
        3,
        86_400 * 120,
        healthy::SHOP_ROLLOUT,
    )
    .revision
}

/// The object `kind/shop/name` of the world, for an event about it.
fn world_object(api: &str, kind: &str, name: &str, w: &World) -> serde_json::Value {
    let plural = match kind {
        "Deployment" => "deployments",
        _ => "horizontalpodautoscalers",
    };
    w.cluster
        .objects("shop", plural)
        .iter()
        .find(|o| crate::builders::meta::name_of(o) == name)
        .cloned()
        .unwrap_or_else(|| json!({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "shop"}}))
}
