//! Short-lived caches of slowly changing reference data (orgs, catalog
//! versions, active signing keys) on the issuing hot path.
//!
//! Every entry expires after [`TTL`], and changes made through this process
//! clear their entry at once; so another node's (or the CLI's) change is seen
//! within `TTL`. Catalog versions never change once written, so an entry for
//! a given (code, version) is always right; only "which version is current"
//! expires.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const TTL: Duration = Duration::from_secs(5);

pub struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    ttl: Duration,
}

impl<K: Eq + Hash, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self::new(TTL)
    }
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        if let Ok(mut entries) = self.entries.lock() {
            // Bounded: the data is small (orgs, types, keys), but never let it grow unchecked.
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(key, (value, Instant::now()));
        }
    }

    pub fn forget(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let c: TtlCache<&str, u32> = TtlCache::new(Duration::from_millis(30));
        c.put("a", 1);
        assert_eq!(c.get(&"a"), Some(1));
        c.forget(&"a");
        assert_eq!(c.get(&"a"), None);
        c.put("b", 2);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get(&"b"), None);
    }
}
