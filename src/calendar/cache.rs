//! Rendered feeds kept in memory, so that a poll from thousands of subscribers
//! costs a map lookup. An entry is fresh while the data generation it was built
//! from is current and its own expiry (a cancelled event leaving) has not passed.

use crate::domain::activity::ActivityKind;
use crate::domain::language::Language;
use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// One variant of one feed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeedKey {
    /// `None` for the public feed.
    pub feed_id: Option<i64>,
    pub lang: Language,
    pub kind: Option<ActivityKind>,
}

/// A feed as sent: identity and gzip bodies, their validators.
#[derive(Debug)]
pub struct Rendered {
    pub generation: u64,
    pub expires_at: Option<DateTime<Utc>>,
    /// Strong validator of the identity body (hex of its SHA-256 prefix).
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub body: Bytes,
    pub gzip: Bytes,
}

impl Rendered {
    fn fresh(&self, generation: u64, now: DateTime<Utc>) -> bool {
        self.generation == generation && self.expires_at.is_none_or(|t| now < t)
    }
}

pub struct FeedCache {
    max_entries: usize,
    entries: RwLock<HashMap<FeedKey, Arc<Rendered>>>,
}

impl FeedCache {
    pub fn new(max_entries: usize) -> FeedCache {
        FeedCache {
            max_entries: max_entries.max(1),
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &FeedKey, generation: u64, now: DateTime<Utc>) -> Option<Arc<Rendered>> {
        let entries = self.entries.read().expect("feed cache lock");
        entries
            .get(key)
            .filter(|r| r.fresh(generation, now))
            .cloned()
    }

    pub fn put(&self, key: FeedKey, rendered: Arc<Rendered>) {
        let mut entries = self.entries.write().expect("feed cache lock");
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            // Stale entries go first; if all are live, start over rather than
            // track recency for a cache that rebuilds in milliseconds.
            let generation = rendered.generation;
            entries.retain(|_, r| r.generation == generation);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, rendered);
    }
}
