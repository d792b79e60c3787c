//! The change history: one append-only entry per create, update, delete or state
//! change of any record, with who, when, the field-level diff and why. Entries
//! form a hash chain (each carries the hash of the one before), so a changed or
//! removed entry is found by `verify`; PostgreSQL also refuses UPDATE and DELETE
//! on the table outright, and SQLite does through triggers.

use super::Actor;
use crate::db::DbConnection;
use crate::db::history::{self as db, NewRow, Row};
pub use crate::domain::history::{Action, ActorKind, FieldChange};
use crate::domain::history::{HistoryActor, HistoryEntry};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The hash the first entry chains to.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Records whose changes alter what feeds and public pages show: appending an
/// entry about one of these tells every cache of published data to rebuild.
pub const PUBLISHED: &[&str] = &[
    "activity",
    "plan",
    "period",
    "goal",
    "campaign",
    "channel",
    "organisation",
    "person",
    "participation",
    "feed",
];

/// What changed, for `record`.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The kind of record, singular: "account", "token", "activity", …
    pub entity: &'static str,
    pub entity_id: i64,
    pub action: Action,
    pub changes: Vec<FieldChange>,
    pub reason: Option<&'a str>,
}

struct ActorColumns {
    kind: ActorKind,
    account_id: Option<i64>,
    token_id: Option<i64>,
    session_id: Option<i64>,
    organisation_id: Option<i64>,
}

fn actor_columns(actor: &Actor) -> ActorColumns {
    let none = |kind| ActorColumns {
        kind,
        account_id: None,
        token_id: None,
        session_id: None,
        organisation_id: None,
    };
    match actor {
        Actor::Account {
            account_id,
            token_id,
            session_id,
            ..
        } => ActorColumns {
            account_id: Some(*account_id),
            token_id: *token_id,
            session_id: *session_id,
            ..none(ActorKind::Account)
        },
        Actor::System => none(ActorKind::System),
        Actor::Seed => none(ActorKind::Seed),
        Actor::Import { organisation_id } => ActorColumns {
            organisation_id: Some(*organisation_id),
            ..none(ActorKind::Import)
        },
    }
}

/// The hash of one entry: every stored field but the id, after the previous hash.
fn entry_hash(row: &NewRow<'_>) -> String {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut h = Sha256::new();
    for part in [
        row.prev_hash,
        &row.at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        row.actor_kind,
        &opt(row.account_id),
        &opt(row.token_id),
        &opt(row.session_id),
        &opt(row.organisation_id),
        row.entity,
        &row.entity_id.to_string(),
        row.action,
        row.changes,
        row.reason.unwrap_or("\u{0}"),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends `entry` to the history, in the caller's transaction. An update that
/// changed nothing is not recorded.
pub fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    entry: Entry<'_>,
) -> Result<()> {
    record_all(conn, actor, now, vec![entry])
}

/// Appends `entries` in order, all by `actor` at `now`, with one lock of the
/// chain's head and one INSERT per thousand entries (an import of many rows).
/// Updates that changed nothing are not recorded.
pub fn record_all(
    conn: &mut DbConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    entries: Vec<Entry<'_>>,
) -> Result<()> {
    let entries: Vec<(Entry<'_>, String)> = entries
        .into_iter()
        .filter(|e| !(e.action == Action::Updated && e.changes.is_empty()))
        .map(|e| {
            let changes = serde_json::to_string(&e.changes)
                .map_err(|err| Error::Internal(anyhow::anyhow!("history changes: {err}")))?;
            Ok((e, changes))
        })
        .collect::<Result<_>>()?;
    if entries.is_empty() {
        return Ok(());
    }
    let actor = actor_columns(actor);
    let at = now.naive_utc();
    // hashes[i] is what entry i chains to; hashes[i + 1] is its own.
    let mut hashes = vec![db::lock_head(conn)?.unwrap_or_else(|| GENESIS.to_owned())];
    for (i, entry) in entries.iter().enumerate() {
        let hash = entry_hash(&row(&actor, at, entry, &hashes[i], ""));
        hashes.push(hash);
    }
    let rows: Vec<NewRow<'_>> = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| row(&actor, at, entry, &hashes[i], &hashes[i + 1]))
        .collect();
    let published = entries
        .iter()
        .filter(|(e, _)| PUBLISHED.contains(&e.entity))
        .count();
    db::append(conn, &rows, published)
}

/// The stored row of one entry with its serialised changes.
fn row<'a>(
    actor: &'a ActorColumns,
    at: chrono::NaiveDateTime,
    (entry, changes): &'a (Entry<'a>, String),
    prev_hash: &'a str,
    hash: &'a str,
) -> NewRow<'a> {
    NewRow {
        at,
        actor_kind: actor.kind.as_str(),
        account_id: actor.account_id,
        token_id: actor.token_id,
        session_id: actor.session_id,
        organisation_id: actor.organisation_id,
        entity: entry.entity,
        entity_id: entry.entity_id,
        action: entry.action.as_str(),
        changes,
        reason: entry.reason.map(str::trim).filter(|r| !r.is_empty()),
        prev_hash,
        hash,
    }
}

/// `record` for an operation's own `Context`: its actor, time and reason.
pub fn record_in(
    conn: &mut DbConnection,
    cx: &super::Context,
    entity: &'static str,
    entity_id: i64,
    action: Action,
    changes: Vec<FieldChange>,
) -> Result<()> {
    record(
        conn,
        &cx.actor,
        cx.now,
        Entry {
            entity,
            entity_id,
            action,
            changes,
            reason: cx.reason.as_deref(),
        },
    )
}

