//! Publishing to Bluesky exactly once. The record key (a TID) and the
//! record's `createdAt` are fixed when the job is created; the exact record
//! (text, langs, facets with UTF-8 byte offsets, mentions resolved to DIDs)
//! is stored before the first attempt. The first attempt is
//! `com.atproto.repo.createRecord` with that key; every later one is
//! `putRecord` of the same record to the same key, which changes nothing if
//! the first one landed (a second createRecord with the key would be refused
//! with a server error, so it is never the retry).
//!
//! The session (access and refresh JWTs) is stored sealed on the account and
//! reused: `createSession` is limited to 30 calls per 5 minutes, so it is
//! called only when there is no session or refreshing it fails. An expired
//! access token answers 400 `ExpiredToken` (not 401): `refreshSession`, then
//! the same request again.
//!
//! A thread is one job that walks its parts in order. Every part's key and
//! `createdAt` are fixed when the job is created; part n+1's record carries
//! `reply: {root, parent}` (URIs and CIDs of part 1 and part n), so it is
//! built and stored (`post_parts`) once part n is out, before its own first
//! attempt, then created, and put again on a retry. Each part's URI and CID
//! is stored as it goes out, so a retry resumes at the first part not out.

use crate::clock::SharedClock;
use crate::db::{Db, channel_accounts, posts};
use crate::error::{Error, Result};
use crate::jobs::outbound::{self, NoAnswer, Outbound};
use crate::jobs::sealed::Sealer;
use crate::jobs::{Attempt, Exchange, Job, NewJob, Outcome};
use crate::social::text::{self, Feature};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const KIND: &str = "social.bluesky";

const BASE32_SORTABLE: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A TID (timestamp identifier): 53 bits of microseconds since the epoch
/// and 10 bits of clock id, in base32-sortable, 13 characters.
pub fn tid(at: DateTime<Utc>, clock_id: u16) -> String {
    let micros = (at.timestamp_micros().max(0) as u64) & ((1 << 53) - 1);
    let value = (micros << 10) | u64::from(clock_id & 0x3FF);
    (0..13)
        .rev()
        .map(|i| BASE32_SORTABLE[((value >> (5 * i)) & 31) as usize] as char)
        .collect()
}

/// Refuses a text Bluesky would not take, saying why.
pub fn check_length(text_: &str, langs: &[String]) -> Result<()> {
    let graphemes = text::graphemes(text_);
    if graphemes > text::BLUESKY_MAX_GRAPHEMES {
        return Err(Error::invalid(
            "body",
            format!(
                "{graphemes} characters (grapheme clusters); Bluesky allows {}",
                text::BLUESKY_MAX_GRAPHEMES
            ),
        ));
    }
    if text_.len() > text::BLUESKY_MAX_BYTES {
        return Err(Error::invalid(
            "body",
            format!(
                "{} bytes in UTF-8; Bluesky allows {}",
                text_.len(),
                text::BLUESKY_MAX_BYTES
            ),
        ));
    }
    if langs.len() > text::BLUESKY_MAX_LANGS {
        return Err(Error::invalid(
            "langs",
            format!("at most {} languages", text::BLUESKY_MAX_LANGS),
        ));
    }
    Ok(())
}

/// What a Bluesky post job carries (no credentials).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Post {
    pub account_id: i64,
    /// The variant's stable name, e.g. "activity:12:channel:3:es".
    pub variant: String,
    pub text: String,
    pub langs: Vec<String>,
    /// The record key, fixed when the job is created.
    pub rkey: String,
    /// The record's `createdAt`, fixed when the job is created.
    pub created_at: String,
    /// A thread's parts after the first, in order (empty: a single post).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<Part>,
    /// Images, each uploaded (`uploadBlob`) before its part's record is
    /// built and stored, then in its `embed` (`app.bsky.embed.images`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<super::MediaItem>,
}

/// A part of a thread after the first, its key and `createdAt` fixed when
/// the job is created.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub text: String,
    pub rkey: String,
    pub created_at: String,
}

impl Post {
    /// A post whose key and `createdAt` are taken from `now`.
    pub fn new(
        account_id: i64,
        variant: String,
        text: String,
        langs: Vec<String>,
        now: DateTime<Utc>,
    ) -> Post {
        Post {
            account_id,
            variant,
            text,
            langs,
            rkey: tid(now, rand::random_range(0..1024)),
            created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            thread: Vec::new(),
            media: Vec::new(),
        }
    }

