//! Redaction: what kpm removes from objects and logs before anything reaches
//! the bundle.
//!
//! Rules, in the order they apply:
//!
//! * Secrets: always reduced to metadata and key names by
//!   [`kpm_bundle::secret::strip_secret`], even with `--no-redact`; kpm never
//!   stores a Secret value.
//! * Workloads (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job):
//!   a literal env `value` whose *name* looks secret is replaced by
//!   [`REDACTED`]. A name looks secret when it contains `PASSWORD`, `PASSWD`,
//!   `TOKEN`, `SECRET`, `CREDENTIAL` or `PRIVATE` anywhere, or has `KEY`,
//!   `KEYS`, `APIKEY`, `PASS` or `PWD` as a whole word part (`API_KEY`,
//!   `accessKey`, `SSH_KEYS`, `REDIS_PASS`) — so `KEYCLOAK_URL`,
//!   `MONKEY_MODE`, `KEYSPACE` and `PASSENGER_MAX_POOL` are kept: they name
//!   things, not credentials. `valueFrom` references are kept (they hold no value).
//!   Other env values, `command` and `args` go through the text patterns below
//!   (a `postgres://app:pw@db` URL in `DATABASE_URL` is caught there).
//! * The `kubectl.kubernetes.io/last-applied-configuration` annotation repeats
//!   the whole object as applied, env included. It is parsed and the same
//!   rules are applied inside it; if it cannot be parsed it is dropped.
//! * ConfigMaps: values kept, unless `--redact-configmaps` (then every `data`
//!   and `binaryData` value, and the last-applied copy, are replaced).
//! * Text patterns, on logs and the workload strings above: bearer tokens,
//!   JWTs, AWS access key ids, PEM private key blocks, passwords in URLs and
//!   `password=…`-style assignments.
//!
//! Only counts per rule are kept (they go to the manifest's `redaction`),
//! never the values.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::{Captures, Regex};
use serde_json::Value;

use kpm_bundle::secret::{strip_secret, LAST_APPLIED};

/// What replaces a redacted value.
pub const REDACTED: &str = "[REDACTED by kpm]";

/// Counts of replaced values, by rule name. Never holds a value.
pub type Counts = BTreeMap<String, u64>;

/// Rule names as they appear in the manifest's `redaction` map.
pub mod rule {
    /// A Secret `data`/`stringData` value (or its last-applied copy).
    pub const SECRET_VALUE: &str = "secret-value";
    /// A literal env value whose name looks secret.
    pub const SECRET_ENV: &str = "secret-env-value";
    /// A last-applied annotation that could not be parsed and was dropped.
    pub const LAST_APPLIED_DROPPED: &str = "last-applied-dropped";
    /// A ConfigMap value (`--redact-configmaps`).
    pub const CONFIGMAP_VALUE: &str = "configmap-value";
    /// `Bearer <token>`.
    pub const BEARER: &str = "bearer-token";
    /// A JSON Web Token.
    pub const JWT: &str = "jwt";
    /// An AWS access key id (`AKIA…`/`ASIA…`).
    pub const AWS_KEY: &str = "aws-access-key-id";
    /// A PEM private key block.
    pub const PRIVATE_KEY: &str = "private-key-block";
    /// The password part of `scheme://user:password@host`.
    pub const URL_PASSWORD: &str = "url-password";
    /// The value of `password=…`, `token: …`, `api_key=…` and the like.
    pub const ASSIGNMENT: &str = "secret-assignment";
}

/// Adds `n` to the count of `rule` (no entry for zero, so the manifest lists
/// only rules that fired).
pub fn bump(counts: &mut Counts, rule: &str, n: u64) {
    if n > 0 {
        *counts.entry(rule.to_string()).or_insert(0) += n;
    }
}

/// Merges `other` into `into`.
pub fn merge(into: &mut Counts, other: &Counts) {
    for (k, v) in other {
        bump(into, k, *v);
    }
}

