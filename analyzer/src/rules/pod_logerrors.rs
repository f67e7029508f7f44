//! `pod-log-errors`: a container that runs, often Ready, but whose log keeps
//! repeating the same error up to the collection: up, and failing at its
//! job (`FATAL: password authentication failed for user 'app'` every ten
//! seconds for hours).
//!
//! Only the current log's last [`SEARCH_LINES`] lines are read. Error lines
//! are those [`pod_deathcause::score`] ranks as an error or worse; they are
//! compared without their timestamp prefix and with digits masked, so one
//! message repeated at different times counts as one. The rule runs only on
//! pods no other pod rule explains.

use std::collections::HashMap;

use kpm_model::{Evidence, Finding, LogLine};

use super::pod::PodFacts;
use super::pod_death::{clip, is_running};
use super::pod_deathcause::{score, strip_prefix_noise};
use crate::context::NamespaceCtx;
use crate::rules::registry::Rule;

/// Lines of the current log read.
pub const SEARCH_LINES: usize = 200;
/// Repeats of one error line that make a finding.
pub const MIN_REPEATS: usize = 5;
/// The last repeat must be among this many last non-blank lines: the error
/// still happens at collection.
pub const STILL_WITHIN: usize = 10;
/// [`score`] from which a line is an error.
const ERROR_SCORE: u8 = 3;

/// One error line repeated in a log tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated {
    /// How often it occurs in the tail.
    pub count: usize,
    /// Its first occurrence in the tail.
    pub first: LogLine,
    /// Its last occurrence.
    pub last: LogLine,
}

/// The line as compared: timestamp prefix removed, digits masked.
fn key(text: &str) -> String {
    strip_prefix_noise(text)
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// The error line repeated most often in `lines` (file order), when it
/// repeats at least [`MIN_REPEATS`] times and its last repeat is among the
/// last [`STILL_WITHIN`] non-blank lines.
pub fn repeated_error(lines: &[LogLine]) -> Option<Repeated> {
    let mut groups: HashMap<String, Repeated> = HashMap::new();
    let diagnosed_elsewhere = |t: &str| {
        crate::rules::checklist::patterns::parse_dns_failure(t).is_some()
            || crate::rules::checklist::patterns::parse_forbidden(t).is_some()
    };
    for l in lines
        .iter()
        .filter(|l| score(&l.text) >= ERROR_SCORE && !diagnosed_elsewhere(&l.text))
    {
        groups
            .entry(key(&l.text))
            .and_modify(|r| {
                r.count += 1;
                r.last = l.clone();
            })
            .or_insert_with(|| Repeated {
                count: 1,
                first: l.clone(),
                last: l.clone(),
            });
    }
    let recent_from = lines
        .iter()
        .rev()
        .filter(|l| !l.text.trim().is_empty())
        .nth(STILL_WITHIN - 1)
        .map_or(0, |l| l.number);
    groups
        .into_values()
        .filter(|r| r.count >= MIN_REPEATS && r.last.number >= recent_from)
        .max_by_key(|r| (r.count, r.last.number))
}

/// `pod-log-errors`: the first running container whose current log repeats
/// an error ([`repeated_error`]).
pub fn log_errors(ctx: &NamespaceCtx<'_>, facts: &PodFacts<'_>) -> Option<Finding> {
    for cs in facts
        .container_statuses()
        .iter()
        .filter(|cs| is_running(cs))
    {
        let Some(tail) = ctx.pod_log_tail(facts.name, &cs.name, false, SEARCH_LINES) else {
            continue;
        };
        let Some(r) = repeated_error(&tail.lines) else {
            continue;
        };
        let state = if cs.ready {
            "running and ready"
        } else {
            "running"
        };
        let cause = format!(
            "container {} is {state} but its log repeats the same error {} times in its last {} lines, up to its end: {}",
            cs.name,
            r.count,
            tail.lines.len(),
            clip(strip_prefix_noise(&r.last.text))
        );
        let quoted: Vec<LogLine> = {
            let mut v = vec![r.first.clone()];
            let from = tail.lines.len().saturating_sub(3);
            v.extend(tail.lines.get(from..).unwrap_or_default().iter().cloned());
            v.dedup_by_key(|l| l.number);
            v
        };
        return Some(
            facts
                .finding(ctx, Rule::PodLogErrors, cause)
                .evidence(Evidence::Log {
                    file: tail.file.clone(),
                    lines: quoted,
                })
                .note(format!(
                    "first of the {} repeats in the tail at line {}, last at line {}",
                    r.count, r.first.number, r.last.number
                ))
                .next_command(
                    "Read the recent log",
                    facts
                        .logs_cmd(&cs.name, false)
                        .map(|cmd| format!("{cmd} --tail=50")),
                )
                .build(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(text: &str) -> Vec<LogLine> {
        text.lines()
            .enumerate()
            .map(|(i, l)| LogLine {
                number: i + 1,
                text: l.to_string(),
            })
            .collect()
    }

    fn retry_log(rounds: usize, tail: &str) -> String {
        let mut s = String::new();
        for i in 0..rounds {
            let t = format!("[Sun Aug 10 02:0{}:{:02} UTC 2025]", i / 6, (i % 6) * 10);
            s.push_str(&format!("{t} Attempting to connect to database...\n"));
            s.push_str(&format!("{t} ERROR: Connection refused - FATAL: password authentication failed for user 'wronguser'\n"));
            s.push_str(&format!("{t} Retrying in 10 seconds...\n"));
        }
        s.push_str(tail);
        s
    }

    #[test]
    fn repeated_error_up_to_the_end_is_found() {
        let r = repeated_error(&numbered(&retry_log(8, ""))).unwrap();
        assert_eq!(r.count, 8);
        assert_eq!(r.first.number, 2);
        assert_eq!(r.last.number, 23);
        assert!(r.last.text.contains("password authentication failed"));
    }

    #[test]
    fn errors_that_stopped_or_are_too_few_are_not() {
        // Recovered: twenty healthy lines after the last error.
        let healthy: String = (0..20)
            .map(|i| format!("GET /healthz 200 {i}ms\n"))
            .collect();
        assert!(repeated_error(&numbered(&retry_log(8, &healthy))).is_none());
        // Four repeats are not a pattern.
        assert!(repeated_error(&numbered(&retry_log(4, ""))).is_none());
        // Different errors do not add up.
        let varied: String = (0..8)
            .map(|i| {
                format!(
                    "ERROR: job {} failed: {}\n",
                    i,
                    ["timeout", "conflict", "quota", "denied"][i % 4]
                )
            })
            .collect();
        assert!(repeated_error(&numbered(&varied)).is_none());
        // Info lines repeating are not errors.
        let info: String = (0..30)
            .map(|i| format!("I0810 02:08:{i:02}.000000 1 sync.go:10] synced\n"))
            .collect();
        assert!(repeated_error(&numbered(&info)).is_none());
    }
}
