//! Newsletter subscribers and their consent: every change of a subscription
//! (subscribed, confirmed, unsubscribed, erased) is in the history, with the
//! subscriber's address and name never copied there.

use super::Context;
use super::history::{self, Action};
use super::policy::{self, Operation};
use crate::db::subscriber_csv::{self, ImportReport, ImportRow};
use crate::db::{DbConnection, subscribers as db};
use crate::domain::Language;
use crate::domain::newsletter::{
    BounceInput, BounceOutcome, PublicSubscribe, Subscriber, SubscriberInput, SubscriberUpdate,
    normalise_email,
};
use crate::error::{Error, Result};

/// A subscriber's personal fields: recorded as changed, never with their values.
pub const PERSONAL: &[&str] = &["email", "name"];

/// Records the change of subscriber `id` from `before` to what it is now.
pub fn record(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    action: Action,
    before: Option<&Subscriber>,
) -> Result<Option<Subscriber>> {
    let after = match action {
        Action::Deleted => None,
        _ => Some(db::get_subscriber(conn, id)?),
    };
    let changes = history::diff_of(before, after.as_ref(), PERSONAL);
    // A form sent again, a confirmed link followed twice: nothing to record.
    if action == Action::StateChanged && changes.is_empty() {
        return Ok(after);
    }
    history::record_in(conn, cx, "subscriber", id, action, changes)?;
    Ok(after)
}

/// Adds a subscriber on the team's word; `pending` ones get the double opt-in email.
pub fn create(
    conn: &mut DbConnection,
    cx: &Context,
    input: &SubscriberInput,
    source: &str,
    confirm_link_hours: u32,
    message_domain: &str,
) -> Result<Subscriber> {
    policy::require(&cx.actor, Operation::Write)?;
    let (subscriber, pending) = db::create_subscriber(conn, input, source, cx.now)?;
    db::queue_confirmations(conn, &pending, confirm_link_hours, message_domain, cx.now)?;
    Ok(record(conn, cx, subscriber.id, Action::Created, None)?.unwrap_or(subscriber))
}

pub fn update(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    version: i32,
    input: &SubscriberUpdate,
) -> Result<Subscriber> {
    policy::require(&cx.actor, Operation::Write)?;
    let before = db::get_subscriber(conn, id)?;
    let updated = db::update_subscriber(conn, id, version, input, cx.now)?;
    Ok(record(conn, cx, id, Action::Updated, Some(&before))?.unwrap_or(updated))
}

/// Leaves `list_ids` (all lists when None), on the subscriber's word or on
/// their behalf. Returns the subscriber and how many subscriptions ended.
pub fn unsubscribe(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    list_ids: Option<&[i64]>,
) -> Result<(Subscriber, usize)> {
    let before = db::get_subscriber(conn, id)?;
    let ended = db::unsubscribe(conn, id, list_ids, cx.now)?;
    let after = record(conn, cx, id, Action::StateChanged, Some(&before))?.unwrap_or(before);
    Ok((after, ended))
}