/// The redaction switches of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redactor {
    /// Pattern rules (env names, text shapes, last-applied) are on; off with
    /// `--no-redact`. Secret values are removed regardless.
    pub patterns: bool,
    /// `--redact-configmaps`.
    pub config_maps: bool,
}

/// Word parts that make an env name secret only as a whole part.
const SECRET_WORDS: &[&str] = &["KEY", "KEYS", "APIKEY", "PASS", "PWD"];

/// Fragments that make an env name secret wherever they appear.
const SECRET_FRAGMENTS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "SECRET",
    "CREDENTIAL",
    "PRIVATE",
];

/// Tells whether an env var name looks like it holds a credential.
pub fn is_secret_env_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if SECRET_FRAGMENTS.iter().any(|f| upper.contains(f)) {
        return true;
    }
    words(name)
        .iter()
        .any(|w| SECRET_WORDS.contains(&w.as_str()))
}

/// Splits an identifier into upper-case word parts on `_`, `-`, `.` and
/// lower→upper camelCase boundaries: `apiKey` → `API`, `KEY`.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' || c == '.' {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_uppercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

struct Patterns {
    private_key: Regex,
    bearer: Regex,
    jwt: Regex,
    aws: Regex,
    url: Regex,
    assignment: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        // The patterns are constants; a failure here is a programming error
        // caught by every unit test, so falling back to a never-matching
        // regex keeps the collector panic-free without hiding it in tests.
        let re = |p: &str| Regex::new(p).unwrap_or_else(|_| never());
        Patterns {
            private_key: re(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)"),
            bearer: re(r"(?i)\b(bearer)(\s+)([A-Za-z0-9\-._~+/]{8,}=*)"),
            jwt: re(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?"),
            aws: re(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
            url: re(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://)([^:/?#@\s]+):([^@/?#\s]+)@"),
            assignment: re(
                r#"(?i)\b((?:[a-z0-9]+[_\-.])*(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|client[_\-]?secret))("?\s*[=:]\s*["']?)([^\s"'&,;]+)"#,
            ),
        }
    })
}

fn never() -> Regex {
    // `[^\s\S]` matches nothing; this literal is known to compile.
    Regex::new(r"[^\s\S]").unwrap_or_else(|_| unreachable!("constant regex"))
}

/// Replaces secret shapes in free text (a log, an env value, an argument).
/// Returns the new text if anything changed.
pub fn redact_text(text: &str, counts: &mut Counts) -> Option<String> {
    let p = patterns();
    let mut changed = false;
    let mut cur = std::borrow::Cow::Borrowed(text);

    let mut apply = |re: &Regex,
                     rule_name: &str,
                     cur: &mut std::borrow::Cow<'_, str>,
                     f: &dyn Fn(&Captures) -> Option<String>| {
        let mut n = 0u64;
        let out = re.replace_all(cur, |c: &Captures| match f(c) {
            Some(s) => {
                n += 1;
                s
            }
            None => c.get(0).map_or(String::new(), |m| m.as_str().to_string()),
        });
        if n > 0 {
            let owned = out.into_owned();
            *cur = std::borrow::Cow::Owned(owned);
            bump(counts, rule_name, n);
            changed = true;
        }
    };

    apply(&p.private_key, rule::PRIVATE_KEY, &mut cur, &|c| {
        let whole = c.get(0)?.as_str();
        if whole.contains(REDACTED) && whole.len() < 128 {
            // Our own replacement: nothing left to hide.
            return None;
        }
        let kind = c.get(1).map_or("", |m| m.as_str());
        Some(format!(
            "-----BEGIN {kind}PRIVATE KEY----- {REDACTED} -----END {kind}PRIVATE KEY-----"
        ))
    });
    apply(&p.url, rule::URL_PASSWORD, &mut cur, &|c| {
        let (scheme, user) = (c.get(1)?.as_str(), c.get(2)?.as_str());
        Some(format!("{scheme}{user}:{REDACTED}@"))
    });
    apply(&p.bearer, rule::BEARER, &mut cur, &|c| {
        if c.get(3)?.as_str().starts_with("[REDACTED") {
            return None;
        }
        Some(format!(
            "{}{}{REDACTED}",
            c.get(1)?.as_str(),
            c.get(2)?.as_str()
        ))
    });
    apply(&p.jwt, rule::JWT, &mut cur, &|_| Some(REDACTED.to_string()));
    apply(&p.aws, rule::AWS_KEY, &mut cur, &|_| {
        Some(REDACTED.to_string())
    });
    apply(&p.assignment, rule::ASSIGNMENT, &mut cur, &|c| {
        let value = c.get(3)?.as_str();
        if value.starts_with("[REDACTED") || value.starts_with("$(") || value.starts_with("${") {
            // Already redacted, or a reference to another variable, not a value.
            return None;
        }
        Some(format!(
            "{}{}{REDACTED}",
            c.get(1)?.as_str(),
            c.get(2)?.as_str()
        ))
    });
    changed.then(|| cur.into_owned())
}

/// Kinds whose objects carry a pod template (or are pods).
fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec"),
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" => {
            Some("/spec/template/spec")
        }
        _ => None,
    }
}

