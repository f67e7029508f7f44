//! What changed between two revisions of a Deployment's pod template, in
//! the terms a rollback decision needs: images, command and args,
//! environment (names with their literal value or the reference they read;
//! never a Secret's value, and a literal whose name looks like a credential
//! is not quoted either), `envFrom` and ConfigMap/Secret volumes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, Volume};

use crate::rules::pod_death::clip;

/// Longest literal env value quoted.
const VALUE_CHARS: usize = 60;

/// Name fragments that mark an env var as a credential: its literal value
/// is never quoted.
const SECRET_NAMES: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "APIKEY",
    "API_KEY",
    "PRIVATE",
    "CREDENTIAL",
];

/// The changes from `old` to `new`, one short sentence each, in template
/// order (containers, then volumes). Empty when none of the fields it
/// compares changed.
pub fn template_changes(old: &PodSpec, new: &PodSpec) -> Vec<String> {
    let mut out = Vec::new();
    let init = |s: &PodSpec| s.init_containers.clone().unwrap_or_default();
    containers(&init(old), &init(new), "init container", &mut out);
    containers(&old.containers, &new.containers, "container", &mut out);
    volumes(
        old.volumes.as_deref().unwrap_or_default(),
        new.volumes.as_deref().unwrap_or_default(),
        &mut out,
    );
    out
}

fn containers(old: &[Container], new: &[Container], what: &str, out: &mut Vec<String>) {
    for n in new {
        let Some(o) = old.iter().find(|o| o.name == n.name) else {
            out.push(format!(
                "{what} {} added (image {})",
                n.name,
                n.image.as_deref().unwrap_or("<none>")
            ));
            continue;
        };
        container(o, n, &format!("{what} {}", n.name), out);
    }
    for o in old.iter().filter(|o| !new.iter().any(|n| n.name == o.name)) {
        out.push(format!("{what} {} removed", o.name));
    }
}

fn container(o: &Container, n: &Container, who: &str, out: &mut Vec<String>) {
    if o.image != n.image {
        out.push(format!(
            "{who} image {} → {}",
            o.image.as_deref().unwrap_or("<none>"),
            n.image.as_deref().unwrap_or("<none>")
        ));
    }
    for (field, a, b) in [
        ("command", &o.command, &n.command),
        ("args", &o.args, &n.args),
    ] {
        if a != b {
            out.push(format!("{who} {field} {} → {}", words(a), words(b)));
        }
    }
    env(
        o.env.as_deref().unwrap_or_default(),
        n.env.as_deref().unwrap_or_default(),
        who,
        out,
    );
    let env_from = |c: &Container| -> Vec<String> {
        c.env_from
            .iter()
            .flatten()
            .map(|s| match (&s.config_map_ref, &s.secret_ref) {
                (Some(cm), _) => format!("ConfigMap {}", cm.name),
                (None, Some(sec)) => format!("Secret {}", sec.name),
                (None, None) => "nothing".to_string(),
            })
            .collect()
    };
    let (a, b) = (env_from(o), env_from(n));
    if a != b {
        out.push(format!("{who} envFrom {} → {}", list(&a), list(&b)));
    }
}

