//! The rest of the read-only surface through real kubectl: `auth can-i`,
//! `kubectl events` and events.k8s.io, field selectors with the server's
//! refusals, `--sort-by`/custom-columns/jsonpath on every kind, log
//! options, `top --containers`, `describe` with events, and the health and
//! version paths, on the synthetic bundle, a `testdata/` scenario and a
//! bundle of the real-world corpus (`../shared/corpus/kpm/`).

use std::path::PathBuf;

use crate::support::serve::{rows, serve, write_fixture, Served};
use kpm_bundle::layout;
use serde_json::Value;

fn fixture() -> (tempfile::TempDir, Served) {
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = write_fixture(dir.path());
    let served = serve(&bundle, None, &[]);
    (dir, served)
}

/// A real capture; the test fails when the corpus is missing.
fn corpus_bundle(name: &str) -> PathBuf {
    let dir = kpm_e2e::workspace_root()
        .join("../shared/corpus/kpm")
        .join(name);
    assert!(
        dir.join("manifest.json").is_file(),
        "the real-world corpus bundle {} is missing (see ../shared/corpus/README.md)",
        dir.display()
    );
    dir
}

#[test]
fn auth_can_i_answers_what_the_snapshot_serves() {
    let (_d, s) = fixture();
    let can_i = |args: &[&str]| {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        let run = s.kubectl(&all);
        (run.code, run.stdout)
    };
    assert_eq!(
        can_i(&["get", "pods", "-n", "shop"]),
        (Some(0), "yes\n".into())
    );
    assert_eq!(can_i(&["watch", "pods", "-A"]), (Some(0), "yes\n".into()));
    assert_eq!(can_i(&["list", "nodes"]), (Some(0), "yes\n".into()));
    assert_eq!(
        can_i(&["get", "pods", "--subresource=log", "-n", "shop"]),
        (Some(0), "yes\n".into())
    );
    assert_eq!(can_i(&["get", "/readyz"]), (Some(0), "yes\n".into()));
    assert_eq!(
        can_i(&["list", "events.events.k8s.io", "-n", "shop"]),
        (Some(0), "yes\n".into())
    );
    assert_eq!(
        can_i(&["list", "secrets", "-n", "shop"]),
        (
            Some(1),
            "no - the collector was forbidden to read secrets in namespace shop: the snapshot holds none\n"
                .into()
        )
    );
    for write in ["create", "delete", "patch", "update"] {
        assert_eq!(
            can_i(&[write, "deployments.apps", "-n", "shop"]),
            (
                Some(1),
                format!("no - {write} is not allowed: this API server is a read-only snapshot served by kpm from a bundle; nothing can be changed\n")
            ),
            "{write}"
        );
    }
    // The list: reads of what is held, the reviews, no wildcard, no write.
    let list = rows(&s.ok(&["auth", "can-i", "--list", "-n", "shop"]));
    for want in [
        "pods [] [] [get list watch]",
        "deployments.apps [] [] [get list watch]",
        "events.events.k8s.io [] [] [get list]",
        "pods/log [] [] [get]",
        "nodes.metrics.k8s.io [] [] [get list]",
        "selfsubjectaccessreviews.authorization.k8s.io [] [] [create]",
        "[/version] [] [get]",
    ] {
        assert!(list.contains(&want.to_string()), "{want} in {list:#?}");
    }
    assert!(!list.iter().any(|r| r.starts_with("secrets ")), "{list:#?}");
    assert!(
        !list.iter().any(|r| r.contains('*') && !r.contains("/*]")),
        "{list:#?}"
    );
    // Discovery lists the reviews, create only.
    let resources = rows(&s.ok(&[
        "api-resources",
        "--api-group=authorization.k8s.io",
        "-o",
        "wide",
        "--no-headers",
    ]));
    assert_eq!(
        resources,
        [
            "selfsubjectaccessreviews authorization.k8s.io/v1 false SelfSubjectAccessReview create",
            "selfsubjectrulesreviews authorization.k8s.io/v1 false SelfSubjectRulesReview create",
        ]
    );
}

