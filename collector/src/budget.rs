//! `--max-bundle-size`: object lists are always written; container logs are
//! held back (spooled, in memory then a temporary file) until everything
//! else is written, then cut to fit what is left of the bound, the largest
//! first: every log keeps at most the same number of its newest bytes, the
//! largest number with which they all fit ("water filling"), so small logs
//! stay whole and one huge log cannot crowd the others out.
//!
//! The manifest records it: each cut log's step message says from what size
//! to what, a log left with no room is a failed step saying why, and a
//! `max-bundle-size` step sums it up.

use kpm_bundle::{Outcome, Step};

use crate::redact::Counts;
use crate::spool::Items;
use crate::summary::human_bytes;

/// One held-back log.
struct Held {
    path: String,
    len: u64,
    step: Step,
    redaction: Counts,
}

/// The logs held back until the end of the run.
pub struct Deferred {
    /// The `--max-bundle-size` bound.
    limit: u64,
    spool: Items,
    held: Vec<Held>,
    /// A log the spool could not take (temporary file unusable).
    lost: Vec<Step>,
}

/// A log as it is finally written (or not).
pub struct Release {
    /// Bundle path.
    pub path: String,
    /// What to write; `None` when no room was left.
    pub bytes: Option<Vec<u8>>,
    /// Its step, with the cut recorded.
    pub step: Step,
    /// What redaction replaced in it.
    pub redaction: Counts,
}

impl Deferred {
    /// Holds logs for a bundle bounded to `limit` bytes.
    pub fn new(limit: u64) -> Deferred {
        Deferred {
            limit,
            spool: Items::new(),
            held: Vec::new(),
            lost: Vec::new(),
        }
    }

    /// Holds one log.
    pub fn hold(&mut self, path: String, bytes: &[u8], mut step: Step, redaction: Counts) {
        match self.spool.push(bytes) {
            Ok(()) => self.held.push(Held {
                path,
                len: bytes.len() as u64,
                step,
                redaction,
            }),
            Err(e) => {
                step.outcome = Outcome::Error;
                step.message = Some(format!(
                    "not written: cannot hold the log for --max-bundle-size: {e}"
                ));
                self.lost.push(step);
            }
        }
    }

    /// Releases every held log, cut to fit `limit - used` (`used`: bytes
    /// already written), in the order they arrived; `each` writes one.
    /// Returns the `max-bundle-size` step.
    pub fn release(self, used: u64, mut each: impl FnMut(Release)) -> Step {
        let room = self.limit.saturating_sub(used);
        let sizes: Vec<u64> = self.held.iter().map(|h| h.len).collect();
        let total: u64 = sizes.iter().sum();
        let cap = cap_for(&sizes, room);
        let mut cut = 0u64;
        let mut dropped = 0u64;
        let mut kept = 0u64;
        let mut reader = self.spool.into_reader();
        for mut h in self.held {
            let raw = match reader.as_mut().map(|r| r.next_item()) {
                Ok(Ok(Some(raw))) => Some(raw.to_vec()),
                _ => None,
            };
            let Some(raw) = raw else {
                h.step.outcome = Outcome::Error;
                h.step.message = Some("not written: the held log could not be read back".into());
                each(Release {
                    path: h.path,
                    bytes: None,
                    step: h.step,
                    redaction: h.redaction,
                });
                continue;
            };
            let bytes = match cap {
                Some(c) if h.len > c => {
                    let text = crate::logs::bound(&raw, u64::MAX, c.max(1));
                    if c == 0 || text.is_empty() {
                        dropped += 1;
                        h.step.outcome = Outcome::Error;
                        h.step.message = Some(format!(
                            "not written: --max-bundle-size {} reached ({} B of log, no room left)",
                            human_bytes(self.limit),
                            h.len
                        ));
                        None
                    } else {
                        cut += 1;
                        let note = format!(
                            "cut from {} B to its last {} B by --max-bundle-size {} (largest logs first)",
                            h.len,
                            text.len(),
                            human_bytes(self.limit)
                        );
                        h.step.message = Some(match h.step.message.take() {
                            Some(m) => format!("{m}; {note}"),
                            None => note,
                        });
                        h.step.items = text.lines().count() as u64;
                        Some(text.into_bytes())
                    }
                }
                _ => Some(raw),
            };
            kept += bytes.as_ref().map_or(0, |b| b.len() as u64);
            each(Release {
                path: h.path,
                bytes,
                step: h.step,
                redaction: h.redaction,
            });
        }
        for step in self.lost {
            each(Release {
                path: String::new(),
                bytes: None,
                step,
                redaction: Counts::new(),
            });
        }
        summary_step(self.limit, used, total, kept, cut, dropped)
    }
}

