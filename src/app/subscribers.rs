//! Newsletter subscribers and their consent: every change of a subscription
//! (subscribed, confirmed, unsubscribed, erased) is in the history, with the
//! subscriber's address and name never copied there.

use super::Context;
use super::history::{self, Action};
use super::policy::{self, Operation};
use crate::db::{DbConnection, subscribers as db};
use crate::domain::newsletter::{Subscriber, SubscriberInput, SubscriberUpdate};
use crate::error::Result;

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

/// Someone subscribes on the public form (double opt-in): the lists must be
/// open to the public; a confirmation email is queued if the address needs
/// one. What happens is never told back, so the form reveals nothing about
/// an address. The JSON endpoint and the web form both call this.
pub fn subscribe_publicly(
    conn: &mut DbConnection,
    input: &crate::domain::newsletter::PublicSubscribe,
    now: chrono::DateTime<chrono::Utc>,
    confirm_link_hours: u32,
    message_domain: &str,
) -> Result<()> {
    use crate::error::Error;
    if !input.consent {
        return Err(Error::invalid("consent", "must be true to subscribe"));
    }
    if input.lists.is_empty() {
        return Err(Error::invalid("lists", "name at least one list"));
    }
    let mut list_ids = Vec::new();
    let mut default_language = None;
    for (i, slug) in input.lists.iter().enumerate() {
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
    let language = input
        .language
        .or(default_language)
        .unwrap_or(crate::domain::Language::En);
    let outcome = db::subscribe(
        conn,
        &crate::domain::newsletter::normalise_email(&input.email),
        input.name.as_ref().map(|n| n.as_str()),
        language,
        &list_ids,
        false,
        "public-form",
        now,
    )?;
    db::queue_confirmations(
        conn,
        &outcome.needs_confirmation,
        confirm_link_hours,
        message_domain,
        now,
    )?;
    Ok(())
}
