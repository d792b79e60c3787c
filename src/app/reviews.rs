//! Review and approval of what goes out (activities and newsletter issues): the
//! operations a person takes, the effect of an edit on a standing approval, and
//! the check that sending, publishing and inviting make first.

use super::history::{self, Action, Entry, FieldChange};
use super::policy::{self, Operation};
use super::{Actor, Context};
use crate::db::DbConnection;
use crate::db::reviews::{self as db, Row};
use crate::domain::history::ActorKind;
use crate::domain::review::{self, ContentHash, Review, ReviewAction, ReviewState};
use crate::error::{Error, Result};
use serde_json::json;

/// What can be reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Activity(i64),
    Issue(i64),
}

impl Subject {
    fn entity(self) -> &'static str {
        match self {
            Subject::Activity(_) => "activity",
            Subject::Issue(_) => "issue",
        }
    }

    fn id(self) -> i64 {
        match self {
            Subject::Activity(id) | Subject::Issue(id) => id,
        }
    }

    /// The hashes of what this subject sends out now.
    fn content(self, conn: &mut DbConnection) -> Result<ContentHash> {
        Ok(match self {
            Subject::Activity(id) => {
                review::activity_content(&crate::db::activities::get(conn, id)?)
            }
            Subject::Issue(id) => review::issue_content(&crate::db::issues::get(conn, id)?),
        })
    }
}

fn encode(hash: &ContentHash) -> String {
    serde_json::to_string(hash).unwrap_or_default()
}

fn decode(text: &str) -> Result<ContentHash> {
    serde_json::from_str(text)
        .map_err(|e| Error::Internal(anyhow::anyhow!("stored review hash: {e}")))
}

fn state_of(row: &Row) -> Result<ReviewState> {
    crate::db::parse_stored(&row.state)
}

fn load(conn: &mut DbConnection, subject: Subject) -> Result<Row> {
    match db::find(conn, subject.entity(), subject.id())? {
        Some(row) => Ok(row),
        None => Err(Error::not_found(subject.entity(), subject.id())),
    }
}

fn record_change(
    conn: &mut DbConnection,
    cx: &Context,
    subject: Subject,
    before: &Row,
    after: &Row,
    reason: Option<&str>,
) -> Result<()> {
    let mut changes = Vec::new();
    let mut field = |name: &str, b: serde_json::Value, a: serde_json::Value| {
        if b != a {
            changes.push(FieldChange {
                field: format!("review.{name}"),
                before: b,
                after: a,
                personal: false,
            });
        }
    };
    field("state", json!(before.state), json!(after.state));
    field(
        "content_hash",
        hash_json(&before.content_hash),
        hash_json(&after.content_hash),
    );
    field(
        "approved_hash",
        before
            .approved_hash
            .as_deref()
            .map(hash_json)
            .unwrap_or_default(),
        after
            .approved_hash
            .as_deref()
            .map(hash_json)
            .unwrap_or_default(),
    );
    field("comment", json!(before.comment), json!(after.comment));
    field(
        "standing_hash",
        before
            .standing_hash
            .as_deref()
            .map(hash_json)
            .unwrap_or_default(),
        after
            .standing_hash
            .as_deref()
            .map(hash_json)
            .unwrap_or_default(),
    );
    history::record(
        conn,
        &cx.actor,
        cx.now,
        Entry {
            entity: subject.entity(),
            entity_id: subject.id(),
            action: Action::StateChanged,
            changes,
            reason: reason.or(cx.reason.as_deref()),
        },
    )
}

fn hash_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