    /// The same post with these images.
    pub fn with_media(mut self, media: Vec<super::MediaItem>) -> Post {
        self.media = media;
        self
    }

    /// The same post as the first part of a thread whose following parts
    /// are `texts`: part n's key and `createdAt` are n milliseconds after
    /// the first's, so the parts sort in their order.
    pub fn with_thread(mut self, texts: Vec<String>, now: DateTime<Utc>) -> Post {
        let clock = rand::random_range(0..1024);
        self.thread = texts
            .into_iter()
            .enumerate()
            .map(|(j, text)| {
                let at = now + chrono::TimeDelta::milliseconds(j as i64 + 1);
                Part {
                    text,
                    rkey: tid(at, clock),
                    created_at: at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                }
            })
            .collect();
        self
    }
}

/// The job that publishes `post` at `due_at`, created with the caller's
/// connection; checked against Bluesky's limits first.
pub fn enqueue(
    conn: &mut crate::db::DbConnection,
    key: &str,
    post: &Post,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<crate::jobs::Enqueued> {
    check_length(&post.text, &post.langs)?;
    for part in &post.thread {
        check_length(&part.text, &post.langs)?;
    }
    crate::jobs::enqueue(
        conn,
        &NewJob {
            kind: KIND,
            key: key.to_owned(),
            payload: serde_json::to_value(post).unwrap_or_default(),
            due_at,
        },
        now,
    )
}

/// A session as stored (sealed) on the account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Session {
    did: String,
    access_jwt: String,
    refresh_jwt: String,
}

