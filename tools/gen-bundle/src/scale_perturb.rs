//! `gen-bundle scale --perturb F`: the same cluster as without it (same
//! seed, same plan, same failures), collected an hour later with a fraction
//! `F` of its apps changed in between, as a benchmark AFTER for
//! `kpm-analyze diff` ("a few percent changed", issue 19).
//!
//! Every change is keyed by the app's name, not drawn from the plan's random
//! stream, so the apps left alone are byte-identical to BEFORE except for
//! what an hour changes in a real cluster (the collection time, the etcd
//! revision). The changes, in these proportions:
//!
//! - 30 % **rollout**: a new image tag at revision 2 (new ReplicaSet and
//!   pods, the old ReplicaSet kept scaled to 0). A rollout of an app whose
//!   pods were failing fixes it; one in five rollouts of a healthy app
//!   crash-loops (a bad deploy);
//! - 25 % **restarted**: restart counts grow (a crash-looping app's by 12,
//!   a healthy one's container restarted once, 20 minutes before AFTER);
//! - 20 % **pod replaced**: one pod deleted and recreated by its
//!   ReplicaSet (another name and uid);
//! - 15 % **ConfigMap edited** after the pods started;
//! - 10 % **Secret rotated** after the pods started.
//!
//! Besides, one node is replaced: the first NotReady node when there is one
//! (past the three system nodes), else node 3; its pods are recreated on the
//! new node under new names.

use crate::ids::{self, Rng};
use crate::scale_plan::{Failure, Plan};

/// How long after BEFORE's collection AFTER is collected.
pub const LATER_SECS: i64 = 3_600;

/// When (seconds before the anchor: negative, so after BEFORE) the changes
/// happened.
pub const CHANGED_AGO: i64 = -1_800;

/// When the replacement node joined (before the changes).
pub const NODE_JOINED_AGO: i64 = -900;

/// When a restarted container restarted (after the changes).
pub const RESTARTED_AGO: i64 = -2_400;

/// One app's change between BEFORE and AFTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// New image tag, revision 2.
    Rollout,
    /// Restart counts grew.
    Restarted,
    /// One pod recreated.
    PodReplaced,
    /// Its ConfigMap edited.
    ConfigEdited,
    /// Its Secret rotated.
    SecretRotated,
}

/// Failures a new image fixes (the pods', not the Service's or Ingress's).
fn fixed_by_rollout(f: Failure) -> bool {
    matches!(
        f,
        Failure::ImageNotFound
            | Failure::ImagePullAuth
            | Failure::CrashLoop
            | Failure::OomKilled
            | Failure::ConfigError
            | Failure::NotReady
    )
}

fn pick(rng: &mut Rng) -> Change {
    match rng.below(100) {
        0..=29 => Change::Rollout,
        30..=54 => Change::Restarted,
        55..=74 => Change::PodReplaced,
        75..=89 => Change::ConfigEdited,
        _ => Change::SecretRotated,
    }
}

/// Changes a fraction `rate` of the plan's apps and marks the replicas
/// that lived on the replaced node `node` (of `nodes`) as recreated.
pub fn apply(plan: &mut Plan, seed: u64, rate: f64, nodes: u64, node: Option<u64>) {
    for ns in &mut plan.namespaces {
        for app in &mut ns.apps {
            let mut rng = Rng::keyed(&format!("perturb/{seed}/{}/{}", ns.name, app.name));
            if let Some(n) = node.filter(|_| nodes > 0) {
                app.replaced
                    .extend((0..app.replicas).filter(|r| (app.first_pod + r) % nodes == n));
            }
            // A StatefulSet's pods keep their names when recreated, and
            // its changes are not what the diff benchmark measures.
            if rng.unit() >= rate || app.stateful {
                continue;
            }
            let change = pick(&mut rng);
            app.change = Some(change);
            match change {
                Change::Rollout => {
                    app.previous = Some((app.image.clone(), app.rollout_ago));
                    app.revision = 2;
                    app.image = bumped(&app.image);
                    app.rollout_ago = CHANGED_AGO;
                    app.failure = match app.failure {
                        Some(f) if fixed_by_rollout(f) => None,
                        None if rng.below(5) == 0 => Some(Failure::CrashLoop),
                        other => other,
                    };
                }
                Change::PodReplaced => {
                    if !app.replaced.contains(&0) {
                        app.replaced.push(0);
                    }
                }
                Change::Restarted | Change::ConfigEdited | Change::SecretRotated => {}
            }
        }
    }
}

