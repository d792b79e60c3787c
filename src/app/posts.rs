//! Social post variants (an activity's text per channel and language), their
//! check against the network's real limits, the channel accounts they go out
//! through, and the planning of their publication: at the activity's time,
//! one publish job per variant whose approved content stands, with an
//! idempotency key from the variant and that approved content.

use super::Context;
use super::entities::Activities;
use super::history::{self, Action, FieldChange};
use super::policy::{self, Operation};
use super::records;
use super::reviews::{self, Subject};
use crate::db::posts::Publication;
use crate::db::{self, DbConnection, channel_accounts, posts};
use crate::domain::activity::{Activity, ActivityKind, PostVariant};
use crate::domain::language::Language;
use crate::domain::review;
use crate::domain::timing::Timing;
use crate::error::{Error, Result};
use crate::jobs::NewJob;
use crate::jobs::outbound::Outbound;
use crate::jobs::sealed::Sealer;
use crate::social::{bluesky, mastodon};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A post whose time passed longer ago than this is not published any more
/// (a plan loaded late, a runner down for a day): a person decides.
pub const MAX_LATE: TimeDelta = TimeDelta::hours(24);

/// A channel account as the API shows it: never its credentials or session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelAccount {
    pub id: i64,
    /// `mastodon`, `bluesky`, `webhook` or `manual`.
    pub network: String,
    pub base_url: String,
    pub handle: Option<String>,
    /// The channel this account publishes for.
    pub channel_id: Option<i64>,
    pub has_credentials: bool,
    /// Mastodon: the instance's limits as last read (cached a day).
    #[schema(value_type = Option<Object>)]
    pub limits: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"network": "webhook", "base_url": "https://cms.example.org/hooks/pregon", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "channel_id": null})))]
pub struct ChannelAccountInput {
    /// `mastodon`, `bluesky` or `webhook` (a CMS: `base_url` receives each
    /// post signed per Standard Webhooks with `secret`, a `whsec_…`).
    #[schema(max_length = 20)]
    pub network: String,
    /// The Mastodon instance or the Bluesky PDS (e.g. https://bsky.social).
    #[schema(max_length = 2000)]
    pub base_url: String,
    /// Bluesky: the handle (or DID) to sign in with.
    #[schema(max_length = 300)]
    pub handle: Option<String>,
    /// The access token (Mastodon) or app password (Bluesky); stored
    /// encrypted, never shown again.
    #[schema(max_length = 2000)]
    pub secret: String,
    /// The channel (kind social) it publishes for.
    pub channel_id: Option<i64>,
}

fn account_view(row: &channel_accounts::Row) -> ChannelAccount {
    ChannelAccount {
        id: row.id,
        network: row.network.clone(),
        base_url: row.base_url.clone(),
        handle: row.handle.clone(),
        channel_id: row.channel_id,
        has_credentials: row.sealed_credentials.is_some(),
        limits: row
            .limits
            .as_deref()
            .and_then(|l| serde_json::from_str(l).ok()),
        created_at: db::utc(row.created_at),
    }
}

pub fn create_account(
    conn: &mut DbConnection,
    cx: &Context,
    sealer: &Sealer,
    input: &ChannelAccountInput,
) -> Result<ChannelAccount> {
    policy::require(&cx.actor, Operation::Administer)?;
    if !matches!(input.network.as_str(), "mastodon" | "bluesky" | "webhook") {
        return Err(Error::invalid("network", "mastodon, bluesky or webhook"));
    }
    let base_url = input.base_url.trim();
    if base_url.len() > 2000 {
        return Err(Error::invalid("base_url", "at most 2000 characters"));
    }
    let handle = input
        .handle
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty());
    if handle.is_some_and(|h| h.len() > 300) {
        return Err(Error::invalid("handle", "at most 300 characters"));
    }
    if input.network == "bluesky" && handle.is_none() {
        return Err(Error::invalid(
            "handle",
            "a Bluesky account signs in with its handle",
        ));
    }
    let secret = input.secret.trim();
    if secret.is_empty() || secret.len() > 2000 {
        return Err(Error::invalid("secret", "1 to 2000 characters"));
    }
    if input.network == "webhook" {
        crate::jobs::outbound::check_url(base_url, true)
            .map_err(|reason| Error::invalid("base_url", reason))?;
        let key = secret
            .strip_prefix("whsec_")
            .map(|k| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, k));
        if !matches!(key, Some(Ok(ref k)) if k.len() >= 24) {
            return Err(Error::invalid(
                "secret",
                "a Standard Webhooks secret: whsec_ and at least 24 bytes in base64",
            ));
        }
    }
    if let Some(channel) = input.channel_id {
        db::channels::get(conn, channel)
            .map_err(|_| Error::invalid("channel_id", "no such channel"))?;
        if channel_accounts::for_channel(conn, channel)?.is_some() {
            return Err(Error::invalid(
                "channel_id",
                "this channel already publishes through another account",
            ));
        }
    }
    let id = crate::social::accounts::create(
        conn,
        cx,
        sealer,
        &input.network,
        base_url,
        handle,
        secret,
    )?;
    if let Some(channel) = input.channel_id {
        channel_accounts::set_channel(conn, id, Some(channel), cx.now)?;
        history::record_in(
            conn,
            cx,
            "channel_account",
            id,
            Action::Updated,
            vec![FieldChange {
                field: "channel_id".into(),
                before: serde_json::Value::Null,
                after: channel.into(),
                personal: false,
            }],
        )?;
    }
    Ok(account_view(&channel_accounts::get(conn, id)?))
}

