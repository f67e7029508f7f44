//! Redaction: what kpm removes from objects and logs before anything reaches
//! the bundle.
//!
//! Rules, in the order they apply:
//!
//! * Secrets: always reduced to metadata and key names by
//!   [`kpm_bundle::secret::strip_secret`], even with `--no-redact`; kpm never
//!   stores a Secret value (Helm release Secrets included). A
//!   `kubernetes.io/tls` Secret first gets the public facts of its
//!   certificates as an annotation ([`tls`]); the PEM and key go with the
//!   other values.
//! * ConfigMaps: by default every `data`/`binaryData` value is replaced by
//!   `""` and its SHA-256 and size kept in an annotation ([`configmap`]),
//!   even with `--no-redact`. With `--configmap-values` values are kept and
//!   redacted: a value under a credential-like key becomes a token, others
//!   go through the text patterns. Helm release ConfigMaps are always hashed.
//! * Workloads (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job):
//!   a literal env `value` whose *name* looks secret is replaced by a token.
//!   A name looks secret when it contains `PASSWORD`, `PASSWD`,
//!   `TOKEN`, `SECRET`, `CREDENTIAL` or `PRIVATE` anywhere, or has `KEY`,
//!   `KEYS`, `APIKEY`, `PASS` or `PWD` as a whole word part (`API_KEY`,
//!   `accessKey`, `SSH_KEYS`, `REDIS_PASS`) — so `KEYCLOAK_URL`,
//!   `MONKEY_MODE`, `KEYSPACE` and `PASSENGER_MAX_POOL` are kept: they name
//!   things, not credentials. `valueFrom` references are kept and never
//!   resolved (they hold no value).
//!   Other env values, `command` and `args` go through the text patterns below
//!   (a `postgres://app:pw@db` URL in `DATABASE_URL` is caught there).
//! * Every annotation value, and Event messages, go through the text
//!   patterns.
//! * The `kubectl.kubernetes.io/last-applied-configuration` annotation repeats
//!   the whole object as applied, env and ConfigMap values included. It is
//!   parsed and the same rules are applied inside it (a ConfigMap's copy
//!   loses its values without digests); if it cannot be parsed it is
//!   dropped.
//! * Text patterns, on logs and the strings above: the user's
//!   `--redact-rules` ([`user_rules`]), then bearer tokens, JWTs, AWS access
//!   key ids, PEM private key blocks, passwords in URLs and
//!   `password=…`-style assignments.
//!
//! A replaced value becomes a stable token ([`token`]): the same secret gives
//! the same token within a bundle. Only counts per rule are kept (they go to
//! the manifest's `redaction`), never the values.
//!
//! Modules: [`env`] (which env names look secret, and pod specs), [`text`]
//! (secret shapes in free text), [`configmap`] (digests and values),
//! [`token`] (stable tokens), [`user_rules`] (`--redact-rules`); this file
//! holds the switches, the counts and the per-kind object rules.

use std::collections::BTreeMap;

use serde_json::Value;

use kpm_bundle::secret::{strip_secret, LAST_APPLIED};

mod configmap;
mod env;
mod text;
mod tls;
mod token;
mod user_rules;

use env::redact_pod_spec;
pub use text::Masker;
pub use token::{NoRandomKey, Tokens};
pub use user_rules::UserRules;

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
    /// A ConfigMap value replaced by its digest (the default).
    pub const CONFIGMAP_HASHED: &str = "configmap-value-hashed";
    /// A ConfigMap value removed from a last-applied copy.
    pub const CONFIGMAP_REMOVED: &str = "configmap-value-removed";
    /// A ConfigMap value under a credential-like key (`--configmap-values`).
    pub const CONFIGMAP_SECRET_KEY: &str = "configmap-secret-key-value";
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
    /// A `literal:` line of `--redact-rules`.
    pub const USER_LITERAL: &str = "user-literal";
    /// A `regex:` line of `--redact-rules`.
    pub const USER_REGEX: &str = "user-regex";
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

/// The redaction of a run: its switches, its token key and the user's rules.
#[derive(Debug)]
pub struct Redactor {
    /// Pattern rules (env names, text shapes, annotations, last-applied) are
    /// on; off with `--no-redact`. Secret values are removed and ConfigMap
    /// values hashed regardless.
    pub patterns: bool,
    /// `--configmap-values`: keep (redacted) ConfigMap values instead of
    /// their digests.
    pub config_map_values: bool,
    mask: Masker,
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
    /// A redactor with a fresh random token key.
    pub fn new(
        patterns: bool,
        config_map_values: bool,
        user: UserRules,
    ) -> Result<Redactor, NoRandomKey> {
        Ok(Redactor::with_tokens(
            patterns,
            config_map_values,
            user,
            Tokens::random()?,
        ))
    }

