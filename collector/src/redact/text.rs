//! Secret shapes in free text (logs, env values, arguments): bearer tokens,
//! JWTs, AWS access key ids, PEM private key blocks, passwords in URLs and
//! `password=…`-style assignments.

use std::sync::OnceLock;

use regex::{Captures, Regex};

use super::token::{is_token, Tokens};
use super::user_rules::UserRules;
use super::{bump, rule, Counts};

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
            private_key: re(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----((?s:.*?))(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)"),
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

/// Replaces secret shapes in free text with stable tokens: the user's
/// rules first, then the built-in shapes.
#[derive(Debug)]
pub struct Masker {
    /// The per-run token key.
    pub tokens: Tokens,
    /// `--redact-rules`.
    pub user: UserRules,
}

impl Masker {
    /// The token of `secret` (see [`Tokens`]).
    pub fn token(&self, secret: &str) -> String {
        self.tokens.token(secret)
    }

    /// Redacts a text (a log, an env value, an argument, an annotation).
    /// Returns the new text if anything changed.
    pub fn text(&self, text: &str, counts: &mut Counts) -> Option<String> {
        let user = self.user.apply(text, &self.tokens, counts);
        let base = user.as_deref().unwrap_or(text);
        builtin(base, &self.tokens, counts).or(user)
    }
}

/// The built-in shapes of [`Masker::text`].
fn builtin(text: &str, tokens: &Tokens, counts: &mut Counts) -> Option<String> {
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
        let body = c.get(2)?.as_str();
        if is_token(body.trim()) {
            // Our own replacement: nothing left to hide.
            return None;
        }
        let kind = c.get(1).map_or("", |m| m.as_str());
        Some(format!(
            "-----BEGIN {kind}PRIVATE KEY----- {} -----END {kind}PRIVATE KEY-----",
            tokens.token(whole)
        ))
    });
    apply(&p.url, rule::URL_PASSWORD, &mut cur, &|c| {
        let (scheme, user, pw) = (c.get(1)?.as_str(), c.get(2)?.as_str(), c.get(3)?.as_str());
        if is_token(pw) {
            return None;
        }
        Some(format!("{scheme}{user}:{}@", tokens.token(pw)))
    });
    apply(&p.bearer, rule::BEARER, &mut cur, &|c| {
        Some(format!(
            "{}{}{}",
            c.get(1)?.as_str(),
            c.get(2)?.as_str(),
            tokens.token(c.get(3)?.as_str())
        ))
    });
    apply(&p.jwt, rule::JWT, &mut cur, &|c| {
        Some(tokens.token(c.get(0)?.as_str()))
    });
    apply(&p.aws, rule::AWS_KEY, &mut cur, &|c| {
        Some(tokens.token(c.get(0)?.as_str()))
    });
    apply(&p.assignment, rule::ASSIGNMENT, &mut cur, &|c| {
        let value = c.get(3)?.as_str();
        if is_token(value) || value.starts_with("$(") || value.starts_with("${") {
            // Already redacted, or a reference to another variable, not a value.
            return None;
        }
        Some(format!(
            "{}{}{}",
            c.get(1)?.as_str(),
            c.get(2)?.as_str(),
            tokens.token(value)
        ))
    });
    changed.then(|| cur.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask() -> Masker {
        Masker {
            tokens: Tokens::with_key(b"test"),
            user: UserRules::default(),
        }
    }

    fn redact(text: &str, counts: &mut Counts) -> String {
        mask()
            .text(text, counts)
            .unwrap_or_else(|| text.to_string())
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
        let out = redact(&log, &mut counts);
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
        let pw = mask().token("guestpw");
        assert!(out.contains(&format!("amqp://guest:{pw}@rabbitmq.shop.svc:5672/")));
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
        assert_eq!(mask().text(&out, &mut again), None, "{again:?}");
    }

    #[test]
    fn truncated_private_key_is_redacted_to_the_end() {
        let mut counts = Counts::new();
        let out = redact(
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
            &mut counts,
        );
        assert!(!out.contains("MIIEvQIBADAN"));
    }

    #[test]
    fn ordinary_logs_are_untouched() {
        let log = "10.244.1.7 - - [26/Nov/2026:05:00:01 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.33\"\n\
                   I1126 05:00:01.000000       1 main.go:42] token bucket refilled\n";
        let mut counts = Counts::new();
        assert_eq!(mask().text(log, &mut counts), None);
        assert!(counts.is_empty());
    }

    #[test]
    fn same_secret_same_token_across_shapes() {
        let mut counts = Counts::new();
        let out = redact(
            "connecting to postgres://app:hunter2@db:5432/shop with password=hunter2",
            &mut counts,
        );
        let t = mask().token("hunter2");
        assert_eq!(out.matches(&t).count(), 2, "{out}");
        assert!(!out.contains("hunter2"));
    }

    #[test]
    fn user_rules_run_before_builtin_shapes() {
        let m = Masker {
            tokens: Tokens::with_key(b"test"),
            user: UserRules::parse("literal:acme-7731\nregex:tenant=(t-[0-9]+)", "r").unwrap(),
        };
        let mut counts = Counts::new();
        let out = m
            .text("tenant=t-42 id acme-7731 token=abc123xyz", &mut counts)
            .unwrap();
        for leaked in ["t-42", "acme-7731", "abc123xyz"] {
            assert!(!out.contains(leaked), "{leaked}: {out}");
        }
        assert_eq!(counts.get(rule::USER_LITERAL), Some(&1));
        assert_eq!(counts.get(rule::USER_REGEX), Some(&1));
        assert_eq!(counts.get(rule::ASSIGNMENT), Some(&1));
    }
}
