//! Redaction rules a user adds with `--redact-rules FILE`.
//!
//! The file is plain text, one rule per line:
//!
//! ```text
//! # a comment; blank lines are ignored too
//! literal:acme-internal-7731
//! regex:\bcorp-[0-9]{6}\b
//! regex:session=([A-Za-z0-9]+)
//! ```
//!
//! * `literal:<string>`: every occurrence of the exact string (everything
//!   after the first `:`, spaces included) is replaced.
//! * `regex:<pattern>`: Rust `regex` syntax. When the pattern has a capture
//!   group, only group 1 is replaced (so `session=` stays readable);
//!   otherwise the whole match.
//!
//! Leading spaces before `literal:`/`regex:` are ignored; a line ending
//! `\r\n` loses its `\r`. Any other line is an error naming the file and the
//! line, as is an invalid pattern or an empty literal.

use std::path::Path;

use regex::{Captures, Regex};

use super::token::{Tokens, TOKEN_PREFIX};
use super::{bump, rule, Counts};

/// A `--redact-rules` file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file cannot be read.
    #[error("cannot read redaction rules {path}: {cause}")]
    Read {
        /// The file.
        path: String,
        /// Why, already in the message (not a `source()`).
        cause: std::io::Error,
    },
    /// A line is not a valid rule.
    #[error("{path}:{line}: {what}")]
    Line {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        what: String,
    },
}

/// The user's extra rules (none by default).
#[derive(Debug, Default)]
pub struct UserRules {
    literals: Vec<String>,
    regexes: Vec<Regex>,
}

impl UserRules {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<UserRules, RulesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: shown.clone(),
            cause: source,
        })?;
        UserRules::parse(&text, &shown)
    }

    /// Parses rules text; `path` names the file in errors.
    pub fn parse(text: &str, path: &str) -> Result<UserRules, RulesError> {
        let mut rules = UserRules::default();
        for (i, raw) in text.lines().enumerate() {
            let err = |what: String| RulesError::Line {
                path: path.to_string(),
                line: i + 1,
                what,
            };
            let line = raw.strip_suffix('\r').unwrap_or(raw).trim_start();
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(lit) = line.strip_prefix("literal:") {
                if lit.is_empty() {
                    return Err(err("empty literal".into()));
                }
                rules.literals.push(lit.to_string());
            } else if let Some(pat) = line.strip_prefix("regex:") {
                let re = Regex::new(pat).map_err(|e| err(format!("invalid regex: {e}")))?;
                if re.is_match("") {
                    return Err(err(format!("regex {pat:?} matches the empty string")));
                }
                rules.regexes.push(re);
            } else {
                let shown: String = line.chars().take(40).collect();
                return Err(err(format!(
                    "expected `literal:<string>`, `regex:<pattern>` or a `#` comment, found {shown:?}"
                )));
            }
        }
        Ok(rules)
    }

    /// Applies every rule to `text`; `None` when nothing matched.
    pub(super) fn apply(&self, text: &str, tokens: &Tokens, counts: &mut Counts) -> Option<String> {
        let mut cur: Option<String> = None;
        for lit in &self.literals {
            let s = cur.as_deref().unwrap_or(text);
            let n = s.matches(lit.as_str()).count() as u64;
            if n > 0 {
                cur = Some(s.replace(lit.as_str(), &tokens.token(lit)));
                bump(counts, rule::USER_LITERAL, n);
            }
        }
        for re in &self.regexes {
            let s = cur.as_deref().unwrap_or(text);
            let mut n = 0u64;
            let out = re.replace_all(s, |c: &Captures| {
                let whole = c.get(0).map_or("", |m| m.as_str());
                let Some(secret) = c.get(1).or_else(|| c.get(0)) else {
                    return whole.to_string();
                };
                // A match inside one of our own tokens (a pattern of hex
                // digits, say) is not a secret.
                if s[..secret.start()].ends_with(&format!("{TOKEN_PREFIX}:"))
                    || secret.as_str().starts_with(TOKEN_PREFIX)
                {
                    return whole.to_string();
                }
                n += 1;
                let base = c.get(0).map_or(0, |m| m.start());
                let (a, b) = (secret.start() - base, secret.end() - base);
                format!(
                    "{}{}{}",
                    &whole[..a],
                    tokens.token(secret.as_str()),
                    &whole[b..]
                )
            });
            if n > 0 {
                cur = Some(out.into_owned());
                bump(counts, rule::USER_REGEX, n);
            }
        }
        cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literals_regexes_comments_and_crlf() {
        let r = UserRules::parse(
            "# corp ids\r\n\r\nliteral:acme 7731\r\n  regex:\\bcorp-[0-9]{6}\\b\nregex:session=([A-Za-z0-9]+)\n",
            "rules.txt",
        )
        .unwrap();
        assert_eq!(r.literals, ["acme 7731"]);
        assert_eq!(r.regexes.len(), 2);
        let t = Tokens::with_key(b"k");
        let mut counts = Counts::new();
        let out = r
            .apply(
                "user acme 7731 id corp-123456 session=abc123 ok, again acme 7731",
                &t,
                &mut counts,
            )
            .unwrap();
        assert!(!out.contains("acme 7731") && !out.contains("123456") && !out.contains("abc123"));
        assert!(
            out.contains(&format!("session={}", t.token("abc123"))),
            "{out}"
        );
        assert_eq!(out.matches(&t.token("acme 7731")).count(), 2);
        assert_eq!(counts.get(rule::USER_LITERAL), Some(&2));
        assert_eq!(counts.get(rule::USER_REGEX), Some(&2));
        // Tokens are not redacted again by a pattern matching hex digits.
        let hex = UserRules::parse("regex:[0-9a-f]{8}", "r").unwrap();
        assert_eq!(hex.apply(&t.token("x"), &t, &mut counts), None);
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let e = UserRules::parse("literal:ok\nregex:([a-z\n", "/etc/kpm/rules.txt").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("/etc/kpm/rules.txt:2: invalid regex"),
            "{msg}"
        );
        let e = UserRules::parse("# x\nsecret: foo\n", "r.txt").unwrap_err();
        assert!(
            e.to_string().starts_with("r.txt:2: expected `literal:"),
            "{e}"
        );
        assert!(UserRules::parse("literal:", "r").is_err());
        assert!(UserRules::parse("regex:a*", "r").is_err());
    }

    #[test]
    fn documented_example_parses() {
        let path = format!("{}/../deploy/README.md", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (_, after) = text
            .split_once("`--redact-rules FILE`, applied")
            .unwrap_or_else(|| panic!("{path}: no --redact-rules section"));
        let block: String = after
            .lines()
            .skip_while(|l| l.trim() != "```text")
            .skip(1)
            .take_while(|l| l.trim() != "```")
            .map(|l| format!("{}\n", l.trim_start()))
            .collect();
        let rules = UserRules::parse(&block, &path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rules.literals, ["acme-internal-7731"]);
        assert_eq!(rules.regexes.len(), 2);
    }
}