/// A new activity or issue starts as a draft; what the seed loads starts approved
/// (by the seed), as the plan it ships was agreed before it was typed in.
pub fn opened(
    conn: &mut DbConnection,
    cx: &Context,
    subject: Subject,
    content: &ContentHash,
) -> Result<()> {
    let hash = encode(content);
    let approved = cx.actor == Actor::Seed;
    let row = Row {
        entity: subject.entity().into(),
        entity_id: subject.id(),
        state: if approved {
            ReviewState::Approved
        } else {
            ReviewState::Draft
        }
        .as_str()
        .into(),
        approved_hash: approved.then(|| hash.clone()),
        content_hash: hash,
        author_account_id: cx.actor.account_id(),
        last_editor_account_id: cx.actor.account_id(),
        approved_by_account_id: None,
        approved_by_kind: approved.then(|| ActorKind::Seed.as_str().into()),
        approved_at: approved.then(|| cx.now.naive_utc()),
        comment: None,
        updated_at: cx.now.naive_utc(),
        standing_hash: None,
    };
    db::insert(conn, &row)
}

/// After an edit: if what goes out changed, the editor becomes the last editor
/// and a standing approval is superseded (the work goes back to review). Of
/// a social post whose edit changed only some variants, the approval of the
/// others still stands (`standing_hash`): they go out at their time, the
/// edited ones wait for the next approval.
pub fn edited(
    conn: &mut DbConnection,
    cx: &Context,
    subject: Subject,
    content: &ContentHash,
) -> Result<()> {
    let Some(before) = db::find(conn, subject.entity(), subject.id())? else {
        return opened(conn, cx, subject, content);
    };
    let hash = encode(content);
    if hash == before.content_hash {
        return Ok(());
    }
    let mut after = before.clone();
    after.content_hash = hash;
    after.last_editor_account_id = cx.actor.account_id();
    after.updated_at = cx.now.naive_utc();
    let state = state_of(&before)?;
    let superseded = state == ReviewState::Approved;
    let was_standing = if superseded {
        before.approved_hash.as_deref()
    } else {
        before.standing_hash.as_deref()
    };
    after.standing_hash = match was_standing {
        Some(text) => review::still_standing(&decode(text)?, content)
            .as_ref()
            .map(encode),
        None => None,
    };
    if superseded {
        after.state = state.after(ReviewAction::Supersede)?.as_str().into();
        after.approved_hash = None;
        after.approved_by_account_id = None;
        after.approved_by_kind = None;
        after.approved_at = None;
    }
    db::save(conn, &after)?;
    if superseded {
        let reason = if after.standing_hash.is_some() {
            "approval superseded by an edit of some post variants; the others stay approved"
        } else {
            "approval superseded by an edit"
        };
        record_change(conn, cx, subject, &before, &after, Some(reason))?;
    }
    Ok(())
}

/// A person moves the review on: submit, approve or request changes.
pub fn act(
    conn: &mut DbConnection,
    cx: &Context,
    subject: Subject,
    action: ReviewAction,
    comment: Option<String>,
    four_eyes: bool,
) -> Result<Review> {
    let op = match action {
        ReviewAction::Submit => Operation::SubmitForReview,
        ReviewAction::Approve | ReviewAction::RequestChanges => Operation::Approve,
        ReviewAction::Supersede => {
            return Err(Error::invalid(
                "action",
                "supersede is Pregón's own, after an edit",
            ));
        }
    };
    policy::require(&cx.actor, op)?;
    let before = load(conn, subject)?;
    let next = state_of(&before)?.after(action)?;
    if action == ReviewAction::Approve && four_eyes {
        let me = cx.actor.account_id();
        if me.is_some() && (me == before.author_account_id || me == before.last_editor_account_id) {
            return Err(Error::NotAllowed {
                kind: "four-eyes",
                message: "four-eyes approval: the approver must be someone other than the author \
                          and the last editor of this content"
                    .into(),
            });
        }
    }
    // Social post variants must fit their networks' real limits first.
    if action == ReviewAction::Approve
        && let Subject::Activity(id) = subject
    {
        super::posts::require_valid(conn, id)?;
    }
    // The approval is given for exactly what goes out now.
    let hash = encode(&subject.content(conn)?);
    let mut after = before.clone();
    after.state = next.as_str().into();
    after.content_hash = hash.clone();
    after.updated_at = cx.now.naive_utc();
    match action {
        ReviewAction::Approve => {
            after.standing_hash = None;
            after.approved_hash = Some(hash);
            after.approved_by_account_id = cx.actor.account_id();
            after.approved_by_kind = Some(actor_kind(&cx.actor).as_str().into());
            after.approved_at = Some(cx.now.naive_utc());
            after.comment = comment;
        }
        ReviewAction::RequestChanges | ReviewAction::Submit => after.comment = comment,
        ReviewAction::Supersede => {}
    }
    db::save(conn, &after)?;
    record_change(conn, cx, subject, &before, &after, None)?;
    if action == ReviewAction::Approve
        && let Subject::Activity(id) = subject
    {
        let activity = crate::db::activities::get(conn, id)?;
        super::webhooks::emit(
            conn,
            cx.now,
            crate::domain::webhook::EventType::ActivityApproved,
            super::webhooks::activity_data(&activity),
        )?;
    }
    view(&after)
}

