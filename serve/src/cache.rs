//! Parsed lists kept in memory, least recently used first out, bounded by
//! bytes.
//!
//! A 150,000-pod bundle holds about 1.3 GB of JSON; keeping every list the
//! clients touched (as the first version did) made `kubectl get pods -A`
//! peak at 1.3 GiB. Requests walk lists in namespace order (kubectl pages,
//! `cluster-info dump`, the collector), so a small cache of recently used
//! lists answers almost every request and an evicted list is parsed again
//! only when a client comes back to it.
//!
//! Each key is loaded at most once at a time: concurrent requests for the
//! same list wait for the one parse instead of each parsing it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::errors::ApiError;
use crate::store::Loaded;

/// Default budget of [`ListCache`]: enough for the cluster-scope lists of a
/// 5,000-node cluster plus a few hundred namespace lists.
pub const DEFAULT_BUDGET: usize = 192 << 20;

type Slot = Arc<OnceLock<Result<Arc<Loaded>, ApiError>>>;

struct Entry {
    slot: Slot,
    /// Tick of the last request; the smallest is evicted first.
    last_used: u64,
    /// Bytes charged to the budget; 0 while loading and for failures (an
    /// error is kept so a damaged file is not re-read on every request).
    weight: usize,
    /// Never evicted (cluster-scope lists: small next to the namespaces,
    /// and asked for by nearly every command).
    pinned: bool,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    tick: u64,
    total: usize,
}

/// Parsed lists by bundle path, bounded by an approximate byte budget.
pub struct ListCache {
    budget: usize,
    inner: Mutex<Inner>,
}

impl ListCache {
    /// A cache holding at most about `budget` bytes of parsed lists (the
    /// list being answered is always kept, even when larger).
    pub fn new(budget: usize) -> ListCache {
        ListCache {
            budget,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, ApiError> {
        self.inner
            .lock()
            .map_err(|_| ApiError::internal("list cache lock poisoned by an earlier panic"))
    }

    /// The list cached under `key`, loading it with `load` when absent.
    /// The lock is not held while loading. A `pinned` list stays cached
    /// whatever the budget (its bytes still count against it).
    pub fn get_or_load(
        &self,
        key: &str,
        pinned: bool,
        load: impl FnOnce() -> Result<Loaded, ApiError>,
    ) -> Result<Arc<Loaded>, ApiError> {
        let slot = {
            let mut inner = self.lock()?;
            inner.tick += 1;
            let tick = inner.tick;
            let entry = inner
                .entries
                .entry(key.to_string())
                .or_insert_with(|| Entry {
                    slot: Slot::default(),
                    last_used: tick,
                    weight: 0,
                    pinned,
                });
            entry.last_used = tick;
            entry.slot.clone()
        };
        let result = slot.get_or_init(|| load().map(Arc::new)).clone();
        if let Ok(loaded) = &result {
            let mut inner = self.lock()?;
            let charged = match inner.entries.get_mut(key) {
                Some(e) if Arc::ptr_eq(&e.slot, &slot) && e.weight == 0 => {
                    e.weight = loaded.weight().max(1);
                    e.weight
                }
                _ => 0,
            };
            if charged > 0 {
                inner.total += charged;
                evict(&mut inner, self.budget, key);
            }
        }
        result
    }

    /// The list cached under `key`, if it is loaded, without loading it
    /// (counts as a use).
    pub fn peek(&self, key: &str) -> Option<Arc<Loaded>> {
        let mut inner = self.lock().ok()?;
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(key)?;
        let loaded = entry.slot.get()?.as_ref().ok()?.clone();
        entry.last_used = tick;
        Some(loaded)
    }

    /// Whether `key` is loaded and still cached.
    #[cfg(test)]
    pub fn contains(&self, key: &str) -> bool {
        self.lock().is_ok_and(|inner| {
            inner
                .entries
                .get(key)
                .is_some_and(|e| e.slot.get().is_some())
        })
    }

    /// Bytes currently charged to the budget.
    #[cfg(test)]
    pub fn charged(&self) -> usize {
        self.lock().map(|inner| inner.total).unwrap_or(0)
    }
}

/// Drops least recently used loaded lists until the total fits, never the
/// one just loaded (`keep`). Requests still answering from an evicted list
/// keep it alive through their `Arc` until they finish.
fn evict(inner: &mut Inner, budget: usize, keep: &str) {
    while inner.total > budget {
        let victim = inner
            .entries
            .iter()
            .filter(|(k, e)| e.weight > 0 && !e.pinned && k.as_str() != keep)
            .min_by_key(|(_, e)| e.last_used)
            .map(|(k, _)| k.clone());
        let Some(victim) = victim else { break };
        if let Some(e) = inner.entries.remove(&victim) {
            inner.total = inner.total.saturating_sub(e.weight);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::parse_list;

    fn pods(ns: &str, n: usize) -> Loaded {
        let items: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"metadata":{{"name":"web-{i}","namespace":"{ns}","labels":{{"app":"web"}}}},"spec":{{"nodeName":"worker-{i}"}},"status":{{"phase":"Running"}}}}"#
                )
            })
            .collect();
        let text = format!(
            r#"{{"kind":"PodList","apiVersion":"v1","metadata":{{"resourceVersion":"7"}},"items":[{}]}}"#,
            items.join(",")
        );
        parse_list("pods", Some(ns), text.into_bytes()).unwrap()
    }

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let one = pods("a", 20).weight();
        // Room for two lists, not three.
        let cache = ListCache::new(one * 2 + one / 2);
        let mut loads = 0;
        for ns in ["a", "b"] {
            cache
                .get_or_load(ns, false, || {
                    loads += 1;
                    Ok(pods(ns, 20))
                })
                .unwrap();
        }
        // Touch `a` so `b` is the oldest when `c` arrives.
        cache.get_or_load("a", false, || unreachable!()).unwrap();
        cache.get_or_load("c", false, || Ok(pods("c", 20))).unwrap();
        assert!(cache.contains("a"));
        assert!(!cache.contains("b"));
        assert!(cache.contains("c"));
        assert!(cache.charged() <= one * 2 + one / 2);
        // An evicted list is loaded again on demand.
        let again = cache
            .get_or_load("b", false, || {
                loads += 1;
                Ok(pods("b", 20))
            })
            .unwrap();
        assert_eq!(again.items.len(), 20);
        assert_eq!(loads, 3);
    }

    #[test]
    fn a_list_larger_than_the_budget_is_still_answered() {
        let cache = ListCache::new(10);
        let big = cache.get_or_load("a", false, || Ok(pods("a", 50))).unwrap();
        assert_eq!(big.items.len(), 50);
        assert!(cache.contains("a"));
        cache.get_or_load("b", false, || Ok(pods("b", 1))).unwrap();
        assert!(!cache.contains("a"));
        // A pinned list survives any pressure.
        cache
            .get_or_load("nodes", true, || Ok(pods("", 50)))
            .unwrap();
        for ns in ["c", "d", "e"] {
            cache.get_or_load(ns, false, || Ok(pods(ns, 50))).unwrap();
        }
        assert!(cache.contains("nodes"));
        assert!(!cache.contains("d"));
    }

    #[test]
    fn failures_are_remembered_without_charge() {
        let cache = ListCache::new(1 << 20);
        let mut tries = 0;
        for _ in 0..3 {
            let r = cache.get_or_load("bad", false, || {
                tries += 1;
                Err(ApiError::internal(
                    "namespaces/a/pods.json: EOF while parsing",
                ))
            });
            assert!(r.is_err());
        }
        assert_eq!(tries, 1);
        assert_eq!(cache.charged(), 0);
    }
}
