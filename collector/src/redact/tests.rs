//! Tests of the per-kind object rules: workloads, Secrets, ConfigMaps
//! (digests and `--configmap-values`), annotations and last-applied copies.

use super::configmap::VALUE_DIGESTS;
use super::*;
use serde_json::json;

fn redactor(patterns: bool, config_map_values: bool) -> Redactor {
    Redactor::with_tokens(
        patterns,
        config_map_values,
        UserRules::default(),
        Tokens::with_key(b"test"),
    )
}

fn token(secret: &str) -> String {
    Tokens::with_key(b"test").token(secret)
}

fn deployment() -> Value {
    let template_spec = json!({
        "containers": [{
            "name": "api",
            "image": "ghcr.io/acme/api:1.4.2",
            "args": ["--db-password=hunter2", "--port=8080"],
            "env": [
                {"name": "DB_PASSWORD", "value": "hunter2"},
                {"name": "API_KEY", "value": "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
                {"name": "KEYCLOAK_URL", "value": "https://sso.acme.example/auth"},
                {"name": "DATABASE_URL", "value": "postgres://app:s3cr3tpw@db.shop.svc:5432/shop"},
                {"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": "db", "key": "user"}}},
                {"name": "LOG_LEVEL", "value": "info"}
            ]
        }],
        "initContainers": [{"name": "migrate", "image": "ghcr.io/acme/migrate:1.4.2",
            "env": [{"name": "MIGRATION_TOKEN", "value": "tok-abc-123"}]}]
    });
    let applied = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {"template": {"spec": template_spec.clone()}}
    });
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "shop", "annotations": {
            "deployment.kubernetes.io/revision": "3",
            "example.com/webhook": "https://hooks.example/notify?token=whk_9f8e7d6c5b",
            LAST_APPLIED: applied.to_string()
        }},
        "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "api"}}, "spec": template_spec}}
    })
}

#[test]
fn workload_env_args_annotations_and_last_applied_are_redacted() {
    let mut d = deployment();
    let mut counts = Counts::new();
    redactor(true, false).object("Deployment", &mut d, &mut counts);
    let text = d.to_string();
    for leaked in [
        "hunter2",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "s3cr3tpw",
        "tok-abc-123",
        "whk_9f8e7d6c5b",
    ] {
        assert!(!text.contains(leaked), "{leaked} survived in {text}");
    }
    let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["value"], token("hunter2"));
    assert_eq!(env[2]["value"], "https://sso.acme.example/auth");
    assert_eq!(
        env[3]["value"],
        format!("postgres://app:{}@db.shop.svc:5432/shop", token("s3cr3tpw"))
    );
    // valueFrom is kept as a reference, never resolved.
    assert_eq!(
        env[4],
        json!({"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": "db", "key": "user"}}})
    );
    assert_eq!(env[5]["value"], "info");
    let args = &d["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(args[0], format!("--db-password={}", token("hunter2")));
    assert_eq!(args[1], "--port=8080");
    // Three names in the live object and three inside last-applied.
    assert_eq!(counts.get(rule::SECRET_ENV), Some(&6));
    assert_eq!(counts.get(rule::URL_PASSWORD), Some(&2));
    // The annotation stays parseable JSON and uses the same tokens.
    let ann = d["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .unwrap_or("");
    let inner: Value = serde_json::from_str(ann).unwrap();
    assert_eq!(
        inner["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        token("hunter2")
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
}

#[test]
fn no_redact_keeps_env_but_strips_secrets() {
    let off = redactor(false, false);
    let mut d = deployment();
    let before = d.clone();
    let mut counts = Counts::new();
    off.object("Deployment", &mut d, &mut counts);
    assert_eq!(d, before);
    let mut s = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "tls", "namespace": "shop"},
        "data": {"tls.crt": "LS0tLS1CRUdJTi", "tls.key": "LS0tLS1CRUdJTiBQUklWQVRF"}});
    off.object("Secret", &mut s, &mut counts);
    assert_eq!(s["data"]["tls.key"], "");
    assert_eq!(counts.get(rule::SECRET_VALUE), Some(&2));
}

#[test]
fn tls_secret_keeps_certificate_facts_and_no_pem_or_key_bytes() {
    use base64::Engine as _;
    let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
    let (cert, key) = (tls::tests::CERT, tls::tests::KEY);
    let mut s = json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "shop-tls", "namespace": "shop"},
        "data": {"tls.crt": b64(cert), "tls.key": b64(key), "ca.crt": b64(cert)}});
    for patterns in [true, false] {
        let mut obj = s.clone();
        let mut counts = Counts::new();
        redactor(patterns, false).object("Secret", &mut obj, &mut counts);
        let stored = obj.to_string();
        // No PEM armour, no base64 of the PEM or the key, no line of either.
        assert!(!stored.contains("BEGIN"), "{stored}");
        for pem in [cert, key] {
            assert!(!stored.contains(&b64(pem)[..40]));
            for line in pem
                .lines()
                .filter(|l| l.len() > 16 && !l.starts_with("-----"))
            {
                assert!(!stored.contains(line), "{line} leaked");
            }
        }
        let facts = kpm_bundle::secret::tls_facts(&obj).expect("facts annotation");
        assert_eq!(facts.certificates[0].dns_names[0], "shop.example.com");
        assert_eq!(counts.get(rule::SECRET_VALUE), Some(&3));
    }
    s["data"]["tls.crt"] = json!("");
    redactor(true, false).object("Secret", &mut s, &mut Counts::new());
    assert!(kpm_bundle::secret::tls_facts(&s).is_none());
}