    /// A redactor with the given token key.
    pub fn with_tokens(
        patterns: bool,
        config_map_values: bool,
        user: UserRules,
        tokens: Tokens,
    ) -> Redactor {
        Redactor {
            patterns,
            config_map_values,
            mask: Masker { tokens, user },
        }
    }

    /// Whether this ConfigMap keeps its (redacted) values.
    fn keeps_values(&self, config_map: &Value) -> bool {
        self.config_map_values && !configmap::is_helm_release(config_map)
    }

    /// Redacts one object of `kind` in place, adding what it replaced to
    /// `counts`. Secrets are stripped and ConfigMap values hashed whatever
    /// `patterns` says.
    pub fn object(&self, kind: &str, obj: &mut Value, counts: &mut Counts) {
        if kind == "Secret" {
            tls::annotate(obj);
            bump(counts, rule::SECRET_VALUE, strip_secret(obj));
            return;
        }
        let hashes = kind == "ConfigMap" && !self.keeps_values(obj);
        if hashes {
            bump(counts, rule::CONFIGMAP_HASHED, configmap::hash_values(obj));
        } else if kind == "ConfigMap" && self.patterns {
            configmap::redact_values(obj, &self.mask, counts);
        }
        if self.patterns {
            if let Some(spec) = pod_spec_pointer(kind).and_then(|p| obj.pointer_mut(p)) {
                redact_pod_spec(spec, &self.mask, counts);
            }
            if kind == "Event" {
                self.string_at(obj, "/message", counts);
            }
            self.annotations(obj, counts);
        }
        if self.patterns || hashes {
            self.last_applied(kind, hashes, obj, counts);
        }
    }

    /// Text patterns on the string at `pointer`, if any.
    fn string_at(&self, obj: &mut Value, pointer: &str, counts: &mut Counts) {
        if let Some(Value::String(s)) = obj.pointer_mut(pointer) {
            if let Some(t) = self.mask.text(s, counts) {
                *s = t;
            }
        }
    }

    /// Text patterns on every annotation but last-applied (handled as an
    /// object) and kpm's own.
    fn annotations(&self, obj: &mut Value, counts: &mut Counts) {
        let Some(ann) = obj
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        for (k, v) in ann.iter_mut() {
            if k == LAST_APPLIED || k.starts_with("kpm.dev/") {
                continue;
            }
            if let Value::String(s) = v {
                if let Some(t) = self.mask.text(s, counts) {
                    *s = t;
                }
            }
        }
    }

    /// Applies the rules inside the last-applied annotation (drops it when
    /// it is not valid JSON). `hashes`: the object is a ConfigMap whose
    /// values are hashed, so the copy loses its values.
    fn last_applied(&self, kind: &str, hashes: bool, obj: &mut Value, counts: &mut Counts) {
        let Some(ann) = obj
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        let Some(Value::String(text)) = ann.get(LAST_APPLIED) else {
            return;
        };
        let Ok(mut inner) = serde_json::from_str::<Value>(text) else {
            ann.remove(LAST_APPLIED);
            bump(counts, rule::LAST_APPLIED_DROPPED, 1);
            return;
        };
        let mut local = Counts::new();
        // The inner copy is the same kind; apply the same rules.
        if hashes {
            bump(
                &mut local,
                rule::CONFIGMAP_REMOVED,
                configmap::remove_values(&mut inner),
            );
        } else if kind == "ConfigMap" && self.patterns {
            configmap::redact_values(&mut inner, &self.mask, &mut local);
        }
        if self.patterns {
            if let Some(spec) = pod_spec_pointer(kind).and_then(|p| inner.pointer_mut(p)) {
                redact_pod_spec(spec, &self.mask, &mut local);
            }
        }
        let mut text = inner.to_string();
        if self.patterns {
            if let Some(t) = self.mask.text(&text, &mut local) {
                text = t;
            }
        }
        if !local.is_empty() {
            merge(counts, &local);
            ann.insert(LAST_APPLIED.to_string(), Value::String(text));
        }
    }

    /// Redacts a log text when pattern rules are on.
    pub fn log(&self, text: String, counts: &mut Counts) -> String {
        if !self.patterns {
            return text;
        }
        self.mask.text(&text, counts).unwrap_or(text)
    }

    /// Redacts a text that is neither a log nor an object (an unknown file
    /// of a bundle redacted again) when pattern rules are on.
    pub fn text(&self, text: &str, counts: &mut Counts) -> Option<String> {
        if !self.patterns {
            return None;
        }
        self.mask.text(text, counts)
    }
}

#[cfg(test)]
mod tests;
