//! Unit tests of the diff sections over testdata snapshots whose digests are
//! edited to the case at hand.

use chrono::Duration;
use kpm_bundle::Bundle;
use kpm_model::diff::{Change, DiffState, DiffVerdict};

use super::snapshot::{ContainerState, EventDigest};
use super::*;

fn snap(dir: &str) -> Snapshot {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/").to_string() + dir;
    let bundle = Bundle::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Every event kept, as when following a snapshot collected long before.
    snapshot(&bundle, &Options::default(), Some(DateTime::<Utc>::MIN_UTC))
}

#[test]
fn a_snapshot_against_itself_changes_nothing() {
    let (a, b) = (snap("crashloop"), snap("crashloop"));
    let d = compare(&a, &b);
    assert!(d.is_empty(), "{d:#?}");
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(d.verdict.state, DiffState::Unchanged);
    assert!(d.findings.iter().all(|f| f.change == Change::Persisting));
}

#[test]
fn findings_on_replaced_pods_of_one_revision_are_the_same_incident() {
    let before = snap("crashloop");
    let mut after = snap("crashloop");
    // The same findings on pods renamed as a ReplicaSet replacing them would.
    let renamed: Vec<(String, String)> = after
        .digest
        .pods
        .keys()
        .filter(|k| k.starts_with("shop/checkout-"))
        .map(|k| (k.clone(), format!("{k}x")))
        .collect();
    for (old, new) in &renamed {
        if let Some(p) = after.digest.pods.remove(old) {
            after.digest.pods.insert(new.clone(), p);
        }
    }
    for f in &mut after.report.findings {
        if f.object.kind == "Pod" && f.object.name.starts_with("checkout-") {
            f.object.name.push('x');
        }
    }
    let d = compare(&before, &after);
    let crash: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.rule == "pod-crashloop")
        .collect();
    assert_eq!(crash.len(), 1, "{crash:#?}");
    assert_eq!(crash[0].change, Change::Persisting);
    assert!(
        crash[0].subject.starts_with("Deployment/shop/checkout@"),
        "{}",
        crash[0].subject
    );
    assert_eq!((crash[0].before, crash[0].after), (2, 2));
}

#[test]
fn verdict_counts_incidents() {
    assert_eq!(
        DiffVerdict::new(2, 1, 1).text,
        "mixed: 2 incidents resolved, 1 new, 1 persisting"
    );
    assert_eq!(
        DiffVerdict::new(1, 0, 0).text,
        "fixed: 1 incident resolved, 0 new, 0 persisting"
    );
    assert_eq!(DiffVerdict::new(0, 0, 3).state, DiffState::Unchanged);
    assert_eq!(DiffVerdict::new(0, 2, 0).state, DiffState::Worse);
}

#[test]
fn restarts_that_grew_and_containers_that_started_crashing() {
    let before = snap("healthy");
    let mut after = snap("healthy");
    let key = after
        .digest
        .pods
        .iter()
        .find(|(_, p)| p.workload.as_deref() == Some("Deployment/shop/cart"))
        .map(|(k, _)| k.clone())
        .unwrap_or_default();
    if let Some(p) = after.digest.pods.get_mut(&key) {
        p.containers = vec![ContainerState {
            name: "cart".into(),
            restarts: 4,
            crashing: true,
        }];
    }
    let d = compare(&before, &after);
    let cart = d
        .workloads
        .iter()
        .find(|w| w.object.name == "cart")
        .unwrap_or_else(|| panic!("{:#?}", d.workloads));
    assert_eq!(cart.restarts.len(), 1);
    assert_eq!((cart.restarts[0].before, cart.restarts[0].after), (0, 4));
    assert_eq!(cart.started_crashing, vec!["cart".to_string()]);
    let back = compare(&after, &before);
    let cart = back
        .workloads
        .iter()
        .find(|w| w.object.name == "cart")
        .unwrap();
    assert_eq!(cart.recovered, vec!["cart".to_string()]);
    assert!(cart.restarts.is_empty(), "a count that fell did not grow");
}

