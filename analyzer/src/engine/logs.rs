//! Log files of the bundle as rule evidence: numbered tails and matching
//! lines. A log that cannot be read is recorded as damage and the rule goes
//! on without it.

use std::cell::RefCell;

use kpm_bundle::Bundle;
use kpm_model::{Damage, Evidence, LogLine};

/// A log file of a pod in the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// Container name.
    pub container: String,
    /// Log of the previous instance (`kubectl logs --previous`).
    pub previous: bool,
    /// Path inside the bundle.
    pub path: String,
}

/// The end of a log file, numbered as in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTail {
    /// Path inside the bundle.
    pub file: String,
    /// The last lines (blank trailing lines skipped).
    pub lines: Vec<LogLine>,
    /// Lines in the whole file.
    pub total_lines: usize,
}

impl LogTail {
    /// As report evidence.
    pub fn to_evidence(&self) -> Evidence {
        Evidence::Log {
            file: self.file.clone(),
            lines: self.lines.clone(),
        }
    }
}

fn read_log(bundle: &Bundle, file: &str, damage: &RefCell<Vec<Damage>>) -> Option<String> {
    match bundle.read_string(file) {
        Ok(s) => Some(s),
        Err(e) => {
            damage.borrow_mut().push(Damage {
                file: file.to_string(),
                problem: e.to_string(),
            });
            None
        }
    }
}

/// The last `n` non-empty lines of `file`; a read failure becomes damage.
pub fn read_log_tail(
    bundle: &Bundle,
    file: &str,
    n: usize,
    damage: &RefCell<Vec<Damage>>,
) -> Option<LogTail> {
    let text = read_log(bundle, file, damage)?;
    let all: Vec<&str> = text.lines().collect();
    let mut lines: Vec<LogLine> = all
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, l)| !l.trim().is_empty())
        .take(n)
        .map(|(i, l)| LogLine {
            number: i + 1,
            text: (*l).to_string(),
        })
        .collect();
    lines.reverse();
    Some(LogTail {
        file: file.to_string(),
        lines,
        total_lines: all.len(),
    })
}

/// Up to `max` lines of `file` for which `pred` holds, numbered.
pub fn read_log_grep(
    bundle: &Bundle,
    file: &str,
    max: usize,
    pred: impl Fn(&str) -> bool,
    damage: &RefCell<Vec<Damage>>,
) -> Vec<LogLine> {
    let Some(text) = read_log(bundle, file, damage) else {
        return Vec::new();
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| pred(l))
        .take(max)
        .map(|(i, l)| LogLine {
            number: i + 1,
            text: l.to_string(),
        })
        .collect()
}
