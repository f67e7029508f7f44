//! Text read line by line in bounded memory.
//!
//! Logs are written by workloads, so a "line" may be gigabytes without a
//! newline. Lines are split as [`str::lines`] splits them (`\n`, the `\r` of a
//! `\r\n` dropped) and each is kept to [`MAX_LINE_BYTES`], the rest counted.

use std::io::{self, BufRead};
use std::ops::ControlFlow;

/// Bytes of one line kept; the rest is counted in [`Line::cut`].
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// One line as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number in the file.
    pub number: usize,
    /// The line (invalid UTF-8 replaced), at most [`MAX_LINE_BYTES`].
    pub text: &'a str,
    /// Bytes of the line left out of `text`.
    pub cut: usize,
}

impl Line<'_> {
    /// The text with a `… N more bytes` marker when it was cut.
    pub fn to_display(&self) -> String {
        if self.cut == 0 {
            self.text.to_string()
        } else {
            format!("{}… {} more bytes", self.text, self.cut)
        }
    }
}

/// Calls `f` on every line of `r` until it breaks; returns the number of
/// lines read (all of them unless `f` broke).
pub fn for_each_line(
    r: &mut dyn BufRead,
    mut f: impl FnMut(Line<'_>) -> ControlFlow<()>,
) -> io::Result<usize> {
    let mut buf: Vec<u8> = Vec::new();
    let mut cut = 0usize;
    let mut open = false;
    let mut number = 0usize;
    let mut emit = |buf: &mut Vec<u8>, cut: &mut usize, number: &mut usize, ended: bool| {
        *number += 1;
        if ended && *cut == 0 && buf.last() == Some(&b'\r') {
            buf.pop();
        }
        let text = String::from_utf8_lossy(buf);
        let flow = f(Line {
            number: *number,
            text: &text,
            cut: *cut,
        });
        buf.clear();
        *cut = 0;
        flow
    };
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let (part, consumed, ends) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(buf.len()).min(part.len());
        buf.extend_from_slice(&part[..room]);
        cut += part.len() - room;
        r.consume(consumed);
        if ends {
            open = false;
            if emit(&mut buf, &mut cut, &mut number, true).is_break() {
                return Ok(number);
            }
        } else {
            open = true;
        }
    }
    if open {
        // Breaking or not, this was the last line.
        let _ = emit(&mut buf, &mut cut, &mut number, false);
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(text: &[u8]) -> Vec<(usize, String, usize)> {
        let mut out = Vec::new();
        // A small buffer so lines cross buffer boundaries.
        let mut r = io::BufReader::with_capacity(7, text);
        let n = for_each_line(&mut r, |l| {
            out.push((l.number, l.text.to_string(), l.cut));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn splits_as_str_lines_does() {
        for text in ["a\nbb\r\n\nccc", "a\n", "", "\n\n", "x\r\ny\r", "one line"] {
            let got: Vec<String> = lines_of(text.as_bytes())
                .into_iter()
                .map(|(_, t, _)| t)
                .collect();
            let want: Vec<String> = text.lines().map(str::to_string).collect();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn long_lines_are_cut_and_counted() {
        let mut text = vec![b'x'; MAX_LINE_BYTES + 1000];
        text.extend_from_slice(b"\nnext\n");
        let got = lines_of(&text);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1.len(), MAX_LINE_BYTES);
        assert_eq!(got[0].2, 1000);
        assert_eq!(got[1], (2, "next".to_string(), 0));
        let line = Line {
            number: 1,
            text: "ab",
            cut: 5,
        };
        assert_eq!(line.to_display(), "ab… 5 more bytes");
    }

    #[test]
    fn breaking_stops_reading() {
        let mut seen = 0;
        let n = for_each_line(&mut &b"a\nb\nc\n"[..], |_| {
            seen += 1;
            if seen == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!(n, 2);
    }
}