pub fn list_accounts(conn: &mut DbConnection, cx: &Context) -> Result<Vec<ChannelAccount>> {
    policy::require(&cx.actor, Operation::Administer)?;
    Ok(channel_accounts::list(conn)?
        .iter()
        .map(account_view)
        .collect())
}

/// What became of a variant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicationView {
    /// `queued`, `published`, `failed` or `unknown`.
    pub state: String,
    pub job_id: i64,
    pub remote_id: Option<String>,
    pub url: Option<String>,
    pub reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A variant with its length as its network counts it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VariantView {
    pub channel_id: i64,
    pub lang: Language,
    pub body: String,
    /// The channel's account, if one is linked (else it is not published).
    pub channel_account_id: Option<i64>,
    pub network: Option<String>,
    /// Its length as the network counts it, and the network's limit.
    pub length: Option<usize>,
    pub max_length: Option<usize>,
    /// Why it cannot be approved as it stands (too long, limits unknown).
    pub problem: Option<String>,
    /// Whether the activity's current approval covers exactly this text.
    pub approved: bool,
    pub publication: Option<PublicationView>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"body": "The Smart Cities Study is out: 24 cities on smart governance https://www.uclg.org/ #SmartCities"})))]
pub struct VariantInput {
    pub body: crate::domain::text::Text<5000>,
}

/// Length and limit of `body` on the account's network; `Err` says why it
/// does not fit. `None`: the channel has no account (nothing to check).
fn measure(
    account: Option<&channel_accounts::Row>,
    lang: Language,
    body: &str,
) -> Result<Option<(usize, usize)>> {
    let Some(account) = account else {
        return Ok(None);
    };
    match account.network.as_str() {
        "mastodon" => {
            let limits: mastodon::Limits = account
                .limits
                .as_deref()
                .and_then(|l| serde_json::from_str(l).ok())
                .ok_or_else(|| Error::Blocked {
                    kind: "limits-unknown",
                    message: "the Mastodon instance's limits have not been read yet".into(),
                })?;
            mastodon::check_length(limits, body, "")?;
            Ok(Some((
                crate::social::text::mastodon_length(body, "", limits.characters_reserved_per_url),
                limits.max_characters,
            )))
        }
        "bluesky" => {
            bluesky::check_length(body, &[lang.as_str().to_owned()])?;
            Ok(Some((
                crate::social::text::graphemes(body),
                crate::social::text::BLUESKY_MAX_GRAPHEMES,
            )))
        }
        _ => Ok(None),
    }
}

fn language(lang: &str) -> Result<Language> {
    lang.parse()
        .map_err(|_| Error::invalid("lang", "es, en or fr"))
}

fn variant_key(v: &PostVariant) -> String {
    format!("variant:{}:{}", v.channel_id, v.lang.as_str())
}

pub fn list(conn: &mut DbConnection, cx: &Context, activity_id: i64) -> Result<Vec<VariantView>> {
    policy::require(&cx.actor, Operation::Read)?;
    let activity = db::activities::get(conn, activity_id)?;
    views(conn, &activity)
}

fn views(conn: &mut DbConnection, activity: &Activity) -> Result<Vec<VariantView>> {
    let review = reviews::get(conn, Subject::Activity(activity.id))?;
    let current = review::activity_content(activity);
    let approved = review
        .approved_hash
        .filter(|_| review.state == crate::domain::review::ReviewState::Approved);
    let publications = posts::of_activity(conn, activity.id)?;
    let mut out = Vec::new();
    for v in &activity.post_variants {
        let account = channel_accounts::for_channel(conn, v.channel_id)?;
        let (length, max_length, problem) = match measure(account.as_ref(), v.lang, &v.body) {
            Ok(Some((l, m))) => (Some(l), Some(m), None),
            Ok(None) => (None, None, None),
            Err(e) => (None, None, Some(e.to_string())),
        };
        let key = variant_key(v);
        let publication = publications
            .iter()
            .find(|p| p.channel_id == v.channel_id && p.lang == v.lang.as_str())
            .map(|p| PublicationView {
                state: p.state.clone(),
                job_id: p.job_id,
                remote_id: p.remote_id.clone(),
                url: p.remote_url.clone(),
                reason: p.reason.clone(),
                updated_at: p.updated(),
            });
        out.push(VariantView {
            channel_id: v.channel_id,
            lang: v.lang,
            body: v.body.clone(),
            channel_account_id: account.as_ref().map(|a| a.id),
            network: account.as_ref().map(|a| a.network.clone()),
            length,
            max_length,
            problem,
            approved: approved
                .as_ref()
                .is_some_and(|a| a.get(&key).is_some() && a.get(&key) == current.get(&key)),
            publication,
        });
    }
    Ok(out)
}

