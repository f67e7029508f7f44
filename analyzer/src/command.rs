//! Suggested commands that stay safe whatever the bundle holds.
//!
//! A finding's next steps are `kubectl` lines a reader copies into a shell.
//! Every value in them comes from the bundle and is hostile: a pod named
//! `x$(touch /tmp/pwned)` cannot exist in a real cluster but can in a bundle.
//! [`Kubectl`] builds a command word by word:
//!
//! - a value is checked against the grammar of its kind ([`Name`]: DNS-1123
//!   label or subdomain, label selector, user name...) and the command is
//!   not offered at all (`build()` is `None`) when one is invalid, so a
//!   value can neither be an option (`--kubeconfig=…`) nor something no API
//!   server would accept;
//! - every word is shell-quoted ([`quote`]): bare when it only holds
//!   `[A-Za-z0-9._/:=@%+,-]`, else in POSIX single quotes, so each value
//!   reaches kubectl as exactly one argument in sh, bash and zsh.
//!
//! Log text never becomes a command word: rules pass names from objects
//! (or a fixed vocabulary, like RBAC verbs), never a string cut out of a log.

use crate::context::FindingBuilder;

/// What a value is, and so which grammar it must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    /// DNS-1123 label (namespaces, container names, Services): at most 63
    /// of `[a-z0-9-]`, starting and ending alphanumeric.
    Label,
    /// DNS-1123 subdomain (pods, nodes, ConfigMaps, Secrets, workloads,
    /// HPAs): dot-separated labels, at most 253 bytes.
    Subdomain,
    /// A kind or resource type as typed on the command line (`deployment`,
    /// `pods`, `hpa`): 1 to 63 ASCII letters.
    Kind,
    /// A user name as Kubernetes forms them (`system:serviceaccount:ns:sa`,
    /// `system:node:n1`, `jane@example.com`): 1 to 253 of
    /// `[A-Za-z0-9._@:-]`, not starting with `-`.
    User,
    /// An API resource as `kubectl auth can-i` and `--resource` take it:
    /// `pods`, `pods/log`, `leases.coordination.k8s.io` (resource and
    /// subresource DNS-1123 labels, group a subdomain).
    Resource,
    /// A label selector of `key=value` pairs joined by `,`, keys and values
    /// following the label syntax (qualified name; value at most 63 of
    /// `[A-Za-z0-9._-]`).
    Selector,
}

// Name grammars are Kubernetes facts: they live in `kpm_semantics::names`.
pub use kpm_semantics::names::{is_dns1123_label, is_dns1123_subdomain};

/// A label key's name part or a label value: alphanumeric at both ends,
/// `-_.` inside, at most 63 bytes (empty allowed for values only).
fn is_label_token(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_alphanumeric();
    b.len() <= 63
        && b.first().is_none_or(ok)
        && b.last().is_none_or(ok)
        && b.iter().all(|c| ok(c) || matches!(c, b'-' | b'_' | b'.'))
}

fn is_selector(s: &str) -> bool {
    !s.is_empty()
        && s.split(',').all(|pair| {
            let Some((key, value)) = pair.split_once('=') else {
                return false;
            };
            let (prefix, name) = match key.split_once('/') {
                Some((p, n)) => (Some(p), n),
                None => (None, key),
            };
            prefix.is_none_or(is_dns1123_subdomain)
                && !name.is_empty()
                && is_label_token(name)
                && is_label_token(value)
        })
}

fn is_resource(s: &str) -> bool {
    let (resource, group) = match s.split_once('.') {
        Some((r, g)) => (r, Some(g)),
        None => (s, None),
    };
    let (resource, sub) = match resource.split_once('/') {
        Some((r, sub)) => (r, Some(sub)),
        None => (resource, None),
    };
    is_dns1123_label(resource)
        && sub.is_none_or(is_dns1123_label)
        && group.is_none_or(is_dns1123_subdomain)
}

fn is_user(s: &str) -> bool {
    (1..=253).contains(&s.len())
        && !s.starts_with('-')
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'@' | b':' | b'-'))
}

impl Name {
    /// Whether `value` follows this grammar.
    pub fn accepts(self, value: &str) -> bool {
        match self {
            Name::Label => is_dns1123_label(value),
            Name::Subdomain => is_dns1123_subdomain(value),
            Name::Kind => {
                (1..=63).contains(&value.len()) && value.bytes().all(|c| c.is_ascii_alphabetic())
            }
            Name::User => is_user(value),
            Name::Selector => is_selector(value),
            Name::Resource => is_resource(value),
        }
    }
}