/// `["--port=8080", "--db"]`, or `<none>`.
fn words(v: &Option<Vec<String>>) -> String {
    match v.as_deref() {
        None | Some([]) => "<none>".to_string(),
        Some(w) => format!(
            "[{}]",
            w.iter()
                .map(|s| format!("{:?}", clip(s)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "<none>".to_string()
    } else {
        v.join(", ")
    }
}

fn env(old: &[EnvVar], new: &[EnvVar], who: &str, out: &mut Vec<String>) {
    let by_name = |v: &[EnvVar]| -> BTreeMap<String, String> {
        v.iter().map(|e| (e.name.clone(), source(e))).collect()
    };
    let (a, b) = (by_name(old), by_name(new));
    for e in new {
        let now = b.get(&e.name).cloned().unwrap_or_default();
        match a.get(&e.name) {
            None => out.push(format!("{who} env {} added ({now})", e.name)),
            Some(before) if *before != now => {
                out.push(format!("{who} env {}: {before} → {now}", e.name));
            }
            Some(_) => {}
        }
    }
    for e in old.iter().filter(|e| !b.contains_key(&e.name)) {
        out.push(format!("{who} env {} removed", e.name));
    }
}

/// Where an env var's value comes from: a quoted literal (unless the name
/// looks like a credential) or the reference it reads.
fn source(e: &EnvVar) -> String {
    if let Some(from) = &e.value_from {
        if let Some(s) = &from.secret_key_ref {
            return format!("from Secret {} key {}", s.name, s.key);
        }
        if let Some(c) = &from.config_map_key_ref {
            return format!("from ConfigMap {} key {}", c.name, c.key);
        }
        if let Some(f) = &from.field_ref {
            return format!("from field {}", f.field_path);
        }
        if let Some(r) = &from.resource_field_ref {
            return format!("from resource {}", r.resource);
        }
        return "from an unknown source".to_string();
    }
    let value = e.value.as_deref().unwrap_or("");
    let upper = e.name.to_ascii_uppercase();
    if SECRET_NAMES.iter().any(|s| upper.contains(s)) {
        return "a literal value (not shown: the name looks like a credential)".to_string();
    }
    let shown: String = value.chars().take(VALUE_CHARS).collect();
    let more = if value.chars().count() > VALUE_CHARS {
        "…"
    } else {
        ""
    };
    format!("{:?}", format!("{shown}{more}"))
}

/// The ConfigMap / Secret (or projected) sources of the volumes, by volume
/// name.
fn volume_source(v: &Volume) -> Option<String> {
    if let Some(c) = &v.config_map {
        return Some(format!("ConfigMap {}", c.name));
    }
    if let Some(s) = &v.secret {
        return Some(format!(
            "Secret {}",
            s.secret_name.as_deref().unwrap_or("<none>")
        ));
    }
    let projected = v.projected.as_ref()?;
    let names: Vec<String> = projected
        .sources
        .iter()
        .flatten()
        .filter_map(|p| {
            p.config_map
                .as_ref()
                .map(|c| format!("ConfigMap {}", c.name))
                .or_else(|| p.secret.as_ref().map(|s| format!("Secret {}", s.name)))
        })
        .collect();
    (!names.is_empty()).then(|| format!("projected {}", names.join(" + ")))
}

fn volumes(old: &[Volume], new: &[Volume], out: &mut Vec<String>) {
    let map = |v: &[Volume]| -> BTreeMap<String, String> {
        v.iter()
            .filter_map(|v| Some((v.name.clone(), volume_source(v)?)))
            .collect()
    };
    let (a, b) = (map(old), map(new));
    for (name, now) in &b {
        match a.get(name) {
            None => out.push(format!("volume {name} added ({now})")),
            Some(before) if before != now => {
                out.push(format!("volume {name}: {before} → {now}"));
            }
            Some(_) => {}
        }
    }
    for name in a.keys().filter(|n| !b.contains_key(*n)) {
        out.push(format!("volume {name} removed"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn image_args_env_and_config_references_are_named() {
        let old = spec(
            json!({"containers": [{"name": "checkout", "image": "ghcr.io/a/checkout:3.14.2",
            "args": ["--port=8080"],
            "env": [{"name": "LOG_LEVEL", "value": "info"},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                    {"name": "API_TOKEN", "value": "s3cr3t-old"}],
            "envFrom": [{"configMapRef": {"name": "checkout-config"}}]}],
            "volumes": [{"name": "conf", "configMap": {"name": "checkout-v1"}}]}),
        );
        let new = spec(
            json!({"containers": [{"name": "checkout", "image": "ghcr.io/a/checkout:3.15.0",
            "args": ["--port=80800"],
            "env": [{"name": "LOG_LEVEL", "value": "debug"},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-v2", "key": "password"}}},
                    {"name": "API_TOKEN", "value": "s3cr3t-new"},
                    {"name": "FEATURE_X", "value": "on"}],
            "envFrom": [{"configMapRef": {"name": "checkout-config-v2"}}]}],
            "volumes": [{"name": "conf", "configMap": {"name": "checkout-v2"}},
                        {"name": "tls", "secret": {"secretName": "checkout-tls"}}]}),
        );
        let got = template_changes(&old, &new);
        assert_eq!(
            got,
            [
                "container checkout image ghcr.io/a/checkout:3.14.2 → ghcr.io/a/checkout:3.15.0",
                "container checkout args [\"--port=8080\"] → [\"--port=80800\"]",
                "container checkout env LOG_LEVEL: \"info\" → \"debug\"",
                "container checkout env DB_PASSWORD: from Secret db key password → from Secret db-v2 key password",
                "container checkout env FEATURE_X added (\"on\")",
                "container checkout envFrom ConfigMap checkout-config → ConfigMap checkout-config-v2",
                "volume conf: ConfigMap checkout-v1 → ConfigMap checkout-v2",
                "volume tls added (Secret checkout-tls)",
            ]
        );
        // A credential-looking literal changed, but its value is never shown.
        assert!(got.iter().all(|l| !l.contains("s3cr3t")), "{got:#?}");
    }

    #[test]
    fn identical_templates_have_no_changes_and_containers_come_and_go() {
        let a = spec(json!({"containers": [{"name": "web", "image": "x:1"}]}));
        assert!(template_changes(&a, &a).is_empty());
        let b = spec(json!({"containers": [{"name": "api", "image": "x:1"}]}));
        assert_eq!(
            template_changes(&a, &b),
            ["container api added (image x:1)", "container web removed"]
        );
    }
}
