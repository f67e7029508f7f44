//! Redaction end to end: no Secret value, no secret-named env value, no
//! ConfigMap value (by default), no secret shape in logs, annotations,
//! events or ConfigMap values collected on request, no user-listed string
//! and no unredacted last-applied copy survives in any file of a collected
//! bundle, nor of a bundle redacted again with `kpm-collect redact`; the
//! same secret becomes the same token wherever it appears.

use std::path::{Path, PathBuf};

use crate::support::collect::*;
use kpm_bundle::writer::sha256_hex;
use kpm_bundle::{BundleWriter, Manifest, Outcome, Step};
use serde_json::{json, Value};

const SECRET_VALUES: &[&str] = &[
    "aHVudGVyMg==",                         // Secret data (base64 of hunter2)
    "hunter2",                              // env DB_PASSWORD and in last-applied
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",     // env STRIPE_API_KEY
    "s3cr3tpw",                             // password in DATABASE_URL
    "AKIAIOSFODNN7EXAMPLE",                 // AWS key id in a log
    "abcdef0123456789abcdef",               // bearer token in a log
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo", // private key body in a log
    "SDRzSUFBQUFBQUFBL2hlbG1yZWxlYXNl",     // Helm release Secret payload
    "annTok3n99",                           // token= in a pod annotation
    JWT_IN_ANNOTATION,                      // JWT in a deployment annotation
    "ev3ntPw",                              // password in a URL in an event message
    "acme-internal-7731",                   // --redact-rules literal (log, annotation, ConfigMap)
    "t-90210",                              // --redact-rules regex group (log)
];

/// Secret-shaped ConfigMap values: none may survive, with or without
/// `--configmap-values`.
const CONFIGMAP_SECRETS: &[&str] = &[
    "cmHunter22",                       // under key DB_PASSWORD
    "pr0pPassw0rd",                     // password= in a properties file
    JWT_IN_CONFIGMAP,                   // a JWT
    "AKIAQ2WERTY7UIOP3ASD",             // an AWS key id
    "MIIEvgIBADANBgkqhkiG9w0BAQEF0000", // a PEM private key body
    "m0ng0pw",                          // password in a connection string
    "zyxw9876543210zyxw",               // a bearer token
    "b1nPass",                          // password= inside binaryData
];

/// A ConfigMap value with no secret shape: kept with `--configmap-values`,
/// hashed by default.
const PLAIN_CONFIG_VALUE: &str = "verbose-debug-7";

const JWT_IN_ANNOTATION: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm5vdGF0aW9uIn0.YW5ub3RhdGlvbi1zaWc";
const JWT_IN_CONFIGMAP: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjb25maWdtYXAifQ.Y29uZmlnbWFwLXNpZw";

/// The `--redact-rules` file of these tests.
const RULES: &str = "# corp ids\nliteral:acme-internal-7731\n\nregex:tenant=(t-[0-9]+)\n";

/// The data of the secret-shaped ConfigMap.
fn config_data() -> Value {
    json!({
        "LOG_LEVEL": PLAIN_CONFIG_VALUE,
        "DB_PASSWORD": "cmHunter22",
        "application.properties": "spring.datasource.url=jdbc:postgresql://db:5432/shop\nspring.datasource.password=pr0pPassw0rd\n",
        "service-account.jwt": JWT_IN_CONFIGMAP,
        "aws.conf": "[default]\nregion = eu-west-1\naws_access_key_id = AKIAQ2WERTY7UIOP3ASD\n",
        "client.pem": "-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEF0000\n-----END PRIVATE KEY-----\n",
        "MONGO_URI": "mongodb://admin:m0ng0pw@mongo.shop.svc:27017/shop",
        "upstream.conf": "proxy_set_header Authorization \"Bearer zyxw9876543210zyxw\";",
        "owner": "acme-internal-7731"
    })
}

