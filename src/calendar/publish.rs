//! Serving feeds: load what a feed needs, build and render it once, keep the
//! bytes (plain and gzipped) in memory until the data changes.

use super::cache::{FeedCache, FeedKey, Rendered};
use super::feed::{self, Context, FeedHeader, Selection};
use super::ics::{self, Organizer};
use crate::config::FeedSettings;
use crate::db::activities::{self, ActivityFilter};
use crate::db::{Db, DbConnection, campaigns, changes, organisations, plans};
use crate::domain::activity::{Activity, ActivityKind};
use crate::domain::feed::{Feed, FeedFilters, FeedLinks};
use crate::domain::language::Language;
use crate::error::Result;
use actix_web::web::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, RwLock};

/// Which feed: the public one, or a partner's private one.
#[derive(Debug, Clone)]
pub enum Target {
    Public,
    Private(Feed),
}

pub struct Publisher {
    settings: FeedSettings,
    public_url: String,
    cache: FeedCache,
    /// Private feeds by token hash, so a poll does not need the database.
    tokens: RwLock<HashMap<String, (u64, Feed)>>,
    /// One build at a time: a burst of polls after a change builds once.
    building: tokio::sync::Mutex<()>,
}

impl Publisher {
    pub fn new(settings: FeedSettings, public_url: &str) -> Publisher {
        Publisher {
            cache: FeedCache::new(settings.cache_entries),
            settings,
            public_url: public_url.trim_end_matches('/').to_owned(),
            tokens: RwLock::new(HashMap::new()),
            building: tokio::sync::Mutex::new(()),
        }
    }

    pub fn links(&self, path: &str, name: &str) -> FeedLinks {
        FeedLinks::new(format!("{}{path}", self.public_url), name)
    }

    pub fn public_path() -> &'static str {
        "/feeds/public.ics"
    }

    pub fn private_path(token: &str) -> String {
        format!("/feeds/{token}.ics")
    }

    /// The live private feed behind `token`, from memory when possible.
    pub async fn private_feed(&self, db: &Db, token: &str) -> Result<Option<Feed>> {
        let hash = crate::domain::feed::hash_token(token);
        let generation = db.generation();
        if let Some((_, feed)) = self
            .tokens
            .read()
            .expect("token cache")
            .get(&hash)
            .filter(|(g, _)| *g == generation)
        {
            return Ok(Some(feed.clone()));
        }
        let token = token.to_owned();
        let found = db
            .run(move |c| crate::db::feeds::find_by_token(c, &token))
            .await?;
        // Only tokens that exist are remembered: random guesses cannot fill memory.
        if let Some(feed) = &found {
            let mut tokens = self.tokens.write().expect("token cache");
            if tokens.len() > 10_000 {
                tokens.clear();
            }
            tokens.insert(hash, (generation, feed.clone()));
        }
        Ok(found)
    }

    /// A live private feed from memory only (the 304 fast path; `None`: ask
    /// [`Publisher::private_feed`]).
    pub fn cached_private_feed(&self, token: &str, generation: u64) -> Option<Feed> {
        let hash = crate::domain::feed::hash_token(token);
        self.tokens
            .read()
            .expect("token cache")
            .get(&hash)
            .filter(|(g, _)| *g == generation)
            .map(|(_, feed)| feed.clone())
    }

    /// The rendered feed if a fresh one is in memory: no database, no waiting.
    /// What the 304 fast path answers from (`None`: ask [`Publisher::render`]).
    pub fn cached(
        &self,
        target: &Target,
        lang: Option<Language>,
        kind: Option<ActivityKind>,
        generation: u64,
        now: DateTime<Utc>,
    ) -> Option<Arc<Rendered>> {
        let hit = self
            .cache
            .get(&Self::key(target, lang, kind), generation, now)?;
        crate::http::metrics::FEED_CACHE_HITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(hit)
    }

    fn key(target: &Target, lang: Option<Language>, kind: Option<ActivityKind>) -> FeedKey {
        let (feed_id, default_lang) = match target {
            Target::Public => (None, Language::En),
            Target::Private(f) => (Some(f.id), f.lang.unwrap_or(Language::En)),
        };
        FeedKey {
            feed_id,
            lang: lang.unwrap_or(default_lang),
            kind,
        }
    }

    /// The rendered feed, built if the cached one is stale.
    pub async fn render(
        &self,
        db: &Db,
        now: DateTime<Utc>,
        target: Target,
        lang: Option<Language>,
        kind: Option<ActivityKind>,
    ) -> Result<Arc<Rendered>> {
        let key = Self::key(&target, lang, kind);
        if let Some(hit) = self.cache.get(&key, db.generation(), now) {
            crate::http::metrics::FEED_CACHE_HITS
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(hit);
        }
        let _building = self.building.lock().await;
        // Read the generation before loading: a write during the build makes
        // the entry stale at once rather than hiding the write.
        let generation = db.generation();
        if let Some(hit) = self.cache.get(&key, generation, now) {
            crate::http::metrics::FEED_CACHE_HITS
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(hit);
        }
        crate::http::metrics::FEED_REBUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let request = BuildRequest {
            header: self.header(&target, key.lang),
            selection: Selection {
                filters: match &target {
                    Target::Public => FeedFilters::default(),
                    Target::Private(f) => f.filters.clone(),
                },
                kind,
            },
            feed_updated: match &target {
                Target::Public => None,
                Target::Private(f) => Some(f.updated_at),
            },
            lang: key.lang,
            retention: TimeDelta::days(self.settings.cancelled_retention_days.into()),
        };
        let rendered = db
            .run(move |c| build_rendered(c, request, generation, now))
            .await?;
        let rendered = Arc::new(rendered);
        self.cache.put(key, rendered.clone());
        Ok(rendered)
    }

    fn header(&self, target: &Target, lang: Language) -> FeedHeader {
        let organizer = (!self.settings.organizer_email.is_empty()).then(|| Organizer {
            cn: Some(self.settings.name.get(lang).to_owned()),
            email: self.settings.organizer_email.clone(),
        });
        let (name, description, url) = match target {
            Target::Public => (
                self.settings.name.get(lang).to_owned(),
                Some(self.settings.description.get(lang).to_owned()),
                Some(format!("{}{}", self.public_url, Self::public_path())),
            ),
            // A private feed's own URL holds its token: it is not written into the feed.
            Target::Private(f) => (f.name.clone(), None, None),
        };
        FeedHeader {
            name,
            description,
            url,
            refresh: TimeDelta::minutes(self.settings.refresh_minutes.into()),
            organizer,
        }
    }
}

