//! Log files of the bundle as rule evidence: numbered tails and matching
//! lines, streamed line by line in bounded memory (a line is kept to
//! [`kpm_bundle::lines::MAX_LINE_BYTES`]). A log that cannot be read, or
//! passes the log budget, is recorded as damage and the rule goes on
//! without it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::ControlFlow;

use kpm_bundle::lines::for_each_line;
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

fn record(file: &str, e: &kpm_bundle::BundleError, damage: &RefCell<Vec<Damage>>) {
    damage.borrow_mut().push(Damage {
        file: file.to_string(),
        problem: e.to_string(),
    });
}

/// The last `n` non-empty lines of `file`, streamed (never held whole)
/// within the bundle's log budget; a read failure becomes damage.
pub fn read_log_tail(
    bundle: &Bundle,
    file: &str,
    n: usize,
    damage: &RefCell<Vec<Damage>>,
) -> Option<LogTail> {
    let mut last: VecDeque<LogLine> = VecDeque::with_capacity(n.min(1024));
    let read = bundle.stream_log(file, |r| {
        for_each_line(r, |line| {
            if n > 0 && !line.text.trim().is_empty() {
                if last.len() == n {
                    last.pop_front();
                }
                last.push_back(LogLine {
                    number: line.number,
                    text: line.to_display(),
                });
            }
            ControlFlow::Continue(())
        })
    });
    match read {
        Ok(total_lines) => Some(LogTail {
            file: file.to_string(),
            lines: last.into(),
            total_lines,
        }),
        Err(e) => {
            // Over the budget the end was never reached: no tail is better
            // than the wrong one.
            record(file, &e, damage);
            None
        }
    }
}

/// Up to `max` lines of `file` for which `pred` holds, numbered, streamed
/// within the log budget. Lines found before a read failure are kept; the
/// failure becomes damage.
pub fn read_log_grep(
    bundle: &Bundle,
    file: &str,
    max: usize,
    pred: impl Fn(&str) -> bool,
    damage: &RefCell<Vec<Damage>>,
) -> Vec<LogLine> {
    let mut found = Vec::new();
    if max == 0 {
        return found;
    }
    let read = bundle.stream_log(file, |r| {
        for_each_line(r, |line| {
            if pred(line.text) {
                found.push(LogLine {
                    number: line.number,
                    text: line.to_display(),
                });
                if found.len() == max {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        })
    });
    if let Err(e) = read {
        record(file, &e, damage);
    }
    found
}