#[test]
fn helm_release_secret_keeps_no_payload() {
    let mut s = json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.shop.v3", "namespace": "shop",
            "labels": {"owner": "helm", "name": "shop", "version": "3", "status": "deployed"}},
        "data": {"release": "SDRzSUFBQUFBQUFDLyt5OWE1UGpP"}});
    let mut counts = Counts::new();
    redactor(true, true).object("Secret", &mut s, &mut counts);
    assert_eq!(s["data"]["release"], "");
    assert_eq!(s["metadata"]["labels"]["owner"], "helm");
}

#[test]
fn unparseable_last_applied_is_dropped() {
    let mut pod = json!({"kind": "Pod", "metadata": {"name": "p", "annotations": {LAST_APPLIED: "{not json"}}, "spec": {"containers": []}});
    let mut counts = Counts::new();
    redactor(true, false).object("Pod", &mut pod, &mut counts);
    assert!(pod["metadata"]["annotations"].get(LAST_APPLIED).is_none());
    assert_eq!(counts.get(rule::LAST_APPLIED_DROPPED), Some(&1));
}

fn config_map() -> Value {
    let live = json!({"LOG_LEVEL": "debug", "DB_PASSWORD": "hunter2",
        "application.properties": "db.url=jdbc:postgresql://db:5432/shop\ndb.password=hunter3\n"});
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "app-config", "namespace": "shop", "annotations": {
            LAST_APPLIED: json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "app-config"}, "data": live.clone()}).to_string()}},
        "data": live,
        "binaryData": {"logo.png": "iVBORw0KGgo="}})
}

fn digests(cm: &Value) -> Value {
    let text = cm["metadata"]["annotations"][VALUE_DIGESTS]
        .as_str()
        .unwrap_or("{}");
    serde_json::from_str(text).unwrap()
}

#[test]
fn config_map_values_are_hashed_by_default_even_without_patterns() {
    for patterns in [true, false] {
        let mut cm = config_map();
        let mut counts = Counts::new();
        redactor(patterns, false).object("ConfigMap", &mut cm, &mut counts);
        let text = cm.to_string();
        for leaked in [
            "debug",
            "hunter2",
            "hunter3",
            "jdbc:postgresql",
            "iVBORw0KGgo=",
        ] {
            assert!(!text.contains(leaked), "{leaked} survived in {text}");
        }
        // Keys stay, values are empty strings: still a valid ConfigMap.
        assert_eq!(cm["data"]["LOG_LEVEL"], "");
        assert_eq!(cm["binaryData"]["logo.png"], "");
        let d = digests(&cm);
        assert_eq!(
            d["data"]["LOG_LEVEL"],
            json!({"sha256": kpm_bundle::writer::sha256_hex(b"debug"), "size": 5})
        );
        // binaryData: the digest of the decoded bytes.
        let png = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
        assert_eq!(
            d["binaryData"]["logo.png"],
            json!({"sha256": kpm_bundle::writer::sha256_hex(&png), "size": 8})
        );
        assert_eq!(
            cm["metadata"]["annotations"]["kpm.dev/values-removed"],
            "true"
        );
        assert_eq!(counts.get(rule::CONFIGMAP_HASHED), Some(&4));
        assert_eq!(counts.get(rule::CONFIGMAP_REMOVED), Some(&3));
        // Hashing again (a bundle redacted a second time) keeps the digests.
        let mut again = cm.clone();
        redactor(patterns, false).object("ConfigMap", &mut again, &mut Counts::new());
        assert_eq!(digests(&again), d);
    }
}

#[test]
fn config_map_values_on_request_are_redacted() {
    let mut cm = config_map();
    let mut counts = Counts::new();
    redactor(true, true).object("ConfigMap", &mut cm, &mut counts);
    assert!(!cm.to_string().contains("hunter"), "{cm}");
    assert_eq!(cm["data"]["LOG_LEVEL"], "debug");
    assert_eq!(cm["data"]["DB_PASSWORD"], token("hunter2"));
    assert_eq!(
        cm["data"]["application.properties"],
        format!(
            "db.url=jdbc:postgresql://db:5432/shop\ndb.password={}\n",
            token("hunter3")
        )
    );
    assert_eq!(cm["binaryData"]["logo.png"], "iVBORw0KGgo=");
    assert!(cm["metadata"]["annotations"].get(VALUE_DIGESTS).is_none());
    assert_eq!(counts.get(rule::CONFIGMAP_SECRET_KEY), Some(&2));
}

#[test]
fn helm_release_config_maps_are_hashed_even_on_request() {
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "shop.v3", "namespace": "kube-system", "labels": {"OWNER": "TILLER", "NAME": "shop"}},
        "data": {"release": "H4sIAAAAAAAC/+y9a5PjOH"}});
    redactor(true, true).object("ConfigMap", &mut cm, &mut Counts::new());
    assert_eq!(cm["data"]["release"], "");
}

#[test]
fn event_messages_are_redacted() {
    let mut ev = json!({"kind": "Event", "metadata": {"name": "e"},
        "message": "Failed to pull image \"registry.example/app\": auth with https://bot:gh0st-pw@registry.example failed"});
    redactor(true, false).object("Event", &mut ev, &mut Counts::new());
    assert!(!ev.to_string().contains("gh0st-pw"), "{ev}");
}
