//! Escaping for every output kpm writes: Markdown, HTML, JSON and terminals.
//!
//! Tera's autoescape is a per-instance escape function; the Markdown
//! instance installs [`markdown_inline`] and the HTML instance [`html`], so
//! every `{{ value }}` in a template is neutralised by default and a template
//! author has to opt *out* (with the [`FenceFilter`]) rather than remember to
//! opt in. Cluster data is hostile: a pod annotation or log line can contain
//! table pipes, backticks, HTML and Markdown syntax, terminal escape
//! sequences (clear screen, window title, OSC 52 clipboard writes), bidi
//! overrides that make text read differently from what it is, and
//! `@team` mentions or `#123` references that notify people or link issues
//! once pasted into a ticket.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use tera::{Filter, Value};

/// True for characters a terminal or a text renderer may act on instead of
/// showing: C0 controls, DEL, C1 controls (U+0080–U+009F, `U+009B` is a
/// one-byte CSI to some terminals) and the bidi embedding, override and
/// isolate controls (U+202A–U+202E, U+2066–U+2069), which make text display
/// in an order other than the one it has ("Trojan Source").
pub fn is_hazard(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The visible form of a hazardous character: `\x1b` for ASCII controls,
/// `\u{9b}` for the others, as Rust writes them.
fn push_visible(out: &mut String, c: char) {
    let code = u32::from(c);
    let _ = if code < 0x80 {
        write!(out, "\\x{code:02x}")
    } else {
        write!(out, "\\u{{{code:x}}}")
    };
}

/// Renders every hazardous character (see [`is_hazard`]) visibly, e.g. ESC
/// as `\x1b`. With `keep_lines`, tab and newline stay as they are (log
/// blocks, whose layout matters); otherwise they are made visible too.
/// Borrows when there is nothing to change, which is almost always.
pub fn visible_controls(s: &str, keep_lines: bool) -> Cow<'_, str> {
    let hazard = |c: char| is_hazard(c) && !(keep_lines && (c == '\t' || c == '\n'));
    if !s.chars().any(hazard) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if hazard(c) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a terminal (stderr messages quoting bundle data): every control
/// character, newline included, is shown visibly, so a message is one line
/// and cannot move the cursor, clear the screen, set the window title or
/// write the clipboard.
pub fn terminal(s: &str) -> Cow<'_, str> {
    visible_controls(s, false)
}

/// The HTML escape function: tera's HTML escaping after [`visible_controls`]
/// (tab and newline kept: they are whitespace in HTML, and lay out `<pre>`
/// blocks).
pub fn html(s: &str) -> String {
    tera::escape_html(&visible_controls(s, true))
}

