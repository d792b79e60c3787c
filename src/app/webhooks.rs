//! Outbound webhook subscriptions (administrators), and `emit`, which the
//! operations call to tell subscribers about a change: one `webhook` job per
//! subscribed endpoint, in the transaction of the change.

use super::Context;
use super::history::{self, Action};
use super::jobs::JobDetail;
use super::policy::{self, Operation};
use crate::db::{self, DbConnection};
use crate::domain::webhook::{EventType, Webhook, WebhookInput, WebhookWithSecret};
use crate::error::{Error, Result};
use crate::jobs::sealed::Sealer;
use crate::jobs::webhook::{self as handler, KIND};
use crate::jobs::{self, NewJob};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

/// What the operations need from the configuration.
#[derive(Debug, Clone)]
pub struct Rules {
    pub sealer: Sealer,
    pub allow_private: bool,
    /// How long the older secrets still sign after a rotation.
    pub rotation_overlap: TimeDelta,
}

impl Rules {
    pub fn from_settings(settings: &crate::config::Settings) -> Result<Rules> {
        Ok(Rules {
            sealer: Sealer::from_hex(settings.credentials.key.expose()).map_err(Error::Internal)?,
            allow_private: settings.webhooks.allow_private,
            rotation_overlap: TimeDelta::hours(settings.webhooks.rotation_overlap_hours as i64),
        })
    }
}

struct Valid {
    url: String,
    description: Option<String>,
    event_types: Vec<EventType>,
    enabled: bool,
}

fn validate(input: &WebhookInput, rules: &Rules) -> Result<Valid> {
    let url = input.url.trim();
    if url.len() > 2000 {
        return Err(Error::invalid("url", "at most 2000 characters"));
    }
    crate::jobs::outbound::check_url(url, rules.allow_private)
        .map_err(|reason| Error::invalid("url", reason))?;
    if input.event_types.is_empty() {
        return Err(Error::invalid(
            "event_types",
            "name at least one event type",
        ));
    }
    let mut types = input.event_types.clone();
    types.sort_by_key(|t| t.as_str());
    types.dedup();
    let description = input
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 500)
    {
        return Err(Error::invalid("description", "at most 500 characters"));
    }
    Ok(Valid {
        url: url.to_owned(),
        description,
        event_types: types,
        enabled: input.enabled.unwrap_or(true),
    })
}

fn fields(v: &Valid) -> db::webhooks::Fields<'_> {
    db::webhooks::Fields {
        url: &v.url,
        description: v.description.as_deref(),
        event_types: &v.event_types,
        enabled: v.enabled,
    }
}