/// The field-level difference between two versions of a record as the API shows
/// it. Nested objects are compared field by field (`translations.en.title`),
/// lists as a whole. Bookkeeping fields (`version`, timestamps) are left out, and
/// `personal` fields are recorded as changed without their values.
pub fn diff(before: &Value, after: &Value, personal: &[&str]) -> Vec<FieldChange> {
    const BOOKKEEPING: &[&str] = &["version", "created_at", "updated_at", "id"];
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out.retain(|c| !BOOKKEEPING.contains(&c.field.as_str()));
    for change in &mut out {
        let top = change.field.split('.').next().unwrap_or("");
        if personal.contains(&top) || personal.contains(&change.field.as_str()) {
            change.before = Value::Null;
            change.after = Value::Null;
            change.personal = true;
        }
    }
    out
}

fn walk(prefix: &str, before: &Value, after: &Value, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                walk(
                    &path,
                    b.get(key).unwrap_or(&Value::Null),
                    a.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        // A record appearing or disappearing: every field it has.
        (Value::Null, Value::Object(_)) | (Value::Object(_), Value::Null) if prefix.is_empty() => {
            let empty = Value::Object(Default::default());
            let (b, a) = if before.is_null() {
                (&empty, after)
            } else {
                (before, &empty)
            };
            walk(prefix, b, a, out);
        }
        (b, a) if b != a => out.push(FieldChange {
            field: prefix.to_owned(),
            before: b.clone(),
            after: a.clone(),
            personal: false,
        }),
        _ => {}
    }
}

/// `diff` of two values of a type the API serialises.
pub fn diff_of<T: serde::Serialize>(
    before: Option<&T>,
    after: Option<&T>,
    personal: &[&str],
) -> Vec<FieldChange> {
    let value = |v: Option<&T>| {
        v.map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
            .unwrap_or(Value::Null)
    };
    diff(&value(before), &value(after), personal)
}

fn to_entry(row: Row) -> Result<HistoryEntry> {
    let broken = |what: &str| Error::Internal(anyhow::anyhow!("stored history {what}"));
    Ok(HistoryEntry {
        id: row.id,
        at: row.at.and_utc(),
        actor: HistoryActor {
            kind: row.actor_kind.parse().map_err(|_| broken("actor"))?,
            account_id: row.account_id,
            token_id: row.token_id,
            session_id: row.session_id,
            organisation_id: row.organisation_id,
        },
        entity: row.entity,
        entity_id: row.entity_id,
        action: row.action.parse().map_err(|_| broken("action"))?,
        changes: serde_json::from_str(&row.changes).map_err(|_| broken("changes"))?,
        reason: row.reason,
        hash: row.hash,
    })
}

/// The history of one record, oldest first.
pub fn of_record(conn: &mut DbConnection, entity: &str, id: i64) -> Result<Vec<HistoryEntry>> {
    db::for_record(conn, entity, id)?
        .into_iter()
        .map(to_entry)
        .collect()
}

/// Entries after the cursor `since` (an entry id; 0 for the beginning).
pub fn changes(
    conn: &mut DbConnection,
    since: i64,
    entity: Option<&str>,
    limit: i64,
) -> Result<(Vec<HistoryEntry>, Option<i64>)> {
    let rows = db::after(conn, since, entity, limit + 1)?;
    let more = rows.len() as i64 > limit;
    let items: Vec<HistoryEntry> = rows
        .into_iter()
        .take(limit as usize)
        .map(to_entry)
        .collect::<Result<_>>()?;
    let next = more.then(|| items.last().map(|e| e.id)).flatten();
    Ok((items, next))
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub entries: u64,
    /// The first entry whose hash or link to its predecessor does not hold.
    pub first_broken: Option<i64>,
}

/// Walks the whole chain, recomputing every hash.
pub fn verify(conn: &mut DbConnection) -> Result<Verification> {
    let mut prev = GENESIS.to_owned();
    let mut after = 0;
    let mut entries = 0;
    loop {
        let rows = db::after(conn, after, None, 1000)?;
        let Some(last) = rows.last() else {
            return Ok(Verification {
                entries,
                first_broken: None,
            });
        };
        after = last.id;
        for row in &rows {
            entries += 1;
            let new = NewRow {
                at: row.at,
                actor_kind: &row.actor_kind,
                account_id: row.account_id,
                token_id: row.token_id,
                session_id: row.session_id,
                organisation_id: row.organisation_id,
                entity: &row.entity,
                entity_id: row.entity_id,
                action: &row.action,
                changes: &row.changes,
                reason: row.reason.as_deref(),
                prev_hash: &row.prev_hash,
                hash: "",
            };
            if row.prev_hash != prev || entry_hash(&new) != row.hash {
                return Ok(Verification {
                    entries,
                    first_broken: Some(row.id),
                });
            }
            prev = row.hash.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_nested_fields_and_hides_personal_values() {
        let before = json!({"id": 1, "version": 1, "name": "Ana", "translations": {"en": {"title": "A"}}, "kind": "event"});
        let after = json!({"id": 1, "version": 2, "name": "Ana B", "translations": {"en": {"title": "B"}, "es": {"title": "C"}}, "kind": "event"});
        let changes = diff(&before, &after, &["name"]);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["name", "translations.en.title", "translations.es"]);
        assert!(changes[0].personal && changes[0].before.is_null() && changes[0].after.is_null());
        assert_eq!(changes[1].before, json!("A"));
        assert_eq!(changes[1].after, json!("B"));
    }

    #[test]
    fn creation_lists_every_field() {
        let changes = diff(&Value::Null, &json!({"slug": "x", "name": "X"}), &[]);
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().all(|c| c.before.is_null()));
    }
}