/// Makes serialized JSON safe to print on a terminal without changing its
/// meaning: serde_json already escapes C0 controls, this writes DEL, C1
/// controls and bidi controls as `\uXXXX` escapes too. Those characters can
/// only occur inside JSON strings, where the escape denotes the same string.
pub fn json(text: String) -> String {
    // C0 characters in serde_json output are its own layout whitespace.
    let hazard = |c: char| is_hazard(c) && u32::from(c) >= 0x7f;
    if !text.chars().any(hazard) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 64);
    for c in text.chars() {
        if hazard(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Length of a GitHub/Jira reference starting at `i`, if one does: an
/// `@user` or `@org/team` mention, an issue reference `#123`, or a key
/// `GH-123` / `PROJ-123`. Wrapped in a code span these are shown but never
/// notify anyone nor link an issue (GitHub does not autolink inside code).
fn reference_len(chars: &[char], i: usize) -> Option<usize> {
    let at = |j: usize| chars.get(j).copied();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let after_word = i
        .checked_sub(1)
        .and_then(at)
        .is_some_and(|p| p.is_alphanumeric());
    let run = |from: usize, ok: &dyn Fn(char) -> bool| {
        chars.iter().skip(from).take_while(|c| ok(**c)).count()
    };
    match at(i)? {
        '@' if !after_word && at(i + 1).is_some_and(|c| c.is_ascii_alphanumeric()) => {
            let mut len = 1 + run(i + 1, &|c| word(c) || c == '-');
            if at(i + len) == Some('/')
                && at(i + len + 1).is_some_and(|c| c.is_ascii_alphanumeric())
            {
                len += 1 + run(i + len + 1, &|c| word(c) || c == '-' || c == '.');
            }
            Some(len)
        }
        '#' if at(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
            Some(1 + run(i + 1, &|c| c.is_ascii_digit()))
        }
        c if c.is_ascii_alphabetic() && !after_word => {
            let upper = run(i, &|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            let gh = matches!((at(i + 1), at(i + 2)), (Some('h' | 'H'), Some('-')))
                && matches!(c, 'g' | 'G');
            let key = if c.is_ascii_uppercase() && upper >= 2 {
                upper
            } else if gh {
                2
            } else {
                return None;
            };
            if at(i + key) != Some('-') {
                return None;
            }
            let digits = run(i + key + 1, &|c| c.is_ascii_digit());
            let end = i + key + 1 + digits;
            (digits > 0 && !at(end).is_some_and(word)).then_some(end - i)
        }
        _ => None,
    }
}

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
/// - Other control characters (tab included) and bidi controls are shown
///   visibly (`\\x1b`), see [`visible_controls`].
/// - `@user`, `@org/team`, `#123`, `GH-123` and `PROJ-123` are wrapped in a
///   code span: shown as they are, but a ticket pasted with them neither
///   notifies anyone nor links an issue (GitHub does not autolink code).
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
    let mut skip_to = 0usize;
    for (i, &c) in chars.iter().enumerate() {
        if i < skip_to {
            continue;
        }
        if let Some(len) = reference_len(&chars, i) {
            // The token holds only ASCII word characters, `-`, `/`, `.`,
            // `@` and `#`: nothing that could end the code span.
            out.push('`');
            out.extend(chars.iter().skip(i).take(len));
            out.push('`');
            skip_to = i + len;
            continue;
        }
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
            '`' | '*' | '~' | '|' => {
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
            '\\' => out.push_str("\\\\"),
            _ if is_hazard(c) => {
                // The visible form starts with a backslash, escaped so the
                // Markdown shows it.
                out.push('\\');
                push_visible(&mut out, c);
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
/// Content of a fenced block is literal in Markdown (no mention or issue
/// link either), so nothing else needs escaping but control characters:
/// carriage returns are dropped so Windows log lines do not render as stray
/// characters, and every other control except tab and newline is shown
/// visibly ([`visible_controls`]), since a code block is still printed raw
/// by `cat` and by terminals previewing Markdown.
pub fn fenced(content: &str, lang: &str) -> String {
    let content = visible_controls(&content.replace('\r', ""), true).into_owned();
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
    fn controls_are_visible_everywhere() {
        let evil = "a\x1b]52;c;ZWNobyBwd25lZA==\x07b\x1b[2J\u{9b}31m\u{7f}\u{202e}gpj.exe";
        let shown = "a\\x1b]52;c;ZWNobyBwd25lZA==\\x07b\\x1b[2J\\u{9b}31m\\x7f\\u{202e}gpj.exe";
        assert_eq!(terminal(evil), shown);
        assert_eq!(terminal("line\nnext\ttab"), "line\\x0anext\\x09tab");
        assert_eq!(visible_controls("line\nnext\ttab", true), "line\nnext\ttab");
        assert!(matches!(visible_controls("plain", false), Cow::Borrowed(_)));
        // Markdown escapes the backslash of the visible form, so it shows.
        assert_eq!(markdown_inline("x\x1b[2Jy"), "x\\\\x1b[2Jy");
        assert_eq!(markdown_inline("a\tb"), "a\\\\x09b");
        assert_eq!(markdown_inline("\u{2066}x"), "\\\\u{2066}x");
        // Log blocks keep their layout but not the escapes.
        let f = fenced("a\tb\n\x1b[31mred\u{85}", "text");
        assert_eq!(f, "```text\na\tb\n\\x1b[31mred\\u{85}\n```");
        assert_eq!(
            html("<b>\x1b[2J</b>\n"),
            "&lt;b&gt;\\x1b[2J&lt;&#x2F;b&gt;\n"
        );
        for out in [
            terminal(evil).into_owned(),
            markdown_inline(evil),
            html(evil),
        ] {
            assert!(!out.chars().any(is_hazard), "{out:?}");
        }
    }

    #[test]
    fn json_keeps_meaning_and_drops_raw_controls() {
        let value = serde_json::json!({"m": "\x1b[2J\u{9b}\u{7f}\u{202e}ok"});
        let text = json(serde_json::to_string_pretty(&value).unwrap());
        assert!(!text.chars().any(|c| is_hazard(c) && c != '\n'), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn mentions_and_references_cannot_notify() {
        assert_eq!(
            markdown_inline("ping @org/team and @alice-1 about #123"),
            "ping `@org/team` and `@alice-1` about `#123`"
        );
        assert_eq!(markdown_inline("#42 first"), "`#42` first");
        assert_eq!(
            markdown_inline("see GH-7, gh-8 and OPS-1234."),
            "see `GH-7`, `gh-8` and `OPS-1234`."
        );
        // Not references: e-mail addresses and contexts, CPU names, labels.
        assert_eq!(markdown_inline("admin@prod-eu1"), "admin@prod-eu1");
        assert_eq!(markdown_inline("sha256:ab#cd"), "sha256:ab#cd");
        assert_eq!(
            markdown_inline("web-7c9d8f6b5-x2x7q"),
            "web-7c9d8f6b5-x2x7q"
        );
        assert_eq!(markdown_inline("Ready-1x"), "Ready-1x");
        assert_eq!(markdown_inline("ABC-12x"), "ABC-12x");
        // A heading marker is still defused when no reference follows.
        assert_eq!(markdown_inline("# x"), "\\# x");
    }

    #[test]
    fn fence_language_is_sanitised() {
        assert!(fenced("x", "s`h <b>").starts_with("```shb\n"));
    }
}