fn actor_kind(actor: &Actor) -> ActorKind {
    match actor {
        Actor::Account { .. } => ActorKind::Account,
        Actor::System => ActorKind::System,
        Actor::Seed => ActorKind::Seed,
        Actor::Import { .. } => ActorKind::Import,
    }
}

/// Sending, publishing and inviting call this first: a current approval of
/// exactly the content that would go out.
pub fn require_approved(conn: &mut DbConnection, subject: Subject) -> Result<()> {
    let row = load(conn, subject)?;
    let current = encode(&subject.content(conn)?);
    let approved = state_of(&row)? == ReviewState::Approved
        && row.approved_hash.as_deref() == Some(current.as_str());
    if approved {
        Ok(())
    } else {
        Err(Error::Blocked {
            kind: "approval-required",
            message: format!(
                "this {} needs a current approval first (its review is {})",
                subject.entity(),
                row.state
            ),
        })
    }
}

pub fn get(conn: &mut DbConnection, subject: Subject) -> Result<Review> {
    view(&load(conn, subject)?)
}

fn view(row: &Row) -> Result<Review> {
    let state = state_of(row)?;
    Ok(Review {
        entity: row.entity.clone(),
        entity_id: row.entity_id,
        state,
        allowed: state.allowed().to_vec(),
        content_hash: decode(&row.content_hash)?,
        approved_hash: row.approved_hash.as_deref().map(decode).transpose()?,
        author_account_id: row.author_account_id,
        last_editor_account_id: row.last_editor_account_id,
        approved_by_account_id: row.approved_by_account_id,
        approved_at: row.approved_at.map(|t| t.and_utc()),
        comment: row.comment.clone(),
        standing_hash: row.standing_hash.as_deref().map(decode).transpose()?,
    })
}

/// Records from before reviews existed are taken as approved as they stand, by
/// Pregón, so that upgrading does not stop work already agreed.
pub fn backfill(conn: &mut DbConnection, cx: &Context) -> Result<usize> {
    let activities = crate::db::activities::all_ids(conn)?;
    let issues = crate::db::issues::all_ids(conn)?;
    let mut subjects: Vec<Subject> = db::missing(conn, "activity", &activities)?
        .into_iter()
        .map(Subject::Activity)
        .collect();
    subjects.extend(
        db::missing(conn, "issue", &issues)?
            .into_iter()
            .map(Subject::Issue),
    );
    for subject in &subjects {
        let hash = encode(&subject.content(conn)?);
        db::insert(
            conn,
            &Row {
                entity: subject.entity().into(),
                entity_id: subject.id(),
                state: ReviewState::Approved.as_str().into(),
                approved_hash: Some(hash.clone()),
                content_hash: hash,
                author_account_id: None,
                last_editor_account_id: None,
                approved_by_account_id: None,
                approved_by_kind: Some(actor_kind(&cx.actor).as_str().into()),
                approved_at: Some(cx.now.naive_utc()),
                comment: None,
                updated_at: cx.now.naive_utc(),
                standing_hash: None,
            },
        )?;
    }
    Ok(subjects.len())
}

/// A deleted subject's review goes with it.
pub fn removed(conn: &mut DbConnection, subject: Subject) -> Result<()> {
    db::delete(conn, subject.entity(), subject.id())
}