/// Writes one variant's text (new or changed), as an edit of its activity:
/// in the activity's history, and a standing approval superseded.
pub fn put(
    conn: &mut DbConnection,
    cx: &Context,
    activity_id: i64,
    channel_id: i64,
    lang: &str,
    input: &VariantInput,
) -> Result<Vec<VariantView>> {
    policy::require(&cx.actor, Operation::Write)?;
    let activity = db::activities::get(conn, activity_id)?;
    let lang = language(lang)?;
    if activity.kind != ActivityKind::SocialPost {
        return Err(Error::invalid("activity", "variants are for social posts"));
    }
    if !activity.channel_ids.contains(&channel_id) {
        return Err(Error::invalid(
            "channel_id",
            "must be one of the activity's channel_ids",
        ));
    }
    let body = input.body.as_str().to_owned();
    let account = channel_accounts::for_channel(conn, channel_id)?;
    measure(account.as_ref(), lang, &body)?;
    let mut valid = super::imports::as_valid(&activity);
    match valid
        .post_variants
        .iter_mut()
        .find(|v| v.channel_id == channel_id && v.lang == lang)
    {
        Some(v) if v.body == body => return views(conn, &activity),
        Some(v) => v.body = body,
        None => valid.post_variants.push(PostVariant {
            channel_id,
            lang,
            body,
        }),
    }
    let version = activity.version;
    let after = records::update_by::<Activities>(conn, cx, activity_id, |c| {
        db::activities::update(c, activity_id, version, &valid, cx.now)
    })?;
    views(conn, &after)
}

/// Removes one variant (administrators), as an edit of its activity. A
/// variant already published keeps its publication record.
pub fn delete(
    conn: &mut DbConnection,
    cx: &Context,
    activity_id: i64,
    channel_id: i64,
    lang: &str,
) -> Result<()> {
    policy::require(&cx.actor, Operation::Delete)?;
    let activity = db::activities::get(conn, activity_id)?;
    let lang = language(lang)?;
    let mut valid = super::imports::as_valid(&activity);
    let before = valid.post_variants.len();
    valid
        .post_variants
        .retain(|v| !(v.channel_id == channel_id && v.lang == lang));
    if valid.post_variants.len() == before {
        return Err(Error::not_found(
            "post variant",
            format!("{channel_id}/{lang}"),
        ));
    }
    let version = activity.version;
    records::update_by::<Activities>(conn, cx, activity_id, |c| {
        db::activities::update(c, activity_id, version, &valid, cx.now)
    })?;
    Ok(())
}

/// Before an approval: every variant on a channel with an account fits its
/// network's limits (Mastodon's as its instance says, read beforehand by
/// `warm_limits`); the first that does not is named.
pub fn require_valid(conn: &mut DbConnection, activity_id: i64) -> Result<()> {
    let activity = db::activities::get(conn, activity_id)?;
    for (i, v) in activity.post_variants.iter().enumerate() {
        let account = channel_accounts::for_channel(conn, v.channel_id)?;
        measure(account.as_ref(), v.lang, &v.body).map_err(|e| match e {
            Error::Invalid { message, .. } => {
                Error::invalid(format!("post_variants[{i}].body"), message)
            }
            other => other,
        })?;
    }
    Ok(())
}

/// The outbound client for reading instances' limits, from the configuration.
pub fn outbound(settings: &crate::config::Settings) -> Result<Outbound> {
    Outbound::new(
        std::time::Duration::from_secs(settings.webhooks.timeout_secs.max(1)),
        settings.webhooks.allow_private,
    )
    .map_err(Error::Internal)
}

