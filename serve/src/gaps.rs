//! What an all-namespaces read had to leave out, said in a `Warning`.
//!
//! A live API server either answers a list whole or fails it. A snapshot
//! can hold a kind in some namespaces and not others (not collected,
//! forbidden, failed), and one namespace's file can be damaged. Failing the
//! whole `kubectl get pods -A` for that would hide everything that could be
//! read; answering without a word would pretend the missing namespaces are
//! empty. So the list carries what could be read, and a `Warning: 299`
//! header (kubectl prints it on stderr) names what could not.

/// At most this many gaps are named; the rest are counted.
const NAMED: usize = 5;

/// At most this many characters of one gap are kept (a damage message can
/// quote a long parser error).
const GAP_CHARS: usize = 240;

/// The gaps of one answer, in the order they were met.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Gaps {
    notes: Vec<String>,
}

impl Gaps {
    /// Records one namespace (or file) that could not be used, already
    /// worded (`namespaces/shop/pods.json: …`, `pods in namespace shop were
    /// not collected`).
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Adds another answer's gaps (an index's, a page's) after these.
    pub fn extend(&mut self, other: &Gaps) {
        self.notes.extend(other.notes.iter().cloned());
    }

    /// The `Warning` text, or None when nothing was left out. Only visible
    /// ASCII survives (a header value allows no more, and the texts quote
    /// names from the bundle); double quotes and backslashes become single
    /// quotes so the text stays one quoted string.
    pub fn warning(&self) -> Option<String> {
        if self.notes.is_empty() {
            return None;
        }
        let mut named: Vec<String> = self
            .notes
            .iter()
            .take(NAMED)
            .map(|n| n.chars().take(GAP_CHARS).collect())
            .collect();
        if self.notes.len() > NAMED {
            named.push(format!("and {} more", self.notes.len() - NAMED));
        }
        let text = format!(
            "kpm: this list leaves out what the snapshot cannot answer: {}",
            named.join("; ")
        );
        Some(header_safe(&text))
    }
}

/// `text` with every character a header value cannot carry inside a quoted
/// string replaced.
pub fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// Two optional warnings as one header text.
pub fn join(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_left_out_is_no_warning() {
        assert_eq!(Gaps::default().warning(), None);
    }

    #[test]
    fn names_the_first_gaps_and_counts_the_rest() {
        let mut g = Gaps::default();
        for i in 0..7 {
            g.note(format!("namespaces/ns{i}/pods.json: damaged"));
        }
        let w = g.warning().unwrap();
        assert!(w.contains("namespaces/ns0/pods.json: damaged"), "{w}");
        assert!(w.contains("namespaces/ns4/pods.json"), "{w}");
        assert!(!w.contains("ns5/"), "{w}");
        assert!(w.ends_with("and 2 more"), "{w}");
    }

    #[test]
    fn hostile_text_cannot_break_the_header() {
        let mut g = Gaps::default();
        g.note("namespaces/x/pods.json: \"quoted\\\"\r\nInjected: yes é");
        let w = g.warning().unwrap();
        assert!(w
            .chars()
            .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\'));
        assert!(hyper::header::HeaderValue::from_str(&format!("299 - \"{w}\"")).is_ok());
        assert!(w.contains("'quoted''??Injected: yes ?"), "{w}");
    }

    #[test]
    fn joins_two_warnings() {
        assert_eq!(join(None, None), None);
        assert_eq!(join(Some("a".into()), None).as_deref(), Some("a"));
        assert_eq!(
            join(Some("a".into()), Some("b".into())).as_deref(),
            Some("a; b")
        );
    }
}