#[test]
fn pods_group_by_workload_name_not_by_shared_copy() {
    let before = snap("healthy");
    let mut after = snap("healthy");
    // Every pod of cart gets its own copy of the workload key, as a digest
    // not built by one interner would have: still one workload, and one
    // pod replaced is one pod created and one deleted.
    let cart: Vec<String> = after
        .digest
        .pods
        .iter()
        .filter(|(_, p)| p.workload.as_deref() == Some("Deployment/shop/cart"))
        .map(|(k, _)| k.clone())
        .collect();
    assert!(
        cart.len() >= 2,
        "healthy runs cart on several pods: {cart:?}"
    );
    for k in &cart {
        if let Some(p) = after.digest.pods.get_mut(k) {
            p.workload = Some(std::sync::Arc::from("Deployment/shop/cart"));
        }
    }
    assert!(compare(&before, &after).workloads.is_empty());
    if let Some(p) = after.digest.pods.get_mut(&cart[0]) {
        p.uid ^= 1;
    }
    let d = compare(&before, &after);
    let [w] = d.workloads.as_slice() else {
        panic!("{:#?}", d.workloads);
    };
    let pod = cart[0].split_once('/').map(|(_, n)| n.to_string());
    assert_eq!(w.object.to_string(), "Deployment/shop/cart");
    assert_eq!(
        Some(&w.pods_created),
        pod.as_ref().map(|p| vec![p.clone()]).as_ref()
    );
    assert_eq!(w.pods_deleted, w.pods_created);
}

#[test]
fn events_already_in_before_count_only_their_growth() {
    let before = snap("crashloop");
    let mut after = snap("crashloop");
    let since = before.collected_at;
    let template = after
        .digest
        .events
        .first()
        .cloned()
        .unwrap_or_else(|| EventDigest {
            uid: String::new(),
            object: ObjectRef::namespaced("Pod", "shop", "x"),
            object_uid: String::new(),
            event_type: "Warning".into(),
            reason: "BackOff".into(),
            message: String::new(),
            first: None,
            last: None,
            count: 1,
        });
    // Seen again after BEFORE: 3 more occurrences of a known event.
    let mut grown = template.clone();
    grown.count += 3;
    grown.last = Some(since + Duration::seconds(60));
    // The same series recreated under another uid (same object, reason,
    // first occurrence): 2 more.
    let mut recreated = template.clone();
    recreated.uid = "another-uid".into();
    recreated.count += 2;
    recreated.last = Some(since + Duration::seconds(90));
    // A new event.
    let mut fresh = template.clone();
    fresh.uid = "fresh".into();
    fresh.reason = "Killing".into();
    fresh.first = Some(since + Duration::seconds(30));
    fresh.last = fresh.first;
    fresh.count = 1;
    after.digest.events = vec![grown, recreated, fresh];
    let d = compare(&before, &after);
    let counts: Vec<(String, i64)> = d
        .events
        .iter()
        .map(|e| (e.reason.clone(), e.count))
        .collect();
    let r = template.reason.clone();
    assert_eq!(
        counts,
        vec![("Killing".to_string(), 1), (r.clone(), 3), (r, 2)]
    );
}

#[test]
fn a_kind_not_collected_is_not_a_removal() {
    let before = snap("healthy");
    let mut after = snap("healthy");
    after
        .digest
        .configs
        .retain(|k, _| !k.starts_with("Secret/shop/"));
    after
        .collection
        .insert(("secrets".into(), Some("shop".into())), "forbidden".into());
    let d = compare(&before, &after);
    assert!(d.config.is_empty(), "{:#?}", d.config);
    assert_eq!(d.collection.len(), 1);
    assert_eq!(
        (
            d.collection[0].before.as_str(),
            d.collection[0].after.as_str()
        ),
        ("ok", "forbidden")
    );
    // Collected in both and gone: removed.
    after
        .collection
        .insert(("secrets".into(), Some("shop".into())), "ok".into());
    let d = compare(&before, &after);
    assert!(!d.config.is_empty() && d.config.iter().all(|c| c.change == Change::Removed));
}

#[test]
fn a_secret_rewritten_after_its_pods_started_names_them() {
    let before = snap("healthy");
    let after = snap("secret-rotated");
    let d = compare(&before, &after);
    let cart_db = d
        .config
        .iter()
        .find(|c| c.object.name == "cart-db")
        .unwrap_or_else(|| panic!("{:#?}", d.config));
    assert_eq!(cart_db.change, Change::Changed);
    // Values are never collected: the content hash cannot tell, the write can.
    assert_eq!(cart_db.content.before, cart_db.content.after);
    assert!(cart_db.written.is_some());
    assert_eq!(cart_db.stale_pods.len(), 2, "{:?}", cart_db.stale_pods);
}

#[test]
fn another_cluster_is_a_warning() {
    let before = snap("healthy");
    let mut after = snap("healthy");
    after.digest.kube_system_uid = Some("0000".into());
    after.digest.nodes = std::mem::take(&mut after.digest.nodes)
        .into_iter()
        .map(|(k, v)| (format!("{k}-other"), v))
        .collect();
    let d = compare(&before, &after);
    assert!(
        d.warnings.iter().any(|w| w.contains("kube-system")),
        "{:?}",
        d.warnings
    );
    assert!(
        d.warnings.iter().any(|w| w.contains("no node in common")),
        "{:?}",
        d.warnings
    );
}

