//! Redaction end to end: no Secret value, no secret-named env value, no
//! secret shape in logs and no unredacted last-applied copy survives in any
//! file of a collected bundle.

#[path = "collect_support/mod.rs"]
mod support;

use kpm_bundle::{BundleWriter, Manifest, Outcome, Step};
use serde_json::{json, Value};
use support::*;

const SECRET_VALUES: &[&str] = &[
    "aHVudGVyMg==",                         // Secret data (base64 of hunter2)
    "hunter2",                              // env DB_PASSWORD and in last-applied
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",     // env STRIPE_API_KEY
    "s3cr3tpw",                             // password in DATABASE_URL
    "AKIAIOSFODNN7EXAMPLE",                 // AWS key id in a log
    "abcdef0123456789abcdef",               // bearer token in a log
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo", // private key body in a log
];

fn container() -> Value {
    json!({
        "name": "api",
        "image": "ghcr.io/acme/api:1.4.2",
        "env": [
            {"name": "DB_PASSWORD", "value": "hunter2"},
            {"name": "STRIPE_API_KEY", "value": "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
            {"name": "DATABASE_URL", "value": "postgres://app:s3cr3tpw@db.shop.svc:5432/shop"},
            {"name": "KEYCLOAK_URL", "value": "https://sso.acme.example/auth"}
        ]
    })
}

fn step(what: &str, ns: Option<&str>, path: &str) -> Step {
    let mut s = Step::new(what, Outcome::Ok);
    s.namespace = ns.map(str::to_string);
    s.path = Some(path.to_string());
    s
}

/// A small bundle full of secrets, as a leaky collector would have written it.
#[allow(
    clippy::too_many_lines,
    reason = "one fixture cluster, clearer as a single table than split"
)]
fn leaky_bundle(dir: &std::path::Path) -> std::path::PathBuf {
    let root = dir.join("leaky");
    let mut w = BundleWriter::create_dir(&root, true).unwrap();
    let mut steps = Vec::new();
    w.write_json(
        "cluster/version.json",
        &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.4", "platform": "linux/amd64"}),
    )
    .unwrap();
    let list = |kind: &str, api: &str, items: Vec<Value>| json!({"kind": format!("{kind}List"), "apiVersion": api, "metadata": {"resourceVersion": "1000"}, "items": items});
    let files: Vec<(&str, Option<&str>, &str, Value)> = vec![
        (
            "namespaces",
            None,
            "cluster/namespaces.json",
            list(
                "Namespace",
                "v1",
                vec![json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "shop", "uid": "0b1c6a6e-0000-4000-8000-000000000001", "creationTimestamp": "2026-11-01T00:00:00Z"},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})],
            ),
        ),
        (
            "nodes",
            None,
            "cluster/nodes.json",
            list(
                "Node",
                "v1",
                vec![json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-a", "uid": "0b1c6a6e-0000-4000-8000-000000000002", "creationTimestamp": "2026-11-01T00:00:00Z"},
            "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}, "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": "2026-11-26T05:00:00Z", "lastTransitionTime": "2026-11-01T00:00:00Z"}]}})],
            ),
        ),
        (
            "secrets",
            Some("shop"),
            "namespaces/shop/secrets.json",
            list(
                "Secret",
                "v1",
                vec![
                    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "db", "namespace": "shop", "uid": "0b1c6a6e-0000-4000-8000-000000000003", "creationTimestamp": "2026-11-01T00:00:00Z",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"}},
            "data": {"password": "aHVudGVyMg=="}}),
                ],
            ),
        ),
        (
            "deployments",
            Some("shop"),
            "namespaces/shop/deployments.json",
            list(
                "Deployment",
                "apps/v1",
                vec![json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "shop", "uid": "0b1c6a6e-0000-4000-8000-000000000004", "generation": 3, "creationTimestamp": "2026-11-01T00:00:00Z",
                "annotations": {"deployment.kubernetes.io/revision": "3",
                    "kubectl.kubernetes.io/last-applied-configuration": json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "api", "namespace": "shop"},
                        "spec": {"template": {"spec": {"containers": [container()]}}}}).to_string()}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}},
                "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [container()]}}},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1, "observedGeneration": 3}})],
            ),
        ),
        (
            "pods",
            Some("shop"),
            "namespaces/shop/pods.json",
            list(
                "Pod",
                "v1",
                vec![json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "api-5d8f7c9b6-abcde", "namespace": "shop", "uid": "0b1c6a6e-0000-4000-8000-000000000005",
                "creationTimestamp": "2026-11-26T04:00:00Z", "labels": {"app": "api"}},
            "spec": {"nodeName": "node-a", "containers": [container()]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "api", "ready": true, "restartCount": 0,
                "image": "ghcr.io/acme/api:1.4.2", "imageID": "ghcr.io/acme/api@sha256:0000", "containerID": "containerd://abc", "started": true,
                "state": {"running": {"startedAt": "2026-11-26T04:00:05Z"}}, "lastState": {}}]}})],
            ),
        ),
        (
            "configmaps",
            Some("shop"),
            "namespaces/shop/configmaps.json",
            list(
                "ConfigMap",
                "v1",
                vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "api-config", "namespace": "shop", "uid": "0b1c6a6e-0000-4000-8000-000000000006", "creationTimestamp": "2026-11-01T00:00:00Z"},
            "data": {"LOG_LEVEL": "info"}})],
            ),
        ),
    ];
    for (what, ns, path, value) in files {
        w.write_json(path, &value).unwrap();
        steps.push(step(what, ns, path));
    }
    let log = "2026-11-26T04:00:06.000Z INFO starting api v1.4.2\n\
               2026-11-26T04:00:06.100Z DEBUG calling payments with Authorization: Bearer abcdef0123456789abcdef\n\
               2026-11-26T04:00:06.200Z INFO using AWS key AKIAIOSFODNN7EXAMPLE\n\
               2026-11-26T04:00:06.300Z DEBUG loaded key\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----\n\
               2026-11-26T04:00:07.000Z INFO listening on :8080\n";
    let log_path = "logs/shop/api-5d8f7c9b6-abcde/api.log";
    w.write_entry(log_path, log.as_bytes()).unwrap();
    let mut s = step("logs", Some("shop"), log_path);
    s.object = Some("api-5d8f7c9b6-abcde/api".into());
    steps.push(s);
    // Built from JSON so the test needs no clock crate.
    let mut manifest: Manifest = serde_json::from_value(json!({
        "formatVersion": 1,
        "tool": {"name": "test", "version": "0"},
        "collection": {"startedAt": "2026-11-26T05:00:00Z", "finishedAt": "2026-11-26T05:00:10Z"},
        "cluster": {"serverVersion": "v1.33.4", "context": "test"},
        "scope": {"allNamespaces": true, "namespaces": ["shop"]},
        "options": {"logLines": 500, "logBytes": 262144, "redaction": false}
    }))
    .unwrap();
    manifest.steps = steps;
    w.finish(manifest).unwrap()
}

