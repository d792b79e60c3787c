//! Queries on what became of post variants (`post_publications`) and on the
//! Bluesky records stored before their first attempt, and on the parts of
//! a thread (`post_parts`).

use super::outbound_schema::{
    bluesky_records, channel_accounts, manual_done_links, manual_post_deliveries, post_media,
    post_media_uploads, post_parts, post_publications,
};
use super::{DbConnection, utc};
use crate::domain::network::PublicationState;
use crate::domain::{ActivityKind, ActivityStatus};
use crate::error::Result;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = post_publications)]
pub struct Publication {
    pub activity_id: i64,
    pub channel_id: i64,
    pub lang: String,
    pub channel_account_id: i64,
    pub content_hash: String,
    pub job_id: i64,
    pub state: PublicationState,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Publication {
    pub fn updated(&self) -> DateTime<Utc> {
        utc(self.updated_at)
    }
}

pub fn insert(conn: &mut DbConnection, row: &Publication) -> Result<()> {
    diesel::insert_into(post_publications::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn of_activity(conn: &mut DbConnection, activity_id: i64) -> Result<Vec<Publication>> {
    Ok(post_publications::table
        .filter(post_publications::activity_id.eq(activity_id))
        .order((post_publications::channel_id, post_publications::lang))
        .select(Publication::as_select())
        .load(conn)?)
}

pub fn by_job(conn: &mut DbConnection, job_id: i64) -> Result<Option<Publication>> {
    Ok(post_publications::table
        .filter(post_publications::job_id.eq(job_id))
        .select(Publication::as_select())
        .first(conn)
        .optional()?)
}

/// Records how the publishing job ended.
pub fn finish(
    conn: &mut DbConnection,
    job_id: i64,
    state: PublicationState,
    remote_id: Option<&str>,
    remote_url: Option<&str>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<usize> {
    Ok(
        diesel::update(post_publications::table.filter(post_publications::job_id.eq(job_id)))
            .set((
                post_publications::state.eq(state),
                post_publications::remote_id.eq(remote_id),
                post_publications::remote_url.eq(remote_url),
                post_publications::reason.eq(reason),
                post_publications::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?,
    )
}

/// The publication of one variant, if it was planned.
pub fn of_variant(
    conn: &mut DbConnection,
    activity_id: i64,
    channel_id: i64,
    lang: &str,
) -> Result<Option<Publication>> {
    Ok(post_publications::table
        .find((activity_id, channel_id, lang))
        .select(Publication::as_select())
        .first(conn)
        .optional()?)
}

/// Marks a manual variant published where its owner says it was posted,
/// unless it is published already; returns whether it changed.
pub fn mark_posted(
    conn: &mut DbConnection,
    job_id: i64,
    url: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(diesel::update(
        post_publications::table
            .filter(post_publications::job_id.eq(job_id))
            .filter(post_publications::state.ne(PublicationState::Published)),
    )
    .set((
        post_publications::state.eq(PublicationState::Published),
        post_publications::remote_url.eq(url),
        post_publications::reason.eq(None::<String>),
        post_publications::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?
        == 1)
}

/// A one-time "it is posted" link of a manual post's email (its token only
/// as a hash).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = manual_done_links)]
pub struct DoneLink {
    pub token_hash: String,
    pub job_id: i64,
    pub lang: String,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub fn insert_done_link(
    conn: &mut DbConnection,
    token_hash: &str,
    job_id: i64,
    lang: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::insert_into(manual_done_links::table)
        .values((
            manual_done_links::token_hash.eq(token_hash),
            manual_done_links::job_id.eq(job_id),
            manual_done_links::lang.eq(lang),
            manual_done_links::expires_at.eq(expires_at.naive_utc()),
            manual_done_links::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn done_link(conn: &mut DbConnection, token_hash: &str) -> Result<Option<DoneLink>> {
    Ok(manual_done_links::table
        .find(token_hash)
        .select(DoneLink::as_select())
        .first(conn)
        .optional()?)
}

/// The recipients (`account:{id}`, an address, `owner`) a manual post's
/// job (or its reminder's) has sent its email to.
pub fn delivered(conn: &mut DbConnection, job_id: i64) -> Result<Vec<String>> {
    Ok(manual_post_deliveries::table
        .filter(manual_post_deliveries::job_id.eq(job_id))
        .select(manual_post_deliveries::recipient)
        .load(conn)?)
}

/// Records that the job's email to `recipient` was accepted by the relay
/// (once: a second record of the same is a no-op).
pub fn record_delivery(
    conn: &mut DbConnection,
    job_id: i64,
    recipient: &str,
    message_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let row = (
        manual_post_deliveries::job_id.eq(job_id),
        manual_post_deliveries::recipient.eq(recipient),
        manual_post_deliveries::message_id.eq(message_id),
        manual_post_deliveries::sent_at.eq(now.naive_utc()),
    );
    // The key is (job, recipient): a second record is no row.
    super::on_backend!(conn, |c| diesel::insert_into(manual_post_deliveries::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Uses up every link of the job (all its emails' links work once in all);
/// returns how many were still unused.
pub fn use_done_links(conn: &mut DbConnection, job_id: i64, now: DateTime<Utc>) -> Result<usize> {
    Ok(diesel::update(
        manual_done_links::table
            .filter(manual_done_links::job_id.eq(job_id))
            .filter(manual_done_links::used_at.is_null()),
    )
    .set(manual_done_links::used_at.eq(Some(now.naive_utc())))
    .execute(conn)?)
}

/// An activity in one of these states publishes nothing more.
const CLOSED: [ActivityStatus; 3] = [
    ActivityStatus::Cancelled,
    ActivityStatus::Failed,
    ActivityStatus::Done,
];

/// Social posts still open (not cancelled, failed or done) with a variant
/// on `channel_id`.
pub fn open_activities_on_channel(conn: &mut DbConnection, channel_id: i64) -> Result<Vec<i64>> {
    use super::schema::{activities, post_variants};
    let mut ids: Vec<i64> = post_variants::table
        .inner_join(activities::table.on(activities::id.eq(post_variants::activity_id)))
        .filter(post_variants::channel_id.eq(channel_id))
        .filter(activities::kind.eq(ActivityKind::SocialPost))
        .filter(activities::status.ne_all(CLOSED))
        .select(activities::id)
        .load(conn)?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Activities with a variant on a channel that has an account and no
/// publication yet: the planner's candidates.
pub fn unpublished_activities(conn: &mut DbConnection) -> Result<Vec<i64>> {
    use super::schema::{activities, post_variants};
    let channels: Vec<i64> = channel_accounts::table
        .filter(channel_accounts::channel_id.is_not_null())
        .select(channel_accounts::channel_id.assume_not_null())
        .load(conn)?;
    if channels.is_empty() {
        return Ok(Vec::new());
    }
    let open: Vec<i64> = activities::table
        .filter(activities::kind.eq(ActivityKind::SocialPost))
        .filter(activities::status.ne_all(CLOSED))
        .select(activities::id)
        .load(conn)?;
    if open.is_empty() {
        return Ok(Vec::new());
    }
    let linked: Vec<(i64, i64, String)> = post_variants::table
        .filter(post_variants::channel_id.eq_any(&channels))
        .filter(post_variants::activity_id.eq_any(&open))
        .select((
            post_variants::activity_id,
            post_variants::channel_id,
            post_variants::lang,
        ))
        .load(conn)?;
    if linked.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<i64> = linked.iter().map(|(a, _, _)| *a).collect();
    ids.sort_unstable();
    ids.dedup();
    let done: std::collections::HashSet<(i64, i64, String)> = post_publications::table
        .filter(post_publications::activity_id.eq_any(&ids))
        .select((
            post_publications::activity_id,
            post_publications::channel_id,
            post_publications::lang,
        ))
        .load::<(i64, i64, String)>(conn)?
        .into_iter()
        .collect();
    let mut out: Vec<i64> = linked
        .into_iter()
        .filter(|k| !done.contains(k))
        .map(|(a, _, _)| a)
        .collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The stored record of a Bluesky job: (rkey, record JSON).
pub fn bluesky_record(conn: &mut DbConnection, job_id: i64) -> Result<Option<(String, String)>> {
    Ok(bluesky_records::table
        .find(job_id)
        .select((bluesky_records::rkey, bluesky_records::record))
        .first(conn)
        .optional()?)
}

/// Stores the record unless one is stored for the job already; returns the
/// stored one either way.
pub fn store_bluesky_record(
    conn: &mut DbConnection,
    job_id: i64,
    rkey: &str,
    record: &str,
    now: DateTime<Utc>,
) -> Result<(String, String)> {
    if let Some(stored) = bluesky_record(conn, job_id)? {
        return Ok(stored);
    }
    diesel::insert_into(bluesky_records::table)
        .values((
            bluesky_records::job_id.eq(job_id),
            bluesky_records::rkey.eq(rkey),
            bluesky_records::record.eq(record),
            bluesky_records::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok((rkey.to_owned(), record.to_owned()))
}

/// A part of a post job, as stored (`part` 0 is the post itself).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = post_parts)]
pub struct Part {
    pub job_id: i64,
    pub part: i32,
    pub rkey: Option<String>,
    pub record: Option<String>,
    pub remote_id: Option<String>,
    pub cid: Option<String>,
    pub remote_url: Option<String>,
}

/// The stored parts of a job, in order.
pub fn parts(conn: &mut DbConnection, job_id: i64) -> Result<Vec<Part>> {
    Ok(post_parts::table
        .filter(post_parts::job_id.eq(job_id))
        .order(post_parts::part)
        .select(Part::as_select())
        .load(conn)?)
}

fn part(conn: &mut DbConnection, job_id: i64, part: i32) -> Result<Option<Part>> {
    Ok(post_parts::table
        .find((job_id, part))
        .select(Part::as_select())
        .first(conn)
        .optional()?)
}

/// Stores a Bluesky part's key and exact record unless one is stored for
/// it already; returns the stored (rkey, record) either way, and whether it
/// was stored now (then it has never been sent).
pub fn store_part_record(
    conn: &mut DbConnection,
    job_id: i64,
    index: i32,
    rkey: &str,
    record: &str,
    now: DateTime<Utc>,
) -> Result<(String, String, bool)> {
    match part(conn, job_id, index)? {
        Some(Part {
            rkey: Some(rkey),
            record: Some(record),
            ..
        }) => return Ok((rkey, record, false)),
        Some(_) => {
            diesel::update(post_parts::table.find((job_id, index)))
                .set((
                    post_parts::rkey.eq(rkey),
                    post_parts::record.eq(record),
                    post_parts::updated_at.eq(now.naive_utc()),
                ))
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(post_parts::table)
                .values((
                    post_parts::job_id.eq(job_id),
                    post_parts::part.eq(index),
                    post_parts::rkey.eq(rkey),
                    post_parts::record.eq(record),
                    post_parts::created_at.eq(now.naive_utc()),
                    post_parts::updated_at.eq(now.naive_utc()),
                ))
                .execute(conn)?;
        }
    }
    Ok((rkey.to_owned(), record.to_owned(), true))
}

/// Records that a part went out (its remote id, CID, URL): a retry of the
/// job resumes after it.
pub fn part_done(
    conn: &mut DbConnection,
    job_id: i64,
    index: i32,
    remote_id: Option<&str>,
    cid: Option<&str>,
    remote_url: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    if part(conn, job_id, index)?.is_some() {
        diesel::update(post_parts::table.find((job_id, index)))
            .set((
                post_parts::remote_id.eq(remote_id),
                post_parts::cid.eq(cid),
                post_parts::remote_url.eq(remote_url),
                post_parts::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(post_parts::table)
            .values((
                post_parts::job_id.eq(job_id),
                post_parts::part.eq(index),
                post_parts::remote_id.eq(remote_id),
                post_parts::cid.eq(cid),
                post_parts::remote_url.eq(remote_url),
                post_parts::created_at.eq(now.naive_utc()),
                post_parts::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// An image attached to a variant, without its bytes.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = post_media)]
pub struct Media {
    pub id: i64,
    pub activity_id: i64,
    pub channel_id: i64,
    pub lang: String,
    /// 0: the post itself, 1: the first reply, …
    pub part: i32,
    pub position: i32,
    pub mime_type: String,
    pub size: i64,
    pub sha256: String,
    pub alt: String,
}

impl Media {
    pub fn reference(&self) -> crate::domain::activity::MediaRef {
        crate::domain::activity::MediaRef {
            part: self.part + 1,
            mime_type: self.mime_type.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            alt: self.alt.clone(),
        }
    }
}

/// An image to attach: its part (0: the post), type, bytes and alt text.
pub struct NewMedia {
    pub part: i32,
    pub mime_type: String,
    pub sha256: String,
    pub alt: String,
    pub data: Vec<u8>,
}

/// The images of these activities' variants, in order of part and position.
pub fn media_of(conn: &mut DbConnection, activity_ids: &[i64]) -> Result<Vec<Media>> {
    Ok(post_media::table
        .filter(post_media::activity_id.eq_any(activity_ids))
        .order((post_media::part, post_media::position, post_media::id))
        .select(Media::as_select())
        .load(conn)?)
}

/// The images of one variant.
pub fn variant_media(
    conn: &mut DbConnection,
    activity_id: i64,
    channel_id: i64,
    lang: &str,
) -> Result<Vec<Media>> {
    Ok(post_media::table
        .filter(post_media::activity_id.eq(activity_id))
        .filter(post_media::channel_id.eq(channel_id))
        .filter(post_media::lang.eq(lang))
        .order((post_media::part, post_media::position, post_media::id))
        .select(Media::as_select())
        .load(conn)?)
}

/// Replaces a variant's images with `media`, in their order.
pub fn replace_media(
    conn: &mut DbConnection,
    activity_id: i64,
    channel_id: i64,
    lang: &str,
    media: &[NewMedia],
    now: DateTime<Utc>,
) -> Result<()> {
    diesel::delete(
        post_media::table
            .filter(post_media::activity_id.eq(activity_id))
            .filter(post_media::channel_id.eq(channel_id))
            .filter(post_media::lang.eq(lang)),
    )
    .execute(conn)?;
    for (position, m) in media.iter().enumerate() {
        diesel::insert_into(post_media::table)
            .values((
                post_media::activity_id.eq(activity_id),
                post_media::channel_id.eq(channel_id),
                post_media::lang.eq(lang),
                post_media::part.eq(m.part),
                post_media::position.eq(i32::try_from(position).unwrap_or(i32::MAX)),
                post_media::mime_type.eq(&m.mime_type),
                post_media::size.eq(i64::try_from(m.data.len()).unwrap_or(i64::MAX)),
                post_media::sha256.eq(&m.sha256),
                post_media::alt.eq(&m.alt),
                post_media::data.eq(&m.data),
                post_media::created_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Adds one image after a variant's others (the raw upload).
pub fn add_media(
    conn: &mut DbConnection,
    activity_id: i64,
    channel_id: i64,
    lang: &str,
    media: &NewMedia,
    now: DateTime<Utc>,
) -> Result<()> {
    let position: i64 = post_media::table
        .filter(post_media::activity_id.eq(activity_id))
        .filter(post_media::channel_id.eq(channel_id))
        .filter(post_media::lang.eq(lang))
        .count()
        .get_result(conn)?;
    diesel::insert_into(post_media::table)
        .values((
            post_media::activity_id.eq(activity_id),
            post_media::channel_id.eq(channel_id),
            post_media::lang.eq(lang),
            post_media::part.eq(media.part),
            post_media::position.eq(i32::try_from(position).unwrap_or(i32::MAX)),
            post_media::mime_type.eq(&media.mime_type),
            post_media::size.eq(i64::try_from(media.data.len()).unwrap_or(i64::MAX)),
            post_media::sha256.eq(&media.sha256),
            post_media::alt.eq(&media.alt),
            post_media::data.eq(&media.data),
            post_media::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// An image's bytes, if it still exists.
pub fn media_data(conn: &mut DbConnection, id: i64) -> Result<Option<Vec<u8>>> {
    Ok(post_media::table
        .find(id)
        .select(post_media::data)
        .first(conn)
        .optional()?)
}

/// What a job's upload of an image became, if it was uploaded.
pub fn upload(conn: &mut DbConnection, job_id: i64, media_id: i64) -> Result<Option<String>> {
    Ok(post_media_uploads::table
        .find((job_id, media_id))
        .select(post_media_uploads::remote)
        .first(conn)
        .optional()?)
}

/// Records an upload (the first one stays if two raced).
pub fn store_upload(
    conn: &mut DbConnection,
    job_id: i64,
    media_id: i64,
    remote: &str,
    now: DateTime<Utc>,
) -> Result<String> {
    if let Some(stored) = upload(conn, job_id, media_id)? {
        return Ok(stored);
    }
    diesel::insert_into(post_media_uploads::table)
        .values((
            post_media_uploads::job_id.eq(job_id),
            post_media_uploads::media_id.eq(media_id),
            post_media_uploads::remote.eq(remote),
            post_media_uploads::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(remote.to_owned())
}

/// Drops the images of the activity's variants that are gone (all of them
/// with `keep` empty), so a variant made again later starts without them.
pub fn prune_media(conn: &mut DbConnection, activity_id: i64, keep: &[(i64, &str)]) -> Result<()> {
    let stored: Vec<(i64, i64, String)> = post_media::table
        .filter(post_media::activity_id.eq(activity_id))
        .select((post_media::id, post_media::channel_id, post_media::lang))
        .load(conn)?;
    let gone: Vec<i64> = stored
        .into_iter()
        .filter(|(_, channel, lang)| !keep.iter().any(|(c, l)| c == channel && l == lang))
        .map(|(id, _, _)| id)
        .collect();
    if !gone.is_empty() {
        diesel::delete(post_media::table.filter(post_media::id.eq_any(&gone))).execute(conn)?;
    }
    Ok(())
}