struct BuildRequest {
    header: FeedHeader,
    selection: Selection,
    feed_updated: Option<DateTime<Utc>>,
    lang: Language,
    retention: TimeDelta,
}

/// Everything a feed of `activities` needs besides them. Only the names of
/// the organisations they name are read: the table grows with every partner
/// added, and a feed rebuilt after each write must not cost a pass over it.
pub fn load_context(
    conn: &mut DbConnection,
    activities: &[Activity],
    retention: TimeDelta,
) -> Result<Context> {
    let mut partner_ids: Vec<i64> = activities
        .iter()
        .flat_map(|a| a.partners.iter().map(|p| p.organisation_id))
        .collect();
    partner_ids.sort_unstable();
    partner_ids.dedup();
    Ok(Context {
        periods: plans::all_periods(conn)?
            .into_iter()
            .map(|p| (p.id, p))
            .collect(),
        organisations: organisations::names_of(conn, &partner_ids)?,
        campaigns: campaigns::all_translations(conn)?,
        cancelled_retention: retention,
        categories: activities::external_categories(conn)?,
    })
}

fn build_rendered(
    conn: &mut DbConnection,
    request: BuildRequest,
    generation: u64,
    now: DateTime<Utc>,
) -> Result<Rendered> {
    let all = activities::all(conn, &ActivityFilter::default())?;
    let selected: Vec<_> = all
        .into_iter()
        .filter(|a| request.selection.admits(a))
        .collect();
    let context = load_context(conn, &selected, request.retention)?;
    // Last-Modified only moves forward: the latest edit or deletion of any
    // activity, the feed's own definition, and cancelled events that have left.
    let left: Option<DateTime<Utc>> = selected
        .iter()
        .filter(|a| a.status.is_off())
        .filter_map(|a| a.cancelled_at.map(|t| t + request.retention))
        .filter(|t| *t <= now)
        .max();
    // Any recorded change to what feeds show (a period moved, an organisation
    // renamed) counts too.
    let published_change =
        crate::db::history::last_change_of(conn, crate::app::history::PUBLISHED)?
            .map(|t| t.and_utc());
    let last_modified = [
        changes::activities_changed_at(conn)?,
        published_change,
        request.feed_updated,
        left,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(DateTime::UNIX_EPOCH);
    let built = feed::build(&request.header, request.lang, &selected, &context, now);
    Ok(encode(
        ics::render(&built.calendar),
        generation,
        built.expires_at,
        last_modified,
    ))
}

fn encode(
    text: String,
    generation: u64,
    expires_at: Option<DateTime<Utc>>,
    last_modified: DateTime<Utc>,
) -> Rendered {
    let etag = hex::encode(&Sha256::digest(text.as_bytes())[..16]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).expect("gzip to memory");
    let gzip = gz.finish().expect("gzip to memory");
    Rendered {
        generation,
        expires_at,
        etag,
        // HTTP dates have whole seconds; round up so If-Modified-Since compares right.
        last_modified: ceil_to_second(last_modified),
        body: Bytes::from(text),
        gzip: Bytes::from(gzip),
    }
}

fn ceil_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t);
    if floor < t {
        floor + TimeDelta::seconds(1)
    } else {
        floor
    }
}
