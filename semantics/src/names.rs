//! Object names as the API server validates them
//! (`k8s.io/apimachinery/pkg/util/validation` and
//! `k8s.io/apimachinery/pkg/api/validation/path`).
//!
//! A bundle is written by whoever sent it: a name that no API server would
//! have accepted (`../../x`, empty, `/`, 300 characters) did not come from a
//! cluster, and must not reach a file path, a URL or a suggested command.
//! These are the checks the API server applies on create:
//!
//! * [`is_dns1123_label`]: namespaces (and container names) — at most 63
//!   characters, lower-case alphanumerics and `-`, alphanumeric at both ends
//!   (`IsDNS1123Label`, `[a-z0-9]([-a-z0-9]*[a-z0-9])?`).
//! * [`is_dns1123_subdomain`]: most kinds (pods, nodes, deployments…) — at
//!   most 253 characters, labels of that alphabet joined by `.`
//!   (`IsDNS1123Subdomain`).
//! * [`is_path_segment_name`]: the floor every object name meets, because it
//!   becomes a URL path segment (`IsValidPathSegmentName`): not `.` or `..`,
//!   no `/` or `%` (RBAC kinds use only this, so `system:node` is valid).

/// `DNS1123LabelMaxLength`.
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;

/// `DNS1123SubdomainMaxLength`.
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;

fn is_label_body(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-')
        }
        _ => false,
    }
}

/// A DNS-1123 label (RFC 1123): what a namespace or a container is called.
pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= DNS1123_LABEL_MAX_LENGTH && is_label_body(s)
}

/// A DNS-1123 subdomain: what most objects (pods, nodes, services,
/// deployments, events…) are called.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    // Labels inside a subdomain are not limited to 63 characters by the
    // API server's regular expression, only the whole name to 253.
    s.len() <= DNS1123_SUBDOMAIN_MAX_LENGTH && s.split('.').all(is_label_body)
}

/// A name usable as one URL path segment (`IsValidPathSegmentName`): the
/// weakest rule any object name follows.
pub fn is_path_segment_name(s: &str) -> bool {
    s != "." && s != ".." && !s.contains('/') && !s.contains('%')
}

/// Which rule a name follows, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// [`is_dns1123_label`].
    Label,
    /// [`is_dns1123_subdomain`].
    Subdomain,
    /// [`is_path_segment_name`] (non-empty).
    PathSegment,
}

impl NameRule {
    /// The rule the API server applies to objects of the resource `plural`
    /// (core and built-in groups): namespaces are labels, RBAC objects path
    /// segments, everything else subdomains.
    pub fn for_resource(plural: &str) -> NameRule {
        match plural {
            "namespaces" => NameRule::Label,
            "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings" => {
                NameRule::PathSegment
            }
            _ => NameRule::Subdomain,
        }
    }

    /// Whether `name` follows the rule.
    pub fn accepts(self, name: &str) -> bool {
        match self {
            NameRule::Label => is_dns1123_label(name),
            NameRule::Subdomain => is_dns1123_subdomain(name),
            NameRule::PathSegment => !name.is_empty() && is_path_segment_name(name),
        }
    }

