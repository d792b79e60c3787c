//! Publishing to Mastodon exactly once. `POST /api/v1/statuses` carries
//! `language` and an `Idempotency-Key` derived from the variant and its
//! approved revision: the same on every retry, and Mastodon answers a
//! repeated key (kept an hour per account) with the status it created.
//! An outcome nobody saw (a timeout after the request went out) is checked
//! by posting again with that key inside the hour, and after it by reading
//! the account's recent statuses before posting again.
//!
//! A thread is one job that walks its parts in order: part n+1 is a status
//! `in_reply_to_id` part n, each with its own Idempotency-Key (variant,
//! revision and part index). Each part's id and URL is stored as it goes out
//! (`post_parts`), so a retry resumes at the first part not yet published.

use crate::clock::SharedClock;
use crate::db::{Db, channel_accounts, posts};
use crate::error::{Error, Result};
use crate::jobs::outbound::{self, NoAnswer, Outbound};
use crate::jobs::sealed::Sealer;
use crate::jobs::{Attempt, Exchange, Job, NewJob, Outcome};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const KIND: &str = "social.mastodon";

/// How long Mastodon keeps an idempotency key (an hour), less a margin.
pub const KEY_WINDOW: TimeDelta = TimeDelta::minutes(55);

/// How long the instance's limits are cached.
pub const LIMITS_TTL: TimeDelta = TimeDelta::hours(24);

/// An instance's status limits, from `/api/v2/instance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_characters: usize,
    pub characters_reserved_per_url: usize,
    /// `configuration.media_attachments.image_size_limit` (bytes), when the
    /// instance says (limits cached before it was read have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size_limit: Option<u64>,
}

/// The instance's limits, cached on the account for `LIMITS_TTL`.
pub async fn limits(
    db: &Db,
    outbound: &Outbound,
    account_id: i64,
    now: DateTime<Utc>,
) -> Result<Limits> {
    let account = db
        .run(move |c| channel_accounts::get(c, account_id))
        .await?;
    if let (Some(text), Some(at)) = (&account.limits, account.limits_fetched_at())
        && now - at < LIMITS_TTL
        && let Ok(limits) = serde_json::from_str::<Limits>(text)
    {
        return Ok(limits);
    }
    let url = format!("{}/api/v2/instance", account.base_url.trim_end_matches('/'));
    let url = outbound
        .check(&url)
        .map_err(|e| Error::invalid("base_url", e))?;
    let unreachable = |e: String| Error::Blocked {
        kind: "instance-unreachable",
        message: format!("cannot read the instance's limits: {e}"),
    };
    let response = outbound
        .client()
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(unreachable(format!("it answered {}", response.status())));
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let statuses = &body["configuration"]["statuses"];
    let limits = Limits {
        max_characters: statuses["max_characters"].as_u64().unwrap_or(500) as usize,
        characters_reserved_per_url: statuses["characters_reserved_per_url"]
            .as_u64()
            .unwrap_or(23) as usize,
        image_size_limit: body["configuration"]["media_attachments"]["image_size_limit"].as_u64(),
    };
    let text = serde_json::to_string(&limits).unwrap_or_default();
    db.transaction(move |c| channel_accounts::set_limits(c, account_id, &text, now))
        .await?;
    Ok(limits)
}

/// Refuses a status longer than the instance allows, saying by how much.
pub fn check_length(limits: Limits, text: &str, content_warning: &str) -> Result<()> {
    let length = crate::social::text::mastodon_length(
        text,
        content_warning,
        limits.characters_reserved_per_url,
    );
    if length > limits.max_characters {
        return Err(Error::invalid(
            "body",
            format!(
                "{length} characters as Mastodon counts them (URLs as {}, mentions without their \
                 domain); this instance allows {}",
                limits.characters_reserved_per_url, limits.max_characters
            ),
        ));
    }
    Ok(())
}

/// The same for every attempt of one approved revision of one variant.
pub fn idempotency_key(variant: &str, revision: i64) -> String {
    let digest = Sha256::digest(format!("pregon:{variant}:{revision}").as_bytes());
    hex::encode(&digest[..16])
}

/// The key of one part of a thread (0: the post itself, whose key is the
/// variant's as before threads).
pub fn part_key(variant: &str, revision: i64, part: usize) -> String {
    if part == 0 {
        idempotency_key(variant, revision)
    } else {
        idempotency_key(&format!("{variant}:part:{part}"), revision)
    }
}