/// Reads (or takes from the day's cache) the limits of the Mastodon
/// instances the activity's variants go to; `channel`: only that one.
pub async fn warm_limits(
    database: &crate::db::Db,
    outbound: &Outbound,
    activity_id: i64,
    channel: Option<i64>,
    now: DateTime<Utc>,
) -> Result<()> {
    let accounts = database
        .run(move |c| {
            let activity = match db::activities::get(c, activity_id) {
                Ok(a) => a,
                // The operation itself answers for a missing activity.
                Err(Error::NotFound { .. }) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut channels: Vec<i64> = match channel {
                Some(ch) => vec![ch],
                None => activity
                    .post_variants
                    .iter()
                    .map(|v| v.channel_id)
                    .collect(),
            };
            channels.sort_unstable();
            channels.dedup();
            let mut out = Vec::new();
            for ch in channels {
                if let Some(a) = channel_accounts::for_channel(c, ch)?
                    && a.network == "mastodon"
                {
                    out.push(a.id);
                }
            }
            Ok(out)
        })
        .await?;
    for account in accounts {
        mastodon::limits(database, outbound, account, now).await?;
    }
    Ok(())
}

/// The instant a post is due: exact timings at their start, whole days at
/// 00:00 UTC of the first; month-only and TBC posts are not due yet.
fn due_at(activity: &Activity) -> Option<DateTime<Utc>> {
    match &activity.timing {
        t @ Timing::Exact { .. } => t.instants().map(|(start, _)| start),
        Timing::Days { start, .. } => Some(start.and_time(chrono::NaiveTime::MIN).and_utc()),
        _ => None,
    }
}

/// The revision of an approved content hash, as the number Mastodon's
/// idempotency key is derived from (60 bits of the hash).
fn revision_of(hash: &str) -> i64 {
    i64::from_str_radix(hash.get(..15).unwrap_or("0"), 16).unwrap_or(0)
}

/// Creates the publish job of every variant that is due now (its activity's
/// time came, less than `MAX_LATE` ago), approved as it stands, on a channel
/// with an account, and not published before; each with its publication
/// record, in the planner's transaction. Returns how many jobs it created.
pub fn schedule_due(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize> {
    let mut created = 0;
    for id in posts::unpublished_activities(conn)? {
        let activity = db::activities::get(conn, id)?;
        let Some(at) = due_at(&activity) else {
            continue;
        };
        if at > now || now - at > MAX_LATE {
            continue;
        }
        if reviews::require_approved(conn, Subject::Activity(id)).is_err() {
            continue;
        }
        let hashes = review::activity_content(&activity);
        let done = posts::of_activity(conn, id)?;
        for v in &activity.post_variants {
            if done
                .iter()
                .any(|p| p.channel_id == v.channel_id && p.lang == v.lang.as_str())
            {
                continue;
            }
            let Some(account) = channel_accounts::for_channel(conn, v.channel_id)? else {
                continue;
            };
            let Some(hash) = hashes.get(&variant_key(v)) else {
                continue;
            };
            let variant = format!("activity:{id}:channel:{}:{}", v.channel_id, v.lang.as_str());
            let key = format!("{variant}:{}", hash.get(..16).unwrap_or(hash));
            let job = match account.network.as_str() {
                "mastodon" => {
                    let post = mastodon::Post {
                        account_id: account.id,
                        variant,
                        revision: revision_of(hash),
                        status: v.body.clone(),
                        language: v.lang.as_str().to_owned(),
                        spoiler_text: None,
                    };
                    crate::jobs::enqueue(
                        conn,
                        &NewJob {
                            kind: mastodon::KIND,
                            key,
                            payload: serde_json::to_value(&post).unwrap_or_default(),
                            due_at: at,
                        },
                        now,
                    )?
                }
                "bluesky" => {
                    let post = bluesky::Post::new(
                        account.id,
                        variant,
                        v.body.clone(),
                        vec![v.lang.as_str().to_owned()],
                        now,
                    );
                    bluesky::enqueue(conn, &key, &post, at, now)?
                }
                "webhook" => {
                    let data = serde_json::json!({
                        "activity_id": id,
                        "activity_uid": activity.uid,
                        "channel_id": v.channel_id,
                        "lang": v.lang,
                        "title": activity.translations.get(&v.lang).map(|t| &t.title),
                        "text": v.body,
                        "time": at,
                    });
                    crate::social::cms::enqueue(conn, account.id, &key, data, at, now)?
                }
                _ => continue,
            };
            posts::insert(
                conn,
                &Publication {
                    activity_id: id,
                    channel_id: v.channel_id,
                    lang: v.lang.as_str().to_owned(),
                    channel_account_id: account.id,
                    content_hash: hash.clone(),
                    job_id: job.id,
                    state: "queued".into(),
                    remote_id: None,
                    remote_url: None,
                    reason: None,
                    created_at: now.naive_utc(),
                    updated_at: now.naive_utc(),
                },
            )?;
            created += usize::from(job.created);
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_is_sixty_bits_of_the_hash() {
        assert_eq!(revision_of("000000000000001ff"), 1);
        assert_eq!(revision_of("fffffffffffffffff"), (1 << 60) - 1);
        assert_ne!(
            revision_of("a1b2c3d4e5f6a70"),
            revision_of("a1b2c3d4e5f6a71")
        );
    }
}