/// A new secret for `endpoint`, sealed; older ones sign until `others_expire`.
fn new_secret(
    conn: &mut DbConnection,
    rules: &Rules,
    endpoint: i64,
    others_expire: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<String> {
    let secret = handler::new_secret();
    let id = db::webhooks::add_secret(conn, endpoint, others_expire, now)?;
    let sealed = rules.sealer.seal(&secret, &handler::secret_context(id))?;
    db::webhooks::seal_secret(conn, id, &sealed)?;
    Ok(secret)
}

pub fn create(
    conn: &mut DbConnection,
    cx: &Context,
    rules: &Rules,
    input: &WebhookInput,
) -> Result<WebhookWithSecret> {
    policy::require(&cx.actor, Operation::Administer)?;
    let valid = validate(input, rules)?;
    let id = db::webhooks::insert(conn, &fields(&valid), cx.now)?;
    let secret = new_secret(conn, rules, id, cx.now, cx.now)?;
    let webhook = db::webhooks::get(conn, id, cx.now)?;
    history::record_in(
        conn,
        cx,
        "webhook",
        id,
        Action::Created,
        history::diff_of(None, Some(&webhook), &[]),
    )?;
    Ok(WebhookWithSecret { webhook, secret })
}

pub fn update(
    conn: &mut DbConnection,
    cx: &Context,
    rules: &Rules,
    id: i64,
    input: &WebhookInput,
) -> Result<Webhook> {
    policy::require(&cx.actor, Operation::Administer)?;
    let before = db::webhooks::get(conn, id, cx.now)?;
    let valid = validate(input, rules)?;
    db::webhooks::update(conn, id, &fields(&valid), cx.now)?;
    let after = db::webhooks::get(conn, id, cx.now)?;
    history::record_in(
        conn,
        cx,
        "webhook",
        id,
        Action::Updated,
        history::diff_of(Some(&before), Some(&after), &[]),
    )?;
    Ok(after)
}

pub fn delete(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<()> {
    policy::require(&cx.actor, Operation::Administer)?;
    let before = db::webhooks::get(conn, id, cx.now)?;
    db::webhooks::delete(conn, id)?;
    history::record_in(
        conn,
        cx,
        "webhook",
        id,
        Action::Deleted,
        history::diff_of(Some(&before), None, &[]),
    )
}

/// A new signing secret; the older ones keep signing for the overlap, so
/// the receiver can switch without losing a delivery.
pub fn rotate_secret(
    conn: &mut DbConnection,
    cx: &Context,
    rules: &Rules,
    id: i64,
) -> Result<WebhookWithSecret> {
    policy::require(&cx.actor, Operation::Administer)?;
    let before = db::webhooks::get(conn, id, cx.now)?;
    let secret = new_secret(conn, rules, id, cx.now + rules.rotation_overlap, cx.now)?;
    let webhook = db::webhooks::get(conn, id, cx.now)?;
    history::record_in(
        conn,
        cx,
        "webhook",
        id,
        Action::Updated,
        history::diff_of(Some(&before), Some(&webhook), &[]),
    )?;
    Ok(WebhookWithSecret { webhook, secret })
}

pub fn list(conn: &mut DbConnection, cx: &Context) -> Result<Vec<Webhook>> {
    policy::require(&cx.actor, Operation::Administer)?;
    db::webhooks::list(conn, cx.now)
}

pub fn get(conn: &mut DbConnection, cx: &Context, id: i64) -> Result<Webhook> {
    policy::require(&cx.actor, Operation::Administer)?;
    db::webhooks::get(conn, id, cx.now)
}

/// The delivery log of one endpoint, newest first, each with its attempts.
pub fn deliveries(
    conn: &mut DbConnection,
    cx: &Context,
    id: i64,
    page: i64,
    per_page: i64,
) -> Result<Vec<JobDetail>> {
    policy::require(&cx.actor, Operation::Administer)?;
    db::webhooks::get_row(conn, id)?;
    db::webhooks::deliveries(conn, id, per_page, (page - 1) * per_page)?
        .into_iter()
        .map(|job| super::jobs::get(conn, cx, job))
        .collect()
}

/// Sends a delivery's event again (the same `webhook-id` and body) as a new
/// job, whatever became of the first.
pub fn replay(conn: &mut DbConnection, cx: &Context, id: i64, job_id: i64) -> Result<JobDetail> {
    policy::require(&cx.actor, Operation::Administer)?;
    if db::webhooks::delivery_endpoint(conn, job_id)? != Some(id) {
        return Err(Error::not_found("webhook delivery", job_id));
    }
    let original = db::jobs::get(conn, job_id)?;
    let payload: Value = serde_json::from_str(&original.payload)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored webhook payload: {e}")))?;
    let event_id = payload["event_id"].as_str().unwrap_or_default().to_owned();
    let event_type = payload["type"].as_str().unwrap_or_default().to_owned();
    let replays = db::webhooks::delivery_count(conn, id)?;
    let job = jobs::enqueue(
        conn,
        &NewJob {
            kind: KIND,
            key: format!(
                "{event_id}:{id}:replay-{replays}-{}",
                cx.now.timestamp_micros()
            ),
            payload,
            due_at: cx.now,
        },
        cx.now,
    )?;
    db::webhooks::record_delivery(conn, job.id, id, &event_id, &event_type, cx.now)?;
    history::record_in(
        conn,
        cx,
        "webhook",
        id,
        Action::StateChanged,
        vec![history::FieldChange {
            field: "replayed_delivery".into(),
            before: Value::Null,
            after: json!({"job_id": job_id, "new_job_id": job.id}),
            personal: false,
        }],
    )?;
    super::jobs::get(conn, cx, job.id)
}

/// Tells every enabled endpoint subscribed to `event` about it: one job per
/// endpoint, in the caller's transaction. The body is fixed now, so every
/// retry sends the same bytes under the same `webhook-id`. Returns how many.
pub fn emit(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    event: EventType,
    data: Value,
) -> Result<usize> {
    let endpoints = db::webhooks::subscribed(conn, event)?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let event_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let body = json!({
        "type": event.as_str(),
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": data,
    })
    .to_string();
    for endpoint in &endpoints {
        let job = jobs::enqueue(
            conn,
            &NewJob {
                kind: KIND,
                key: format!("{event_id}:{endpoint}"),
                payload: json!({
                    "endpoint_id": endpoint,
                    "event_id": event_id,
                    "type": event.as_str(),
                    "body": body,
                }),
                due_at: now,
            },
            now,
        )?;
        db::webhooks::record_delivery(conn, job.id, *endpoint, &event_id, event.as_str(), now)?;
    }
    Ok(endpoints.len())
}

/// What subscribers are told about an activity: enough to find it, not its
/// people.
pub fn activity_data(a: &crate::domain::activity::Activity) -> Value {
    json!({
        "id": a.id,
        "uid": a.uid,
        "title": a.title,
        "kind": a.kind,
        "status": a.status,
        "visibility": a.visibility,
        "timing": a.timing_view,
        "version": a.version,
        "updated_at": a.updated_at,
    })
}

pub fn activity_created(
    conn: &mut DbConnection,
    cx: &Context,
    a: &crate::domain::activity::Activity,
) -> Result<()> {
    emit(conn, cx.now, EventType::ActivityCreated, activity_data(a))?;
    if a.status == crate::domain::ActivityStatus::Confirmed {
        emit(conn, cx.now, EventType::EventConfirmed, activity_data(a))?;
    }
    Ok(())
}

/// An activity changed: `activity.changed`, and `activity.cancelled` or
/// `event.confirmed` when its status became that.
pub fn activity_changed(
    conn: &mut DbConnection,
    cx: &Context,
    before: &crate::domain::activity::Activity,
    a: &crate::domain::activity::Activity,
) -> Result<()> {
    use crate::domain::ActivityStatus;
    emit(conn, cx.now, EventType::ActivityChanged, activity_data(a))?;
    if a.status != before.status {
        match a.status {
            ActivityStatus::Cancelled => {
                emit(conn, cx.now, EventType::ActivityCancelled, activity_data(a))?;
            }
            ActivityStatus::Confirmed => {
                emit(conn, cx.now, EventType::EventConfirmed, activity_data(a))?;
            }
            _ => {}
        }
    }
    Ok(())
}