pub struct BlueskyHandler {
    db: Db,
    outbound: Outbound,
    sealer: Sealer,
    clock: SharedClock,
    /// One session change at a time per account (a refresh token is used once).
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

/// An answer read whole: status, headers' retry time, JSON body.
struct Reply {
    status: u16,
    retry_at: Option<DateTime<Utc>>,
    body: Value,
}

impl Reply {
    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    fn message(&self) -> String {
        let error = self.error();
        let message = self.body["message"].as_str().unwrap_or("");
        match (error.is_empty(), message.is_empty()) {
            (true, true) => "(no message)".into(),
            (false, true) => error.into(),
            (true, false) => message.into(),
            (false, false) => format!("{error}: {message}"),
        }
    }
}

impl BlueskyHandler {
    pub fn new(db: Db, outbound: Outbound, sealer: Sealer, clock: SharedClock) -> BlueskyHandler {
        BlueskyHandler {
            db,
            outbound,
            sealer,
            clock,
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn lock_for(&self, account: i64) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .expect("bluesky locks")
            .entry(account)
            .or_default()
            .clone()
    }

    async fn account(&self, id: i64) -> std::result::Result<channel_accounts::Row, String> {
        self.db
            .run(move |c| channel_accounts::get(c, id))
            .await
            .map_err(|e| e.to_string())
    }

    fn stored_session(&self, account: &channel_accounts::Row) -> Option<Session> {
        let sealed = account.sealed_session.as_deref()?;
        let plain = self
            .sealer
            .open(sealed, &channel_accounts::session_context(account.id))
            .ok()?;
        serde_json::from_str(&plain).ok()
    }

    async fn store_session(&self, id: i64, session: &Session) -> std::result::Result<(), String> {
        let plain = serde_json::to_string(session).map_err(|e| e.to_string())?;
        let sealed = self
            .sealer
            .seal(&plain, &channel_accounts::session_context(id))
            .map_err(|e| e.to_string())?;
        let now = self.clock.now();
        self.db
            .transaction(move |c| channel_accounts::set_session(c, id, Some(&sealed), now))
            .await
            .map_err(|e| e.to_string())
    }

    async fn post_json(
        &self,
        url: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> std::result::Result<Reply, reqwest::Error> {
        let mut request = self.outbound.client().post(url);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let retry_at = outbound::retry_after(response.headers(), self.clock.now());
        let body = response.json().await.unwrap_or(Value::Null);
        Ok(Reply {
            status,
            retry_at,
            body,
        })
    }

    fn session_from(body: &Value) -> Option<Session> {
        Some(Session {
            did: body["did"].as_str()?.to_owned(),
            access_jwt: body["accessJwt"].as_str()?.to_owned(),
            refresh_jwt: body["refreshJwt"].as_str()?.to_owned(),
        })
    }

    /// `createSession` with the app password: only when there is no session
    /// or it cannot be refreshed.
    async fn create_session(
        &self,
        account: &channel_accounts::Row,
        base: &str,
    ) -> std::result::Result<Session, String> {
        let password = match account.sealed_credentials.as_deref() {
            Some(sealed) => self
                .sealer
                .open(sealed, &account.credentials_context())
                .map_err(|e| e.to_string())?,
            None => return Err("the account has no app password".into()),
        };
        let identifier = account
            .handle
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('@');
        let reply = self
            .post_json(
                &format!("{base}/xrpc/com.atproto.server.createSession"),
                None,
                Some(&json!({"identifier": identifier, "password": password})),
            )
            .await
            .map_err(|e| format!("createSession: {e}"))?;
        if reply.status != 200 {
            return Err(format!(
                "createSession answered {}: {}",
                reply.status,
                reply.message()
            ));
        }
        let session = Self::session_from(&reply.body).ok_or("createSession: no session")?;
        self.store_session(account.id, &session).await?;
        Ok(session)
    }

    /// The stored session, or a new one.
    async fn session(&self, account_id: i64, base: &str) -> std::result::Result<Session, String> {
        let lock = self.lock_for(account_id);
        let _held = lock.lock().await;
        let account = self.account(account_id).await?;
        if let Some(session) = self.stored_session(&account) {
            return Ok(session);
        }
        self.create_session(&account, base).await
    }

    /// A fresh access token after `stale` expired: another job's refresh if
    /// one happened meanwhile, else `refreshSession`, else a new session.
    async fn refresh(
        &self,
        account_id: i64,
        base: &str,
        stale: &Session,
    ) -> std::result::Result<Session, String> {
        let lock = self.lock_for(account_id);
        let _held = lock.lock().await;
        let account = self.account(account_id).await?;
        let stored = self.stored_session(&account);
        if let Some(s) = &stored
            && s.access_jwt != stale.access_jwt
        {
            return Ok(s.clone());
        }
        let refresh_jwt = stored.as_ref().unwrap_or(stale).refresh_jwt.clone();
        let reply = self
            .post_json(
                &format!("{base}/xrpc/com.atproto.server.refreshSession"),
                Some(&refresh_jwt),
                None,
            )
            .await
            .map_err(|e| format!("refreshSession: {e}"))?;
        if reply.status == 200
            && let Some(session) = Self::session_from(&reply.body)
        {
            self.store_session(account_id, &session).await?;
            return Ok(session);
        }
        self.create_session(&account, base).await
    }

    /// The record for this job: the stored one, or built (mentions resolved)
    /// and stored now, before the first attempt.
    async fn record(
        &self,
        job: &Job,
        post: &Post,
        base: &str,
        account: &channel_accounts::Row,
        session: &mut Option<Session>,
    ) -> std::result::Result<(String, Value), String> {
        let job_id = job.id;
        let stored = self
            .db
            .run(move |c| posts::bluesky_record(c, job_id))
            .await
            .map_err(|e| e.to_string())?;
        if let Some((rkey, record)) = stored {
            let record = serde_json::from_str(&record).map_err(|e| e.to_string())?;
            return Ok((rkey, record));
        }
        let images = self.blobs(job, account, base, session, post, 0).await?;
        let record = self
            .build_record(&post.text, &post.created_at, &post.langs, base, images)
            .await;
        let text = record.to_string();
        let rkey = post.rkey.clone();
        let now = self.clock.now();
        let (rkey, text) = self
            .db
            .transaction(move |c| posts::store_bluesky_record(c, job_id, &rkey, &text, now))
            .await
            .map_err(|e| e.to_string())?;
        Ok((
            rkey,
            serde_json::from_str(&text).map_err(|e| e.to_string())?,
        ))
    }

    /// The record of a thread's part `index` (1 and on): the stored one, or
    /// built replying to `root` and `parent` (URI, CID) and stored now,
    /// before its first attempt; `true` when stored now (never sent).
    #[allow(clippy::too_many_arguments)]
    async fn part_record(
        &self,
        job: &Job,
        post: &Post,
        index: usize,
        base: &str,
        root: &(String, String),
        parent: &(String, String),
        account: &channel_accounts::Row,
        session: &mut Option<Session>,
    ) -> std::result::Result<(String, Value, bool), String> {
        let part = post
            .thread
            .get(index - 1)
            .ok_or_else(|| format!("the job has no part {}", index + 1))?;
        let job_id = job.id;
        let number = i32::try_from(index).unwrap_or(i32::MAX);
        let stored = self
            .db
            .run(move |c| posts::parts(c, job_id))
            .await
            .map_err(|e| e.to_string())?;
        if let Some(posts::Part {
            rkey: Some(rkey),
            record: Some(record),
            ..
        }) = stored.into_iter().find(|p| p.part == number)
        {
            let record = serde_json::from_str(&record).map_err(|e| e.to_string())?;
            return Ok((rkey, record, false));
        }
        let images = self.blobs(job, account, base, session, post, index).await?;
        let mut record = self
            .build_record(&part.text, &part.created_at, &post.langs, base, images)
            .await;
        record["reply"] = json!({
            "root": {"uri": root.0, "cid": root.1},
            "parent": {"uri": parent.0, "cid": parent.1},
        });
        let text = record.to_string();
        let rkey = part.rkey.clone();
        let now = self.clock.now();
        let (rkey, text, fresh) = self
            .db
            .transaction(move |c| posts::store_part_record(c, job_id, number, &rkey, &text, now))
            .await
            .map_err(|e| e.to_string())?;
        Ok((
            rkey,
            serde_json::from_str(&text).map_err(|e| e.to_string())?,
            fresh,
        ))
    }

    /// A post record: text, `createdAt`, langs, facets (mentions resolved
    /// to DIDs; an unknown handle stays text).
    async fn build_record(
        &self,
        text_: &str,
        created_at: &str,
        langs: &[String],
        base: &str,
        images: Vec<Value>,
    ) -> Value {
        let mut facets = Vec::new();
        for facet in text::bluesky_facets(text_) {
            let feature = match &facet.feature {
                Feature::Link(uri) => json!({"$type": "app.bsky.richtext.facet#link", "uri": uri}),
                Feature::Tag(tag) => json!({"$type": "app.bsky.richtext.facet#tag", "tag": tag}),
                Feature::Mention(handle) => match self.resolve(base, handle).await {
                    Some(did) => json!({"$type": "app.bsky.richtext.facet#mention", "did": did}),
                    // An unknown handle stays plain text.
                    None => continue,
                },
            };
            facets.push(json!({
                "index": {"byteStart": facet.byte_start, "byteEnd": facet.byte_end},
                "features": [feature],
            }));
        }
        let mut record = json!({
            "$type": "app.bsky.feed.post",
            "text": text_,
            "createdAt": created_at,
            "langs": langs,
        });
        if !facets.is_empty() {
            record["facets"] = Value::Array(facets);
        }
        if !images.is_empty() {
            record["embed"] = json!({"$type": "app.bsky.embed.images", "images": images});
        }
        record
    }

    /// The `app.bsky.embed.images` entries of part `index`: each image's
    /// blob as this job uploaded it before, or uploaded now
    /// (`com.atproto.repo.uploadBlob`), with its alt text.
    async fn blobs(
        &self,
        job: &Job,
        account: &channel_accounts::Row,
        base: &str,
        session: &mut Option<Session>,
        post: &Post,
        index: usize,
    ) -> std::result::Result<Vec<Value>, String> {
        let mut images = Vec::new();
        for item in post.media.iter().filter(|m| m.part == index) {
            // Read once: uploaded when not yet, and its header gives the
            // aspect ratio (the app shows the image in its shape before it
            // loads); an unreadable header leaves it out, as the lexicon allows.
            let data = super::media_bytes(&self.db, item.id).await?;
            let aspect = super::image::dimensions(&data);
            let blob: Value = match super::stored_upload(&self.db, job.id, item.id).await? {
                Some(stored) => serde_json::from_str(&stored).map_err(|e| e.to_string())?,
                None => {
                    let blob: Value = self.upload_blob(account, base, session, item, data).await?;
                    let stored = super::store_upload(
                        &self.db,
                        job.id,
                        item.id,
                        blob.to_string(),
                        self.clock.now(),
                    )
                    .await?;
                    serde_json::from_str(&stored).map_err(|e| e.to_string())?
                }
            };
            let mut entry = json!({"alt": item.alt, "image": blob});
            if let Some((width, height)) = aspect {
                entry["aspectRatio"] = json!({"width": width, "height": height});
            }
            images.push(entry);
        }
        Ok(images)
    }

    async fn upload_blob(
        &self,
        account: &channel_accounts::Row,
        base: &str,
        session: &mut Option<Session>,
        item: &super::MediaItem,
        data: Vec<u8>,
    ) -> std::result::Result<Value, String> {
        let url = self
            .outbound
            .check(&format!("{base}/xrpc/com.atproto.repo.uploadBlob"))?;
        let mut current = match session.take() {
            Some(s) => s,
            None => self.session(account.id, base).await?,
        };
        let mut refreshed = false;
        loop {
            let response = self
                .outbound
                .client()
                .post(url.clone())
                .bearer_auth(&current.access_jwt)
                .header(reqwest::header::CONTENT_TYPE, &item.mime_type)
                .body(data.clone())
                .send()
                .await
                .map_err(|e| format!("uploadBlob: {e}"))?;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if status == 400 && body["error"] == "ExpiredToken" && !refreshed {
                refreshed = true;
                current = self.refresh(account.id, base, &current).await?;
                continue;
            }
            *session = Some(current);
            if status == 200 && body["blob"].is_object() {
                return Ok(body["blob"].clone());
            }
            return Err(format!(
                "uploadBlob of image {} answered {status}: {}",
                item.id,
                body["message"].as_str().unwrap_or("(no message)")
            ));
        }
    }

    async fn resolve(&self, base: &str, handle: &str) -> Option<String> {
        let url = self
            .outbound
            .check(&format!("{base}/xrpc/com.atproto.identity.resolveHandle"))
            .ok()?;
        let reply: Value = self
            .outbound
            .client()
            .get(url)
            .query(&[("handle", handle)])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        reply["did"].as_str().map(str::to_owned)
    }

    async fn publish(&self, job: &Job) -> Attempt {
        let post: Post = match serde_json::from_value(job.payload.clone()) {
            Ok(post) => post,
            Err(e) => {
                return Attempt::new(
                    Outcome::failed(format!("bad job payload: {e}")),
                    Exchange::default(),
                );
            }
        };
        if let Some(outcome) = super::check_withdrawn(&self.db, job).await {
            return Attempt::new(outcome, Exchange::default());
        }
        let account = match self.account(post.account_id).await {
            Ok(a) => a,
            Err(e) => return Attempt::new(Outcome::failed(e), Exchange::default()),
        };
        let base = account.base_url.trim_end_matches('/').to_owned();
        // The first attempt creates; every later one (after an error, a
        // timeout or a dead worker) puts the same record to the same key.
        let first = job.attempt <= 1 && job.unknown_outcomes == 0;
        let mut session = None;
        if post.thread.is_empty() {
            let exchange = self.exchange(&base, first, &post.rkey, &post, None);
            let (rkey, record) = match self.record(job, &post, &base, &account, &mut session).await
            {
                Ok(r) => r,
                Err(e) => return Attempt::new(Outcome::retry(None, e), exchange),
            };
            return self
                .write(
                    &account,
                    &base,
                    &mut session,
                    first,
                    &rkey,
                    &record,
                    exchange,
                )
                .await
                .0;
        }
        // A thread: the parts already out are skipped, the rest written in
        // order, each replying to the one before and to the first.
        let job_id = job.id;
        let stored = match self.db.run(move |c| posts::parts(c, job_id)).await {
            Ok(parts) => parts,
            Err(e) => {
                return Attempt::new(Outcome::retry(None, e.to_string()), Exchange::default());
            }
        };
        let mut root: Option<(String, String)> = None;
        let mut parent: Option<(String, String)> = None;
        let mut first_url = None;
        let mut requests = Vec::new();
        let mut last = Exchange::default();
        for index in 0..=post.thread.len() {
            let number = i32::try_from(index).unwrap_or(i32::MAX);
            if let Some(posts::Part {
                remote_id: Some(uri),
                cid: Some(cid),
                remote_url,
                ..
            }) = stored.iter().find(|p| p.part == number)
            {
                if index == 0 {
                    root = Some((uri.clone(), cid.clone()));
                    first_url = remote_url.clone();
                }
                parent = Some((uri.clone(), cid.clone()));
                continue;
            }
            let key = post
                .thread
                .get(index.wrapping_sub(1))
                .map_or(&post.rkey, |p| &p.rkey);
            let written = match (index, &root, &parent) {
                (0, _, _) => {
                    let exchange = self.exchange(&base, first, key, &post, Some(index));
                    match self.record(job, &post, &base, &account, &mut session).await {
                        Ok((rkey, record)) => {
                            self.write(
                                &account,
                                &base,
                                &mut session,
                                first,
                                &rkey,
                                &record,
                                exchange,
                            )
                            .await
                        }
                        Err(e) => (Attempt::new(Outcome::retry(None, e), exchange), None),
                    }
                }
                (_, Some(root), Some(parent)) => {
                    match self
                        .part_record(
                            job,
                            &post,
                            index,
                            &base,
                            root,
                            parent,
                            &account,
                            &mut session,
                        )
                        .await
                    {
                        Ok((rkey, record, fresh)) => {
                            let exchange = self.exchange(&base, fresh, &rkey, &post, Some(index));
                            self.write(
                                &account,
                                &base,
                                &mut session,
                                fresh,
                                &rkey,
                                &record,
                                exchange,
                            )
                            .await
                        }
                        Err(e) => (
                            Attempt::new(
                                Outcome::retry(None, e),
                                self.exchange(&base, false, key, &post, Some(index)),
                            ),
                            None,
                        ),
                    }
                }
                _ => (
                    Attempt::new(
                        Outcome::failed("a part before this one has no URI and CID".to_owned()),
                        Exchange::default(),
                    ),
                    None,
                ),
            };
            let (attempt, cid) = written;
            requests.extend(attempt.exchange.request.clone());
            let (
                Outcome::Done {
                    remote_id: Some(uri),
                    remote_url,
                },
                Some(cid),
            ) = (&attempt.outcome, cid)
            else {
                let mut attempt = attempt;
                if matches!(attempt.outcome, Outcome::Done { .. }) {
                    attempt.outcome = Outcome::failed(format!(
                        "part {}: the PDS answered without a URI and CID",
                        index + 1
                    ));
                }
                attempt.exchange.request = Some(requests.join("\n"));
                return attempt;
            };
            let now = self.clock.now();
            let (u, c, url) = (uri.clone(), cid.clone(), remote_url.clone());
            let recorded = self
                .db
                .transaction(move |conn| {
                    posts::part_done(
                        conn,
                        job_id,
                        number,
                        Some(&u),
                        Some(&c),
                        url.as_deref(),
                        now,
                    )
                })
                .await;
            if let Err(e) = recorded {
                return Attempt::new(
                    Outcome::Unknown {
                        how_to_check: format!(
                            "part {} went out but could not be recorded ({e}); the retry puts \
                             the same record to the same key",
                            index + 1
                        ),
                        check_at: Some(now),
                    },
                    attempt.exchange,
                );
            }
            if index == 0 {
                root = Some((uri.clone(), cid.clone()));
                first_url = remote_url.clone();
            }
            parent = Some((uri.clone(), cid));
            last = attempt.exchange;
        }
        last.request = Some(requests.join("\n"));
        Attempt::new(Outcome::done(root.map(|r| r.0), first_url), last)
    }

    /// How a write is shown in the job's attempts.
    fn exchange(
        &self,
        base: &str,
        create: bool,
        rkey: &str,
        post: &Post,
        part: Option<usize>,
    ) -> Exchange {
        let method = if create { "createRecord" } else { "putRecord" };
        Exchange {
            request: Some(format!(
                "POST {base}/xrpc/com.atproto.repo.{method} rkey={rkey} langs={}{}",
                post.langs.join(","),
                part.map(|p| format!(" part={}", p + 1)).unwrap_or_default()
            )),
            ..Exchange::default()
        }
    }

    /// Writes one record to its key: `createRecord` when `create`, else
    /// `putRecord`; the session taken (or made) once per attempt and
    /// refreshed once on `ExpiredToken`. The attempt, and the record's CID
    /// when it was written.
    #[allow(clippy::too_many_arguments)]
    async fn write(
        &self,
        account: &channel_accounts::Row,
        base: &str,
        session: &mut Option<Session>,
        create: bool,
        rkey: &str,
        record: &Value,
        mut exchange: Exchange,
    ) -> (Attempt, Option<String>) {
        let now = self.clock.now();
        let method = if create { "createRecord" } else { "putRecord" };
        let url = format!("{base}/xrpc/com.atproto.repo.{method}");
        if let Err(e) = self.outbound.check(&url) {
            return (Attempt::new(Outcome::failed(e), exchange), None);
        }
        let mut current = match session.take() {
            Some(s) => s,
            None => match self.session(account.id, base).await {
                Ok(s) => s,
                Err(e) => return (Attempt::new(Outcome::retry(None, e), exchange), None),
            },
        };
        let mut refreshed = false;
        let reply = loop {
            let body = json!({
                "repo": current.did,
                "collection": "app.bsky.feed.post",
                "rkey": rkey,
                "record": record,
            });
            let reply = match self
                .post_json(&url, Some(&current.access_jwt), Some(&body))
                .await
            {
                Ok(reply) => reply,
                Err(error) => {
                    let outcome = match outbound::classify(&error) {
                        NoAnswer::Refused(reason) => Outcome::failed(reason),
                        NoAnswer::NotSent(reason) => Outcome::retry(None, reason),
                        NoAnswer::MaybeSent(reason) => Outcome::Unknown {
                            how_to_check: format!(
                                "{reason}; the record may exist: the retry puts the same record \
                                 to the same key (at://{}/app.bsky.feed.post/{rkey})",
                                current.did
                            ),
                            check_at: Some(now),
                        },
                    };
                    return (Attempt::new(outcome, exchange), None);
                }
            };
            if reply.status == 400 && reply.error() == "ExpiredToken" && !refreshed {
                refreshed = true;
                match self.refresh(account.id, base, &current).await {
                    Ok(s) => {
                        current = s;
                        continue;
                    }
                    Err(e) => return (Attempt::new(Outcome::retry(None, e), exchange), None),
                }
            }
            break reply;
        };
        exchange.status = Some(reply.status);
        exchange.reply = Some(reply.body.to_string().chars().take(2000).collect());
        let mut cid = None;
        let outcome = if (200..300).contains(&reply.status) {
            let handle = account
                .handle
                .as_deref()
                .unwrap_or(&current.did)
                .trim_start_matches('@');
            cid = reply.body["cid"].as_str().map(str::to_owned);
            Outcome::done(
                reply.body["uri"].as_str().map(str::to_owned),
                Some(format!("https://bsky.app/profile/{handle}/post/{rkey}")),
            )
        } else if reply.status == 429 || reply.status >= 500 {
            Outcome::retry(
                reply.retry_at,
                format!("Bluesky answered {}: {}", reply.status, reply.message()),
            )
        } else {
            Outcome::failed(format!(
                "Bluesky answered {}: {}",
                reply.status,
                reply.message()
            ))
        };
        *session = Some(current);
        (Attempt::new(outcome, exchange), cid)
    }
}

publisher_handler!(
    BlueskyHandler,
    crate::domain::network::Network::Bluesky,
    publish
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tids_are_13_sortable_characters() {
        let a: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let b = a + chrono::TimeDelta::microseconds(1);
        let (ta, tb) = (tid(a, 5), tid(b, 5));
        assert_eq!(ta.len(), 13);
        assert!(ta < tb, "{ta} < {tb}");
        assert!(ta.starts_with(|c: char| "234567abcdefghij".contains(c)));
        assert!(ta.chars().all(|c| BASE32_SORTABLE.contains(&(c as u8))));
        // 0 is "2222222222222".
        assert_eq!(
            tid(DateTime::from_timestamp(0, 0).unwrap(), 0),
            "2222222222222"
        );
    }

    #[test]
    fn bluesky_counts_graphemes_and_bytes() {
        let langs = vec!["es".to_owned()];
        // 300 family emoji: 300 graphemes but 18 bytes each.
        let families = "👨‍👩‍👧".repeat(150);
        assert!(check_length(&families, &langs).is_ok());
        assert!(check_length(&"👨‍👩‍👧".repeat(200), &langs).is_err());
        assert!(check_length(&"á".repeat(300), &langs).is_ok());
        assert!(check_length(&"á".repeat(301), &langs).is_err());
        let four: Vec<String> = ["es", "en", "fr", "de"].map(String::from).to_vec();
        assert!(check_length("hola", &four).is_err());
    }
}