#[test]
fn kubectl_events_and_events_k8s_io() {
    let (_d, s) = fixture();
    let all = s.ok(&["events", "-n", "shop"]);
    for reason in ["BackOff", "Scheduled", "FailedScheduling", "Started"] {
        assert!(all.contains(reason), "{reason} missing:\n{all}");
    }
    let api = s.ok(&["events", "-n", "shop", "--for", "pod/api-6f7c9d-xk2lp"]);
    assert_eq!(rows(&api).len(), 3, "header and two events:\n{api}");
    assert!(api.contains("Started container api") && api.contains("Back-off restarting"));
    assert!(!api.contains("FailedScheduling"), "{api}");
    let warnings = s.ok(&["events", "-A", "--types", "Warning"]);
    let lines = rows(&warnings);
    assert!(
        lines[0].starts_with("NAMESPACE LAST SEEN TYPE REASON"),
        "{warnings}"
    );
    assert_eq!(lines.len(), 3, "{warnings}");
    assert!(
        lines.iter().skip(1).all(|l| l.contains(" Warning ")),
        "{warnings}"
    );
    let none = s.kubectl(&["events", "-n", "default"]);
    assert_eq!(none.code, Some(0));
    assert!(
        none.stderr
            .contains("No events found in default namespace."),
        "{}",
        none.stderr
    );

    // events.k8s.io/v1: the core Events converted as the API server does.
    let v1: Value = serde_json::from_str(&s.ok(&[
        "get",
        "events.v1.events.k8s.io",
        "-n",
        "shop",
        "-o",
        "json",
    ]))
    .expect("json");
    let items = v1["items"].as_array().expect("items");
    let core = crate::support::serve::events();
    assert_eq!(items.len(), core.len());
    for c in &core {
        let name = &c["metadata"]["name"];
        let e = items
            .iter()
            .find(|e| &e["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{name} not served"));
        assert_eq!(e["apiVersion"], "events.k8s.io/v1");
        assert_eq!(e["note"], c["message"]);
        assert_eq!(e["regarding"], c["involvedObject"]);
        assert_eq!(e["deprecatedCount"], c["count"]);
        assert_eq!(e["deprecatedSource"], c["source"]);
        assert_eq!(e["deprecatedLastTimestamp"], c["lastTimestamp"]);
        assert_eq!(e["reportingController"], c["reportingComponent"]);
        assert!(e.get("message").is_none() && e.get("involvedObject").is_none());
    }
    let selected = rows(&s.ok(&[
        "get",
        "events.events.k8s.io",
        "-n",
        "shop",
        "--field-selector",
        "regarding.name=worker-5d8b-q7x",
        "--no-headers",
    ]));
    assert_eq!(selected.len(), 1, "{selected:?}");
    assert!(selected[0].contains("FailedScheduling"));
    assert_eq!(
        s.fails(&["get", "events.events.k8s.io", "-n", "shop", "--field-selector", "involvedObject.name=x"]).trim(),
        "Error from server (BadRequest): Unable to find \"events.k8s.io/v1, Resource=events\" that match label selector \"\", field selector \"involvedObject.name=x\": field label not supported: involvedObject.name"
    );
}

