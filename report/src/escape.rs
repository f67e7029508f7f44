//! Escaping for Markdown output.
//!
//! Tera's autoescape is a per-instance escape function; the Markdown
//! instance installs [`markdown_inline`] so every `{{ value }}` in a
//! `.md.tera` template is neutralised by default and a template author has to
//! opt *out* (with the [`FenceFilter`]) rather than remember to opt in.
//! Cluster data is hostile: a pod annotation or log line can contain table
//! pipes, backticks, HTML and Markdown syntax.

use std::collections::HashMap;

use tera::{Filter, Value};

/// Escapes text for inline Markdown (a table cell, a list item, a heading).
///
/// - `&`, `<`, `>` become HTML entities, so data can never open a tag (GitHub
///   renders a subset of HTML inside Markdown, `<details>` included).
/// - Punctuation that opens a construct anywhere inline gets a backslash:
///   backslash, backtick (code spans), `*` (emphasis), `~` (strikethrough),
///   `|` (table cells).
/// - `]` gets one only before `(` or `[`: only there can it close a link or
///   image; bare brackets (`containerStatuses[web]`) stay readable.
/// - `_` is escaped only where it could delimit emphasis; an intraword `_`
///   (`max_connections`) can neither open nor close emphasis in CommonMark.
/// - A leading `#`, `-`, `+`, `=` or `1.` is escaped: a value printed at the
///   start of a line must not become a heading, list or setext underline.
/// - Line breaks become spaces: one value stays inside its table row or list
///   item and cannot start a new block (`# heading`, `---`, a fence).
pub fn markdown_inline(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    // Position of the character to escape so that the value cannot open a
    // block when printed at the start of a line, if any.
    let ends_marker = |i: usize| chars.get(i).is_none_or(|c| c.is_whitespace());
    let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    let marker_at: Option<usize> = match chars.first() {
        Some('#' | '=') => Some(0),
        Some('-') if ends_marker(1) || chars.get(1) == Some(&'-') => Some(0),
        Some('+') if ends_marker(1) => Some(0),
        Some(_)
            if (1..=9).contains(&digits)
                && matches!(chars.get(digits), Some('.' | ')'))
                && ends_marker(digits + 1) =>
        {
            Some(digits)
        }
        _ => None,
    };
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1);
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' | '\n' => {
                // Collapse CRLF into one space.
                if !(c == '\n' && i > 0 && chars.get(i - 1) == Some(&'\r')) {
                    out.push(' ');
                }
            }
            '\\' | '`' | '*' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            ']' if matches!(next, Some('(' | '[')) => out.push_str("\\]"),
            '_' => {
                let before = i.checked_sub(1).and_then(|j| chars.get(j));
                let intraword = before.is_some_and(|b| b.is_alphanumeric())
                    && next.is_some_and(|a| a.is_alphanumeric());
                if !intraword {
                    out.push('\\');
                }
                out.push('_');
            }
            _ if marker_at == Some(i) => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Wraps text in a fenced code block whose fence is longer than any run of
/// backticks inside it, so no line of the data can close the block early.
///
/// Content of a fenced block is literal in Markdown, so nothing else needs
/// escaping; carriage returns are dropped so Windows log lines do not render
/// as stray characters.
pub fn fenced(content: &str, lang: &str) -> String {
    let content = content.replace('\r', "");
    let mut longest = 0usize;
    let mut run = 0usize;
    for c in content.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest.max(2) + 1);
    // The info string must not contain a backtick, or GitHub treats the
    // opening line as inline code.
    let lang: String = lang
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!("{fence}{lang}\n{content}\n{fence}")
}

/// The `md_fence` filter: `{{ step.command | md_fence(lang="sh") }}`.
///
/// It declares itself safe: its output is a code block that must reach the
/// Markdown verbatim, and [`fenced`] already made the content inert.
pub struct FenceFilter;

impl Filter for FenceFilter {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let lang = args.get("lang").and_then(Value::as_str).unwrap_or("");
        Ok(Value::String(fenced(&text, lang)))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_neutralises_html_and_table_syntax() {
        assert_eq!(
            markdown_inline("</td><script>alert(1)</script> | a"),
            "&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt; \\| a"
        );
        assert_eq!(
            markdown_inline("`kubectl` *x* [l](u) ![i][r]"),
            "\\`kubectl\\` \\*x\\* [l\\](u) ![i\\][r]"
        );
        assert_eq!(markdown_inline("~~gone~~"), "\\~\\~gone\\~\\~");
    }

    #[test]
    fn inline_keeps_identifiers_readable() {
        // Intraword underscores cannot delimit emphasis; flanking ones can.
        assert_eq!(markdown_inline("max_connections"), "max_connections");
        assert_eq!(markdown_inline("_private_"), "\\_private\\_");
    }

    #[test]
    fn inline_flattens_lines() {
        assert_eq!(markdown_inline("a\r\n# b\n---"), "a # b ---");
    }

    #[test]
    fn inline_defuses_block_markers_at_line_start() {
        assert_eq!(markdown_inline("# not a heading"), "\\# not a heading");
        assert_eq!(markdown_inline("- not a list"), "\\- not a list");
        assert_eq!(markdown_inline("1. not a list"), "1\\. not a list");
        assert_eq!(markdown_inline("10.244.1.5 is fine"), "10.244.1.5 is fine");
        assert_eq!(markdown_inline("0.1.0"), "0.1.0");
        assert_eq!(markdown_inline("-5 degrees"), "-5 degrees");
        assert_eq!(markdown_inline("---"), "\\---");
        assert_eq!(markdown_inline("+ x"), "\\+ x");
        assert_eq!(
            markdown_inline("containerStatuses[web].ready"),
            "containerStatuses[web].ready"
        );
    }

    #[test]
    fn fence_outgrows_backtick_runs() {
        let f = fenced("echo ````\nx", "sh");
        assert!(f.starts_with("`````sh\n"));
        assert!(f.ends_with("\n`````"));
        let plain = fenced("kubectl get pods", "");
        assert_eq!(plain, "```\nkubectl get pods\n```");
    }

    #[test]
    fn fence_language_is_sanitised() {
        assert!(fenced("x", "s`h <b>").starts_with("```shb\n"));
    }
}
