//! Newsletter subscribers and their consent: every change of a subscription
//! (subscribed, confirmed, unsubscribed, erased) is in the history, with the
//! subscriber's address and name never copied there.

use super::Context;
use super::history::{self, Action};
use super::policy::{self, Operation};
use super::progress::Progress;
use crate::db::subscriber_csv::{self, ImportReport, ImportRow};
use crate::db::{DbConnection, subscribers as db};
use crate::domain::Language;
use crate::domain::newsletter::{
    BounceInput, BounceOutcome, Subscriber, SubscriberInput, SubscriberUpdate, normalise_email,
};
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

/// What the public form asked for, its lists already known to be public.
#[derive(Debug, Clone)]
pub struct PublicRequest {
    pub email: crate::domain::EmailAddress,
    pub name: Option<String>,
    pub language: Language,
    pub list_ids: Vec<i64>,
}

/// A subscription asked for on the public form. The form has been answered
/// before this runs (the answer cannot depend on what is found here: new,
/// pending, confirmed or suppressed address); pending subscriptions get the
/// double opt-in email.
pub fn subscribe_publicly(
    conn: &mut DbConnection,
    cx: &Context,
    request: &PublicRequest,
    confirm_link_hours: u32,
    message_domain: &str,
) -> Result<()> {
    let email = normalise_email(&request.email);
    let before = match db::find_subscriber_id(conn, &email)? {
        Some(id) => Some(db::get_subscriber(conn, id)?),
        None => None,
    };
    let outcome = db::subscribe(
        conn,
        &email,
        request.name.as_deref(),
        request.language,
        &request.list_ids,
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

/// Follows a confirmation link: the subscription is confirmed (once; again
/// is a no-op). Returns the list's name, or None if the subscription is gone.
pub fn confirm(
    conn: &mut DbConnection,
    cx: &Context,
    subscription_id: i64,
) -> Result<Option<String>> {
    let Some((subscriber, _)) = db::subscription_owner(conn, subscription_id)? else {
        return Ok(None);
    };
    let before = db::get_subscriber(conn, subscriber)?;
    let list = db::confirm(conn, subscription_id, cx.now)?;
    if list.is_some() {
        record(conn, cx, subscriber, Action::StateChanged, Some(&before))?;
    }
    Ok(list)
}

/// The language of the person a subscription belongs to: their pages speak it.
pub fn language_of_subscription(
    conn: &mut DbConnection,
    subscription_id: i64,
) -> Result<Option<Language>> {
    Ok(db::subscription_owner(conn, subscription_id)?.map(|(_, lang)| lang))
}

/// What the subscriber chose on their preferences page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preferences {
    /// Stay on these lists (the others are left; none is joined here: that
    /// needs a new opt-in), and read this language.
    Keep {
        list_ids: Vec<i64>,
        language: Option<Language>,
    },
    /// Leave every list, whatever the link came in.
    LeaveAll,
}

/// Saves the preferences page. Returns the subscriber's language after the
/// change, or None if they were erased meanwhile.
pub fn save_preferences(
    conn: &mut DbConnection,
    cx: &Context,
    subscriber: i64,
    choice: &Preferences,
) -> Result<Option<Language>> {
    let before = match db::get_subscriber(conn, subscriber) {
        Ok(s) => s,
        Err(crate::error::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (leave, language) = match choice {
        Preferences::LeaveAll => (None, before.language),
        Preferences::Keep { list_ids, language } => {
            let leave: Vec<i64> = before
                .subscriptions
                .iter()
                .filter(|s| !list_ids.contains(&s.list_id))
                .map(|s| s.list_id)
                .collect();
            (Some(leave), language.unwrap_or(before.language))
        }
    };
    match &leave {
        None => {
            db::unsubscribe(conn, subscriber, None, cx.now)?;
        }
        Some(ids) if !ids.is_empty() => {
            db::unsubscribe(conn, subscriber, Some(ids), cx.now)?;
        }
        Some(_) => {}
    }
    if language != before.language {
        let update = SubscriberUpdate {
            name: before
                .name
                .as_deref()
                .and_then(|n| crate::domain::Name::parse(n).ok()),
            language,
            version: None,
        };
        db::update_subscriber(conn, subscriber, before.version, &update, cx.now)?;
    }
    record(conn, cx, subscriber, Action::StateChanged, Some(&before))?;
    Ok(Some(language))
}

/// The public form, from the JSON endpoint or the web page: checks what any
/// visitor may know (consent given, the lists exist and are public), then
/// answers at once and leaves the subscribing to the `PublicIntake` worker.
pub async fn subscribe_on_form(
    db: &crate::db::Db,
    intake: &PublicIntake,
    now: chrono::DateTime<chrono::Utc>,
    form: crate::domain::newsletter::PublicSubscribe,
    confirm_link_hours: u32,
    message_domain: String,
) -> Result<()> {
    use crate::error::Error;
    if !form.consent {
        return Err(Error::invalid("consent", "must be true to subscribe"));
    }
    if form.lists.is_empty() {
        return Err(Error::invalid("lists", "name at least one list"));
    }
    // Which lists are public is the same for every address; the address
    // itself is looked at only after answering.
    let slugs = form.lists.clone();
    let (list_ids, default_language) = db
        .run(move |c| {
            let mut list_ids = Vec::new();
            let mut default_language = None;
            for (i, slug) in slugs.iter().enumerate() {
                match db::find_list_by_slug(c, slug.as_str())? {
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
            Ok((list_ids, default_language))
        })
        .await?;
    let request = PublicRequest {
        email: form.email,
        name: form.name.map(|n| n.as_str().to_owned()),
        language: form.language.or(default_language).unwrap_or(Language::En),
        list_ids,
    };
    intake.submit(now, request, confirm_link_hours, message_domain);
    Ok(())
}

/// What the public form hands over, to be done after answering.
struct Job {
    now: chrono::DateTime<chrono::Utc>,
    request: PublicRequest,
    confirm_link_hours: u32,
    message_domain: String,
}

/// Runs `subscribe_publicly` after the public form has been answered, one
/// request after the other in the order they came (so a later request for an
/// address sees what an earlier one did): the answer is given before the
/// address is even looked up, so neither its content nor its time can tell
/// whether the address is known. A request in flight when the process stops
/// is lost; the person submits the form again.
#[derive(Clone)]
pub struct PublicIntake {
    queue: tokio::sync::mpsc::Sender<Job>,
}

impl PublicIntake {
    /// Requests waiting beyond this are dropped (and logged), not queued:
    /// the form's rate limit keeps a person far below it.
    const CAPACITY: usize = 10_000;

    /// Starts the worker on the current tokio runtime.
    pub fn start(db: crate::db::Db) -> PublicIntake {
        let (queue, mut jobs) = tokio::sync::mpsc::channel::<Job>(Self::CAPACITY);
        tokio::spawn(async move {
            while let Some(job) = jobs.recv().await {
                let cx = Context::new(super::Actor::System, job.now)
                    .with_reason(Some("public subscription form".into()));
                let done = db
                    .transaction(move |c| {
                        subscribe_publicly(
                            c,
                            &cx,
                            &job.request,
                            job.confirm_link_hours,
                            &job.message_domain,
                        )
                    })
                    .await;
                if let Err(e) = done {
                    tracing::error!(error = %e, "a public subscription could not be recorded");
                }
            }
        });
        PublicIntake { queue }
    }

    /// Queues the request; returns at once.
    pub fn submit(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        request: PublicRequest,
        confirm_link_hours: u32,
        message_domain: String,
    ) {
        let job = Job {
            now,
            request,
            confirm_link_hours,
            message_domain,
        };
        if self.queue.try_send(job).is_err() {
            tracing::error!(
                "the public subscription queue is full or stopped; a request was dropped"
            );
        }
    }
}

/// Rows an import writes between two progress reports.
const IMPORT_PART_ROWS: usize = 500;

/// Imports parsed CSV rows into list `list_id`: new addresses, new
/// subscriptions (pending ones get the double opt-in email), each affected
/// subscriber's change in the history. `source` says how consent was obtained.
/// `progress` hears of each part of the file done.
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
    progress: &dyn Progress,
) -> Result<ImportReport> {
    policy::require(&cx.actor, Operation::Write)?;
    progress.total(rows.len() as u64);
    crate::db::plan_each_statement(conn)?;
    let mut report = ImportReport::default();
    // In parts, all in the caller's one transaction, so a long file shows
    // how far it has got; a later part sees what the earlier ones wrote.
    // `parse` refuses an address twice, so each part's addresses are new to
    // the import and their state before it is read with the part.
    for part in rows.chunks(IMPORT_PART_ROWS) {
        let emails: Vec<&str> = part.iter().map(|r| r.email.as_str()).collect();
        let mut before = db::subscribers_by_email(conn, &emails)?;
        let done = subscriber_csv::import(conn, list_id, part, &before, confirmed, source, cx.now)?;
        db::queue_confirmations(
            conn,
            &done.needs_confirmation,
            confirm_link_hours,
            message_domain,
            cx.now,
        )?;
        let entries = db::get_subscribers(conn, &done.changed)?
            .into_iter()
            .filter_map(|after| {
                let was = before.remove(&after.email);
                let changes = history::diff_of(was.as_ref(), Some(&after), PERSONAL);
                let action = match was {
                    Some(_) if changes.is_empty() => return None,
                    Some(_) => Action::StateChanged,
                    None => Action::Created,
                };
                Some(history::Entry {
                    entity: "subscriber",
                    entity_id: after.id,
                    action,
                    changes,
                    reason: cx.reason.as_deref(),
                })
            })
            .collect();
        history::record_all(conn, &cx.actor, cx.now, entries)?;
        report.absorb(done);
        progress.advance(part.len() as u64);
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
