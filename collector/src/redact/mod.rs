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
//!
//! Modules: [`env`] (which env names look secret, and pod specs), [`text`]
//! (secret shapes in free text); this file holds the switches, the counts
//! and the per-kind object rules (Secrets, ConfigMaps, last-applied).

use std::collections::BTreeMap;

use serde_json::Value;

use kpm_bundle::secret::{strip_secret, LAST_APPLIED};

mod env;
mod text;

use env::redact_pod_spec;
use text::redact_text;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ON: Redactor = Redactor {
        patterns: true,
        config_maps: false,
    };

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
}