impl Redactor {
    /// Redacts one object of `kind` in place, adding what it replaced to
    /// `counts`. Secrets are stripped whatever the switches say.
    pub fn object(&self, kind: &str, obj: &mut Value, counts: &mut Counts) {
        if kind == "Secret" {
            bump(counts, rule::SECRET_VALUE, strip_secret(obj));
            return;
        }
        if kind == "ConfigMap" && self.config_maps {
            bump(counts, rule::CONFIGMAP_VALUE, redact_config_map_values(obj));
        }
        if !self.patterns {
            return;
        }
        if let Some(ptr) = pod_spec_pointer(kind) {
            if let Some(spec) = obj.pointer_mut(ptr) {
                redact_pod_spec(spec, counts);
            }
        }
        self.last_applied(kind, obj, counts);
    }

    /// Applies the rules inside the last-applied annotation (drops it when
    /// it is not valid JSON).
    fn last_applied(&self, kind: &str, obj: &mut Value, counts: &mut Counts) {
        let Some(ann) = obj
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        let Some(Value::String(text)) = ann.get(LAST_APPLIED) else {
            return;
        };
        match serde_json::from_str::<Value>(text) {
            Ok(mut inner) => {
                let mut local = Counts::new();
                // The inner copy is the same kind; apply the same rules.
                if kind == "ConfigMap" && self.config_maps {
                    bump(
                        &mut local,
                        rule::CONFIGMAP_VALUE,
                        redact_config_map_values(&mut inner),
                    );
                }
                if let Some(spec) = pod_spec_pointer(kind).and_then(|p| inner.pointer_mut(p)) {
                    redact_pod_spec(spec, &mut local);
                }
                let mut text = inner.to_string();
                if let Some(t) = redact_text(&text, &mut local) {
                    text = t;
                }
                if !local.is_empty() {
                    merge(counts, &local);
                    ann.insert(LAST_APPLIED.to_string(), Value::String(text));
                }
            }
            Err(_) => {
                ann.remove(LAST_APPLIED);
                bump(counts, rule::LAST_APPLIED_DROPPED, 1);
            }
        }
    }

    /// Redacts a log text when pattern rules are on.
    pub fn log(&self, text: String, counts: &mut Counts) -> String {
        if !self.patterns {
            return text;
        }
        redact_text(&text, counts).unwrap_or(text)
    }
}

/// Replaces every ConfigMap `data`/`binaryData` value. Returns the count.
fn redact_config_map_values(obj: &mut Value) -> u64 {
    let mut n = 0;
    for field in ["data", "binaryData"] {
        if let Some(Value::Object(map)) = obj.get_mut(field) {
            for v in map.values_mut() {
                *v = Value::String(REDACTED.to_string());
                n += 1;
            }
        }
    }
    n
}