fn open(dir: &str) -> Bundle {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/").to_string() + dir;
    Bundle::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_series_is_analysed_in_turn_each_as_if_alone() {
    let bundles = [
        open("pairs/secret-rotation/earlier"),
        open("pairs/secret-rotation/before"),
        open("pairs/secret-rotation/after"),
    ];
    let snaps = snapshots(&bundles, &Options::default());
    assert_eq!(snaps.len(), bundles.len());
    // Each one keeps the timeline from the one before it, the first none.
    assert_eq!(snaps[0].digest.events_after, None);
    for (s, previous) in snaps[1..].iter().zip(&bundles) {
        let finished = previous.manifest().collection.finished_at;
        assert_eq!(s.digest.events_after, Some(finished));
    }
    for (s, bundle) in snaps.iter().zip(&bundles) {
        let alone = snapshot(bundle, &Options::default(), s.digest.events_after);
        assert_eq!(s.report.findings, alone.report.findings);
        assert_eq!(s.digest.pods.len(), alone.digest.pods.len());
        assert_eq!(s.digest.events.len(), alone.digest.events.len());
        assert_eq!(s.collected_at, alone.collected_at);
    }
    // Every event is remembered by those a later one deduplicates against.
    for s in &snaps[..2] {
        assert!(s.digest.known_events.by_uid.len() > s.digest.events.len());
    }
    // The last is followed by none: it keeps only its timeline.
    assert!(snaps[2].digest.known_events.by_uid.is_empty());
    assert!(snaps[2].digest.known_events.by_series.is_empty());
    assert!(!snaps[2].digest.events.is_empty());
}

#[test]
fn digest_maps_are_sized_from_the_manifest_up_to_a_limit() {
    let bundle = open("crashloop");
    let mut manifest = bundle.manifest().clone();
    let listed = |m: &kpm_bundle::Manifest, what: &str| -> u64 {
        let steps = m
            .steps
            .iter()
            .filter(|s| s.what == what && s.object.is_none());
        steps.map(|s| s.items).sum()
    };
    let pods = listed(&manifest, "pods");
    let events = listed(&manifest, "events");
    assert!(pods > 0 && events > 0, "{manifest:#?}");
    let d = Digest::sized_for(&manifest, true);
    assert!(d.pods.capacity() as u64 >= pods);
    assert!(d.known_events.by_uid.capacity() as u64 >= events);
    // The last snapshot of a series remembers no event: no room kept.
    let last = Digest::sized_for(&manifest, false);
    assert_eq!(last.known_events.by_uid.capacity(), 0);
    assert!(last.pods.capacity() as u64 >= pods);
    // A manifest claiming absurd counts gets bounded maps, not an abort.
    for step in &mut manifest.steps {
        step.items = u64::MAX;
    }
    let d = Digest::sized_for(&manifest, true);
    let bound = 2 * usize::try_from(snapshot::PRESIZE_LIMIT).unwrap_or(usize::MAX);
    assert!(d.pods.capacity() <= bound, "{}", d.pods.capacity());
    assert!(d.known_events.by_series.capacity() <= bound);
    assert!(d.configs.capacity() <= bound && d.workloads.capacity() <= bound);
}

#[test]
fn sections_compared_beside_the_last_analysis_equal_those_compared_after_it() {
    let json = |d: &DiffReport| serde_json::to_value(d).unwrap_or_default();
    let mut workloads_changed = false;
    for pair in ["bad-deploy-rollback", "secret-rotation", "node-replaced"] {
        let bundles = [
            open(&format!("pairs/{pair}/before")),
            open(&format!("pairs/{pair}/after")),
        ];
        let (beside, snaps) = diff(&bundles, &Options::default()).unwrap();
        let after = compare(&snaps[0], &snaps[1]);
        assert_eq!(json(&beside), json(&after), "{pair}");
        // Swapped sides would give the mirror image, not this.
        let fresh = snapshots(&bundles, &Options::default());
        assert_eq!(
            json(&beside),
            json(&compare(&fresh[0], &fresh[1])),
            "{pair}"
        );
        workloads_changed |= !beside.workloads.is_empty();
    }
    assert!(workloads_changed, "the pairs change workloads");
    let series_bundles = [
        open("pairs/secret-rotation/earlier"),
        open("pairs/secret-rotation/before"),
        open("pairs/secret-rotation/after"),
    ];
    let (beside, snaps) = diff(&series_bundles, &Options::default()).unwrap();
    let after = series(&snaps).unwrap();
    assert_eq!(json(&beside), json(&after));
    // The Secret was rotated between the first two: the series says so.
    assert!(!beside.config.is_empty());
    assert!(series(&snaps[..1]).is_none());
    assert!(diff(&series_bundles[..1], &Options::default()).is_none());
}