#[test]
fn field_selectors_are_accepted_and_refused_as_the_api_server_does() {
    let (_d, s) = fixture();
    assert_eq!(
        rows(&s.ok(&[
            "get",
            "svc",
            "-A",
            "--field-selector",
            "spec.type=ClusterIP,spec.clusterIP=10.96.12.7",
            "--no-headers",
            "-o",
            "name"
        ])),
        ["service/web"]
    );
    assert_eq!(
        rows(&s.ok(&[
            "get",
            "events",
            "-A",
            "--field-selector",
            "involvedObject.kind=Pod,type=Warning,reason=BackOff",
            "--no-headers",
            "-o",
            "name"
        ])),
        ["event/api-6f7c9d-xk2lp.182a1"]
    );
    assert_eq!(
        rows(&s.ok(&[
            "get",
            "nodes",
            "--field-selector",
            "spec.unschedulable=false,metadata.name=worker-2",
            "-o",
            "name"
        ])),
        ["node/worker-2"]
    );
    assert_eq!(
        rows(&s.ok(&[
            "get",
            "ns",
            "--field-selector",
            "status.phase=Active",
            "-o",
            "name"
        ])),
        ["namespace/default", "namespace/shop"]
    );
    for (args, message) in [
        (
            vec!["get", "pods", "-A", "--field-selector", "spec.foo=1"],
            "Unable to find \"/v1, Resource=pods\" that match label selector \"\", field selector \"spec.foo=1\": field label not supported: spec.foo",
        ),
        (
            vec!["get", "nodes", "--field-selector", "metadata.namespace=shop"],
            "Unable to find \"/v1, Resource=nodes\" that match label selector \"\", field selector \"metadata.namespace=shop\": field label not supported: metadata.namespace",
        ),
        (
            vec!["get", "deploy", "-A", "--field-selector", "status.replicas=1"],
            "Unable to find \"apps/v1, Resource=deployments\" that match label selector \"\", field selector \"status.replicas=1\": \"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        ),
        (
            vec!["get", "jobs", "-n", "shop", "--field-selector", "status.succeeded=1"],
            "Unable to find \"batch/v1, Resource=jobs\" that match label selector \"\", field selector \"status.succeeded=1\": field label \"status.succeeded\" not supported for batchv1.Job",
        ),
    ] {
        assert_eq!(
            s.fails(&args).trim(),
            format!("Error from server (BadRequest): {message}"),
            "{args:?}"
        );
    }
}

/// Every kind the bundle serves, as kubectl names it.
fn kinds() -> Vec<String> {
    layout::all_kinds()
        .map(|k| {
            if k.group.is_empty() {
                k.plural.to_string()
            } else {
                format!("{}.{}", k.plural, k.group)
            }
        })
        .collect()
}

/// `--sort-by`, custom columns, jsonpath, label and field selectors and
/// `describe` on every kind, without an error or a warning.
fn printing_and_selectors_work_on_every_kind(s: &Served, what: &str) {
    for kind in kinds() {
        let scope = if layout::kind_by_plural(kind.split('.').next().unwrap_or(""))
            .is_some_and(|k| k.scope == layout::Scope::Namespaced)
        {
            "-A"
        } else {
            "--all-namespaces=false"
        };
        let names = s.kubectl(&[
            "get",
            &kind,
            scope,
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ]);
        if names.code != Some(0) {
            // Not collected or forbidden: said so, never an empty answer.
            assert!(
                names.stderr.contains("(NotFound)") || names.stderr.contains("(Forbidden)"),
                "{what}: {kind}: {}",
                names.stderr
            );
            continue;
        }
        assert_eq!(names.stderr, "", "{what}: {kind}");
        let first = names.stdout.split(' ').next().unwrap_or("").to_string();
        for args in [
            vec!["get", &kind, scope, "--sort-by=.metadata.name"],
            vec![
                "get",
                &kind,
                scope,
                "--sort-by=.metadata.creationTimestamp",
                "-o",
                "wide",
            ],
            vec![
                "get",
                &kind,
                scope,
                "-o",
                "custom-columns=NAME:.metadata.name,CREATED:.metadata.creationTimestamp",
            ],
            vec![
                "get",
                &kind,
                scope,
                "-l",
                "app.kubernetes.io/name!=nothing,!kpm-absent",
            ],
            vec!["describe", &kind, scope],
        ] {
            let run = s.kubectl(&args);
            assert_eq!(
                run.code,
                Some(0),
                "{what}: kubectl {args:?}:\n{}",
                run.stderr
            );
            assert!(
                run.stderr.is_empty() || run.stderr.starts_with("No resources found"),
                "{what}: kubectl {args:?}:\n{}",
                run.stderr
            );
        }
        if !first.is_empty() {
            selects_and_sorts_by_name(s, what, &kind, scope, &first);
        }
    }
}

/// A field selector on the name of `first` selects it alone, and
/// `--sort-by=.metadata.name` sorts.
fn selects_and_sorts_by_name(s: &Served, what: &str, kind: &str, scope: &str, first: &str) {
    let selector = format!("metadata.name={first}");
    let out = s.ok(&[
        "get",
        kind,
        scope,
        "--field-selector",
        &selector,
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    assert!(
        out.split(' ').all(|n| n == first),
        "{what}: {kind} --field-selector {selector}: {out}"
    );
    let sorted = s.ok(&[
        "get",
        kind,
        scope,
        "--sort-by=.metadata.name",
        "-o",
        "custom-columns=N:.metadata.name",
        "--no-headers",
    ]);
    let listed: Vec<&str> = sorted.lines().collect();
    let mut want = listed.clone();
    want.sort_unstable();
    assert_eq!(listed, want, "{what}: {kind} --sort-by");
}

#[test]
fn every_kind_prints_sorts_and_selects_on_a_scenario_and_a_real_capture() {
    let demo = kpm_e2e::testdata().join("demo");
    printing_and_selectors_work_on_every_kind(&serve(&demo, None, &[]), "demo");
    let real = corpus_bundle("minikube-image-pull-x509");
    let s = serve(&real, None, &[]);
    printing_and_selectors_work_on_every_kind(&s, "minikube-image-pull-x509");
    // The access reviews and events work on the real capture too.
    assert_eq!(s.ok(&["auth", "can-i", "list", "pods", "-A"]), "yes\n");
    let events = s.kubectl(&["events", "-A"]);
    assert_eq!(events.code, Some(0), "{}", events.stderr);
    assert!(events.stdout.starts_with("NAMESPACE"), "{}", events.stdout);
}

#[test]
fn logs_options_top_containers_describe_events_and_health() {
    let (_d, s) = fixture();
    let web = "10.244.2.17 - - [01/Mar/2025:11:59:58 +0000] \"GET /healthz HTTP/1.1\" 200 2\n10.244.2.17 - - [01/Mar/2025:11:59:59 +0000] \"GET / HTTP/1.1\" 200 615\n";
    // `-l`: kubectl lists the pods by label, then reads each log.
    assert_eq!(s.ok(&["logs", "-n", "shop", "-l", "app=web"]), web);
    assert_eq!(
        s.ok(&["logs", "-n", "shop", "-l", "app=web", "--tail=1"]),
        "10.244.2.17 - - [01/Mar/2025:11:59:59 +0000] \"GET / HTTP/1.1\" 200 615\n"
    );
    assert_eq!(
        s.ok(&["logs", "-n", "shop", "web-7c9d8f-abcde", "--limit-bytes=11"]),
        "10.244.2.17"
    );
    // The crash-looping container answers with its last instance's log.
    let all = s.ok(&[
        "logs",
        "-n",
        "shop",
        "api-6f7c9d-xk2lp",
        "--all-containers",
        "--prefix",
    ]);
    assert!(
        all.contains("[pod/api-6f7c9d-xk2lp/api] panic: dial tcp"),
        "{all}"
    );
    assert!(
        all.contains("[pod/api-6f7c9d-xk2lp/envoy] [2025-03-01 09:00:05.120]"),
        "{all}"
    );
    // Since: relative to the collection, not the wall clock.
    assert_eq!(
        s.ok(&["logs", "-n", "shop", "web-7c9d8f-abcde", "--since=1h"]),
        web
    );
    assert_eq!(
        s.ok(&[
            "logs",
            "-n",
            "shop",
            "web-7c9d8f-abcde",
            "--since-time=2025-03-01T11:00:00Z"
        ]),
        web
    );
    assert_eq!(
        s.ok(&[
            "logs",
            "-n",
            "shop",
            "api-6f7c9d-xk2lp",
            "-c",
            "api",
            "--previous",
            "--since=1m"
        ]),
        "",
        "the previous instance ended three minutes before collection"
    );
    // Timestamps were not collected: lines as stored, and kubectl says so.
    let stamped = s.kubectl(&["logs", "-n", "shop", "web-7c9d8f-abcde", "--timestamps"]);
    assert_eq!((stamped.code, stamped.stdout.as_str()), (Some(0), web));
    assert_eq!(
        stamped.stderr,
        "Warning: kpm: the kubelet's log timestamps were not collected; lines are shown as stored\n"
    );

    assert_eq!(
        rows(&s.ok(&["top", "pod", "-n", "shop", "--containers"])),
        [
            "POD NAME CPU(cores) MEMORY(bytes)",
            "api-6f7c9d-xk2lp api 100m 200Mi",
            "api-6f7c9d-xk2lp envoy 20m 56Mi",
            "web-7c9d8f-abcde web 3m 12Mi",
        ]
    );
    assert_eq!(rows(&s.ok(&["top", "node", "--no-headers"])).len(), 2);

    let pending = s.ok(&["describe", "pod", "worker-5d8b-q7x", "-n", "shop"]);
    let events = pending.split("Events:").nth(1).expect("events section");
    assert!(events.contains("FailedScheduling"), "{events}");
    assert!(events.contains("(x3 over"), "{events}");

    for path in ["/healthz", "/readyz", "/livez"] {
        assert_eq!(s.ok(&["get", "--raw", path]), "ok", "{path}");
    }
    let version: Value = serde_json::from_str(&s.ok(&["get", "--raw", "/version"])).expect("json");
    assert_eq!(version["gitVersion"], "v1.33.2");
}