/// Applies the env-name and text rules to every container of a pod spec.
fn redact_pod_spec(spec: &mut Value, counts: &mut Counts) {
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for c in containers.iter_mut() {
            redact_container(c, counts);
        }
    }
}

fn redact_container(c: &mut Value, counts: &mut Counts) {
    if let Some(Value::Array(env)) = c.get_mut("env") {
        for var in env.iter_mut() {
            let name = var
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let Some(value) = var.get_mut("value") else {
                continue;
            };
            let Value::String(s) = value else { continue };
            if s.is_empty() || s == REDACTED {
                continue;
            }
            if is_secret_env_name(&name) {
                *s = REDACTED.to_string();
                bump(counts, rule::SECRET_ENV, 1);
            } else if let Some(t) = redact_text(s, counts) {
                *s = t;
            }
        }
    }
    for field in ["command", "args"] {
        if let Some(Value::Array(items)) = c.get_mut(field) {
            for item in items.iter_mut() {
                if let Value::String(s) = item {
                    if let Some(t) = redact_text(s, counts) {
                        *s = t;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ON: Redactor = Redactor {
        patterns: true,
        config_maps: false,
    };

    #[test]
    fn env_names() {
        for secret in [
            "DB_PASSWORD",
            "POSTGRES_PASSWD",
            "GITHUB_TOKEN",
            "CLIENT_SECRET",
            "AWS_SECRET_ACCESS_KEY",
            "API_KEY",
            "apiKey",
            "STRIPE_KEY",
            "SSH_KEYS",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "PRIVATE_PEM",
            "REDIS_PASS",
            "mysqlRootPassword",
        ] {
            assert!(is_secret_env_name(secret), "{secret} should be secret");
        }
        for plain in [
            "KEYCLOAK_URL",
            "MONKEY_MODE",
            "KEYSPACE",
            "LOG_LEVEL",
            "PORT",
            "JAVA_OPTS",
            "HOSTNAME",
            "PASSENGER_MAX_POOL",
            "AUTH_ENABLED",
        ] {
            assert!(!is_secret_env_name(plain), "{plain} should be kept");
        }
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
                LAST_APPLIED: applied.to_string()
            }},
            "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "api"}}, "spec": template_spec}}
        })
    }

    #[test]
    fn workload_env_args_and_last_applied_are_redacted() {
        let mut d = deployment();
        let mut counts = Counts::new();
        ON.object("Deployment", &mut d, &mut counts);
        let text = d.to_string();
        for leaked in [
            "hunter2",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "s3cr3tpw",
            "tok-abc-123",
        ] {
            assert!(!text.contains(leaked), "{leaked} survived in {text}");
        }
        let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], REDACTED);
        assert_eq!(env[2]["value"], "https://sso.acme.example/auth");
        assert_eq!(
            env[3]["value"],
            format!("postgres://app:{REDACTED}@db.shop.svc:5432/shop")
        );
        assert_eq!(env[4]["valueFrom"]["secretKeyRef"]["name"], "db");
        assert_eq!(env[5]["value"], "info");
        let args = &d["spec"]["template"]["spec"]["containers"][0]["args"];
        assert_eq!(args[1], "--port=8080");
        // Three names in the live object and three inside last-applied.
        assert_eq!(counts.get(rule::SECRET_ENV), Some(&6));
        assert_eq!(counts.get(rule::URL_PASSWORD), Some(&2));
        // The annotation stays parseable JSON.
        let ann = d["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .unwrap_or("");
        assert!(serde_json::from_str::<Value>(ann).is_ok());
        assert_eq!(
            d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            "3"
        );
    }

    #[test]
    fn no_redact_keeps_env_but_strips_secrets() {
        let off = Redactor {
            patterns: false,
            config_maps: false,
        };
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
    fn unparseable_last_applied_is_dropped() {
        let mut pod = json!({"kind": "Pod", "metadata": {"name": "p", "annotations": {LAST_APPLIED: "{not json"}}, "spec": {"containers": []}});
        let mut counts = Counts::new();
        ON.object("Pod", &mut pod, &mut counts);
        assert!(pod["metadata"]["annotations"].get(LAST_APPLIED).is_none());
        assert_eq!(counts.get(rule::LAST_APPLIED_DROPPED), Some(&1));
    }

    #[test]
    fn config_maps_only_with_flag() {
        let cm = json!({"kind": "ConfigMap", "metadata": {"name": "app-config"},
            "data": {"LOG_LEVEL": "debug", "application.properties": "db.password=hunter2\n"}});
        let mut kept = cm.clone();
        let mut counts = Counts::new();
        ON.object("ConfigMap", &mut kept, &mut counts);
        assert_eq!(kept, cm);
        let mut red = cm.clone();
        Redactor {
            patterns: true,
            config_maps: true,
        }
        .object("ConfigMap", &mut red, &mut counts);
        assert_eq!(red["data"]["LOG_LEVEL"], REDACTED);
        assert_eq!(counts.get(rule::CONFIGMAP_VALUE), Some(&2));
    }

    #[test]
    fn log_shapes() {
        let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlLXNpZw";
        let log = format!(
            "2026-11-26T05:01:02.345Z INFO starting api v1.4.2\n\
             2026-11-26T05:01:02.401Z DEBUG outgoing request headers: Authorization: Bearer abcdef0123456789abcdef\n\
             2026-11-26T05:01:02.402Z DEBUG service account token {jwt}\n\
             2026-11-26T05:01:02.500Z INFO using AWS key AKIAIOSFODNN7EXAMPLE in region eu-west-1\n\
             2026-11-26T05:01:03.000Z ERROR failed to connect to amqp://guest:guestpw@rabbitmq.shop.svc:5672/\n\
             2026-11-26T05:01:03.001Z DEBUG config loaded: password=hunter2 user=app\n\
             -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n-----END RSA PRIVATE KEY-----\n\
             2026-11-26T05:01:04.000Z INFO listening on :8080\n"
        );
        let mut counts = Counts::new();
        let out = ON.log(log, &mut counts);
        for leaked in [
            "abcdef0123456789abcdef",
            jwt,
            "AKIAIOSFODNN7EXAMPLE",
            "guestpw",
            "hunter2",
            "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo",
        ] {
            assert!(!out.contains(leaked), "{leaked} survived:\n{out}");
        }
        assert!(out.contains("listening on :8080"));
        assert!(out.contains("amqp://guest:[REDACTED by kpm]@rabbitmq.shop.svc:5672/"));
        assert!(out.contains("user=app"));
        for r in [
            rule::BEARER,
            rule::JWT,
            rule::AWS_KEY,
            rule::URL_PASSWORD,
            rule::ASSIGNMENT,
            rule::PRIVATE_KEY,
        ] {
            assert_eq!(counts.get(r), Some(&1), "{r}: {counts:?}");
        }
        // Running again finds nothing new: redaction output is stable.
        let mut again = Counts::new();
        assert_eq!(redact_text(&out, &mut again), None, "{again:?}");
    }

    #[test]
    fn truncated_private_key_is_redacted_to_the_end() {
        let mut counts = Counts::new();
        let out = ON.log(
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC".to_string(),
            &mut counts,
        );
        assert!(!out.contains("MIIEvQIBADAN"));
    }

    #[test]
    fn ordinary_logs_are_untouched() {
        let log = "10.244.1.7 - - [26/Nov/2026:05:00:01 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.33\"\n\
                   I1126 05:00:01.000000       1 main.go:42] token bucket refilled\n";
        let mut counts = Counts::new();
        assert_eq!(redact_text(log, &mut counts), None);
        assert!(counts.is_empty());
    }
}
