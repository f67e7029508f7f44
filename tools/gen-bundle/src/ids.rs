//! Deterministic identities and times.
//!
//! Regenerating a bundle must give byte-identical files, so nothing here reads
//! the clock or the OS random source: uids, name suffixes and resource
//! versions are derived from a hash of a stable key, and every timestamp is an
//! offset from the fixed collection time.

use chrono::{DateTime, Duration, TimeZone, Utc};

/// The instant every scenario's times are written relative to: when
/// collection of a scenario bundle (and of the BEFORE of a pair) started.
pub fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 14, 31, 58)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

thread_local! {
    /// Seconds after [`anchor`] the bundle being built was collected (the
    /// AFTER of a before/after pair); 0 for every single scenario.
    static LATER: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// Builds with collection `secs` after [`anchor`]: times stay relative to
/// the anchor (what happened after it has a negative `ago`), only the
/// collection and the etcd revision move on.
pub fn collected_later<R>(secs: i64, build: impl FnOnce() -> R) -> R {
    let before = LATER.with(|l| l.replace(secs));
    let out = build();
    LATER.with(|l| l.set(before));
    out
}

/// Seconds after [`anchor`] of the collection being built.
pub fn later() -> i64 {
    LATER.with(std::cell::Cell::get)
}

/// When collection of the bundle being built started.
pub fn collection_started() -> DateTime<Utc> {
    anchor() + Duration::seconds(later())
}

/// When collection of the bundle being built finished.
pub fn collection_finished() -> DateTime<Utc> {
    collection_started() + Duration::seconds(12)
}

/// A timestamp `secs` seconds before [`anchor`], formatted the way the API
/// server writes `metav1.Time` (second precision, `Z`).
pub fn ago(secs: i64) -> String {
    rfc3339(anchor() - Duration::seconds(secs))
}

/// Seconds before [`anchor`] of an API timestamp (`None` when absent or
/// unparsable): the inverse of [`ago`].
pub fn ago_of(ts: &serde_json::Value) -> Option<i64> {
    let t = DateTime::parse_from_rfc3339(ts.as_str()?).ok()?;
    Some((anchor() - t.to_utc()).num_seconds())
}

/// `metav1.Time` formatting of an instant.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `metav1.MicroTime` formatting (used by `eventTime` and lease renewals).
pub fn micro(secs_ago: i64, micros: u32) -> String {
    let t = anchor() - Duration::seconds(secs_ago);
    format!(
        "{}.{:06}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        micros % 1_000_000
    )
}

/// FNV-1a of a key; the seed of everything derived from a name.
pub fn hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// SplitMix64: small, fast, seedable, and good enough to spread names and
/// failures; reproducibility matters here, not cryptographic quality.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// A generator seeded from a string key.
    pub fn keyed(key: &str) -> Rng {
        Rng::new(hash(key))
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Picks one element; `None` for an empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let len = items.len() as u64;
        items.get(self.below(len) as usize)
    }
}

/// The alphabet Kubernetes uses for generated name suffixes
/// (`k8s.io/apimachinery/pkg/util/rand`): no vowels, no look-alikes.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `n` characters from the safe alphabet, fixed by `key`.
pub fn suffix(key: &str, n: usize) -> String {
    let mut rng = Rng::keyed(key);
    (0..n)
        .map(|_| {
            let i = rng.below(SAFE_ALPHABET.len() as u64) as usize;
            char::from(SAFE_ALPHABET.get(i).copied().unwrap_or(b'x'))
        })
        .collect()
}

/// A `pod-template-hash` value: 9 or 10 safe characters, as the Deployment
/// controller writes them.
pub fn template_hash(key: &str) -> String {
    let len = 9 + (hash(key) % 2) as usize;
    suffix(&format!("pth/{key}"), len)
}

/// A version-4-shaped UUID fixed by `key` (object `metadata.uid`).
pub fn uid(key: &str) -> String {
    let mut rng = Rng::keyed(&format!("uid/{key}"));
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// A `metadata.resourceVersion`, fixed by `key`, in the range etcd revisions
/// of a months-old cluster have.
pub fn resource_version(key: &str) -> String {
    (40_000_000 + hash(&format!("rv/{key}")) % 9_000_000).to_string()
}

/// A container runtime id (64 hex digits), fixed by `key`.
pub fn hex64(key: &str) -> String {
    let mut rng = Rng::keyed(key);
    (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_well_formed() {
        assert_eq!(uid("Pod/shop/a"), uid("Pod/shop/a"));
        assert_ne!(uid("Pod/shop/a"), uid("Pod/shop/b"));
        let u = uid("x");
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            vec![8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        let s = suffix("k", 5);
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
        assert!((9..=10).contains(&template_hash("shop/api").len()));
        assert_eq!(hex64("c").len(), 64);
    }

    #[test]
    fn times_are_relative_to_collection() {
        assert_eq!(ago(0), "2026-11-20T14:31:58Z");
        assert_eq!(ago(3600), "2026-11-20T13:31:58Z");
        assert_eq!(ago_of(&serde_json::json!(ago(3600))), Some(3600));
        assert_eq!(micro(0, 123_456), "2026-11-20T14:31:58.123456Z");
    }

    #[test]
    fn rng_is_reproducible() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(7);
        let b: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
        assert_eq!(a, b);
        assert!(r.unit() < 1.0);
    }
}
