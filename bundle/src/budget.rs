//! Budgets for everything read from a bundle.
//!
//! A bundle comes from whoever attached it to a ticket: its sizes, entry
//! count and compression ratio are the sender's choice, and a zip's
//! declared sizes are never trusted. Every read counts the bytes as they
//! are inflated and stops at the first budget it passes; what is over
//! budget becomes a [`crate::BundleError::OverBudget`] naming the file, the
//! budget and the flag that raises it, so the analyzer lists it as damage.
//! The defaults keep any bundle within about 2 GiB of memory and time
//! proportional to [`Budgets::max_total_bytes`] (docs/security.md).

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

const MIB: u64 = 1 << 20;

/// Below this many inflated bytes an entry is never judged by its ratio:
/// small, very repetitive files (a crash-looping log tail) compress far
/// better than any bomb needs, and cost nothing.
pub const RATIO_FLOOR: u64 = MIB;

/// Limits on what is read from one bundle. [`Budgets::default`] is the
/// documented default; `kpm-analyze` flags raise each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Bytes one entry may inflate to (`--max-entry-bytes`).
    pub max_entry_bytes: u64,
    /// Bytes all reads together may inflate to, re-reads included
    /// (`--max-total-bytes`).
    pub max_total_bytes: u64,
    /// Inflated bytes per compressed byte of one zip entry, judged past
    /// [`RATIO_FLOOR`] (`--max-ratio`).
    pub max_ratio: u64,
    /// Entries (files) in the bundle (`--max-entries`).
    pub max_entries: u64,
    /// Bytes of `manifest.json` (`--max-manifest-bytes`).
    pub max_manifest_bytes: u64,
    /// Bytes of one container log streamed for its tail or a search
    /// (`--max-log-bytes`).
    pub max_log_bytes: u64,
}

impl Default for Budgets {
    fn default() -> Budgets {
        Budgets {
            max_entry_bytes: 256 * MIB,
            max_total_bytes: 8 * 1024 * MIB,
            max_ratio: 200,
            max_entries: 500_000,
            max_manifest_bytes: 128 * MIB,
            max_log_bytes: 32 * MIB,
        }
    }
}

/// One of the budgets of [`Budgets`], for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// [`Budgets::max_entry_bytes`].
    EntryBytes,
    /// [`Budgets::max_total_bytes`].
    TotalBytes,
    /// [`Budgets::max_ratio`].
    Ratio,
    /// [`Budgets::max_entries`].
    Entries,
    /// [`Budgets::max_manifest_bytes`].
    ManifestBytes,
    /// [`Budgets::max_log_bytes`].
    LogBytes,
}

impl Budget {
    /// The `kpm-analyze` flag that raises it.
    pub fn flag(self) -> &'static str {
        match self {
            Budget::EntryBytes => "--max-entry-bytes",
            Budget::TotalBytes => "--max-total-bytes",
            Budget::Ratio => "--max-ratio",
            Budget::Entries => "--max-entries",
            Budget::ManifestBytes => "--max-manifest-bytes",
            Budget::LogBytes => "--max-log-bytes",
        }
    }

    /// What was measured against it, for messages.
    pub fn measure(self) -> &'static str {
        match self {
            Budget::EntryBytes => "inflated size of one file",
            Budget::TotalBytes => "bytes inflated from the whole bundle",
            Budget::Ratio => "compression ratio",
            Budget::Entries => "number of entries",
            Budget::ManifestBytes => "size of manifest.json",
            Budget::LogBytes => "size of one log",
        }
    }

    /// `limit` as a message shows it: `200:1` for a ratio, bytes otherwise.
    pub fn show(self, limit: u64) -> String {
        match self {
            Budget::Ratio => format!("{limit}:1"),
            Budget::Entries => limit.to_string(),
            _ => format!("{limit} bytes"),
        }
    }
}

/// The error a [`Metered`] read returns when it passes a budget; the
/// reader turns it into [`crate::BundleError::OverBudget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    /// Which budget.
    pub budget: Budget,
    /// Its value.
    pub limit: u64,
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "over budget: {} passed {} ({} raises it)",
            self.budget.measure(),
            self.budget.show(self.limit),
            self.budget.flag()
        )
    }
}

impl std::error::Error for Exceeded {}

/// The `Exceeded` inside an I/O error, if that is what it is.
pub(crate) fn exceeded_in(e: &io::Error) -> Option<Exceeded> {
    e.get_ref()?.downcast_ref::<Exceeded>().copied()
}