/// The image with its patch version raised (`repo:1.2.3` → `repo:1.2.4`).
fn bumped(image: &str) -> String {
    let Some((repo, tag)) = image.rsplit_once(':') else {
        return format!("{image}:2");
    };
    match tag.rsplit_once('.') {
        Some((head, patch)) => match patch.parse::<u64>() {
            Ok(p) => format!("{repo}:{head}.{}", p + 1),
            Err(_) => format!("{repo}:{tag}-2"),
        },
        None => format!("{repo}:{tag}-2"),
    }
}

/// The key a recreated replica's name is derived from (the original's
/// with a generation), so it gets another name and uid.
pub fn incarnation_key(base: &str) -> String {
    format!("{base}/recreated")
}

/// The node index replaced in a fleet of `count` nodes whose trouble is
/// given: the first NotReady one past the system nodes, else node 3.
pub fn replaced_node(count: u64, not_ready: impl Fn(u64) -> bool) -> Option<u64> {
    if count <= 3 {
        return None;
    }
    Some((3..count).find(|i| not_ready(*i)).unwrap_or(3))
}

/// A stable, distinct key for the replacement node's address.
pub fn replacement_index(count: u64, node: u64) -> u64 {
    count + node + ids::hash("replacement") % 1_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale::ScaleOptions;
    use crate::scale_plan::plan;

    #[test]
    fn a_few_percent_of_apps_change_and_the_rest_stay_as_planned() {
        let o = ScaleOptions {
            nodes: 50,
            pods: 6_000,
            seed: 3,
            failure_rate: 0.05,
            perturb: 0.0,
        };
        let before = plan(&o);
        let mut after = plan(&o);
        apply(&mut after, o.seed, 0.03, o.nodes, Some(7));
        let pairs: Vec<_> = before
            .namespaces
            .iter()
            .flat_map(|n| &n.apps)
            .zip(after.namespaces.iter().flat_map(|n| &n.apps))
            .collect();
        let changed = pairs.iter().filter(|(_, a)| a.change.is_some()).count();
        let share = changed as f64 / pairs.len() as f64;
        assert!(
            (0.01..0.06).contains(&share),
            "{changed} of {}",
            pairs.len()
        );
        for (b, a) in &pairs {
            assert_eq!(
                (&b.name, b.replicas, b.first_pod),
                (&a.name, a.replicas, a.first_pod)
            );
            if a.change.is_none() {
                assert_eq!(
                    (&b.image, b.failure, b.revision),
                    (&a.image, a.failure, a.revision)
                );
            }
            if a.change == Some(Change::Rollout) {
                assert_ne!(b.image, a.image);
                assert_eq!(a.revision, 2);
            }
            // Pods on node 7 were recreated.
            for r in 0..a.replicas {
                let on_node = (a.first_pod + r) % o.nodes == 7;
                assert!(!on_node || a.replaced.contains(&r));
            }
        }
    }

    #[test]
    fn patch_versions_are_bumped() {
        assert_eq!(bumped("ghcr.io/acme/api:1.2.3"), "ghcr.io/acme/api:1.2.4");
        assert_eq!(bumped("nginx:latest"), "nginx:latest-2");
        assert_eq!(replaced_node(10, |i| i == 6), Some(6));
        assert_eq!(replaced_node(10, |_| false), Some(3));
        assert_eq!(replaced_node(3, |_| true), None);
    }
}
