//! Mailing lists, subscribers and their subscriptions, bounces, and the
//! service-wide secrets and limits the newsletter needs.

use super::schema::{
    bounces, deliveries, email_limits, mailing_lists, service_secrets, subscribers, subscriptions,
};
use super::{DbConnection, Page, PageRequest, on_backend, parse_stored, utc};
use crate::domain::language::Language;
use crate::domain::newsletter::{
    BounceInput, BounceKind, BounceOutcome, DeliveryKind, DeliveryState, EmailLimits, ListInput,
    MailingList, SOFT_BOUNCE_LIMIT, Subscriber, SubscriberInput, SubscriberStatus,
    SubscriberUpdate, Subscription, SubscriptionStatus, normalise_email,
};
use crate::email::links::LinkSigner;
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use std::collections::HashMap;

// ---------------------------------------------------------------- lists

#[derive(Queryable, Selectable)]
#[diesel(table_name = mailing_lists)]
struct ListRow {
    id: i64,
    slug: String,
    name: String,
    description: Option<String>,
    public_subscribe: bool,
    default_language: String,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// Confirmed subscriptions of active (not suppressed) addresses.
fn confirmed_counts(conn: &mut DbConnection, ids: &[i64]) -> Result<HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions::list_id.eq_any(ids))
        .filter(subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()))
        .filter(subscribers::status.eq(SubscriberStatus::Active.as_str()))
        .group_by(subscriptions::list_id)
        .select((subscriptions::list_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

fn lists_from_rows(conn: &mut DbConnection, rows: Vec<ListRow>) -> Result<Vec<MailingList>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let counts = confirmed_counts(conn, &ids)?;
    rows.into_iter()
        .map(|r| {
            Ok(MailingList {
                confirmed_subscribers: counts.get(&r.id).copied().unwrap_or(0),
                id: r.id,
                slug: r.slug,
                name: r.name,
                description: r.description,
                public_subscribe: r.public_subscribe,
                default_language: parse_stored(&r.default_language)?,
                version: r.version,
                created_at: utc(r.created_at),
                updated_at: utc(r.updated_at),
            })
        })
        .collect()
}

super::versioned_record!(mailing_lists, "list");

pub fn create_list(
    conn: &mut DbConnection,
    input: &ListInput,
    now: DateTime<Utc>,
) -> Result<MailingList> {
    let id: i64 = diesel::insert_into(mailing_lists::table)
        .values((
            mailing_lists::slug.eq(input.slug.as_str()),
            mailing_lists::name.eq(input.name.as_str()),
            mailing_lists::description.eq(input.description.as_ref().map(|d| d.as_str())),
            mailing_lists::public_subscribe.eq(input.public_subscribe.unwrap_or(false)),
            mailing_lists::default_language
                .eq(input.default_language.unwrap_or(Language::En).as_str()),
            mailing_lists::created_at.eq(now.naive_utc()),
            mailing_lists::updated_at.eq(now.naive_utc()),
        ))
        .returning(mailing_lists::id)
        .get_result(conn)?;
    get_list(conn, id)
}

pub fn get_list(conn: &mut DbConnection, id: i64) -> Result<MailingList> {
    let row = mailing_lists::table
        .find(id)
        .select(ListRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("list", id))?;
    Ok(lists_from_rows(conn, vec![row])?.remove(0))
}

pub fn find_list_by_slug(conn: &mut DbConnection, slug: &str) -> Result<Option<MailingList>> {
    let row = mailing_lists::table
        .filter(mailing_lists::slug.eq(slug))
        .select(ListRow::as_select())
        .first(conn)
        .optional()?;
    Ok(match row {
        Some(row) => Some(lists_from_rows(conn, vec![row])?.remove(0)),
        None => None,
    })
}

pub fn update_list(
    conn: &mut DbConnection,
    id: i64,
    version: i32,
    input: &ListInput,
    now: DateTime<Utc>,
) -> Result<MailingList> {
    update_versioned(
        conn,
        id,
        version,
        now,
        (
            mailing_lists::slug.eq(input.slug.as_str()),
            mailing_lists::name.eq(input.name.as_str()),
            mailing_lists::description.eq(input.description.as_ref().map(|d| d.as_str())),
            mailing_lists::public_subscribe.eq(input.public_subscribe.unwrap_or(false)),
            mailing_lists::default_language
                .eq(input.default_language.unwrap_or(Language::En).as_str()),
        ),
    )?;
    get_list(conn, id)
}

pub fn delete_list(conn: &mut DbConnection, id: i64, now: DateTime<Utc>) -> Result<()> {
    delete(conn, id, now)
}

pub fn list_lists(conn: &mut DbConnection, page: PageRequest) -> Result<Page<MailingList>> {
    let total: i64 = mailing_lists::table.count().get_result(conn)?;
    let rows = mailing_lists::table
        .order(mailing_lists::id)
        .limit(page.limit())
        .offset(page.offset())
        .select(ListRow::as_select())
        .load(conn)?;
    page.wrap(lists_from_rows(conn, rows)?, total)
}

// ---------------------------------------------------------------- subscribers

#[derive(Queryable, Selectable)]
#[diesel(table_name = subscribers)]
struct SubscriberRow {
    id: i64,
    email: String,
    name: Option<String>,
    language: String,
    status: String,
    suppressed_at: Option<NaiveDateTime>,
    suppression_reason: Option<String>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn subscribers_from_rows(
    conn: &mut DbConnection,
    rows: Vec<SubscriberRow>,
) -> Result<Vec<Subscriber>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut subs: HashMap<i64, Vec<Subscription>> = HashMap::new();
    #[allow(clippy::type_complexity)]
    let found: Vec<(
        i64,
        i64,
        String,
        String,
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    )> = subscriptions::table
        .inner_join(mailing_lists::table)
        .filter(subscriptions::subscriber_id.eq_any(&ids))
        .order(subscriptions::list_id)
        .select((
            subscriptions::subscriber_id,
            subscriptions::list_id,
            mailing_lists::slug,
            subscriptions::status,
            subscriptions::source,
            subscriptions::requested_at,
            subscriptions::confirmed_at,
            subscriptions::unsubscribed_at,
        ))
        .load(conn)?;
    for (subscriber, list_id, slug, status, source, requested, confirmed, unsubscribed) in found {
        subs.entry(subscriber).or_default().push(Subscription {
            list_id,
            list_slug: slug,
            status: parse_stored(&status)?,
            source,
            requested_at: utc(requested),
            confirmed_at: confirmed.map(utc),
            unsubscribed_at: unsubscribed.map(utc),
        });
    }
    rows.into_iter()
        .map(|r| {
            Ok(Subscriber {
                subscriptions: subs.remove(&r.id).unwrap_or_default(),
                id: r.id,
                email: r.email,
                name: r.name,
                language: parse_stored(&r.language)?,
                status: parse_stored(&r.status)?,
                suppressed_at: r.suppressed_at.map(utc),
                suppression_reason: r.suppression_reason,
                version: r.version,
                created_at: utc(r.created_at),
                updated_at: utc(r.updated_at),
            })
        })
        .collect()
}

pub fn get_subscriber(conn: &mut DbConnection, id: i64) -> Result<Subscriber> {
    let row = subscribers::table
        .find(id)
        .select(SubscriberRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found("subscriber", id))?;
    Ok(subscribers_from_rows(conn, vec![row])?.remove(0))
}

/// The subscribers with these ids (in id order; unknown ids are left out).
pub fn get_subscribers(conn: &mut DbConnection, ids: &[i64]) -> Result<Vec<Subscriber>> {
    let rows = subscribers::table
        .filter(subscribers::id.eq_any(ids))
        .order(subscribers::id)
        .select(SubscriberRow::as_select())
        .load(conn)?;
    subscribers_from_rows(conn, rows)
}

/// The subscribers with these addresses (already lower-cased), by address.
pub fn subscribers_by_email(
    conn: &mut DbConnection,
    emails: &[&str],
) -> Result<HashMap<String, Subscriber>> {
    let rows = subscribers::table
        .filter(subscribers::email.eq_any(emails))
        .select(SubscriberRow::as_select())
        .load(conn)?;
    Ok(subscribers_from_rows(conn, rows)?
        .into_iter()
        .map(|s| (s.email.clone(), s))
        .collect())
}

pub fn find_subscriber_id(conn: &mut DbConnection, email: &str) -> Result<Option<i64>> {
    Ok(subscribers::table
        .filter(subscribers::email.eq(email.trim().to_lowercase()))
        .select(subscribers::id)
        .first(conn)
        .optional()?)
}

#[derive(Debug, Clone, Default)]
pub struct SubscriberFilter {
    pub list_id: Option<i64>,
    pub status: Option<SubscriptionStatus>,
    pub email: Option<String>,
    /// Part of the address or the name (the web page's search box).
    pub search: Option<String>,
}

diesel::define_sql_function! {
    /// SQL's `lower`, the same in SQLite and PostgreSQL (whose LIKE is case-sensitive).
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// `needle` as a LIKE pattern that matches it literally anywhere.
fn contains_pattern(needle: &str) -> String {
    let mut p = String::from("%");
    for ch in needle.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

pub fn list_subscribers(
    conn: &mut DbConnection,
    filter: &SubscriberFilter,
    page: PageRequest,
) -> Result<Page<Subscriber>> {
    // A fixed-shape subquery (boxing it is not possible across backends):
    // absent filters become ranges that match everything.
    let (lo, hi) = filter.list_id.map_or((i64::MIN, i64::MAX), |l| (l, l));
    let statuses: Vec<&str> = match filter.status {
        Some(s) => vec![s.as_str()],
        None => SubscriptionStatus::ALL.iter().map(|s| s.as_str()).collect(),
    };
    let narrowed = filter.list_id.is_some() || filter.status.is_some();
    let query = || {
        let mut q = subscribers::table.into_boxed();
        if narrowed {
            q = q.filter(
                subscribers::id.eq_any(
                    subscriptions::table
                        .filter(subscriptions::list_id.between(lo, hi))
                        .filter(subscriptions::status.eq_any(statuses.clone()))
                        .select(subscriptions::subscriber_id),
                ),
            );
        }
        if let Some(email) = &filter.email {
            q = q.filter(subscribers::email.eq(email.trim().to_lowercase()));
        }
        if let Some(needle) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            let pattern = contains_pattern(&needle.to_lowercase());
            q = q.filter(
                subscribers::email
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(subscribers::name).like(pattern).escape('\\')),
            );
        }
        q
    };
    let total: i64 = query().count().get_result(conn)?;
    let rows = query()
        .order(subscribers::id)
        .limit(page.limit())
        .offset(page.offset())
        .select(SubscriberRow::as_select())
        .load(conn)?;
    page.wrap(subscribers_from_rows(conn, rows)?, total)
}

/// What `subscribe` did, so callers can queue a confirmation email.
#[derive(Debug, Clone)]
pub struct SubscribeOutcome {
    pub subscriber_id: i64,
    /// Subscriptions that now wait for a confirmation email.
    pub needs_confirmation: Vec<i64>,
}

/// Subscribes an address to lists. Existing subscribers keep their
/// confirmed lists; an unsubscribed or pending subscription asks for
/// confirmation again (unless `confirmed`, which an editor or import uses for
/// consent obtained elsewhere). Suppressed addresses (bounced, complained) get
/// nothing. `source` records how consent was obtained.
#[allow(clippy::too_many_arguments)]
pub fn subscribe(
    conn: &mut DbConnection,
    email: &str,
    name: Option<&str>,
    language: Language,
    list_ids: &[i64],
    confirmed: bool,
    source: &str,
    now: DateTime<Utc>,
) -> Result<SubscribeOutcome> {
    let email = email.trim().to_lowercase();
    let existing: Option<(i64, SubscriberStatus)> = subscribers::table
        .filter(subscribers::email.eq(&email))
        .select((subscribers::id, subscribers::status))
        .first(conn)
        .optional()?;
    let (subscriber_id, suppressed) = match existing {
        Some((id, status)) => (id, status != SubscriberStatus::Active),
        None => {
            let id = diesel::insert_into(subscribers::table)
                .values((
                    subscribers::email.eq(&email),
                    subscribers::name.eq(name),
                    subscribers::language.eq(language.as_str()),
                    subscribers::status.eq(SubscriberStatus::Active.as_str()),
                    subscribers::created_at.eq(now.naive_utc()),
                    subscribers::updated_at.eq(now.naive_utc()),
                ))
                .returning(subscribers::id)
                .get_result(conn)?;
            (id, false)
        }
    };
    let mut needs_confirmation = Vec::new();
    for list_id in list_ids {
        let current: Option<(i64, SubscriptionStatus)> = subscriptions::table
            .filter(subscriptions::list_id.eq(list_id))
            .filter(subscriptions::subscriber_id.eq(subscriber_id))
            .select((subscriptions::id, subscriptions::status))
            .first(conn)
            .optional()?;
        let status = if confirmed {
            SubscriptionStatus::Confirmed
        } else {
            SubscriptionStatus::Pending
        };
        match current {
            Some((_, SubscriptionStatus::Confirmed)) => {}
            Some((id, _)) => {
                diesel::update(subscriptions::table.find(id))
                    .set((
                        subscriptions::status.eq(status.as_str()),
                        subscriptions::source.eq(source),
                        subscriptions::requested_at.eq(now.naive_utc()),
                        subscriptions::confirmed_at.eq(confirmed.then_some(now.naive_utc())),
                        subscriptions::unsubscribed_at.eq(None::<NaiveDateTime>),
                        subscriptions::updated_at.eq(now.naive_utc()),
                    ))
                    .execute(conn)?;
                if !confirmed {
                    needs_confirmation.push(id);
                }
            }
            None => {
                let id = diesel::insert_into(subscriptions::table)
                    .values((
                        subscriptions::list_id.eq(list_id),
                        subscriptions::subscriber_id.eq(subscriber_id),
                        subscriptions::status.eq(status.as_str()),
                        subscriptions::source.eq(source),
                        subscriptions::requested_at.eq(now.naive_utc()),
                        subscriptions::confirmed_at.eq(confirmed.then_some(now.naive_utc())),
                        subscriptions::created_at.eq(now.naive_utc()),
                        subscriptions::updated_at.eq(now.naive_utc()),
                    ))
                    .returning(subscriptions::id)
                    .get_result(conn)?;
                if !confirmed {
                    needs_confirmation.push(id);
                }
            }
        }
    }
    if suppressed {
        needs_confirmation.clear();
    }
    Ok(SubscribeOutcome {
        subscriber_id,
        needs_confirmation,
    })
}

/// An editor adds a subscriber; returns it and the subscriptions awaiting
/// confirmation.
pub fn create_subscriber(
    conn: &mut DbConnection,
    input: &SubscriberInput,
    token_name: &str,
    now: DateTime<Utc>,
) -> Result<(Subscriber, Vec<i64>)> {
    if input.list_ids.is_empty() {
        return Err(Error::invalid("list_ids", "needs at least one list"));
    }
    crate::domain::campaign::check_unique_ids(&input.list_ids, "list_ids")?;
    for (i, id) in input.list_ids.iter().enumerate() {
        super::require_ref(exists(conn, *id)?, &format!("list_ids[{i}]"), *id)?;
    }
    let confirmed = match input.status {
        None | Some(SubscriptionStatus::Pending) => false,
        Some(SubscriptionStatus::Confirmed) => true,
        Some(SubscriptionStatus::Unsubscribed) => {
            return Err(Error::invalid("status", "must be pending or confirmed"));
        }
    };
    if confirmed && input.source.is_none() {
        return Err(Error::invalid(
            "source",
            "say how consent was obtained when adding a confirmed subscriber",
        ));
    }
    let source = match &input.source {
        Some(s) => format!("api:{token_name}: {s}"),
        None => format!("api:{token_name}"),
    };
    let outcome = subscribe(
        conn,
        &normalise_email(&input.email),
        input.name.as_ref().map(|n| n.as_str()),
        input.language,
        &input.list_ids,
        confirmed,
        &source,
        now,
    )?;
    Ok((
        get_subscriber(conn, outcome.subscriber_id)?,
        outcome.needs_confirmation,
    ))
}

pub fn update_subscriber(
    conn: &mut DbConnection,
    id: i64,
    version: i32,
    input: &SubscriberUpdate,
    now: DateTime<Utc>,
) -> Result<Subscriber> {
    let updated = diesel::update(
        subscribers::table
            .find(id)
            .filter(subscribers::version.eq(version)),
    )
    .set((
        subscribers::name.eq(input.name.as_ref().map(|n| n.as_str())),
        subscribers::language.eq(input.language.as_str()),
        subscribers::version.eq(version + 1),
        subscribers::updated_at.eq(now.naive_utc()),
    ))
    .execute(conn)?;
    super::check_updated(updated, "subscriber", id, version, || {
        Ok(subscribers::table
            .find(id)
            .select(subscribers::version)
            .first(conn)
            .optional()?)
    })?;
    get_subscriber(conn, id)
}

/// Erases a subscriber (right to erasure): the subscriber, their
/// subscriptions, and their address in past delivery records.
pub fn erase_subscriber(conn: &mut DbConnection, id: i64) -> Result<()> {
    diesel::update(deliveries::table.filter(deliveries::subscriber_id.eq(id)))
        .set((
            deliveries::email.eq("erased"),
            deliveries::name.eq(None::<String>),
        ))
        .execute(conn)?;
    diesel::update(bounces::table.filter(bounces::subscriber_id.eq(id)))
        .set(bounces::email.eq("erased"))
        .execute(conn)?;
    let deleted = diesel::delete(subscribers::table.find(id)).execute(conn)?;
    if deleted == 0 {
        return Err(Error::not_found("subscriber", id));
    }
    Ok(())
}

/// Unsubscribes from the given lists (all lists when `None`). Returns how many
/// subscriptions changed.
pub fn unsubscribe(
    conn: &mut DbConnection,
    subscriber_id: i64,
    list_ids: Option<&[i64]>,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut target = subscriptions::table
        .filter(subscriptions::subscriber_id.eq(subscriber_id))
        .filter(subscriptions::status.ne(SubscriptionStatus::Unsubscribed.as_str()))
        .into_boxed();
    if let Some(ids) = list_ids {
        target = target.filter(subscriptions::list_id.eq_any(ids.to_vec()));
    }
    let ids: Vec<i64> = target.select(subscriptions::id).load(conn)?;
    let changed = diesel::update(subscriptions::table.filter(subscriptions::id.eq_any(&ids)))
        .set((
            subscriptions::status.eq(SubscriptionStatus::Unsubscribed.as_str()),
            subscriptions::unsubscribed_at.eq(now.naive_utc()),
            subscriptions::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    cancel_unwanted(conn, subscriber_id, now)?;
    Ok(changed)
}

/// Newsletter deliveries still queued for a subscriber who is no longer on
/// any list of their issue are cancelled: unsubscribing works at once, even
/// in the middle of a send.
fn cancel_unwanted(conn: &mut DbConnection, subscriber_id: i64, now: DateTime<Utc>) -> Result<()> {
    use super::schema::newsletter_issue_lists;
    let queued: Vec<(i64, Option<i64>)> = deliveries::table
        .filter(deliveries::subscriber_id.eq(subscriber_id))
        .filter(deliveries::kind.eq(DeliveryKind::Newsletter))
        .filter(deliveries::state.eq_any([DeliveryState::Queued, DeliveryState::Retry]))
        .select((deliveries::id, deliveries::issue_id))
        .load(conn)?;
    for (delivery, issue) in queued {
        let Some(issue) = issue else { continue };
        let still_wanted: i64 = subscriptions::table
            .filter(subscriptions::subscriber_id.eq(subscriber_id))
            .filter(subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()))
            .filter(
                subscriptions::list_id.eq_any(
                    newsletter_issue_lists::table
                        .filter(newsletter_issue_lists::issue_id.eq(issue))
                        .select(newsletter_issue_lists::list_id),
                ),
            )
            .count()
            .get_result(conn)?;
        if still_wanted == 0 {
            diesel::update(deliveries::table.find(delivery))
                .set((
                    deliveries::state.eq(DeliveryState::Cancelled),
                    deliveries::smtp_reply.eq("unsubscribed before sending"),
                    deliveries::updated_at.eq(now.naive_utc()),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// The subscription a confirmation link names, confirmed if still pending.
/// Returns the list's name, or `None` if the subscription no longer exists
/// or was unsubscribed since.
pub fn confirm(
    conn: &mut DbConnection,
    subscription_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let found: Option<(SubscriptionStatus, String)> = subscriptions::table
        .inner_join(mailing_lists::table)
        .filter(subscriptions::id.eq(subscription_id))
        .select((subscriptions::status, mailing_lists::name))
        .first(conn)
        .optional()?;
    match found {
        Some((SubscriptionStatus::Pending, list)) => {
            diesel::update(subscriptions::table.find(subscription_id))
                .set((
                    subscriptions::status.eq(SubscriptionStatus::Confirmed.as_str()),
                    subscriptions::confirmed_at.eq(now.naive_utc()),
                    subscriptions::updated_at.eq(now.naive_utc()),
                ))
                .execute(conn)?;
            Ok(Some(list))
        }
        Some((SubscriptionStatus::Confirmed, list)) => Ok(Some(list)),
        _ => Ok(None),
    }
}

/// Queues the double opt-in email for pending subscriptions, at most one per
/// subscription every ten minutes so the public form cannot be used to flood
/// someone's mailbox.
pub fn queue_confirmations(
    conn: &mut DbConnection,
    subscription_ids: &[i64],
    link_hours: u32,
    message_domain: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        i64,
        i64,
        Option<NaiveDateTime>,
        String,
        Option<String>,
        String,
    )> = subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions::id.eq_any(subscription_ids))
        .filter(subscriptions::status.eq(SubscriptionStatus::Pending.as_str()))
        .filter(subscribers::status.eq(SubscriberStatus::Active.as_str()))
        .order(subscriptions::id)
        .select((
            subscriptions::id,
            subscribers::id,
            subscriptions::confirm_sent_at,
            subscribers::email,
            subscribers::name,
            subscribers::language,
        ))
        .load(conn)?;
    // A link sent in the last ten minutes is not sent again.
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| r.2.is_none_or(|t| utc(t) <= now - TimeDelta::minutes(10)))
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let expires = now + TimeDelta::hours(i64::from(link_hours));
    diesel::update(subscriptions::table.filter(subscriptions::id.eq_any(&ids)))
        .set((
            subscriptions::confirm_sent_at.eq(now.naive_utc()),
            subscriptions::confirm_expires_at.eq(expires.naive_utc()),
        ))
        .execute(conn)?;
    let deliveries: Vec<_> = rows
        .into_iter()
        .map(|(id, subscriber_id, _, email, name, language)| {
            (
                deliveries::kind.eq(DeliveryKind::Confirmation),
                deliveries::subscriber_id.eq(subscriber_id),
                deliveries::subscription_id.eq(id),
                deliveries::email.eq(email),
                deliveries::name.eq(name),
                deliveries::language.eq(language),
                deliveries::message_id.eq(format!(
                    "<confirm.{id}.{}@{message_domain}>",
                    uuid::Uuid::new_v4().simple()
                )),
                deliveries::state.eq(DeliveryState::Queued),
                deliveries::next_attempt_at.eq(now.naive_utc()),
                deliveries::created_at.eq(now.naive_utc()),
                deliveries::updated_at.eq(now.naive_utc()),
            )
        })
        .collect();
    // At most a part of an import at a time: well within PostgreSQL's binds.
    for chunk in deliveries.chunks(1000) {
        on_backend!(conn, |c| diesel::insert_into(deliveries::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(ids.len())
}

/// What a confirmation email needs: the list's name and the link's expiry.
pub fn confirmation_details(
    conn: &mut DbConnection,
    subscription_id: i64,
) -> Result<Option<(String, DateTime<Utc>)>> {
    let row: Option<(String, Option<NaiveDateTime>)> = subscriptions::table
        .inner_join(mailing_lists::table)
        .filter(subscriptions::id.eq(subscription_id))
        .select((mailing_lists::name, subscriptions::confirm_expires_at))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(name, expires)| Some((name, utc(expires?)))))
}

// ---------------------------------------------------------------- bounces

/// Records a bounce or complaint; hard bounces and complaints suppress the
/// address at once, soft bounces after `SOFT_BOUNCE_LIMIT` in a row.
pub fn record_bounce(
    conn: &mut DbConnection,
    input: &BounceInput,
    now: DateTime<Utc>,
) -> Result<BounceOutcome> {
    let email = normalise_email(&input.email);
    let subscriber: Option<(i64, SubscriberStatus, i32)> = subscribers::table
        .filter(subscribers::email.eq(&email))
        .select((
            subscribers::id,
            subscribers::status,
            subscribers::soft_bounces,
        ))
        .first(conn)
        .optional()?;
    let delivery_id: Option<i64> = match &input.message_id {
        Some(id) => {
            let id = id.as_str().trim();
            let id = if id.starts_with('<') {
                id.to_owned()
            } else {
                format!("<{id}>")
            };
            deliveries::table
                .filter(deliveries::message_id.eq(id))
                .select(deliveries::id)
                .first(conn)
                .optional()?
        }
        None => None,
    };
    if let Some(delivery) = delivery_id {
        diesel::update(deliveries::table.find(delivery))
            .set(deliveries::bounced_at.eq(now.naive_utc()))
            .execute(conn)?;
    }
    diesel::insert_into(bounces::table)
        .values((
            bounces::email.eq(&email),
            bounces::kind.eq(input.kind.as_str()),
            bounces::subscriber_id.eq(subscriber.as_ref().map(|s| s.0)),
            bounces::delivery_id.eq(delivery_id),
            bounces::reason.eq(input.reason.as_ref().map(|r| r.as_str())),
            bounces::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    let Some((id, status, soft)) = subscriber else {
        return Ok(BounceOutcome {
            email,
            kind: input.kind,
            known_subscriber: false,
            suppressed: false,
        });
    };
    let already = status != SubscriberStatus::Active;
    let new_status = match input.kind {
        BounceKind::Hard => Some(SubscriberStatus::Bounced),
        BounceKind::Complaint => Some(SubscriberStatus::Complained),
        BounceKind::Soft if soft + 1 >= SOFT_BOUNCE_LIMIT => Some(SubscriberStatus::Bounced),
        BounceKind::Soft => None,
        // About the message or the sender, not the address: recorded only.
        BounceKind::Policy => None,
    };
    let reason = input
        .reason
        .as_ref()
        .map(|r| format!("{}: {}", input.kind, r.as_str()))
        .unwrap_or_else(|| input.kind.to_string());
    match new_status {
        Some(status) if !already => {
            diesel::update(subscribers::table.find(id))
                .set((
                    subscribers::status.eq(status.as_str()),
                    subscribers::soft_bounces.eq(soft + i32::from(input.kind == BounceKind::Soft)),
                    subscribers::suppressed_at.eq(now.naive_utc()),
                    subscribers::suppression_reason.eq(reason),
                    subscribers::updated_at.eq(now.naive_utc()),
                ))
                .execute(conn)?;
            // Nothing more goes to this address, whatever is queued for it.
            diesel::update(
                deliveries::table
                    .filter(deliveries::subscriber_id.eq(id))
                    .filter(deliveries::state.eq_any([DeliveryState::Queued, DeliveryState::Retry]))
                    .filter(deliveries::kind.ne(DeliveryKind::Invitation)),
            )
            .set((
                deliveries::state.eq(DeliveryState::Cancelled),
                deliveries::smtp_reply.eq("address suppressed before sending"),
                deliveries::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        }
        None if input.kind == BounceKind::Soft => {
            diesel::update(subscribers::table.find(id))
                .set(subscribers::soft_bounces.eq(soft + 1))
                .execute(conn)?;
        }
        None => {}
        Some(_) => {}
    }
    Ok(BounceOutcome {
        email,
        kind: input.kind,
        known_subscriber: true,
        suppressed: already || new_status.is_some(),
    })
}

/// A delivered message resets the soft-bounce streak.
pub fn reset_soft_bounces(conn: &mut DbConnection, subscriber_ids: &[i64]) -> Result<()> {
    if let DbConnection::Sqlite(sqlite) = conn {
        // After every delivery: a statement prepared once, per row.
        for id in subscriber_ids {
            ResetSoftBounces { id }.execute(sqlite)?;
        }
        return Ok(());
    }
    diesel::update(
        subscribers::table
            .filter(subscribers::id.eq_any(subscriber_ids))
            .filter(subscribers::soft_bounces.gt(0)),
    )
    .set(subscribers::soft_bounces.eq(0))
    .execute(conn)?;
    Ok(())
}

super::cached::cached_statement! {
    /// One subscriber's soft bounces cleared on SQLite (nothing written when
    /// there were none).
    struct ResetSoftBounces<'a> { id: &'a i64 }
    "UPDATE subscribers SET soft_bounces = 0 WHERE id = " (id as diesel::sql_types::BigInt)
    " AND soft_bounces > 0"
}

// ---------------------------------------------------------------- secrets

const LINK_KEY: &str = "link-signing-key";

/// The key signing unsubscribe and confirmation links, created on first use
/// and shared through the database by every process.
pub fn link_signer(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<LinkSigner> {
    let read = |conn: &mut DbConnection| -> Result<Option<String>> {
        Ok(service_secrets::table
            .find(LINK_KEY)
            .select(service_secrets::value)
            .first(conn)
            .optional()?)
    };
    let value = match read(conn)? {
        Some(value) => value,
        None => {
            let key: [u8; 32] = rand::random();
            // Another process may create it at the same moment: theirs is
            // kept and read back. (Catching the unique violation instead
            // would leave a PostgreSQL transaction aborted, and the read
            // below would fail.)
            let row = (
                service_secrets::name.eq(LINK_KEY),
                service_secrets::value.eq(hex::encode(key)),
                service_secrets::created_at.eq(now.naive_utc()),
            );
            super::on_backend!(conn, |c| diesel::insert_into(service_secrets::table)
                .values(row)
                .on_conflict_do_nothing()
                .execute(c))?;
            read(conn)?.ok_or_else(|| Error::Internal(anyhow::anyhow!("link key vanished")))?
        }
    };
    let key =
        hex::decode(value).map_err(|e| Error::Internal(anyhow::anyhow!("stored link key: {e}")))?;
    Ok(LinkSigner::new(key))
}

// ---------------------------------------------------------------- limits

/// Limits set at run time (`None` fields: the configured value).
pub fn runtime_limits(conn: &mut DbConnection) -> Result<EmailLimits> {
    let row: Option<(Option<i32>, Option<i32>, Option<i32>)> = email_limits::table
        .find(1)
        .select((
            email_limits::rate_per_second,
            email_limits::rate_per_hour,
            email_limits::concurrency,
        ))
        .first(conn)
        .optional()?;
    let (second, hour, concurrency) = row.unwrap_or((None, None, None));
    let unsigned = |v: Option<i32>| v.map(|v| v.max(0) as u32);
    Ok(EmailLimits {
        rate_per_second: unsigned(second),
        rate_per_hour: unsigned(hour),
        concurrency: unsigned(concurrency),
    })
}

pub fn set_runtime_limits(
    conn: &mut DbConnection,
    limits: &EmailLimits,
    now: DateTime<Utc>,
) -> Result<()> {
    limits.validate()?;
    let signed = |v: Option<u32>| v.map(|v| v.min(i32::MAX as u32) as i32);
    diesel::delete(email_limits::table).execute(conn)?;
    diesel::insert_into(email_limits::table)
        .values((
            email_limits::id.eq(1),
            email_limits::rate_per_second.eq(signed(limits.rate_per_second)),
            email_limits::rate_per_hour.eq(signed(limits.rate_per_hour)),
            email_limits::concurrency.eq(signed(limits.concurrency)),
            email_limits::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whose subscription it is, and the language they read.
pub fn subscription_owner(
    conn: &mut DbConnection,
    subscription_id: i64,
) -> Result<Option<(i64, Language)>> {
    let row: Option<(i64, String)> = subscriptions::table
        .inner_join(subscribers::table)
        .filter(subscriptions::id.eq(subscription_id))
        .select((subscribers::id, subscribers::language))
        .first(conn)
        .optional()?;
    row.map(|(id, lang)| Ok((id, parse_stored(&lang)?)))
        .transpose()
}