/// The largest per-log byte cap with which logs of `sizes` fit in `room`;
/// `None` when they all fit whole.
pub fn cap_for(sizes: &[u64], room: u64) -> Option<u64> {
    if sizes.iter().sum::<u64>() <= room {
        return None;
    }
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    let mut left = room;
    let n = sorted.len() as u64;
    for (i, size) in sorted.iter().enumerate() {
        let rest = n - i as u64;
        if size.saturating_mul(rest) > left {
            return Some(left / rest);
        }
        left -= size;
    }
    None
}

fn summary_step(limit: u64, used: u64, total: u64, kept: u64, cut: u64, dropped: u64) -> Step {
    let mut s = Step::new("max-bundle-size", Outcome::Ok);
    s.items = cut + dropped;
    s.message = Some(if cut + dropped == 0 {
        format!(
            "within --max-bundle-size {}: {} of lists and {} of logs, nothing cut",
            human_bytes(limit),
            human_bytes(used),
            human_bytes(total)
        )
    } else {
        format!(
            "truncated to fit --max-bundle-size {}: lists {} (never cut), logs {} cut to {}; {cut} logs cut to their newest lines, {dropped} left out (largest logs first)",
            human_bytes(limit),
            human_bytes(used),
            human_bytes(total),
            human_bytes(kept)
        )
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_filling_cuts_the_largest_first() {
        assert_eq!(cap_for(&[10, 20, 30], 60), None);
        // 10 stays whole; 20 and 30 share the 40 left: 20 each.
        assert_eq!(cap_for(&[30, 10, 20], 50), Some(20));
        // 10 and 20 whole, 30 gets what is left.
        assert_eq!(cap_for(&[30, 10, 20], 55), Some(25));
        assert_eq!(cap_for(&[5, 5], 0), Some(0));
    }

    fn log(n: usize, line: &str) -> Vec<u8> {
        (0..n)
            .map(|i| format!("{line} {i}\n"))
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn release_cuts_and_records() {
        let mut d = Deferred::new(1000);
        let small = log(3, "ok");
        let big = log(200, "a long line of a chatty container");
        d.hold(
            "logs/a.log".into(),
            &small,
            Step::new("logs", Outcome::Ok),
            Counts::new(),
        );
        d.hold(
            "logs/b.log".into(),
            &big,
            Step::new("logs", Outcome::Ok),
            Counts::new(),
        );
        let mut out = Vec::new();
        let summary = d.release(400, |r| out.push(r));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].bytes.as_deref(), Some(&small[..]));
        let b = out[1].bytes.as_deref().unwrap();
        assert!(b.len() as u64 <= 600 - small.len() as u64 && !b.is_empty());
        assert!(
            String::from_utf8_lossy(b).ends_with("container 199\n"),
            "newest lines kept"
        );
        assert!(out[1]
            .step
            .message
            .as_deref()
            .unwrap()
            .contains("by --max-bundle-size"));
        assert_eq!(summary.items, 1);
        assert!(summary.message.unwrap().starts_with("truncated to fit"));
    }

    #[test]
    fn no_room_leaves_logs_out_as_failed_steps() {
        let mut d = Deferred::new(100);
        d.hold(
            "logs/a.log".into(),
            &log(5, "x"),
            Step::new("logs", Outcome::Ok),
            Counts::new(),
        );
        let mut out = Vec::new();
        let summary = d.release(500, |r| out.push(r));
        assert!(out[0].bytes.is_none());
        assert_eq!(out[0].step.outcome, Outcome::Error);
        assert!(summary.message.unwrap().contains("1 left out"));
    }
}
