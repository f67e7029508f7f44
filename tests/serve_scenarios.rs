//! Real kubectl against `kpm_serve` on every `testdata/` scenario: each
//! bundle must be browsable without errors or warnings, with the objects
//! exactly as stored and node allocation as `derived/node-allocation.json`
//! records it (when the bundle has one).

use std::collections::BTreeSet;

use crate::support::serve::{rows, serve};
use kpm_bundle::{layout, Bundle};
use serde_json::Value;

/// `(namespace, name)` of every stored pod.
fn stored_pods(bundle: &Bundle) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let pods = layout::kind_by_plural("pods").expect("pods kind");
    for ns in bundle.namespaces() {
        if let Ok(Some(list)) = bundle.read_kind::<Value>(pods, Some(&ns)) {
            for p in list.items {
                let name = p
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                out.insert((ns.clone(), name));
            }
        }
    }
    out
}

#[test]
fn every_scenario_is_browsable_with_kubectl() {
    let scenarios = kpm_e2e::scenarios();
    assert!(!scenarios.is_empty(), "no scenario bundles under testdata/");
    for dir in scenarios {
        let bundle = Bundle::open(&dir).expect("scenario opens");
        let s = serve(&dir, None, &[]);
        let name = dir.display().to_string();

        // Every stored pod is listed once, in (namespace, name) order.
        let listed: Vec<(String, String)> = rows(&s.ok(&["get", "pods", "-A", "--no-headers"]))
            .iter()
            .map(|r| {
                let mut f = r.split(' ');
                (
                    f.next().unwrap_or("").to_string(),
                    f.next().unwrap_or("").to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = stored_pods(&bundle).into_iter().collect();
        assert_eq!(listed, want, "{name}: get pods -A");

        // -o json gives back the stored objects.
        let json: Value =
            serde_json::from_str(&s.ok(&["get", "pods", "-A", "-o", "json"])).expect("json");
        assert_eq!(
            json["items"].as_array().map(Vec::len),
            Some(want.len()),
            "{name}"
        );

        for cmd in [
            vec!["get", "nodes", "-o", "wide"],
            vec!["get", "all", "-A"],
            vec!["get", "events", "-A", "--sort-by=.lastTimestamp"],
            vec![
                "get",
                "svc,endpoints,ingress,hpa,cm,deploy,rs,sts,ds,jobs,pvc",
                "-A",
            ],
            vec!["get", "namespaces"],
            vec!["describe", "deployments,services,ingresses,hpa,pvc", "-A"],
        ] {
            let run = s.kubectl(&cmd);
            assert_eq!(
                run.code,
                Some(0),
                "{name}: kubectl {cmd:?}:\n{}",
                run.stderr
            );
            // "No resources found" is kubectl's own note, not an error.
            assert!(
                run.stderr.is_empty() || run.stderr.starts_with("No resources found"),
                "{name}: kubectl {cmd:?}:\n{}",
                run.stderr
            );
        }

        // describe node counts the same pods as the derived allocation.
        let alloc: Option<Value> = bundle.read_json(layout::NODE_ALLOCATION).ok();
        let nodes = rows(&s.ok(&["get", "nodes", "-o", "name"]));
        assert!(!nodes.is_empty(), "{name}: no nodes");
        for node in nodes {
            let out = s.ok(&["describe", &node]);
            assert!(out.contains("Allocated resources:"), "{name}: {node}");
            let short = node.trim_start_matches("node/");
            if let Some(entry) = alloc
                .as_ref()
                .and_then(|a| a["nodes"].as_array())
                .and_then(|ns| ns.iter().find(|n| n["node"] == short))
            {
                let count = entry["nonTerminatedPods"].as_u64().unwrap_or(0);
                assert!(
                    out.contains(&format!("({count} in total)")),
                    "{name}: {node}"
                );
            }
        }

        let dump = s.kubectl(&["cluster-info", "dump", "--all-namespaces"]);
        assert_eq!(
            dump.code,
            Some(0),
            "{name}: cluster-info dump:\n{}",
            dump.stderr
        );
        assert_eq!(dump.stderr, "", "{name}: cluster-info dump");
    }
}