/// One shell word: bare when every character is in `[A-Za-z0-9._/:=@%+,-]`
/// (and it does not start with `=`, which zsh expands), else single-quoted
/// with each `'` written `'\''`.
pub fn quote(word: &str) -> String {
    // `,` is plain in sh, bash and zsh outside braces, and keeps selectors
    // and `--limits=cpu=500m,memory=512Mi` readable.
    let bare = |c: char| c.is_ascii_alphanumeric() || "._/:=@%+,-".contains(c);
    if !word.is_empty() && !word.starts_with('=') && word.chars().all(bare) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Builds one `kubectl` command line from checked, quoted words.
#[derive(Debug, Clone)]
#[must_use]
pub struct Kubectl {
    words: Vec<String>,
    valid: bool,
}

impl Default for Kubectl {
    fn default() -> Self {
        Kubectl::new()
    }
}

impl Kubectl {
    /// `kubectl` and nothing else yet.
    pub fn new() -> Kubectl {
        Kubectl {
            words: vec!["kubectl".to_string()],
            valid: true,
        }
    }

    /// `-n NAMESPACE`; the namespace must be a DNS-1123 label.
    pub fn namespace(self, ns: &str) -> Kubectl {
        self.args(["-n"]).value(Name::Label, ns)
    }

    /// Words written by kpm itself (`get`, `-o`, `yaml`, a jsonpath):
    /// quoted, never checked. Never pass bundle data here.
    pub fn args<'a>(mut self, args: impl IntoIterator<Item = &'a str>) -> Kubectl {
        self.words.extend(args.into_iter().map(quote));
        self
    }

    /// An object name (DNS-1123 subdomain), as one word.
    pub fn name(self, name: &str) -> Kubectl {
        self.value(Name::Subdomain, name)
    }

    /// A value of kind `kind` as one word.
    pub fn value(self, kind: Name, value: &str) -> Kubectl {
        self.with("", kind, value, "")
    }

    /// One word `prefix + value + suffix`, e.g.
    /// `with("--field-selector=spec.nodeName=", Name::Subdomain, node, "")`
    /// or `with("", Name::Kind, "deployment", "/")` before a name. The
    /// prefix and suffix are kpm's own text; only the value is checked.
    pub fn with(mut self, prefix: &str, kind: Name, value: &str, suffix: &str) -> Kubectl {
        if kind.accepts(value) {
            self.words.push(quote(&format!("{prefix}{value}{suffix}")));
        } else {
            self.valid = false;
        }
        self
    }

    /// `KIND/NAME` as one word (`deployment/web`): the kind lower-cased.
    pub fn kind_name(self, kind: &str, name: &str) -> Kubectl {
        let kind = kind.to_ascii_lowercase();
        if !Name::Kind.accepts(&kind) || !Name::Subdomain.accepts(name) {
            return Kubectl {
                valid: false,
                ..self
            };
        }
        self.with(&format!("{kind}/"), Name::Subdomain, name, "")
    }

    /// Pipes the output so far into a fixed command of kpm's own words
    /// (`base64 -d`, `openssl x509 -noout -dates`): a bare `|` then the
    /// words, quoted like [`Kubectl::args`]. Never pass bundle data here.
    pub fn pipe<'a>(mut self, words: impl IntoIterator<Item = &'a str>) -> Kubectl {
        self.words.push("|".to_string());
        self.words.extend(words.into_iter().map(quote));
        self
    }

    /// The command line, or `None` when a value was not a valid name of its
    /// kind (then no command is offered at all).
    pub fn build(self) -> Option<String> {
        self.valid.then(|| self.words.join(" "))
    }
}