/// Every file of a zip bundle, as text.
fn all_text(path: &std::path::Path) -> Vec<(String, String)> {
    let b = open_verified(path);
    let files: Vec<String> = b.entries().map(str::to_string).collect();
    files
        .into_iter()
        .map(|f| {
            let text = String::from_utf8_lossy(&b.read_bytes(&f).unwrap()).into_owned();
            (f, text)
        })
        .collect()
}

#[test]
fn nothing_secret_survives_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let src = leaky_bundle(dir.path());
    // The source really is leaky.
    let raw: String = walk(&src)
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    for v in SECRET_VALUES {
        assert!(raw.contains(v), "fixture lacks {v}");
    }

    let served = serve(&src, Knobs::default());
    let out = served.dir.path().join("redacted.zip");
    collect_ok(&served, &out, &[]);
    let files = all_text(&out);
    for (file, text) in &files {
        for v in SECRET_VALUES {
            assert!(!text.contains(v), "{v} survived in {file}");
        }
    }
    let b = open_verified(&out);
    let m = b.manifest();
    assert!(m.options.redaction);
    for rule in [
        "secret-value",
        "secret-env-value",
        "url-password",
        "bearer-token",
        "aws-access-key-id",
        "private-key-block",
    ] {
        assert!(
            m.redaction.get(rule).copied().unwrap_or(0) > 0,
            "rule {rule} never fired: {:?}",
            m.redaction
        );
    }
    // Kept: what is not secret.
    let deploy = items(&b, "namespaces/shop/deployments.json");
    let env = &deploy[0]["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[3]["value"], "https://sso.acme.example/auth");
    assert_eq!(
        items(&b, "namespaces/shop/secrets.json")[0]["data"]["password"],
        ""
    );
    let log = b
        .read_string("logs/shop/api-5d8f7c9b6-abcde/api.log")
        .unwrap();
    assert!(log.contains("listening on :8080"));

    // --no-redact turns pattern rules off, but Secret values stay out.
    let out2 = served.dir.path().join("unredacted.zip");
    collect_ok(&served, &out2, &["--no-redact"]);
    let files = all_text(&out2);
    let secrets = files
        .iter()
        .find(|(f, _)| f == "namespaces/shop/secrets.json")
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    assert!(!secrets.contains("aHVudGVyMg=="));
    assert!(
        files
            .iter()
            .any(|(_, t)| t.contains("AKIAIOSFODNN7EXAMPLE")),
        "--no-redact still redacted logs"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