    /// What the rule asks for, for messages ("not a valid name: …").
    pub fn describe(self) -> &'static str {
        match self {
            NameRule::Label => "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (at most 63 characters)",
            NameRule::Subdomain => "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (at most 253 characters)",
            NameRule::PathSegment => "may not be empty, '.' or '..', and may not contain '/' or '%'",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Cases from apimachinery's validation_test.go
    // (TestIsDNS1123Label, TestIsDNS1123Subdomain).
    #[test]
    fn labels() {
        for good in [
            "a",
            "ab",
            "abc",
            "a1",
            "a-1",
            "a--1--2--b",
            "0",
            "01",
            "012",
            "1a",
            "1-a",
            "1--a--b--2",
            &"a".repeat(63),
        ] {
            assert!(is_dns1123_label(good), "{good:?} is a label");
        }
        for bad in [
            "",
            "A",
            "ABC",
            "aBc",
            "A1",
            "A-1",
            "1-A",
            "-",
            "a-",
            "-a",
            "1-",
            "-1",
            "_",
            "a_",
            "_a",
            "a_b",
            "1_",
            "_1",
            "1_2",
            ".",
            "a.",
            ".a",
            "a.b",
            "1.",
            ".1",
            "1.2",
            " ",
            "a ",
            " a",
            "a b",
            "1 ",
            " 1",
            "1 2",
            "é",
            "../../x",
            &"a".repeat(64),
        ] {
            assert!(!is_dns1123_label(bad), "{bad:?} is not a label");
        }
    }

    #[test]
    fn subdomains_accepted() {
        for good in [
            "a",
            "ab",
            "abc",
            "a1",
            "a-1",
            "a--1--2--b",
            "0",
            "01",
            "012",
            "1a",
            "1-a",
            "1--a--b--2",
            "a.a",
            "ab.a",
            "abc.a",
            "a1.a",
            "a-1.a",
            "a--1--2--b.a",
            "a.1",
            "ab.1",
            "abc.1",
            "a1.1",
            "a-1.1",
            "a--1--2--b.1",
            "0.a",
            "01.a",
            "012.a",
            "1a.a",
            "1-a.a",
            "1--a--b--2",
            "0.1",
            "01.1",
            "012.1",
            "1a.1",
            "1-a.1",
            "1--a--b--2.1",
            "a.b.c.d.e",
            "aa.bb.cc.dd.ee",
            "1.2.3.4.5",
            "11.22.33.44.55",
            &"a".repeat(253),
        ] {
            assert!(is_dns1123_subdomain(good), "{good:?} is a subdomain");
        }
    }

    #[test]
    fn subdomains_rejected() {
        for bad in [
            "",
            "A",
            "ABC",
            "aBc",
            "A1",
            "A-1",
            "1-A",
            "-",
            "a-",
            "-a",
            "1-",
            "-1",
            "_",
            "a_",
            "_a",
            "a_b",
            "1_",
            "_1",
            "1_2",
            ".",
            "a.",
            ".a",
            "a..b",
            "1.",
            ".1",
            "1..2",
            " ",
            "a ",
            " a",
            "a b",
            "1 ",
            " 1",
            "1 2",
            "A.a",
            "aB.a",
            "ab.A",
            "A1.a",
            "a1.A",
            "A.1",
            "aB.1",
            "A1.1",
            "1A.1",
            "0.A",
            "01.A",
            "012.A",
            "1A.a",
            "1a.A",
            "A.B.C.D.E",
            "AA.BB.CC.DD.EE",
            "a.B.c.d.e",
            "aa.bB.cc.dd.ee",
            "a@b",
            "a,b",
            "a_b",
            "a;b",
            "a:b",
            "a%b",
            "a?b",
            "a$b",
            "../../x",
            "/",
            "a/b",
            "web-1\u{0}",
            "ünïcode",
            &"a".repeat(254),
        ] {
            assert!(!is_dns1123_subdomain(bad), "{bad:?} is not a subdomain");
        }
    }

    #[test]
    fn path_segments_and_rules_by_kind() {
        assert!(is_path_segment_name("system:node"));
        for bad in [".", "..", "a/b", "a%2F"] {
            assert!(!is_path_segment_name(bad), "{bad:?}");
        }
        assert_eq!(NameRule::for_resource("namespaces"), NameRule::Label);
        assert_eq!(NameRule::for_resource("pods"), NameRule::Subdomain);
        assert!(NameRule::for_resource("clusterroles").accepts("system:node"));
        assert!(!NameRule::for_resource("clusterroles").accepts(""));
        assert!(!NameRule::for_resource("namespaces").accepts("a.b"));
        assert!(NameRule::for_resource("events").accepts("web-1.17f3a9c0d2e4b5a6"));
    }
}