impl FindingBuilder {
    /// Adds a next step when `command` was built (see [`Kubectl::build`]);
    /// a step whose command was refused is left out, description included.
    pub fn next_command(self, description: impl Into<String>, command: Option<String>) -> Self {
        match command {
            Some(c) => self.next_step(description, c),
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kubernetes_grammar() {
        assert!(is_dns1123_label("shop") && is_dns1123_label("a-1"));
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "x;rm", &"a".repeat(64)] {
            assert!(!is_dns1123_label(bad), "{bad}");
        }
        assert!(is_dns1123_subdomain("web-7c9d8f6b5-x2x7q"));
        assert!(is_dns1123_subdomain(
            "ip-10-0-1-5.eu-west-1.compute.internal"
        ));
        for bad in [
            "",
            "a..b",
            ".a",
            "x$(touch /tmp/pwned)",
            "../../x",
            &"a".repeat(254),
        ] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
        assert!(Name::Selector.accepts("app=web,app.kubernetes.io/part-of=shop,tier="));
        for bad in ["app", "app=web;id", "a=b c", "=x", "-a=b", "app=$(x)"] {
            assert!(!Name::Selector.accepts(bad), "{bad}");
        }
        assert!(Name::User.accepts("system:serviceaccount:shop:api"));
        assert!(Name::User.accepts("jane@example.com"));
        for bad in ["", "-x", "a b", "a;b", "a'b"] {
            assert!(!Name::User.accepts(bad), "{bad}");
        }
        assert!(Name::Kind.accepts("deployment") && !Name::Kind.accepts("deploy/x"));
        assert!(Name::Resource.accepts("pods/log"));
        assert!(Name::Resource.accepts("leases.coordination.k8s.io"));
        assert!(!Name::Resource.accepts("pods;id") && !Name::Resource.accepts("-pods"));
    }

    /// Rules and the engine offer commands only through [`Kubectl`]: a raw
    /// `next_step(…, format!(…))` would bypass checking and quoting.
    #[test]
    fn rules_offer_commands_only_through_the_builder() {
        fn walk(dir: &std::path::Path, bad: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, bad);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if text.contains(".next_step(") {
                        bad.push(path.display().to_string());
                    }
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut bad = Vec::new();
        walk(&src.join("rules"), &mut bad);
        walk(&src.join("engine"), &mut bad);
        assert!(bad.is_empty(), "next_step called directly in {bad:?}");
    }

    #[test]
    fn quoting_keeps_one_word() {
        assert_eq!(quote("web-1"), "web-1");
        assert_eq!(quote("spec.nodeName=n1"), "spec.nodeName=n1");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("=ls"), "'=ls'");
        assert_eq!(quote("$(x)"), "'$(x)'");
        assert_eq!(
            quote("jsonpath={.spec.imagePullSecrets}"),
            "'jsonpath={.spec.imagePullSecrets}'"
        );
    }

    #[test]
    fn commands_refuse_invalid_values() {
        let ok = Kubectl::new()
            .namespace("shop")
            .args(["describe", "pod"])
            .name("web-1")
            .build();
        assert_eq!(ok.as_deref(), Some("kubectl -n shop describe pod web-1"));
        let pod = Kubectl::new()
            .namespace("shop")
            .args(["describe", "pod"])
            .name("x$(touch /tmp/pwned)");
        assert_eq!(pod.build(), None);
        let ns = Kubectl::new()
            .namespace("a;curl x|sh;#")
            .args(["get", "pods"]);
        assert_eq!(ns.build(), None);
        // An option-looking name is not a name.
        let opt = Kubectl::new()
            .args(["describe", "node"])
            .name("--kubeconfig=/x");
        assert_eq!(opt.build(), None);
        let kn = Kubectl::new().kind_name("Deployment", "web").build();
        assert_eq!(kn.as_deref(), Some("kubectl deployment/web"));
        assert_eq!(Kubectl::new().kind_name("Deploy ment", "web").build(), None);
        let sel = Kubectl::new()
            .with("--field-selector=spec.nodeName=", Name::Subdomain, "n1", "")
            .build();
        assert_eq!(
            sel.as_deref(),
            Some("kubectl --field-selector=spec.nodeName=n1")
        );
    }

    #[test]
    fn a_pipe_keeps_every_bundle_value_checked_and_quoted() {
        let cert = Kubectl::new()
            .namespace("shop")
            .args(["get", "secret"])
            .name("shop-tls")
            .args(["-o", r"jsonpath={.data.tls\.crt}"])
            .pipe(["base64", "-d"])
            .pipe(["openssl", "x509", "-noout", "-dates"])
            .build();
        assert_eq!(
            cert.as_deref(),
            Some(
                r"kubectl -n shop get secret shop-tls -o 'jsonpath={.data.tls\.crt}' | base64 -d | openssl x509 -noout -dates"
            )
        );
        let hostile = Kubectl::new()
            .args(["get", "secret"])
            .name("x|sh")
            .pipe(["base64", "-d"]);
        assert_eq!(hostile.build(), None);
    }
}