/// Counts the bytes an entry inflates to as they come and fails the read
/// that passes a budget: the entry's own limit, its compression ratio and
/// the bundle-wide total (shared by every read of one open bundle).
pub(crate) struct Metered<'a, R> {
    inner: R,
    read: u64,
    limit: u64,
    limit_budget: Budget,
    /// Bytes allowed by the ratio, when the entry is compressed.
    ratio_allowance: Option<(u64, u64)>,
    total: &'a AtomicU64,
    max_total: u64,
}

impl<'a, R: Read> Metered<'a, R> {
    /// `inner` may yield at most `limit` bytes (reported as `limit_budget`),
    /// `max_ratio` times `compressed` (when known) and what is left of the
    /// shared `total`.
    pub(crate) fn new(
        inner: R,
        (limit, limit_budget): (u64, Budget),
        compressed: Option<u64>,
        budgets: &Budgets,
        total: &'a AtomicU64,
    ) -> Self {
        let ratio_allowance = compressed.map(|c| {
            (
                c.saturating_mul(budgets.max_ratio).max(RATIO_FLOOR),
                budgets.max_ratio,
            )
        });
        Metered {
            inner,
            read: 0,
            limit,
            limit_budget,
            ratio_allowance,
            total,
            max_total: budgets.max_total_bytes,
        }
    }

    fn check(&self, n: u64) -> Result<(), Exceeded> {
        if self.read > self.limit {
            return Err(Exceeded {
                budget: self.limit_budget,
                limit: self.limit,
            });
        }
        if let Some((allowed, ratio)) = self.ratio_allowance {
            if self.read > allowed {
                return Err(Exceeded {
                    budget: Budget::Ratio,
                    limit: ratio,
                });
            }
        }
        let total = self.total.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if total > self.max_total {
            return Err(Exceeded {
                budget: Budget::TotalBytes,
                limit: self.max_total,
            });
        }
        Ok(())
    }
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        self.check(n as u64).map_err(io::Error::other)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut impl Read) -> io::Result<u64> {
        io::copy(r, &mut io::sink())
    }

    #[test]
    fn entry_limit_stops_the_read_that_passes_it() {
        let total = AtomicU64::new(0);
        let b = Budgets::default();
        let data = vec![7u8; 1000];
        let mut ok = Metered::new(&data[..], (1000, Budget::EntryBytes), None, &b, &total);
        assert_eq!(drain(&mut ok).unwrap(), 1000);
        let mut over = Metered::new(&data[..], (999, Budget::EntryBytes), None, &b, &total);
        let err = drain(&mut over).unwrap_err();
        assert_eq!(
            exceeded_in(&err),
            Some(Exceeded {
                budget: Budget::EntryBytes,
                limit: 999
            })
        );
    }

    #[test]
    fn ratio_applies_past_the_floor_only() {
        let total = AtomicU64::new(0);
        let b = Budgets {
            max_ratio: 10,
            ..Budgets::default()
        };
        // 1 MiB from 1 compressed byte: under the floor, allowed.
        let small = vec![0u8; RATIO_FLOOR as usize];
        let mut r = Metered::new(
            &small[..],
            (u64::MAX, Budget::EntryBytes),
            Some(1),
            &b,
            &total,
        );
        assert_eq!(drain(&mut r).unwrap(), RATIO_FLOOR);
        // 2 MiB from 100 KiB: 20:1, over 10:1.
        let big = vec![0u8; 2 * RATIO_FLOOR as usize];
        let mut r = Metered::new(
            &big[..],
            (u64::MAX, Budget::EntryBytes),
            Some(100 * 1024),
            &b,
            &total,
        );
        let err = drain(&mut r).unwrap_err();
        assert_eq!(exceeded_in(&err).map(|e| e.budget), Some(Budget::Ratio));
        assert!(err.to_string().contains("10:1"), "{err}");
        assert!(err.to_string().contains("--max-ratio"), "{err}");
    }

    #[test]
    fn total_is_shared_between_reads() {
        let total = AtomicU64::new(0);
        let b = Budgets {
            max_total_bytes: 1500,
            ..Budgets::default()
        };
        let data = vec![1u8; 1000];
        let mut first = Metered::new(&data[..], (u64::MAX, Budget::EntryBytes), None, &b, &total);
        assert!(drain(&mut first).is_ok());
        let mut second = Metered::new(&data[..], (u64::MAX, Budget::EntryBytes), None, &b, &total);
        let err = drain(&mut second).unwrap_err();
        assert_eq!(
            exceeded_in(&err).map(|e| e.budget),
            Some(Budget::TotalBytes)
        );
    }
}