/// What a Mastodon post job carries (no credentials: those stay sealed on
/// the account).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Post {
    pub account_id: i64,
    /// The variant's stable name, e.g. "activity:12:variant:3:es".
    pub variant: String,
    /// Its approved revision.
    pub revision: i64,
    pub status: String,
    pub language: String,
    /// Sent with every part of a thread.
    pub spoiler_text: Option<String>,
    /// A thread's parts after `status`, in order (empty: a single post).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<String>,
    /// Images, each uploaded (`POST /api/v2/media` with its alt text as
    /// `description`) before the part it goes with, then in its `media_ids`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<super::MediaItem>,
}

impl Post {
    /// Every part's text in order.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.status.as_str()).chain(self.thread.iter().map(String::as_str))
    }
}

/// The job that publishes `post` at `due_at`, created with the caller's
/// connection; checked against the instance's limits first.
pub fn enqueue(
    conn: &mut crate::db::DbConnection,
    post: &Post,
    limits: Limits,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<crate::jobs::Enqueued> {
    for part in post.parts() {
        check_length(limits, part, post.spoiler_text.as_deref().unwrap_or(""))?;
    }
    crate::jobs::enqueue(
        conn,
        &NewJob {
            kind: KIND,
            key: format!("{}:{}", post.variant, post.revision),
            payload: serde_json::to_value(post).unwrap_or_default(),
            due_at,
        },
        now,
    )
}

pub struct MastodonHandler {
    db: Db,
    outbound: Outbound,
    sealer: Sealer,
    clock: SharedClock,
}

/// Text of an HTML status, for comparing with what was sent.
fn plain(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl MastodonHandler {
    pub fn new(db: Db, outbound: Outbound, sealer: Sealer, clock: SharedClock) -> MastodonHandler {
        MastodonHandler {
            db,
            outbound,
            sealer,
            clock,
        }
    }

    /// The status among the account's recent ones that is this post, if any.
    async fn find_recent(
        &self,
        base: &str,
        token: &str,
        text: &str,
        since: DateTime<Utc>,
    ) -> std::result::Result<Option<(String, Option<String>)>, String> {
        let client = self.outbound.client();
        let me: Value = client
            .get(format!("{base}/api/v1/accounts/verify_credentials"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let id = me["id"].as_str().ok_or("no account id")?;
        let statuses: Vec<Value> = client
            .get(format!("{base}/api/v1/accounts/{id}/statuses?limit=40"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let wanted = plain(text);
        Ok(statuses
            .iter()
            .find(|s| {
                let created = s["created_at"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc));
                created.is_none_or(|t| t >= since - TimeDelta::minutes(5))
                    && plain(s["content"].as_str().unwrap_or("")) == wanted
            })
            .map(|s| {
                (
                    s["id"].as_str().unwrap_or_default().to_owned(),
                    s["url"].as_str().map(str::to_owned),
                )
            }))
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
        let (account, token) = match super::account_and_secret(
            &self.db,
            &self.sealer,
            post.account_id,
            "access token",
        )
        .await
        {
            Ok(found) => found,
            Err(attempt) => return attempt,
        };
        let base = account.base_url.trim_end_matches('/').to_owned();
        if post.thread.is_empty() {
            return self
                .post_part(job, &post, &base, &token, 0, &post.status, None)
                .await;
        }
        // A thread: the parts already out are skipped, the rest posted in
        // order, each replying to the one before.
        let job_id = job.id;
        let stored = match self.db.run(move |c| posts::parts(c, job_id)).await {
            Ok(parts) => parts,
            Err(e) => {
                return Attempt::new(Outcome::retry(None, e.to_string()), Exchange::default());
            }
        };
        let mut parent: Option<String> = None;
        let mut first: (Option<String>, Option<String>) = (None, None);
        let mut requests = Vec::new();
        let mut last = Exchange::default();
        for (index, text) in post.parts().enumerate() {
            let part = i32::try_from(index).unwrap_or(i32::MAX);
            if let Some(done) = stored
                .iter()
                .find(|p| p.part == part && p.remote_id.is_some())
            {
                parent = done.remote_id.clone();
                if index == 0 {
                    first = (done.remote_id.clone(), done.remote_url.clone());
                }
                continue;
            }
            let attempt = self
                .post_part(job, &post, &base, &token, index, text, parent.as_deref())
                .await;
            requests.extend(attempt.exchange.request.clone());
            let Outcome::Done {
                remote_id,
                remote_url,
            } = &attempt.outcome
            else {
                let mut attempt = attempt;
                attempt.exchange.request = Some(requests.join("\n"));
                return attempt;
            };
            let (id, url, now) = (remote_id.clone(), remote_url.clone(), self.clock.now());
            let stored = self
                .db
                .transaction(move |c| {
                    posts::part_done(c, job_id, part, id.as_deref(), None, url.as_deref(), now)
                })
                .await;
            if let Err(e) = stored {
                return Attempt::new(
                    Outcome::Unknown {
                        how_to_check: format!(
                            "part {} went out but could not be recorded ({e}); the retry posts it \
                             again with the same Idempotency-Key",
                            index + 1
                        ),
                        check_at: Some(now),
                    },
                    attempt.exchange,
                );
            }
            if index == 0 {
                first = (remote_id.clone(), remote_url.clone());
            }
            parent = remote_id.clone();
            last = attempt.exchange;
        }
        last.request = Some(requests.join("\n"));
        Attempt::new(Outcome::done(first.0, first.1), last)
    }

    /// The instance's id of an image: the one this job uploaded before, or
    /// uploaded now (`POST /api/v2/media`, multipart, `description` = alt).
    async fn upload(
        &self,
        job: &Job,
        base: &str,
        token: &str,
        item: &super::MediaItem,
    ) -> std::result::Result<String, Attempt> {
        let url = format!("{base}/api/v2/media");
        let exchange = || Exchange {
            request: Some(format!("POST {url} image={} ({})", item.id, item.mime_type)),
            ..Exchange::default()
        };
        let retry = |why: String| Attempt::new(Outcome::retry(None, why), exchange());
        if let Some(id) = super::stored_upload(&self.db, job.id, item.id)
            .await
            .map_err(retry)?
        {
            return Ok(id);
        }
        let data = super::media_bytes(&self.db, item.id)
            .await
            .map_err(|e| Attempt::new(Outcome::failed(e), exchange()))?;
        let checked = self
            .outbound
            .check(&url)
            .map_err(|e| Attempt::new(Outcome::failed(e), exchange()))?;
        let boundary = format!("pregon-{}", hex::encode(rand::random::<[u8; 12]>()));
        let mut form = Vec::with_capacity(data.len() + 512);
        form.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n{}\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"image\"\r\n\
                 Content-Type: {}\r\n\r\n",
                item.alt, item.mime_type
            )
            .as_bytes(),
        );
        form.extend_from_slice(&data);
        form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let sent = self
            .outbound
            .client()
            .post(checked)
            .bearer_auth(token)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(form)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            // An upload seen or not is harmless to repeat: an unused
            // upload is dropped by the instance.
            Err(e) => return Err(retry(format!("uploading image {}: {e}", item.id))),
        };
        let status = response.status();
        let at = outbound::retry_after(response.headers(), self.clock.now());
        let reply: Value = response.json().await.unwrap_or(Value::Null);
        let mut exchange = exchange();
        exchange.status = Some(status.as_u16());
        exchange.reply = Some(reply.to_string().chars().take(2000).collect());
        match reply["id"].as_str() {
            Some(id) if status.is_success() => {
                super::store_upload(&self.db, job.id, item.id, id.to_owned(), self.clock.now())
                    .await
                    .map_err(|e| Attempt::new(Outcome::retry(None, e), exchange))
            }
            _ if status.as_u16() == 429 || status.is_server_error() || status.is_success() => {
                Err(Attempt::new(
                    Outcome::retry(at, format!("Mastodon answered {status} to the upload")),
                    exchange,
                ))
            }
            _ => Err(Attempt::new(
                Outcome::failed(format!(
                    "Mastodon refused image {}: {status}: {}",
                    item.id,
                    reply["error"].as_str().unwrap_or("(no message)")
                )),
                exchange,
            )),
        }
    }

    /// Posts one part (0: the post itself), replying to `parent` if given.
    #[allow(clippy::too_many_arguments)]
    async fn post_part(
        &self,
        job: &Job,
        post: &Post,
        base: &str,
        token: &str,
        index: usize,
        text: &str,
        parent: Option<&str>,
    ) -> Attempt {
        let now = self.clock.now();
        let key = part_key(&post.variant, post.revision, index);
        let mut exchange = Exchange {
            request: Some(format!(
                "POST {base}/api/v1/statuses language={} Idempotency-Key={key}{}",
                post.language,
                if post.thread.is_empty() {
                    String::new()
                } else {
                    format!(" part={}", index + 1)
                }
            )),
            ..Exchange::default()
        };
        // Past the key's hour, an earlier unseen outcome is read back first.
        if job.unknown_outcomes > 0 && now - job.first_attempt_at >= KEY_WINDOW {
            match self
                .find_recent(base, token, text, job.first_attempt_at)
                .await
            {
                Ok(Some((id, url))) => {
                    exchange.request =
                        Some(format!("GET {base}/api/v1/accounts/…/statuses (reconcile)"));
                    exchange.reply = Some(format!("found status {id}"));
                    return Attempt::new(Outcome::done(Some(id), url), exchange);
                }
                Ok(None) => {}
                Err(e) => {
                    return Attempt::new(
                        Outcome::Unknown {
                            how_to_check: format!(
                                "look for the post on {base}; reading it back failed: {e}"
                            ),
                            check_at: Some(now + TimeDelta::minutes(5)),
                        },
                        exchange,
                    );
                }
            }
        }
        let mut body = json!({
            "status": text,
            "language": post.language,
            "visibility": "public",
        });
        if let Some(cw) = &post.spoiler_text {
            body["spoiler_text"] = json!(cw);
        }
        if let Some(parent) = parent {
            body["in_reply_to_id"] = json!(parent);
        }
        let mut media_ids = Vec::new();
        for item in post.media.iter().filter(|m| m.part == index) {
            match self.upload(job, base, token, item).await {
                Ok(id) => media_ids.push(id),
                Err(attempt) => return attempt,
            }
        }
        if !media_ids.is_empty() {
            body["media_ids"] = json!(media_ids);
        }
        let url = match self.outbound.check(&format!("{base}/api/v1/statuses")) {
            Ok(url) => url,
            Err(e) => return Attempt::new(Outcome::failed(e), exchange),
        };
        let sent = self
            .outbound
            .client()
            .post(url)
            .bearer_auth(token)
            .header("Idempotency-Key", &key)
            .json(&body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(error) => {
                let outcome = match outbound::classify(&error) {
                    NoAnswer::Refused(reason) => Outcome::failed(reason),
                    NoAnswer::NotSent(reason) => Outcome::retry(None, reason),
                    NoAnswer::MaybeSent(reason) => Outcome::Unknown {
                        how_to_check: format!(
                            "{reason}; the post may exist: posting again with the same \
                             Idempotency-Key within the hour, reading the account's statuses after it"
                        ),
                        check_at: Some(now),
                    },
                };
                return Attempt::new(outcome, exchange);
            }
        };
        let status = response.status();
        let at = outbound::retry_after(response.headers(), self.clock.now());
        let reply: Value = response.json().await.unwrap_or(Value::Null);
        exchange.status = Some(status.as_u16());
        exchange.reply = Some(reply.to_string().chars().take(2000).collect());
        let outcome = if status.is_success() {
            Outcome::done(
                reply["id"].as_str().map(str::to_owned),
                reply["url"].as_str().map(str::to_owned),
            )
        } else if status.as_u16() == 429 || status.is_server_error() {
            Outcome::retry(at, format!("Mastodon answered {status}"))
        } else {
            Outcome::failed(format!(
                "Mastodon answered {status}: {}",
                reply["error"].as_str().unwrap_or("(no message)")
            ))
        };
        Attempt::new(outcome, exchange)
    }
}

publisher_handler!(
    MastodonHandler,
    crate::domain::network::Network::Mastodon,
    publish
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_depends_on_variant_and_revision_only() {
        assert_eq!(idempotency_key("a:1:es", 3), idempotency_key("a:1:es", 3));
        assert_ne!(idempotency_key("a:1:es", 3), idempotency_key("a:1:es", 4));
        assert_ne!(idempotency_key("a:1:es", 3), idempotency_key("a:1:en", 3));
        assert_eq!(
            plain("<p>Hola &amp; <a href=\"x\">adiós</a></p>"),
            "Hola & adiós"
        );
    }
}
