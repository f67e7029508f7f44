//! Env var rules: which names look like they hold a credential, and the
//! walk over a pod spec's containers that applies them (and the text
//! patterns to other env values, `command` and `args`).

use serde_json::Value;

use super::text::Masker;
use super::token::is_token;
use super::{bump, rule, Counts};

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

/// Applies the env-name and text rules to every container of a pod spec.
pub(super) fn redact_pod_spec(spec: &mut Value, mask: &Masker, counts: &mut Counts) {
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for c in containers.iter_mut() {
            redact_container(c, mask, counts);
        }
    }
}

/// Literal env values (never `valueFrom`: a reference is kept as is and
/// never resolved), `command` and `args`.
fn redact_container(c: &mut Value, mask: &Masker, counts: &mut Counts) {
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
            if s.is_empty() || is_token(s) {
                continue;
            }
            if is_secret_env_name(&name) {
                *s = mask.token(s);
                bump(counts, rule::SECRET_ENV, 1);
            } else if let Some(t) = mask.text(s, counts) {
                *s = t;
            }
        }
    }
    for field in ["command", "args"] {
        if let Some(Value::Array(items)) = c.get_mut(field) {
            for item in items.iter_mut() {
                if let Value::String(s) = item {
                    if let Some(t) = mask.text(s, counts) {
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
}