fn container() -> Value {
    json!({
        "name": "api",
        "image": "ghcr.io/acme/api:1.4.2",
        "env": [
            {"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": "db", "key": "user"}}},
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
                    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": "sh.helm.release.v1.shop.v3", "namespace": "shop", "uid": "0b1c6a6e-0000-4000-8000-000000000007",
                "creationTimestamp": "2026-11-01T00:00:00Z", "labels": {"owner": "helm", "name": "shop", "status": "deployed", "version": "3"}},
            "data": {"release": "SDRzSUFBQUFBQUFBL2hlbG1yZWxlYXNl"}}),
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
                    "example.com/ci-token": JWT_IN_ANNOTATION,
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
                "creationTimestamp": "2026-11-26T04:00:00Z", "labels": {"app": "api"},
                "annotations": {"example.com/callback": "https://hooks.example/cb?token=annTok3n99",
                    "example.com/owner": "acme-internal-7731"}},
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
            "metadata": {"name": "api-config", "namespace": "shop", "uid": "0b1c6a6e-0000-4000-8000-000000000006", "creationTimestamp": "2026-11-01T00:00:00Z",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "api-config", "namespace": "shop"}, "data": config_data()}).to_string()}},
            "data": config_data(),
            "binaryData": {"legacy.cfg": "cGFzc3dvcmQ9YjFuUGFzcwo="}})],
            ),
        ),
        (
            "events",
            Some("shop"),
            "namespaces/shop/events.json",
            list(
                "Event",
                "v1",
                vec![json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "api-5d8f7c9b6-abcde.1", "namespace": "shop", "uid": "0b1c6a6e-0000-4000-8000-000000000008", "creationTimestamp": "2026-11-26T04:00:01Z"},
            "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "api-5d8f7c9b6-abcde"},
            "reason": "Failed", "type": "Warning", "count": 1,
            "message": "Failed to pull image \"registry.example/acme/sidecar:2\": failed to authorize: https://bot:ev3ntPw@registry.example/token: 401 Unauthorized",
            "firstTimestamp": "2026-11-26T04:00:01Z", "lastTimestamp": "2026-11-26T04:00:01Z"})],
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
               2026-11-26T04:00:06.400Z INFO tenant=t-90210 owner acme-internal-7731 login password=hunter2\n\
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
fn all_text(path: &Path) -> Vec<(String, String)> {
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

/// Fails naming the value and the file when any of `values` is in any file.
fn assert_none_survives(bundle: &Path, values: &[&str]) {
    for (file, text) in all_text(bundle) {
        for v in values {
            assert!(!text.contains(v), "{v} survived in {file}");
        }
    }
}

/// The leaky source bundle (checked to really hold every planted value),
/// served as a Kubernetes API, and the rules file in the served temp dir.
fn serve_leaky() -> (Served, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let src = leaky_bundle(dir.path());
    let raw: String = walk(&src)
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    for v in SECRET_VALUES.iter().chain(CONFIGMAP_SECRETS) {
        // binaryData holds its secret base64-encoded.
        if *v != "b1nPass" {
            assert!(raw.contains(v), "fixture lacks {v}");
        }
    }
    let served = serve(&src, Knobs::default());
    let rules = served.dir.path().join("rules.txt");
    std::fs::write(&rules, RULES).unwrap();
    (served, rules, dir)
}

/// The one ConfigMap of the leaky bundle, as collected.
fn config_map(b: &kpm_bundle::Bundle) -> Value {
    items(b, "namespaces/shop/configmaps.json")
        .into_iter()
        .next()
        .expect("the ConfigMap was collected")
}

/// The token that replaced the env value `name` of the api container in
/// the list `file`.
fn env_token(b: &kpm_bundle::Bundle, file: &str, pointer: &str, name: &str) -> String {
    let list = items(b, file);
    let env = list[0]
        .pointer(pointer)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{file}: no env at {pointer}"));
    let v = env
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
        .unwrap_or_else(|| panic!("{file}: no env {name}"));
    assert!(
        v.starts_with("[REDACTED:"),
        "{file}: {name}={v} is not a token"
    );
    v.to_string()
}

#[test]
fn nothing_secret_survives_anywhere() {
    let (served, rules, _src) = serve_leaky();
    let out = served.dir.path().join("redacted.zip");
    collect_ok(&served, &out, &["--redact-rules", rules.to_str().unwrap()]);
    assert_none_survives(&out, SECRET_VALUES);
    assert_none_survives(&out, CONFIGMAP_SECRETS);
    assert_none_survives(&out, &[PLAIN_CONFIG_VALUE]);
    let b = open_verified(&out);
    let m = b.manifest();
    assert!(m.options.redaction);
    assert!(
        m.options.redact_config_maps,
        "default hashes ConfigMap values"
    );
    for rule in [
        "secret-value",
        "secret-env-value",
        "url-password",
        "bearer-token",
        "aws-access-key-id",
        "private-key-block",
        "jwt",
        "secret-assignment",
        "configmap-value-hashed",
        "configmap-value-removed",
        "user-literal",
        "user-regex",
    ] {
        assert!(
            m.redaction.get(rule).copied().unwrap_or(0) > 0,
            "rule {rule} never fired: {:?}",
            m.redaction
        );
    }
    // 9 data values and 1 binaryData value hashed.
    assert_eq!(m.redaction.get("configmap-value-hashed"), Some(&10));

    // Kept: what is not secret.
    let deploy = items(&b, "namespaces/shop/deployments.json");
    let env = &deploy[0]["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[4]["value"], "https://sso.acme.example/auth");
    assert_eq!(
        env[0]["valueFrom"]["secretKeyRef"],
        json!({"name": "db", "key": "user"}),
        "a secretKeyRef stays a reference"
    );
    assert_eq!(
        items(&b, "namespaces/shop/secrets.json")[0]["data"]["password"],
        ""
    );
    let log = b
        .read_string("logs/shop/api-5d8f7c9b6-abcde/api.log")
        .unwrap();
    assert!(log.contains("listening on :8080"));
    assert!(log.contains("tenant=[REDACTED:"), "{log}");

    // The ConfigMap keeps its keys, empty values and their digests.
    let cm = config_map(&b);
    let keys: Vec<&String> = cm["data"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 9);
    assert!(cm["data"].as_object().unwrap().values().all(|v| v == ""));
    assert_eq!(cm["binaryData"]["legacy.cfg"], "");
    let annotations = &cm["metadata"]["annotations"];
    assert_eq!(annotations["kpm.dev/values-removed"], "true");
    let digests: Value =
        serde_json::from_str(annotations["kpm.dev/value-digests"].as_str().unwrap()).unwrap();
    assert_eq!(
        digests["data"]["LOG_LEVEL"],
        json!({"sha256": sha256_hex(PLAIN_CONFIG_VALUE.as_bytes()), "size": PLAIN_CONFIG_VALUE.len()})
    );
    assert_eq!(
        digests["binaryData"]["legacy.cfg"],
        json!({"sha256": sha256_hex(b"password=b1nPass\n"), "size": 17})
    );
    assert_eq!(digests["data"].as_object().unwrap().len(), 9, "{digests}");

    // --no-redact turns pattern rules off, but Secret values stay out and
    // ConfigMap values are still hashed.
    let out2 = served.dir.path().join("unredacted.zip");
    collect_ok(&served, &out2, &["--no-redact"]);
    assert_none_survives(&out2, &["aHVudGVyMg==", "SDRzSUFBQUFBQUFBL2hlbG1yZWxlYXNl"]);
    assert_none_survives(&out2, CONFIGMAP_SECRETS);
    assert!(
        all_text(&out2)
            .iter()
            .any(|(_, t)| t.contains("AKIAIOSFODNN7EXAMPLE")),
        "--no-redact still redacted logs"
    );
}

#[test]
fn configmap_values_on_request_are_redacted_and_tokens_are_stable() {
    let (served, rules, _src) = serve_leaky();
    let out = served.dir.path().join("values.zip");
    collect_ok(
        &served,
        &out,
        &[
            "--configmap-values",
            "--redact-rules",
            rules.to_str().unwrap(),
        ],
    );
    assert_none_survives(&out, SECRET_VALUES);
    assert_none_survives(&out, CONFIGMAP_SECRETS);
    let b = open_verified(&out);
    assert!(!b.manifest().options.redact_config_maps);
    let cm = config_map(&b);
    assert_eq!(
        cm["data"]["LOG_LEVEL"], PLAIN_CONFIG_VALUE,
        "plain value kept"
    );
    assert!(cm["metadata"]["annotations"]
        .get("kpm.dev/value-digests")
        .is_none());
    let props = cm["data"]["application.properties"].as_str().unwrap();
    assert!(
        props.starts_with("spring.datasource.url=jdbc:postgresql://db:5432/shop\nspring.datasource.password=[REDACTED:"),
        "{props}"
    );
    assert!(
        b.manifest()
            .redaction
            .get("configmap-secret-key-value")
            .copied()
            .unwrap_or(0)
            > 0
    );

    // The same secret is the same token in two objects, two files, a log
    // and a last-applied copy.
    let containers = "/spec/template/spec/containers/0/env";
    let in_deployment = env_token(
        &b,
        "namespaces/shop/deployments.json",
        containers,
        "DB_PASSWORD",
    );
    let in_pod = env_token(
        &b,
        "namespaces/shop/pods.json",
        "/spec/containers/0/env",
        "DB_PASSWORD",
    );
    assert_eq!(in_deployment, in_pod);
    let log = b
        .read_string("logs/shop/api-5d8f7c9b6-abcde/api.log")
        .unwrap();
    assert!(log.contains(&format!("password={in_pod}")), "{log}");
    let deploy = &items(&b, "namespaces/shop/deployments.json")[0];
    let applied = deploy["metadata"]["annotations"]
        ["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap();
    assert!(applied.contains(&in_pod), "{applied}");
    // A user literal gets one token everywhere too.
    let pod = &items(&b, "namespaces/shop/pods.json")[0];
    let owner = pod["metadata"]["annotations"]["example.com/owner"]
        .as_str()
        .unwrap();
    assert_eq!(cm["data"]["owner"].as_str(), Some(owner));
    assert!(log.contains(owner));
    // Another run draws another key: tokens do not link bundles.
    let again = served.dir.path().join("again.zip");
    collect_ok(&served, &again, &["--configmap-values"]);
    let b2 = open_verified(&again);
    assert_ne!(
        env_token(
            &b2,
            "namespaces/shop/pods.json",
            "/spec/containers/0/env",
            "DB_PASSWORD"
        ),
        in_pod
    );
}

#[test]
fn bad_redact_rules_are_a_usage_error_naming_file_and_line() {
    let (served, _rules, _src) = serve_leaky();
    let bad = served.dir.path().join("bad-rules.txt");
    std::fs::write(&bad, "literal:fine\n# ok\nregex:(unclosed\n").unwrap();
    let out = served.dir.path().join("never.zip");
    let run = collect(&served, &out, &["--redact-rules", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:3: invalid regex", bad.display())),
        "{stderr}"
    );
    assert!(!out.exists(), "a bundle was written despite the bad rules");
}

/// `kpm-collect redact` with `args`.
fn redact_cmd(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(collect_bin())
        .arg("redact")
        .args(args)
        .output()
        .expect("kpm-collect redact runs")
}

#[test]
fn redact_subcommand_cleans_a_leaky_bundle_without_touching_it() {
    let (served, rules, _src) = serve_leaky();
    // A bundle collected without redaction and with ConfigMap values.
    let leaky = served.dir.path().join("leaky.zip");
    collect_ok(&served, &leaky, &["--no-redact", "--configmap-values"]);
    let leaky_text: String = all_text(&leaky).into_iter().map(|(_, t)| t).collect();
    for v in [
        "hunter2",
        "AKIAIOSFODNN7EXAMPLE",
        "cmHunter22",
        "annTok3n99",
        "acme-internal-7731",
    ] {
        assert!(leaky_text.contains(v), "the unredacted bundle lacks {v}");
    }
    let before = std::fs::read(&leaky).unwrap();

    let clean = served.dir.path().join("clean.zip");
    let run = redact_cmd(&[
        leaky.as_os_str(),
        "-o".as_ref(),
        clean.as_os_str(),
        "--redact-rules".as_ref(),
        rules.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("wrote "), "{stderr}");
    assert_eq!(std::fs::read(&leaky).unwrap(), before, "the input changed");

    // open_verified (inside) checks every recomputed digest.
    assert_none_survives(&clean, SECRET_VALUES);
    assert_none_survives(&clean, CONFIGMAP_SECRETS);
    assert_none_survives(&clean, &[PLAIN_CONFIG_VALUE]);
    let b = open_verified(&clean);
    let m = b.manifest();
    assert!(m.options.redaction && m.options.redact_config_maps);
    assert_eq!(m.redaction.get("configmap-value-hashed"), Some(&10));
    assert!(m.redaction.get("user-literal").copied().unwrap_or(0) > 0);
    // Steps and every data file are still there.
    let src = open_verified(&leaky);
    assert_eq!(m.steps.len(), src.manifest().steps.len());
    assert_eq!(data_entries(&b), data_entries(&src));
    let cm = config_map(&b);
    let digests: Value = serde_json::from_str(
        cm["metadata"]["annotations"]["kpm.dev/value-digests"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        digests["data"]["DB_PASSWORD"]["sha256"],
        sha256_hex(b"cmHunter22")
    );

    // Redacting the clean bundle again changes no value and keeps digests.
    let twice = served.dir.path().join("twice.zip");
    let run = redact_cmd(&[clean.as_os_str(), "-o".as_ref(), twice.as_os_str()]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let b2 = open_verified(&twice);
    assert_eq!(config_map(&b2), cm);
    assert_eq!(
        items(&b2, "namespaces/shop/pods.json"),
        items(&b, "namespaces/shop/pods.json")
    );
}

#[test]
fn redact_subcommand_never_writes_over_its_input() {
    let (served, _rules, _src) = serve_leaky();
    let leaky = served.dir.path().join("leaky.zip");
    collect_ok(&served, &leaky, &["--no-redact"]);
    let before = std::fs::read(&leaky).unwrap();
    let run = redact_cmd(&[leaky.as_os_str(), "-o".as_ref(), leaky.as_os_str()]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("is the input"));
    assert_eq!(std::fs::read(&leaky).unwrap(), before);
    // Nor over an existing file without --force.
    let clean = served.dir.path().join("clean.zip");
    std::fs::write(&clean, b"precious").unwrap();
    let run = redact_cmd(&[leaky.as_os_str(), "-o".as_ref(), clean.as_os_str()]);
    assert_eq!(
        run.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(std::fs::read(&clean).unwrap(), b"precious");
    // A missing input is a usage error naming it.
    let missing = served.dir.path().join("missing.zip");
    let run = redact_cmd(&[
        missing.as_os_str(),
        "-o".as_ref(),
        clean.as_os_str(),
        "--force".as_ref(),
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("missing.zip"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in rd.map(|e| e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