/// The right to erasure: the subscriber, their subscriptions, and their address
/// in past delivery records. The history holds no personal data of theirs, so
/// it keeps only that subscriber `id` was erased.
pub fn erase(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<()> {
    policy::require(&cx.actor, Operation::Delete)?;
    let before = db::get_subscriber(conn, id)?;
    db::erase_subscriber(conn, id)?;
    record(conn, cx, id, Action::Deleted, Some(&before))?;
    Ok(())
}

/// Imports parsed CSV rows into list `list_id`: new addresses, new
/// subscriptions (pending ones get the double opt-in email), each affected
/// subscriber's change in the history. `source` says how consent was obtained.
#[allow(clippy::too_many_arguments)]
pub fn import_csv(
    conn: &mut DbConnection,
    cx: &Context,
    list_id: i64,
    rows: &[ImportRow],
    confirmed: bool,
    source: &str,
    confirm_link_hours: u32,
    message_domain: &str,
) -> Result<ImportReport> {
    policy::require(&cx.actor, Operation::Write)?;
    let mut before = std::collections::HashMap::new();
    for row in rows {
        if let Some(id) = db::find_subscriber_id(conn, &row.email)? {
            before.insert(id, db::get_subscriber(conn, id)?);
        }
    }
    let report = subscriber_csv::import(conn, list_id, rows, confirmed, source, cx.now)?;
    db::queue_confirmations(
        conn,
        &report.needs_confirmation,
        confirm_link_hours,
        message_domain,
        cx.now,
    )?;
    for &id in &report.changed {
        match before.get(&id) {
            Some(was) => record(conn, cx, id, Action::StateChanged, Some(was))?,
            None => record(conn, cx, id, Action::Created, None)?,
        };
    }
    Ok(report)
}

/// Records a bounce or complaint. When it stops sends to a subscriber (a hard
/// bounce, a complaint, too many soft bounces), that change of their status is
/// in the history; the bounce itself is in the bounce log.
pub fn record_bounce(
    conn: &mut DbConnection,
    cx: &Context,
    input: &BounceInput,
) -> Result<BounceOutcome> {
    policy::require(&cx.actor, Operation::Write)?;
    let subscriber = match db::find_subscriber_id(conn, input.email.as_str())? {
        Some(id) => Some(db::get_subscriber(conn, id)?),
        None => None,
    };
    let outcome = db::record_bounce(conn, input, cx.now)?;
    if let Some(was) = subscriber {
        record(conn, cx, was.id, Action::StateChanged, Some(&was))?;
    }
    Ok(outcome)
}

/// Someone asks, on the public form, to join public lists. Whatever the
/// address's standing, the caller answers the same; a pending subscription
/// gets the double opt-in email.
pub fn subscribe_public(
    conn: &mut DbConnection,
    cx: &Context,
    form: &PublicSubscribe,
    confirm_link_hours: u32,
    message_domain: &str,
) -> Result<()> {
    if !form.consent {
        return Err(Error::invalid("consent", "must be true to subscribe"));
    }
    if form.lists.is_empty() {
        return Err(Error::invalid("lists", "name at least one list"));
    }
    let mut list_ids = Vec::new();
    let mut default_language = None;
    for (i, slug) in form.lists.iter().enumerate() {
        match db::find_list_by_slug(conn, slug.as_str())? {
            Some(list) if list.public_subscribe => {
                default_language.get_or_insert(list.default_language);
                list_ids.push(list.id);
            }
            _ => {
                return Err(Error::invalid(
                    format!("lists[{i}]"),
                    format!("there is no public list {slug}"),
                ));
            }
        }
    }
    let email = normalise_email(&form.email);
    let before = match db::find_subscriber_id(conn, &email)? {
        Some(id) => Some(db::get_subscriber(conn, id)?),
        None => None,
    };
    let language = form.language.or(default_language).unwrap_or(Language::En);
    let outcome = db::subscribe(
        conn,
        &email,
        form.name.as_ref().map(|n| n.as_str()),
        language,
        &list_ids,
        false,
        "public-form",
        cx.now,
    )?;
    db::queue_confirmations(
        conn,
        &outcome.needs_confirmation,
        confirm_link_hours,
        message_domain,
        cx.now,
    )?;
    let action = match before {
        Some(_) => Action::StateChanged,
        None => Action::Created,
    };
    record(conn, cx, outcome.subscriber_id, action, before.as_ref())?;
    Ok(())
}

/// The double opt-in link was followed: the subscription is confirmed.
/// Returns the list's name, or None when the link names nothing confirmable.
pub fn confirm(conn: &mut DbConnection, cx: &Context, subscription: i64) -> Result<Option<String>> {
    let Some(id) = db::subscriber_of(conn, subscription)? else {
        return Ok(None);
    };
    let before = db::get_subscriber(conn, id)?;
    let list = db::confirm(conn, subscription, cx.now)?;
    record(conn, cx, id, Action::StateChanged, Some(&before))?;
    Ok(list)
}

/// The subscriber's own choices on their preferences page: the lists to
/// stay on (the others are left) and their language. Returns the language
/// now in force, or None when the subscriber no longer exists.
pub fn set_preferences(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    keep: &[i64],
    language: Option<Language>,
) -> Result<Option<Language>> {
    let before = match db::get_subscriber(conn, id) {
        Ok(s) => s,
        Err(Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let leave: Vec<i64> = before
        .subscriptions
        .iter()
        .filter(|s| !keep.contains(&s.list_id))
        .map(|s| s.list_id)
        .collect();
    if !leave.is_empty() {
        db::unsubscribe(conn, id, Some(&leave), cx.now)?;
    }
    let lang = language.unwrap_or(before.language);
    if lang != before.language {
        let update = SubscriberUpdate {
            name: before
                .name
                .as_deref()
                .and_then(|n| crate::domain::Name::parse(n).ok()),
            language: lang,
            version: None,
        };
        db::update_subscriber(conn, id, before.version, &update, cx.now)?;
    }
    if !leave.is_empty() || lang != before.language {
        record(conn, cx, id, Action::StateChanged, Some(&before))?;
    }
    Ok(Some(lang))
}
